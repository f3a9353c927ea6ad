"""Baseline for side-by-side benchmarks: the seed article's producer call pattern.

This re-creates, call for call, what the producer in the seed article (the 2021
Japanese article fifo-gate started from) does on every tick, so a benchmark can
run it and fifo-gate's producer against the same queue in one run:

* at import: one SQS client and one SQS resource are built;
* per tick: ``get_queue_by_name`` (GetQueueUrl), reading ``.attributes``
  (GetQueueAttributes, all attributes), then, only when nothing is in flight,
  ``get_queue_url`` (GetQueueUrl again) and ``send_message`` with a random
  deduplication id.

It is a measuring stick, not a design to follow (the project's design notes
list where the seed is weak: only NotVisible counted, a random deduplication id).
Point boto3 at a local endpoint with ``AWS_ENDPOINT_URL``.
"""
import datetime
import uuid

import boto3

CLIENT = boto3.client("sqs")
RESOURCE = boto3.resource("sqs")


def seed_tick(queue_name, group_id="sampleApp"):
    """Run one seed-style tick. Returns ``"skipped"`` or ``"enqueued"``."""
    queue = RESOURCE.get_queue_by_name(QueueName=queue_name)
    in_flight = int(queue.attributes.get("ApproximateNumberOfMessagesNotVisible"))
    if in_flight > 0:
        return "skipped"
    url = CLIENT.get_queue_url(QueueName=queue_name)["QueueUrl"]
    CLIENT.send_message(
        QueueUrl=url,
        MessageBody="tick at %s" % datetime.datetime.now(),
        MessageGroupId=group_id,
        MessageDeduplicationId=str(uuid.uuid4()),
    )
    return "enqueued"
