"""The contact service: every step between a request's parts and its outcome, in order.

``POST /contact`` (the contract's order of checks, §6): origin → rate limit → media type → size →
JSON → CSRF token (present, then signature, origin, expiry, and consumed once) → Turnstile (when on:
the token present, then siteverify) → fields → spam → send (→ outbox).
Nobody without a valid token learns the field rules: a reused, forged or foreign token is ``403
csrf_invalid`` whatever the body. Every answer given after the token was consumed carries a
``nextToken`` (in the ``error`` object of an error), whose fill-time start is the consumed token's,
so a person who fixes a field resends at once. The honeypot is never a field error: filled with
anything at all, the submission is spam.

The service is built once per execution environment and is safe to call from many threads.
It knows nothing of API Gateway: :mod:`contact_sdk.api` turns events into :class:`SubmitRequest`
and :class:`Outcome` into responses.

Example::

    outcome = service.submit(SubmitRequest(origin="https://example.com", client_ip="203.0.113.9",
                                           content_type="application/json", body=b"{...}",
                                           csrf_token=token, request_id="abc", deadline=None))
    outcome.status, outcome.body
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from contact_sdk.archive import ArchiveState, ArchiveUnavailable, SubmissionArchive
from contact_sdk.compose import compose_email, idempotency_key
from contact_sdk.config import ServiceConfig
from contact_sdk.deadline import QUEUE_ALLOWANCE_SECONDS, Deadline, within
from contact_sdk.errors import (
    PROVIDER_UNAVAILABLE,
    ConfigurationError,
    IdempotencyConflictError,
    PermanentProviderError,
    ProviderAuthError,
    ProviderDeferredError,
    ProviderError,
    ProviderQuotaError,
)
from contact_sdk.idempotency import LedgerUnavailable, SubmissionLedger, SubmissionState, SubmissionStatus
from contact_sdk.metrics import Metric
from contact_sdk.models import ContactSubmission, parse_submission
from contact_sdk.outbox import Outbox, OutboxUnavailable, QueuedSubmission
from contact_sdk.parking import ParkingLot, ParkingUnavailable
from contact_sdk.resend import OutgoingEmail, ResendClient
from contact_sdk.security.csrf import CsrfInvalid, CsrfMissing, CsrfTokens
from contact_sdk.security.origin import OriginPolicy
from contact_sdk.security.ratelimit import RateLimitDecision, RateLimiter
from contact_sdk.security.spam import judge
from contact_sdk.security.turnstile import CaptchaVerdict, TurnstileVerifier

__all__ = [
    "MAX_BODY_BYTES",
    "ContactService",
    "Outcome",
    "SubmitRequest",
    "is_permanent_refusal",
    "lambda_deadline",
    "refusal_reason",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024
#: Put before the subject of an email whose Turnstile token could not be verified (siteverify unreachable).
CAPTCHA_UNVERIFIED_MARK = "[captcha unverified] "
#: What a client is told to wait when nothing can take its submission.
UNAVAILABLE_RETRY_AFTER = 30


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one request: the response and the facts the logs and metrics need."""

    status: int
    body: dict[str, Any]
    outcome: str
    headers: Mapping[str, str] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()
    log_fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def error(
        cls,
        status: int,
        code: str,
        message: str,
        *,
        metrics: tuple[Metric, ...] = (),
        headers: Mapping[str, str] | None = None,
        fields: Mapping[str, str] | None = None,
        log_fields: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """An error outcome with the contract's body ``{"error": {"code", "message"[, "fields"]}}``."""
        error: dict[str, Any] = {"code": code, "message": message}
        if fields:
            error["fields"] = dict(fields)
        return cls(
            status=status,
            body={"error": error},
            outcome=code,
            headers=dict(headers or {}),
            metrics=metrics,
            log_fields=dict(log_fields or {}),
        )


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """The parts of ``POST /contact`` the service needs, already taken out of the event."""

    origin: str | None
    client_ip: str
    content_type: str | None
    body: bytes
    csrf_token: str | None
    request_id: str
    #: The request's one deadline (from receipt: the response budget or the Lambda's, whichever is earlier).
    deadline: Deadline | None = None


def lambda_deadline(context: Any, *, margin_ms: float, clock: Callable[[], float]) -> Deadline | None:
    """When the work must stop: the Lambda's remaining time minus ``margin_ms``, on ``clock``.

    ``None`` without a usable Lambda context (local tools, tests): each call's own timeouts and the
    client's retry limits then bound the work.
    """
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        budget_ms = float(remaining()) - margin_ms
    except (TypeError, ValueError):
        return None
    return Deadline.after(max(budget_ms, 0.0) / 1000, clock=clock)


def is_permanent_refusal(error: ProviderError) -> bool:
    """A documented permanent refusal: parked for an operator, never retried.

    Every 4xx but 409 (an idempotency answer) and 429 (rate limit or quota), plus a ``403
    email_above_quota``: an exhausted quota is permanent only until it resets, so it waits in the
    outbox instead.
    """
    return isinstance(error, PermanentProviderError) and not isinstance(
        error, (ProviderQuotaError, IdempotencyConflictError)
    )


def refusal_reason(error: ProviderError) -> str:
    """One line an operator can act on: the error class, status, Resend's name and message."""
    parts = [type(error).__name__]
    if error.status is not None:
        parts.append(str(error.status))
    if error.name:
        parts.append(error.name)
    return f"{' '.join(parts)}: {error.message}"


def _rate_limited(decision: RateLimitDecision, what: str) -> Outcome:
    return Outcome.error(
        429,
        "rate_limited",
        f"Too many {what} from your address. Please try again in {decision.retry_after_seconds} seconds.",
        metrics=(Metric.RATE_LIMITED,),
        headers={"Retry-After": str(decision.retry_after_seconds)},
    )


def _unavailable(message: str, log_fields: Mapping[str, Any] | None = None) -> Outcome:
    return Outcome.error(
        503,
        "service_unavailable",
        message,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        log_fields=log_fields,
    )


def _allowance(deadline: Deadline | None) -> Deadline | None:
    """``deadline`` plus the allowance to keep a submission durably and answer."""
    return None if deadline is None else deadline.extended(QUEUE_ALLOWANCE_SECONDS)


def _with_next_token(outcome: Outcome, next_token: str) -> Outcome:
    """An error answer given after the CSRF token was consumed: the page's next token rides in its ``error``."""
    error = {**outcome.body["error"], "nextToken": next_token}
    return replace(outcome, body={**outcome.body, "error": error})


def _refuse_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _marked(email: OutgoingEmail, subject_prefix: str) -> OutgoingEmail:
    return dataclasses.replace(email, subject=subject_prefix + email.subject) if subject_prefix else email


def _is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json"


class ContactService:
    """Issues CSRF tokens and handles submissions. Built once; thread-safe."""

    def __init__(
        self,
        *,
        config: ServiceConfig,
        client: ResendClient,
        origins: OriginPolicy,
        csrf: CsrfTokens,
        submit_limiter: RateLimiter,
        token_limiter: RateLimiter,
        outbox: Outbox | None,
        ledger: SubmissionLedger | None = None,
        parking: ParkingLot | None = None,
        min_fill_seconds: float = 3.0,
        clock: Callable[[], float] = time.time,
        record_metric: Callable[[Metric], None] | None = None,
        archive: SubmissionArchive | None = None,
        captcha: TurnstileVerifier | None = None,
        captcha_strict: bool = False,
    ) -> None:
        self.config = config
        self.client = client
        self.origins = origins
        self.csrf = csrf
        self.submit_limiter = submit_limiter
        self.token_limiter = token_limiter
        self.outbox = outbox
        self.ledger = ledger
        self.parking = parking
        self.min_fill_seconds = min_fill_seconds
        self.captcha = captcha
        self.captcha_strict = captcha_strict
        self._clock = clock
        self.record_metric: Callable[[Metric], None] = record_metric or (lambda metric: None)
        self.archive = archive

    # -- GET /contact/token --------------------------------------------------------------------

    def issue_token(self, *, origin: str | None, client_ip: str, deadline: Deadline | None = None) -> Outcome:
        """A fresh CSRF token bound to ``origin`` (which the caller has already found allowed).

        Every call it makes (the rate limit's counter, the CSRF secret) ends by ``deadline``.
        """
        if origin is None or not self.origins.is_allowed(origin):
            return self._origin_refused()
        with within(deadline):
            decision = self.token_limiter.check(client_ip)
            if not decision.allowed:
                return _rate_limited(decision, "token requests")
            try:
                token = self.csrf.issue(self.config.csrf_secret(), origin)
            except ConfigurationError as exc:
                return _unavailable("The contact form is not available right now.", {"config_error": str(exc)})
        return Outcome(status=200, body={"token": token, "expiresIn": self.csrf.ttl_seconds}, outcome="token_issued")

    # -- POST /contact -------------------------------------------------------------------------

    def submit(self, request: SubmitRequest) -> Outcome:
        """Handle one submission: see the module docstring for the order of checks.

        Every call it makes ends by ``request.deadline``; keeping the submission durably (the outbox, the
        parking lot, its records) may use :data:`~contact_sdk.deadline.QUEUE_ALLOWANCE_SECONDS` more.
        """
        with within(request.deadline):
            return self._submit(request)

    def _submit(self, request: SubmitRequest) -> Outcome:
        if request.origin is None or not self.origins.is_allowed(request.origin):
            return self._origin_refused()
        origin = request.origin
        decision = self.submit_limiter.check(request.client_ip)
        if not decision.allowed:
            return _rate_limited(decision, "messages")
        if not _is_json_media_type(request.content_type):
            return Outcome.error(
                415,
                "unsupported_media_type",
                "Send the form as JSON (Content-Type: application/json).",
                metrics=(Metric.VALIDATION_ERRORS,),
            )
        if len(request.body) > MAX_BODY_BYTES:
            return Outcome.error(
                413,
                "payload_too_large",
                f"The message is too large: the limit is {MAX_BODY_BYTES // 1024} KiB.",
                metrics=(Metric.VALIDATION_ERRORS,),
            )
        payload = self._decode_json(request.body)
        if not isinstance(payload, dict):
            return Outcome.error(
                400, "invalid_json", "The body must be a JSON object.", metrics=(Metric.VALIDATION_ERRORS,)
            )
        if request.csrf_token is None or not request.csrf_token.strip():
            return self._csrf_refused(CsrfMissing())
        try:
            secret, previous_secrets = self.config.csrf_secrets()
        except ConfigurationError as exc:
            return _unavailable("The contact form is not available right now.", {"config_error": str(exc)})
        try:
            form_started_at = self.csrf.verify_and_consume(
                secret, origin, request.csrf_token, previous_secrets=previous_secrets
            )
        except (CsrfMissing, CsrfInvalid) as exc:
            return self._csrf_refused(exc)
        # The token is spent: every answer from here on hands the page the next one, counting from the same start.
        next_token = self.csrf.issue(secret, origin, started_at=form_started_at)
        captcha_unverified = False
        if self.captcha is not None:
            turnstile_token = payload.get("turnstileToken")
            if not isinstance(turnstile_token, str) or not turnstile_token.strip():
                return _with_next_token(self._captcha_refused("missing"), next_token)
            result = self.captcha.verify(turnstile_token, remote_ip=request.client_ip, deadline=request.deadline)
            if result.verdict == CaptchaVerdict.REFUSED:
                return _with_next_token(self._captcha_refused(result.reason), next_token)
            if result.verdict == CaptchaVerdict.UNAVAILABLE:
                self.record_metric(Metric.CAPTCHA_UNAVAILABLE)
                if self.captcha_strict:
                    return _with_next_token(
                        _unavailable(
                            "We could not check that you are not a robot right now. Please try again in a minute.",
                            {"captcha_reason": result.reason},
                        ),
                        next_token,
                    )
                logger.warning(
                    "Turnstile unavailable: delivering with the subject marked", extra={"captcha_reason": result.reason}
                )
                captcha_unverified = True
        # The honeypot is judged by the spam rules alone, whatever it holds: a field error would tell a bot it is read.
        honeypot = payload.pop("website", None)
        submission, field_errors = parse_submission(payload)
        if submission is None:
            return _with_next_token(
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
        verdict = judge(
            honeypot=honeypot,
            form_started_at_ms=submission.form_started_at,
            message=submission.message,
            name=submission.name,
            subject=submission.subject,
            now_ms=int(self._clock() * 1000),
            min_fill_seconds=self.min_fill_seconds,
            token_issued_at_ms=form_started_at * 1000,
        )
        if verdict.is_spam:
            # Indistinguishable from "sent" for the sender; nothing is sent, but the owner can review it.
            with within(_allowance(request.deadline)):
                archived = self.archive_submission(
                    submission, request, idempotency_key(submission), ArchiveState.SPAM, reasons=verdict.reasons
                )
            return Outcome(
                status=200,
                body={"status": "sent", "nextToken": next_token},
                outcome="spam",
                metrics=(Metric.SPAM_BLOCKED,),
                log_fields={"spam_reasons": list(verdict.reasons), **archived},
            )
        return self._deliver(submission, request, next_token, captcha_unverified=captcha_unverified)

    def _deliver(
        self,
        submission: ContactSubmission,
        request: SubmitRequest,
        next_token: str,
        *,
        captcha_unverified: bool = False,
    ) -> Outcome:
        key = idempotency_key(submission)
        known = self._lookup(key)
        if known is not None:
            # The same submission within 24 hours: answer as the first time, do nothing again.
            status = 200 if known.status == SubmissionStatus.SENT else 202
            return Outcome(
                status=status,
                body={"status": known.status.value, "nextToken": next_token},
                outcome=f"duplicate_{known.status.value}",
                log_fields={"idempotency_key": key},
            )
        try:
            email_id = self.send_submission(
                submission, key, request.deadline, subject_prefix=CAPTCHA_UNVERIFIED_MARK if captcha_unverified else ""
            )
        except IdempotencyConflictError:
            # The provider already holds an email for this very submission (same key).
            return Outcome(
                status=200,
                body={"status": "sent", "nextToken": next_token},
                outcome="duplicate",
                log_fields={"idempotency_key": key},
            )
        except ConfigurationError as exc:
            return self._keep_for_later(submission, request, key, next_token, reason=f"config: {exc}")
        except ProviderError as exc:
            if is_permanent_refusal(exc):
                return self._park_now(submission, request, key, next_token, exc)
            self.record_metric(Metric.EMAILS_FAILED)
            if isinstance(exc, ProviderDeferredError):
                # The budget (or the Lambda deadline) left no room for the next wait or attempt.
                self.record_metric(Metric.BUDGET_EXHAUSTED)
            elif not isinstance(exc, PROVIDER_UNAVAILABLE):
                logger.error(
                    "provider refused the email",
                    extra={"error": type(exc).__name__, "status": exc.status, "provider_error": exc.name},
                )
            return self._keep_for_later(submission, request, key, next_token, reason=type(exc).__name__)
        with within(_allowance(request.deadline)):
            self._mark(key, SubmissionStatus.SENT, email_id=email_id)
            archived = self.archive_submission(submission, request, key, ArchiveState.SENT, email_id=email_id)
        return Outcome(
            status=200,
            body={"status": "sent", "nextToken": next_token},
            outcome="sent",
            metrics=(Metric.EMAILS_SENT,),
            log_fields={"email_id": email_id, "idempotency_key": key, **archived},
        )

    def _lookup(self, key: str) -> SubmissionState | None:
        if self.ledger is None:
            return None
        try:
            return self.ledger.lookup(key)
        except LedgerUnavailable as exc:
            logger.warning(
                "submission ledger unavailable; relying on the provider's idempotency", extra={"error": str(exc)}
            )
            return None

    def _mark(self, key: str, status: SubmissionStatus, *, email_id: str | None = None) -> None:
        if self.ledger is None:
            return
        try:
            self.ledger.mark(key, status, email_id=email_id)
        except LedgerUnavailable as exc:
            logger.warning("submission ledger unavailable; state not recorded", extra={"error": str(exc)})

    def archive_submission(
        self,
        submission: ContactSubmission,
        request: SubmitRequest,
        key: str,
        state: ArchiveState,
        *,
        reasons: tuple[str, ...] = (),
        email_id: str | None = None,
    ) -> dict[str, str]:
        """Keep ``submission`` in the archive in ``state`` (creating its record); the log fields saying so.

        For a state reached on the request path (``ArchiveState.PARKED`` with its reason, say); a later
        change of an archived submission goes through :meth:`archive_state`. A failure is a gap, logged
        and counted, never an error.
        """
        if self.archive is None:
            return {}
        try:
            self.archive.record(
                submission,
                key=key,
                request_id=request.request_id,
                client_ip=request.client_ip,
                state=state,
                reasons=reasons,
                email_id=email_id,
            )
        except ArchiveUnavailable as exc:
            return self._archive_gap(key, state, exc)
        return {"archive_state": state.value}

    def archive_state(
        self, key: str, state: ArchiveState | str, *, reason: str | None = None, email_id: str | None = None
    ) -> dict[str, str]:
        """Move an archived submission to ``state`` (the outbox consumer's ``sent``, a ``parked`` decision).

        Returns the log fields saying so; a failure is logged and counted, never raised.
        """
        if self.archive is None:
            return {}
        try:
            found = self.archive.record_state(key, state, reason=reason, email_id=email_id)
        except ArchiveUnavailable as exc:
            return self._archive_gap(key, state, exc)
        if not found:
            logger.warning("submission not in the archive; state not recorded", extra={"idempotency_key": key})
            return {}
        return {"archive_state": str(state)}

    def _archive_gap(self, key: str, state: ArchiveState | str, exc: ArchiveUnavailable) -> dict[str, str]:
        self.record_metric(Metric.ARCHIVE_WRITE_FAILED)
        logger.warning(
            "archive write failed; the submission went ahead without its archive record",
            extra={"idempotency_key": key, "archive_state": str(state), "error": str(exc)},
        )
        return {"archive_gap": str(state)}

    def send_submission(
        self, submission: ContactSubmission, key: str, deadline: Deadline | None, *, subject_prefix: str = ""
    ) -> str:
        """Compose and send the email for ``submission`` under ``key``; the provider's id.

        ``subject_prefix`` marks the subject (``[captcha unverified] ``); the idempotency key is the
        submission's, unchanged. A 401/403 re-reads the config once: a key rotated in Parameter Store
        is used at once. Raises :class:`~contact_sdk.errors.ProviderError` or :class:`ConfigurationError`.
        """
        config = self.config.resend()
        email = _marked(compose_email(submission, config), subject_prefix)
        try:
            return self.client.send(email, idempotency_key=key, deadline=deadline)
        except ProviderAuthError:
            # The key may have been rotated in Parameter Store: re-read it now, not in an hour.
            fresh = self.config.resend(force_refresh=True)
            if fresh.api_key == config.api_key:
                raise
            logger.warning("provider refused the API key; retrying once with the refreshed config")
            fresh_email = _marked(compose_email(submission, fresh), subject_prefix)
            return self.client.send(fresh_email, idempotency_key=key, deadline=deadline)

    def park(self, queued: QueuedSubmission, error: ProviderError, *, archived: bool = True) -> bool:
        """Keep a permanently refused submission for an operator; whether a parking lot took it.

        The one place a submission is parked, from the API and the outbox consumer alike:
        ``EmailsFailed`` and an ERROR log line (the alarm's source) every time; the parking lot
        (the dead-letter queue, with the reason as an attribute), the ledger (``queued``, so a
        resubmission is answered the same) and the archive (``parked`` with the reason, when
        ``archived``: the submission has an archive record already, as one from the outbox does)
        when it took it. When it did not (none configured, or unreachable), the caller keeps the
        submission in the outbox instead.
        """
        reason = refusal_reason(error)
        fields = {
            "idempotency_key": queued.idempotency_key,
            "submission_request_id": queued.request_id,
            "error": type(error).__name__,
            "status": error.status,
            "provider_error": error.name,
            "parked_reason": reason,
        }
        self.record_metric(Metric.EMAILS_FAILED)
        problem = None
        if self.parking is None:
            problem = "no parking lot is configured (CONTACT_PARKED_QUEUE_URL)"
        else:
            try:
                self.parking.park(replace(queued, reason=reason), reason=reason)
            except ParkingUnavailable as exc:
                problem = f"the parking lot is unavailable ({exc})"
        if problem is not None:
            logger.error(
                "provider refused the submission permanently and it could not be parked; kept in the outbox",
                extra={**fields, "parking_problem": problem},
            )
            return False
        logger.error(
            "submission parked: the provider refused it permanently; fix the cause, then redrive it", extra=fields
        )
        self._mark(queued.idempotency_key, SubmissionStatus.QUEUED)
        if archived:
            self.archive_state(queued.idempotency_key, ArchiveState.PARKED, reason=reason)
        return True

    def _park_now(
        self, submission: ContactSubmission, request: SubmitRequest, key: str, next_token: str, error: ProviderError
    ) -> Outcome:
        queued = QueuedSubmission.from_submission(
            submission,
            idempotency_key=key,
            request_id=request.request_id,
            reason=type(error).__name__,
            now=self._clock(),
        )
        with within(_allowance(request.deadline)):
            parked = self.park(queued, error, archived=False)
            if parked:
                reason = refusal_reason(error)
                archive_fields = self.archive_submission(
                    submission, request, key, ArchiveState.PARKED, reasons=(reason,)
                )
        if parked:
            return Outcome(
                status=202,
                body={"status": "queued", "nextToken": next_token},
                outcome="parked",
                log_fields={"idempotency_key": key, "parked_reason": reason, **archive_fields},
            )
        return self._keep_for_later(submission, request, key, next_token, reason=refusal_reason(error))

    def _keep_for_later(
        self, submission: ContactSubmission, request: SubmitRequest, key: str, next_token: str, *, reason: str
    ) -> Outcome:
        queued = QueuedSubmission.from_submission(
            submission, idempotency_key=key, request_id=request.request_id, reason=reason, now=self._clock()
        )
        if self.outbox is not None:
            # The contract's allowance past the budget "to queue and answer": the durable copy is worth it.
            with within(_allowance(request.deadline)):
                try:
                    self.outbox.enqueue(queued)
                except OutboxUnavailable as exc:
                    logger.error("the outbox is unavailable too", extra={"error": str(exc)})
                    enqueued = False
                else:
                    enqueued = True
                    self._mark(key, SubmissionStatus.QUEUED)
                    archived = self.archive_submission(submission, request, key, ArchiveState.QUEUED, reasons=(reason,))
            if enqueued:
                return Outcome(
                    status=202,
                    body={"status": "queued", "nextToken": next_token},
                    outcome="queued",
                    metrics=(Metric.EMAILS_QUEUED,),
                    log_fields={"idempotency_key": key, "queued_reason": reason, **archived},
                )
        # Nothing durable took it. The client is told to retry; the log keeps the message as a last
        # resort for an operator (the only log line that ever carries a message body).
        logger.error(
            "submission NOT accepted: provider and durable store unavailable; full submission follows",
            extra={"submission": queued.to_json(), "reason": reason},
        )
        return _with_next_token(
            _unavailable(
                "We could not send your message right now. Please try again in a minute.",
                {"idempotency_key": key, "unavailable_reason": reason},
            ),
            next_token,
        )

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _decode_json(body: bytes) -> Any:
        # NaN, Infinity and -Infinity are Python's extensions, not JSON (RFC 8259): refused as invalid_json.
        try:
            return json.loads(body.decode("utf-8"), parse_constant=_refuse_json_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None

    @staticmethod
    def _origin_refused() -> Outcome:
        return Outcome.error(
            403,
            "origin_not_allowed",
            "Requests from this origin are not allowed.",
            metrics=(Metric.CSRF_REJECTED,),
        )

    @staticmethod
    def _captcha_refused(reason: str) -> Outcome:
        return Outcome.error(
            403,
            "captcha_invalid",
            "We could not confirm that you are not a robot. Please complete the check again and resend.",
            metrics=(Metric.CAPTCHA_REJECTED,),
            log_fields={"captcha_reason": reason},
        )

    @staticmethod
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
