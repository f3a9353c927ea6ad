"""Settings from the environment: defaults, and one clear error per bad value."""
import pytest

from chalicelib.config import Settings
from chalicelib.errors import ConfigError

BASE = {"QUEUE_NAME": "fifo-gate-dev.fifo"}


def settings(**overrides):
    env = dict(BASE)
    env.update(overrides)
    return Settings.from_env({k: v for k, v in env.items() if v is not None})


def test_defaults():
    s = settings()
    assert s.queue_name == "fifo-gate-dev.fifo"
    assert s.overlap_policy == "skip"
    assert s.schedule_enabled is True
    assert s.message_group_id == "fifo-gate"
    assert s.long_api_method == "POST"
    assert s.retry_backoff_seconds == 30
    assert s.long_api_timeout_seconds is None and s.heartbeat_seconds is None
    assert s.log_level == "INFO"


@pytest.mark.parametrize("raw,expected", [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Yes", True),
    ("false", False), ("False", False), ("0", False), ("no", False), ("NO", False),
])
def test_schedule_enabled_accepts_the_usual_spellings(raw, expected):
    assert settings(SCHEDULE_ENABLED=raw).schedule_enabled is expected


def test_values_are_normalised():
    s = settings(OVERLAP_POLICY="Buffer_One", LONG_API_METHOD="get", LOG_LEVEL="debug",
                 LONG_API_TIMEOUT_SECONDS="12.5", HEARTBEAT_SECONDS="1.5", RETRY_BACKOFF_SECONDS="0")
    assert (s.overlap_policy, s.long_api_method, s.log_level) == ("buffer_one", "GET", "DEBUG")
    assert (s.long_api_timeout_seconds, s.heartbeat_seconds, s.retry_backoff_seconds) == (12.5, 1.5, 0)


def test_queue_url_alone_is_enough():
    s = Settings.from_env({"QUEUE_URL": "http://127.0.0.1:5000/123456789012/q.fifo"})
    assert s.queue_url.endswith("q.fifo") and s.queue_name is None


@pytest.mark.parametrize("env,message", [
    ({"QUEUE_NAME": None}, r"QUEUE_NAME or QUEUE_URL must be set"),
    ({"QUEUE_NAME": "plain-queue"}, r"QUEUE_NAME='plain-queue' is not a FIFO queue name.*\.fifo"),
    ({"QUEUE_NAME": None, "QUEUE_URL": "not a url"}, r"QUEUE_URL='not a url' is not an http\(s\) URL"),
    ({"QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q"}, r"QUEUE_URL=.* is not a FIFO queue"),
    ({"OVERLAP_POLICY": "sometimes"}, r"OVERLAP_POLICY='sometimes' is not allowed; use one of: skip, buffer_one, buffer_all, allow_all"),
    ({"SCHEDULE_ENABLED": "maybe"}, r"SCHEDULE_ENABLED='maybe' is not a boolean; use one of: true, 1, yes"),
    ({"LONG_API_URL": "ftp://example.com/x"}, r"LONG_API_URL='ftp://example.com/x' is not an http\(s\) URL"),
    ({"LONG_API_METHOD": "FETCH"}, r"LONG_API_METHOD='FETCH' is not allowed; use one of: GET, POST"),
    ({"LONG_API_TIMEOUT_SECONDS": "abc"}, r"LONG_API_TIMEOUT_SECONDS='abc' is not a number of seconds"),
    ({"LONG_API_TIMEOUT_SECONDS": "0"}, r"LONG_API_TIMEOUT_SECONDS='0' is not a number of seconds; use a number greater than 0"),
    ({"LONG_API_TIMEOUT_SECONDS": "901"}, r"at most 900"),
    ({"HEARTBEAT_SECONDS": "-1"}, r"HEARTBEAT_SECONDS='-1' is not a number of seconds"),
    ({"HEARTBEAT_SECONDS": "1e-9"}, r"HEARTBEAT_SECONDS='1e-9' is not a number of seconds; use a number from 1.0"),
    ({"LONG_API_TIMEOUT_SECONDS": "nan"}, r"LONG_API_TIMEOUT_SECONDS='nan' is not a number of seconds"),
    ({"RETRY_BACKOFF_SECONDS": "\u00b2"}, r"RETRY_BACKOFF_SECONDS='\u00b2' is not a whole number of seconds"),
    ({"LONG_API_URL": "http://h:99999/x"}, r"LONG_API_URL='http://h:99999/x' is not an http\(s\) URL"),
    ({"LONG_API_URL": "http://exa mple.com/x"}, r"LONG_API_URL='http://exa mple.com/x' is not an http\(s\) URL"),
    ({"MESSAGE_GROUP_ID": "my group"}, r"MESSAGE_GROUP_ID='my group' has characters SQS does not allow"),
    ({"RETRY_BACKOFF_SECONDS": "1.5"}, r"RETRY_BACKOFF_SECONDS='1.5' is not a whole number of seconds"),
    ({"RETRY_BACKOFF_SECONDS": "50000"}, r"RETRY_BACKOFF_SECONDS='50000'.*from 0 to 43200"),
    ({"LOG_LEVEL": "LOUD"}, r"LOG_LEVEL='LOUD' is not allowed; use one of: DEBUG, INFO"),
    ({"MESSAGE_GROUP_ID": "g" * 129}, r"MESSAGE_GROUP_ID is 129 characters long; SQS allows at most 128"),
])
def test_bad_values_name_the_variable_and_the_allowed_values(env, message):
    with pytest.raises(ConfigError, match=message):
        settings(**env)


def test_worker_needs_long_api_url():
    with pytest.raises(ConfigError, match="LONG_API_URL must be set for the worker"):
        settings().require_long_api_url()
