"""The submission archive: every submission that passed validation, with what became of it, for a while.

A submission judged spam is answered like "sent" and not emailed; a sent one may land in a junk
folder. The archive keeps each of them in the service's DynamoDB table so the owner can review,
export, release and erase them (``contact-sdk submissions``). It is on when ``CONTACT_TABLE_NAME``
is set.

One item per submission, ``archive#<id>``, where the id is the first 16 hex characters of the
submission's idempotency key (:func:`submission_id`). The id is a pure function of the
submission, so every path that knows the key — the API, the outbox consumer, a later ``parked``
decision, the ``release`` command — reaches the same item without a lookup, and the same
submission sent twice within the ledger's 24 hours is one record.

The item holds the state (:class:`ArchiveState`), the reasons of that state (the spam heuristics,
why it was queued or parked), a ``history`` of every state with its time, the idempotency key, the
request id, the times, the fields of the form, and the source address reduced to what the rate limit
uses (:func:`source_prefix`). Delivery states (``delivered``, ``bounced``, ...) are not copied into
the item: the webhook route already keeps them under ``delivery#<email id>``, and the archive keeps
the email id, so readers join the two (one source of truth, no extra write per webhook).

Retention is DynamoDB's TTL on ``expiresAt``: :data:`DEFAULT_ARCHIVE_DAYS` after the last change of
state, :data:`DEFAULT_SPAM_DAYS` for spam (``CONTACT_ARCHIVE_DAYS``, ``CONTACT_ARCHIVE_SPAM_DAYS``).

Each write is one ``UpdateItem``. A failed write raises :class:`ArchiveUnavailable`; the service
catches it, logs the gap and counts ``ArchiveWriteFailed``, and answers the visitor as if nothing
happened.

Example::

    archive = DynamoDBSubmissionArchive(boto3.client("dynamodb"), "contact-prod")
    archive.record(submission, key=key, request_id=rid, client_ip="203.0.113.9", state=ArchiveState.SPAM,
                   reasons=("honeypot",))
    archive.record_state(key, "parked", reason="validation_error: invalid `to`")

Errors::

    ContactSdkError
    └── ArchiveUnavailable      the archive could not be written (DynamoDB refused or unreachable)
"""

from __future__ import annotations

import enum
import ipaddress
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ContactSdkError
from contact_sdk.models import ContactSubmission

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

__all__ = [
    "ARCHIVE_PREFIX",
    "DEFAULT_ARCHIVE_DAYS",
    "DEFAULT_SPAM_DAYS",
    "ArchiveState",
    "ArchiveUnavailable",
    "DynamoDBSubmissionArchive",
    "SubmissionArchive",
    "source_prefix",
    "submission_id",
]

#: Partition-key prefix of archive items.
ARCHIVE_PREFIX = "archive#"
DEFAULT_ARCHIVE_DAYS = 30
DEFAULT_SPAM_DAYS = 7
#: Length of a submission id: 16 hex characters (64 bits) of the idempotency key.
SUBMISSION_ID_LENGTH = 16
#: The most history entries an item keeps: the same text posted again and again (a bot) changes the
#: state and the TTL but stops growing the item towards DynamoDB's 400 KB limit.
MAX_HISTORY = 50
_MAX_REASON_LENGTH = 300


class ArchiveUnavailable(ContactSdkError):  # noqa: N818 - reads as a state, like the guards' *Unavailable errors
    """The archive could not be written; the submission itself is unaffected."""


class ArchiveState(enum.StrEnum):
    """What the service did with a submission. Delivery states come from the webhooks, not from here."""

    SENT = "sent"
    QUEUED = "queued"
    PARKED = "parked"
    SPAM = "spam"
    RELEASED = "released"


def submission_id(idempotency_key: str) -> str:
    """The archive id of the submission with ``idempotency_key`` (``contact-<64 hex>``): its first 16 hex digits.

    >>> submission_id("contact-" + "ab" * 32)
    'abababababababab'
    """
    digest = idempotency_key.removeprefix("contact-")
    return digest[:SUBMISSION_ID_LENGTH]


def source_prefix(client_ip: str) -> str:
    """The source address as the rate limit counts it: an IPv4 address, or the ``/64`` of an IPv6 one.

    An IPv4-mapped IPv6 address is its IPv4 address. Anything that is not an address is ``"unknown"``
    (API Gateway always gives one; the archive must not store whatever text arrived instead).

    >>> source_prefix("2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    '2001:db8:1:2::/64'
    """
    try:
        address = ipaddress.ip_address(client_ip.strip())
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class SubmissionArchive(Protocol):
    """Where submissions and their states are kept for the owner."""

    def record(
        self,
        submission: ContactSubmission,
        *,
        key: str,
        request_id: str,
        client_ip: str,
        state: ArchiveState,
        reasons: Sequence[str] = (),
        email_id: str | None = None,
    ) -> str:
        """Keep ``submission`` in ``state``; returns its id. Raises :class:`ArchiveUnavailable`."""
        ...

    def record_state(
        self,
        key: str,
        state: ArchiveState | str,
        *,
        reason: str | None = None,
        reasons: Sequence[str] = (),
        email_id: str | None = None,
    ) -> bool:
        """Move the submission with idempotency ``key`` to ``state``; ``False`` if it is not archived."""
        ...


def _string(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def _strings(values: Iterable[str]) -> AttributeValueTypeDef:
    return {"L": [{"S": value[:_MAX_REASON_LENGTH]} for value in values]}


class DynamoDBSubmissionArchive:
    """The archive in the service's table; see the module docstring for the item.

    ``days`` and ``spam_days`` are the retention after the last change of state; ``clock`` gives
    epoch seconds.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        days: int = DEFAULT_ARCHIVE_DAYS,
        spam_days: int = DEFAULT_SPAM_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if days <= 0 or spam_days <= 0:
            raise ValueError("retention must be at least one day")
        self.client = client
        self.table_name = table_name
        self.days = days
        self.spam_days = spam_days
        self._clock = clock

    def expires_at(self, state: ArchiveState | str, now: float) -> int:
        """When an item last changed to ``state`` at ``now`` expires (epoch seconds)."""
        days = self.spam_days if state == ArchiveState.SPAM else self.days
        return math.ceil(now + days * 86400)

    def record(
        self,
        submission: ContactSubmission,
        *,
        key: str,
        request_id: str,
        client_ip: str,
        state: ArchiveState,
        reasons: Sequence[str] = (),
        email_id: str | None = None,
    ) -> str:
        """See :meth:`SubmissionArchive.record`: one ``UpdateItem`` that creates or extends the item."""
        now = self._clock()
        identifier = submission_id(key)
        values: dict[str, AttributeValueTypeDef] = {
            ":id": _string(identifier),
            ":key": _string(key),
            ":request": _string(request_id),
            ":source": _string(source_prefix(client_ip)),
            ":name": _string(submission.name),
            ":email": _string(submission.email),
            ":emailNormalized": _string(submission.email.strip().lower()),
            ":message": _string(submission.message),
            ":now": {"N": repr(float(now))},
        }
        assignments = [
            "submissionId = :id",
            "idempotencyKey = :key",
            "requestId = if_not_exists(requestId, :request)",
            "receivedAt = if_not_exists(receivedAt, :now)",
            "#source = :source",
            "#name = :name",
            "#email = :email",
            "emailNormalized = :emailNormalized",
            "#message = :message",
        ]
        removals = []
        if submission.subject:
            values[":subject"] = _string(submission.subject)
            assignments.append("#subject = :subject")
        else:
            removals.append("#subject")
        names = {"#source": "source", "#name": "name", "#message": "message", "#email": "email", "#subject": "subject"}
        self._update(
            identifier,
            state,
            now=now,
            reasons=reasons,
            email_id=email_id,
            request_id=request_id,
            values=values,
            assignments=assignments,
            removals=removals,
            names=names,
            condition=None,
        )
        return identifier

    def record_state(
        self,
        key: str,
        state: ArchiveState | str,
        *,
        reason: str | None = None,
        reasons: Sequence[str] = (),
        email_id: str | None = None,
    ) -> bool:
        """See :meth:`SubmissionArchive.record_state`: one conditional ``UpdateItem`` (never creates an item).

        ``state`` may be a state this module does not list (e.g. ``"parked"`` from a caller that
        names it as text); ``reason`` is shorthand for ``reasons=(reason,)``.
        """
        identifier = submission_id(key)
        all_reasons = [*reasons, *([reason] if reason else [])]
        from botocore.exceptions import ClientError  # noqa: PLC0415 - boto is loaded by now

        try:
            self._update(
                identifier,
                str(state),
                now=self._clock(),
                reasons=all_reasons,
                email_id=email_id,
                request_id=None,
                values={},
                assignments=[],
                removals=[],
                names={},
                condition=f"attribute_exists({PARTITION_KEY})",
            )
        except ArchiveUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _code(cause) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _update(
        self,
        identifier: str,
        state: str,
        *,
        now: float,
        reasons: Sequence[str],
        email_id: str | None,
        request_id: str | None,
        values: dict[str, AttributeValueTypeDef],
        assignments: list[str],
        removals: list[str],
        names: dict[str, str],
        condition: str | None,
    ) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        entry: dict[str, AttributeValueTypeDef] = {"state": _string(state), "at": {"N": repr(float(now))}}
        if reasons:
            entry["reasons"] = _strings(reasons)
        if request_id is not None:
            entry["requestId"] = _string(request_id)
        if email_id is not None:
            entry["emailId"] = _string(email_id)
        values.update(
            {
                ":state": _string(state),
                ":updated": {"N": repr(float(now))},
                ":expires": {"N": str(self.expires_at(state, now))},
                ":entry": {"L": [{"M": entry}]},
                ":empty": {"L": []},
            }
        )
        names.update({"#state": "state", "#expires": TTL_ATTRIBUTE, "#history": "history", "#reasons": "reasons"})
        assignments += ["#state = :state", "updatedAt = :updated", "#expires = :expires"]
        if reasons:
            values[":reasons"] = _strings(reasons)
            assignments.append("#reasons = :reasons")
        else:
            removals.append("#reasons")
        if email_id is not None:
            values[":emailId"] = _string(email_id)
            assignments.append("emailId = :emailId")
        removal = " REMOVE " + ", ".join(removals) if removals else ""
        appended = "#history = list_append(if_not_exists(#history, :empty), :entry)"
        room = "(attribute_not_exists(#history) OR size(#history) < :maxHistory)"
        values[":maxHistory"] = {"N": str(MAX_HISTORY)}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: _string(ARCHIVE_PREFIX + identifier)},
                UpdateExpression="SET " + ", ".join([*assignments, appended]) + removal,
                ConditionExpression=f"{condition} AND {room}" if condition else room,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise ArchiveUnavailable(f"archive ({self.table_name}) refused the write: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise ArchiveUnavailable(f"archive ({self.table_name}) unreachable: {type(exc).__name__}") from exc
        # The history is full, or (record_state) there is no item: once more without the append. Rare: one call
        # is the rule.
        for unused in (":entry", ":empty", ":maxHistory"):
            values.pop(unused)
        kwargs: dict[str, Any] = {"ConditionExpression": condition} if condition else {}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: _string(ARCHIVE_PREFIX + identifier)},
                UpdateExpression="SET " + ", ".join(assignments) + removal,
                ExpressionAttributeNames={k: v for k, v in names.items() if k != "#history"},
                ExpressionAttributeValues=values,
                **kwargs,
            )
        except ClientError as exc:
            raise ArchiveUnavailable(f"archive ({self.table_name}) refused the write: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise ArchiveUnavailable(f"archive ({self.table_name}) unreachable: {type(exc).__name__}") from exc


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "unknown error")
