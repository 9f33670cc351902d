"""The webhook verifier: check a Resend webhook's Svix signature and parse it into a :class:`WebhookEvent`.

Pure: no I/O, the clock injected. The route (:mod:`contact_sdk.webhooks.route`) calls it, and the
store (:mod:`contact_sdk.webhooks.store`) keeps what it returns.

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
    event.metric                                     # what it counts once recorded, or None

Errors (the store adds ``WebhookStoreUnavailableError``)::

    ContactSdkError
    ├── ConfigurationError
    │   └── WebhookSecretError          the signing secret is not ``whsec_<base64>``
    └── WebhookError                    a webhook request was refused
        ├── WebhookSignatureError       401: header missing or malformed, no matching signature, stale timestamp
        └── WebhookPayloadError         400: authentic, but not a JSON event object
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import re
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contact_sdk.errors import ConfigurationError, ContactSdkError
from contact_sdk.metrics import Metric

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "KNOWN_EVENT_TYPES",
    "SIGNATURE_HEADERS",
    "SignatureFailure",
    "WebhookError",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookSecretError",
    "WebhookSignatureError",
    "WebhookVerifier",
    "decode_signing_secret",
    "parse_event",
    "parse_time",
]

#: Seconds a webhook timestamp may be away from now, either direction (Svix's and Resend's value).
DEFAULT_TOLERANCE_SECONDS = 300

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
        created_at=parse_time(payload.get("created_at")) or datetime.fromtimestamp(fallback_created_at, UTC),
        data=data,
    )


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 string as an aware UTC datetime (naive is read as UTC); ``None`` if unreadable."""
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
