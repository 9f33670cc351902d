"""Resend delivery-status webhooks: verify the Svix signature, parse the event, record it once.

Resend signs every webhook the Svix way. Three headers arrive with it (API Gateway may hand
them over in any casing):

- ``svix-id``: the message id, the same on every retry of one event;
- ``svix-timestamp``: integer epoch seconds of this attempt;
- ``svix-signature``: one or more space-separated ``<version>,<base64>`` values.

The signature is HMAC-SHA256, keyed with the base64-decoded part of the signing secret after its
``whsec_`` prefix, over ``"{svix-id}.{svix-timestamp}.{raw body}"``. Only ``v1`` values count; one
match is enough (several appear while a secret is being rotated). The body is the raw bytes as
received: JSON re-serialised by anyone (``json.dumps(json.loads(body))``) changes spacing and key
order and no longer verifies. Timestamps more than :data:`DEFAULT_TOLERANCE_SECONDS` away from
now, in either direction, are refused, so a captured request cannot be replayed later.

Why this module verifies by itself instead of using a library (both were read, version 1.1.0 of
``standardwebhooks`` and 2.9.1 of ``svix``):

- ``svix`` is an API client; its ``svix.webhooks`` module is a 25-line wrapper around
  ``standardwebhooks`` that renames the headers. Importing it runs ``svix/__init__``, which loads
  the whole API client (pydantic models, httpx, attrs, dateutil, deprecated, wrapt): about
  300 ms of cold-start import, and six extra dependencies, for one HMAC.
- ``standardwebhooks`` is small (one module, no dependencies, ~15 ms to import), but it reads
  the clock with ``datetime.now()`` inside a private method, so the tolerance cannot be tested
  without patching internals (our style: time is injected); its tolerance is fixed at 5 minutes;
  a malformed ``svix-signature`` value (no comma, bad base64) escapes as ``ValueError`` /
  ``binascii.Error`` instead of its verification error; it decodes the secret without validation
  (``b64decode(secret + "==")`` drops non-alphabet characters), so a wrongly pasted secret is
  accepted silently and every webhook then fails; and it expects ``webhook-*`` header names.
- What remains is ~40 lines of standard library (``hmac``, ``hashlib``, ``base64``), pinned by
  tests against signatures computed independently and against the published Svix test vector.

Example::

    verifier = WebhookVerifier(secret)               # "whsec_..." from Parameter Store
    try:
        event = verifier.verify(request_headers, raw_body)
    except WebhookSignatureError:
        ...                                          # 401, record nothing
    except WebhookPayloadError:
        ...                                          # 400
    if store.record(event, now=time.time()) and (metric := event.metric) is not None:
        recorder.count(metric)

Errors::

    ContactSdkError
    ├── ConfigurationError
    │   └── WebhookSecretError          the signing secret is not ``whsec_<base64>``
    ├── WebhookError                    a webhook request was refused
    │   ├── WebhookSignatureError       401: header missing or malformed, no matching signature, stale timestamp
    │   └── WebhookPayloadError         400: authentic, but not a JSON event object
    └── DeliveryStoreUnavailableError        the event store could not be written or read (DynamoDB down, ...)
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import re
import threading
import time
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ConfigurationError, ContactSdkError
from contact_sdk.metrics import Metric

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

__all__ = [
    "DEFAULT_RETENTION_SECONDS",
    "DEFAULT_TOLERANCE_SECONDS",
    "KNOWN_EVENT_TYPES",
    "SIGNATURE_HEADERS",
    "DeliveryEventStore",
    "DeliveryStatus",
    "DeliveryStoreUnavailableError",
    "DynamoDBDeliveryEventStore",
    "InMemoryDeliveryEventStore",
    "RecordedEvent",
    "SignatureFailure",
    "WebhookError",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookSecretError",
    "WebhookSignatureError",
    "WebhookVerifier",
    "decode_signing_secret",
    "parse_event",
]

#: Seconds a webhook timestamp may be away from now, either direction (Svix's and Resend's value).
DEFAULT_TOLERANCE_SECONDS = 300
#: How long recorded events and svix-id markers are kept: 30 days.
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600

#: The signature headers, lower-cased: (message id, timestamp, signatures).
SIGNATURE_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")

_SECRET_PREFIX = "whsec_"  # noqa: S105 - the public prefix of every Svix secret, not a secret
_SIGNATURE_VERSION = "v1"
_TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() accepts other scripts
_MAX_SVIX_ID_LENGTH = 256  # it becomes part of a DynamoDB key; Svix ids are ~30 characters
_MAX_DETAIL_LENGTH = 500

#: Resend's email event types -> the metric each one counts, or ``None`` for events recorded but not
#: counted. Any other type (``contact.*``, ``domain.*``, future ones) is unknown: the route logs and
#: ignores it.
KNOWN_EVENT_TYPES: Mapping[str, Metric | None] = types.MappingProxyType(
    {
        "email.delivered": Metric.EMAILS_DELIVERED,
        "email.bounced": Metric.EMAILS_BOUNCED,
        "email.complained": Metric.EMAILS_COMPLAINED,
        "email.delivery_delayed": Metric.EMAILS_DELAYED,
        "email.sent": None,
        "email.opened": None,
        "email.clicked": None,
        "email.failed": None,
        "email.scheduled": None,
        "email.suppressed": None,
        "email.received": None,
    }
)


class WebhookSecretError(ConfigurationError):
    """The webhook signing secret is not ``whsec_`` followed by non-empty base64.

    Raised when the :class:`WebhookVerifier` is built (once per execution environment), not per
    request: a wrong secret is a configuration fault to alarm on, not 401s to every genuine event.
    The message never contains the secret.
    """


class WebhookError(ContactSdkError):
    """A webhook request was refused; nothing was recorded."""


class SignatureFailure(enum.StrEnum):
    """Why a signature check failed: a stable code for logs (the HTTP answer is 401 for each)."""

    MISSING_HEADER = "missing_header"
    MALFORMED_HEADER = "malformed_header"
    STALE_TIMESTAMP = "stale_timestamp"
    NO_MATCHING_SIGNATURE = "no_matching_signature"


class WebhookSignatureError(WebhookError):
    """The request is not provably from Resend, or not from now: answer 401.

    ``reason`` is a :class:`SignatureFailure`; the message says which header or check failed.
    """

    def __init__(self, reason: SignatureFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class WebhookPayloadError(WebhookError):
    """The signature is valid but the body is not a JSON object with a string ``type`` and an object
    ``data``: answer 400."""


class DeliveryStoreUnavailableError(ContactSdkError):
    """The delivery-event store could not be written or read (or the deadline left no time to try),
    chained to the original error.

    The route answers 503 so that Resend retries the event later. ``outcome_unknown`` is true when a
    write went out and no answer came back: the event may be recorded, and the retry will say so.
    """

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One verified Resend webhook event.

    ``type`` is Resend's event type (``email.delivered``, ...); ``email_id`` is the provider's id of
    the email it is about (``None`` for non-email events); ``created_at`` is Resend's ``created_at``
    of the event (the ``svix-timestamp`` when the payload has none or an unreadable one); ``data``
    is the payload's ``data`` object as sent.
    """

    svix_id: str
    type: str
    email_id: str | None
    created_at: datetime
    data: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def is_known(self) -> bool:
        """Whether the type is one of :data:`KNOWN_EVENT_TYPES`."""
        return self.type in KNOWN_EVENT_TYPES

    @property
    def metric(self) -> Metric | None:
        """The metric this event counts, or ``None`` (unknown, or recorded but not counted)."""
        return KNOWN_EVENT_TYPES.get(self.type)

    @property
    def detail(self) -> str | None:
        """A short human reason carried by bounce, failure and suppression events, else ``None``."""
        return _detail_of(self.data)


def decode_signing_secret(secret: str) -> bytes:
    """Return the HMAC key of a ``whsec_<base64>`` signing secret.

    Missing base64 padding is tolerated; anything else malformed raises :class:`WebhookSecretError`.

    >>> decode_signing_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")[:4]
    b'1\\xf2\\x90\\xf6'
    """
    secret = secret.strip()
    if not secret.startswith(_SECRET_PREFIX):
        # A Resend API key ("re_...") pasted by mistake lands here.
        raise WebhookSecretError("the webhook signing secret must start with 'whsec_' (copy it from Resend)")
    encoded = secret[len(_SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise WebhookSecretError("the webhook signing secret is not valid base64 after 'whsec_'") from exc
    if not key:
        raise WebhookSecretError("the webhook signing secret is empty after 'whsec_'")
    return key


class WebhookVerifier:
    """Verifies Svix-signed Resend webhooks and parses them into :class:`WebhookEvent`.

    Build it once per execution environment; :meth:`verify` is thread-safe and does no I/O.
    ``clock`` returns epoch seconds (injected so tests can move time).

    Example::

        verifier = WebhookVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        event = verifier.verify(headers, body)       # raises WebhookSignatureError / WebhookPayloadError
    """

    def __init__(
        self,
        secret: str,
        *,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if tolerance_seconds < 0:
            raise ValueError("tolerance_seconds must not be negative")
        self._key = decode_signing_secret(secret)
        self._tolerance = tolerance_seconds
        self._clock = clock

    def __repr__(self) -> str:
        return f"WebhookVerifier(tolerance_seconds={self._tolerance!r})"  # never the key

    def verify(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Check the signature of ``body`` (the raw request bytes) and return the parsed event.

        Raises :class:`WebhookSignatureError` (missing or malformed header, stale or future
        timestamp, no matching ``v1`` signature) before looking at the body, and
        :class:`WebhookPayloadError` if the authentic body is not a Resend event.
        """
        svix_id, timestamp_text, signatures = _signature_headers(headers)
        if _TIMESTAMP_PATTERN.fullmatch(timestamp_text) is None:
            raise WebhookSignatureError(
                SignatureFailure.MALFORMED_HEADER, "svix-timestamp is not an integer number of seconds"
            )
        timestamp = int(timestamp_text)
        skew = self._clock() - timestamp
        if abs(skew) > self._tolerance:
            direction = "old" if skew > 0 else "far in the future"
            raise WebhookSignatureError(
                SignatureFailure.STALE_TIMESTAMP,
                f"svix-timestamp is {abs(skew):.0f} s {direction} (tolerance {self._tolerance:g} s)",
            )
        signed = f"{svix_id}.{timestamp_text}.".encode() + body
        expected = hmac.new(self._key, signed, hashlib.sha256).digest()
        if not any(hmac.compare_digest(expected, candidate) for candidate in _v1_signatures(signatures)):
            raise WebhookSignatureError(SignatureFailure.NO_MATCHING_SIGNATURE, "no v1 signature matches the body")
        return parse_event(svix_id, body, fallback_created_at=timestamp)


def _signature_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    values = [(lowered.get(name) or "").strip() for name in SIGNATURE_HEADERS]
    missing = [name for name, value in zip(SIGNATURE_HEADERS, values, strict=True) if not value]
    if missing:
        raise WebhookSignatureError(SignatureFailure.MISSING_HEADER, f"missing header(s): {', '.join(missing)}")
    svix_id, timestamp, signatures = values
    if len(svix_id) > _MAX_SVIX_ID_LENGTH or not svix_id.isprintable():
        raise WebhookSignatureError(SignatureFailure.MALFORMED_HEADER, "svix-id is too long or not printable")
    return svix_id, timestamp, signatures


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``svix-signature`` header; other versions and malformed
    entries are skipped (another entry may still match)."""
    decoded = []
    for entry in header.split():
        version, comma, value = entry.partition(",")
        if version != _SIGNATURE_VERSION or not comma:
            continue
        try:
            decoded.append(base64.b64decode(value, validate=True))
        except binascii.Error:
            continue
    return decoded


def parse_event(svix_id: str, body: bytes, *, fallback_created_at: float) -> WebhookEvent:
    """Parse an already verified body into a :class:`WebhookEvent`. Pure.

    Raises :class:`WebhookPayloadError` unless the body is a JSON object with a non-empty string
    ``type`` and an object ``data``. An unknown ``type`` is not an error.
    """
    try:
        payload = json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise WebhookPayloadError("the webhook body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise WebhookPayloadError("the webhook body is not a JSON object")
    event_type = payload.get("type")
    data = payload.get("data")
    if not isinstance(event_type, str) or not event_type:
        raise WebhookPayloadError("the webhook body has no string 'type'")
    if not isinstance(data, dict):
        raise WebhookPayloadError("the webhook body has no object 'data'")
    email_id = data.get("email_id")
    return WebhookEvent(
        svix_id=svix_id,
        type=event_type,
        email_id=email_id if isinstance(email_id, str) and email_id else None,
        created_at=_parse_time(payload.get("created_at")) or datetime.fromtimestamp(fallback_created_at, UTC),
        data=data,
    )


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _detail_of(data: Mapping[str, Any]) -> str | None:
    for key in ("bounce", "failed", "suppressed"):
        section = data.get(key)
        if isinstance(section, Mapping):
            kinds = "/".join(str(section[k]) for k in ("type", "subType") if section.get(k))
            text = str(section.get("message") or section.get("reason") or "")
            detail = f"{kinds}: {text}" if kinds and text else kinds or text
            if detail:
                return detail[:_MAX_DETAIL_LENGTH]
    return None


# --- recording ---------------------------------------------------------------------------------


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


class DeliveryEventStore(Protocol):
    """Keeps verified webhook events, once each, against the email they are about.

    ``now`` is epoch seconds (what expiry is measured in). ``deadline`` is a time on the store's own
    ``clock`` after which no call to the backing store may start; ``None`` means no deadline.
    """

    def record(self, event: WebhookEvent, *, now: float, deadline: float | None = None) -> bool:
        """Record ``event`` and its ``svix_id`` marker together; ``True`` only for the call that recorded it.

        ``False`` (nothing written) when the ``svix_id`` was already recorded by another call. Count
        the event's metric exactly when this returns ``True``. Events without an ``email_id`` are only
        remembered for deduplication. Raises :class:`DeliveryStoreUnavailableError` when the store
        cannot be written (nothing was recorded, or ``outcome_unknown``) or the deadline has passed.
        """
        ...

    def status(self, email_id: str, *, now: float, deadline: float | None = None) -> DeliveryStatus | None:
        """The events recorded for ``email_id``, or ``None`` if none (or all expired)."""
        ...

    def recent(self, *, now: float, limit: int = 20, deadline: float | None = None) -> list[DeliveryStatus]:
        """The ``limit`` most recently updated emails, newest first."""
        ...


def _refuse_after(deadline: float | None, clock: Callable[[], float], store: str, action: str) -> None:
    """Raise :class:`DeliveryStoreUnavailableError` when ``deadline`` has passed on ``clock``."""
    if deadline is not None and clock() >= deadline:
        raise DeliveryStoreUnavailableError(f"{store} could not {action}: the deadline passed before the call")


class InMemoryDeliveryEventStore:
    """A thread-safe :class:`DeliveryEventStore` for one process: tests and local runs.

    Entries expire ``retention_seconds`` after their last write, like the DynamoDB store's TTL. A
    record is one step under one lock, so marker and event are kept together as in DynamoDB.
    """

    def __init__(
        self, *, retention_seconds: float = DEFAULT_RETENTION_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._retention = retention_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}  # svix id -> expiry
        self._emails: dict[str, tuple[list[RecordedEvent], float]] = {}  # email id -> (events, updated_at)

    def record(self, event: WebhookEvent, *, now: float, deadline: float | None = None) -> bool:
        """See :meth:`DeliveryEventStore.record`."""
        _refuse_after(deadline, self._clock, "the in-memory delivery-event store", "record the event")
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

    def status(self, email_id: str, *, now: float, deadline: float | None = None) -> DeliveryStatus | None:
        """See :meth:`DeliveryEventStore.status`."""
        _refuse_after(deadline, self._clock, "the in-memory delivery-event store", "read the delivery status")
        with self._lock:
            entry = self._emails.get(email_id)
            if entry is None or entry[1] + self._retention <= now:
                return None
            return _status(email_id, list(entry[0]), entry[1])

    def recent(self, *, now: float, limit: int = 20, deadline: float | None = None) -> list[DeliveryStatus]:
        """See :meth:`DeliveryEventStore.recent`."""
        _refuse_after(deadline, self._clock, "the in-memory delivery-event store", "list recent deliveries")
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
#: botocore errors raised before the request left this process: nothing can have been applied.
_NOT_SENT = (EndpointConnectionError, ConnectTimeoutError)


class DynamoDBDeliveryEventStore:
    """A :class:`DeliveryEventStore` in the service's DynamoDB table, each event written once, atomically.

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

        store = DynamoDBDeliveryEventStore(boto3.client("dynamodb"), "contact-prod")
        if store.record(event, now=time.time(), deadline=time.monotonic() + 3):
            ...  # this call recorded the event: count it
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        ttl_seconds: int = DEFAULT_RETENTION_SECONDS,
        max_attempts: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._client = client
        self._table_name = table_name
        self._ttl = ttl_seconds
        self._max_attempts = max_attempts
        self._clock = clock

    def record(self, event: WebhookEvent, *, now: float, deadline: float | None = None) -> bool:
        """See :meth:`DeliveryEventStore.record` and the class docstring. One ``TransactWriteItems``
        per try."""
        attempt_id = uuid.uuid4().hex
        request = self._record_request(event, now=now, attempt_id=attempt_id)
        failure: Exception | None = None
        unanswered = False  # a try went out and no answer came back: it may have landed
        for _ in range(self._max_attempts):
            if deadline is not None and self._clock() >= deadline:
                raise self._record_failed(failure, unanswered=unanswered, deadline_passed=True)
            try:
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
    ) -> DeliveryStoreUnavailableError:
        reasons = [] if failure is None else [_describe(failure)]
        if deadline_passed:
            reasons.append("the deadline passed before " + ("the call" if failure is None else "another try"))
        if unanswered:
            reasons.append("a try went unanswered, so the event may be recorded (outcome unknown)")
        error = DeliveryStoreUnavailableError(
            f"DynamoDB delivery-event store ({self._table_name}) could not record the event: {'; '.join(reasons)}",
            outcome_unknown=unanswered,
        )
        error.__cause__ = failure
        return error

    def status(self, email_id: str, *, now: float, deadline: float | None = None) -> DeliveryStatus | None:
        """See :meth:`DeliveryEventStore.status`. One strongly consistent ``GetItem``."""
        self._refuse_after(deadline, "read the delivery status")
        try:
            response = self._client.get_item(
                TableName=self._table_name,
                Key={PARTITION_KEY: {"S": f"delivery#{email_id}"}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("read the delivery status", exc) from exc
        item = response.get("Item")
        return None if item is None else _status_of_item(item, now=now)

    def recent(self, *, now: float, limit: int = 20, deadline: float | None = None) -> list[DeliveryStatus]:
        """See :meth:`DeliveryEventStore.recent`.

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

    def _refuse_after(self, deadline: float | None, action: str) -> None:
        _refuse_after(deadline, self._clock, f"DynamoDB delivery-event store ({self._table_name})", action)

    def _unavailable(self, action: str, exc: Exception) -> DeliveryStoreUnavailableError:
        return DeliveryStoreUnavailableError(
            f"DynamoDB delivery-event store ({self._table_name}) could not {action}: {_describe(exc)}"
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
        created_at = _parse_time(fields_["createdAt"]["S"]) or datetime.fromtimestamp(0, UTC)
        detail = fields_.get("detail", {}).get("S")
        events.append(RecordedEvent(fields_["svixId"]["S"], fields_["type"]["S"], created_at, detail))
    if not events:
        return None
    return _status(item["emailId"]["S"], events, float(item["updatedAt"]["N"]))
