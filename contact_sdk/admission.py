"""The intake's decisions on shared state, made together: the rate limit's hit, the token's single use, the claim.

A submission that passed every check the intake can make by itself (the body, the token's signature
and expiry, the fields, the spam rules) needs three answers from the shared table before it is
handed to delivery: may this client send now (the rate limit), is this token unused (CSRF single use),
and is this submission new (its record's claim). With the table they are **one** DynamoDB
``TransactWriteItems`` (:class:`TransactionalAdmission`): either all three are written or none is.
That is also the meaning the contract asks for: a ``429`` spends no token and leaves no record, a
replayed token counts as a request but claims nothing. The happy path of a token and one accepted
submission is then four round trips: the token's rate limit, this transaction, the breaker's shared
state (cached for a second), and the record's move to ``sent``.

When a part's condition fails, the transaction is cancelled and DynamoDB returns each refused item as
it was (``ReturnValuesOnConditionCheckFailure``): a refused hit gives its ``Retry-After``; a used token
or an existing record take one more write, without the refused part, so the request is still counted
(and a duplicate's token consumed) — never on the happy path.

Without a table, or while DynamoDB is unavailable, :class:`SeparateAdmission` asks each store in turn:
the in-process fallbacks of the rate limit and the nonces (``docs/guarantees.md``), and the record's
claim is a gap (Resend's idempotency key still makes a repeat one email).

Example::

    admitted = admission.admit(client_ip="203.0.113.9", token=verified, draft=draft, deadline=deadline)
    if not admitted.rate.allowed: ...        # 429, nothing consumed
    elif admitted.token_fresh is False: ...  # 403 csrf_invalid (replayed)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from contact_sdk.deadline import Deadline, within
from contact_sdk.record import Claim, Draft, DynamoDBSubmissionRecords, RecordUnavailable, SubmissionRecords
from contact_sdk.security.csrf import CsrfTokens, DynamoDBNonceStore, VerifiedToken
from contact_sdk.security.ratelimit import DynamoDBRateLimitStore, RateLimitDecision, RateLimiter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["Admission", "Admitted", "SeparateAdmission", "TransactionalAdmission"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Admitted:
    """The shared state's three answers.

    ``token_fresh`` is ``None`` when no token was presented to this admission; ``claim`` is ``None``
    when nothing was claimed (no draft, a refusal before it, or the record store unavailable:
    ``record_gap`` then says why).
    """

    rate: RateLimitDecision
    token_fresh: bool | None = None
    claim: Claim | None = None
    record_gap: str | None = None


class Admission(Protocol):
    """Counts the client's request, uses the token up and claims the record, as one decision."""

    def admit(
        self, *, client_ip: str, token: VerifiedToken | None, draft: Draft | None, deadline: Deadline | None
    ) -> Admitted:
        """The three answers; never raises for an unavailable store (its fallback answers)."""
        ...

    def claim(self, draft: Draft, *, deadline: Deadline | None) -> tuple[Claim | None, str | None]:
        """The record's claim alone (Turnstile on: the token was spent before siteverify); the claim, or why not."""
        ...


class SeparateAdmission:
    """Each store in turn: the in-process stores of a deployment without a table, and the fallback of
    :class:`TransactionalAdmission`. The rate limit first: a refused client spends no token and claims
    nothing."""

    def __init__(self, limiter: RateLimiter, tokens: CsrfTokens, records: SubmissionRecords | None) -> None:
        self.limiter = limiter
        self.tokens = tokens
        self.records = records

    def admit(
        self, *, client_ip: str, token: VerifiedToken | None, draft: Draft | None, deadline: Deadline | None
    ) -> Admitted:
        """See :meth:`Admission.admit`."""
        with within(deadline):
            rate = self.limiter.check(client_ip)
            if not rate.allowed:
                return Admitted(rate)
            fresh = None if token is None else self.tokens.consume(token)
            if fresh is False or draft is None:
                return Admitted(rate, fresh)
            claim, gap = self.claim(draft, deadline=deadline)
            return Admitted(rate, fresh, claim, gap)

    def claim(self, draft: Draft, *, deadline: Deadline | None) -> tuple[Claim | None, str | None]:
        """See :meth:`Admission.claim`."""
        if self.records is None:
            return None, None
        try:
            return self.records.claim(draft, deadline=deadline), None
        except RecordUnavailable as exc:
            return None, str(exc)


class TransactionalAdmission:
    """The three writes in one ``TransactWriteItems`` of the service's table; see the module docstring."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        limiter: RateLimiter,
        rate_store: DynamoDBRateLimitStore,
        nonces: DynamoDBNonceStore,
        records: DynamoDBSubmissionRecords,
        fallback: SeparateAdmission,
    ) -> None:
        self._client = client
        self.limiter = limiter
        self._rate_store = rate_store
        self._nonces = nonces
        self.records = records
        self.fallback = fallback

    def admit(
        self, *, client_ip: str, token: VerifiedToken | None, draft: Draft | None, deadline: Deadline | None
    ) -> Admitted:
        """See :meth:`Admission.admit`."""
        key, now = self.limiter.hit_for(client_ip)
        limits: dict[str, Any] = {
            "limit": self.limiter.limit,
            "window_seconds": self.limiter.window_seconds,
            "now": now,
        }
        parts: list[dict[str, Any]] = [self._rate_store.hit_write(key, **limits)]
        if token is not None:
            parts.append(self._nonces.consume_write(token.nonce, token.expires_at))
        if draft is not None:
            parts.append(self.records.claim_write(draft))
        written, reasons = self._transact(parts, deadline)
        if written is None:
            return self.fallback.admit(client_ip=client_ip, token=token, draft=draft, deadline=deadline)
        allowed = RateLimitDecision(allowed=True, limit=self.limiter.limit, remaining=None, retry_after_seconds=0)
        if written:
            claim = self.records.claim_granted(draft) if draft is not None else None
            return Admitted(allowed, True if token is not None else None, claim)
        if _refused(reasons, 0):
            return Admitted(self._rate_store.refused(reasons[0].get("Item"), **limits))
        if token is not None and _refused(reasons, 1):
            # A used token: the request still counts against the client; nothing is claimed.
            self._transact([self._rate_store.hit_write(key, **limits)], deadline)
            return Admitted(allowed, False)
        claim_index = 2 if token is not None else 1
        if draft is not None and _refused(reasons, claim_index):
            existing, gap = self._existing(draft, reasons[claim_index].get("Item"), deadline)
            # The same submission again: count the request and spend the token, without the claim.
            _, again = self._transact(parts[:claim_index], deadline)
            if _refused(again, 0):
                return Admitted(self._rate_store.refused(again[0].get("Item"), **limits))
            if token is not None and _refused(again, 1):
                return Admitted(allowed, False)
            return Admitted(allowed, True if token is not None else None, existing, gap)
        # A condition failed on no part we know of (cannot happen with these parts): each store in turn.
        logger.warning("admission transaction cancelled", extra={"reasons": [r.get("Code") for r in reasons]})
        return self.fallback.admit(client_ip=client_ip, token=token, draft=draft, deadline=deadline)

    def claim(self, draft: Draft, *, deadline: Deadline | None) -> tuple[Claim | None, str | None]:
        """See :meth:`Admission.claim`: one conditional ``UpdateItem``."""
        return self.fallback.claim(draft, deadline=deadline)

    def _existing(self, draft: Draft, old: Any, deadline: Deadline | None) -> tuple[Claim | None, str | None]:
        """The record that refused the claim: as the cancellation returned it, else read (one more call)."""
        try:
            if old:
                return self.records.claim_refused(draft, old), None
            record = self.records.get(draft.key, deadline=deadline)
        except RecordUnavailable as exc:
            return None, str(exc)
        if record is None:  # gone between the two calls (erased): claim it anew
            return self.fallback.claim(draft, deadline=deadline)
        return Claim(created=False, record=record), None

    def _transact(
        self, parts: list[dict[str, Any]], deadline: Deadline | None
    ) -> tuple[bool | None, list[dict[str, Any]]]:
        """``(True, [])`` when written; ``(False, reasons)`` when a condition failed; ``(None, [])`` when the
        table could not be asked (or cancelled the transaction for another reason than a condition)."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        try:
            with within(deadline):
                self._client.transact_write_items(TransactItems=parts)  # type: ignore[arg-type]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                found: Any = exc.response.get("CancellationReasons")
                reasons: list[Any] = list(found or [])
                if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
                    return False, [dict(reason) for reason in reasons]
            logger.warning("admission transaction refused", extra={"error": str(exc)})
            return None, []
        except BotoCoreError as exc:
            logger.warning("admission transaction unavailable", extra={"error": type(exc).__name__})
            return None, []
        return True, []


def _refused(reasons: list[dict[str, Any]], index: int) -> bool:
    return index < len(reasons) and reasons[index].get("Code") == "ConditionalCheckFailed"
