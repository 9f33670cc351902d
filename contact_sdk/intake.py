"""The intake: every check between a request's parts and a verdict, in the contract's order (§6).

``POST /contact``: origin → rate limit → media type → size → JSON → CSRF token (present, then
signature, origin, expiry, and consumed once) → Turnstile (when on: present, then siteverify) →
fields → spam. The verdict is :class:`Refused` (the answer is decided: an error, a ``429``, spam,
a repeat answered from its record) or :class:`Accepted` (handed to :class:`~contact_sdk.delivery.Delivery`).

Nobody without a valid token learns the field rules: a reused, forged or foreign token is ``403
csrf_invalid`` whatever the body. Every answer given after the token was consumed carries a
``nextToken`` (in the ``error`` object of an error) that keeps the fill-time start of the token it
replaces. The honeypot is never a field error: filled with anything at all, the submission is spam.

The checks the intake can make alone (body, signature, expiry, fields, spam) come first; the three
that need shared state — the rate limit's hit, the token's single use, the record's claim — are then
made together by the :class:`~contact_sdk.admission.Admission` (one DynamoDB transaction), and the
answer follows the contract's order: a rate-limited client gets ``429`` whatever else was wrong with
its request, and spends nothing. With Turnstile on, the token is consumed before siteverify is asked
(so a replayed token never reaches Cloudflare), and the record is claimed after it.

Every call the checks make ends by their share of the request's deadline: all but
:data:`~contact_sdk.deadline.DELIVERY_RESERVE_SECONDS` (1 s, at most half of what is left), so a hanging table or
siteverify costs the checks their share and leaves the delivery time to send the email or keep it.

The intake is built once per execution environment and is safe to call from many threads; it knows
nothing of API Gateway (:mod:`contact_sdk.api` does) nor of sending (:mod:`contact_sdk.delivery`).

Example::

    verdict = intake.submit(SubmitRequest(origin="https://example.com", client_ip="203.0.113.9",
                                          content_type="application/json", body=b"{...}",
                                          csrf_token=token, request_id="abc", deadline=deadline))
    outcome = delivery.deliver(verdict) if isinstance(verdict, Accepted) else verdict.outcome
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from contact_sdk.admission import Admission, Admitted
from contact_sdk.compose import idempotency_key
from contact_sdk.config import ServiceConfig
from contact_sdk.deadline import DELIVERY_RESERVE_SECONDS, Deadline, within
from contact_sdk.errors import ConfigurationError
from contact_sdk.metrics import Metric
from contact_sdk.outcome import Outcome, unavailable, with_next_token
from contact_sdk.record import Draft, RecordState, RecordView
from contact_sdk.security.csrf import CsrfInvalid, CsrfMissing, CsrfTokens, VerifiedToken
from contact_sdk.security.origin import OriginPolicy
from contact_sdk.security.ratelimit import RateLimitDecision, RateLimiter
from contact_sdk.security.spam import judge

if TYPE_CHECKING:
    from contact_sdk.models import ContactSubmission
    from contact_sdk.security.turnstile import TurnstileVerifier

__all__ = ["MAX_BODY_BYTES", "Accepted", "Intake", "Refused", "SubmitRequest", "Verdict"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """The parts of ``POST /contact`` the intake needs, already taken out of the event."""

    origin: str | None
    client_ip: str
    content_type: str | None
    body: bytes
    csrf_token: str | None
    request_id: str
    #: The request's one deadline (from receipt: the response budget or the Lambda's, whichever is earlier).
    deadline: Deadline | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The answer is decided without sending: an error, a ``429``, spam, or a repeat answered from its record."""

    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Accepted:
    """A submission to deliver now, under ``key``, with the page's next token."""

    submission: ContactSubmission
    key: str
    request_id: str
    next_token: str
    deadline: Deadline | None
    #: Turnstile was on and siteverify could not be asked: the subject is marked, the owner warned.
    captcha_unverified: bool = False
    #: Its record, as claimed (``None`` without records, or when the claim could not be written).
    record: RecordView | None = None
    #: Why the record could not be claimed (the table unavailable): logged and counted by delivery.
    record_gap: str | None = None


Verdict = Refused | Accepted


def _checks_deadline(deadline: Deadline | None) -> Deadline | None:
    """What of the request's ``deadline`` the checks before delivery may use: all but
    :data:`~contact_sdk.deadline.DELIVERY_RESERVE_SECONDS` (at most half of what is left). A hanging DynamoDB then
    costs the submission its guards in the table (they fall back to memory), not its delivery."""
    return None if deadline is None else deadline.keeping(DELIVERY_RESERVE_SECONDS, at_most=0.5)


def _rate_limited(decision: RateLimitDecision, what: str) -> Outcome:
    return Outcome.error(
        429,
        "rate_limited",
        f"Too many {what} from your address. Please try again in {decision.retry_after_seconds} seconds.",
        metrics=(Metric.RATE_LIMITED,),
        headers={"Retry-After": str(decision.retry_after_seconds)},
    )


def _is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json"


def _refuse_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode_json(body: bytes) -> Any:
    # NaN, Infinity and -Infinity are Python's extensions, not JSON (RFC 8259): refused as invalid_json.
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_json_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def origin_refused() -> Outcome:
    """``403 origin_not_allowed`` (and no CORS headers: the API adapter adds them for allowed origins only)."""
    return Outcome.error(
        403, "origin_not_allowed", "Requests from this origin are not allowed.", metrics=(Metric.CSRF_REJECTED,)
    )


def _csrf_refused(exc: CsrfMissing | CsrfInvalid) -> Outcome:
    if isinstance(exc, CsrfMissing):
        return Outcome.error(
            403,
            "csrf_missing",
            "The form's security token is missing. Reload the page and try again.",
            metrics=(Metric.CSRF_REJECTED,),
        )
    return Outcome.error(
        403,
        "csrf_invalid",
        "The form's security token is invalid or has expired. Reload the page and try again.",
        metrics=(Metric.CSRF_REJECTED,),
        log_fields={"csrf_reason": getattr(exc, "reason", "invalid")},
    )


def _captcha_refused(reason: str) -> Outcome:
    return Outcome.error(
        403,
        "captcha_invalid",
        "We could not confirm that you are not a robot. Please complete the check again and resend.",
        metrics=(Metric.CAPTCHA_REJECTED,),
        log_fields={"captcha_reason": reason},
    )


def _repeat(record: RecordView, next_token: str, key: str) -> Refused:
    """The same submission within 24 hours: answered as its record says, nothing done again."""
    sent = record.state in (RecordState.SENT, RecordState.RELEASED)
    shown = "sent" if sent else "queued"
    return Refused(
        Outcome(
            status=200 if sent else 202,
            body={"status": shown, "nextToken": next_token},
            outcome=f"duplicate_{shown}",
            log_fields={"idempotency_key": key, "record_state": record.state.value},
        )
    )


class Intake:
    """Issues CSRF tokens and turns submissions into verdicts. Built once; thread-safe."""

    def __init__(
        self,
        *,
        config: ServiceConfig,
        origins: OriginPolicy,
        csrf: CsrfTokens,
        token_limiter: RateLimiter,
        admission: Admission,
        min_fill_seconds: float = 3.0,
        captcha: TurnstileVerifier | None = None,
        captcha_strict: bool = False,
        clock: Callable[[], float] = time.time,
        record_metric: Callable[[Metric], None] | None = None,
    ) -> None:
        self.config = config
        self.origins = origins
        self.csrf = csrf
        self.token_limiter = token_limiter
        self.admission = admission
        self.min_fill_seconds = min_fill_seconds
        self.captcha = captcha
        self.captcha_strict = captcha_strict
        self._clock = clock
        self._record_metric: Callable[[Metric], None] = record_metric or (lambda metric: None)

    # -- GET /contact/token --------------------------------------------------------------------

    def issue_token(self, *, origin: str | None, client_ip: str, deadline: Deadline | None = None) -> Outcome:
        """A fresh CSRF token bound to ``origin``; every call it makes (secret, rate limit) ends by ``deadline``.

        The secret is read before the limiter is asked: without it there is no token to give, and a slow
        rate-limit table may use what is left of the deadline, then fall back to this instance's memory. The other
        way round, a table cut at the deadline left nothing to read the secret with on a cold instance (a 503).
        """
        if origin is None or not self.origins.is_allowed(origin):
            return origin_refused()
        with within(deadline):
            try:
                secret = self.config.csrf_secret()
            except ConfigurationError as exc:
                return unavailable("The contact form is not available right now.", {"config_error": str(exc)})
            decision = self.token_limiter.check(client_ip)
            if not decision.allowed:
                return _rate_limited(decision, "token requests")
            try:
                token = self.csrf.issue(secret, origin)
            except ConfigurationError as exc:  # a secret too short to sign with
                return unavailable("The contact form is not available right now.", {"config_error": str(exc)})
        return Outcome(status=200, body={"token": token, "expiresIn": self.csrf.ttl_seconds}, outcome="token_issued")

    # -- POST /contact -------------------------------------------------------------------------

    def submit(self, request: SubmitRequest) -> Verdict:
        """The verdict on one submission: see the module docstring for the order of checks.

        Every call it makes ends by ``request.deadline``.
        """
        if request.origin is None or not self.origins.is_allowed(request.origin):
            return Refused(origin_refused())
        # The fill-time rule judges when the request arrived, not when a slow dependency let it go on.
        received_at = self._clock()
        checks = _checks_deadline(request.deadline)
        with within(checks):
            return self._submit(replace(request, deadline=checks), request.origin, received_at, request.deadline)

    def _submit(
        self, request: SubmitRequest, origin: str, received_at: float, delivery_deadline: Deadline | None
    ) -> Verdict:
        """The checks, each call ending by ``request.deadline`` (the checks' share); delivery gets the whole one."""
        early, payload, token, secret = self._read(request, origin)
        if early is not None or token is None or secret is None:
            # A check before the token's single use failed: the request still counts against the client.
            admitted = self.admission.admit(
                client_ip=request.client_ip, token=None, draft=None, deadline=request.deadline
            )
            if not admitted.rate.allowed:
                return Refused(_rate_limited(admitted.rate, "messages"))
            return Refused(early if early is not None else _csrf_refused(CsrfMissing()))
        next_token = self.csrf.issue(secret, origin, started_at=token.started_at)
        captcha_unverified = False
        if self.captcha is not None:
            # The token is spent before Cloudflare is asked: a replayed token never reaches siteverify.
            admitted = self.admission.admit(
                client_ip=request.client_ip, token=token, draft=None, deadline=request.deadline
            )
            refused = self._refused_by(admitted)
            if refused is not None:
                return refused
            outcome, captcha_unverified = self._captcha(payload, request)
            if outcome is not None:
                return Refused(with_next_token(outcome, next_token))
        # The honeypot is judged by the spam rules alone, whatever it holds: a field error would tell a bot it is read.
        honeypot = payload.pop("website", None)
        from contact_sdk.models import parse_submission  # noqa: PLC0415 - deferred, see contact_sdk.models

        submission, field_errors = parse_submission(payload)
        if submission is None:
            if self.captcha is None:
                admitted = self.admission.admit(
                    client_ip=request.client_ip, token=token, draft=None, deadline=request.deadline
                )
                refused = self._refused_by(admitted)
                if refused is not None:
                    return refused
            return Refused(
                with_next_token(
                    Outcome.error(
                        400,
                        "validation_error",
                        "Some fields need your attention.",
                        fields=field_errors,
                        metrics=(Metric.VALIDATION_ERRORS,),
                        log_fields={"invalid_fields": sorted(field_errors)},
                    ),
                    next_token,
                )
            )
        verdict = judge(
            honeypot=honeypot,
            form_started_at_ms=submission.form_started_at,
            message=submission.message,
            name=submission.name,
            subject=submission.subject,
            now_ms=int(received_at * 1000),
            min_fill_seconds=self.min_fill_seconds,
            token_issued_at_ms=token.started_at * 1000,
        )
        key = idempotency_key(submission)
        draft = Draft.of(
            submission,
            key=key,
            request_id=request.request_id,
            client_ip=request.client_ip,
            state=RecordState.SPAM if verdict.is_spam else RecordState.RECEIVED,
            now=self._clock(),
            reasons=verdict.reasons,
            ipv6_prefix=self.token_limiter.ipv6_prefix,  # the two limits share CONTACT_RATE_LIMIT_IPV6_PREFIX
        )
        if self.captcha is None:
            admitted = self.admission.admit(
                client_ip=request.client_ip, token=token, draft=draft, deadline=request.deadline
            )
            refused = self._refused_by(admitted)
            if refused is not None:
                return refused
            claim, gap = admitted.claim, admitted.record_gap
        else:
            claim, gap = self.admission.claim(draft, deadline=request.deadline)
        if gap is not None:
            self._record_metric(Metric.ARCHIVE_WRITE_FAILED)
            logger.warning(
                "the submission's record could not be written; it goes ahead without it",
                extra={"idempotency_key": key, "error": gap},
            )
        record_fields = (
            {"record_gap": draft.state.value}
            if gap is not None
            else ({"record_state": draft.state.value} if claim is not None and claim.created else {})
        )
        if verdict.is_spam:
            # Indistinguishable from "sent" for the sender; nothing is sent, but the owner can review it.
            return Refused(
                Outcome(
                    status=200,
                    body={"status": "sent", "nextToken": next_token},
                    outcome="spam",
                    metrics=(Metric.SPAM_BLOCKED,),
                    log_fields={"spam_reasons": list(verdict.reasons), **record_fields},
                )
            )
        if claim is not None and not claim.created and claim.record.state != RecordState.RECEIVED:
            return _repeat(claim.record, next_token, key)
        return Accepted(
            submission=submission,
            key=key,
            request_id=request.request_id,
            next_token=next_token,
            deadline=delivery_deadline,
            captcha_unverified=captcha_unverified,
            record=None if claim is None else claim.record,
            record_gap=gap,
        )

    def _read(
        self, request: SubmitRequest, origin: str
    ) -> tuple[Outcome | None, dict[str, Any], VerifiedToken | None, bytes | None]:
        """The checks up to the token's signature and expiry, in order; the first failure, or the parts."""
        if not _is_json_media_type(request.content_type):
            return (
                Outcome.error(
                    415,
                    "unsupported_media_type",
                    "Send the form as JSON (Content-Type: application/json).",
                    metrics=(Metric.VALIDATION_ERRORS,),
                ),
                {},
                None,
                None,
            )
        if len(request.body) > MAX_BODY_BYTES:
            return (
                Outcome.error(
                    413,
                    "payload_too_large",
                    f"The message is too large: the limit is {MAX_BODY_BYTES // 1024} KiB.",
                    metrics=(Metric.VALIDATION_ERRORS,),
                ),
                {},
                None,
                None,
            )
        payload = _decode_json(request.body)
        if not isinstance(payload, dict):
            invalid = Outcome.error(
                400, "invalid_json", "The body must be a JSON object.", metrics=(Metric.VALIDATION_ERRORS,)
            )
            return invalid, {}, None, None
        if request.csrf_token is None or not request.csrf_token.strip():
            return _csrf_refused(CsrfMissing()), payload, None, None
        try:
            secret, previous_secrets = self.config.csrf_secrets()
        except ConfigurationError as exc:
            down = unavailable("The contact form is not available right now.", {"config_error": str(exc)})
            return down, payload, None, None
        try:
            token = self.csrf.verify(secret, origin, request.csrf_token, previous_secrets=previous_secrets)
        except (CsrfMissing, CsrfInvalid) as exc:
            return _csrf_refused(exc), payload, None, None
        return None, payload, token, secret

    def _refused_by(self, admitted: Admitted) -> Refused | None:
        if not admitted.rate.allowed:
            return Refused(_rate_limited(admitted.rate, "messages"))
        if admitted.token_fresh is False:
            return Refused(_csrf_refused(CsrfInvalid("replayed")))
        return None

    def _captcha(self, payload: dict[str, Any], request: SubmitRequest) -> tuple[Outcome | None, bool]:
        """Turnstile's verdict: an answer to give (refused, strict and unavailable), and whether to mark the subject."""
        assert self.captcha is not None  # noqa: S101 - the caller checked
        # Loaded with the verifier (bootstrap), only where Turnstile is configured: not on every cold start.
        from contact_sdk.security.turnstile import CaptchaVerdict  # noqa: PLC0415

        turnstile_token = payload.get("turnstileToken")
        if not isinstance(turnstile_token, str) or not turnstile_token.strip():
            return _captcha_refused("missing"), False
        result = self.captcha.verify(turnstile_token, remote_ip=request.client_ip, deadline=request.deadline)
        if result.verdict == CaptchaVerdict.REFUSED:
            return _captcha_refused(result.reason), False
        if result.verdict == CaptchaVerdict.UNAVAILABLE:
            self._record_metric(Metric.CAPTCHA_UNAVAILABLE)
            if self.captcha_strict:
                return (
                    unavailable(
                        "We could not check that you are not a robot right now. Please try again in a minute.",
                        {"captcha_reason": result.reason},
                    ),
                    False,
                )
            logger.warning(
                "Turnstile unavailable: delivering with the subject marked", extra={"captcha_reason": result.reason}
            )
            return None, True
        return None, False
