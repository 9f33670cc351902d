"""What the guards do when DynamoDB cannot be reached: degrade to this instance's memory, loudly.

Decision (see the README's "Guarantees"): failing closed would turn a DynamoDB outage into a
contact-form outage, and failing open would let a burst through unchecked. In between, each
Lambda execution environment keeps enforcing the limits and the single use of CSRF tokens in
its own memory, and logs a warning on every degraded check. An abuser spread across N warm
environments gets at most N times the limit during the outage; a CSRF token — which anyone may
fetch from ``GET /contact/token`` anyway — could be replayed once per other environment.
"""

from __future__ import annotations

import logging

from contact_sdk.security.csrf import InMemoryNonceStore, NonceStore, NonceStoreUnavailable
from contact_sdk.security.ratelimit import (
    InMemoryRateLimitStore,
    RateLimitDecision,
    RateLimitStore,
    RateLimitStoreUnavailable,
)

__all__ = ["FallbackNonceStore", "FallbackRateLimitStore"]

logger = logging.getLogger(__name__)


class FallbackRateLimitStore:
    """A shared store that falls back to an in-process one while the shared one is unavailable."""

    def __init__(self, primary: RateLimitStore, fallback: RateLimitStore | None = None) -> None:
        self.primary = primary
        # Not ``fallback or ...``: an in-memory store with nothing in it has a length of 0, so it is falsy.
        self.fallback = fallback if fallback is not None else InMemoryRateLimitStore()

    def hit(self, key: str, *, limit: int, window_seconds: int, now: float) -> RateLimitDecision:
        """Ask the shared store; on :class:`RateLimitStoreUnavailable`, this instance's own counter."""
        try:
            return self.primary.hit(key, limit=limit, window_seconds=window_seconds, now=now)
        except RateLimitStoreUnavailable as exc:
            logger.warning("rate-limit store unavailable; limiting in this instance only", extra={"error": str(exc)})
            return self.fallback.hit(key, limit=limit, window_seconds=window_seconds, now=now)


class FallbackNonceStore:
    """A shared nonce store that falls back to an in-process one while the shared one is unavailable."""

    def __init__(self, primary: NonceStore, fallback: NonceStore | None = None) -> None:
        self.primary = primary
        self.fallback = fallback if fallback is not None else InMemoryNonceStore()  # (an empty one is falsy)

    def consume(self, nonce: str, expires_at: float) -> bool:
        """Consume in the shared store; on :class:`NonceStoreUnavailable`, in this instance's memory."""
        try:
            return self.primary.consume(nonce, expires_at)
        except NonceStoreUnavailable as exc:
            logger.warning(
                "nonce store unavailable; single use enforced in this instance only", extra={"error": str(exc)}
            )
            return self.fallback.consume(nonce, expires_at)
