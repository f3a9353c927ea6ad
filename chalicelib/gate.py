"""The gate: a pure decision whether a trigger queues a new run.

No I/O here. The **no-overlap guarantee does not come from this function**: it
comes from the FIFO message group (SQS never hands out a second message of a
group while one is in flight). The counts only decide whether to *queue* more,
according to the overlap policy, and they are approximate in real SQS:
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-counts.html
"""
import dataclasses

SKIP = "skip"
BUFFER_ONE = "buffer_one"
BUFFER_ALL = "buffer_all"
ALLOW_ALL = "allow_all"
POLICIES = (SKIP, BUFFER_ONE, BUFFER_ALL, ALLOW_ALL)


@dataclasses.dataclass(frozen=True)
class Counts:
    """Approximate message counts of the gate queue.

    Attributes:
        visible (int): queued, waiting to be received (``ApproximateNumberOfMessages``).
        in_flight (int): received and not yet deleted, i.e. a run in progress or a
            failed run waiting for its retry (``ApproximateNumberOfMessagesNotVisible``).
        delayed (int): sent with a delay not yet over (``ApproximateNumberOfMessagesDelayed``).
    """

    visible: int = 0
    in_flight: int = 0
    delayed: int = 0

    def to_dict(self):
        """Return ``{"visible": int, "in_flight": int, "delayed": int}``."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Outcome of ``decide``: ``enqueue`` (bool) and a human-readable ``reason`` (str)."""

    enqueue: bool
    reason: str


def decide(policy, counts, force=False):
    """Decide whether to queue a run.

    Args:
        policy (str): one of ``POLICIES``.
        counts (Counts): the queue's counts as last read.
        force (bool): queue regardless of the policy (the run still waits behind
            the current one in the same message group).

    Returns:
        Verdict: ``enqueue`` and ``reason``.

    Raises:
        ValueError: unknown policy.

    Example:
        >>> decide("skip", Counts(in_flight=1)).enqueue
        False
    """
    if policy not in POLICIES:
        raise ValueError("unknown overlap policy %r; use one of: %s" % (policy, ", ".join(POLICIES)))
    waiting = counts.visible + counts.delayed
    busy = "in flight %d, queued %d, delayed %d" % (counts.in_flight, counts.visible, counts.delayed)
    if force:
        return Verdict(True, "forced: queued behind any run in progress (%s)" % busy)
    if policy == SKIP:
        if waiting + counts.in_flight == 0:
            return Verdict(True, "queue empty: nothing in flight or waiting")
        return Verdict(False, "a run is in flight or waiting (%s)" % busy)
    if policy == BUFFER_ONE:
        if waiting == 0:
            return Verdict(True, "nothing waiting (%s): this run waits behind the current one" % busy
                           if counts.in_flight else "queue empty: nothing in flight or waiting")
        return Verdict(False, "a run is already waiting (%s)" % busy)
    if policy == BUFFER_ALL:
        return Verdict(True, "buffer_all queues every trigger (%s)" % busy)
    return Verdict(True, "allow_all queues every trigger in its own message group (%s)" % busy)
