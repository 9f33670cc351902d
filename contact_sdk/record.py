"""One record per submission: what became of it, from the first answer to the last replay.

The record is both what keeps one submission one email (a repeat within 24 hours is answered from
it, without calling Resend) and what the owner reviews, exports, releases and erases with
``contact-sdk submissions``. It replaces the idempotency ledger and the archive, which recorded the
same states twice and disagreed.

**States.** Every write is conditional on the state it moves from, so no state ever moves backwards::

    (no record) ──claim──► received ──────────────► sent ▪
         │                    │  │                   ▲  ▲
         │                    │  └──► queued ────────┘  │
         │                    │        │  ▲             │
         │                    │        ▼  │ redrive     │
         │                    └─────► parked ───────────┘
         │
         └──claim──► spam ──claim (a repeat judged legitimate)──► received
                       │
                       └──release (the operator sends it)──► released ▪

    ▪ final: nothing moves a record out of it. spam never overwrites anything but spam;
      a late "queued" never hides a "sent"; parked waits for the operator (redrive, release).

Allowed moves (:data:`MOVES`): ``received → sent | queued | parked``, ``queued → queued | sent |
parked``, ``parked → parked | queued | sent``, ``spam → spam | received | released``. A write whose
condition fails changes nothing and returns what the record says instead.

**Cycles.** The same submission (same normalised fields, so the same idempotency key and the same
record) coming back **more than 24 hours** after it was first accepted is a new message, as the
contract says: the claim starts a new *cycle* (``cycleStartedAt``), in which the state starts again
from ``received`` or ``spam``; the history keeps every cycle. A write of an older cycle (a message that
waited in the outbox for more than a day) never changes the new cycle's state: moves are conditional
on the cycle they belong to.

**The item** (DynamoDB, the service's table): partition key ``archive#<id>``, the id being the first
16 hex characters of the idempotency key (:func:`submission_id`), so items written by the archive
before the merge stay readable. It holds ``state``, ``reasons``, ``history`` (every state with its
time, reasons, request id and email id: a change of state, a handful per 24-hour cycle at most; a spam
verdict repeated by a bot does not grow it), ``idempotencyKey`` and
``keys`` (every key the email went out under: the first, and a derived one per recomposed resend),
``requestId``, ``receivedAt``, ``cycleStartedAt``, ``updatedAt``, ``claims`` (how often the submission came),
``source`` (the address reduced to
what the rate limit counts, :func:`source_prefix`), ``name``, ``email``, ``emailNormalized``,
``subject``, ``message``, ``emailId``, ``payload`` (while parked: the composed email, so the operator
can release or redrive it after the dead-letter queue's copy has expired) and ``expiresAt`` (the TTL).
``emailNormalized``, ``state`` and ``receivedAt`` are also the keys of the table's two indexes, through which
the operator's commands find records by address and by time (:mod:`contact_sdk.dynamo`): only records carry
all three, ``receivedAt`` is a number written once, and renaming any of them hides records from ``erase`` and ``list``.

**Retention** counts from the last change: ``CONTACT_ARCHIVE_DAYS`` (30), ``CONTACT_ARCHIVE_SPAM_DAYS``
(7) for spam, and at least :data:`PARKED_DAYS` (14, the dead-letter queue's retention) while parked.

A store that cannot be asked raises :class:`RecordUnavailable`; the caller's answer to the visitor
does not change (a gap, logged and counted ``ArchiveWriteFailed``; Resend's idempotency key still
makes a repeat one email).

Example::

    records = DynamoDBSubmissionRecords(dynamodb, "contact-prod")
    claim = records.claim(Draft.of(submission, key=key, request_id=rid, client_ip=ip, state=RecordState.RECEIVED,
                                   now=time.time()))
    records.move(key, RecordState.SENT, cycle=claim.record.cycle, email_id="re_123", now=time.time())

Errors::

    ContactSdkError
    └── RecordUnavailable       the record could not be read or written (DynamoDB refused or unreachable)
"""

from __future__ import annotations

import enum
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from contact_sdk.deadline import Deadline, within
from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ContactSdkError
from contact_sdk.security.ratelimit import DEFAULT_IPV6_PREFIX, address_unit

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from contact_sdk.models import ContactSubmission

__all__ = [
    "CYCLE_SECONDS",
    "DEFAULT_ARCHIVE_DAYS",
    "DEFAULT_SPAM_DAYS",
    "MOVES",
    "PARKED_DAYS",
    "RECORD_PREFIX",
    "SUBMISSION_ID_LENGTH",
    "Claim",
    "Draft",
    "DynamoDBSubmissionRecords",
    "InMemorySubmissionRecords",
    "RecordState",
    "RecordUnavailable",
    "RecordView",
    "SubmissionRecords",
    "source_prefix",
    "submission_id",
]

#: Partition-key prefix of the records (the archive's, so earlier items stay readable).
RECORD_PREFIX = "archive#"
DEFAULT_ARCHIVE_DAYS = 30
DEFAULT_SPAM_DAYS = 7
#: A parked submission is kept at least as long as the dead-letter queue keeps its copy.
PARKED_DAYS = 14
#: The same submission within this long of its first acceptance is the same message (one email).
CYCLE_SECONDS = 24 * 3600
#: Length of a submission id: 16 hex characters (64 bits) of the idempotency key.
SUBMISSION_ID_LENGTH = 16
_MAX_REASON_LENGTH = 300
_DAY = 86400


class RecordUnavailable(ContactSdkError):  # noqa: N818 - reads as a state, like the guards' *Unavailable errors
    """The submission's record could not be read or written; the submission itself goes on."""


class RecordState(enum.StrEnum):
    """Where a submission stands. Delivery events (delivered, bounced...) come from the webhooks."""

    RECEIVED = "received"
    SENT = "sent"
    QUEUED = "queued"
    PARKED = "parked"
    SPAM = "spam"
    RELEASED = "released"


#: Every allowed move: ``MOVES[from]`` is the set of states a write may set; a final state has none.
MOVES: Mapping[RecordState, frozenset[RecordState]] = {
    RecordState.RECEIVED: frozenset({RecordState.SENT, RecordState.QUEUED, RecordState.PARKED}),
    RecordState.QUEUED: frozenset({RecordState.QUEUED, RecordState.SENT, RecordState.PARKED}),
    RecordState.PARKED: frozenset({RecordState.PARKED, RecordState.QUEUED, RecordState.SENT}),
    RecordState.SPAM: frozenset({RecordState.SPAM, RecordState.RECEIVED, RecordState.RELEASED}),
    RecordState.SENT: frozenset(),
    RecordState.RELEASED: frozenset(),
}
#: What a claim may find and take over: nothing, or spam (a repeat judged legitimate, or spam again).
_CLAIMABLE = frozenset({RecordState.SPAM})


def submission_id(idempotency_key: str) -> str:
    """The record id of the submission with ``idempotency_key`` (``contact-<64 hex>``): its first 16 hex digits.

    A key derived for a recomposed resend (``contact-<64 hex>.r1``) belongs to the same record.

    >>> submission_id("contact-" + "ab" * 32)
    'abababababababab'
    >>> submission_id("contact-" + "ab" * 32 + ".r2")
    'abababababababab'
    """
    digest = idempotency_key.removeprefix("contact-")
    return digest[:SUBMISSION_ID_LENGTH]


def source_prefix(client_ip: str, *, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """The source address as the rate limit counts it (:func:`~contact_sdk.security.ratelimit.address_unit`).

    An IPv4 address, or the ``/ipv6_prefix`` of an IPv6 one (the limits' ``CONTACT_RATE_LIMIT_IPV6_PREFIX``);
    an IPv4-mapped IPv6 address is its IPv4 address. Anything that is not an address is ``"unknown"``
    (API Gateway always gives one; the record must not store whatever text arrived instead).

    >>> source_prefix("2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    '2001:db8:1:2::/64'
    >>> source_prefix("2001:db8:1:2:aaaa:bbbb:cccc:dddd", ipv6_prefix=48)
    '2001:db8:1::/48'
    """
    return address_unit(client_ip, ipv6_prefix=ipv6_prefix) or "unknown"


@dataclass(frozen=True, slots=True)
class RecordView:
    """What a record says now."""

    submission_id: str
    idempotency_key: str
    state: RecordState
    cycle: int
    email_id: str | None = None
    keys: tuple[str, ...] = ()
    #: While parked: the composed email (JSON) and the key it goes out under.
    payload: str | None = None
    reasons: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        """Whether nothing can move this record any more (in this cycle)."""
        return not MOVES[self.state]


@dataclass(frozen=True, slots=True)
class Draft:
    """A record about to be claimed: the validated submission, its verdict (``received`` or ``spam``), when."""

    key: str
    state: RecordState
    now: float
    request_id: str
    source: str
    name: str
    email: str
    subject: str | None
    message: str
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        submission: ContactSubmission,
        *,
        key: str,
        request_id: str,
        client_ip: str,
        state: RecordState,
        now: float,
        reasons: Sequence[str] = (),
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
    ) -> Draft:
        """The draft of ``submission`` as the intake judged it; its source reduced as the rate limits count."""
        if state not in (RecordState.RECEIVED, RecordState.SPAM):
            raise ValueError(f"a record is claimed as received or spam, not {state}")
        return cls(
            key=key,
            state=state,
            now=now,
            request_id=request_id,
            source=source_prefix(client_ip, ipv6_prefix=ipv6_prefix),
            name=submission.name,
            email=submission.email,
            subject=submission.subject,
            message=submission.message,
            reasons=tuple(reasons),
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim did: ``created`` (this request's record, in a new or restarted cycle), and the record."""

    created: bool
    record: RecordView


class SubmissionRecords(Protocol):
    """Where every submission's record is kept, changed only along :data:`MOVES`."""

    def claim(self, draft: Draft, *, deadline: Deadline | None = None) -> Claim:
        """Create the record (or restart it after 24 hours, or take over a spam verdict); else say what it holds.

        Raises :class:`RecordUnavailable`.
        """
        ...

    def get(self, key: str, *, deadline: Deadline | None = None) -> RecordView | None:
        """The record of ``key`` (any key it went out under), or ``None``. Raises :class:`RecordUnavailable`."""
        ...

    def move(
        self,
        key: str,
        to: RecordState,
        *,
        cycle: int | None,
        now: float,
        reasons: Sequence[str] = (),
        email_id: str | None = None,
        payload: str | None = None,
        new_key: str | None = None,
        request_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> RecordView | None:
        """Move the record to ``to`` if :data:`MOVES` allows it from its state (in ``cycle``, when given).

        Returns the record after the write, or what it holds instead when the move was refused (a
        final state, another cycle); ``None`` when there is no record. ``payload`` is kept while
        parked (and dropped on any other move); ``new_key`` is added to the record's keys (a
        recomposed resend). Raises :class:`RecordUnavailable`.
        """
        ...


def retention_days(state: RecordState, *, days: int, spam_days: int) -> int:
    """How long a record that moved to ``state`` is kept."""
    if state == RecordState.SPAM:
        return spam_days
    if state == RecordState.PARKED:
        return max(days, PARKED_DAYS)
    return days


def _history_entry(
    state: RecordState, now: float, *, reasons: Sequence[str], request_id: str | None, email_id: str | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"state": state.value, "at": now}
    if reasons:
        entry["reasons"] = [reason[:_MAX_REASON_LENGTH] for reason in reasons]
    if request_id is not None:
        entry["requestId"] = request_id
    if email_id is not None:
        entry["emailId"] = email_id
    return entry


# -- in memory -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Kept:
    view: RecordView
    history: list[dict[str, Any]] = field(default_factory=list)
    expires_at: float = 0.0


class InMemorySubmissionRecords:
    """The records in this process (a deployment without ``CONTACT_TABLE_NAME``, the local tools).

    Same moves and cycles as the table; nothing is shared with other execution environments and
    nothing outlives the process, so the operator commands have nothing to read.
    """

    def __init__(self, *, days: int = DEFAULT_ARCHIVE_DAYS, spam_days: int = DEFAULT_SPAM_DAYS) -> None:
        self.days = days
        self.spam_days = spam_days
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def claim(self, draft: Draft, *, deadline: Deadline | None = None) -> Claim:
        """See :meth:`SubmissionRecords.claim`."""
        identifier = submission_id(draft.key)
        with self._lock:
            kept = self._live(identifier, draft.now)
            if kept is not None and not _claimable(kept.view, draft.now):
                return Claim(created=False, record=kept.view)
            view = RecordView(
                submission_id=identifier,
                idempotency_key=draft.key,
                state=draft.state,
                cycle=math.floor(draft.now),
                keys=(draft.key,),
                reasons=draft.reasons,
            )
            history = kept.history if kept is not None else []
            if draft.state != RecordState.SPAM or not history:
                history.append(
                    _history_entry(
                        draft.state, draft.now, reasons=draft.reasons, request_id=draft.request_id, email_id=None
                    )
                )
            days = retention_days(draft.state, days=self.days, spam_days=self.spam_days)
            self._kept[identifier] = _Kept(view, history, draft.now + days * _DAY)
            return Claim(created=True, record=view)

    def get(self, key: str, *, deadline: Deadline | None = None) -> RecordView | None:
        """See :meth:`SubmissionRecords.get`. An expired record is dropped by its next claim or move (a read takes
        no time to judge expiry by), so it may be read until then."""
        with self._lock:
            kept = self._kept.get(submission_id(key))
            return None if kept is None else kept.view

    def move(
        self,
        key: str,
        to: RecordState,
        *,
        cycle: int | None,
        now: float,
        reasons: Sequence[str] = (),
        email_id: str | None = None,
        payload: str | None = None,
        new_key: str | None = None,
        request_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> RecordView | None:
        """See :meth:`SubmissionRecords.move`."""
        with self._lock:
            kept = self._live(submission_id(key), now)
            if kept is None:
                return None
            view = kept.view
            if to not in MOVES[view.state] or (cycle is not None and cycle != view.cycle):
                return view
            keys = view.keys if new_key is None or new_key in view.keys else (*view.keys, new_key)
            view = replace(
                view,
                state=to,
                email_id=email_id if email_id is not None else view.email_id,
                keys=keys,
                payload=payload if to == RecordState.PARKED else None,
                reasons=tuple(reasons),
            )
            kept.view = view
            kept.history.append(_history_entry(to, now, reasons=reasons, request_id=request_id, email_id=email_id))
            kept.expires_at = now + retention_days(to, days=self.days, spam_days=self.spam_days) * _DAY
            return view

    def history(self, key: str) -> list[dict[str, Any]]:
        """The record's history, oldest first (for the local tools)."""
        with self._lock:
            kept = self._kept.get(submission_id(key))
            return [] if kept is None else [dict(entry) for entry in kept.history]

    def _live(self, identifier: str, now: float) -> _Kept | None:
        kept = self._kept.get(identifier)
        if kept is not None and kept.expires_at <= now:
            del self._kept[identifier]
            return None
        return kept


def _claimable(view: RecordView, now: float) -> bool:
    return view.state in _CLAIMABLE or view.cycle + CYCLE_SECONDS <= now


# -- DynamoDB --------------------------------------------------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(float(value)) if not float(value).is_integer() else str(int(value))}


def _attribute(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A history entry as a DynamoDB map."""
    mapped: dict[str, Any] = {"state": _s(entry["state"]), "at": _n(entry["at"])}
    if entry.get("reasons"):
        mapped["reasons"] = {"L": [_s(reason) for reason in entry["reasons"]]}
    for name in ("requestId", "emailId"):
        if entry.get(name) is not None:
            mapped[name] = _s(entry[name])
    return {"M": mapped}


def view_of(item: Mapping[str, Any]) -> RecordView | None:
    """A record item as a :class:`RecordView`; ``None`` for an item that is not a whole record."""
    try:
        state = RecordState(item["state"]["S"])
        key = item["idempotencyKey"]["S"]
    except (KeyError, ValueError, TypeError):
        return None
    cycle_attribute = item.get("cycleStartedAt") or item.get("receivedAt") or item.get("updatedAt") or {"N": "0"}
    keys = tuple(entry["S"] for entry in item.get("keys", {}).get("L", []) if "S" in entry) or (key,)
    return RecordView(
        submission_id=item.get("submissionId", {}).get("S") or submission_id(key),
        idempotency_key=key,
        state=state,
        cycle=math.floor(float(cycle_attribute["N"])),
        email_id=item.get("emailId", {}).get("S"),
        keys=keys,
        payload=item.get("payload", {}).get("S"),
        reasons=tuple(entry["S"] for entry in item.get("reasons", {}).get("L", []) if "S" in entry),
    )


class DynamoDBSubmissionRecords:
    """The records in the service's table; see the module docstring for the item and the moves.

    Each claim and each move is **one** conditional ``UpdateItem`` (a claim can also be one part of the
    intake's admission transaction, :meth:`claim_write`); ``ReturnValuesOnConditionCheckFailure``
    returns what the record holds when a condition fails, so a refused write costs no second call.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        days: int = DEFAULT_ARCHIVE_DAYS,
        spam_days: int = DEFAULT_SPAM_DAYS,
    ) -> None:
        if days <= 0 or spam_days <= 0:
            raise ValueError("retention must be at least one day")
        self.client = client
        self.table_name = table_name
        self.days = days
        self.spam_days = spam_days

    # -- claim ---------------------------------------------------------------------------------

    def claim_write(self, draft: Draft) -> dict[str, Any]:
        """The claim as an ``Update`` for a ``TransactWriteItems`` (the admission transaction)."""
        return {"Update": self._claim_update(draft)}

    def claim_refused(self, draft: Draft, old: Mapping[str, Any] | None) -> Claim:
        """The claim's answer when its condition failed: the record as it was."""
        view = view_of(old or {})
        if view is None:  # a condition that failed on nothing readable: an item the claim may not touch
            raise RecordUnavailable(f"record {submission_id(draft.key)} refused the claim and is not readable")
        return Claim(created=False, record=view)

    def claim_granted(self, draft: Draft) -> Claim:
        """The claim's answer when it was written."""
        view = RecordView(
            submission_id=submission_id(draft.key),
            idempotency_key=draft.key,
            state=draft.state,
            cycle=math.floor(draft.now),
            keys=(draft.key,),
            reasons=draft.reasons,
        )
        return Claim(created=True, record=view)

    def claim(self, draft: Draft, *, deadline: Deadline | None = None) -> Claim:
        """See :meth:`SubmissionRecords.claim`: one conditional ``UpdateItem``."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        try:
            with within(deadline):
                self.client.update_item(**self._claim_update(draft))
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                item: Any = exc.response.get("Item")
                return self.claim_refused(draft, item)
            raise RecordUnavailable(f"record store ({self.table_name}) refused the claim: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise RecordUnavailable(f"record store ({self.table_name}) unreachable: {type(exc).__name__}") from exc
        return self.claim_granted(draft)

    def _claim_update(self, draft: Draft) -> dict[str, Any]:
        identifier = submission_id(draft.key)
        days = retention_days(draft.state, days=self.days, spam_days=self.spam_days)
        entry = _history_entry(
            draft.state, draft.now, reasons=draft.reasons, request_id=draft.request_id, email_id=None
        )
        names = {
            "#pk": PARTITION_KEY,
            "#state": "state",
            "#cycle": "cycleStartedAt",
            "#updated": "updatedAt",
            "#history": "history",
            "#reasons": "reasons",
            "#expires": TTL_ATTRIBUTE,
            "#source": "source",
            "#name": "name",
            "#email": "email",
            "#message": "message",
            "#subject": "subject",
            "#payload": "payload",
        }
        values: dict[str, Any] = {
            ":id": _s(identifier),
            ":key": _s(draft.key),
            ":keys": {"L": [_s(draft.key)]},
            ":request": _s(draft.request_id),
            ":now": _n(draft.now),
            ":cycle": _n(math.floor(draft.now)),
            ":stale": _n(draft.now - CYCLE_SECONDS),
            ":state": _s(draft.state.value),
            ":spam": _s(RecordState.SPAM.value),
            ":expires": {"N": str(math.ceil(draft.now + days * _DAY))},
            ":entry": {"L": [_attribute(entry)]},
            ":empty": {"L": []},
            ":one": {"N": "1"},
            ":source": _s(draft.source),
            ":name": _s(draft.name),
            ":email": _s(draft.email),
            ":normalized": _s(draft.email.strip().lower()),
            ":message": _s(draft.message),
        }
        if draft.reasons:
            values[":reasons"] = {"L": [_s(reason[:_MAX_REASON_LENGTH]) for reason in draft.reasons]}
        assignments = [
            "submissionId = :id",
            "idempotencyKey = :key",
            "#keys = :keys",
            "requestId = :request",
            "receivedAt = if_not_exists(receivedAt, :now)",
            "#cycle = :cycle",
            "#updated = :now",
            "#state = :state",
            "#expires = :expires",
            "#source = :source",
            "#name = :name",
            "#email = :email",
            "emailNormalized = :normalized",
            "#message = :message",
            # A spam verdict starts the history but a repeat of it does not grow it (a bot posts the same text
            # again and again): it counts in ``claims``. Every other entry is a change of state, a few a day at most.
            "#history = if_not_exists(#history, :entry)"
            if draft.state == RecordState.SPAM
            else "#history = list_append(if_not_exists(#history, :empty), :entry)",
        ]
        names["#keys"] = "keys"
        removals = ["#payload", "emailId"]
        if draft.reasons:
            assignments.append("#reasons = :reasons")
        else:
            removals.append("#reasons")
        if draft.subject:
            values[":subject"] = _s(draft.subject)
            assignments.append("#subject = :subject")
        else:
            removals.append("#subject")
        if draft.state == RecordState.SPAM:
            del values[":empty"]  # DynamoDB refuses a value the expressions do not use
        # New, restarted after 24 hours (or an item from before cycles, by its last change), or a spam verdict.
        condition = (
            "attribute_not_exists(#pk) OR #cycle <= :stale OR "
            "(attribute_not_exists(#cycle) AND #updated <= :stale) OR #state = :spam"
        )
        return {
            "TableName": self.table_name,
            "Key": {PARTITION_KEY: _s(RECORD_PREFIX + identifier)},
            "UpdateExpression": "SET " + ", ".join(assignments) + " REMOVE " + ", ".join(removals) + " ADD claims :one",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    # -- read ----------------------------------------------------------------------------------

    def get(self, key: str, *, deadline: Deadline | None = None) -> RecordView | None:
        """See :meth:`SubmissionRecords.get`: one strongly consistent ``GetItem``."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        try:
            with within(deadline):
                item = self.client.get_item(
                    TableName=self.table_name,
                    Key={PARTITION_KEY: _s(RECORD_PREFIX + submission_id(key))},
                    ConsistentRead=True,
                ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise RecordUnavailable(f"record store ({self.table_name}) unreadable: {type(exc).__name__}") from exc
        return None if item is None else view_of(item)

    # -- move ----------------------------------------------------------------------------------

    def move(
        self,
        key: str,
        to: RecordState,
        *,
        cycle: int | None,
        now: float,
        reasons: Sequence[str] = (),
        email_id: str | None = None,
        payload: str | None = None,
        new_key: str | None = None,
        request_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> RecordView | None:
        """See :meth:`SubmissionRecords.move`: one ``UpdateItem`` conditional on the states that may move to ``to``."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        sources = sorted(state.value for state, targets in MOVES.items() if to in targets)
        days = retention_days(to, days=self.days, spam_days=self.spam_days)
        entry = _history_entry(to, now, reasons=reasons, request_id=request_id, email_id=email_id)
        names = {
            "#pk": PARTITION_KEY,
            "#state": "state",
            "#updated": "updatedAt",
            "#history": "history",
            "#reasons": "reasons",
            "#expires": TTL_ATTRIBUTE,
        }
        values: dict[str, Any] = {
            ":state": _s(to.value),
            ":now": _n(now),
            ":expires": {"N": str(math.ceil(now + days * _DAY))},
            ":entry": {"L": [_attribute(entry)]},
            ":empty": {"L": []},
        }
        sets = [
            "#state = :state",
            "#updated = :now",
            "#expires = :expires",
            "#history = list_append(if_not_exists(#history, :empty), :entry)",
        ]
        removals: list[str] = []
        if reasons:
            values[":reasons"] = {"L": [_s(reason[:_MAX_REASON_LENGTH]) for reason in reasons]}
            sets.append("#reasons = :reasons")
        else:
            removals.append("#reasons")
        if email_id is not None:
            values[":emailId"] = _s(email_id)
            sets.append("emailId = :emailId")
        if to == RecordState.PARKED and payload is not None:
            names["#payload"] = "payload"
            values[":payload"] = _s(payload)
            sets.append("#payload = :payload")
        elif to != RecordState.PARKED:
            names["#payload"] = "payload"
            removals.append("#payload")
        if new_key is not None:
            names["#keys"] = "keys"
            values[":newKey"] = {"L": [_s(new_key)]}
            sets.append("#keys = list_append(if_not_exists(#keys, :empty), :newKey)")
        placeholders = []
        for index, source in enumerate(sources):
            values[f":from{index}"] = _s(source)
            placeholders.append(f":from{index}")
        condition = f"attribute_exists(#pk) AND #state IN ({', '.join(placeholders)})"
        if cycle is not None:
            names["#cycle"] = "cycleStartedAt"
            values[":cycle"] = _n(cycle)
            condition += " AND (#cycle = :cycle OR attribute_not_exists(#cycle))"
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removals) if removals else "")
        try:
            with within(deadline):
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key={PARTITION_KEY: _s(RECORD_PREFIX + submission_id(key))},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                old: Any = exc.response.get("Item")
                return None if not old else view_of(old)
            raise RecordUnavailable(f"record store ({self.table_name}) refused the write: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise RecordUnavailable(f"record store ({self.table_name}) unreachable: {type(exc).__name__}") from exc
        return view_of(response.get("Attributes", {}))


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "unknown error")


def payload_json(email: Mapping[str, Any], *, key: str) -> str:
    """What a parked record keeps to send again: the composed email and the key it goes out under."""
    return json.dumps({"key": key, "email": dict(email)}, ensure_ascii=False, separators=(",", ":"))
