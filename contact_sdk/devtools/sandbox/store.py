"""What the sandbox remembers: emails, the request log, idempotency keys and the rate window.

Each store is small, thread-safe (one lock each) and reads time only from the injected
``clock`` (epoch seconds), so tests can move 24 hours or one rate window forward without waiting.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from contact_sdk.devtools.sandbox.errors import concurrent_idempotent_requests, invalid_idempotent_request

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "IDEMPOTENCY_TTL_SECONDS",
    "UNLIMITED",
    "Clock",
    "CursorError",
    "EmailRecord",
    "EmailStore",
    "IdempotencyStore",
    "Page",
    "RateLimiter",
    "RateWindow",
    "RequestLog",
    "RequestRecord",
    "fingerprint",
    "iso_time",
    "paginate",
    "resend_time",
]

Clock = Callable[[], float]
_T = TypeVar("_T")
#: How long Resend keeps an idempotency key.
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
#: The ``ratelimit-limit`` advertised when no limit is configured.
UNLIMITED = 1_000_000
#: Requests per second a sandbox allows unless told otherwise: Resend's documented default per team
#: (its Usage Limits page says 5; pages before 2025 said 2).
DEFAULT_RATE_LIMIT = 5


def iso_time(epoch: float) -> str:
    """Epoch seconds as ``2023-10-06T23:47:56.678Z`` (the webhook and sandbox timestamp format)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def resend_time(epoch: float) -> str:
    """Epoch seconds as ``2023-04-03 22:13:42.674981+00`` (how ``GET /emails/{id}`` writes ``created_at``)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"


def fingerprint(path: str, body: object) -> str:
    """A digest of one request's payload; key order in the JSON does not matter."""
    canonical = json.dumps([path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(slots=True)
class EmailRecord:
    """One accepted email: the request body exactly as sent, plus what the sandbox knows of it."""

    id: str
    created_at: float
    body: dict[str, Any]
    headers: dict[str, str]
    endpoint: str
    last_event: str = "sent"
    message_id: str = field(default="")
    scheduled_for: float | None = None  # epoch seconds a ``scheduled`` email falls due

    def to_json(self) -> dict[str, object]:
        """The record as ``GET /_sandbox/emails`` lists it."""
        return {
            "id": self.id,
            "created_at": iso_time(self.created_at),
            "endpoint": self.endpoint,
            "last_event": self.last_event,
            "headers": dict(self.headers),
            "body": self.body,
        }

    def resource(self) -> dict[str, object]:
        """The email in Resend's ``GET /emails/{email_id}`` shape."""

        def listed(name: str) -> list[str] | None:
            value = self.body.get(name)
            if value is None:
                return None
            return [value] if isinstance(value, str) else list(value)

        resource: dict[str, object] = {
            "object": "email",
            "id": self.id,
            "message_id": self.message_id,
            "to": listed("to"),
            "from": self.body.get("from"),
            "created_at": resend_time(self.created_at),
            "subject": self.body.get("subject"),
            "html": self.body.get("html"),
            "text": self.body.get("text"),
            "bcc": listed("bcc"),
            "cc": listed("cc"),
            "reply_to": listed("reply_to"),
            "last_event": self.last_event,
            "scheduled_at": self.body.get("scheduled_at"),
        }
        if self.body.get("tags") is not None:
            resource["tags"] = self.body["tags"]  # Resend leaves the key out of an email sent without tags
        return resource


class CursorError(ValueError):
    """A pagination cursor (``after``/``before``) names no stored item."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a cursor-paginated list, newest first."""

    items: list[EmailRecord]
    has_more: bool


def paginate(
    newest_first: list[_T], key: Callable[[_T], str], *, limit: int, after: str | None, before: str | None
) -> tuple[list[_T], bool]:
    """Resend's cursor pagination over ``newest_first``; the cursor item itself is excluded.

    ``after`` pages towards older items, ``before`` towards newer ones (the ``limit`` items just
    newer than the cursor); ``has_more`` says whether items lie beyond the page in that direction.
    Raises :class:`CursorError` when the cursor names no item.
    """
    cursor = after if after is not None else before
    if cursor is None:
        return newest_first[:limit], len(newest_first) > limit
    ids = [key(item) for item in newest_first]
    if cursor not in ids:
        raise CursorError(cursor)
    index = ids.index(cursor)
    if after is not None:
        rest = newest_first[index + 1 :]
        return rest[:limit], len(rest) > limit
    start = max(0, index - limit)
    return newest_first[start:index], start > 0


class EmailStore:
    """Accepted emails in arrival order."""

    def __init__(self, clock: Clock) -> None:
        """An empty store reading time from ``clock``."""
        self._clock = clock
        self._lock = threading.Lock()
        self._emails: dict[str, EmailRecord] = {}

    def add(
        self, body: dict[str, Any], headers: dict[str, str], endpoint: str, scheduled_for: float | None = None
    ) -> EmailRecord:
        """Store one email under a fresh UUID4 id; ``scheduled_for`` in the future keeps it ``scheduled``."""
        email_id = str(uuid.uuid4())
        now = self._clock()
        scheduled = scheduled_for is not None and scheduled_for > now
        record = EmailRecord(
            id=email_id,
            created_at=now,
            body=body,
            headers=headers,
            endpoint=endpoint,
            last_event="scheduled" if scheduled else "sent",
            message_id=f"<{email_id}@sandbox.resend.local>",
            scheduled_for=scheduled_for if scheduled else None,
        )
        with self._lock:
            self._emails[email_id] = record
        return record

    def get(self, email_id: str) -> EmailRecord | None:
        """The record with this id, if any."""
        with self._lock:
            return self._emails.get(email_id)

    def set_last_event(self, email_id: str, event: str) -> None:
        """Record the newest delivery event of an email (``delivered``, ``bounced``...)."""
        with self._lock:
            if email_id in self._emails:
                self._emails[email_id].last_event = event

    def all(self) -> list[EmailRecord]:
        """Every record, oldest first."""
        with self._lock:
            return list(self._emails.values())

    def page(self, *, limit: int, after: str | None = None, before: str | None = None) -> Page:
        """One page of emails, newest first (see :func:`paginate`)."""
        with self._lock:
            newest_first = list(reversed(self._emails.values()))
        items, has_more = paginate(newest_first, lambda record: record.id, limit=limit, after=after, before=before)
        return Page(items, has_more)

    def reschedule(self, email_id: str, scheduled_at: str, due: float) -> bool:
        """Move a ``scheduled`` email to a new time; False if it is not (or no longer) scheduled."""
        with self._lock:
            record = self._emails.get(email_id)
            if record is None or record.last_event != "scheduled":
                return False
            record.body = {**record.body, "scheduled_at": scheduled_at}
            record.scheduled_for = due
            return True

    def cancel(self, email_id: str) -> bool:
        """Cancel a ``scheduled`` email (``last_event`` becomes ``canceled``); False if it is not scheduled."""
        with self._lock:
            record = self._emails.get(email_id)
            if record is None or record.last_event != "scheduled":
                return False
            record.last_event, record.scheduled_for = "canceled", None
            return True

    def release_due(self) -> list[EmailRecord]:
        """Move every scheduled email whose time has come (by the clock) to ``sent``; returns them, oldest first."""
        now = self._clock()
        released: list[EmailRecord] = []
        with self._lock:
            for record in self._emails.values():
                if record.scheduled_for is not None and record.scheduled_for <= now:
                    record.last_event, record.scheduled_for = "sent", None
                    released.append(record)
        return released

    def clear(self) -> None:
        """Forget every email."""
        with self._lock:
            self._emails.clear()


@dataclass(slots=True)
class RequestRecord:
    """One request the API surface received, and how the sandbox answered it."""

    seq: int
    method: str
    path: str
    timestamp: float
    idempotency_key: str | None
    status: int | None = None
    name: str | None = None
    fault: str | None = None
    replayed: bool = False
    email_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The record as ``GET /_sandbox/requests`` lists it."""
        return {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "name": self.name,
            "fault": self.fault,
            "replayed": self.replayed,
            "idempotency_key": self.idempotency_key,
            "email_ids": list(self.email_ids),
            "timestamp": iso_time(self.timestamp),
        }


class RequestLog:
    """Every API request in arrival order, refused and faulted ones included."""

    def __init__(self, clock: Clock) -> None:
        """An empty log reading time from ``clock``."""
        self._clock = clock
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def open(self, method: str, path: str, idempotency_key: str | None) -> RequestRecord:
        """Log a request as it arrives; the server fills in the answer later."""
        with self._lock:
            record = RequestRecord(len(self._records) + 1, method, path, self._clock(), idempotency_key)
            self._records.append(record)
            return record

    def all(self) -> list[RequestRecord]:
        """Every record, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._records.clear()


@dataclass(slots=True)
class _IdempotencyEntry:
    fingerprint: str
    created_at: float
    state: Literal["in_flight", "done"] = "in_flight"
    status: int = 0
    body: object = None


class IdempotencyStore:
    """Idempotency keys as Resend keeps them: 24 hours, tied to one payload, one request at a time.

    A key remembers the answer it is completed with (a success, or a refusal when the API records
    refusals); a key released by its request is free again.
    """

    def __init__(self, clock: Clock, ttl_seconds: float = IDEMPOTENCY_TTL_SECONDS) -> None:
        """An empty store; keys expire ``ttl_seconds`` after first use, by ``clock``."""
        self._clock = clock
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._entries: dict[str, _IdempotencyEntry] = {}

    def begin(self, key: str, payload_fingerprint: str) -> tuple[int, object] | None:
        """Claim ``key`` for a request; returns the stored answer when it is a replay.

        Raises 409 ``concurrent_idempotent_requests`` while the key's first request is in flight
        and 409 ``invalid_idempotent_request`` when the key was used with another payload.
        """
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry.created_at >= self._ttl:
                entry = None
            if entry is None:
                self._entries[key] = _IdempotencyEntry(payload_fingerprint, now)
                return None
            if entry.state == "in_flight":
                raise concurrent_idempotent_requests()
            if entry.fingerprint != payload_fingerprint:
                raise invalid_idempotent_request()
            return entry.status, entry.body

    def complete(self, key: str, status: int, body: object) -> None:
        """Remember the answer to the request that claimed ``key``: its success, or a refusal to answer again."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.state, entry.status, entry.body = "done", status, body

    def release(self, key: str) -> None:
        """Give ``key`` back after its request was refused, so it can be used again."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.state == "in_flight":
                del self._entries[key]

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True, slots=True)
class RateWindow:
    """The rate-limit state one answer reports in its ``ratelimit-*`` headers."""

    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """``ratelimit-limit``, ``ratelimit-remaining`` and ``ratelimit-reset``."""
        return {
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(self.remaining),
            "ratelimit-reset": str(self.reset_seconds),
        }


class RateLimiter:
    """A fixed one-second window of at most ``limit`` requests; ``None`` (or 0) never refuses."""

    def __init__(self, limit: int | None, clock: Clock) -> None:
        """A limiter allowing ``limit`` requests per second of ``clock``; ``None`` or 0 for unlimited."""
        limit = _checked_limit(limit)
        self._limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._count = 0

    @property
    def limit(self) -> int | None:
        """Requests allowed per second, ``None`` when unlimited."""
        return self._limit

    def set_limit(self, limit: int | None) -> None:
        """Change the limit at run time (``None`` or 0: unlimited); the current window starts over."""
        limit = _checked_limit(limit)
        with self._lock:
            self._limit, self._window, self._count = limit, -1, 0

    def take(self) -> tuple[bool, RateWindow]:
        """Count one request; returns whether it is allowed and the window to report."""
        return self._observe(consume=True)

    def peek(self) -> RateWindow:
        """The window to report on an answer that did not count against the limit."""
        return self._observe(consume=False)[1]

    def clear(self) -> None:
        """Start a fresh window."""
        with self._lock:
            self._window, self._count = -1, 0

    def _observe(self, *, consume: bool) -> tuple[bool, RateWindow]:
        now = self._clock()
        with self._lock:
            window = math.floor(now)
            if window != self._window:
                self._window, self._count = window, 0
            limit = self._limit if self._limit is not None else UNLIMITED
            allowed = self._limit is None or self._count < self._limit
            if consume and allowed:
                self._count += 1
            reset = max(1, math.ceil(window + 1 - now))
            return allowed, RateWindow(limit, max(0, limit - self._count), reset)


def _checked_limit(limit: int | None) -> int | None:
    if limit is None or limit == 0:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError("rate limit must be a whole number of requests per second, 0 or None for unlimited")
    return limit
