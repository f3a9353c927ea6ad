"""Structured logging: one JSON object per line, queryable in CloudWatch Logs Insights.

Logs Insights discovers the fields of a log event that is a JSON object, so
every line this module writes is exactly one JSON object, with the same field
names as the decision JSON (``decision``, ``reason``, ``policy``, ``trigger``,
``counts``, ``run_id``, ``duration_seconds``, ``http_status``, ...). Example query::

    fields @timestamp, event, decision, reason, run_id, duration_seconds
    | filter event = "run_finished" and outcome = "failed"

See https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html
"""
import datetime
import json
import logging
import sys

LOGGER_NAME = "fifo_gate"


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: time, level, event name and its fields."""

    def format(self, record):
        line = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time of each line (so redirections apply)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def get_logger():
    """Return the package logger, configured on first use to write JSON lines to stdout.

    Returns:
        logging.Logger: the ``fifo_gate`` logger (propagation off, so Lambda's
        own root handler does not print each line a second time).
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        configure()
    return logger


def configure(stream=None, level="INFO"):
    """(Re)configure the package logger.

    Args:
        stream (file-like | None): where lines go; ``None`` means ``sys.stdout``
            (what Lambda sends to CloudWatch Logs). The local runtime passes
            ``sys.stderr`` so its timeline stays readable.
        level (str): a logging level name, e.g. ``"INFO"``.
    """
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = _StdoutHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def log_event(event, level=logging.INFO, exc_info=None, **fields):
    """Write one structured line.

    Args:
        event (str): what happened, e.g. ``"decision"``, ``"run_finished"``.
        level (int): a ``logging`` level.
        exc_info: passed to ``logging`` to include a traceback.
        **fields: JSON-serialisable fields added to the line.
    """
    get_logger().log(level, event, extra={"fields": fields}, exc_info=exc_info)
