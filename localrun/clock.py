"""The deployed stage's timing, scaled to the local clock, and the scaled clock itself.

Two kinds of seconds appear in ``localrun``:

* **simulated seconds**: the deployed stage's time (a tick every 60 s, a job of
  40-120 s). Everything the user reads (timeline, summary) is in these.
* **real seconds**: wall-clock time on this machine. simulated = real x speed.

SQS only takes whole seconds for its timers (visibility timeout, delays), so the
speed is capped to keep the shortest scaled SQS timer at >= 1 real second.
"""
import dataclasses
import datetime
import time

# --- Deployed properties (simulated seconds). These mirror the deployed stage:
# the schedule in app.py, .chalice/config.json and the queues in infra/.
# Keep them in step with those when the stage changes.
TICK_INTERVAL_S = 60  # @app.schedule(Rate(1, unit=MINUTES))
TICK_TIMEOUT_S = 30  # the tick function's lambda_timeout in .chalice/config.json
WORKER_TIMEOUT_S = 300  # worker Lambda timeout
LONG_API_MARGIN_S = 30  # LONG_API_TIMEOUT_SECONDS = worker timeout - this margin
VISIBILITY_TIMEOUT_S = 360  # main queue VisibilityTimeout (>= worker timeout + margin)
MAX_RECEIVE_COUNT = 5  # RedrivePolicy maxReceiveCount (a count, not scaled)
RETRY_BACKOFF_S = 60  # RETRY_BACKOFF_SECONDS default for localrun: one tick
MESSAGE_RETENTION_S = 4 * 24 * 3600  # MessageRetentionPeriod: 4 days
QUEUE_NAME = "fifo-gate-local.fifo"
DLQ_NAME = "fifo-gate-local-dlq.fifo"

# SQS accepts MessageRetentionPeriod between 60 s and 14 days (real seconds).
_RETENTION_MIN_S, _RETENTION_MAX_S = 60, 14 * 24 * 3600


@dataclasses.dataclass(frozen=True)
class Scale:
    """The deployed timing divided by ``speed``: every ``*_real_s`` field is in real seconds.

    Build it with :func:`scale`, which also caps the speed.
    """

    speed: float  # simulated seconds per real second, after the cap
    requested_speed: float  # what the user asked for
    tick_interval_real_s: float
    tick_timeout_real_s: float
    worker_timeout_real_s: float
    long_api_timeout_real_s: float
    visibility_timeout_real_s: int  # SQS: whole seconds
    retry_backoff_real_s: int  # SQS: whole seconds
    retention_real_s: int  # SQS: whole seconds, 60 s .. 14 days

    @property
    def capped(self):
        """True when ``speed`` had to be lowered from the requested speed."""
        return self.speed < self.requested_speed


def max_speed(retry_backoff_s=RETRY_BACKOFF_S):
    """The highest speed at which every scaled SQS timer stays >= 1 real second.

    Args:
        retry_backoff_s (float): the retry back-off, in simulated seconds.
    Returns:
        float: simulated seconds per real second.
    """
    return float(min(VISIBILITY_TIMEOUT_S, retry_backoff_s))


MIN_TICK_TIMEOUT_REAL_S = 1.0


def scale(speed, retry_backoff_s=RETRY_BACKOFF_S):
    """Scale the deployed timing to ``speed``, capping it (see :func:`max_speed`).

    Args:
        speed (float): requested simulated seconds per real second (> 0).
        retry_backoff_s (float): retry back-off in simulated seconds (> 0).
    Returns:
        Scale: real-second timers for the local run.
    """
    effective = min(float(speed), max_speed(retry_backoff_s))

    def whole(simulated_s):
        return max(1, round(simulated_s / effective))

    return Scale(
        speed=effective,
        requested_speed=float(speed),
        tick_interval_real_s=TICK_INTERVAL_S / effective,
        # moto is slower than SQS (its queue operations grow with the backlog), so an
        # emulated tick gets at least one real second before it counts as timed out.
        tick_timeout_real_s=max(MIN_TICK_TIMEOUT_REAL_S, TICK_TIMEOUT_S / effective),
        worker_timeout_real_s=WORKER_TIMEOUT_S / effective,
        long_api_timeout_real_s=(WORKER_TIMEOUT_S - LONG_API_MARGIN_S) / effective,
        visibility_timeout_real_s=whole(VISIBILITY_TIMEOUT_S),
        retry_backoff_real_s=whole(retry_backoff_s),
        retention_real_s=min(_RETENTION_MAX_S, max(_RETENTION_MIN_S, whole(MESSAGE_RETENTION_S))),
    )


class SimClock:
    """A clock running ``speed`` times faster than real time, started at construction.

    ``start`` is the simulated wall-clock start: the current real UTC minute, so
    schedule events carry plausible, minute-aligned times.
    """

    def __init__(self, speed):
        self.speed = float(speed)
        self._t0 = time.monotonic()
        now = datetime.datetime.now(datetime.timezone.utc)
        self.start = now.replace(second=0, microsecond=0)

    def now(self):
        """Simulated seconds elapsed since the start (float)."""
        return (time.monotonic() - self._t0) * self.speed

    def to_sim(self, monotonic_s):
        """Convert a ``time.monotonic()`` reading (real seconds) to simulated seconds since the start."""
        return (monotonic_s - self._t0) * self.speed

    def sleep_until(self, simulated_s):
        """Sleep until the simulated time ``simulated_s`` (no-op if it has passed)."""
        delay = self._t0 + simulated_s / self.speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def iso(self, simulated_s):
        """The simulated wall-clock time ``simulated_s`` after the start, ISO-8601 UTC with ``Z``."""
        moment = self.start + datetime.timedelta(seconds=simulated_s)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hms(simulated_s):
    """Format simulated seconds as ``HH:MM:SS`` for the timeline."""
    total = int(simulated_s)
    return "%02d:%02d:%02d" % (total // 3600, total % 3600 // 60, total % 60)
