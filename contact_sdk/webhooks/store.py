"""The webhook store: each verified webhook event kept once, with its svix-id marker, in one write.

:class:`WebhookStore` is the seam the route (:mod:`contact_sdk.webhooks.route`) records through and the
``contact-sdk status`` command reads through; :class:`DynamoDBWebhookStore` keeps events in the service's
table (one ``TransactWriteItems`` per event, the class docstring says why and what each failure does),
:class:`InMemoryWebhookStore` in one process. What is kept per email is a :class:`DeliveryStatus`: its
:class:`RecordedEvent` history, oldest first, and the last status derived from it.

Every call takes the request's ``deadline`` (:class:`~contact_sdk.deadline.Deadline`): no call to the
backing store starts once it has passed, and each call runs inside it (``within``), so a bounded
client (:mod:`contact_sdk.aws`) cuts it there.

Example::

    store = DynamoDBWebhookStore(boto3.client("dynamodb"), "contact-prod")
    if store.record(event, now=time.time(), deadline=Deadline.after(3)) and event.metric is not None:
        recorder.count(event.metric)         # only the call that recorded the event counts it
    store.status(event.email_id, now=time.time())

Errors::

    ContactSdkError
    └── WebhookStoreUnavailableError   the store could not be written or read, or the deadline passed
                                       (``outcome_unknown``: a write went unanswered and may have landed)
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from contact_sdk.aws import DeadlineReached, DependencySkipped
from contact_sdk.deadline import Deadline, within
from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ContactSdkError
from contact_sdk.webhooks.verifier import WebhookEvent, parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

__all__ = [
    "DEFAULT_RETENTION_SECONDS",
    "DeliveryStatus",
    "DynamoDBWebhookStore",
    "InMemoryWebhookStore",
    "RecordedEvent",
    "WebhookStore",
    "WebhookStoreUnavailableError",
]

#: How long recorded events and svix-id markers are kept: 30 days.
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600


class WebhookStoreUnavailableError(ContactSdkError):
    """The webhook store could not be written or read (or the deadline left no time to try),
    chained to the original error.

    The route answers 503 so that Resend retries the event later. ``outcome_unknown`` is true when a
    write went out and no answer came back: the event may be recorded, and the retry will say so.
    """

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event as kept against an email: no recipient addresses, only what explains the status."""

    svix_id: str
    type: str
    created_at: datetime
    detail: str | None = None

    @classmethod
    def of(cls, event: WebhookEvent) -> RecordedEvent:
        """The part of ``event`` worth keeping."""
        return cls(svix_id=event.svix_id, type=event.type, created_at=event.created_at, detail=event.detail)


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """What is known about one sent email: its events, oldest first by Resend's ``created_at``.

    ``updated_at`` is when the last event was recorded here (epoch seconds). Events arrive out of
    order (a retried ``email.sent`` after ``email.delivered``), so the status is the event with the
    latest ``created_at``, not the last one received.
    """

    email_id: str
    events: tuple[RecordedEvent, ...]
    updated_at: float

    @property
    def last_event(self) -> RecordedEvent:
        """The latest event by Resend's ``created_at``."""
        return self.events[-1]

    @property
    def last_status(self) -> str:
        """The type of the latest event, e.g. ``email.delivered``."""
        return self.last_event.type


def _status(email_id: str, events: list[RecordedEvent], updated_at: float) -> DeliveryStatus:
    return DeliveryStatus(
        email_id=email_id, events=tuple(sorted(events, key=lambda e: e.created_at)), updated_at=updated_at
    )


class WebhookStore(Protocol):
    """Keeps verified webhook events, once each, against the email they are about.

    ``now`` is epoch seconds (what expiry is measured in). ``deadline`` is the request's: no call to the
    backing store may start once it has passed; ``None`` means no deadline.
    """

    def record(self, event: WebhookEvent, *, now: float, deadline: Deadline | None = None) -> bool:
        """Record ``event`` and its ``svix_id`` marker together; ``True`` only for the call that recorded it.

        ``False`` (nothing written) when the ``svix_id`` was already recorded by another call. Count
        the event's metric exactly when this returns ``True``. Events without an ``email_id`` are only
        remembered for deduplication. Raises :class:`WebhookStoreUnavailableError` when the store
        cannot be written (nothing was recorded, or ``outcome_unknown``) or the deadline has passed.
        """
        ...

    def status(self, email_id: str, *, now: float, deadline: Deadline | None = None) -> DeliveryStatus | None:
        """The events recorded for ``email_id``, or ``None`` if none (or all expired)."""
        ...

    def recent(self, *, now: float, limit: int = 20, deadline: Deadline | None = None) -> list[DeliveryStatus]:
        """The ``limit`` most recently updated emails, newest first."""
        ...


def _refuse_after(deadline: Deadline | None, store: str, action: str) -> None:
    """Raise :class:`WebhookStoreUnavailableError` when ``deadline`` has passed."""
    if deadline is not None and deadline.expired():
        raise WebhookStoreUnavailableError(f"{store} could not {action}: the deadline passed before the call")


class InMemoryWebhookStore:
    """A thread-safe :class:`WebhookStore` for one process: tests and local runs.

    Entries expire ``retention_seconds`` after their last write, like the DynamoDB store's TTL. A
    record is one step under one lock, so marker and event are kept together as in DynamoDB.
    """

    def __init__(self, *, retention_seconds: float = DEFAULT_RETENTION_SECONDS) -> None:
        self._retention = retention_seconds
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}  # svix id -> expiry
        self._emails: dict[str, tuple[list[RecordedEvent], float]] = {}  # email id -> (events, updated_at)

    def record(self, event: WebhookEvent, *, now: float, deadline: Deadline | None = None) -> bool:
        """See :meth:`WebhookStore.record`."""
        _refuse_after(deadline, "the in-memory webhook store", "record the event")
        with self._lock:
            expiry = self._seen.get(event.svix_id)
            if expiry is not None and expiry > now:
                return False
            self._seen[event.svix_id] = now + self._retention
            if event.email_id is not None:
                events, updated_at = self._emails.get(event.email_id, ([], now))
                if updated_at + self._retention <= now:
                    events = []
                self._emails[event.email_id] = ([*events, RecordedEvent.of(event)], now)
            return True

    def status(self, email_id: str, *, now: float, deadline: Deadline | None = None) -> DeliveryStatus | None:
        """See :meth:`WebhookStore.status`."""
        _refuse_after(deadline, "the in-memory webhook store", "read the delivery status")
        with self._lock:
            entry = self._emails.get(email_id)
            if entry is None or entry[1] + self._retention <= now:
                return None
            return _status(email_id, list(entry[0]), entry[1])

    def recent(self, *, now: float, limit: int = 20, deadline: Deadline | None = None) -> list[DeliveryStatus]:
        """See :meth:`WebhookStore.recent`."""
        _refuse_after(deadline, "the in-memory webhook store", "list recent deliveries")
        with self._lock:
            live = [
                _status(email_id, list(events), updated_at)
                for email_id, (events, updated_at) in self._emails.items()
                if updated_at + self._retention > now
            ]
        return sorted(live, key=lambda s: s.updated_at, reverse=True)[:limit]


#: Errors after which a write may or may not have been applied (DynamoDB's documented 5xx, and a
#: transaction whose token is still being processed): ask again with the same request.
_UNANSWERED_CODES = frozenset(
    {"InternalServerError", "ServiceUnavailable", "ServiceUnavailableException", "TransactionInProgressException"}
)
#: botocore errors raised before the request left this process: nothing can have been applied (the
#: bounded client's refusals, a skipped service or no time left, are two of them).
_NOT_SENT = (EndpointConnectionError, ConnectTimeoutError, DependencySkipped, DeadlineReached)


class DynamoDBWebhookStore:
    """A :class:`WebhookStore` in the service's DynamoDB table, each event written once, atomically.

    Two kinds of item, both carrying the TTL attribute (now + ``ttl_seconds``):

    - ``webhook#<svix-id>``: the deduplication marker: event type, email id, received time, and the
      ``attemptId`` of the :meth:`record` call that wrote it;
    - ``delivery#<email id>``: ``events``, a list of ``{svixId, type, createdAt, detail}`` maps, with
      ``emailId``, ``updatedAt`` and the TTL. The last status is derived when reading (events arrive
      out of order).

    **One write.** :meth:`record` puts the marker (condition: ``attribute_not_exists(pk)``, or a marker
    past its TTL that DynamoDB has not deleted yet) and appends the event (``list_append``) in **one**
    ``TransactWriteItems``: both land or neither does, so there is no moment at which a marker exists
    without its event, and nothing to undo. Why a transaction rather than one conditional item (the
    svix-ids kept in a set on the ``delivery#`` item): the marker keeps its own key, so markers written
    before this design still deduplicate Resend's retries, erasure and the operator commands read the
    same items, and the event's destination item can change without moving the deduplication; and
    DynamoDB makes a transaction idempotent by its ``ClientRequestToken`` (10 minutes), which is what
    resolves a lost answer (below). The price is two write units per item instead of one, on a route
    that sees a few events per email.

    **Lost answers.** Each :meth:`record` call draws one attempt id, sends it as the transaction's
    ``ClientRequestToken`` and stores it in the marker. When a try gets no answer (a timeout, a reset
    connection, a DynamoDB 5xx) the write may have landed, so the same request is sent again (up to
    ``max_attempts`` tries, none started past the deadline): DynamoDB either applies it now, answers
    success for the token it already applied, or cancels it on the marker's condition and returns the
    marker, whose ``attemptId`` says whether this call wrote it. Only this call's own write returns
    ``True``; another delivery's (Resend's retry, Svix delivering twice) returns ``False``. A write that
    is refused (throttled, invalid, cancelled for another reason) applied nothing: the error is raised
    and Resend's retry records the event.

    **The one window left.** If DynamoDB applies the write and no try of this call ever reads an
    answer (every retry unanswered until the deadline, or the process dies while the call is in
    flight), the route answers 503 and Resend's retry finds the event recorded: the history holds it
    once, and its metric is not counted. Counting it on that retry instead would count every Svix
    double delivery twice; a second "counted" write would only move the same window to that write.
    The error says ``outcome_unknown`` so the route logs it.

    Example::

        store = DynamoDBWebhookStore(boto3.client("dynamodb"), "contact-prod")
        if store.record(event, now=time.time(), deadline=Deadline.after(3)):
            ...  # this call recorded the event: count it
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        ttl_seconds: int = DEFAULT_RETENTION_SECONDS,
        max_attempts: int = 2,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._client = client
        self._table_name = table_name
        self._ttl = ttl_seconds
        self._max_attempts = max_attempts

    def record(self, event: WebhookEvent, *, now: float, deadline: Deadline | None = None) -> bool:
        """See :meth:`WebhookStore.record` and the class docstring. One ``TransactWriteItems``
        per try."""
        attempt_id = uuid.uuid4().hex
        request = self._record_request(event, now=now, attempt_id=attempt_id)
        failure: Exception | None = None
        unanswered = False  # a try went out and no answer came back: it may have landed
        for _ in range(self._max_attempts):
            if deadline is not None and deadline.expired():
                raise self._record_failed(failure, unanswered=unanswered, deadline_passed=True)
            try:
                with within(deadline):
                    self._client.transact_write_items(**request)
            except ClientError as exc:
                code = _error_code(exc)
                reasons = exc.response.get("CancellationReasons") or []
                if (
                    code == "TransactionCanceledException"
                    and reasons
                    and reasons[0].get("Code") == "ConditionalCheckFailed"
                ):
                    # Recorded already: by this call if an unanswered try landed, else by another delivery.
                    return _attempt_id_of(reasons[0].get("Item")) == attempt_id
                failure = exc
                if code in _UNANSWERED_CODES:
                    unanswered = True
                    continue
                if code == "TransactionCanceledException" and any(
                    reason.get("Code") == "TransactionConflict" for reason in reasons
                ):
                    continue  # another event of the same email was being written: nothing applied, try again
                break
            except BotoCoreError as exc:
                failure = exc
                unanswered = unanswered or not isinstance(exc, _NOT_SENT)
                continue
            return True
        raise self._record_failed(failure, unanswered=unanswered, deadline_passed=False)

    def _record_request(self, event: WebhookEvent, *, now: float, attempt_id: str) -> dict[str, Any]:
        """The ``TransactWriteItems`` arguments: the marker's conditional put, then the event's append."""
        expires = str(int(now) + self._ttl)
        marker: dict[str, AttributeValueTypeDef] = {
            PARTITION_KEY: {"S": f"webhook#{event.svix_id}"},
            "eventType": {"S": event.type},
            "receivedAt": {"N": repr(float(now))},
            "attemptId": {"S": attempt_id},
            TTL_ATTRIBUTE: {"N": expires},
        }
        if event.email_id is not None:
            marker["emailId"] = {"S": event.email_id}
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table_name,
                    "Item": marker,
                    "ConditionExpression": "attribute_not_exists(#pk) OR #expires <= :now",
                    "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#expires": TTL_ATTRIBUTE},
                    "ExpressionAttributeValues": {":now": {"N": str(int(now))}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]
        if event.email_id is not None:
            items.append({"Update": self._append(event, now=now, expires=expires)})
        return {"TransactItems": items, "ClientRequestToken": attempt_id}

    def _append(self, event: WebhookEvent, *, now: float, expires: str) -> dict[str, Any]:
        recorded: dict[str, AttributeValueTypeDef] = {
            "svixId": {"S": event.svix_id},
            "type": {"S": event.type},
            "createdAt": {"S": event.created_at.isoformat()},
        }
        if (detail := event.detail) is not None:
            recorded["detail"] = {"S": detail}
        return {
            "TableName": self._table_name,
            "Key": {PARTITION_KEY: {"S": f"delivery#{event.email_id}"}},
            # An item past its TTL that DynamoDB has not deleted yet keeps its old events: same email, harmless.
            "UpdateExpression": (
                "SET #events = list_append(if_not_exists(#events, :empty), :event), "
                "#email = :email, #updated = :updated, #expires = :expires"
            ),
            "ExpressionAttributeNames": {
                "#events": "events",
                "#email": "emailId",
                "#updated": "updatedAt",
                "#expires": TTL_ATTRIBUTE,
            },
            "ExpressionAttributeValues": {
                ":empty": {"L": []},
                ":event": {"L": [{"M": recorded}]},
                ":email": {"S": event.email_id or ""},
                ":updated": {"N": repr(float(now))},
                ":expires": {"N": expires},
            },
        }

    def _record_failed(
        self, failure: Exception | None, *, unanswered: bool, deadline_passed: bool
    ) -> WebhookStoreUnavailableError:
        reasons = [] if failure is None else [_describe(failure)]
        if deadline_passed:
            reasons.append("the deadline passed before " + ("the call" if failure is None else "another try"))
        if unanswered:
            reasons.append("a try went unanswered, so the event may be recorded (outcome unknown)")
        error = WebhookStoreUnavailableError(
            f"DynamoDB webhook store ({self._table_name}) could not record the event: {'; '.join(reasons)}",
            outcome_unknown=unanswered,
        )
        error.__cause__ = failure
        return error

    def status(self, email_id: str, *, now: float, deadline: Deadline | None = None) -> DeliveryStatus | None:
        """See :meth:`WebhookStore.status`. One strongly consistent ``GetItem``."""
        self._refuse_after(deadline, "read the delivery status")
        try:
            with within(deadline):
                response = self._client.get_item(
                    TableName=self._table_name,
                    Key={PARTITION_KEY: {"S": f"delivery#{email_id}"}},
                    ConsistentRead=True,
                )
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("read the delivery status", exc) from exc
        item = response.get("Item")
        return None if item is None else _status_of_item(item, now=now)

    def recent(self, *, now: float, limit: int = 20, deadline: Deadline | None = None) -> list[DeliveryStatus]:
        """See :meth:`WebhookStore.recent`.

        A filtered ``Scan`` of the table (it has no index by time), one call per page, none started
        past the deadline: fine for an operator command over a contact form's volume, not for a
        request path.
        """
        statuses: list[DeliveryStatus] = []
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "FilterExpression": "begins_with(#pk, :prefix) AND #expires > :now",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#expires": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {":prefix": {"S": "delivery#"}, ":now": {"N": str(int(now))}},
        }
        while True:
            self._refuse_after(deadline, "scan recent deliveries")
            try:
                with within(deadline):
                    page = self._client.scan(**request)
            except (ClientError, BotoCoreError) as exc:
                raise self._unavailable("scan recent deliveries", exc) from exc
            for item in page.get("Items", []):
                status = _status_of_item(item, now=now)
                if status is not None:
                    statuses.append(status)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(statuses, key=lambda s: s.updated_at, reverse=True)[:limit]

    def _refuse_after(self, deadline: Deadline | None, action: str) -> None:
        _refuse_after(deadline, f"DynamoDB webhook store ({self._table_name})", action)

    def _unavailable(self, action: str, exc: Exception) -> WebhookStoreUnavailableError:
        return WebhookStoreUnavailableError(
            f"DynamoDB webhook store ({self._table_name}) could not {action}: {_describe(exc)}"
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def _describe(exc: Exception) -> str:
    """The error's code (``ClientError``) or class name: what an operator searches for."""
    return (_error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__) or "unknown error"


def _attempt_id_of(item: Mapping[str, Any] | None) -> str | None:
    value = (item or {}).get("attemptId")
    return value.get("S") if isinstance(value, Mapping) else None


def _status_of_item(item: Mapping[str, Any], *, now: float) -> DeliveryStatus | None:
    """Read a ``delivery#`` item; ``None`` if it has expired (DynamoDB deletes lazily)."""
    if float(item[TTL_ATTRIBUTE]["N"]) <= now:
        return None
    events = []
    for entry in item.get("events", {}).get("L", []):
        fields_ = entry["M"]
        created_at = parse_time(fields_["createdAt"]["S"]) or datetime.fromtimestamp(0, UTC)
        detail = fields_.get("detail", {}).get("S")
        events.append(RecordedEvent(fields_["svixId"]["S"], fields_["type"]["S"], created_at, detail))
    if not events:
        return None
    return _status(item["emailId"]["S"], events, float(item["updatedAt"]["N"]))
