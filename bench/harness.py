"""What every measurement shares: moto's server on loopback, the queue, resets, call counting.

Everything here is offline: moto's ``ThreadedMotoServer`` on 127.0.0.1 in this
process, fake credentials, and ``NO_PROXY`` for loopback. Times are seconds.
"""
import json
import logging
import os
import statistics
import uuid

import boto3
from moto.server import ThreadedMotoServer

from localrun.poller import sqs_event

REGION = "us-east-1"
QUEUE_NAME = "fifo-gate-bench.fifo"
DLQ_NAME = "fifo-gate-bench-dlq.fifo"
HOLD_GROUP = "bench-hold"  # the group of the message that keeps the queue busy on skip ticks
HOLD_SECONDS = 3600  # visibility of that message: it stays in flight for the whole skip phase


class Moto:
    """moto's server on 127.0.0.1 (a free port) with one FIFO gate queue and its FIFO DLQ.

    Starting it points this process's boto3 at it (``AWS_ENDPOINT_URL``, region,
    fake credentials); :meth:`child_env` gives the same to subprocesses.

    Attributes:
        endpoint (str): ``http://127.0.0.1:PORT``.
        queue_url (str): the gate queue.
        sqs: a boto3 SQS client from its own session (not the default one, so the
            call counter never sees the benchmark's own resets).
    """

    def __init__(self):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = "http://%s:%d" % (host, port)
        os.environ.update(aws_env(self.endpoint))
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_SQS"):
            os.environ.pop(name, None)
        self.sqs = boto3.session.Session().client("sqs", endpoint_url=self.endpoint, region_name=REGION)
        dlq_url = self.sqs.create_queue(QueueName=DLQ_NAME, Attributes={"FifoQueue": "true"})["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        self.queue_url = self.sqs.create_queue(
            QueueName=QUEUE_NAME,
            Attributes={
                "FifoQueue": "true",
                "ContentBasedDeduplication": "false",
                "VisibilityTimeout": "30",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": "5"}
                ),
            },
        )["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._held = None

    def app_env(self):
        """The app's settings for the bench queue (``QUEUE_URL`` set: no GetQueueUrl)."""
        return {
            "QUEUE_URL": self.queue_url,
            "DLQ_NAME": DLQ_NAME,
            "OVERLAP_POLICY": "skip",
            "SCHEDULE_ENABLED": "true",
            "LOG_LEVEL": "INFO",
        }

    def child_env(self, **extra):
        """An environment for a subprocess: this endpoint, the app's settings, ``extra``."""
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("AWS_", "PYTHON")) and key not in ("QUEUE_NAME", "HEARTBEAT_SECONDS")}
        env.update(aws_env(self.endpoint))
        env.update(self.app_env())
        env.update(extra)
        return env

    def depth(self):
        """Messages in the gate queue: visible + in flight + delayed (int)."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        return sum(int(attrs.get(name, 0)) for name in names)

    def drain(self):
        """Empty the queue by receiving and deleting (moto allows one PurgeQueue a minute).

        Raises:
            RuntimeError: messages remain that cannot be received (e.g. in flight).
        """
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        left = self.depth()
        if left:
            raise RuntimeError("the bench queue still holds %d message(s) after draining" % left)

    def hold(self):
        """Leave one message in flight (received, not deleted): every policy and the seed then skip."""
        self.drain()
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody="hold", MessageGroupId=HOLD_GROUP,
                              MessageDeduplicationId=uuid.uuid4().hex)
        message = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1,
                                           VisibilityTimeout=HOLD_SECONDS)["Messages"][0]
        self._held = message["ReceiptHandle"]

    def release(self):
        """Delete the held message and empty the queue."""
        if self._held:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=self._held)
            self._held = None
        self.drain()

    def receive_event(self):
        """Receive one message and return the Lambda SQS event (batch size 1) built from it."""
        message = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
            AttributeNames=["All"], MessageSystemAttributeNames=["All"])["Messages"][0]
        return sqs_event(message, self.queue_arn, REGION)

    def stop(self):
        """Stop the server."""
        self._server.stop()


def aws_env(endpoint):
    """Environment variables that point boto3 at ``endpoint`` with fake credentials, loopback only."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


class CallCounter:
    """Counts SQS API calls (botocore ``before-call``) and HTTP requests (``before-send``).

    Register it on the default boto3 session **before** any client is built
    (:meth:`install`): botocore copies the session's handlers into every client
    it creates, so the seed's module-level ``CLIENT`` and ``RESOURCE`` and the
    app's lazily built client all report here.
    """

    def __init__(self):
        self.calls = []
        self.requests = 0

    def install(self):
        """Set up boto3's default session and hook it; returns self."""
        boto3.setup_default_session(region_name=REGION)
        events = boto3.DEFAULT_SESSION.events
        events.register("before-call.sqs", self._on_call, unique_id="bench-calls")
        events.register("before-send.sqs", self._on_send, unique_id="bench-requests")
        return self

    def reset(self):
        """Forget what was counted; returns self."""
        self.calls = []
        self.requests = 0
        return self

    def snapshot(self):
        """``(operation names, HTTP requests)`` since the last reset."""
        return tuple(self.calls), self.requests

    def _on_call(self, model, **_):
        self.calls.append(model.name)

    def _on_send(self, **_):
        self.requests += 1


def summarize(samples):
    """Median, mean, 10th and 90th percentile and count of ``samples`` (seconds)."""
    ordered = sorted(samples)
    deciles = statistics.quantiles(ordered, n=10) if len(ordered) > 1 else [ordered[0]] * 9
    return {
        "median_s": statistics.median(ordered),
        "mean_s": statistics.fmean(ordered),
        "p10_s": deciles[0],
        "p90_s": deciles[-1],
        "n": len(ordered),
    }
