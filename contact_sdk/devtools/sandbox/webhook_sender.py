"""Delivery webhooks: the events Resend would send about an accepted email, signed as Svix does.

After an email is accepted the sandbox "delivers" it: each ``to`` recipient gets an outcome
from its address, the way Resend's test addresses behave, and one event per outcome is POSTed
to the configured URL.

=============================  ===================================================
recipient                      events
=============================  ===================================================
``delivered@resend.dev``       ``email.sent``, ``email.delivered``
``bounced@resend.dev``         ``email.sent``, ``email.bounced``
``complained@resend.dev``      ``email.sent``, ``email.delivered``, ``email.complained``
``delayed@resend.dev``         ``email.sent``, ``email.delivery_delayed``, ``email.delivered`` (sandbox only)
anything else                  ``email.sent``, ``email.delivered``
=============================  ===================================================

A ``+label`` is ignored (``bounced+signup@resend.dev`` bounces). Signing is pure
(:func:`sign`); sending is :class:`WebhookDispatcher`, one daemon thread that retries a failed
POST with the same ``svix-id``.

Example::

    signature = sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_123", 1700000000, b'{"type": ...}')
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import json
import math
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from contact_sdk.devtools.sandbox.store import Clock, EmailRecord, iso_time
from contact_sdk.devtools.sandbox.validation import address_list, bare_address

__all__ = [
    "WebhookDispatcher",
    "build_event",
    "decode_secret",
    "delivery_plan",
    "new_message_id",
    "sign",
]

_OUTCOMES: dict[str, tuple[str, ...]] = {
    "bounced": ("email.bounced",),
    "complained": ("email.delivered", "email.complained"),
    "delayed": ("email.delivery_delayed", "email.delivered"),
}
_DELIVERED: tuple[str, ...] = ("email.delivered",)


def decode_secret(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_<base64>`` secret; raises ``ValueError`` on any other format."""
    prefix = "whsec_"
    if not secret.startswith(prefix) or len(secret) == len(prefix):
        raise ValueError("webhook secret must look like 'whsec_<base64>'")
    try:
        return base64.b64decode(secret[len(prefix) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("webhook secret must look like 'whsec_<base64>' (the part after whsec_ is base64)") from exc


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``svix-signature`` header: ``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def new_message_id() -> str:
    """A fresh ``svix-id`` (``msg_`` and random characters)."""
    return "msg_" + secrets.token_hex(13)


def delivery_plan(record: EmailRecord) -> list[tuple[str, list[str]]]:
    """The events one email produces, in order: ``(event type, impacted recipients)``."""
    recipients = address_list(record.body.get("to"))
    staged: dict[int, dict[str, list[str]]] = {}
    for recipient in recipients:
        address = (bare_address(recipient) or recipient).lower()
        local, _, domain = address.partition("@")
        outcome = local.split("+", 1)[0] if domain == "resend.dev" else ""
        for stage, event_type in enumerate(_OUTCOMES.get(outcome, _DELIVERED)):
            staged.setdefault(stage, {}).setdefault(event_type, []).append(recipient)
    plan: list[tuple[str, list[str]]] = [("email.sent", recipients)]
    for stage in sorted(staged):
        plan.extend(staged[stage].items())
    return plan


def build_event(event_type: str, record: EmailRecord, recipients: Sequence[str], now: float) -> dict[str, object]:
    """One webhook payload in Resend's shape (``type``, ``created_at``, ``data``)."""
    data: dict[str, object] = {
        "email_id": record.id,
        "created_at": iso_time(record.created_at),
        "from": record.body.get("from"),
        "to": list(recipients),
        "subject": record.body.get("subject"),
    }
    tags = record.body.get("tags")
    if tags:
        data["tags"] = {tag["name"]: tag.get("value", "") for tag in tags}
    headers = record.body.get("headers")
    if headers:
        data["headers"] = [{"name": name, "value": value} for name, value in headers.items()]
    if event_type == "email.bounced":
        data["bounce"] = {
            "diagnosticCode": [f"smtp; 550 5.1.1 <{bare_address(r) or r}>: user unknown" for r in recipients],
            "message": "The recipient's mail server permanently rejected the email.",
            "subType": "General",
            "type": "Permanent",
        }
    return {"type": event_type, "created_at": iso_time(now), "data": data}


@dataclass(order=True, slots=True)
class _Delivery:
    due: float
    seq: int
    message_id: str = field(compare=False)
    event_type: str = field(compare=False)
    email_id: str = field(compare=False)
    payload: bytes = field(compare=False, default=b"")
    attempt: int = field(compare=False, default=1)
    build: Callable[[], dict[str, object]] | None = field(compare=False, default=None)


def checked_delay(seconds: object) -> float:
    """``seconds`` between webhook events as a float; ``ValueError`` naming ``webhook_delay_seconds`` unless a finite
    number, 0 or more."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"webhook_delay_seconds must be seconds, 0 or more, not {seconds!r}")
    return float(seconds)


class WebhookDispatcher:
    """Sends signed delivery events to one URL from a daemon thread, retrying failures.

    ``on_event(email_id, event_type)`` is called when an event is emitted (first attempt), so the
    sandbox can keep ``last_event`` in step. Delays are real time (the receiver is real); the
    timestamps in headers and payloads come from ``clock``.
    """

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        clock: Clock,
        on_event: Callable[[str, str], None],
        delay_seconds: float = 0.2,
        retry_delays: Sequence[float] = (0.5, 2.0, 5.0),
        timeout_seconds: float = 5.0,
    ) -> None:
        """Validate the URL (http/https) and the ``whsec_`` secret; nothing starts until :meth:`start`."""
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"webhook URL must be http(s)://host/..., got {url!r}")
        decode_secret(secret)
        self._url, self._secret, self._clock, self._on_event = url, secret, clock, on_event
        self._delay = checked_delay(delay_seconds)
        self._retry_delays, self._timeout = tuple(retry_delays), timeout_seconds
        self._queue: list[_Delivery] = []
        self._log: list[dict[str, object]] = []
        self._seq = 0
        self._ready = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def delay_seconds(self) -> float:
        """Seconds between one email's events (and from its acceptance to the first)."""
        return self._delay

    @delay_seconds.setter
    def delay_seconds(self, seconds: float) -> None:
        """Pace the events of the emails accepted from now on; ``ValueError`` unless seconds, 0 or more."""
        self._delay = checked_delay(seconds)

    def start(self) -> None:
        """Start the sending thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="resend-sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sending; pending events are dropped. Returns promptly."""
        self._stopping.set()
        with self._ready:
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout + 1)
            self._thread = None

    def schedule(self, record: EmailRecord) -> None:
        """Queue the events of one accepted email, ``delay_seconds`` apart."""
        start = time.monotonic()
        with self._ready:
            for step, (event_type, recipients) in enumerate(delivery_plan(record), start=1):
                self._seq += 1

                def build(event_type: str = event_type, recipients: list[str] = recipients) -> dict[str, object]:
                    return build_event(event_type, record, recipients, self._clock())

                delivery = _Delivery(
                    start + step * self._delay, self._seq, new_message_id(), event_type, record.id, build=build
                )
                heapq.heappush(self._queue, delivery)
            self._ready.notify_all()

    def log(self) -> list[dict[str, object]]:
        """Every delivery attempt so far, oldest first."""
        with self._ready:
            return list(self._log)

    def clear(self) -> None:
        """Drop pending events and the log."""
        with self._ready:
            self._queue.clear()
            self._log.clear()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._ready:
                delivery = self._next_due()
                if delivery is None:
                    continue
            self._attempt(delivery)

    def _next_due(self) -> _Delivery | None:
        """Pop the next due delivery, or wait (lock held) until one may be due."""
        if not self._queue:
            self._ready.wait(timeout=1.0)
            return None
        wait = self._queue[0].due - time.monotonic()
        if wait > 0:
            self._ready.wait(timeout=wait)
            return None
        return heapq.heappop(self._queue)

    def _attempt(self, delivery: _Delivery) -> None:
        if delivery.build is not None:
            payload = delivery.build()
            delivery.payload = json.dumps(payload, separators=(",", ":")).encode()
            delivery.build = None
            self._on_event(delivery.email_id, delivery.event_type.removeprefix("email."))
        timestamp = int(self._clock())
        request = urllib.request.Request(  # noqa: S310 - the scheme was checked to be http(s) in __init__
            self._url,
            data=delivery.payload,
            method="POST",
            headers={
                "content-type": "application/json",
                "user-agent": "Svix-Webhooks/1.0 (resend-sandbox)",
                "svix-id": delivery.message_id,
                "svix-timestamp": str(timestamp),
                "svix-signature": sign(self._secret, delivery.message_id, timestamp, delivery.payload),
            },
        )
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 - same
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
            exc.close()
        except (urllib.error.URLError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivered = status is not None and 200 <= status < 300
        with self._ready:
            self._log.append(
                {
                    "svix_id": delivery.message_id,
                    "type": delivery.event_type,
                    "email_id": delivery.email_id,
                    "attempt": delivery.attempt,
                    "status": status,
                    "error": None if delivered else error or f"HTTP {status}",
                    "timestamp": iso_time(self._clock()),
                    "payload": json.loads(delivery.payload),
                }
            )
            if not delivered and delivery.attempt <= len(self._retry_delays):
                delivery.due = time.monotonic() + self._retry_delays[delivery.attempt - 1]
                delivery.attempt += 1
                heapq.heappush(self._queue, delivery)
