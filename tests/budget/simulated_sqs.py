"""An SQS queue on a simulated clock, with a dead-letter queue, for day-long outage runs in a second.

It honours what the outbox relies on, as SQS documents it: a message sent with ``DelaySeconds`` (0 to
900, else ``InvalidParameterValue``) is not received before that many seconds have passed, a received
message is hidden for the queue's visibility timeout (or what ``ChangeMessageVisibility`` sets: a hide
that would end more than 12 h after the receive is refused with ``InvalidParameterValue``, as SQS
does), each receive adds one to ``ApproximateReceiveCount``, and a message received more than
``max_receive_count`` times is moved to the dead-letter queue instead of being delivered. Only the calls the service
makes are implemented: ``send_message``, ``receive_message``, ``change_message_visibility``,
``delete_message``.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

MAX_VISIBILITY = 43_200
MAX_DELAY = 900


class SimClock:
    """Seconds since the start of the run; :meth:`sleep` moves it on."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        """The simulated seconds (epoch-like)."""
        return self.now

    def monotonic(self) -> float:
        """The same seconds: simulated time never goes back."""
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance_to(self, when: float) -> None:
        self.now = max(self.now, when)


class SimContext:
    """A Lambda context whose remaining time runs on the simulated clock (30 s per invocation)."""

    def __init__(self, clock: SimClock, timeout_s: float = 30.0) -> None:
        self._clock = clock
        self._ends = clock() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self._ends - self._clock()) * 1000)


@dataclass
class _Message:
    message_id: str
    body: str
    attributes: dict[str, Any]
    visible_at: float
    received_at: float = 0.0
    receive_count: int = 0
    receipt: str | None = None
    deleted: bool = False


@dataclass
class SimulatedQueue:
    """One queue and its dead-letter queue."""

    clock: SimClock
    url: str = "https://sqs.eu-west-1.amazonaws.com/123456789012/outbox"
    visibility_timeout: float = 180.0
    max_receive_count: int = 10
    messages: list[_Message] = field(default_factory=list)
    dead_letters: list[_Message] = field(default_factory=list)
    moved_by_hand: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Every hide SQS accepted, in seconds.
    hides: list[int] = field(default_factory=list)
    #: The ``DelaySeconds`` of every message sent to the queue (0 when it had none).
    delays: list[int] = field(default_factory=list)
    _receipts: itertools.count[int] = field(default_factory=itertools.count)

    # -- the SQS API the service calls ---------------------------------------------------------

    def send_message(
        self,
        *,
        QueueUrl: str,  # noqa: N803 - boto3's names
        MessageBody: str,  # noqa: N803
        MessageAttributes: Any = None,  # noqa: N803
        DelaySeconds: int = 0,  # noqa: N803
    ) -> dict[str, Any]:
        if not 0 <= DelaySeconds <= MAX_DELAY:
            raise ClientError(
                {
                    "Error": {
                        "Code": "InvalidParameterValue",
                        "Message": f"Value {DelaySeconds} for parameter DelaySeconds is invalid. Reason: "
                        "DelaySeconds must be >= 0 and <= 900.",
                    }
                },
                "SendMessage",
            )
        if QueueUrl != self.url:
            self.moved_by_hand.append((MessageBody, dict(MessageAttributes or {})))
            return {"MessageId": str(uuid.uuid4())}
        self.delays.append(DelaySeconds)
        message = _Message(str(uuid.uuid4()), MessageBody, dict(MessageAttributes or {}), self.clock() + DelaySeconds)
        self.messages.append(message)
        return {"MessageId": message.message_id}

    def receive_message(self, *, QueueUrl: str, MaxNumberOfMessages: int = 1, **_: Any) -> dict[str, Any]:  # noqa: N803
        assert QueueUrl == self.url
        now = self.clock()
        out: list[dict[str, Any]] = []
        for message in self.messages:
            if len(out) >= MaxNumberOfMessages:
                break
            if message.deleted or message.visible_at > now:
                continue
            if message.receive_count >= self.max_receive_count:
                # SQS moves it on the receive that would exceed maxReceiveCount.
                message.deleted = True
                self.dead_letters.append(message)
                continue
            message.receive_count += 1
            message.received_at = now
            message.visible_at = now + self.visibility_timeout
            message.receipt = f"{message.message_id}#{next(self._receipts)}"
            out.append(
                {
                    "MessageId": message.message_id,
                    "ReceiptHandle": message.receipt,
                    "Body": message.body,
                    "MD5OfBody": hashlib.md5(message.body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
                    "Attributes": {
                        "ApproximateReceiveCount": str(message.receive_count),
                        "SentTimestamp": "0",
                    },
                }
            )
        return {"Messages": out}

    def change_message_visibility(self, *, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:  # noqa: N803
        assert QueueUrl == self.url
        message = self._by_receipt(ReceiptHandle)
        if VisibilityTimeout < 0 or self.clock() + VisibilityTimeout - message.received_at > MAX_VISIBILITY:
            raise ClientError(
                {
                    "Error": {
                        "Code": "InvalidParameterValue",
                        "Message": f"Value {VisibilityTimeout} for parameter VisibilityTimeout is invalid. Reason: "
                        "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
                    }
                },
                "ChangeMessageVisibility",
            )
        self.hides.append(VisibilityTimeout)
        message.visible_at = self.clock() + VisibilityTimeout

    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> None:  # noqa: N803
        assert QueueUrl == self.url
        self._by_receipt(ReceiptHandle).deleted = True

    # -- for the test --------------------------------------------------------------------------

    def _by_receipt(self, receipt: str) -> _Message:
        [message] = [m for m in self.messages if m.receipt == receipt]
        return message

    def pending(self) -> list[_Message]:
        """Messages neither deleted nor dead-lettered."""
        return [m for m in self.messages if not m.deleted]

    def next_visible_at(self) -> float | None:
        """When the next pending message becomes visible."""
        times = [m.visible_at for m in self.pending()]
        return min(times) if times else None

    def receive_count_of(self, body_key: str) -> int:
        """The receive count of the message whose body mentions ``body_key``."""
        [message] = [m for m in self.messages if body_key in m.body]
        return message.receive_count


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The Lambda event SQS's event source mapping hands the consumer for ``messages`` (as ``receive_message`` gave)."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message["Attributes"],
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:outbox",
                "awsRegion": "eu-west-1",
            }
            for message in messages
        ]
    }
