"""The security guards in front of the contact form, one module each.

- :mod:`~contact_sdk.security.origin`: the origin allow-list, CORS headers, security headers.
- :mod:`~contact_sdk.security.csrf`: signed, origin-bound, single-use CSRF tokens.
- :mod:`~contact_sdk.security.ratelimit`: per-client (IPv4 address, IPv6 /64) sliding-window limits shared
  across Lambda environments.
- :mod:`~contact_sdk.security.spam`: honeypot, fill-time (from the CSRF token's signed issue time and
  ``formStartedAt``) and content rules.
- :mod:`~contact_sdk.security.turnstile`: optional Cloudflare Turnstile verification through siteverify; its
  names are re-exported here but loaded on first use, so a deployment without Turnstile never imports it.
- :mod:`~contact_sdk.security.fallback`: what the shared stores do while DynamoDB is unavailable.

Their errors hang off the package's tree (:mod:`contact_sdk.errors`)::

    ContactSdkError
    ├── CsrfError                    the request's CSRF token is not acceptable (403)
    │   ├── CsrfMissing                  no token, or an empty one (csrf_missing)
    │   └── CsrfInvalid                  malformed, forged, other origin, expired, replayed (csrf_invalid)
    ├── NonceStoreUnavailable        the CSRF nonce store could not be asked
    └── RateLimitStoreUnavailable    the rate-limit store could not be asked

Each store (nonces, rate-limit counters) is a small ``Protocol`` with a DynamoDB implementation
for production and a thread-safe in-process one. The DynamoDB stores raise the ``*Unavailable``
errors instead of guessing; the ``Fallback*`` wrappers turn an outage into per-instance limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contact_sdk.security.csrf import (
    CsrfError,
    CsrfInvalid,
    CsrfInvalidReason,
    CsrfMissing,
    CsrfTokens,
    DynamoDBNonceStore,
    InMemoryNonceStore,
    NonceStore,
    NonceStoreUnavailable,
)
from contact_sdk.security.fallback import FallbackNonceStore, FallbackRateLimitStore
from contact_sdk.security.origin import SECURITY_HEADERS, OriginPolicy, canonical_origin
from contact_sdk.security.ratelimit import (
    DynamoDBRateLimitStore,
    InMemoryRateLimitStore,
    RateLimitDecision,
    RateLimiter,
    RateLimitStore,
    RateLimitStoreUnavailable,
    client_identity,
)
from contact_sdk.security.spam import SpamVerdict, judge

if TYPE_CHECKING:
    from contact_sdk.security.turnstile import CaptchaResult, CaptchaVerdict, TurnstileVerifier

_TURNSTILE_NAMES = frozenset({"CaptchaResult", "CaptchaVerdict", "TurnstileVerifier"})

__all__ = [
    "SECURITY_HEADERS",
    "CaptchaResult",
    "CaptchaVerdict",
    "CsrfError",
    "CsrfInvalid",
    "CsrfInvalidReason",
    "CsrfMissing",
    "CsrfTokens",
    "DynamoDBNonceStore",
    "DynamoDBRateLimitStore",
    "FallbackNonceStore",
    "FallbackRateLimitStore",
    "InMemoryNonceStore",
    "InMemoryRateLimitStore",
    "NonceStore",
    "NonceStoreUnavailable",
    "OriginPolicy",
    "RateLimitDecision",
    "RateLimitStore",
    "RateLimitStoreUnavailable",
    "RateLimiter",
    "SpamVerdict",
    "TurnstileVerifier",
    "canonical_origin",
    "client_identity",
    "judge",
]


def __getattr__(name: str) -> Any:
    """The Turnstile names, imported on first access (PEP 562)."""
    if name in _TURNSTILE_NAMES:
        from contact_sdk.security import turnstile  # noqa: PLC0415

        return getattr(turnstile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
