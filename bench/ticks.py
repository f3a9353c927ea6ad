"""Cost per tick: AWS API calls and latency, seed pattern vs fifo-gate, against one moto queue.

Two kinds of tick, made by the queue's state before each one:

* **skip**: one message is in flight (received, not deleted), so both the
  seed (which counts only NotVisible) and fifo-gate's ``skip`` policy skip;
* **enqueue**: the queue is emptied (receive + delete) before every tick, so
  both send.

Four variants run interleaved, in an order that rotates every round, so noise
on the machine hits all of them alike:

* ``seed``: ``bench.seed_pattern.seed_tick`` (the seed's module-level client and resource);
* ``fifo_gate``: the real handler, ``app.enqueue({"time": <a new minute>}, context)``,
  with ``QUEUE_URL`` set (each tick its own minute, so its own deduplication id);
* ``bare_seed`` / ``bare_fifo_gate``: the same SQS calls made straight on one
  plain boto3 client, no app code (what the call count alone explains).

Latencies are seconds (``time.perf_counter`` around the call); only the tick is
timed, never the reset. API calls are counted with botocore's ``before-call``
event (one per API operation) and HTTP requests with ``before-send`` (one per
attempt, what the server sees).
"""
import collections
import datetime
import json
import os
import time
import uuid

from bench import harness
from bench.child import LambdaContext

VARIANTS = ("seed", "fifo_gate", "bare_seed", "bare_fifo_gate")
KINDS = ("skip", "enqueue")
WARMUP_TICKS = 5
COUNT_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed"]


class Ticks:
    """The four tick variants, bound to the bench queue.

    Args:
        moto (bench.harness.Moto): the server and queue.
    """

    def __init__(self, moto):
        import boto3

        import app
        from bench import seed_pattern
        from chalicelib import logs

        # The decision line is still formatted and written (a cost Lambda pays
        # too), but to /dev/null instead of cluttering the table.
        self._devnull = open(os.devnull, "w")
        logs.configure(stream=self._devnull, level="INFO")
        self.app = app
        self.seed = seed_pattern
        self.moto = moto
        self.bare = boto3.client("sqs")  # default session: counted like the others
        self._minute = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

    def run(self, variant):
        """One tick of ``variant``; returns ``"enqueued"`` or ``"skipped"``."""
        return getattr(self, "_" + variant)()

    def _seed(self):
        return self.seed.seed_tick(harness.QUEUE_NAME)

    def _fifo_gate(self):
        self._minute += datetime.timedelta(minutes=1)
        event = {"time": self._minute.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return self.app.enqueue(event, LambdaContext())["decision"]

    def _bare_seed(self):
        url = self.bare.get_queue_url(QueueName=harness.QUEUE_NAME)["QueueUrl"]
        attrs = self.bare.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if int(attrs["ApproximateNumberOfMessagesNotVisible"]) > 0:
            return "skipped"
        url = self.bare.get_queue_url(QueueName=harness.QUEUE_NAME)["QueueUrl"]
        self.bare.send_message(QueueUrl=url, MessageBody="tick at %s" % datetime.datetime.now(),
                               MessageGroupId="sampleApp", MessageDeduplicationId=str(uuid.uuid4()))
        return "enqueued"

    def _bare_fifo_gate(self):
        url = self.moto.queue_url
        attrs = self.bare.get_queue_attributes(QueueUrl=url, AttributeNames=COUNT_ATTRIBUTES)["Attributes"]
        if sum(int(attrs.get(name, 0)) for name in COUNT_ATTRIBUTES):
            return "skipped"
        body = json.dumps({"version": 1, "run_id": uuid.uuid4().hex, "trigger": "state_machine",
                           "slot": None, "requested_at": "2026-01-01T00:00:00Z", "payload": {}})
        self.bare.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="fifo-gate",
                               MessageDeduplicationId="req:" + str(uuid.uuid4()))
        return "enqueued"


def measure(moto, counter, ticks_per_kind):
    """Run the interleaved ticks; return the ``api_calls`` and ``latency`` sections of the results.

    Args:
        moto (bench.harness.Moto): server and queue; the app's settings must be in ``os.environ``.
        counter (bench.harness.CallCounter): installed on the default session before any client.
        ticks_per_kind (int): measured ticks per variant and kind (after a warm-up).
    Returns:
        tuple[dict, dict]: ``(api_calls, latency)``.
    Raises:
        RuntimeError: a tick decided something else than its kind (the measurement would be wrong).
    """
    ticks = Ticks(moto)
    samples = {variant: {kind: [] for kind in KINDS} for variant in VARIANTS}
    seen_calls = {variant: {kind: collections.Counter() for kind in KINDS} for variant in VARIANTS}
    first_fifo_gate_tick = None
    for kind in KINDS:
        expected = "skipped" if kind == "skip" else "enqueued"
        if kind == "skip":
            moto.hold()
        for round_ in range(WARMUP_TICKS + ticks_per_kind):
            shift = round_ % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                if kind == "enqueue":
                    moto.drain()
                counter.reset()
                started = time.perf_counter()
                decision = ticks.run(variant)
                took = time.perf_counter() - started
                calls = counter.snapshot()
                if decision != expected:
                    raise RuntimeError("%s %s tick decided %r, expected %r" % (variant, kind, decision, expected))
                if variant == "fifo_gate" and first_fifo_gate_tick is None:
                    first_fifo_gate_tick = {"kind": kind, "calls": len(calls[0]), "operations": list(calls[0])}
                if round_ >= WARMUP_TICKS:
                    samples[variant][kind].append(took)
                    seen_calls[variant][kind][calls] += 1
        if kind == "skip":
            moto.release()
        moto.drain()
    queue_name_calls = _queue_name_variant(moto, counter, ticks)
    return _api_calls(seen_calls, first_fifo_gate_tick, queue_name_calls), _latency(samples, ticks_per_kind)


def _queue_name_variant(moto, counter, ticks):
    """fifo-gate with ``QUEUE_NAME`` instead of ``QUEUE_URL``: the first tick of a container looks the URL up."""
    app = ticks.app
    saved_url = os.environ.pop("QUEUE_URL")
    os.environ["QUEUE_NAME"] = harness.QUEUE_NAME
    app._CACHE.clear()  # a new container
    result = {}
    try:
        for label, kind in (("first_tick", "enqueue"), ("later_enqueue_tick", "enqueue"), ("later_skip_tick", "skip")):
            if kind == "skip":
                moto.hold()
            else:
                moto.drain()
            counter.reset()
            ticks.run("fifo_gate")
            operations, _ = counter.snapshot()
            result[label] = {"kind": kind, "calls": len(operations), "operations": list(operations)}
            if kind == "skip":
                moto.release()
    finally:
        os.environ.pop("QUEUE_NAME", None)
        os.environ["QUEUE_URL"] = saved_url
        app._CACHE.clear()
        moto.drain()
    return result


def _api_calls(seen_calls, first_fifo_gate_tick, queue_name_calls):
    section = {}
    for variant in VARIANTS:
        section[variant] = {}
        for kind in KINDS:
            (operations, requests), _ = seen_calls[variant][kind].most_common(1)[0]
            section[variant][kind] = {
                "calls": len(operations),
                "http_requests": requests,
                "operations": list(operations),
                "same_every_tick": len(seen_calls[variant][kind]) == 1,
            }
    section["fifo_gate_first_tick_in_container"] = first_fifo_gate_tick
    section["fifo_gate_with_queue_name"] = queue_name_calls
    return section


def _latency(samples, ticks_per_kind):
    section = {"ticks_per_kind": ticks_per_kind, "warmup_ticks": WARMUP_TICKS, "unit": "seconds"}
    for variant in VARIANTS:
        section[variant] = {kind: harness.summarize(samples[variant][kind]) for kind in KINDS}
    section["ratio"] = {kind: section["seed"][kind]["median_s"] / section["fifo_gate"][kind]["median_s"]
                        for kind in KINDS}
    section["bare_ratio"] = {
        kind: section["bare_seed"][kind]["median_s"] / section["bare_fifo_gate"][kind]["median_s"]
        for kind in KINDS
    }
    return section
