"""CSRF tokens: HMAC-SHA256 signed, bound to the requesting origin, valid for one hour, accepted once.

A token is five URL-safe parts joined by dots::

    v2.<nonce>.<expires_at>.<started_at>.<mac>

``nonce`` is 128 random bits (base64url), ``expires_at`` and ``started_at`` whole epoch seconds, and
``mac`` the HMAC-SHA256 (base64url) under the secret of ``(version, canonical origin, nonce, expires_at,
started_at)``. The origin is not carried in the token; it is part of what is signed, so a token presented
from another origin fails the signature check exactly like a forged one. ``expires_at`` is the issue time
plus the token lifetime. ``started_at`` is when the visitor's form was first shown: the issue time of a
token fetched when the form appears, or, for the ``nextToken`` handed back with an answer, the
``started_at`` of the token it replaces (a visitor who corrects a field resends at once; the fill-time
rule keeps counting from the first token). :meth:`CsrfTokens.verify_and_consume` returns it.

Tokens of the first format, ``v1.<nonce>.<expires_at>.<mac>`` (no ``started_at``: it is the issue
time), are still accepted for their hour, so forms open during a deployment keep working.

Verification order matters: parse, check the signature (constant time), check the expiry, and only
then consume the nonce, so forged or expired tokens never reach the nonce store. Consumption is one
atomic "insert if absent" in a :class:`NonceStore`, which makes a token good for exactly one
submission even when two Lambda environments receive it at the same time.

Secret rotation: pass the secret that signs new tokens as ``secret`` and the one it replaced as
``previous_secrets`` for at least one token lifetime, so tokens issued just before the rotation
are still accepted.

Example::

    tokens = CsrfTokens(nonces=DynamoDBNonceStore(dynamodb, table_name))
    token = tokens.issue(secret, "https://example.com")                     # GET /contact/token
    tokens.verify_and_consume(secret, "https://example.com", token)         # POST /contact
    tokens.verify_and_consume(secret, "https://example.com", token)         # raises CsrfInvalid("replayed")

Errors::

    ContactSdkError
    ├── CsrfError                  the request's token is not acceptable (answer 403)
    │   ├── CsrfMissing                no token, or an empty one       -> csrf_missing
    │   └── CsrfInvalid                malformed, forged, other origin,
    │                                  expired or replayed             -> csrf_invalid
    └── NonceStoreUnavailable      the nonce store could not be asked (not the client's fault)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import math
import re
import secrets as _secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ConfigurationError, ContactSdkError
from contact_sdk.security.origin import canonical_origin

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "LEGACY_TOKEN_VERSION",
    "MIN_SECRET_BYTES",
    "NONCE_BYTES",
    "TOKEN_VERSION",
    "CsrfError",
    "CsrfInvalid",
    "CsrfInvalidReason",
    "CsrfMissing",
    "CsrfTokens",
    "DynamoDBNonceStore",
    "InMemoryNonceStore",
    "NonceStore",
    "NonceStoreUnavailable",
    "VerifiedToken",
]

#: The format version every issued token starts with.
TOKEN_VERSION = "v2"  # noqa: S105 - a format tag, not a credential
#: The first format (no ``started_at``), still verified for the hour its tokens live.
LEGACY_TOKEN_VERSION = "v1"  # noqa: S105 - a format tag, not a credential
#: Random bytes per nonce (128 bits).
NONCE_BYTES = 16
#: Shortest signing secret accepted; HMAC-SHA256 keys shorter than this are guessable in principle.
MIN_SECRET_BYTES = 16

_MAC_BYTES = 32
# Longest well-formed token: "v2." + 22 + "." + 2 x (up to 12 digits + ".") + 43; anything longer is refused unparsed.
_MAX_TOKEN_LENGTH = 144
_MAX_EXPIRY_DIGITS = 12
# Domain separation: a MAC over this layout can never be confused with a MAC the same secret makes elsewhere.
_MAC_CONTEXT = b"contact-sdk/csrf"
_VERSION_SHAPE = re.compile(r"^v[0-9]{1,3}$")

#: Why a token was refused, as carried by :attr:`CsrfInvalid.reason` (logged, never shown to the client).
CsrfInvalidReason = Literal["malformed", "unsupported_version", "bad_signature", "expired", "replayed"]


class CsrfError(ContactSdkError):
    """The request's CSRF token is not acceptable. Messages never contain the token or the secret."""


class CsrfMissing(CsrfError):  # noqa: N818 - the name the service and the contract's codes use
    """No ``X-CSRF-Token`` was sent, or it was empty."""

    def __init__(self) -> None:
        super().__init__("CSRF token missing")


class CsrfInvalid(CsrfError):  # noqa: N818 - the name the service and the contract's codes use
    """The token is malformed, forged, for another origin, expired or already used; ``reason`` says which.

    A token for another origin is reported as ``bad_signature``: the origin is signed, not carried.
    """

    def __init__(self, reason: CsrfInvalidReason) -> None:
        super().__init__(f"CSRF token invalid: {reason}")
        self.reason: CsrfInvalidReason = reason


class NonceStoreUnavailable(ContactSdkError):  # noqa: N818 - the name the service and the contract's codes use
    """The nonce store could not be asked whether a token was used. The token itself may be fine.

    Without the store a replay cannot be ruled out across execution environments; the service wraps
    the store in :class:`~contact_sdk.security.fallback.FallbackNonceStore`, which enforces single use
    in this environment's memory meanwhile (``docs/security.md``).
    """


class NonceStore(Protocol):
    """Remembers which token nonces have been used, until they expire."""

    def consume(self, nonce: str, expires_at: float) -> bool:
        """Record ``nonce`` as used until ``expires_at`` (epoch seconds), atomically.

        Returns ``True`` the first time, ``False`` if it was already used and has not expired.
        Raises :class:`NonceStoreUnavailable` when the store cannot be reached.
        """
        ...


class InMemoryNonceStore:
    """A thread-safe :class:`NonceStore` for one process: tests, local runs, and Lambda without a table.

    Expired nonces are pruned on every call, so memory is bounded by the tokens used within one
    token lifetime. It does not protect across Lambda execution environments.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry_by_nonce: dict[str, float] = {}
        self._by_expiry: list[tuple[float, str]] = []

    def __len__(self) -> int:
        """How many used, unexpired nonces are remembered."""
        with self._lock:
            self._prune(self._clock())
            return len(self._expiry_by_nonce)

    def consume(self, nonce: str, expires_at: float) -> bool:
        """See :meth:`NonceStore.consume`."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            if nonce in self._expiry_by_nonce:
                return False
            self._expiry_by_nonce[nonce] = expires_at
            heapq.heappush(self._by_expiry, (expires_at, nonce))
            return True

    def _prune(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] <= now:
            _, nonce = heapq.heappop(self._by_expiry)
            del self._expiry_by_nonce[nonce]


class DynamoDBNonceStore:
    """A :class:`NonceStore` in the service's DynamoDB table, shared by every Lambda execution environment.

    One conditional ``PutItem`` per token: item ``csrf#<nonce>``, written only if absent or expired
    (DynamoDB's TTL deletes lazily, so an expired item may linger). The item carries
    :data:`~contact_sdk.dynamo.TTL_ATTRIBUTE` so DynamoDB removes it eventually.

    Example::

        store = DynamoDBNonceStore(boto3.client("dynamodb"), "contact-prod")
    """

    def __init__(self, client: DynamoDBClient, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table_name = table_name
        self._clock = clock

    def consume(self, nonce: str, expires_at: float) -> bool:
        """See :meth:`NonceStore.consume`. Any DynamoDB or connection failure raises :class:`NonceStoreUnavailable`."""
        try:
            self._client.put_item(**self._put(nonce, expires_at))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise NonceStoreUnavailable(
                f"DynamoDB nonce store ({self._table_name}) refused the write: {_error_code(exc)}"
            ) from exc
        except BotoCoreError as exc:
            raise NonceStoreUnavailable(
                f"DynamoDB nonce store ({self._table_name}) unreachable: {type(exc).__name__}"
            ) from exc
        return True

    def consume_write(self, nonce: str, expires_at: float) -> dict[str, Any]:
        """The same single use as a ``Put`` of a ``TransactWriteItems`` (the intake's admission transaction)."""
        return {"Put": self._put(nonce, expires_at)}

    def _put(self, nonce: str, expires_at: float) -> dict[str, Any]:
        return {
            "TableName": self._table_name,
            "Item": {
                PARTITION_KEY: {"S": f"csrf#{nonce}"},
                TTL_ATTRIBUTE: {"N": str(math.ceil(expires_at))},
            },
            "ConditionExpression": "attribute_not_exists(#pk) OR #expires < :now",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#expires": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {":now": {"N": str(math.floor(self._clock()))}},
        }


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code") or "unknown error"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str, expected_length: int) -> bytes | None:
    if not text or not text.isascii() or "=" in text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Re-encoding rejects non-canonical spellings (stray bits in the last character) of the same bytes.
    if len(raw) != expected_length or _b64encode(raw) != text:
        return None
    return raw


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token whose signature, origin and expiry checked out: the nonce still to consume, and its times."""

    nonce: str
    expires_at: int
    #: When the visitor's form was first shown (the fill-time rule counts from it).
    started_at: int


class CsrfTokens:
    """Issues and verifies CSRF tokens; see the module docstring for the format and the checks.

    ``ttl_seconds`` is the token lifetime (the contract's ``expiresIn``). ``clock`` gives epoch seconds
    and ``random_bytes`` the nonce; both are injectable for tests.

    Example::

        tokens = CsrfTokens(nonces=InMemoryNonceStore())
        token = tokens.issue(secret, origin)
        tokens.verify_and_consume(secret, origin, token, previous_secrets=[old_secret])
    """

    def __init__(
        self,
        *,
        nonces: NonceStore,
        ttl_seconds: int = 3600,
        clock: Callable[[], float] = time.time,
        random_bytes: Callable[[int], bytes] = _secrets.token_bytes,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be greater than zero")
        self._nonces = nonces
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._random_bytes = random_bytes

    @property
    def ttl_seconds(self) -> int:
        """How long an issued token stays valid, in seconds."""
        return self._ttl_seconds

    def issue(self, secret: bytes, origin: str, *, started_at: int | None = None) -> str:
        """Return a new token for ``origin``, signed with ``secret``, valid for :attr:`ttl_seconds`.

        ``started_at`` (epoch seconds) is when the visitor's form was first shown: pass the value
        :meth:`verify_and_consume` returned for the token this one replaces (a ``nextToken``); by
        default it is now. A value in the future is taken as now. Raises
        :class:`~contact_sdk.errors.ConfigurationError` if the secret is shorter than :data:`MIN_SECRET_BYTES`.
        """
        _check_secret(secret)
        nonce_raw = self._random_bytes(NONCE_BYTES)
        if len(nonce_raw) != NONCE_BYTES:
            raise ValueError(f"random_bytes returned {len(nonce_raw)} bytes, expected {NONCE_BYTES}")
        nonce = _b64encode(nonce_raw)
        issued_at = math.floor(self._clock())
        expires_at = issued_at + self._ttl_seconds
        started = issued_at if started_at is None else max(0, min(int(started_at), issued_at))
        mac = _mac(secret, TOKEN_VERSION, origin, nonce, expires_at, started_at=started)
        return f"{TOKEN_VERSION}.{nonce}.{expires_at}.{started}.{_b64encode(mac)}"

    def verify_and_consume(
        self,
        secret: bytes,
        origin: str,
        token: str | None,
        *,
        previous_secrets: Iterable[bytes] = (),
    ) -> int:
        """Accept ``token`` for ``origin`` once, or raise; return when its form was first shown (epoch seconds).

        That is the token's signed ``started_at``: its own issue time (the signed expiry minus
        :attr:`ttl_seconds`, whole seconds rounded down when it was issued), or the first token's for a
        ``nextToken``. A fill time measured from it is never shorter than the real one by more than a
        second. The spam rules use it as server-side evidence of when the form was shown
        (``docs/security.md``).

        The signature may be made by ``secret`` or any of ``previous_secrets`` (rotation). Raises
        :class:`CsrfMissing` for an absent or empty token, :class:`CsrfInvalid` for a malformed, forged,
        other-origin, expired or replayed one, and :class:`NonceStoreUnavailable` if the nonce store
        cannot be asked. The nonce is consumed only once signature and expiry have been checked.
        """
        verified = self.verify(secret, origin, token, previous_secrets=previous_secrets)
        if not self.consume(verified):
            raise CsrfInvalid("replayed")
        return verified.started_at

    def verify(
        self,
        secret: bytes,
        origin: str,
        token: str | None,
        *,
        previous_secrets: Iterable[bytes] = (),
    ) -> VerifiedToken:
        """Every check but the single use: parse, signature (constant time), expiry. Pure; raises like
        :meth:`verify_and_consume`. Consume the result with :meth:`consume` (or in a transaction)."""
        if token is None or not token.strip():
            raise CsrfMissing
        keys = [secret, *previous_secrets]
        for key in keys:
            _check_secret(key)

        version, nonce, expires_at, started_at, mac = _parse(token)
        # Every key is tried, even after a match, so timing does not tell which secret signed the token.
        matched = False
        for key in keys:
            expected = _mac(key, version, origin, nonce, expires_at, started_at=started_at)
            matched |= hmac.compare_digest(expected, mac)
        if not matched:
            raise CsrfInvalid("bad_signature")
        issued_at = expires_at - self._ttl_seconds
        if started_at is not None and started_at > issued_at:
            raise CsrfInvalid("malformed")  # signed, so ours, but never issued that way: a secret has leaked?
        if self._clock() >= expires_at:
            raise CsrfInvalid("expired")
        return VerifiedToken(
            nonce=nonce, expires_at=expires_at, started_at=issued_at if started_at is None else started_at
        )

    def consume(self, verified: VerifiedToken) -> bool:
        """Use the token up: ``True`` the first time, ``False`` if it was used already.

        Raises :class:`NonceStoreUnavailable` if the nonce store cannot be asked.
        """
        return self._nonces.consume(verified.nonce, verified.expires_at)

    @property
    def nonces(self) -> NonceStore:
        """Where used nonces are remembered."""
        return self._nonces


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"the CSRF secret must be at least {MIN_SECRET_BYTES} bytes")


def _mac(secret: bytes, version: str, origin: str, nonce: str, expires_at: int, *, started_at: int | None) -> bytes:
    bound_origin = canonical_origin(origin) or origin
    fields = [version, bound_origin, nonce, str(expires_at)]
    if started_at is not None:  # v2; a v1 token signs the four fields alone
        fields.append(str(started_at))
    # Length-prefixed fields: no two different tuples can produce the same message.
    message = _MAC_CONTEXT
    for field in fields:
        encoded = field.encode("utf-8", "surrogatepass")
        message += len(encoded).to_bytes(4, "big") + encoded
    return hmac.new(secret, message, hashlib.sha256).digest()


def _whole_seconds(text: str) -> int | None:
    if not text.isdigit() or len(text) > _MAX_EXPIRY_DIGITS or text != str(int(text)):
        return None
    return int(text)


def _parse(token: str) -> tuple[str, str, int, int | None, bytes]:
    """Split a token into (version, nonce, expires_at, started_at, mac), or raise ``CsrfInvalid("malformed")``.

    ``started_at`` is ``None`` for a v1 token.
    """
    if len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
        raise CsrfInvalid("malformed")
    parts = token.split(".")
    if parts[0] not in (TOKEN_VERSION, LEGACY_TOKEN_VERSION):
        raise CsrfInvalid("unsupported_version" if _VERSION_SHAPE.match(parts[0]) else "malformed")
    if len(parts) != (4 if parts[0] == LEGACY_TOKEN_VERSION else 5):
        raise CsrfInvalid("malformed")
    version, nonce, expiry_text, *started_text, mac_text = parts
    if _b64decode(nonce, NONCE_BYTES) is None:
        raise CsrfInvalid("malformed")
    expires_at = _whole_seconds(expiry_text)
    started_at = _whole_seconds(started_text[0]) if started_text else None
    if expires_at is None or (started_text and started_at is None):
        raise CsrfInvalid("malformed")
    mac = _b64decode(mac_text, _MAC_BYTES)
    if mac is None:
        raise CsrfInvalid("malformed")
    return version, nonce, expires_at, started_at, mac
