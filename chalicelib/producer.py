"""The producer: turn a trigger into a decision, and a message when the gate says so.

One GetQueueAttributes call on a skip, plus one SendMessage on an enqueue; the
queue URL comes from ``QUEUE_URL`` or one cached GetQueueUrl per container.
"""
from chalicelib import gate
from chalicelib.errors import InputError
from chalicelib.logs import log_event
from chalicelib.messages import MAX_BODY_BYTES, RunMessage


class Producer:
    """Decides and enqueues runs for one gate queue.

    Args:
        queue (chalicelib.queue.GateQueue): the gate queue.
        policy (str): the overlap policy, one of ``gate.POLICIES``.
        group_id (str): the FIFO message group all runs share (``allow_all``
            gives each run its own group instead).
    """

    def __init__(self, queue, policy, group_id):
        self._queue = queue
        self._policy = policy
        self._group_id = group_id

    def submit(self, request):
        """Read the counts, decide, and send a message if the decision is to enqueue.

        Args:
            request (chalicelib.triggers.RunRequest): what the trigger asks for.

        Returns:
            dict: the decision, ``{"decision": "enqueued"|"skipped", "reason", "policy",
            "trigger", "dedup_id", "message_id" (None when skipped), "counts":
            {"visible", "in_flight", "delayed"}, "run_id" (None when skipped)}``.

        Raises:
            InputError: the message would exceed SQS's size limit (checked first;
                nothing is read or sent).
            botocore.exceptions.ClientError / BotoCoreError: SQS failed after
                botocore's retries; nothing was sent, or a send whose answer was
                lost will be collapsed by its deduplication id when retried.
        """
        message = RunMessage.new(request.trigger, slot=request.slot, payload=request.payload)
        try:
            body = message.to_json()
        except (TypeError, ValueError) as exc:  # NaN, Infinity, or a value JSON cannot hold
            raise InputError("'payload' is not plain JSON: %s" % exc, "payload") from None
        size = len(body.encode("utf-8"))
        if size > MAX_BODY_BYTES:
            raise InputError(
                "'payload' is too large: the message would be %d bytes, SQS allows %d"
                % (size, MAX_BODY_BYTES),
                "payload",
            )
        counts = self._queue.counts()
        verdict = gate.decide(self._policy, counts, force=request.force)
        decision = {
            "decision": "enqueued" if verdict.enqueue else "skipped",
            "reason": verdict.reason,
            "policy": self._policy,
            "trigger": request.trigger,
            "dedup_id": request.dedup_id,
            "message_id": None,
            "run_id": None,
            "counts": counts.to_dict(),
        }
        if verdict.enqueue:
            group = message.run_id if self._policy == gate.ALLOW_ALL else self._group_id
            decision["message_id"] = self._queue.send(body, group, request.dedup_id)
            decision["run_id"] = message.run_id
        log_event("decision", **decision)
        return decision


def disabled(trigger, policy):
    """The decision of a ``tick`` while ``SCHEDULE_ENABLED`` is off (reads nothing, sends nothing).

    Returns:
        dict: ``{"decision": "disabled", "reason", "policy", "trigger"}``.
    """
    decision = {
        "decision": "disabled",
        "reason": "SCHEDULE_ENABLED is off for this stage; the schedule sends nothing",
        "policy": policy,
        "trigger": trigger,
    }
    log_event("decision", **decision)
    return decision
