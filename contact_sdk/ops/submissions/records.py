"""Operator logic behind ``contact-sdk submissions``: read, export, release and erase archived submissions.

Functions over a DynamoDB client (boto3, or moto in tests); the command module parses arguments and
prints. Reading is a filtered ``Scan`` of the service's table: the table has no index by time or by
address, and a personal site's archive is small (hundreds of items). One ``Scan`` returns the
archive items and the delivery records of the webhooks together; :func:`scan_submissions` joins them
by email id, so an archived ``sent`` submission shows ``delivered`` once Resend said so.

Erasure (:func:`erase_address`) finds every item of an address by that ``Scan`` too, filtering on
the archive's ``emailNormalized`` attribute, and removes the archive item, the submission ledger's
record of the same idempotency key, the delivery record and the webhook markers of its email.
A keyed hash of the address would spare the ``Scan`` but not the storage: the archive keeps the
address in clear because ``release`` and ``show --reveal`` need it.

Example::

    dynamodb = boto3.client("dynamodb")
    for submission in scan_submissions(dynamodb, "contact-prod", now=time.time(), state="spam"):
        print(submission.submission_id, submission.state)
    erase_address(dynamodb, "contact-prod", "ada@example.org", now=time.time())
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.models import ContactSubmission
from contact_sdk.ops.outbox.queue import mask_email
from contact_sdk.record import RECORD_PREFIX, SUBMISSION_ID_LENGTH, RecordState, submission_id, view_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from contact_sdk.delivery import Delivery

__all__ = [
    "DELIVERY_STATES",
    "STATES",
    "ArchivedSubmission",
    "ErasureReport",
    "HistoryEntry",
    "ReleaseRefused",
    "ReleaseResult",
    "erase_address",
    "export_csv",
    "export_jsonl",
    "find_submission",
    "neutralise_cell",
    "normalise_id",
    "parse_since",
    "release_submission",
    "scan_submissions",
]

#: Resend event types -> the archive state they stand for, in the order they matter.
DELIVERY_STATES: Mapping[str, str] = {
    "email.delivered": "delivered",
    "email.bounced": "bounced",
    "email.complained": "complained",
    "email.delivery_delayed": "delayed",
}
#: Every state a listed submission can be in.
STATES: tuple[str, ...] = (*(state.value for state in RecordState), *DELIVERY_STATES.values())

_ID_PATTERN = re.compile(rf"[0-9a-f]{{{SUBMISSION_ID_LENGTH}}}")
_KEY_PATTERN = re.compile(r"contact-[0-9a-f]{64}")
_RELATIVE = re.compile(r"([0-9]{1,5})([mhdw])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: A CSV cell starting with one of these is read as a formula by spreadsheets (OWASP's list).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change of state: the service's own, or a delivery event from the webhooks."""

    state: str
    at: float
    reasons: tuple[str, ...] = ()
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ArchivedSubmission:
    """One archived submission as an operator sees it, joined with its delivery events."""

    submission_id: str
    idempotency_key: str
    request_id: str
    state: str
    reasons: tuple[str, ...]
    received_at: float
    updated_at: float
    expires_at: float
    source: str
    name: str
    email: str
    subject: str | None
    message: str
    email_id: str | None
    history: tuple[HistoryEntry, ...] = field(default=())

    def to_submission(self) -> ContactSubmission:
        """The form's fields again, for composing the email on release."""
        return ContactSubmission.model_validate(
            {"name": self.name, "email": self.email, "subject": self.subject, "message": self.message, "consent": True}
        )

    def to_json(self, *, reveal: bool, history: bool = False) -> dict[str, Any]:
        """A plain dict for ``--json``/JSONL; personal fields masked unless ``reveal``."""
        document: dict[str, Any] = {
            "id": self.submission_id,
            "state": self.state,
            "reasons": list(self.reasons),
            "receivedAt": _iso(self.received_at),
            "updatedAt": _iso(self.updated_at),
            "expiresAt": _iso(self.expires_at),
            "source": self.source,
            "requestId": self.request_id,
            "idempotencyKey": self.idempotency_key,
            "emailId": self.email_id,
            **self.personal_fields(reveal=reveal),
        }
        if history:
            document["history"] = [
                {"state": h.state, "at": _iso(h.at), "reasons": list(h.reasons), "detail": h.detail}
                for h in self.history
            ]
        return document

    def personal_fields(self, *, reveal: bool) -> dict[str, str | None]:
        """Name, address, subject and message: as written, or masked."""
        if reveal:
            return {"name": self.name, "email": self.email, "subject": self.subject, "message": self.message}
        return {
            "name": _mask_text(self.name),
            "email": mask_email(self.email),
            "subject": _mask_text(self.subject) if self.subject else None,
            "message": f"[{len(self.message)} characters]",
        }


def _mask_text(value: str) -> str:
    return f"{value[:1]}*** [{len(value)}]"


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def normalise_id(value: str) -> str:
    """A submission id from what an operator typed: the 16-hex id, or the whole idempotency key.

    Raises ``ValueError`` with the expected forms.
    """
    text = value.strip().lower()
    if _KEY_PATTERN.fullmatch(text):
        return submission_id(text)
    if _ID_PATTERN.fullmatch(text):
        return text
    raise ValueError(
        f"{value!r} is not a submission id (expected {SUBMISSION_ID_LENGTH} hex characters, "
        "as `submissions list` shows, or the idempotency key contact-<64 hex>)"
    )


def parse_since(value: str, *, now: float) -> float:
    """Epoch seconds from ``--since``: ``30m``, ``24h``, ``7d``, ``2w`` ago, or an ISO date/time (UTC if no zone).

    Raises ``ValueError`` naming the accepted forms.
    """
    text = value.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        return now - int(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a time (expected e.g. 24h, 7d, 2w, 2026-12-01 or 2026-12-01T10:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    since = parsed.timestamp()
    if since > now:
        raise ValueError(f"{value!r} is in the future")
    return since


# --- reading -----------------------------------------------------------------------------------


def _scan(client: DynamoDBClient, table: str, prefixes: Sequence[str]) -> Iterator[dict[str, Any]]:
    condition = " OR ".join(f"begins_with(#pk, :p{i})" for i in range(len(prefixes)))
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression=condition,
        ExpressionAttributeNames={"#pk": PARTITION_KEY},
        ExpressionAttributeValues={f":p{i}": {"S": prefix} for i, prefix in enumerate(prefixes)},
    )
    for page in pages:
        yield from page.get("Items", [])


def _string(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def _number(item: Mapping[str, Any], name: str, default: float = 0.0) -> float:
    try:
        return float(item[name]["N"])
    except (KeyError, TypeError, ValueError):
        return default


def _reasons(value: Mapping[str, Any] | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(entry["S"] for entry in value.get("L", []) if isinstance(entry, dict) and "S" in entry)


def _delivery_history(item: Mapping[str, Any]) -> list[HistoryEntry]:
    entries = []
    for entry in item.get("events", {}).get("L", []):
        fields_ = entry.get("M", {})
        state = DELIVERY_STATES.get(_string(fields_, "type") or "")
        created = _string(fields_, "createdAt")
        if state is None or created is None:
            continue
        try:
            at = dt.datetime.fromisoformat(created).timestamp()
        except ValueError:
            continue
        entries.append(HistoryEntry(state, at, detail=_string(fields_, "detail")))
    return entries


def _submission(item: Mapping[str, Any], delivery: Mapping[str, Any] | None) -> ArchivedSubmission | None:
    """An archive item (and the delivery item of its email) as an :class:`ArchivedSubmission`; ``None`` if
    it lacks what every archive item has (not one of ours)."""
    required = [_string(item, name) for name in ("submissionId", "idempotencyKey", "state", "name", "email")]
    identifier, key, state, name, email = required
    message = _string(item, "message")
    if identifier is None or key is None or state is None or name is None or email is None or message is None:
        return None
    history = [
        HistoryEntry(
            _string(entry.get("M", {}), "state") or "?",
            _number(entry.get("M", {}), "at"),
            _reasons(entry.get("M", {}).get("reasons")),
        )
        for entry in item.get("history", {}).get("L", [])
    ]
    if delivery is not None:
        history += _delivery_history(delivery)
    history.sort(key=lambda h: h.at)
    current = state
    if state in ("sent", "released") and history and history[-1].state in DELIVERY_STATES.values():
        current = history[-1].state
    return ArchivedSubmission(
        submission_id=identifier,
        idempotency_key=key,
        request_id=_string(item, "requestId") or "",
        state=current,
        reasons=_reasons(item.get("reasons")),
        received_at=_number(item, "receivedAt"),
        updated_at=_number(item, "updatedAt"),
        expires_at=_number(item, TTL_ATTRIBUTE),
        source=_string(item, "source") or "unknown",
        name=name,
        email=email,
        subject=_string(item, "subject"),
        message=message,
        email_id=_string(item, "emailId"),
        history=tuple(history),
    )


def _live(item: Mapping[str, Any], now: float) -> bool:
    # DynamoDB deletes expired items lazily (within about 48 hours): readers check the TTL themselves.
    return _number(item, TTL_ATTRIBUTE, default=float("inf")) > now


def scan_submissions(
    client: DynamoDBClient, table: str, *, now: float, state: str | None = None, since: float | None = None
) -> list[ArchivedSubmission]:
    """Every live archived submission, newest first, optionally only in ``state`` or received since ``since``."""
    archive: list[dict[str, Any]] = []
    deliveries: dict[str, dict[str, Any]] = {}
    for item in _scan(client, table, (RECORD_PREFIX, "delivery#")):
        if not _live(item, now):
            continue
        key = item[PARTITION_KEY]["S"]
        if key.startswith(RECORD_PREFIX):
            archive.append(item)
        elif (email_id := _string(item, "emailId")) is not None:
            deliveries[email_id] = item
    found = []
    for item in archive:
        email_id = _string(item, "emailId")
        submission = _submission(item, deliveries.get(email_id) if email_id else None)
        if submission is None:
            continue
        if state is not None and submission.state != state:
            continue
        if since is not None and submission.received_at < since:
            continue
        found.append(submission)
    return sorted(found, key=lambda s: s.received_at, reverse=True)


def find_submission(client: DynamoDBClient, table: str, identifier: str, *, now: float) -> ArchivedSubmission | None:
    """The archived submission ``identifier`` (a normalised id), or ``None``. Two strongly consistent ``GetItem``."""
    item = client.get_item(
        TableName=table, Key={PARTITION_KEY: {"S": RECORD_PREFIX + identifier}}, ConsistentRead=True
    ).get("Item")
    if item is None or not _live(item, now):
        return None
    delivery = None
    email_id = _string(item, "emailId")
    if email_id is not None:
        delivery = client.get_item(
            TableName=table, Key={PARTITION_KEY: {"S": f"delivery#{email_id}"}}, ConsistentRead=True
        ).get("Item")
    return _submission(item, delivery)


# --- export ------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id",
    "state",
    "reasons",
    "receivedAt",
    "updatedAt",
    "source",
    "name",
    "email",
    "subject",
    "message",
    "requestId",
    "idempotencyKey",
    "emailId",
)


def neutralise_cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run: one starting with ``= + - @``, a tab or a CR gets a leading ``'``.

    >>> neutralise_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    """
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value


def export_csv(submissions: Iterable[ArchivedSubmission], *, reveal: bool) -> str:
    """The submissions as RFC 4180 CSV (header row first), every cell neutralised against formula injection."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for submission in submissions:
        document = submission.to_json(reveal=reveal)
        row = []
        for column in CSV_COLUMNS:
            value = document.get(column)
            text = "; ".join(value) if isinstance(value, list) else "" if value is None else str(value)
            row.append(neutralise_cell(text))
        writer.writerow(row)
    return buffer.getvalue()


def export_jsonl(submissions: Iterable[ArchivedSubmission], *, reveal: bool) -> str:
    """The submissions as JSON Lines, one object per line, with their history."""
    return "".join(json.dumps(s.to_json(reveal=reveal, history=True), ensure_ascii=False) + "\n" for s in submissions)


# --- erasure -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What :func:`erase_address` deleted, by partition key."""

    archive: tuple[str, ...]
    ledger: tuple[str, ...]
    deliveries: tuple[str, ...]
    webhook_markers: tuple[str, ...]

    @property
    def total(self) -> int:
        """How many items were deleted."""
        return len(self.archive) + len(self.ledger) + len(self.deliveries) + len(self.webhook_markers)


def erase_address(client: DynamoDBClient, table: str, address: str) -> ErasureReport:
    """Delete every item of ``address`` (case-insensitive): archive items, their ledger records, the delivery
    records and webhook markers of their emails. Idempotent: a second run deletes nothing.

    Expired items not yet deleted by DynamoDB are erased too: the TTL is not an erasure.
    """
    normalised = address.strip().lower()
    archive_keys: list[str] = []
    ledger_keys: list[str] = []
    email_ids: set[str] = set()
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="begins_with(#pk, :archive) AND emailNormalized = :address",
        ExpressionAttributeNames={"#pk": PARTITION_KEY},
        ExpressionAttributeValues={":archive": {"S": RECORD_PREFIX}, ":address": {"S": normalised}},
    )
    for page in pages:
        for item in page.get("Items", []):
            archive_keys.append(item[PARTITION_KEY]["S"])
            if (key := _string(item, "idempotencyKey")) is not None:
                ledger_keys.append(f"submission#{key}")
            for entry in item.get("history", {}).get("L", []):
                if (email_id := _string(entry.get("M", {}), "emailId")) is not None:
                    email_ids.add(email_id)
            if (email_id := _string(item, "emailId")) is not None:
                email_ids.add(email_id)
    ledger_found = []
    for key in ledger_keys:
        record = client.get_item(TableName=table, Key={PARTITION_KEY: {"S": key}}, ConsistentRead=True).get("Item")
        if record is None:
            continue
        ledger_found.append(key)
        if (email_id := _string(record, "emailId")) is not None:
            email_ids.add(email_id)
    delivery_keys = [f"delivery#{email_id}" for email_id in sorted(email_ids)]
    markers = _webhook_markers(client, table, email_ids)
    deleted_deliveries = [key for key in delivery_keys if _delete(client, table, key)]
    for key in [*ledger_found, *markers, *archive_keys]:
        _delete(client, table, key)
    return ErasureReport(
        archive=tuple(sorted(archive_keys)),
        ledger=tuple(sorted(ledger_found)),
        deliveries=tuple(deleted_deliveries),
        webhook_markers=tuple(sorted(markers)),
    )


def _webhook_markers(client: DynamoDBClient, table: str, email_ids: set[str]) -> list[str]:
    if not email_ids:
        return []
    markers = []
    for item in _scan(client, table, ("webhook#",)):
        if _string(item, "emailId") in email_ids:
            markers.append(item[PARTITION_KEY]["S"])
    return markers


def _delete(client: DynamoDBClient, table: str, key: str) -> bool:
    """Delete ``key``; whether an item was there."""
    response = client.delete_item(TableName=table, Key={PARTITION_KEY: {"S": key}}, ReturnValues="ALL_OLD")
    return bool(response.get("Attributes"))


# --- release -----------------------------------------------------------------------------------


class ReleaseRefused(Exception):  # noqa: N818 - reads as what happened to the request
    """The submission cannot be released (unknown, not spam, already released or being released)."""


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    """A released submission: its id and the provider's email id."""

    submission_id: str
    email_id: str


def release_submission(
    client: DynamoDBClient,
    table: str,
    identifier: str,
    *,
    delivery: Delivery,
    now: float,
) -> ReleaseResult:
    """Send the spam-judged or parked submission ``identifier`` now, once, through the one delivery path.

    It is recomposed from today's Resend config (an operator releases a parked submission after fixing
    its cause) under a key derived from its first, and its record moves to ``released`` (spam) or
    ``sent`` (parked), noting the new key. Once: a conditional write claims the record first (its
    state, no earlier claim), so two operators cannot both send it; if sending fails the claim is
    removed and the error raised. Raises :class:`ReleaseRefused`.
    """
    from botocore.exceptions import ClientError  # noqa: PLC0415 - boto is loaded by now

    submission = find_submission(client, table, identifier, now=now)
    if submission is None:
        raise ReleaseRefused(f"no submission {identifier} in the archive (unknown, expired or erased)")
    raw = client.get_item(
        TableName=table, Key={PARTITION_KEY: {"S": RECORD_PREFIX + identifier}}, ConsistentRead=True
    ).get("Item", {})
    record = view_of(raw)
    stored_state = _string(raw, "state")
    if record is None or stored_state is None:
        raise ReleaseRefused(f"submission {identifier} has no readable record")
    if stored_state == "released":
        raise ReleaseRefused(f"submission {identifier} was already released (email {submission.email_id})")
    if stored_state not in ("spam", "parked"):
        raise ReleaseRefused(f"submission {identifier} is {stored_state}, not spam or parked: it was not held back")
    if stored_state == "spam" and submission.email_id is not None:
        # The same text was sent before and judged spam when it came again: it reached the owner already.
        raise ReleaseRefused(f"submission {identifier} was already sent as email {submission.email_id}")
    key_ = {PARTITION_KEY: {"S": RECORD_PREFIX + identifier}}
    try:
        client.update_item(
            TableName=table,
            Key=key_,
            UpdateExpression="SET releaseClaimedAt = :now",
            ConditionExpression="#state = :state AND attribute_not_exists(releaseClaimedAt)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":now": {"N": repr(float(now))}, ":state": {"S": stored_state}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        raise ReleaseRefused(
            f"submission {identifier} is already being released (claimed at "
            f"{_iso(_number(raw, 'releaseClaimedAt'))}); if that run failed before recording it, check the "
            "inbox: Resend's idempotency key kept a second email from going out"
        ) from None
    try:
        email_id = delivery.release(submission.to_submission(), record)
    except BaseException:
        client.update_item(TableName=table, Key=key_, UpdateExpression="REMOVE releaseClaimedAt")
        raise
    client.update_item(TableName=table, Key=key_, UpdateExpression="REMOVE releaseClaimedAt")
    return ReleaseResult(identifier, email_id)
