"""The durable outbox: where a submission waits when the provider cannot take it now.

Production uses SQS (``CONTACT_OUTBOX_QUEUE_URL``) with a dead-letter queue after N receives;
:mod:`contact_sdk.replay` drains it. A queued message carries everything needed to send the
email later with the *same* idempotency key as the first attempt, so a replay can never
deliver a second copy of an email the provider did accept.

Without a queue configured there is no outbox: the service answers ``503`` with
``Retry-After`` (the client keeps the message and retries) and logs the full submission at
ERROR as an operator's last resort. Nothing is ever dropped silently.

Example::

    outbox = SqsOutbox(queue_url)
    outbox.enqueue(QueuedSubmission.from_submission(submission, idempotency_key=key,
                                                    request_id=rid, reason="CircuitOpenError", now=time.time()))
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from contact_sdk.errors import ContactSdkError
from contact_sdk.models import ContactSubmission

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["InMemoryOutbox", "Outbox", "OutboxUnavailable", "QueuedSubmission", "SqsOutbox"]

SCHEMA_VERSION = 1


class OutboxUnavailable(ContactSdkError):  # noqa: N818 - reads as a state, like the guards' *Unavailable errors
    """The outbox could not take the submission (queue unreachable, throttled, misconfigured)."""


@dataclass(frozen=True, slots=True)
class QueuedSubmission:
    """A validated submission waiting for delivery, with the key of its first attempt."""

    name: str
    email: str
    subject: str | None
    message: str
    idempotency_key: str
    request_id: str
    queued_at: float
    reason: str
    version: int = SCHEMA_VERSION

    @classmethod
    def from_submission(
        cls, submission: ContactSubmission, *, idempotency_key: str, request_id: str, reason: str, now: float
    ) -> QueuedSubmission:
        """Keep what the email needs; consent and the honeypot were checked already."""
        return cls(
            name=submission.name,
            email=submission.email,
            subject=submission.subject,
            message=submission.message,
            idempotency_key=idempotency_key,
            request_id=request_id,
            queued_at=now,
            reason=reason,
        )

    def to_submission(self) -> ContactSubmission:
        """The submission again, for composing the email."""
        return ContactSubmission.model_validate(
            {"name": self.name, "email": self.email, "subject": self.subject, "message": self.message, "consent": True}
        )

    def to_json(self) -> str:
        """The message body stored in the queue."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> QueuedSubmission:
        """Parse a stored message; raises ``ValueError`` with a clear reason when it is not one of ours."""
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"outbox message is not JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ValueError("outbox message is not a JSON object")
        if data.get("version") != SCHEMA_VERSION:
            raise ValueError(f"outbox message has unknown version {data.get('version')!r}")
        try:
            queued = cls(**data)
        except TypeError as exc:
            raise ValueError(f"outbox message has unexpected fields: {exc}") from None
        for name in ("name", "email", "message", "idempotency_key", "request_id", "reason"):
            if not isinstance(getattr(queued, name), str):
                raise ValueError(f"outbox message field {name} is not a string")
        try:
            queued.to_submission()
        except ValidationError as exc:
            # Queued before a rule tightened (a line feed in the address): it can never be sent, so it
            # is unreadable — dead-lettered for the operator — instead of failing every redelivery.
            fields = sorted({str(error["loc"][0]) for error in exc.errors(include_url=False) if error["loc"]})
            raise ValueError(f"outbox message holds a submission that is not valid: {', '.join(fields)}") from None
        return queued


class LazySqsClient:
    """An SQS client made on first use, once however many threads ask (the outbox and the parking lot)."""

    def __init__(self, client: SQSClient | None = None, factory: Callable[[], SQSClient] | None = None) -> None:
        self._client = client
        self._factory = factory
        self._lock = threading.Lock()

    def get(self) -> SQSClient:
        """The client, made now if it does not exist yet: the factory's, else boto3's default."""
        with self._lock:
            if self._client is None:
                if self._factory is not None:
                    self._client = self._factory()
                else:
                    import boto3  # noqa: PLC0415 - only the queueing path needs SQS

                    self._client = boto3.client("sqs")
            return self._client

    def reset(self) -> None:
        """Forget the client so the next call opens fresh connections (SnapStart restore)."""
        with self._lock:
            self._client = None


class Outbox(Protocol):
    """Somewhere durable to keep a submission for later delivery."""

    def enqueue(self, queued: QueuedSubmission) -> None:
        """Store it durably, or raise :class:`OutboxUnavailable`."""


class SqsOutbox:
    """The outbox on SQS. Needs ``sqs:SendMessage`` on the queue. The client is made on first use."""

    def __init__(
        self,
        queue_url: str,
        *,
        client: SQSClient | None = None,
        client_factory: Callable[[], SQSClient] | None = None,
    ) -> None:
        self.queue_url = queue_url
        self._client = LazySqsClient(client, client_factory)

    def _sqs(self) -> SQSClient:
        return self._client.get()

    def reset_client(self) -> None:
        """Forget the client so the next call opens fresh connections (SnapStart restore)."""
        self._client.reset()

    def enqueue(self, queued: QueuedSubmission) -> None:
        """Send one message; the idempotency key travels as a message attribute too."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        try:
            self._sqs().send_message(
                QueueUrl=self.queue_url,
                MessageBody=queued.to_json(),
                MessageAttributes={
                    "idempotencyKey": {"DataType": "String", "StringValue": queued.idempotency_key},
                    "requestId": {"DataType": "String", "StringValue": queued.request_id},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise OutboxUnavailable(f"the outbox queue did not take the message ({type(exc).__name__})") from exc


class InMemoryOutbox:
    """An outbox in a list: tests and the local stack without SQS. ``fail`` simulates an outage."""

    def __init__(self) -> None:
        self.messages: list[QueuedSubmission] = []
        self.fail = False
        self._lock = threading.Lock()

    def enqueue(self, queued: QueuedSubmission) -> None:
        """Keep it, or raise like an unreachable queue."""
        if self.fail:
            raise OutboxUnavailable("the outbox is unavailable (simulated)")
        with self._lock:
            self.messages.append(queued)

    def drain(self) -> list[QueuedSubmission]:
        """Take every kept message."""
        with self._lock:
            messages, self.messages = self.messages, []
        return messages

    def as_dicts(self) -> list[dict[str, Any]]:
        """Kept messages as plain dicts."""
        with self._lock:
            return [asdict(m) for m in self.messages]
