"""Operator logic behind ``contact-sdk outbox``: queue depths, a masked look into a queue, and redrive.

Pure functions over an SQS client (a boto3 client, or moto in tests); the command module only
parses arguments and prints. Nothing here prints a message's text or a sender's full address:
:func:`peek` shows what an operator needs to decide (request id, when, why, idempotency key) and
masks the address.

Redrive moves a message from the dead-letter queue back to the outbox queue by *sending a copy and
then deleting the original*, so a crash in between leaves two copies, never none; the submission's
record and the provider's idempotency key make the extra copy harmless (one email).

Example::

    sqs = boto3.client("sqs")
    queue_depth(sqs, queue_url)                      # QueueDepth(visible=3, in_flight=0, delayed=0)
    peek(sqs, dlq_url, max_messages=5)               # [PeekedMessage(...), ...]
    redrive(sqs, source=dlq_url, target=queue_url, max_messages=10)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contact_sdk.outbox import read_message
from contact_sdk.parking import PARKED_REASON_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

__all__ = [
    "MAX_BATCH",
    "PeekedMessage",
    "QueueDepth",
    "RedriveResult",
    "mask_email",
    "peek",
    "queue_depth",
    "redrive",
]

#: SQS returns at most this many messages per receive.
MAX_BATCH = 10
#: How long a peeked or redriven message stays hidden while we hold it (it is released at once after).
_HOLD_SECONDS = 30


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """How many messages a queue holds: visible, received but not deleted, and delayed."""

    url: str
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        """Every message the queue holds."""
        return self.visible + self.in_flight + self.delayed


@dataclass(frozen=True, slots=True)
class PeekedMessage:
    """What an operator sees of one queued message; never its text, never the full sender address."""

    message_id: str
    receive_count: int
    request_id: str | None = None
    queued_at: str | None = None
    reason: str | None = None
    idempotency_key: str | None = None
    sender: str | None = None
    #: Why the body is not a queued submission (``None`` when it is one).
    unreadable: str | None = None
    #: Why the provider refused it for good, when the message was parked (``None`` otherwise).
    parked_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``--json`` output."""
        return {
            "messageId": self.message_id,
            "receiveCount": self.receive_count,
            "requestId": self.request_id,
            "queuedAt": self.queued_at,
            "reason": self.reason,
            "idempotencyKey": self.idempotency_key,
            "sender": self.sender,
            "unreadable": self.unreadable,
            "parkedReason": self.parked_reason,
        }


@dataclass(slots=True)
class RedriveResult:
    """What a redrive did (or, with ``dry_run``, would do)."""

    moved: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False


def mask_email(address: str) -> str:
    """``ada.lovelace@example.org`` -> ``a***@e***.org``: enough to recognise, not enough to read."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "***"
    host, dot, tld = domain.rpartition(".")
    masked_domain = f"{host[:1]}***{dot}{tld}" if dot and host else f"{domain[:1]}***"
    return f"{local[:1]}***@{masked_domain}"


def queue_depth(sqs: SQSClient, queue_url: str) -> QueueDepth:
    """The queue's approximate depths (SQS counts are eventually consistent)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return QueueDepth(
        url=queue_url,
        visible=int(attributes.get("ApproximateNumberOfMessages", "0")),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", "0")),
    )


def _receive(sqs: SQSClient, queue_url: str, max_messages: int) -> list[Any]:
    """Up to ``max_messages`` messages, held for :data:`_HOLD_SECONDS`; stops when a receive comes back empty."""
    received: list[Any] = []
    seen: set[str] = set()
    while len(received) < max_messages:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(MAX_BATCH, max_messages - len(received)),
            VisibilityTimeout=_HOLD_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update(m["MessageId"] for m in fresh)
        received.extend(fresh)
    return received


def _release(sqs: SQSClient, queue_url: str, messages: list[Any]) -> None:
    """Make held messages visible again at once."""
    for message in messages:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def _parked_reason(message: Any) -> str | None:
    value = message.get("MessageAttributes", {}).get(PARKED_REASON_ATTRIBUTE, {})
    reason = value.get("StringValue") if isinstance(value, dict) else None
    return reason if isinstance(reason, str) else None


def _describe(message: Any) -> PeekedMessage:
    receive_count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "0"))
    parked_reason = _parked_reason(message)
    try:
        queued = read_message(message["Body"])
    except ValueError as exc:
        return PeekedMessage(
            message_id=message["MessageId"],
            receive_count=receive_count,
            unreadable=str(exc),
            parked_reason=parked_reason,
        )
    queued_at = dt.datetime.fromtimestamp(queued.queued_at, tz=dt.UTC).isoformat(timespec="seconds")
    return PeekedMessage(
        message_id=message["MessageId"],
        receive_count=receive_count,
        request_id=queued.request_id,
        queued_at=queued_at,
        reason=queued.reason,
        idempotency_key=queued.idempotency_key,
        sender=mask_email(queued.visitor),
        parked_reason=parked_reason,
    )


def peek(
    sqs: SQSClient, queue_url: str, *, max_messages: int = MAX_BATCH, parked_only: bool = False
) -> list[PeekedMessage]:
    """Look at up to ``max_messages`` messages and put them straight back (visible again at once).

    With ``parked_only``, only parked submissions (those with a ``parkedReason``) are returned;
    up to ``max_messages`` messages are still looked at.

    Each peek counts as a receive in SQS: on a queue with a redrive policy, peeking a message
    often enough moves it to the dead-letter queue. Peek the dead-letter queue, not the outbox.
    """
    messages = _receive(sqs, queue_url, max_messages)
    try:
        described = [_describe(message) for message in messages]
    finally:
        _release(sqs, queue_url, messages)
    return [m for m in described if m.parked_reason is not None] if parked_only else described


def redrive(
    sqs: SQSClient,
    *,
    source: str,
    target: str,
    max_messages: int = MAX_BATCH,
    dry_run: bool = False,
    parked_only: bool = False,
    requeue: Callable[[PeekedMessage], str | None] | None = None,
) -> RedriveResult:
    """Move up to ``max_messages`` queued submissions from ``source`` (the DLQ) to ``target`` (the outbox).

    Send first, delete second. Messages that are not queued submissions are left where they are
    (they would only fail again) and reported in ``skipped``; with ``parked_only`` so are the ones
    that were not parked. A moved message loses its ``parkedReason`` (it is a fresh try; refused
    again, it is parked again with the new reason). With ``dry_run`` nothing is sent or deleted:
    the messages are only looked at and released.

    ``requeue`` replaces the copy (``--recompose``): it puts a new message for the submission in the
    outbox itself and returns ``None``, or returns why it did not (the original then stays); the
    original is deleted only after it did.
    """
    result = RedriveResult(dry_run=dry_run)
    messages = _receive(sqs, source, max_messages)
    keep: list[Any] = []
    try:
        for message in messages:
            described = _describe(message)
            if described.unreadable is not None:
                result.skipped.append((message["MessageId"], f"not a queued submission: {described.unreadable}"))
                keep.append(message)
                continue
            if parked_only and described.parked_reason is None:
                result.skipped.append((message["MessageId"], "not parked"))
                keep.append(message)
                continue
            if dry_run:
                result.moved.append(message["MessageId"])
                keep.append(message)
                continue
            if requeue is not None:
                try:
                    refused = requeue(described)
                except Exception:
                    keep.append(message)
                    raise
                if refused is not None:
                    result.skipped.append((message["MessageId"], refused))
                    keep.append(message)
                    continue
                sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                result.moved.append(message["MessageId"])
                continue
            attributes: dict[str, MessageAttributeValueTypeDef] = {
                str(name): {"DataType": value["DataType"], "StringValue": value["StringValue"]}
                for name, value in message.get("MessageAttributes", {}).items()
                if "StringValue" in value and name != PARKED_REASON_ATTRIBUTE
            }
            try:
                sqs.send_message(QueueUrl=target, MessageBody=message["Body"], MessageAttributes=attributes)
            except Exception:
                keep.append(message)
                raise
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            result.moved.append(message["MessageId"])
    except Exception:
        # Whatever was not moved goes back on the source queue at once, then the error is reported.
        handled = set(result.moved) | {m["MessageId"] for m in keep}
        keep.extend(m for m in messages if m["MessageId"] not in handled)
        _release(sqs, source, keep)
        raise
    _release(sqs, source, keep)
    return result
