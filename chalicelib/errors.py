"""Exceptions a caller can act on, one class per kind of failure.

Every message names the thing that is wrong (the variable, the field, the
reason a body was rejected), so one log line is enough to fix it.
"""


class FifoGateError(Exception):
    """Base class of every error fifo-gate raises on purpose."""


class ConfigError(FifoGateError):
    """An environment variable is missing or invalid.

    Raised on the first invocation in a container (never at import). The
    message names the variable and the values it accepts.
    """


class InputError(FifoGateError, ValueError):
    """A trigger's input is not what the contract allows.

    Raised before anything is sent to the queue. ``field`` names the offending
    key (``None`` when the input as a whole is wrong, e.g. not a JSON object).
    """

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


class PoisonMessage(FifoGateError):
    """A queue message body that can never be processed (bad JSON, unknown schema version).

    The worker never runs the job for it; the message goes to the dead-letter
    queue instead of being retried forever.
    """


class JobError(FifoGateError):
    """The long call failed: connection error, non-2xx answer, or deadline passed.

    Attributes:
        status (int | None): HTTP status of the answer, ``None`` when there was none.
        duration_seconds (float): time spent on the call before it failed.
    """

    def __init__(self, message, status=None, duration_seconds=0.0):
        super().__init__(message)
        self.status = status
        self.duration_seconds = duration_seconds


class JobTimeout(JobError):
    """The long call did not finish within its total deadline and was cut."""
