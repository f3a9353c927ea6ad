"""The worker's lifecycle against a real (moto) queue: heartbeat, retry back-off, dead-letter queue."""
import json
import logging
import threading
import time

import pytest

from chalicelib.errors import ConfigError, JobError, PoisonMessage
from chalicelib.job import JobResult
from chalicelib.messages import RunMessage
from chalicelib.queue import GateQueue
from chalicelib.worker import Delivery, Worker
from tests.conftest import create_queues, receive_all


def send_run(sqs, url, dedup="d1"):
    message = RunMessage.new("schedule", slot=None, payload={"n": 1})
    sqs.send_message(QueueUrl=url, MessageBody=message.to_json(), MessageGroupId="fifo-gate",
                     MessageDeduplicationId=dedup)
    return message


def receive_one(sqs, url, wait=0):
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=wait,
                                   AttributeNames=["All"]).get("Messages", [])
    return messages[0] if messages else None


def delivery(message):
    return Delivery(message["MessageId"], message["ReceiptHandle"], message["Body"],
                    int(message["Attributes"]["ApproximateReceiveCount"]),
                    message["Attributes"].get("MessageGroupId"))


def sleeping_job(seconds):
    def job(message, timeout_seconds):
        time.sleep(seconds)
        return JobResult(200, seconds, 2)
    return job


def failing_job(message, timeout_seconds):
    raise JobError("the API answered 500", status=500, duration_seconds=0.01)


def test_heartbeat_keeps_a_run_invisible_past_the_visibility_timeout(sqs):
    url, _ = create_queues(sqs, "short", visibility=2)
    queue = GateQueue(sqs, url=url)
    send_run(sqs, url)
    received = receive_one(sqs, url)
    seen_again = []
    stop = threading.Event()

    def other_poller():
        while not stop.is_set():
            if receive_one(sqs, url):
                seen_again.append(time.monotonic())
            time.sleep(0.1)

    poller = threading.Thread(target=other_poller)
    poller.start()
    try:
        # The run lasts 5 s, 2.5 times the queue's 2 s visibility timeout.
        result = Worker(queue, sleeping_job(5.0), heartbeat_seconds=0.5).process(delivery(received), 60)
    finally:
        stop.set()
        poller.join()
    assert result["outcome"] == "succeeded"
    assert seen_again == []


def test_without_heartbeat_the_same_run_would_reappear(sqs):
    # The control for the test above: moto does hand the message out again after 2 s.
    url, _ = create_queues(sqs, "control", visibility=2)
    send_run(sqs, url)
    first = receive_one(sqs, url)
    time.sleep(2.2)
    again = receive_one(sqs, url)
    assert again is not None and again["MessageId"] == first["MessageId"]


def test_failed_run_is_retried_after_the_backoff_not_the_visibility_timeout(sqs):
    url, _ = create_queues(sqs, "retry", visibility=30)
    send_run(sqs, url)
    received = receive_one(sqs, url)
    with pytest.raises(JobError):
        Worker(GateQueue(sqs, url=url), failing_job, retry_backoff_seconds=1).process(delivery(received), 60)
    assert receive_one(sqs, url) is None  # still backing off
    again = receive_one(sqs, url, wait=3)
    assert again["MessageId"] == received["MessageId"]


def test_backoff_doubles_per_receive_and_is_capped_by_the_visibility_timeout():
    worker = Worker(queue=None, job=None, retry_backoff_seconds=30)
    assert [worker.retry_backoff(n, 360) for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 240, 360]
    assert worker.retry_backoff(100, 360) == 360


def test_poison_after_max_receive_count_lands_in_the_dlq_and_the_gate_reopens(sqs, monkeypatch):
    url, dlq_url = create_queues(sqs, "poison", visibility=30, max_receive_count=3)
    queue = GateQueue(sqs, url=url)
    worker = Worker(queue, failing_job, retry_backoff_seconds=0)
    send_run(sqs, url)
    for attempt in range(3):
        received = receive_one(sqs, url)
        assert received is not None, "attempt %d" % (attempt + 1)
        with pytest.raises(JobError):
            worker.process(delivery(received), 60)
    assert receive_one(sqs, url) is None  # the 4th receive moves it to the DLQ
    assert GateQueue(sqs, url=dlq_url).depth() == 1
    assert queue.depth() == 0
    from chalicelib import triggers
    from chalicelib.producer import Producer
    decision = Producer(queue, "skip", "fifo-gate").submit(triggers.from_state_machine({}, "r-next"))
    assert decision["decision"] == "enqueued"


def test_malformed_body_is_parked_in_the_dlq_with_a_clear_log_line(sqs, capsys):
    url, dlq_url = create_queues(sqs, "malformed")
    sqs.send_message(QueueUrl=url, MessageBody="tick at 2021-03-17 10:00", MessageGroupId="fifo-gate",
                     MessageDeduplicationId="bad-1")
    received = receive_one(sqs, url)
    ran = []
    worker = Worker(GateQueue(sqs, url=url), lambda m, t: ran.append(m),
                    dead_letter_queue=GateQueue(sqs, url=dlq_url))
    result = worker.process(delivery(received), 60)
    assert result["outcome"] == "dead_lettered"
    assert ran == []
    parked = receive_all(sqs, dlq_url)
    assert [m["Body"] for m in parked] == ["tick at 2021-03-17 10:00"]
    line = [json.loads(l) for l in capsys.readouterr().out.splitlines() if "poison_message" in l][0]
    assert line["level"] == "ERROR" and line["reason"].startswith("body is not JSON")


def test_unknown_schema_version_without_a_dlq_fails_for_redrive(sqs):
    url, _ = create_queues(sqs, "version")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"version": 2, "run_id": "x"}),
                     MessageGroupId="fifo-gate", MessageDeduplicationId="v2")
    received = receive_one(sqs, url)
    with pytest.raises(PoisonMessage, match="unsupported message version 2"):
        Worker(GateQueue(sqs, url=url), failing_job).process(delivery(received), 60)
    # Made visible at once, so redrive reaches maxReceiveCount quickly.
    assert receive_one(sqs, url)["MessageId"] == received["MessageId"]


def test_heartbeat_not_below_visibility_is_refused(sqs):
    url, _ = create_queues(sqs, "hb", visibility=2)
    send_run(sqs, url)
    received = receive_one(sqs, url)
    with pytest.raises(ConfigError, match="HEARTBEAT_SECONDS=5.0 is not below the queue's visibility timeout"):
        Worker(GateQueue(sqs, url=url), sleeping_job(0), heartbeat_seconds=5.0).process(delivery(received), 60)


def test_deadline_comes_from_the_remaining_time_unless_configured(sqs):
    url, _ = create_queues(sqs, "deadline")
    seen = []

    def job(message, timeout_seconds):
        seen.append(timeout_seconds)
        return JobResult(200, 0.0, 0)

    for configured, remaining in ((None, 300), (None, 5), (100, 300), (100, 50)):
        send_run(sqs, url, dedup="d-%s-%s" % (configured, remaining))
        received = receive_one(sqs, url)
        Worker(GateQueue(sqs, url=url), job, long_api_timeout_seconds=configured).process(delivery(received), remaining)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])
    assert seen == [290, 4.5, 100, 45]


@pytest.mark.parametrize("body,reason", [
    ("[" * 5000 + "]" * 5000, "body is not JSON"),
    ('{"version": 1.0, "run_id": "r", "trigger": "api", "requested_at": "t", "payload": {}}', "unsupported message version 1.0"),
    ('{"version": 1, "run_id": "r", "trigger": "api", "requested_at": "t", "payload": {"x": NaN}}', "body is not JSON"),
])
def test_odd_bodies_are_poison_not_crashes(sqs, body, reason):
    url, dlq_url = create_queues(sqs, "odd")
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="fifo-gate", MessageDeduplicationId="odd")
    received = receive_one(sqs, url)
    worker = Worker(GateQueue(sqs, url=url), failing_job, dead_letter_queue=GateQueue(sqs, url=dlq_url))
    result = worker.process(delivery(received), 60)
    assert result["outcome"] == "dead_lettered" and result["reason"].startswith(reason)
    assert GateQueue(sqs, url=dlq_url).depth() == 1


def test_a_cut_call_waits_the_whole_visibility_timeout_before_its_retry(sqs):
    # The API may still be serving the call the worker gave up on.
    from chalicelib.errors import JobTimeout

    url, _ = create_queues(sqs, "cut", visibility=3)
    send_run(sqs, url)
    received = receive_one(sqs, url)

    def timing_out(message, timeout_seconds):
        raise JobTimeout("no answer within 1 s", duration_seconds=1.0)

    with pytest.raises(JobTimeout):
        Worker(GateQueue(sqs, url=url), timing_out, retry_backoff_seconds=1).process(delivery(received), 60)
    time.sleep(1.5)
    assert receive_one(sqs, url) is None  # not after the 1 s back-off
    assert receive_one(sqs, url, wait=3)["MessageId"] == received["MessageId"]


def test_a_slow_heartbeat_call_does_not_hold_the_end_of_a_run():
    # A beat stuck in botocore's retries must not keep the handler from answering
    # (Lambda deletes the message only when the handler returns).
    class SlowQueue:
        def visibility_timeout(self):
            return 30

        def change_visibility(self, receipt_handle, seconds):
            time.sleep(5)

    started = time.monotonic()
    worker = Worker(SlowQueue(), sleeping_job(1.2), heartbeat_seconds=1)
    body = RunMessage.new("api").to_json()
    result = worker.process(Delivery("m1", "r1", body), 60)
    assert result["outcome"] == "succeeded"
    assert time.monotonic() - started < 3.0
