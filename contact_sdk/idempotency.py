"""Exactly one email per submission: a record of what became of each submission, for 24 hours.

The idempotency key is derived from the normalized submission (:func:`contact_sdk.compose.idempotency_key`)
and sent to Resend as ``Idempotency-Key`` on every attempt, from the handler and from the outbox
replay alike. Resend keeps keys for 24 hours, which covers a retry after a timeout whose request
did reach it. This record adds what Resend cannot know:

* a submission already **sent** is answered "sent" again without calling the provider (a double
  click, a client retry, a Lambda retry — and no quota spent);
* a submission already **queued** is answered "queued" again without a second outbox message;
* the outbox consumer marks a replayed submission sent, so a redelivered SQS message is a no-op.

Why not a fixed time bucket in the key: a double click at 23:59:59.9 and 00:00:00.1 would fall
into two buckets and send twice. A first-seen record that expires 24 hours later gives exactly
"the same submission within 24 hours sends at most one email".

Why not Powertools' Idempotency utility: it caches a function's *response*, and ours carries a
fresh single-use ``nextToken`` that must never be replayed; and the record needs a ``queued``
state that a different function (the outbox consumer) moves to ``sent``.

If the store is unavailable, sending goes ahead (logged): Resend's own idempotency on the same
key still prevents a duplicate within its 24 hours.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ContactSdkError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "RECORD_TTL_SECONDS",
    "DynamoDBSubmissionLedger",
    "InMemorySubmissionLedger",
    "LedgerUnavailable",
    "SubmissionLedger",
    "SubmissionState",
    "SubmissionStatus",
]

logger = logging.getLogger(__name__)

RECORD_TTL_SECONDS = 24 * 3600


class LedgerUnavailable(ContactSdkError):  # noqa: N818 - reads as a state, like the guards' *Unavailable errors
    """The submission ledger could not be read or written."""


class SubmissionStatus(enum.StrEnum):
    """What became of a submission."""

    QUEUED = "queued"
    SENT = "sent"


@dataclass(frozen=True, slots=True)
class SubmissionState:
    """The ledger's record of one idempotency key."""

    status: SubmissionStatus
    email_id: str | None
    expires_at: float


class SubmissionLedger(Protocol):
    """Where the fate of each submission is kept for 24 hours."""

    def lookup(self, key: str) -> SubmissionState | None:
        """The live record of ``key``, or ``None``."""

    def mark(self, key: str, status: SubmissionStatus, *, email_id: str | None = None) -> None:
        """Record ``status`` for ``key``; ``sent`` is final (a later ``queued`` never overwrites it)."""


class InMemorySubmissionLedger:
    """A ledger for one process: tests, the local stack without a table."""

    def __init__(self, *, clock: Callable[[], float] = time.time, ttl_seconds: float = RECORD_TTL_SECONDS) -> None:
        self._clock = clock
        self._ttl = ttl_seconds
        self._records: dict[str, SubmissionState] = {}
        self._lock = threading.Lock()

    def lookup(self, key: str) -> SubmissionState | None:
        """See :meth:`SubmissionLedger.lookup`."""
        with self._lock:
            state = self._records.get(key)
            if state is None or state.expires_at <= self._clock():
                return None
            return state

    def mark(self, key: str, status: SubmissionStatus, *, email_id: str | None = None) -> None:
        """See :meth:`SubmissionLedger.mark`."""
        with self._lock:
            now = self._clock()
            current = self._records.get(key)
            if current is not None and current.expires_at > now and current.status == SubmissionStatus.SENT:
                return
            expires_at = current.expires_at if current is not None and current.expires_at > now else now + self._ttl
            self._records[key] = SubmissionState(status, email_id, expires_at)


class DynamoDBSubmissionLedger:
    """The ledger in the service's table: item ``submission#<key>``, expiring 24 h after first seen."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
        ttl_seconds: float = RECORD_TTL_SECONDS,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._ttl = ttl_seconds

    def lookup(self, key: str) -> SubmissionState | None:
        """See :meth:`SubmissionLedger.lookup`."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        try:
            item = self._client.get_item(
                TableName=self._table, Key={PARTITION_KEY: {"S": f"submission#{key}"}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise LedgerUnavailable(f"submission ledger ({self._table}) unreadable: {type(exc).__name__}") from exc
        if not item:
            return None
        try:
            expires_at = float(item[TTL_ATTRIBUTE]["N"])
        except (KeyError, TypeError, ValueError):
            # Not a record this ledger wrote whole (a hand edit, a partial write): unknown, never a crash.
            logger.warning("submission ledger record without a valid expiry; treated as unknown", extra={"key": key})
            return None
        if expires_at <= self._clock():
            return None
        email_id = item.get("emailId", {}).get("S")
        try:
            status = SubmissionStatus(item["status"]["S"])
        except (KeyError, ValueError):
            return None
        return SubmissionState(status, email_id, expires_at)

    def mark(self, key: str, status: SubmissionStatus, *, email_id: str | None = None) -> None:
        """See :meth:`SubmissionLedger.mark`: one conditional ``UpdateItem``; never demotes ``sent``."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        now = self._clock()
        current = self.lookup(key)
        # Expiry counts from first seen: kept while the record lives, renewed once it has expired.
        expires_at = current.expires_at if current is not None else now + self._ttl
        names = {"#status": "status", "#expires": TTL_ATTRIBUTE}
        values: dict[str, dict[str, str]] = {
            ":status": {"S": status.value},
            ":expires": {"N": str(math.ceil(expires_at))},
            ":now": {"N": str(math.floor(now))},
            ":sent": {"S": SubmissionStatus.SENT.value},
        }
        update = "SET #status = :status, #expires = :expires"
        if email_id is not None:
            update += ", emailId = :email"
            values[":email"] = {"S": email_id}
        try:
            self._client.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": f"submission#{key}"}},
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(#status) OR #status <> :sent OR #expires < :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return  # already sent: final
            raise LedgerUnavailable(f"submission ledger ({self._table}) refused the write: {exc}") from exc
        except BotoCoreError as exc:
            raise LedgerUnavailable(f"submission ledger ({self._table}) unreachable: {type(exc).__name__}") from exc
