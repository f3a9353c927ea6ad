"""The worker's lifecycle for one received message.

parse -> heartbeat on -> job with a total deadline -> heartbeat off -> on
success return (Lambda deletes the message); on failure shorten the message's
visibility to a retry back-off and raise, so SQS retries it and redrive still
counts the receive. A body that can never be processed (``PoisonMessage``) is
parked in the dead-letter queue without running the job.

AWS behaviour relied on:

* a received message stays invisible for the visibility timeout, and
  ChangeMessageVisibility resets that clock from now:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
* Lambda deletes the batch when the handler returns and leaves it when it
  raises: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
* after ``maxReceiveCount`` receives the redrive policy moves the message to
  the dead-letter queue:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
"""
import dataclasses
import logging
import threading
import time

from chalicelib.errors import ConfigError, JobTimeout, PoisonMessage
from chalicelib.logs import log_event
from chalicelib.messages import RunMessage

# Time kept back from the invocation's remaining time for the back-off call and
# the return: the smaller of 10 s and 10 % of what remains (so scaled-down local
# clocks keep most of their time).
_MARGIN_SECONDS = 10.0
# How long the end of a run waits for a heartbeat call in progress, seconds.
JOIN_TIMEOUT_SECONDS = 1.0
_MARGIN_FRACTION = 0.1


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One received message, as the worker needs it.

    Attributes:
        message_id (str): SQS ``MessageId``.
        receipt_handle (str): handle of this receive.
        body (str): message body.
        receive_count (int): ``ApproximateReceiveCount`` (1 on the first receive).
        group_id (str | None): ``MessageGroupId``.
    """

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int = 1
    group_id: str = None

    @classmethod
    def from_record(cls, record):
        """Build from one record of a Lambda SQS event (a dict, as in ``event["Records"]``)."""
        attributes = record.get("attributes") or {}
        return cls(
            message_id=record["messageId"],
            receipt_handle=record["receiptHandle"],
            body=record["body"],
            receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
            group_id=attributes.get("MessageGroupId"),
        )


class Heartbeat:
    """Keeps one received message invisible while its run is alive.

    Every ``interval`` seconds it sets the message's visibility timeout to
    ``extend_to`` seconds from now, so the message never reappears mid-run, even
    when the run outlasts the queue's visibility timeout. If the process dies
    the beats stop and the message reappears after at most ``extend_to`` seconds.

    Args:
        queue (GateQueue): the queue the message came from.
        receipt_handle (str): handle of the receive.
        interval (float): seconds between beats; must be below ``extend_to``.
        extend_to (int): visibility timeout set at each beat, seconds.
    """

    def __init__(self, queue, receipt_handle, interval, extend_to):
        self._queue = queue
        self._receipt_handle = receipt_handle
        self._interval = interval
        self._extend_to = extend_to
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self.beats = 0

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        # Do not wait out a beat that botocore is still retrying: the run is over,
        # and Lambda must get the handler's answer (and delete the message) before
        # its own timeout. A beat that lands late only delays a retry.
        self._stop.set()
        self._thread.join(timeout=JOIN_TIMEOUT_SECONDS)
        return False

    def _beat(self):
        while not self._stop.wait(self._interval):
            try:
                self._queue.change_visibility(self._receipt_handle, self._extend_to)
                self.beats += 1
            except Exception as exc:  # keep beating: the next one may get through
                log_event("heartbeat_failed", logging.WARNING, error=str(exc))


class Worker:
    """Runs the job for messages of one gate queue.

    Args:
        queue (GateQueue): the gate queue.
        job (Callable[[RunMessage, float], JobResult]): runs one job with a total
            deadline in seconds; raises on failure (see ``chalicelib.job``).
        long_api_timeout_seconds (float | None): the job's deadline; ``None``
            derives it from the invocation's remaining time.
        heartbeat_seconds (float | None): beat interval; ``None`` means a third of
            the queue's visibility timeout.
        retry_backoff_seconds (int): visibility after the first failure; doubles
            with each receive, capped at the queue's visibility timeout. A call cut
            at its deadline (``JobTimeout``) waits the whole visibility timeout.
        dead_letter_queue (GateQueue | None): where poison messages are parked;
            without one they fail until redrive moves them.
    """

    def __init__(self, queue, job, long_api_timeout_seconds=None, heartbeat_seconds=None,
                 retry_backoff_seconds=30, dead_letter_queue=None):
        self._queue = queue
        self._job = job
        self._timeout = long_api_timeout_seconds
        self._heartbeat = heartbeat_seconds
        self._backoff = retry_backoff_seconds
        self._dlq = dead_letter_queue

    def process(self, delivery, remaining_seconds):
        """Run the job for one delivery.

        Args:
            delivery (Delivery): the received message.
            remaining_seconds (float): time left in this invocation.

        Returns:
            dict: ``{"outcome": "succeeded", "run_id", "duration_seconds",
            "http_status"}`` or ``{"outcome": "dead_lettered", "reason"}``.

        Raises:
            Exception: whatever the job raised (``JobError``...), after the
                message's visibility was set to the retry back-off.
            PoisonMessage: a bad body and no dead-letter queue to park it in.
            ConfigError: the heartbeat would not keep the message invisible.
        """
        try:
            message = RunMessage.parse(delivery.body)
        except PoisonMessage as exc:
            return self._poison(delivery, exc)
        visibility = self._queue.visibility_timeout()
        interval = self._heartbeat or visibility / 3.0
        if interval >= visibility:
            raise ConfigError(
                "HEARTBEAT_SECONDS=%s is not below the queue's visibility timeout (%d s): "
                "the message would reappear mid-run" % (interval, visibility)
            )
        timeout = self._deadline(remaining_seconds)
        log_event("run_started", run_id=message.run_id, trigger=message.trigger, slot=message.slot,
                  message_id=delivery.message_id, receive_count=delivery.receive_count,
                  timeout_seconds=round(timeout, 3), heartbeat_seconds=round(interval, 3))
        started = time.monotonic()
        try:
            with Heartbeat(self._queue, delivery.receipt_handle, interval, visibility):
                result = self._job(message, timeout)
        except Exception as exc:
            self._fail(delivery, message, exc, time.monotonic() - started, visibility)
            raise
        log_event("run_finished", run_id=message.run_id, outcome="succeeded",
                  duration_seconds=round(result.duration_seconds, 3), http_status=result.status,
                  receive_count=delivery.receive_count)
        return {"outcome": "succeeded", "run_id": message.run_id,
                "duration_seconds": result.duration_seconds, "http_status": result.status}

    def retry_backoff(self, receive_count, visibility):
        """Seconds before a failed message is retried: ``backoff * 2**(receive_count-1)``, capped.

        Args:
            receive_count (int): ``ApproximateReceiveCount`` of the failed receive.
            visibility (int): the queue's visibility timeout, the cap (a failure never
                holds the gate longer than a crash would).

        Returns:
            int: seconds, 0 to ``visibility``.
        """
        exponent = min(max(receive_count - 1, 0), 16)
        return int(min(self._backoff * 2 ** exponent, visibility))

    def _deadline(self, remaining_seconds):
        margin = min(_MARGIN_SECONDS, remaining_seconds * _MARGIN_FRACTION)
        available = max(remaining_seconds - margin, 0.001)
        return min(self._timeout, available) if self._timeout else available

    def _fail(self, delivery, message, exc, duration, visibility):
        backoff = self.retry_backoff(delivery.receive_count, visibility)
        if isinstance(exc, JobTimeout):
            # The API may still be working on the call we cut: give it the longest
            # wait (the visibility timeout) before the retry starts a second one.
            backoff = visibility
        try:
            self._queue.change_visibility(delivery.receipt_handle, backoff)
        except Exception as change_error:  # the message still reappears after its visibility timeout
            log_event("backoff_failed", logging.WARNING, run_id=message.run_id, error=str(change_error))
            backoff = None
        log_event("run_finished", logging.ERROR, run_id=message.run_id, outcome="failed",
                  duration_seconds=round(getattr(exc, "duration_seconds", None) or duration, 3),
                  http_status=getattr(exc, "status", None), error="%s: %s" % (type(exc).__name__, exc),
                  receive_count=delivery.receive_count, retry_in_seconds=backoff)

    def _poison(self, delivery, exc):
        fields = {"message_id": delivery.message_id, "reason": str(exc),
                  "receive_count": delivery.receive_count}
        if self._dlq is None:
            log_event("poison_message", logging.ERROR, action="failing until redrive moves it", **fields)
            self._queue.change_visibility(delivery.receipt_handle, 0)
            raise exc
        self._dlq.send(delivery.body, delivery.group_id or "poison", "poison:" + delivery.message_id,
                       attributes={"reason": str(exc)[:256], "source_message_id": delivery.message_id})
        log_event("poison_message", logging.ERROR, action="moved to the dead-letter queue", **fields)
        return {"outcome": "dead_lettered", "reason": str(exc)}
