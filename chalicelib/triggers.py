"""What a trigger asks for, and the deduplication id that makes re-deliveries harmless.

Three triggers feed the gate: the schedule (``tick``), the state machine
(``enqueue``) and the API (``POST /runs``). Each becomes a ``RunRequest``; its
``dedup_id`` is the FIFO ``MessageDeduplicationId``, derived in this order:

1. a ``time`` gives the slot, the scheduled minute (``slot:2026-11-29T15:14Z``),
   so the schedule and the state machine firing for one minute, and any
   re-delivery of either (EventBridge is at-least-once), collapse into one message;
2. else the state machine's ``execution`` name (a retried task collapses);
3. else the ``Idempotency-Key`` header of ``POST /runs``, else the request id
   (Lambda keeps ``aws_request_id`` across its own retries).

``force`` prefixes ``force:``: a deliberate extra run is not swallowed by the
ordinary run of the same slot, yet a retried forced request still collapses.
Never a constant and never random: SQS drops a re-used id for 5 minutes.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagededuplicationid-property.html
"""
import dataclasses
import datetime
import hashlib
import re

from chalicelib.errors import InputError

# MessageDeduplicationId: up to 128 characters, alphanumerics and punctuation.
_DEDUP_SAFE = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")
ENQUEUE_KEYS = ("time", "execution", "force", "payload")


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """A validated request for a run.

    Attributes:
        trigger (str): ``schedule``, ``state_machine`` or ``api``.
        time (datetime | None): aware scheduled time, when the trigger had one.
        execution (str | None): state machine execution name.
        idempotency_key (str | None): client key (``POST /runs``).
        request_id (str): Lambda or API Gateway request id, the last resort.
        force (bool): queue even when the overlap policy would skip.
        payload (dict): JSON object handed to the job.
    """

    trigger: str
    request_id: str
    time: datetime.datetime = None
    execution: str = None
    idempotency_key: str = None
    force: bool = False
    payload: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not self.request_id:
            # An empty id would make every request share one deduplication id,
            # and SQS would silently drop all but the first for 5 minutes.
            raise ValueError("RunRequest needs a non-empty request_id")

    @property
    def slot(self):
        """The scheduled minute as ``YYYY-MM-DDTHH:MMZ``, or ``None`` without a time."""
        if self.time is None:
            return None
        return self.time.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")

    @property
    def dedup_id(self):
        """The FIFO deduplication id (str, at most 128 characters); see the module docstring."""
        if self.slot is not None:
            base = "slot:" + self.slot
        elif self.execution is not None:
            base = _safe("exec:", self.execution)
        elif self.idempotency_key is not None:
            base = _safe("key:", self.idempotency_key)
        else:
            base = _safe("req:", self.request_id)
        return _safe("force:", base) if self.force else base


def from_schedule(event, request_id):
    """Build the request of a ``tick`` from an EventBridge scheduled event.

    Args:
        event (dict): the event (``time`` is ISO-8601 UTC, e.g. ``2026-11-29T15:14:00Z``).
        request_id (str): the Lambda request id.

    Returns:
        RunRequest with trigger ``schedule``.

    Raises:
        InputError: ``time`` is present but not a timestamp.
    """
    return RunRequest("schedule", request_id, time=_time(event.get("time")))


def from_state_machine(event, request_id):
    """Build the request of an ``enqueue`` invocation (the state machine's task).

    Args:
        event: the task input; must be a JSON object, ``{}`` included. Optional keys:
            ``time`` (ISO-8601 str), ``execution`` (str), ``force`` (bool), ``payload`` (object).
            Other keys are ignored (Step Functions may pass more).
        request_id (str): the Lambda request id.

    Returns:
        RunRequest with trigger ``state_machine``.

    Raises:
        InputError: not an object, or a key of the wrong type; the message names it.
    """
    if not isinstance(event, dict):
        raise InputError(
            "enqueue input must be a JSON object such as {} or {\"force\": true}, got %s"
            % _json_type(event)
        )
    execution = event.get("execution")
    if execution is not None and (not isinstance(execution, str) or not execution):
        raise InputError("'execution' must be a non-empty string (the execution name), got %s"
                         % ("an empty string" if execution == "" else _json_type(execution)), "execution")
    return RunRequest(
        "state_machine",
        request_id,
        time=_time(event.get("time")),
        execution=execution,
        force=_force(event.get("force")),
        payload=_payload(event.get("payload")),
    )


def from_api(body, request_id, idempotency_key=None):
    """Build the request of ``POST /runs``.

    Args:
        body: the parsed JSON body, ``None`` for an empty body; optional keys
            ``force`` (bool) and ``payload`` (object).
        request_id (str): API Gateway's request id.
        idempotency_key (str | None): the ``Idempotency-Key`` header.

    Returns:
        RunRequest with trigger ``api``.

    Raises:
        InputError: not an object, an unknown key, or a key of the wrong type.
    """
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise InputError("request body must be a JSON object such as {\"force\": true}, got %s"
                         % _json_type(body))
    unknown = sorted(set(body) - {"force", "payload"})
    if unknown:
        raise InputError("unknown field(s) %s; allowed: force, payload" % ", ".join(map(repr, unknown)), unknown[0])
    if idempotency_key is not None and not idempotency_key.strip():
        raise InputError("Idempotency-Key header is empty", "Idempotency-Key")
    return RunRequest(
        "api",
        request_id,
        idempotency_key=idempotency_key,
        force=_force(body.get("force")),
        payload=_payload(body.get("payload")),
    )


def _time(value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError("'time' must be an ISO-8601 timestamp string such as 2026-11-29T15:14:00Z, got %s"
                         % _json_type(value), "time")
    try:
        moment = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError("'time' is not an ISO-8601 timestamp: %r (expected e.g. 2026-11-29T15:14:00Z)"
                         % value[:64], "time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    try:
        moment.astimezone(datetime.timezone.utc)
    except OverflowError:
        raise InputError("'time' is out of range: %r" % value[:64], "time") from None
    return moment


def _force(value):
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InputError("'force' must be true or false, got %s" % _json_type(value), "force")
    return value


def _payload(value):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError("'payload' must be a JSON object, got %s" % _json_type(value), "payload")
    return value


def _safe(prefix, value):
    """``prefix + value`` if SQS accepts it as an id, else ``prefix + sha256(value)``."""
    candidate = prefix + value
    if _DEDUP_SAFE.match(candidate):
        return candidate
    return prefix + "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def _json_type(value):
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
