"""The queue message body: one run, versioned JSON.

Body (version 1)::

    {"version": 1, "run_id": "<uuid4 hex>", "trigger": "schedule"|"state_machine"|"api",
     "slot": "2026-11-29T15:14Z" | null, "requested_at": "2026-11-29T15:14:03.120Z",
     "payload": {...}}

A body that does not parse into this schema is a poison message
(``PoisonMessage``): the worker never runs the job for it.
"""
import dataclasses
import datetime
import json
import math
import uuid

from chalicelib.errors import PoisonMessage

VERSION = 1
TRIGGERS = ("schedule", "state_machine", "api")
# SQS's largest message body; a bigger send fails with InvalidParameterValue.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
MAX_BODY_BYTES = 262144


def _reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def _finite_float(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError("number %s is out of range" % text[:32])
    return value


def loads_strict(text):
    """``json.loads`` that refuses ``NaN`` and ``Infinity`` (not JSON, and not what the API would accept).

    Raises:
        ValueError: not JSON, or a non-finite number.
        RecursionError: nested too deeply for the parser.
    """
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def utc_iso(moment):
    """Format an aware ``datetime`` as ISO-8601 UTC with ``Z`` and milliseconds."""
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class RunMessage:
    """One requested run, as carried in the queue.

    Attributes:
        run_id (str): uuid4 hex naming the run (logs, ``X-Run-Id`` header).
        trigger (str): one of ``TRIGGERS``.
        slot (str | None): the scheduled minute, ``YYYY-MM-DDTHH:MMZ``, when the
            trigger had a time.
        requested_at (str): ISO-8601 UTC time the message was built.
        payload (dict): JSON object handed to the job.
        version (int): schema version, ``VERSION``.
    """

    run_id: str
    trigger: str
    slot: str
    requested_at: str
    payload: dict
    version: int = VERSION

    @classmethod
    def new(cls, trigger, slot=None, payload=None, now=None):
        """Build a message for a new run with a fresh ``run_id``.

        Args:
            trigger (str): one of ``TRIGGERS``.
            slot (str | None): scheduled minute.
            payload (dict | None): job payload, default ``{}``.
            now (datetime | None): aware time of the request, default now.
        """
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return cls(uuid.uuid4().hex, trigger, slot, utc_iso(now), dict(payload or {}))

    def to_json(self):
        """Return the body as a compact JSON string."""
        return json.dumps(
            {
                "version": self.version,
                "run_id": self.run_id,
                "trigger": self.trigger,
                "slot": self.slot,
                "requested_at": self.requested_at,
                "payload": self.payload,
            },
            separators=(",", ":"),
            sort_keys=True,
            allow_nan=False,
        )

    @classmethod
    def parse(cls, body):
        """Parse a message body.

        Args:
            body (str): the SQS message body.

        Returns:
            RunMessage

        Raises:
            PoisonMessage: not JSON, not an object, an unknown ``version``, or a
                field missing or of the wrong type; the message says which.
        """
        try:
            data = loads_strict(body)
        except (TypeError, ValueError, RecursionError) as exc:
            raise PoisonMessage("body is not JSON: %s" % (str(exc) or type(exc).__name__)) from None
        if not isinstance(data, dict):
            raise PoisonMessage("body is JSON %s, not an object" % type(data).__name__)
        version = data.get("version")
        if type(version) is not int or version != VERSION:
            raise PoisonMessage("unsupported message version %r; this worker reads version %d" % (version, VERSION))
        for field, kind in (("run_id", str), ("trigger", str), ("requested_at", str), ("payload", dict)):
            if not isinstance(data.get(field), kind):
                raise PoisonMessage("field %r is missing or not a %s" % (field, kind.__name__))
        if data["trigger"] not in TRIGGERS:
            raise PoisonMessage("field 'trigger' is %r; expected one of %s" % (data["trigger"], ", ".join(TRIGGERS)))
        slot = data.get("slot")
        if slot is not None and not isinstance(slot, str):
            raise PoisonMessage("field 'slot' is not a string or null")
        return cls(data["run_id"], data["trigger"], slot, data["requested_at"], data["payload"], version)
