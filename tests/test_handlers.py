"""The three Lambda handlers and the REST routes, invoked through Chalice's test client."""
import json

from tests.conftest import receive_all, sqs_event


def test_tick_enqueues_then_skips_while_the_run_waits(client, sqs, queues):
    url, _ = queues
    first = client.lambda_.invoke("tick", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])).payload
    assert first["decision"] == "enqueued" and first["trigger"] == "schedule"
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    event["time"] = "2026-11-29T15:15:00Z"
    second = client.lambda_.invoke("tick", event).payload
    assert second["decision"] == "skipped"
    assert second["counts"]["visible"] == 1
    assert len(receive_all(sqs, url)) == 1


def test_tick_is_disabled_by_schedule_enabled(client, sqs, queues, monkeypatch):
    url, _ = queues
    monkeypatch.setenv("SCHEDULE_ENABLED", "false")
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    decision = client.lambda_.invoke("tick", event).payload
    assert decision["decision"] == "disabled"
    assert "SCHEDULE_ENABLED" in decision["reason"]
    assert receive_all(sqs, url) == []


def test_enqueue_accepts_an_empty_object(client):
    decision = client.lambda_.invoke("enqueue", {}).payload
    assert decision["decision"] == "enqueued"
    assert decision["trigger"] == "state_machine"
    assert decision["dedup_id"].startswith("req:")


def test_enqueue_with_execution_and_time_from_the_state_machine(client):
    payload = {"execution": "exec-7", "time": "2026-11-29T15:14:00Z", "extra": "ignored"}
    decision = client.lambda_.invoke("enqueue", payload).payload
    assert decision["dedup_id"] == "slot:2026-11-29T15:14Z"


def test_enqueue_rejects_bad_input_by_field_and_sends_nothing(client, sqs, queues):
    import pytest

    from chalicelib.errors import InputError

    with pytest.raises(InputError, match="'force' must be true or false"):
        client.lambda_.invoke("enqueue", {"force": "yes"})
    assert receive_all(sqs, queues[0]) == []


def test_worker_runs_the_job_for_a_real_message(client, sqs, queues, long_api):
    url, _ = queues
    decision = client.lambda_.invoke("enqueue", {"payload": {"report": "daily"}}).payload
    message = receive_all(sqs, url)[0]
    client.lambda_.invoke("worker", sqs_event(message))
    assert len(long_api.calls) == 1
    call = long_api.calls[0]
    assert json.loads(call["body"]) == {"report": "daily"}
    assert call["headers"]["X-Run-Id"] == decision["run_id"]


def test_worker_failure_raises_and_leaves_the_message_for_retry(client, sqs, queues, long_api, monkeypatch):
    import pytest

    from chalicelib.errors import JobError

    url, _ = queues
    monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "1")
    long_api.status = 503
    client.lambda_.invoke("enqueue", {})
    message = receive_all(sqs, url)[0]
    with pytest.raises(JobError, match="503"):
        client.lambda_.invoke("worker", sqs_event(message))
    # Visible again after the 1 s back-off, not the queue's 30 s visibility timeout.
    again = receive_all(sqs, url, wait=3)
    assert [m["MessageId"] for m in again] == [message["MessageId"]]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_status_reports_live_counts_and_dead_letters(client, sqs, queues):
    _, dlq_url = queues
    client.lambda_.invoke("enqueue", {})
    sqs.send_message(QueueUrl=dlq_url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    response = client.http.get("/status")
    assert response.status_code == 200
    assert response.json_body == {
        "policy": "skip", "schedule_enabled": True,
        "queue": {"visible": 1, "in_flight": 0, "delayed": 0}, "dead_letters": 1,
    }


def test_post_runs_enqueues_and_honours_the_idempotency_key(client, sqs, queues):
    headers = {"Content-Type": "application/json", "Idempotency-Key": "deploy-2026-11-29"}
    first = client.http.post("/runs", headers=headers, body=json.dumps({"payload": {"a": 1}}))
    assert first.status_code == 200
    assert first.json_body["decision"] == "enqueued" and first.json_body["trigger"] == "api"
    forced = client.http.post("/runs", headers=headers, body=json.dumps({"force": True}))
    assert forced.json_body["dedup_id"] == "force:key:deploy-2026-11-29"
    again = client.http.post("/runs", headers=headers, body=json.dumps({"force": True}))
    assert again.json_body["decision"] == "enqueued"
    from chalicelib.queue import GateQueue
    assert GateQueue(sqs, url=queues[0]).depth() == 2  # the repeated forced request collapsed


def test_post_runs_with_an_empty_body(client):
    response = client.http.post("/runs", headers={"Content-Type": "application/json"}, body="")
    assert response.status_code == 200 and response.json_body["decision"] == "enqueued"


def test_post_runs_bad_json_is_a_400_that_says_why(client, sqs, queues):
    response = client.http.post("/runs", headers={"Content-Type": "application/json"}, body="{force: true")
    assert response.status_code == 400
    assert response.json_body["error"].startswith("request body is not valid JSON")
    bad_field = client.http.post("/runs", headers={"Content-Type": "application/json"}, body='{"force": "yes"}')
    assert bad_field.status_code == 400
    assert "'force' must be true or false" in bad_field.json_body["error"]
    assert receive_all(sqs, queues[0]) == []


def test_post_runs_without_an_api_gateway_request_id_still_gets_distinct_ids(client):
    # chalice local (and the test client) give no requestId; Lambda's request id stands in.
    first = client.http.post("/runs", headers={"Content-Type": "application/json"}, body='{"force": true}')
    second = client.http.post("/runs", headers={"Content-Type": "application/json"}, body='{"force": true}')
    assert first.json_body["dedup_id"] != second.json_body["dedup_id"]
    assert first.json_body["dedup_id"].startswith("force:req:") and len(first.json_body["dedup_id"]) > 12


def test_post_runs_deeply_nested_or_non_finite_json_is_a_400(client, sqs, queues):
    for body in ("[" * 5000 + "]" * 5000, '{"payload": {"x": NaN}}', '{"payload": {"y": 1e400}}'):
        response = client.http.post("/runs", headers={"Content-Type": "application/json"}, body=body)
        assert response.status_code == 400, body[:40]
        assert response.json_body["error"].startswith("request body is not valid JSON")
    assert receive_all(sqs, queues[0]) == []
