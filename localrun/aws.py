"""The embedded AWS: moto's server on 127.0.0.1 with the fifo-gate queues.

``python -m localrun.aws [--port 5000]`` starts just that (for ``chalice local``,
``make local-aws``) and prints the environment variables to export.
Timers are real seconds here (see :mod:`localrun.clock` for the scaling).
"""
import argparse
import json
import logging
import os
import sys
import threading

import boto3
from moto.server import ThreadedMotoServer

from localrun import clock

REGION = "us-east-1"


def start_moto(port=0):
    """Start moto's server on 127.0.0.1 in a daemon thread and point boto3 at it.

    Sets ``AWS_ENDPOINT_URL``, the region and fake credentials in ``os.environ``.

    Args:
        port (int): TCP port; 0 picks a free one.
    Returns:
        tuple[ThreadedMotoServer, str]: the server (call ``.stop()``) and its endpoint URL.
    """
    # werkzeug logs every request at INFO on stderr unless told otherwise.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint = "http://%s:%d" % (host, bound_port)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    return server, endpoint


def sqs_client(endpoint):
    """A new SQS client for ``endpoint`` from its own boto3 session (safe to use from one thread each)."""
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_queues(sqs, scale):
    """Create the FIFO queue and its FIFO dead-letter queue with the deployed properties, scaled.

    Args:
        sqs: a boto3 SQS client.
        scale (localrun.clock.Scale): real-second timers.
    Returns:
        dict: ``queue_url``, ``queue_arn``, ``dlq_url``, ``dlq_arn``.
    """
    common = {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "false",
        "MessageRetentionPeriod": str(scale.retention_real_s),
    }
    dlq_url = sqs.create_queue(QueueName=clock.DLQ_NAME, Attributes=common)["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq_url)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": clock.MAX_RECEIVE_COUNT}
    queue_url = sqs.create_queue(
        QueueName=clock.QUEUE_NAME,
        Attributes=dict(
            common,
            VisibilityTimeout=str(scale.visibility_timeout_real_s),
            RedrivePolicy=json.dumps(redrive),
        ),
    )["QueueUrl"]
    return {
        "queue_url": queue_url,
        "queue_arn": queue_arn(sqs, queue_url),
        "dlq_url": dlq_url,
        "dlq_arn": dlq_arn,
    }


def queue_arn(sqs, url):
    """The ARN of the queue at ``url``."""
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def depth(sqs, url):
    """Messages in the queue: visible + in flight (not visible) + delayed (int)."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def main(argv=None):
    """``python -m localrun.aws``: serve moto with the queues until Ctrl-C (timers unscaled by default)."""
    parser = argparse.ArgumentParser(
        prog="python -m localrun.aws",
        description="Start moto's server with the fifo-gate queues, for `chalice local`.",
    )
    parser.add_argument("--port", type=int, default=5000, help="TCP port on 127.0.0.1 (default 5000)")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="scale the queue timers like `python -m localrun` does (default 1: deployed values)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.speed <= 0:
        parser.error("--speed must be > 0")
    scale = clock.scale(args.speed)
    server, endpoint = start_moto(args.port)
    queues = create_queues(sqs_client(endpoint), scale)
    print("# moto is serving on %s; now run `make local`, or paste these into your shell and run "
          "`chalice local --stage local`:" % endpoint)
    for name in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        print("export %s=%s" % (name, os.environ[name]))
    print("export QUEUE_URL=%s" % queues["queue_url"])
    print("export DLQ_NAME=%s" % clock.DLQ_NAME)
    try:  # entered before the line below, so a Ctrl-C right after it is caught
        print("# Ctrl-C stops the server.", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
