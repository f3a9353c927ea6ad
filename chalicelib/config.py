"""Settings from environment variables, validated once per container.

``Settings.from_env()`` is called on the first invocation in a container (never
at import: ``chalice package`` and test collection import ``app.py`` too) and
the result is cached by ``app.py``. Every invalid value raises ``ConfigError``
with a message that names the variable and what it accepts.
"""
import dataclasses
import os
import re
import urllib.parse

from chalicelib.errors import ConfigError
from chalicelib.gate import POLICIES

DEFAULT_APP_NAME = "fifo-gate"
DEFAULT_RETRY_BACKOFF_SECONDS = 30
# SQS caps a message's visibility timeout at 12 hours:
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
MAX_VISIBILITY_SECONDS = 43200
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = ("true", "1", "yes", "on")
# SQS MessageGroupId: 1-128 alphanumerics and punctuation.
_GROUP_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")
_DIGITS = re.compile(r"^[0-9]+$")
# A heartbeat is a ChangeMessageVisibility call: more often than every second
# only costs requests (and invites throttling).
MIN_HEARTBEAT_SECONDS = 1.0
_FALSE = ("false", "0", "no", "off")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Validated configuration of one container.

    Attributes:
        queue_name (str | None): ``QUEUE_NAME``, the FIFO queue's name (ends in ``.fifo``).
        queue_url (str | None): ``QUEUE_URL``; when set it wins and saves a GetQueueUrl call.
        dlq_name (str | None): ``DLQ_NAME``, the dead-letter queue (for ``GET /status``
            and for parking poison messages).
        message_group_id (str): ``MESSAGE_GROUP_ID``, default the app name.
        overlap_policy (str): ``OVERLAP_POLICY``, one of ``skip``, ``buffer_one``,
            ``buffer_all``, ``allow_all``; default ``skip``.
        schedule_enabled (bool): ``SCHEDULE_ENABLED``; gates ``tick`` only.
        long_api_url (str | None): ``LONG_API_URL``; required by the worker only.
        long_api_method (str): ``LONG_API_METHOD``, default ``POST``.
        long_api_timeout_seconds (float | None): ``LONG_API_TIMEOUT_SECONDS``, total
            deadline of the long call; ``None`` derives it from the invocation's
            remaining time.
        heartbeat_seconds (float | None): ``HEARTBEAT_SECONDS``; ``None`` means a third
            of the queue's visibility timeout.
        retry_backoff_seconds (int): ``RETRY_BACKOFF_SECONDS``, first retry delay
            after a failed run (doubles per receive, capped), default 30.
        log_level (str): ``LOG_LEVEL``, default ``INFO``.
    """

    queue_name: str = None
    queue_url: str = None
    dlq_name: str = None
    message_group_id: str = DEFAULT_APP_NAME
    overlap_policy: str = "skip"
    schedule_enabled: bool = True
    long_api_url: str = None
    long_api_method: str = "POST"
    long_api_timeout_seconds: float = None
    heartbeat_seconds: float = None
    retry_backoff_seconds: int = DEFAULT_RETRY_BACKOFF_SECONDS
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ=None, app_name=DEFAULT_APP_NAME):
        """Read and validate the settings.

        Args:
            environ (Mapping[str, str] | None): defaults to ``os.environ``.
            app_name (str): default message group id.

        Returns:
            Settings

        Raises:
            ConfigError: a variable is missing or invalid; the message names it
                and the values it accepts.
        """
        env = os.environ if environ is None else environ
        queue_name = _text(env, "QUEUE_NAME")
        queue_url = _text(env, "QUEUE_URL")
        if not queue_name and not queue_url:
            raise ConfigError(
                "QUEUE_NAME or QUEUE_URL must be set: the name (ending in .fifo) "
                "or URL of the FIFO queue that gates the runs"
            )
        if queue_name and not queue_name.endswith(".fifo"):
            raise ConfigError(
                "QUEUE_NAME=%r is not a FIFO queue name: it must end in '.fifo'" % queue_name
            )
        if queue_url:
            _url(queue_url, "QUEUE_URL")
            if not queue_url.endswith(".fifo"):
                raise ConfigError(
                    "QUEUE_URL=%r is not a FIFO queue: its name must end in '.fifo'" % queue_url
                )
        group = _text(env, "MESSAGE_GROUP_ID") or app_name
        if len(group) > 128:
            raise ConfigError("MESSAGE_GROUP_ID is %d characters long; SQS allows at most 128" % len(group))
        if not _GROUP_ID.match(group):
            raise ConfigError("MESSAGE_GROUP_ID=%r has characters SQS does not allow; use letters, digits "
                              "and punctuation" % group)
        long_api_url = _text(env, "LONG_API_URL")
        if long_api_url:
            _url(long_api_url, "LONG_API_URL")
        return cls(
            queue_name=queue_name,
            queue_url=queue_url,
            dlq_name=_text(env, "DLQ_NAME"),
            message_group_id=group,
            overlap_policy=_choice(env, "OVERLAP_POLICY", POLICIES, "skip", str.lower),
            schedule_enabled=_bool(env, "SCHEDULE_ENABLED", True),
            long_api_url=long_api_url,
            long_api_method=_choice(env, "LONG_API_METHOD", HTTP_METHODS, "POST", str.upper),
            long_api_timeout_seconds=_seconds(env, "LONG_API_TIMEOUT_SECONDS", None, 900),
            heartbeat_seconds=_seconds(env, "HEARTBEAT_SECONDS", None, MAX_VISIBILITY_SECONDS,
                                       minimum=MIN_HEARTBEAT_SECONDS),
            retry_backoff_seconds=_whole_seconds(
                env, "RETRY_BACKOFF_SECONDS", DEFAULT_RETRY_BACKOFF_SECONDS, MAX_VISIBILITY_SECONDS
            ),
            log_level=_choice(env, "LOG_LEVEL", LOG_LEVELS, "INFO", str.upper),
        )

    def require_long_api_url(self):
        """Return ``long_api_url``, or raise ``ConfigError`` if the worker has none."""
        if not self.long_api_url:
            raise ConfigError("LONG_API_URL must be set for the worker: the http(s) URL of the long call")
        return self.long_api_url


def _text(env, name):
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def _choice(env, name, allowed, default, normalise):
    raw = _text(env, name)
    if raw is None:
        return default
    value = normalise(raw)
    if value not in allowed:
        raise ConfigError("%s=%r is not allowed; use one of: %s" % (name, raw, ", ".join(allowed)))
    return value


def _bool(env, name, default):
    raw = _text(env, name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(
        "%s=%r is not a boolean; use one of: %s" % (name, raw, ", ".join(_TRUE + _FALSE))
    )


def _seconds(env, name, default, maximum, minimum=None):
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = None
    low_ok = value is not None and (value >= minimum if minimum else value > 0)
    if not low_ok or not value <= maximum:
        raise ConfigError(
            "%s=%r is not a number of seconds; use a number %s and at most %s"
            % (name, raw, "from %s" % minimum if minimum else "greater than 0", maximum)
        )
    return value


def _whole_seconds(env, name, default, maximum):
    raw = _text(env, name)
    if raw is None:
        return default
    if not _DIGITS.match(raw) or not 0 <= int(raw) <= maximum:
        raise ConfigError(
            "%s=%r is not a whole number of seconds; use an integer from 0 to %d (SQS visibility "
            "timeouts are whole seconds)" % (name, raw, maximum)
        )
    return int(raw)


def _url(value, name):
    try:
        parsed = urllib.parse.urlsplit(value)
        parsed.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname or re.search(r"\s", value):
        raise ConfigError("%s=%r is not an http(s) URL" % (name, value))
