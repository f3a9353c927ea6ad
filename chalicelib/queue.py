"""A thin wrapper around one SQS FIFO queue: the gate's only I/O.

The boto3 SQS client is injected (``GateQueue(client, ...)``), so tests pass a
moto-backed client and the Lambda handlers pass one built once per container.
Each method is a single SQS call; the queue URL is resolved once and cached.
"""
import threading

from chalicelib.gate import Counts

COUNT_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


class GateQueue:
    """One SQS queue (the gate queue or its dead-letter queue).

    Args:
        client: a boto3 SQS client.
        name (str | None): the queue name; used to look the URL up once.
        url (str | None): the queue URL; when given no lookup is made.

    Raises:
        ValueError: neither ``name`` nor ``url`` given.
    """

    def __init__(self, client, name=None, url=None):
        if not name and not url:
            raise ValueError("GateQueue needs a queue name or URL")
        self._client = client
        self._name = name
        self._url = url
        self._attributes = {}
        self._lock = threading.Lock()

    @property
    def url(self):
        """The queue URL (str); one GetQueueUrl call the first time when only a name was given."""
        if self._url is None:
            with self._lock:
                if self._url is None:
                    self._url = self._client.get_queue_url(QueueName=self._name)["QueueUrl"]
        return self._url

    def counts(self):
        """Read the approximate counts in one GetQueueAttributes call.

        Returns:
            Counts: visible, in flight, delayed. Eventually consistent in real SQS
            (may lag about a minute):
            https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-counts.html
        """
        attrs = self._client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=list(COUNT_ATTRIBUTES)
        )["Attributes"]
        return Counts(*(int(attrs.get(name, 0)) for name in COUNT_ATTRIBUTES))

    def depth(self):
        """Total messages in the queue (visible + in flight + delayed), as an int."""
        counts = self.counts()
        return counts.visible + counts.in_flight + counts.delayed

    def visibility_timeout(self):
        """The queue's default visibility timeout in seconds (int); read once and cached."""
        if "VisibilityTimeout" not in self._attributes:
            attrs = self._client.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]
            self._attributes["VisibilityTimeout"] = int(attrs["VisibilityTimeout"])
        return self._attributes["VisibilityTimeout"]

    def send(self, body, group_id, dedup_id, attributes=None):
        """Send one message to the FIFO queue.

        Args:
            body (str): message body.
            group_id (str): ``MessageGroupId``; one group means one message in flight at a time.
            dedup_id (str): ``MessageDeduplicationId``; a repeat within 5 minutes is
                accepted but not delivered again.
            attributes (dict[str, str] | None): string message attributes.

        Returns:
            str: the ``MessageId``.
        """
        kwargs = {}
        if attributes:
            kwargs["MessageAttributes"] = {
                key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()
            }
        response = self._client.send_message(
            QueueUrl=self.url,
            MessageBody=body,
            MessageGroupId=group_id,
            MessageDeduplicationId=dedup_id,
            **kwargs,
        )
        return response["MessageId"]

    def change_visibility(self, receipt_handle, seconds):
        """Set a received message's visibility timeout, counted from now.

        Args:
            receipt_handle (str): from the receive.
            seconds (int): 0 to 43200.

        Raises:
            botocore.exceptions.ClientError: e.g. the receipt handle expired.
        https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
        """
        self._client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=int(seconds)
        )
