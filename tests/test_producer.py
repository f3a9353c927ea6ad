"""The producer against a real (moto) FIFO queue: what gets queued, what gets skipped."""
import json
import threading
import uuid

import pytest

from chalicelib import triggers
from chalicelib.errors import InputError
from chalicelib.producer import Producer
from chalicelib.queue import GateQueue
from tests.conftest import receive_all


def make_producer(sqs, url, policy="skip"):
    return Producer(GateQueue(sqs, url=url), policy, "fifo-gate")


def depth(sqs, url):
    return GateQueue(sqs, url=url).depth()


def schedule(minute="2026-11-29T15:14:00Z"):
    return triggers.from_schedule({"time": minute}, request_id=str(uuid.uuid4()))


def test_enqueues_when_the_queue_is_empty(sqs, queues):
    url, _ = queues
    decision = make_producer(sqs, url).submit(schedule())
    assert decision["decision"] == "enqueued"
    assert decision["dedup_id"] == "slot:2026-11-29T15:14Z"
    assert decision["counts"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    body = json.loads(receive_all(sqs, url)[0]["Body"])
    assert body["version"] == 1 and body["trigger"] == "schedule" and body["slot"] == "2026-11-29T15:14Z"
    assert body["run_id"] == decision["run_id"]


def test_skips_while_a_message_is_in_flight(sqs, queues):
    url, _ = queues
    producer = make_producer(sqs, url)
    producer.submit(schedule("2026-11-29T15:14:00Z"))
    assert len(receive_all(sqs, url)) == 1  # a worker has it now
    decision = producer.submit(schedule("2026-11-29T15:15:00Z"))
    assert decision["decision"] == "skipped"
    assert decision["counts"]["in_flight"] == 1
    assert decision["message_id"] is None
    assert depth(sqs, url) == 1


def test_skips_when_a_message_is_queued_but_not_yet_received(sqs, queues):
    # The seed read only ApproximateNumberOfMessagesNotVisible and sent a second message here.
    url, _ = queues
    producer = make_producer(sqs, url)
    producer.submit(schedule("2026-11-29T15:14:00Z"))
    decision = producer.submit(schedule("2026-11-29T15:15:00Z"))
    assert decision["decision"] == "skipped"
    assert decision["counts"] == {"visible": 1, "in_flight": 0, "delayed": 0}
    assert depth(sqs, url) == 1


def test_skips_when_a_message_is_delayed(sqs):
    # FIFO queues delay per queue (DelaySeconds), not per message.
    url = sqs.create_queue(QueueName="delayed.fifo", Attributes={"FifoQueue": "true", "DelaySeconds": "60"})["QueueUrl"]
    producer = make_producer(sqs, url)
    assert producer.submit(schedule("2026-11-29T15:14:00Z"))["decision"] == "enqueued"
    decision = producer.submit(schedule("2026-11-29T15:15:00Z"))
    assert decision["decision"] == "skipped"
    assert decision["counts"] == {"visible": 0, "in_flight": 0, "delayed": 1}


def test_force_queues_behind_the_current_run_with_its_own_id(sqs, queues):
    url, _ = queues
    producer = make_producer(sqs, url)
    producer.submit(schedule())
    forced = triggers.from_state_machine({"time": "2026-11-29T15:14:00Z", "force": True}, "req-1")
    decision = producer.submit(forced)
    assert decision["decision"] == "enqueued"
    assert decision["dedup_id"] == "force:slot:2026-11-29T15:14Z"
    assert depth(sqs, url) == 2
    # Same group: while the first is in flight, the forced one is not handed out.
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert len(first) == 1 and json.loads(first[0]["Body"])["trigger"] == "schedule"
    assert receive_all(sqs, url) == []


def test_duplicate_delivery_of_one_schedule_event_leaves_one_message(sqs, queues):
    url, _ = queues
    producer = make_producer(sqs, url, policy="buffer_all")  # the gate would let both through
    event = {"id": "evt-1", "time": "2026-11-29T15:14:00Z"}
    first = producer.submit(triggers.from_schedule(event, "req-a"))
    second = producer.submit(triggers.from_schedule(event, "req-b"))
    assert first["dedup_id"] == second["dedup_id"]
    assert depth(sqs, url) == 1


def test_twenty_concurrent_enqueues_of_one_slot_leave_one_message(sqs, queues, app_module, serialised_dedup):
    from tests.conftest import LambdaContextStub

    url, _ = queues
    event = {"time": "2026-11-29T15:14:00Z", "execution": "exec-1"}
    barrier = threading.Barrier(20)
    results, errors = [], []

    def call():
        try:
            barrier.wait()
            results.append(app_module.enqueue(dict(event), LambdaContextStub()))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 20
    assert {r["dedup_id"] for r in results} == {"slot:2026-11-29T15:14Z"}
    assert depth(sqs, url) == 1


def test_allow_all_gives_each_run_its_own_group(sqs, queues):
    url, _ = queues
    producer = make_producer(sqs, url, policy="allow_all")
    producer.submit(schedule("2026-11-29T15:14:00Z"))
    producer.submit(schedule("2026-11-29T15:15:00Z"))
    assert len(receive_all(sqs, url)) == 2  # both handed out at once: no gate


def test_buffer_one_keeps_at_most_one_waiting(sqs, queues):
    url, _ = queues
    producer = make_producer(sqs, url, policy="buffer_one")
    assert producer.submit(schedule("2026-11-29T15:14:00Z"))["decision"] == "enqueued"
    receive_all(sqs, url)  # first run in flight
    assert producer.submit(schedule("2026-11-29T15:15:00Z"))["decision"] == "enqueued"
    assert producer.submit(schedule("2026-11-29T15:16:00Z"))["decision"] == "skipped"
    assert depth(sqs, url) == 2


def test_payload_over_the_sqs_limit_is_refused_before_anything_is_sent(sqs, queues):
    url, _ = queues
    request = triggers.from_state_machine({"payload": {"blob": "x" * 300000}}, "req-big")
    with pytest.raises(InputError, match=r"'payload' is too large: the message would be \d+ bytes, SQS allows 262144"):
        make_producer(sqs, url).submit(request)
    assert depth(sqs, url) == 0
