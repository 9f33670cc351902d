"""Lambda's SQS event source mapping, for the local stack: the outbox drains here as it does in AWS.

Every ``interval`` seconds (1 s) it receives a batch from the outbox queue (a short poll), shapes it as
the SQS event Lambda sends, calls ``outbox_handler``, and deletes every message the handler did
not report in ``batchItemFailures`` — exactly what the managed mapping does with a partial batch
response. Failed messages stay hidden for the backoff the consumer chose, then come back; after
the queue's ``maxReceiveCount`` SQS moves them to the dead-letter queue.

Example::

    poller = SqsEventSource(sqs_client, queue_url, handler.outbox_handler)
    poller.start()
    ...
    poller.stop()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SqsEventSource", "sqs_event"]

logger = logging.getLogger(__name__)


def sqs_event(sqs: Any, queue_url: str, *, queue_arn: str, region: str, wait_seconds: int = 0) -> dict[str, Any]:
    """Receive up to 10 messages and shape them as the SQS event Lambda's event source sends."""
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait_seconds,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class _Context:
    """The part of a Lambda context the consumer reads: 30 s per batch, like the deployed function."""

    def __init__(self, budget_ms: int = 30_000) -> None:
        self._budget_ms = budget_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._budget_ms


class SqsEventSource:
    """Polls ``queue_url`` in a daemon thread and feeds ``outbox_handler`` until :meth:`stop`."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        outbox_handler: Callable[[dict[str, Any], Any], dict[str, Any]],
        *,
        region: str = "eu-west-1",
        interval: float = 1.0,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self._handler = outbox_handler
        self._region = region
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._arn: str | None = None
        self.delivered = 0

    def poll_once(self) -> dict[str, Any] | None:
        """One receive → invoke → delete round; the handler's response, or ``None`` when the queue was empty."""
        if self._arn is None:
            attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._arn = str(attributes["Attributes"]["QueueArn"])
        # A short poll: a stop waits for the round in hand, never for a long poll to run out.
        event = sqs_event(self._sqs, self.queue_url, queue_arn=self._arn, region=self._region)
        if not event["Records"]:
            return None
        response = self._handler(event, _Context())
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
                self.delivered += 1
        return response

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # the poller must outlive a bad round, as the managed mapping does
                logger.exception("outbox event source round failed")
            self._stop.wait(self._interval)

    def start(self) -> None:
        """Start polling in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="outbox-event-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the current round."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
