"""Trigger inputs: validation with errors that name the field, and deduplication ids."""
import pytest

from chalicelib import triggers
from chalicelib.errors import InputError


def test_slot_wins_over_execution_and_request_id():
    request = triggers.from_state_machine({"time": "2026-11-29T15:14:59.123Z", "execution": "e1"}, "r1")
    assert request.dedup_id == "slot:2026-11-29T15:14Z"


def test_schedule_and_state_machine_for_one_minute_share_the_id():
    tick = triggers.from_schedule({"time": "2026-11-29T15:14:00Z"}, "r1")
    machine = triggers.from_state_machine({"time": "2026-11-29T16:14:30+01:00"}, "r2")
    assert tick.dedup_id == machine.dedup_id == "slot:2026-11-29T15:14Z"


def test_execution_name_then_request_id():
    assert triggers.from_state_machine({"execution": "run-42"}, "r1").dedup_id == "exec:run-42"
    assert triggers.from_state_machine({}, "0f1e-req").dedup_id == "req:0f1e-req"


def test_api_uses_idempotency_key_then_request_id():
    assert triggers.from_api(None, "r1", "client-key-1").dedup_id == "key:client-key-1"
    assert triggers.from_api({}, "apigw-req").dedup_id == "req:apigw-req"


def test_ids_sqs_would_reject_are_hashed():
    request = triggers.from_api({}, "r1", "ключ with spaces " + "x" * 200)
    assert request.dedup_id.startswith("key:sha256:") and len(request.dedup_id) <= 128


def test_force_has_its_own_id():
    assert triggers.from_state_machine({"execution": "e1", "force": True}, "r").dedup_id == "force:exec:e1"


@pytest.mark.parametrize("event,field,message", [
    ([], None, "enqueue input must be a JSON object"),
    ("go", None, "got a string"),
    ({"force": "yes"}, "force", "'force' must be true or false, got a string"),
    ({"force": 1}, "force", "'force' must be true or false, got a number"),
    ({"time": 1732893240}, "time", "'time' must be an ISO-8601 timestamp string"),
    ({"time": "yesterday"}, "time", "'time' is not an ISO-8601 timestamp: 'yesterday'"),
    ({"payload": [1, 2]}, "payload", "'payload' must be a JSON object, got an array"),
    ({"execution": 7}, "execution", "'execution' must be a non-empty string"),
])
def test_bad_enqueue_input_names_the_field(event, field, message):
    with pytest.raises(InputError, match=message) as info:
        triggers.from_state_machine(event, "r1")
    assert info.value.field == field


def test_unknown_keys_from_step_functions_are_ignored():
    assert triggers.from_state_machine({"comment": "hi", "force": False}, "r").force is False


@pytest.mark.parametrize("body,message", [
    ([1], "request body must be a JSON object"),
    ({"forse": True}, "unknown field\\(s\\) 'forse'; allowed: force, payload"),
    ({"force": "true"}, "'force' must be true or false"),
])
def test_bad_api_body(body, message):
    with pytest.raises(InputError, match=message):
        triggers.from_api(body, "r1")


def test_an_empty_request_id_is_refused_rather_than_shared():
    with pytest.raises(ValueError, match="non-empty request_id"):
        triggers.from_api({}, "")


@pytest.mark.parametrize("value", ["9999-12-31T23:59:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_time_out_of_range_names_the_field(value):
    with pytest.raises(InputError, match="'time' is out of range"):
        triggers.from_state_machine({"time": value}, "r1")


def test_payload_that_is_not_plain_json_is_refused(sqs, queues):
    from chalicelib.producer import Producer
    from chalicelib.queue import GateQueue

    request = triggers.from_state_machine({"payload": {"x": float("nan")}}, "r1")
    with pytest.raises(InputError, match="'payload' is not plain JSON"):
        Producer(GateQueue(sqs, url=queues[0]), "skip", "g").submit(request)
