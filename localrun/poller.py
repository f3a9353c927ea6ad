"""Lambda's side of an SQS event source mapping, played locally (batch size 1).

Each :class:`Poller` thread receives one message at a time, builds the event
Lambda would build from it, calls the worker handler, deletes the message when
the handler returns and leaves it (for the retry the worker arranged) when it
raises. Times here are real seconds unless a name says simulated.
"""
import json
import threading
import time
import uuid

IDLE_SLEEP_REAL_S = 0.05  # after an empty receive; never long-poll moto (see DESIGN.md)


class LambdaContext:
    """The subset of Lambda's context object handlers use.

    Args:
        function_name (str): e.g. ``fifo-gate-local-worker``.
        timeout_real_s (float): the function timeout, real seconds, counted from construction.
    """

    def __init__(self, function_name, timeout_real_s, region="us-east-1", account="123456789012"):
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:%s:%s:function:%s" % (region, account, function_name)
        self.memory_limit_in_mb = "128"
        self.log_group_name = "/aws/lambda/%s" % function_name
        self.log_stream_name = "localrun/[$LATEST]%s" % uuid.uuid4().hex
        self._deadline = time.monotonic() + timeout_real_s

    def get_remaining_time_in_millis(self):
        """Real milliseconds left before the (scaled) function timeout, never negative."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _message_attributes(attributes):
    """boto3's MessageAttributes -> the camelCase shape Lambda puts in an SQS event."""
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
        for name, value in (attributes or {}).items()
    }


def sqs_event(message, queue_arn, region="us-east-1"):
    """The event Lambda passes to a batch-size-1 SQS function for one received ``message``.

    Args:
        message (dict): one entry of ``ReceiveMessage``'s ``Messages`` (all attributes requested).
        queue_arn (str): the queue's ARN.
    Returns:
        dict: ``{"Records": [record]}``.
    """
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": _message_attributes(message.get("MessageAttributes")),
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        ]
    }


def run_id_of(message):
    """The ``run_id`` in a message body, or the message id when the body has none."""
    try:
        body = json.loads(message["Body"])
        return str(body["run_id"])
    except (ValueError, KeyError, TypeError):
        return message["MessageId"]


class Poller(threading.Thread):
    """One poller thread.

    Args:
        sqs: a boto3 SQS client used by this thread only.
        queues (dict): ``queue_url`` and ``queue_arn`` (see :func:`localrun.aws.create_queues`).
        handler: the worker, callable as ``handler(event, context)``.
        receive_lock (threading.Lock): shared by all pollers, held around ReceiveMessage.
        stop (threading.Event): once set, no new message is taken.
        timeout_real_s (float): the worker's scaled Lambda timeout, real seconds.
        recorder: gets ``run_started(message)`` and ``run_finished(message, started, error)``
            (``started`` a ``time.monotonic()`` reading, ``error`` an exception or None).
    """

    def __init__(self, name, sqs, queues, handler, receive_lock, stop, timeout_real_s, recorder):
        super().__init__(name=name, daemon=True)
        self.sqs = sqs
        self.queues = queues
        self.handler = handler
        self.receive_lock = receive_lock
        self.stop_event = stop
        self.timeout_real_s = timeout_real_s
        self.recorder = recorder

    def run(self):
        while not self.stop_event.is_set():
            try:
                message = self._receive()
            except Exception as error:  # moto shutting down, a transient error: try again
                self.recorder.poller_error(self.name, error)
                self.stop_event.wait(IDLE_SLEEP_REAL_S)
                continue
            if message is None:
                self.stop_event.wait(IDLE_SLEEP_REAL_S)
                continue
            self._invoke(message)

    def _receive(self):
        # moto can hand the same FIFO message to two *concurrent* ReceiveMessage
        # calls; real SQS never does. One lock shared by all pollers serialises the
        # receives so the stand-in behaves like the service (DESIGN.md, "What moto
        # gets wrong"). Everything else, the handler included, runs in parallel.
        with self.receive_lock:
            if self.stop_event.is_set():
                return None
            response = self.sqs.receive_message(
                QueueUrl=self.queues["queue_url"],
                MaxNumberOfMessages=1,
                WaitTimeSeconds=0,  # moto's long poll is blind to groups freed meanwhile
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        messages = response.get("Messages") or []
        return messages[0] if messages else None

    def _invoke(self, message):
        started = time.monotonic()
        self.recorder.run_started(message)
        context = LambdaContext("fifo-gate-local-worker", self.timeout_real_s)
        try:
            self.handler(sqs_event(message, self.queues["queue_arn"]), context)
        except Exception as error:  # the worker already set the retry back-off: leave the message
            self.recorder.run_finished(message, started, error)
            return
        self.recorder.run_finished(message, started, None)
        try:
            self.sqs.delete_message(QueueUrl=self.queues["queue_url"], ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:  # Lambda would log it and the message would come back
            self.recorder.poller_error(self.name, error)
