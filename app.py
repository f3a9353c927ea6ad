"""fifo-gate: run a long job on a schedule, never two at once, gated by an SQS FIFO queue.

Handlers only; everything they do lives in ``chalicelib``. Clients and settings
are built on first use and cached per container, so importing this module
touches neither AWS nor the environment's validity.
"""
import os
import threading

import boto3
from botocore.config import Config
from chalice import Chalice, IAMAuthorizer, Rate, Response

from chalicelib import logs, producer, triggers
from chalicelib.config import DEFAULT_APP_NAME, Settings
from chalicelib.errors import InputError
from chalicelib.job import HttpJob
from chalicelib.messages import loads_strict
from chalicelib.queue import GateQueue
from chalicelib.worker import Delivery, Worker

app = Chalice(app_name=DEFAULT_APP_NAME)
iam = IAMAuthorizer()

# The queue the worker's event source mapping reads is fixed when `chalice deploy`
# or `chalice package` imports this file (reading the environment is not I/O).
WORKER_QUEUE = os.environ.get("QUEUE_NAME", "fifo-gate-dev.fifo")

# botocore's standard retry mode absorbs throttling and 5xx answers; a send it
# retries carries the same deduplication id, so SQS keeps one copy.
# https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
# 4 retries, 5 attempts in all (botocore rewrites max_attempts as total_max_attempts=5).
SQS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=10)

_CACHE = {}
_LOCK = threading.RLock()  # getters nest (the producer builds the queue)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="tick")
def tick(event):
    """Every minute: queue a run if the overlap policy allows (``disabled`` when SCHEDULE_ENABLED is off)."""
    settings = _settings()
    if not settings.schedule_enabled:
        return producer.disabled("schedule", settings.overlap_policy)
    request = triggers.from_schedule(event.to_dict(), event.context.aws_request_id)
    return _producer().submit(request)


@app.lambda_function(name="enqueue")
def enqueue(event, context):
    """The state machine's task: any JSON object in, a decision out; bad input raises."""
    request = triggers.from_state_machine(event, context.aws_request_id)
    return _producer().submit(request)


@app.on_sqs_message(queue=WORKER_QUEUE, batch_size=1, name="worker")
def worker(event):
    """Run the job for the one message in the batch; raise to leave it for a retry."""
    remaining = event.context.get_remaining_time_in_millis() / 1000.0
    for record in event:
        _worker().process(Delivery.from_record(record.to_dict()), remaining)


@app.route("/status", methods=["GET"], authorizer=iam)
def status():
    """Policy, schedule switch, live queue counts and dead-letter depth."""
    settings = _settings()
    if not settings.dlq_name:
        return Response({"error": "DLQ_NAME must be set for GET /status: the name of the "
                                  "dead-letter queue"}, status_code=500)
    return {
        "policy": settings.overlap_policy,
        "schedule_enabled": settings.schedule_enabled,
        "queue": _queue().counts().to_dict(),
        "dead_letters": _dead_letter_queue().depth(),
    }


@app.route("/runs", methods=["POST"], authorizer=iam, content_types=["application/json", "text/plain"])
def runs():
    """Ask for a run: optional ``{"force": bool, "payload": {...}}``; answers with the decision."""
    request = app.current_request
    try:
        raw = request.raw_body
        body = loads_strict(raw) if raw and raw.strip() else None
    except (ValueError, RecursionError) as exc:
        return Response({"error": "request body is not valid JSON: %s" % (str(exc) or type(exc).__name__)},
                        status_code=400)
    try:
        # API Gateway's request id; chalice local has none, so fall back to Lambda's.
        request_id = request.context.get("requestId") or app.lambda_context.aws_request_id
        run_request = triggers.from_api(body, request_id, request.headers.get("idempotency-key"))
        return _producer().submit(run_request)
    except InputError as exc:
        return Response({"error": str(exc)}, status_code=400)


def _settings():
    if "settings" not in _CACHE:
        with _LOCK:
            if "settings" not in _CACHE:
                settings = Settings.from_env(app_name=app.app_name)
                logs.get_logger().setLevel(settings.log_level)
                _CACHE["settings"] = settings
    return _CACHE["settings"]


def _cached(name, build):
    if name not in _CACHE:
        with _LOCK:
            if name not in _CACHE:
                _CACHE[name] = build()
    return _CACHE[name]


def _sqs():
    return _cached("sqs", lambda: boto3.client("sqs", config=SQS_CONFIG))


def _queue():
    settings = _settings()
    return _cached("queue", lambda: GateQueue(_sqs(), name=settings.queue_name, url=settings.queue_url))


def _dead_letter_queue():
    settings = _settings()
    if not settings.dlq_name:
        return None
    return _cached("dlq", lambda: GateQueue(_sqs(), name=settings.dlq_name))


def _producer():
    settings = _settings()
    return _cached("producer", lambda: producer.Producer(
        _queue(), settings.overlap_policy, settings.message_group_id))


def _worker():
    settings = _settings()
    return _cached("worker", lambda: Worker(
        _queue(), HttpJob(settings.require_long_api_url(), settings.long_api_method),
        long_api_timeout_seconds=settings.long_api_timeout_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        retry_backoff_seconds=settings.retry_backoff_seconds,
        dead_letter_queue=_dead_letter_queue(),
    ))
