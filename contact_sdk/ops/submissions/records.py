"""Operator logic behind ``contact-sdk submissions``: read, export, release and erase archived submissions.

Functions over a DynamoDB client (boto3, or moto in tests); the command module parses arguments and
prints. Nothing here scans the table: every read goes through a key or one of the table's two sparse,
keys-only indexes (:mod:`contact_sdk.dynamo`), so what a command reads grows with what it returns, not
with the table.

**Listing and exporting** (:func:`iter_submissions`) query the time index, ``archive-by-state``
(partition key ``state``, sort key ``receivedAt``): one ``Query`` per state asked for, each reading
only the range, newest or oldest first in key order (``ScanIndexForward``), merged into one order
(:func:`heapq.merge`) and fetched a hundred records at a time with ``BatchGetItem``, together with the
delivery records of their emails (joined by email id, so an archived ``sent`` submission shows
``delivered`` once Resend said so). It is a generator: memory holds one page per state and one batch,
whatever the range holds, and the writers (:func:`write_csv`, :func:`write_jsonl`) write row by row.

**Showing** (:func:`find_submission`) is two strongly consistent ``GetItem``: the record, and the
delivery record of its email.

**Erasure** (:func:`erase_address`) queries the address index, ``archive-by-email`` (partition key
``emailNormalized``), reads each record it names (``GetItem``), and from the records the ledger items
of their idempotency keys and the delivery records of their emails, whose events name the webhook
markers (``webhook#<svix id>``, each event's ``svixId``). It deletes markers, delivery records, ledger
items and the records last, so an erasure cut short can run again and still find everything. A keyed
hash of the address would spare nothing: the archive keeps the address in clear because ``release``
and ``show --reveal`` need it.

Both indexes are eventually consistent (DynamoDB updates a global secondary index within a fraction of
a second of the write): a submission that arrives while a command runs may be missing from its answer.

Example::

    dynamodb = boto3.client("dynamodb")
    for submission in iter_submissions(dynamodb, "contact-prod", now=time.time(), state="spam"):
        print(submission.submission_id, submission.state)
    erase_address(dynamodb, "contact-prod", "ada@example.org")
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from contact_sdk.dynamo import EMAIL_INDEX, PARTITION_KEY, TIME_INDEX, TTL_ATTRIBUTE
from contact_sdk.models import ContactSubmission
from contact_sdk.ops.outbox.queue import mask_email
from contact_sdk.record import RECORD_PREFIX, SUBMISSION_ID_LENGTH, RecordState, submission_id, view_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from contact_sdk.delivery import Delivery

__all__ = [
    "BATCH_SIZE",
    "DELIVERY_STATES",
    "PAGE_SIZE",
    "STATES",
    "ArchiveUnreadable",
    "ArchivedSubmission",
    "ErasureReport",
    "HistoryEntry",
    "ReleaseRefused",
    "ReleaseResult",
    "RequeueRefused",
    "erase_address",
    "find_submission",
    "iter_submissions",
    "neutralise_cell",
    "normalise_id",
    "parse_since",
    "parse_until",
    "release_submission",
    "requeue_submission",
    "stored_states",
    "write_csv",
    "write_json_array",
    "write_jsonl",
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
#: Index keys per ``Query`` page: what one state's stream holds in memory at most.
PAGE_SIZE = 1000
#: Records per ``BatchGetItem`` (DynamoDB's most): what one batch holds in memory at most.
BATCH_SIZE = 100
#: Tries of a ``BatchGetItem`` whose keys DynamoDB left unprocessed (throttled) before giving up.
_BATCH_TRIES = 8

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

    Raises ``ValueError`` naming the accepted forms, or saying the time is in the future.
    """
    since = _parse_time(value, now=now)
    if since > now:
        raise ValueError(f"{value!r} is in the future")
    return since


def parse_until(value: str, *, now: float) -> float:
    """Epoch seconds from ``--until`` (the end of the range, not included): the forms of :func:`parse_since`.

    A time in the future is allowed (``--until 2026-12-01`` on the last day of November means "up to now").
    Raises ``ValueError`` naming the accepted forms.
    """
    return _parse_time(value, now=now)


def _parse_time(value: str, *, now: float) -> float:
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
    return parsed.timestamp()


# --- reading -----------------------------------------------------------------------------------


class ArchiveUnreadable(Exception):  # noqa: N818 - reads as what the operator is told
    """DynamoDB kept refusing part of a read (throttled ``BatchGetItem`` keys, after every retry)."""


def _string(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def _number(item: Mapping[str, Any], name: str, default: float = 0.0) -> float:
    try:
        return float(item[name]["N"])
    except (KeyError, TypeError, ValueError):
        return default


def _decimal(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


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


def stored_states(state: str | None) -> tuple[str, ...]:
    """The record states whose part of the time index holds the submissions listed as ``state`` (``None``: all).

    A delivery state is derived from the webhooks, so it is looked for among the states that sent an email.

    >>> stored_states("delivered")
    ('sent', 'released')
    """
    if state is None:
        return tuple(s.value for s in RecordState)
    if state in DELIVERY_STATES.values():
        return (RecordState.SENT.value, RecordState.RELEASED.value)
    if state not in STATES:
        raise ValueError(f"{state!r} is not a state (expected one of {', '.join(STATES)})")
    return (state,)


def _index_keys(
    client: DynamoDBClient,
    table: str,
    state: str,
    *,
    since: float | None,
    until: float | None,
    newest_first: bool,
    page_size: int,
) -> Iterator[tuple[float, str]]:
    """``(receivedAt, pk)`` of the records in ``state`` received in ``[since, until)``, in order, one page at a time."""
    names = {"#state": "state"}
    values: dict[str, Any] = {":state": {"S": state}}
    condition = "#state = :state"
    if since is not None and until is not None:
        # BETWEEN includes its upper bound: the float just below ``until`` makes it [since, until). Every writer
        # stores a float's shortest spelling, and those sort as the floats do, so nothing at ``until`` is read.
        condition += " AND receivedAt BETWEEN :since AND :last"
        values.update({":since": _decimal(since), ":last": _decimal(math.nextafter(until, -math.inf))})
    elif since is not None:
        condition += " AND receivedAt >= :since"
        values[":since"] = _decimal(since)
    elif until is not None:
        condition += " AND receivedAt < :until"
        values[":until"] = _decimal(until)
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": TIME_INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not newest_first,
        "Limit": page_size,
    }
    while True:
        page = client.query(**request)
        for entry in page.get("Items", []):
            received = _number(entry, "receivedAt")
            if until is not None and received >= until:
                continue
            yield received, entry[PARTITION_KEY]["S"]
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _batches(keys: Iterable[tuple[float, str]], size: int) -> Iterator[list[str]]:
    """The partition keys in order, ``size`` at a time, each once per batch.

    A record that changed state while it was being listed is in two states' pages, with the same time and
    key, so the merge puts the two side by side; ``BatchGetItem`` refuses a key twice in one request.
    """
    batch: list[str] = []
    seen: set[str] = set()
    previous: str | None = None  # the last key of the batch before, for a pair split between two batches
    for _, key in keys:
        if key in seen or key == previous:
            continue
        seen.add(key)
        previous = key
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch, seen = [], set()
    if batch:
        yield batch


def _batch_get(
    client: DynamoDBClient, table: str, keys: Sequence[str], *, sleep: Callable[[float], None]
) -> dict[str, dict[str, Any]]:
    """The items of ``keys`` (at most :data:`BATCH_SIZE`) that exist, by partition key; unprocessed keys retried."""
    found: dict[str, dict[str, Any]] = {}
    pending: list[dict[str, Any]] = [{PARTITION_KEY: {"S": key}} for key in keys]
    for attempt in range(_BATCH_TRIES):
        if not pending:
            return found
        if attempt:
            sleep(min(0.05 * 2**attempt, 2.0))
        response: Any = client.batch_get_item(RequestItems={table: {"Keys": pending}})
        for item in response.get("Responses", {}).get(table, []):
            found[item[PARTITION_KEY]["S"]] = dict(item)
        pending = list(response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
    if pending:
        raise ArchiveUnreadable(
            f"DynamoDB left {len(pending)} of {len(keys)} keys unread after {_BATCH_TRIES} tries (throttled); "
            "run the command again"
        )
    return found


def iter_submissions(
    client: DynamoDBClient,
    table: str,
    *,
    now: float,
    state: str | None = None,
    since: float | None = None,
    until: float | None = None,
    newest_first: bool = True,
    page_size: int = PAGE_SIZE,
    batch_size: int = BATCH_SIZE,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[ArchivedSubmission]:
    """The live archived submissions received in ``[since, until)`` (either open), optionally only in ``state``,
    newest first (or oldest first), read lazily: see the module docstring.

    ``page_size`` index keys per ``Query`` and ``batch_size`` records per ``BatchGetItem`` (1 to 100) bound what
    is held in memory; ``sleep`` waits between the tries of keys DynamoDB left unprocessed.

    Raises ``ValueError`` at once when ``since`` is after ``until`` or ``state`` is unknown, and
    :class:`ArchiveUnreadable` (and botocore's errors) while iterating.
    """
    if since is not None and until is not None and since > until:
        raise ValueError("the range starts after it ends (since is later than until)")
    if not 1 <= batch_size <= BATCH_SIZE or page_size < 1:
        raise ValueError(f"batch_size must be 1 to {BATCH_SIZE} and page_size at least 1")
    if since is not None and until is not None and since == until:
        return iter(())  # an empty range: nothing to read
    streams = [
        _index_keys(client, table, stored, since=since, until=until, newest_first=newest_first, page_size=page_size)
        for stored in stored_states(state)
    ]
    keys = heapq.merge(*streams, reverse=newest_first)
    return _joined(client, table, _batches(keys, batch_size), now=now, state=state, sleep=sleep)


def _joined(
    client: DynamoDBClient,
    table: str,
    batches: Iterator[list[str]],
    *,
    now: float,
    state: str | None,
    sleep: Callable[[float], None],
) -> Iterator[ArchivedSubmission]:
    """The records of each batch of keys, in their order, with their delivery records."""
    for batch in batches:
        items = _batch_get(client, table, batch, sleep=sleep)
        email_ids = {email_id for item in items.values() if (email_id := _string(item, "emailId")) is not None}
        deliveries = _batch_get(client, table, [f"delivery#{email_id}" for email_id in sorted(email_ids)], sleep=sleep)
        for key in batch:
            item = items.get(key)
            if item is None or not _live(item, now):  # erased or expired since the index was read
                continue
            email_id = _string(item, "emailId")
            delivery = deliveries.get(f"delivery#{email_id}") if email_id else None
            submission = _submission(item, delivery if delivery is not None and _live(delivery, now) else None)
            if submission is None or (state is not None and submission.state != state):
                continue
            yield submission


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


def write_csv(submissions: Iterable[ArchivedSubmission], stream: TextIO, *, reveal: bool) -> int:
    """Write the submissions to ``stream`` as RFC 4180 CSV (header row first), one row as each arrives, every cell
    neutralised against formula injection; how many rows."""
    writer = csv.writer(stream, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for submission in submissions:
        document = submission.to_json(reveal=reveal)
        row = []
        for column in CSV_COLUMNS:
            value = document.get(column)
            text = "; ".join(value) if isinstance(value, list) else "" if value is None else str(value)
            row.append(neutralise_cell(text))
        writer.writerow(row)
        count += 1
    return count


def write_jsonl(submissions: Iterable[ArchivedSubmission], stream: TextIO, *, reveal: bool) -> int:
    """Write the submissions to ``stream`` as JSON Lines, one object with its history per line; how many."""
    count = 0
    for submission in submissions:
        stream.write(json.dumps(submission.to_json(reveal=reveal, history=True), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_json_array(documents: Iterable[Mapping[str, Any]], stream: TextIO) -> int:
    """Write ``documents`` as one JSON array, indented like ``json.dumps(..., indent=2)``, one element at a time;
    how many."""
    count = 0
    for document in documents:
        element = json.dumps(document, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        stream.write(("[\n  " if not count else ",\n  ") + element)
        count += 1
    stream.write("\n]\n" if count else "[]\n")
    return count


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


def _address_keys(client: DynamoDBClient, table: str, normalised: str) -> Iterator[str]:
    """The partition keys of the records of ``normalised``, from the address index."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": EMAIL_INDEX,
        "KeyConditionExpression": "emailNormalized = :address",
        "ExpressionAttributeValues": {":address": {"S": normalised}},
    }
    while True:
        page = client.query(**request)
        for entry in page.get("Items", []):
            yield entry[PARTITION_KEY]["S"]
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _get(client: DynamoDBClient, table: str, key: str) -> dict[str, Any] | None:
    item = client.get_item(TableName=table, Key={PARTITION_KEY: {"S": key}}, ConsistentRead=True).get("Item")
    return None if item is None else dict(item)


def erase_address(client: DynamoDBClient, table: str, address: str) -> ErasureReport:
    """Delete every item of ``address`` (case-insensitive): its records, their ledger items, the delivery records
    and webhook markers of their emails. Reads and writes only those (see the module docstring). Idempotent: a
    second run deletes nothing.

    Expired items not yet deleted by DynamoDB are erased too: the TTL is not an erasure.
    """
    normalised = address.strip().lower()
    archive_keys: list[str] = []
    ledger_keys: list[str] = []
    email_ids: set[str] = set()
    for key in _address_keys(client, table, normalised):
        item = _get(client, table, key)
        if item is None or _string(item, "emailNormalized") != normalised:  # gone, or the index is behind
            continue
        archive_keys.append(key)
        for idempotency_key in {_string(item, "idempotencyKey"), *_list_strings(item.get("keys"))} - {None}:
            ledger_keys.append(f"submission#{idempotency_key}")
        for entry in item.get("history", {}).get("L", []):
            if (email_id := _string(entry.get("M", {}), "emailId")) is not None:
                email_ids.add(email_id)
        if (email_id := _string(item, "emailId")) is not None:
            email_ids.add(email_id)
    ledger_found = []
    for key in sorted(set(ledger_keys)):
        record = _get(client, table, key)
        if record is None:
            continue
        ledger_found.append(key)
        if (email_id := _string(record, "emailId")) is not None:
            email_ids.add(email_id)
    delivery_keys = []
    markers_of: dict[str, str] = {}  # marker key -> the email id its event is about
    for email_id in sorted(email_ids):
        delivery = _get(client, table, f"delivery#{email_id}")
        if delivery is None:
            continue
        delivery_keys.append(f"delivery#{email_id}")
        for event in delivery.get("events", {}).get("L", []):
            if (svix_id := _string(event.get("M", {}), "svixId")) is not None:
                markers_of[f"webhook#{svix_id}"] = email_id
    # Markers first (found only through their delivery record), the records last (they lead to everything else).
    markers = [key for key, email_id in sorted(markers_of.items()) if _delete_marker(client, table, key, email_id)]
    deliveries = [key for key in delivery_keys if _delete(client, table, key)]
    for key in [*ledger_found, *archive_keys]:
        _delete(client, table, key)
    return ErasureReport(
        archive=tuple(sorted(archive_keys)),
        ledger=tuple(ledger_found),
        deliveries=tuple(deliveries),
        webhook_markers=tuple(markers),
    )


def _list_strings(value: Mapping[str, Any] | None) -> set[str | None]:
    return {entry.get("S") for entry in (value or {}).get("L", []) if isinstance(entry, dict)}


def _delete(client: DynamoDBClient, table: str, key: str) -> bool:
    """Delete ``key``; whether an item was there."""
    response = client.delete_item(TableName=table, Key={PARTITION_KEY: {"S": key}}, ReturnValues="ALL_OLD")
    return bool(response.get("Attributes"))


def _delete_marker(client: DynamoDBClient, table: str, key: str, email_id: str) -> bool:
    """Delete the webhook marker ``key`` if it is about ``email_id``; whether one was deleted."""
    from botocore.exceptions import ClientError  # noqa: PLC0415 - boto is loaded by now

    try:
        response = client.delete_item(
            TableName=table,
            Key={PARTITION_KEY: {"S": key}},
            ConditionExpression="emailId = :email",
            ExpressionAttributeValues={":email": {"S": email_id}},
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False  # gone already, or about another email (svix ids are unique, so it cannot be): left alone
        raise
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


# --- redrive with a recomposed email -----------------------------------------------------------


class RequeueRefused(Exception):  # noqa: N818 - reads as what happened to the request
    """The submission has nothing to redrive (no record, or it was delivered or never held back)."""


def requeue_submission(
    client: DynamoDBClient, table: str, identifier: str, *, delivery: Delivery, now: float
) -> tuple[str, str]:
    """Put the parked or dead-lettered submission ``identifier`` back in the outbox, recomposed.

    For ``contact-sdk outbox redrive --recompose``: composed again from today's Resend config under a key
    derived from its first (:meth:`~contact_sdk.delivery.Delivery.requeue`); the record moves to
    ``queued`` noting the new key, so the old message, wherever it still is, is superseded. Returns
    ``(submission id, new key)``; raises :class:`RequeueRefused` (and the outbox's or config's errors).
    """
    submission = find_submission(client, table, identifier, now=now)
    raw = client.get_item(
        TableName=table, Key={PARTITION_KEY: {"S": RECORD_PREFIX + identifier}}, ConsistentRead=True
    ).get("Item", {})
    record = view_of(raw) if submission is not None else None
    if submission is None or record is None:
        raise RequeueRefused(
            f"no record of submission {identifier} (expired or erased): redrive it without --recompose"
        )
    if record.state in (RecordState.SENT, RecordState.RELEASED):
        raise RequeueRefused(f"submission {identifier} was delivered already (email {submission.email_id})")
    if record.state not in (RecordState.PARKED, RecordState.QUEUED):
        raise RequeueRefused(f"submission {identifier} is {record.state}, not parked or queued: nothing to redrive")
    queued = delivery.requeue(submission.to_submission(), record, reason="redriven by the operator, recomposed")
    return identifier, queued.idempotency_key
