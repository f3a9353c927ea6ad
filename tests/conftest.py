"""Shared fixtures: moto-backed SQS queues shaped like the deployed ones, and the app wired to them."""
import json
import os
import sys
import threading
import uuid

import boto3
import pytest
from moto import mock_aws

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Fake credentials and region, so nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def sqs():
    """A boto3 SQS client backed by moto, in process."""
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def create_queues(sqs, name="fifo-gate-test", visibility=30, max_receive_count=3):
    """Create a FIFO queue and its FIFO dead-letter queue as deployed; return ``(url, dlq_url)``."""
    dlq_url = sqs.create_queue(QueueName=name + "-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=name + ".fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}),
        },
    )["QueueUrl"]
    return url, dlq_url


@pytest.fixture
def queues(sqs):
    """``(queue_url, dlq_url)`` of a fresh gate queue (visibility 30 s, maxReceiveCount 3)."""
    return create_queues(sqs)


@pytest.fixture
def app_module(queues, monkeypatch):
    """The ``app`` module configured for the moto queues, with its per-container cache emptied."""
    url, _ = queues
    monkeypatch.setenv("QUEUE_URL", url)
    monkeypatch.setenv("DLQ_NAME", "fifo-gate-test-dlq.fifo")
    monkeypatch.setenv("OVERLAP_POLICY", "skip")
    monkeypatch.setenv("SCHEDULE_ENABLED", "true")
    import app

    app._CACHE.clear()
    yield app
    app._CACHE.clear()


@pytest.fixture
def client(app_module, tmp_path):
    """Chalice's test client; ``project_dir`` is empty so it keeps the test's environment."""
    from chalice.test import Client

    with Client(app_module.app, project_dir=str(tmp_path)) as test_client:
        yield test_client


def receive_all(sqs, url, wait=0):
    """Receive every message currently visible (up to 10) and return them, leaving them in flight."""
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
        AttributeNames=["All"], MessageSystemAttributeNames=["All"],
    ).get("Messages", [])


def sqs_event(message, queue_arn="arn:aws:sqs:us-east-1:123456789012:fifo-gate-test.fifo"):
    """A Lambda SQS event for one message from a real moto receive (real receipt handle)."""
    from localrun.poller import sqs_event as lambda_sqs_event

    return lambda_sqs_event(message, queue_arn, REGION)


class LambdaContextStub:
    """The fields of Lambda's context object the handlers read, with a generous time budget."""

    def __init__(self, remaining_seconds=60.0):
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "fifo-gate-test"
        self._remaining = remaining_seconds

    def get_remaining_time_in_millis(self):
        return int(self._remaining * 1000)


@pytest.fixture
def serialised_dedup():
    """Make moto's FIFO de-duplication atomic, as SQS's is (DESIGN.md: moto's check races)."""
    from moto.sqs.models import Queue

    original = Queue.add_message
    lock = threading.Lock()

    def add_message(self, message):
        with lock:
            return original(self, message)

    Queue.add_message = add_message
    try:
        yield
    finally:
        Queue.add_message = original


class LongApi:
    """A loopback HTTP server standing in for the external API; records every call.

    Set ``status`` (int) and ``delay`` (seconds) to shape the answers.
    """

    def __init__(self):
        import http.server

        self.status = 200
        self.delay = 0.0
        self.calls = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                api.calls.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if api.delay:
                    import time
                    time.sleep(api.delay)
                payload = b'{"ok": true}'
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/job" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def long_api(monkeypatch):
    """A running ``LongApi``; ``LONG_API_URL`` points at it."""
    api = LongApi()
    monkeypatch.setenv("LONG_API_URL", api.url)
    yield api
    api.close()
