"""Fault scenarios: what a user relies on when things go wrong (durations scaled down).

Each test drives the real handlers (or the pure gate) against moto queues and
loopback servers only. Timers are whole seconds in SQS/moto, so the shortest
ones here are 1-2 s; the whole file stays well under a minute.
"""
import io
import json
import math
import random
import socket
import threading
import time

import boto3
import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from chalicelib import gate
from chalicelib.errors import ConfigError, InputError, JobError, JobTimeout
from chalicelib.messages import RunMessage
from chalicelib.queue import GateQueue
from chalicelib.worker import Heartbeat
from tests.conftest import REGION, LambdaContextStub, create_queues, receive_all, sqs_event

SLOT_TIME = "2026-11-29T15:14:00Z"


# --------------------------------------------------------------------------- helpers


def schedule_event(when=SLOT_TIME):
    """An EventBridge scheduled event as Lambda receives it."""
    return {"version": "0", "id": "c0ffee00-0000-4000-8000-000000000001", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": when, "region": REGION,
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/fifo-gate-tick"], "detail": {}}


def receive_one(client, url):
    messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                      AttributeNames=["All"], MessageSystemAttributeNames=["All"]
                                      ).get("Messages", [])
    return messages[0] if messages else None


def use_queues(monkeypatch, sqs, name, visibility):
    """Point the app at a fresh queue pair with ``visibility``; return ``(url, dlq_url)``."""
    url, dlq_url = create_queues(sqs, name, visibility=visibility)
    monkeypatch.setenv("QUEUE_URL", url)
    monkeypatch.setenv("DLQ_NAME", name + "-dlq.fifo")
    return url, dlq_url


class Poller(threading.Thread):
    """A second Lambda poller: keeps receiving (own client) and records what it got and when."""

    def __init__(self, url, interval=0.1):
        super().__init__(daemon=True)
        self.url = url
        self.interval = interval
        self.got = []  # (monotonic time, message)
        self.stop = threading.Event()
        self.client = boto3.client("sqs", region_name=REGION)

    def run(self):
        while not self.stop.is_set():
            message = receive_one(self.client, self.url)
            if message:
                self.got.append((time.monotonic(), message))
            self.stop.wait(self.interval)

    def finish(self):
        self.stop.set()
        self.join(5)


# --------------------------------------------------------------------------- 1


def test_run_outlasting_visibility_timeout_never_reappears(sqs, app_module, long_api, monkeypatch):
    url, _ = use_queues(monkeypatch, sqs, "vis2", visibility=2)
    monkeypatch.setenv("HEARTBEAT_SECONDS", "1")
    long_api.delay = 5  # 2.5 x the queue's visibility timeout
    app_module.enqueue({}, LambdaContextStub())
    message = receive_one(sqs, url)
    assert message is not None
    poller = Poller(url)
    poller.start()
    try:
        started = time.monotonic()
        app_module.worker(sqs_event(message), LambdaContextStub(60))
        elapsed = time.monotonic() - started
    finally:
        poller.finish()
    assert elapsed >= 5
    assert poller.got == [], "the message was handed out again mid-run"
    assert len(long_api.calls) == 1
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])  # what Lambda does on success
    assert GateQueue(sqs, url=url).depth() == 0


# --------------------------------------------------------------------------- 2


class _DyingQueue:
    """Forwards the heartbeat's calls to SQS while the worker is alive; a killed one reaches nothing."""

    def __init__(self, queue):
        self._queue = queue
        self.alive = True
        self.beats = []

    def change_visibility(self, receipt_handle, seconds):
        if self.alive:
            self._queue.change_visibility(receipt_handle, seconds)
            self.beats.append(time.monotonic())


def test_worker_killed_mid_run_reappears_after_visibility_and_runs_once_at_a_time(
        sqs, app_module, long_api, monkeypatch):
    url, _ = use_queues(monkeypatch, sqs, "killed", visibility=2)
    app_module.enqueue({}, LambdaContextStub())
    first = receive_one(sqs, url)
    received_at = time.monotonic()
    dying = _DyingQueue(GateQueue(sqs, url=url))
    heartbeat = Heartbeat(dying, first["ReceiptHandle"], interval=0.5, extend_to=2)
    heartbeat.__enter__()
    poller = Poller(url, interval=0.05)
    poller.start()
    try:
        time.sleep(2.5)  # alive past the queue's 2 s visibility: the beats keep it hidden
        dying.alive = False  # killed: no more beats, no back-off, no delete
        killed_at = time.monotonic()
        deadline = killed_at + 5
        while not poller.got and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.finish()
        heartbeat.__exit__(None, None, None)
    assert dying.beats, "the heartbeat never beat"
    last_beat = max(dying.beats)
    assert len(poller.got) == 1, "the message did not come back (or came back twice)"
    seen_at, second = poller.got[0]
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    # Never handed out while the first worker was alive (last beat + its 2 s visibility) ...
    assert seen_at >= killed_at and seen_at >= last_beat + 2 - 0.25, (seen_at - received_at, last_beat - received_at)
    # ... and back soon after, not lost.
    assert seen_at <= last_beat + 2 + 1.5
    # A second worker runs it to success; Lambda then deletes it.
    app_module.worker(sqs_event(second), LambdaContextStub(60))
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    assert len(long_api.calls) == 1
    assert GateQueue(sqs, url=url).depth() == 0


# --------------------------------------------------------------------------- 3


class BadServer:
    """A loopback server that either never answers (``hang``) or trickles 1 byte every 0.1 s."""

    def __init__(self, mode):
        self.mode = mode
        self.stop = threading.Event()
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.url = "http://127.0.0.1:%d/job" % self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(5)
            conn.recv(65536)
            if self.mode == "trickle":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
                while not self.stop.wait(0.1):
                    conn.sendall(b"x")
            else:
                self.stop.wait(10)
        except OSError:
            pass  # the client cut us off: that is the point
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self._sock.close()


@pytest.mark.parametrize("mode", ["hang", "trickle"])
def test_job_hanging_or_trickling_is_cut_and_retried_after_backoff(sqs, app_module, monkeypatch, mode):
    # A cut call may still be running at the API, so its retry waits the queue's
    # whole visibility timeout (3 s here), not the 1 s back-off of an ordinary failure.
    url, _ = create_queues(sqs, "cut-" + mode, visibility=3)
    monkeypatch.setenv("QUEUE_URL", url)
    server = BadServer(mode)
    try:
        monkeypatch.setenv("LONG_API_URL", server.url)
        monkeypatch.setenv("LONG_API_TIMEOUT_SECONDS", "1")
        monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "1")
        app_module.enqueue({}, LambdaContextStub())
        message = receive_one(sqs, url)
        started = time.monotonic()
        with pytest.raises(JobTimeout, match="deadline"):
            app_module.worker(sqs_event(message), LambdaContextStub(60))
        failed_at = time.monotonic()
        assert 0.9 <= failed_at - started < 1.5
        assert server.connections == 1  # never retried inside the run
    finally:
        server.close()
    assert receive_one(sqs, url) is None  # backing off, not retried at once
    again = None
    while again is None and time.monotonic() - failed_at < 6:
        time.sleep(0.1)
        again = receive_one(sqs, url)
    assert again is not None, "not visible again after the visibility timeout"
    assert again["MessageId"] == message["MessageId"]
    assert 2.5 <= time.monotonic() - failed_at <= 4.6  # the 3 s visibility, not the 1 s back-off


# --------------------------------------------------------------------------- 4


def test_poison_message_reaches_dlq_unblocks_group_and_status_shows_it(
        sqs, queues, app_module, client, long_api, monkeypatch):
    url, dlq_url = queues  # maxReceiveCount 3
    long_api.status = 500
    monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "0")
    first = app_module.enqueue({}, LambdaContextStub())
    attempts = 0
    for _ in range(10):
        message = receive_one(sqs, url)
        if message is None:
            break
        attempts += 1
        with pytest.raises(JobError, match="500"):
            app_module.worker(sqs_event(message), LambdaContextStub(60))
    assert attempts == 3
    assert len(long_api.calls) == 3
    parked = receive_all(sqs, dlq_url)
    assert [json.loads(m["Body"])["run_id"] for m in parked] == [first["run_id"]]
    assert GateQueue(sqs, url=url).depth() == 0
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    event["time"] = "2026-11-29T15:20:00Z"
    decision = client.lambda_.invoke("tick", event).payload
    assert decision["decision"] == "enqueued"  # the gate reopened
    status = client.http.get("/status")
    assert status.status_code == 200
    assert status.json_body["dead_letters"] == 1
    assert status.json_body["queue"] == {"visible": 1, "in_flight": 0, "delayed": 0}


# --------------------------------------------------------------------------- 5


def test_duplicate_schedule_event_and_retried_state_machine_task_leave_one_message(
        sqs, queues, client, monkeypatch):
    url, _ = queues
    # buffer_all throughout: the gate itself would queue every trigger, so only the
    # deduplication id can collapse the repeats.
    monkeypatch.setenv("OVERLAP_POLICY", "buffer_all")
    queue = GateQueue(sqs, url=url)
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    event["time"] = SLOT_TIME
    first = client.lambda_.invoke("tick", event).payload
    second = client.lambda_.invoke("tick", event).payload  # EventBridge re-delivery, same second
    assert first["decision"] == second["decision"] == "enqueued"
    assert first["dedup_id"] == second["dedup_id"]
    assert queue.depth() == 1

    task = {"execution": "fifo-gate-dev-2026-11-29-1514-a"}
    once = client.lambda_.invoke("enqueue", task).payload
    retried = client.lambda_.invoke("enqueue", task).payload  # new Lambda request id, same execution
    assert once["dedup_id"] == retried["dedup_id"] == "exec:" + task["execution"]
    assert queue.depth() == 2  # one for the tick, one for the execution


# --------------------------------------------------------------------------- 6


def test_schedule_and_state_machine_for_the_same_minute_leave_one_message(
        sqs, queues, app_module, monkeypatch, serialised_dedup):
    url, _ = queues
    monkeypatch.setenv("OVERLAP_POLICY", "buffer_all")
    minutes = ["2026-11-29T15:%02d:00Z" % minute for minute in range(14, 19)]
    decisions, errors = [], []
    for when in minutes:
        barrier = threading.Barrier(3)

        def fire(call):
            try:
                barrier.wait(5)
                decisions.append(call())
            except Exception as exc:  # surfaced below
                errors.append(exc)

        calls = [
            lambda: app_module.tick(schedule_event(when), LambdaContextStub()),
            lambda: app_module.tick(schedule_event(when), LambdaContextStub()),  # re-delivered tick
            lambda: app_module.enqueue({"time": when, "execution": "exec-" + when[11:16].replace(":", "")},
                                       LambdaContextStub()),
        ]
        threads = [threading.Thread(target=fire, args=(call,)) for call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert errors == []
    assert len(decisions) == 3 * len(minutes)
    assert {d["decision"] for d in decisions} == {"enqueued"}
    assert GateQueue(sqs, url=url).depth() == len(minutes)  # exactly one per minute
    slots = sorted(json.loads(m["Body"])["slot"] for m in receive_all(sqs, url))
    assert slots == [when[:16] + "Z" for when in minutes]


# --------------------------------------------------------------------------- 7


def simulate(policy, lag, ticks=1000, seed=20261129):
    """A model FIFO group fed by a producer that sees counts ``lag`` seconds old.

    Returns ``(runs, max_backlog)``: the (start, end) of every run, and the most
    messages queued + in flight at any instant.
    """
    rng = random.Random(seed)
    waiting = []  # durations of queued runs, FIFO
    running_until = None
    runs = []
    history = [(-math.inf, 0, 0)]  # (time, visible, in_flight) after each change
    max_backlog = 0

    def record(now):
        nonlocal max_backlog
        in_flight = 1 if running_until is not None else 0
        history.append((now, len(waiting), in_flight))
        max_backlog = max(max_backlog, len(waiting) + in_flight)

    def advance(now):
        """Let runs finish and the next queued one start, up to ``now``."""
        nonlocal running_until
        while running_until is not None and running_until <= now:
            ended = running_until
            running_until = None
            if waiting:  # the poller hands out the next message of the group at once
                duration = waiting.pop(0)
                running_until = ended + duration
                runs.append((ended, running_until))
            record(ended)

    def counts_at(moment):
        # The state strictly before ``moment``: a change made at that very instant is not seen yet.
        state = [entry for entry in history if entry[0] < moment][-1]
        return gate.Counts(visible=state[1], in_flight=state[2])

    for index in range(ticks):
        now = index * 60.0
        advance(now)
        if gate.decide(policy, counts_at(now - lag)).enqueue:
            duration = rng.uniform(40, 120)
            if running_until is None:
                running_until = now + duration
                runs.append((now, running_until))
            else:
                waiting.append(duration)
            record(now)
        if len(history) > 64:  # keep the lookup cheap: nothing older than the lag is needed
            cutoff = now - lag - 60
            keep = [entry for entry in history if entry[0] >= cutoff]
            older = [entry for entry in history if entry[0] < cutoff]
            history[:] = older[-1:] + keep
    return runs, max_backlog


@pytest.mark.parametrize("policy, allowed", [("skip", 1), ("buffer_one", 2)])
@pytest.mark.parametrize("lag", [60, 120])
def test_lagging_counts_never_cause_overlap_and_bound_the_backlog(policy, allowed, lag):
    started = time.monotonic()
    bound = allowed + math.ceil(lag / 60)
    for seed in (1, 2, 3, 20261129):
        runs, max_backlog = simulate(policy, lag, seed=seed)
        assert len(runs) > 300  # the model did run things
        for (_, previous_end), (start, _) in zip(runs, runs[1:]):
            assert start >= previous_end, "two runs overlapped"
        assert simulate(policy, 0, seed=seed)[1] <= allowed  # exact counts: the policy's own bound
        assert max_backlog <= bound, (policy, lag, seed, max_backlog)
    # Control: the bound bites (buffer_all, with runs averaging 80 s per 60 s tick, grows past it).
    assert simulate(gate.BUFFER_ALL, lag)[1] > bound
    assert time.monotonic() - started < 2


# --------------------------------------------------------------------------- 8


class _Raw(io.BytesIO):
    """What ``AWSResponse.content`` reads: an object with ``stream()``."""

    def stream(self, **kwargs):
        yield self.read()


def fake_response(request, status, code, message):
    body = json.dumps({"__type": "com.amazonaws.sqs#" + code, "message": message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault-injected",
               "Content-Length": str(len(body))}
    return AWSResponse(request.url, status, headers, _Raw(body))


class Injector:
    """Fails the first ``failures`` calls of one operation, then lets moto answer.

    ``land=True`` lets the request reach SQS (moto) first and loses the answer (a
    500 after the send happened), the case that could duplicate a message.
    """

    def __init__(self, failures, status, code, land=False):
        self.failures, self.status, self.code, self.land = failures, status, code, land
        self.calls = 0

    def __call__(self, event_name, request):
        from moto.core.models import botocore_stubber

        self.calls += 1
        if self.calls > self.failures:
            return botocore_stubber(event_name, request)
        if self.land:
            botocore_stubber(event_name, request)  # SQS did it; the answer is lost
        return fake_response(request, self.status, self.code, "injected by the test")


def faulty_sqs_client(config, injectors):
    """A moto-backed SQS client with ``config`` whose requests go through ``injectors`` (by operation).

    botocore calls *every* ``before-send`` handler and uses the first answer, so
    moto's own handler is taken off this client and called by the hook instead:
    a refused request never reaches moto.
    """
    from moto.core.models import botocore_stubber

    client = boto3.client("sqs", region_name=REGION, config=config)
    client.meta.events.unregister("before-send", botocore_stubber)

    def hook(request, event_name, **kwargs):
        operation = event_name.rsplit(".", 1)[-1]
        injector = injectors.get(operation)
        return injector(event_name, request) if injector else botocore_stubber(event_name, request)

    client.meta.events.register("before-send.sqs", hook)
    return client


SQS_FAULTS = {
    # name: (GetQueueAttributes injector args, SendMessage injector args, expected outcome)
    "throttled-then-5xx": ((2, 400, "ThrottlingException"), (2, 500, "InternalError"), "enqueued"),
    "request-throttled": ((3, 400, "RequestThrottled"), (0, 500, "InternalError"), "enqueued"),
    "every-send-refused": ((0, 500, "InternalError"), (99, 503, "ServiceUnavailable"), 0),
    "every-send-lands-answer-lost": ((0, 500, "InternalError"), (99, 500, "InternalError", True), 1),
}


@pytest.mark.parametrize("case", sorted(SQS_FAULTS))
def test_sqs_throttling_and_5xx_are_absorbed_by_botocore_retries(sqs, queues, app_module, monkeypatch, case):
    url, _ = queues
    # Keep botocore's jittered back-off from costing seconds (throttling waits up to 1, 2, 4 s).
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.01)
    assert app_module.SQS_CONFIG.retries["mode"] == "standard"
    retries = app_module.SQS_CONFIG.retries  # botocore rewrites max_attempts (retries) as total_max_attempts
    total_attempts = retries.get("total_max_attempts") or retries["max_attempts"] + 1
    counts_args, send_args, expected = SQS_FAULTS[case]
    counts_hook, send_hook = Injector(*counts_args), Injector(*send_args)
    client = faulty_sqs_client(app_module.SQS_CONFIG, {"GetQueueAttributes": counts_hook,
                                                       "SendMessage": send_hook})
    app_module._CACHE["sqs"] = client  # the container's client, built with the app's config
    queue = GateQueue(sqs, url=url)
    if expected == "enqueued":
        decision = app_module.tick(schedule_event(), LambdaContextStub())
        assert decision["decision"] == "enqueued"
        assert counts_hook.calls == counts_args[0] + 1 and send_hook.calls == send_args[0] + 1
        assert queue.depth() == 1
        assert [json.loads(m["Body"])["run_id"] for m in receive_all(sqs, url)] == [decision["run_id"]]
    else:
        with pytest.raises(ClientError) as caught:
            app_module.tick(schedule_event(), LambdaContextStub())
        text = str(caught.value)
        assert "SendMessage" in text and "reached max retries" in text, text
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == send_args[1]
        assert send_hook.calls == total_attempts  # retried, then gave up
        assert queue.depth() == expected  # never 2: every retry carried the same dedup id


# --------------------------------------------------------------------------- 9


BIG = "a" * (256 * 1024)
BAD_INPUT = [
    # (id, path, input, expected: field name for InputError / HTTP status / "dlq")
    ("enqueue-array", "enqueue", ["force"], None),
    ("enqueue-string", "enqueue", "run please", None),
    ("enqueue-null", "enqueue", None, None),
    ("force-string", "enqueue", {"force": "yes"}, "force"),
    ("time-number", "enqueue", {"time": 1764429240}, "time"),
    ("time-garbage", "enqueue", {"time": "yesterday"}, "time"),
    ("execution-number", "enqueue", {"execution": 7}, "execution"),
    ("execution-empty", "enqueue", {"execution": ""}, "execution"),
    ("payload-array", "enqueue", {"payload": [1, 2]}, "payload"),
    ("payload-over-256KiB", "enqueue", {"payload": {"blob": BIG}}, "payload"),
    ("runs-invalid-json", "runs", "{force: true", 400),
    ("runs-array", "runs", "[1]", 400),
    ("runs-unknown-field", "runs", '{"forse": true}', 400),
    ("runs-payload-over-256KiB", "runs", json.dumps({"payload": {"blob": BIG}}), 400),
    ("body-version-2", "worker", json.dumps({"version": 2, "run_id": "r2", "trigger": "schedule",
                                            "slot": None, "requested_at": "2026-11-29T15:14:00Z",
                                            "payload": {}}), "dlq"),
]


@pytest.mark.parametrize("path, data, expected", [case[1:] for case in BAD_INPUT],
                         ids=[case[0] for case in BAD_INPUT])
def test_bad_input_never_an_unhandled_traceback(sqs, queues, app_module, client, request, path, data, expected):
    url, dlq_url = queues
    queue = GateQueue(sqs, url=url)
    if path == "enqueue":
        with pytest.raises(InputError) as caught:
            app_module.enqueue(data, LambdaContextStub())
        assert caught.value.field == expected
        assert "\n" not in str(caught.value)
        if expected:
            assert expected in str(caught.value)
        assert queue.depth() == 0
    elif path == "runs":
        response = client.http.post("/runs", headers={"Content-Type": "application/json"}, body=data)
        assert response.status_code == expected
        assert response.json_body["error"]
        assert queue.depth() == 0
    else:
        long_api = request.getfixturevalue("long_api")  # only here: its shutdown costs 0.5 s
        sqs.send_message(QueueUrl=url, MessageBody=data, MessageGroupId="fifo-gate", MessageDeduplicationId="v2")
        message = receive_one(sqs, url)
        app_module.worker(sqs_event(message), LambdaContextStub(60))  # parks it: no exception
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])  # Lambda on success
        assert long_api.calls == []
        parked = receive_all(sqs, dlq_url)
        assert [m["Body"] for m in parked] == [data]
        assert queue.depth() == 0


# --------------------------------------------------------------------------- 10


BAD_ENV = [
    # (id, overrides (None deletes), handler, variable the message must name)
    ("no-queue", {"QUEUE_URL": None, "QUEUE_NAME": None}, "enqueue", "QUEUE_NAME"),
    ("queue-name-not-fifo", {"QUEUE_URL": None, "QUEUE_NAME": "fifo-gate-dev"}, "enqueue", "QUEUE_NAME"),
    ("queue-url-not-url", {"QUEUE_URL": "fifo gate.fifo"}, "enqueue", "QUEUE_URL"),
    ("policy-unknown", {"OVERLAP_POLICY": "fifo"}, "enqueue", "OVERLAP_POLICY"),
    ("policy-with-newline", {"OVERLAP_POLICY": "skip\nbuffer_all"}, "enqueue", "OVERLAP_POLICY"),
    ("schedule-enabled", {"SCHEDULE_ENABLED": "sometimes"}, "tick", "SCHEDULE_ENABLED"),
    ("group-id", {"MESSAGE_GROUP_ID": "fifo gate"}, "tick", "MESSAGE_GROUP_ID"),
    ("heartbeat-below-1s", {"HEARTBEAT_SECONDS": "0.5"}, "worker", "HEARTBEAT_SECONDS"),
    ("heartbeat-not-below-visibility", {"HEARTBEAT_SECONDS": "30"}, "worker", "HEARTBEAT_SECONDS"),
    ("timeout-negative", {"LONG_API_TIMEOUT_SECONDS": "-1"}, "worker", "LONG_API_TIMEOUT_SECONDS"),
    ("backoff-fraction", {"RETRY_BACKOFF_SECONDS": "1.5"}, "worker", "RETRY_BACKOFF_SECONDS"),
    ("long-api-url-missing", {"LONG_API_URL": None}, "worker", "LONG_API_URL"),
    ("long-api-url-ftp", {"LONG_API_URL": "ftp://example.com/job"}, "worker", "LONG_API_URL"),
    ("method", {"LONG_API_METHOD": "FETCH"}, "worker", "LONG_API_METHOD"),
    ("log-level", {"LOG_LEVEL": "LOUD"}, "enqueue", "LOG_LEVEL"),
]


@pytest.mark.parametrize("overrides, handler, variable", [case[1:] for case in BAD_ENV],
                         ids=[case[0] for case in BAD_ENV])
def test_each_bad_environment_variable_stops_with_one_clear_line(
        sqs, queues, app_module, monkeypatch, overrides, handler, variable):
    url, _ = queues  # visibility 30 s
    # Nothing listens on port 9 (discard): a worker that got past the config check would fail
    # with a JobError, not a ConfigError.
    monkeypatch.setenv("LONG_API_URL", "http://127.0.0.1:9/job")
    # A real message, sent past the app, so the worker case has something valid to refuse.
    sqs.send_message(QueueUrl=url, MessageBody=RunMessage.new("schedule").to_json(),
                     MessageGroupId="fifo-gate", MessageDeduplicationId="env-1")
    message = receive_one(sqs, url)
    for name, value in overrides.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        if handler == "enqueue":
            app_module.enqueue({}, LambdaContextStub())
        elif handler == "tick":
            app_module.tick(schedule_event(), LambdaContextStub())
        else:
            app_module.worker(sqs_event(message), LambdaContextStub(60))
    text = str(caught.value)
    assert "\n" not in text and "\r" not in text, text
    assert variable in text, text
    assert GateQueue(sqs, url=url).counts().visible == 0  # nothing new was sent
