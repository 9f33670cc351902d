"""One delivery path: send, queue, park, replay and release, for the API, the outbox consumer and the operator.

Every email a submission becomes goes through :class:`Delivery`: the API hands it an
:class:`~contact_sdk.intake.Accepted` verdict (:meth:`Delivery.deliver`), the outbox consumer a queued
message (:meth:`Delivery.replay`), and ``contact-sdk submissions release`` / ``outbox redrive
--recompose`` a record to send again (:meth:`Delivery.release`, :meth:`Delivery.requeue`). So each
provider answer means one thing wherever it comes back (:func:`decide`):

============================================  =========================================================
the provider answered                         delivery
============================================  =========================================================
an email id                                   **sent**: the record moves to ``sent``, ``EmailsSent``
``409 invalid_idempotent_request``            not proof of delivery (Resend: "the key was used with a
                                              different payload"): **parked** with the reason
                                              ``idempotency_conflict``, unless the record already shows
                                              the email sent
transient (5xx, timeouts, ``429`` rate limit,  **later**: kept in the outbox (``202 queued``), retried
``409 concurrent_idempotent_requests``),       by the consumer; ``EmailsFailed`` (and
an open breaker, the deadline, a quota         ``BudgetExhausted`` when the deadline cut it short)
a permanent refusal (validation, auth after    **parked** for the operator: the dead-letter queue with
one config refresh, an unverified domain)      its reason, ``EmailsFailed``, an ERROR log line, the
                                              record ``parked`` with the email itself
the config could not be read                  **later**, the submission queued uncomposed
============================================  =========================================================

The email is composed **once**, when it is first sent, and from then on it travels as it was composed
(the outbox message and the parked record carry it), so a replay or a redrive sends the byte-identical
request under the same ``Idempotency-Key``. A resend that must change it (the operator fixed the sender
of a parked message) is recomposed under a key derived from the first (:func:`~contact_sdk.outbox.derived_key`)
and the record notes both; the record's conditional moves, not Resend, guarantee one delivered email:
a message still under an older key is *superseded* and dropped by the consumer, never sent.

Example::

    outcome = delivery.deliver(accepted)                       # the API
    replayed = delivery.replay(queued, deadline=deadline)      # the outbox consumer
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contact_sdk.compose import compose_email
from contact_sdk.config import ResendConfig, ServiceConfig
from contact_sdk.deadline import OUTBOX_RESERVE_SECONDS, QUEUE_ALLOWANCE_SECONDS, Deadline, within
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
from contact_sdk.intake import Accepted
from contact_sdk.metrics import Metric
from contact_sdk.outbox import LegacySubmission, Outbox, OutboxUnavailable, QueuedEmail, derived_key, first_try_delay
from contact_sdk.outcome import Outcome, unavailable, with_next_token
from contact_sdk.parking import ParkingLot, ParkingUnavailable
from contact_sdk.record import RecordState, RecordUnavailable, RecordView, SubmissionRecords, payload_json
from contact_sdk.resend import OutgoingEmail, ResendClient

if TYPE_CHECKING:
    from contact_sdk.models import ContactSubmission

__all__ = [
    "CAPTCHA_UNVERIFIED_MARK",
    "IDEMPOTENCY_CONFLICT",
    "Decision",
    "Delivery",
    "Replay",
    "ReplayResult",
    "decide",
    "is_permanent_refusal",
    "refusal_reason",
]

logger = logging.getLogger(__name__)

#: Put before the subject of an email whose Turnstile token could not be verified (siteverify unreachable).
CAPTCHA_UNVERIFIED_MARK = "[captcha unverified] "
#: The parked reason of a ``409 invalid_idempotent_request`` that the record cannot explain.
IDEMPOTENCY_CONFLICT = "idempotency_conflict"


class Decision(enum.StrEnum):
    """What one provider answer means for the submission."""

    LATER = "later"
    PARK = "park"
    CONFLICT = "conflict"


def is_permanent_refusal(error: ProviderError) -> bool:
    """A documented permanent refusal: parked for an operator, never retried.

    Every 4xx but 409 (an idempotency answer) and 429 (rate limit or quota), plus a ``403
    email_above_quota``: an exhausted quota is permanent only until it resets, so it waits in the
    outbox instead.
    """
    return isinstance(error, PermanentProviderError) and not isinstance(
        error, (ProviderQuotaError, IdempotencyConflictError)
    )


def decide(error: ProviderError) -> Decision:
    """The one reading of a provider error (see the module docstring's table)."""
    if isinstance(error, IdempotencyConflictError):
        return Decision.CONFLICT
    if is_permanent_refusal(error):
        return Decision.PARK
    return Decision.LATER


def refusal_reason(error: ProviderError) -> str:
    """One line an operator can act on: the error class, status, Resend's name and message."""
    parts = [type(error).__name__]
    if error.status is not None:
        parts.append(str(error.status))
    if error.name:
        parts.append(error.name)
    return f"{' '.join(parts)}: {error.message}"


class ReplayResult(enum.StrEnum):
    """What a replayed message came to."""

    DELIVERED = "delivered"
    ALREADY_DELIVERED = "already_delivered"
    #: The message's key was replaced by a recomposed one (a redrive or release under a derived key):
    #: sending it too could make a second email, and the record holds what the operator needs.
    SUPERSEDED = "superseded"
    PARKED = "parked"
    LATER = "later"


@dataclass(frozen=True, slots=True)
class Replay:
    """A replay's result; ``error`` (and the breaker's wait, for an open breaker) when it must be tried later."""

    result: ReplayResult
    email_id: str | None = None
    error: Exception | None = None
    #: How long the breaker stays open (seconds), when that is why it must wait.
    breaker_wait: float = 0.0
    log_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def _allowance(deadline: Deadline | None) -> Deadline | None:
    """``deadline`` plus the allowance to keep a submission durably and answer."""
    return None if deadline is None else deadline.extended(QUEUE_ALLOWANCE_SECONDS)


def _kept_subject(record: RecordView) -> str:
    """The subject of the email a parked record kept, or ``""``."""
    if record.payload is None:
        return ""
    try:
        subject = json.loads(record.payload).get("email", {}).get("subject", "")
    except (ValueError, AttributeError):
        return ""
    return subject if isinstance(subject, str) else ""


def _marked(email: OutgoingEmail, subject_prefix: str) -> OutgoingEmail:
    return dataclasses.replace(email, subject=subject_prefix + email.subject) if subject_prefix else email


class Delivery:
    """Sends, queues, parks, replays and releases submissions; see the module docstring. Thread-safe."""

    def __init__(
        self,
        *,
        config: ServiceConfig,
        client: ResendClient,
        records: SubmissionRecords | None,
        outbox: Outbox | None,
        parking: ParkingLot | None,
        clock: Callable[[], float] = time.time,
        record_metric: Callable[[Metric], None] | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.records = records
        self.outbox = outbox
        self.parking = parking
        self._clock = clock
        self._record_metric: Callable[[Metric], None] = record_metric or (lambda metric: None)

    # -- the API -------------------------------------------------------------------------------

    def deliver(self, accepted: Accepted) -> Outcome:
        """Send ``accepted`` now, inside its deadline; else keep it for later (or park it): the answer."""
        key, deadline = accepted.key, accepted.deadline
        cycle = accepted.record.cycle if accepted.record is not None else None
        prefix = CAPTCHA_UNVERIFIED_MARK if accepted.captcha_unverified else ""
        fields: dict[str, Any] = {"idempotency_key": key}
        if accepted.record_gap is not None:
            # The claim was not written (counted once, by the intake): there is no record to move.
            fields["record_gap"] = "received"
        with within(deadline):
            try:
                config = self.config.resend()
            except ConfigurationError as exc:
                queued = QueuedEmail(
                    email=None,
                    submission=accepted.submission,
                    subject_prefix=prefix,
                    idempotency_key=key,
                    request_id=accepted.request_id,
                    queued_at=self._clock(),
                    reason=f"config: {exc}",
                    cycle=cycle,
                )
                return with_next_token(self._keep(queued, deadline, fields), accepted.next_token)
            email = _marked(compose_email(accepted.submission, config), prefix)
            queued = QueuedEmail(
                email=email,
                idempotency_key=key,
                request_id=accepted.request_id,
                queued_at=self._clock(),
                reason="",
                cycle=cycle,
                config_version=config.version,
            )
            try:
                email_id = self._send(email, key, self._provider_share(deadline), config)
            except ProviderError as exc:
                outcome = self._not_sent(queued, exc, deadline, accepted.record, fields)
                return with_next_token(outcome, accepted.next_token)
        recorded: dict[str, str] = {}
        if accepted.record_gap is None:
            with within(_allowance(deadline)):
                recorded = self._move(
                    key, RecordState.SENT, cycle=cycle, email_id=email_id, request_id=accepted.request_id
                )
        return Outcome(
            status=200,
            body={"status": "sent", "nextToken": accepted.next_token},
            outcome="sent",
            metrics=(Metric.EMAILS_SENT,),
            log_fields={"email_id": email_id, **fields, **recorded},
        )

    def _not_sent(
        self,
        queued: QueuedEmail,
        error: ProviderError,
        deadline: Deadline | None,
        record: RecordView | None,
        fields: dict[str, Any],
    ) -> Outcome:
        decision = decide(error)
        if decision == Decision.CONFLICT and record is not None and record.state == RecordState.SENT:
            return Outcome(status=200, body={"status": "sent"}, outcome="duplicate", log_fields=fields)
        if decision in (Decision.PARK, Decision.CONFLICT):
            reason = self._park_reason(error, decision)
            parked = dataclasses.replace(queued, reason=reason)
            with within(_allowance(deadline)):
                kept = self._park(parked, error, reason, recorded="record_gap" not in fields)
            if kept is not None:
                return Outcome(
                    status=202,
                    body={"status": "queued"},
                    outcome="parked",
                    log_fields={**fields, "parked_reason": reason, **kept},
                )
            return self._keep(parked, deadline, fields)
        self._record_metric(Metric.EMAILS_FAILED)
        if isinstance(error, ProviderDeferredError):
            # The budget (or the Lambda deadline) left no room for the next wait or attempt.
            self._record_metric(Metric.BUDGET_EXHAUSTED)
        elif not isinstance(error, PROVIDER_UNAVAILABLE):  # pragma: no cover - every other error is parked
            logger.error("provider refused the email", extra={"error": type(error).__name__})
        # Not offered to the consumer before the wait the failure names (a Retry-After, the breaker's trial):
        # a replay any sooner would be one more request the provider asked us not to make.
        delay = first_try_delay(error, now=self._clock())
        return self._keep(dataclasses.replace(queued, reason=type(error).__name__), deadline, fields, delay)

    def _keep(
        self, queued: QueuedEmail, deadline: Deadline | None, fields: dict[str, Any], delay_seconds: int = 0
    ) -> Outcome:
        """Into the outbox (``202 queued``), or, with nothing durable to take it, ``503`` and the ERROR log."""
        recorded_moves = "record_gap" not in fields
        if self.outbox is not None:
            # The contract's allowance past the budget "to queue and answer": the durable copy is worth it.
            with within(_allowance(deadline)):
                try:
                    self.outbox.enqueue(queued, delay_seconds=delay_seconds)
                except OutboxUnavailable as exc:
                    logger.error("the outbox is unavailable too", extra={"error": str(exc)})
                else:
                    recorded = (
                        self._move(
                            queued.idempotency_key,
                            RecordState.QUEUED,
                            cycle=queued.cycle,
                            reasons=(queued.reason,),
                            request_id=queued.request_id,
                        )
                        if recorded_moves
                        else {}
                    )
                    return Outcome(
                        status=202,
                        body={"status": "queued"},
                        outcome="queued",
                        metrics=(Metric.EMAILS_QUEUED,),
                        log_fields={
                            **fields,
                            "queued_reason": queued.reason,
                            **({"first_try_in_s": delay_seconds} if delay_seconds else {}),
                            **recorded,
                        },
                    )
        # Nothing durable took it. The client is told to retry; the log keeps the message as a last
        # resort for an operator (the only log line that ever carries a message body).
        logger.error(
            "submission NOT accepted: provider and durable store unavailable; full submission follows",
            extra={"submission": queued.to_json(), "reason": queued.reason},
        )
        return unavailable(
            "We could not send your message right now. Please try again in a minute.",
            {**fields, "unavailable_reason": queued.reason},
        )

    # -- the outbox consumer -------------------------------------------------------------------

    def replay(self, message: QueuedEmail | LegacySubmission, *, deadline: Deadline | None) -> Replay:
        """Send a queued message under its first key, exactly as it was composed; see :class:`ReplayResult`."""
        queued = self._as_queued(message)
        key = queued.idempotency_key
        fields: dict[str, Any] = {"idempotency_key": key}
        record = self._record_of(key)
        same_cycle = record is not None and (queued.cycle is None or record.cycle == queued.cycle)
        if record is not None and same_cycle and record.state in (RecordState.SENT, RecordState.RELEASED):
            return Replay(ReplayResult.ALREADY_DELIVERED, record.email_id, log_fields=fields)
        if record is not None and same_cycle and key in record.keys[:-1]:
            fields["superseded_by"] = record.keys[-1]
            return Replay(ReplayResult.SUPERSEDED, log_fields=fields)
        # A derived key whose record did not note it (the operator's write failed after the message went out).
        noted = key if record is not None and key not in record.keys else None
        with within(deadline):
            config = self.config.resend()  # a ConfigurationError goes to the consumer: tried again later
            email = queued.email
            if email is None:
                email = _marked(compose_email(self._submission_of(queued), config), queued.subject_prefix)
                queued = dataclasses.replace(queued, email=email, submission=None, config_version=config.version)
            try:
                email_id = self._send(email, key, deadline, config)  # SQS keeps it anyway: no reserve
            except ProviderError as exc:
                return self._replay_failed(queued, exc, deadline, record, fields)
        self._record_metric(Metric.EMAILS_SENT)
        with within(_allowance(deadline)):
            recorded = self._move(key, RecordState.SENT, cycle=queued.cycle, email_id=email_id, new_key=noted)
        return Replay(ReplayResult.DELIVERED, email_id, log_fields={**fields, **recorded})

    def _replay_failed(
        self,
        queued: QueuedEmail,
        error: ProviderError,
        deadline: Deadline | None,
        record: RecordView | None,
        fields: dict[str, Any],
    ) -> Replay:
        decision = decide(error)
        if decision == Decision.CONFLICT and record is not None and record.state == RecordState.SENT:
            return Replay(ReplayResult.ALREADY_DELIVERED, record.email_id, log_fields=fields)
        if decision in (Decision.PARK, Decision.CONFLICT):
            reason = self._park_reason(error, decision)
            with within(_allowance(deadline)):
                kept = self._park(dataclasses.replace(queued, reason=reason), error, reason)
            if kept is not None:
                return Replay(ReplayResult.PARKED, log_fields={**fields, "parked_reason": reason, **kept})
            return Replay(ReplayResult.LATER, error=error, log_fields=fields)
        self._record_metric(Metric.EMAILS_FAILED)
        return Replay(
            ReplayResult.LATER,
            error=error,
            breaker_wait=self.client.breaker.seconds_until_half_open(),
            log_fields=fields,
        )

    def park_unreadable(self, body: str, *, reason: str, deadline: Deadline | None) -> bool:
        """Keep an outbox message that is not ours as it came (the dead-letter queue); whether it was taken."""
        if self.parking is None:
            return False
        try:
            with within(_allowance(deadline)):
                self.parking.park_unreadable(body, reason=reason)
        except ParkingUnavailable as exc:
            logger.warning("could not park the unreadable outbox message", extra={"error": str(exc)})
            return False
        return True

    # -- the operator --------------------------------------------------------------------------

    def recompose(self, submission: ContactSubmission, record: RecordView, *, reason: str) -> QueuedEmail:
        """A new email for ``submission`` from today's config, under the next key derived from the record's.

        The ``[captcha unverified]`` mark of the email the record kept (parked) is kept: it is the owner's
        only warning, and a fixed ``fromEmail`` does not make the submission verified.
        """
        config = self.config.resend(force_refresh=True)
        prefix = CAPTCHA_UNVERIFIED_MARK if _kept_subject(record).startswith(CAPTCHA_UNVERIFIED_MARK) else ""
        return QueuedEmail(
            email=_marked(compose_email(submission, config), prefix),
            idempotency_key=derived_key(record.idempotency_key, len(record.keys)),
            request_id=f"recomposed:{record.submission_id}",
            queued_at=self._clock(),
            reason=reason,
            cycle=record.cycle,
            config_version=config.version,
        )

    def requeue(self, submission: ContactSubmission, record: RecordView, *, reason: str) -> QueuedEmail:
        """Put a parked (or dead-lettered) submission back in the outbox, recomposed under a derived key.

        For ``contact-sdk outbox redrive --recompose``: after the operator fixed what made Resend refuse
        it (``fromEmail``, the domain), the email is composed again from today's config; the old key's
        payload is not sent again (Resend would answer ``409``). The message goes out first, then the
        record moves to ``queued`` noting the new key; a replay under the old key is then superseded.
        If the record cannot be moved, the new message still carries a key the record knows to derive,
        and its delivery notes it. Raises :class:`~contact_sdk.outbox.OutboxUnavailable`, or
        ``ValueError`` when the record's state has nothing to redrive.
        """
        if record.state not in (RecordState.PARKED, RecordState.QUEUED):
            raise ValueError(f"a {record.state} submission has nothing to redrive")
        if self.outbox is None:
            raise ValueError("no outbox to put it in")
        queued = self.recompose(submission, record, reason=reason)
        self.outbox.enqueue(queued)
        self._move(
            record.idempotency_key,
            RecordState.QUEUED,
            cycle=record.cycle,
            reasons=(reason,),
            new_key=queued.idempotency_key,
            request_id=queued.request_id,
        )
        return queued

    def release(self, submission: ContactSubmission, record: RecordView, *, deadline: Deadline | None = None) -> str:
        """Send a spam-judged or parked submission now, recomposed under a derived key; the provider's email id.

        The record must allow the move (``spam`` → ``released``, ``parked`` → ``sent``); it moves once the
        provider took the email, noting the new key. Raises :class:`~contact_sdk.errors.ProviderError` or
        ``ValueError`` when the record's state cannot be released.
        """
        if record.state not in (RecordState.SPAM, RecordState.PARKED):
            raise ValueError(f"a {record.state} submission cannot be released")
        target = RecordState.RELEASED if record.state == RecordState.SPAM else RecordState.SENT
        with within(deadline):  # today's config is read fresh for it: inside the deadline too
            queued = self.recompose(submission, record, reason="released by the operator")
            assert queued.email is not None  # noqa: S101 - recompose always composes
            email_id = self._send(queued.email, queued.idempotency_key, deadline, None)
        moved = self._move(
            record.idempotency_key,
            target,
            cycle=record.cycle,
            email_id=email_id,
            new_key=queued.idempotency_key,
            request_id=queued.request_id,
        )
        if not moved:
            logger.warning("released, but the record could not note it", extra={"email_id": email_id})
        return email_id

    # -- one send ------------------------------------------------------------------------------

    def _provider_share(self, deadline: Deadline | None) -> Deadline | None:
        """What of the request's ``deadline`` the provider's attempts may use.

        With an outbox, all but :data:`~contact_sdk.deadline.OUTBOX_RESERVE_SECONDS` (at most a quarter of what
        is left): a submission the provider could not take in time is then kept with that reserve plus the
        contract's allowance, not in the allowance's last 0.4 s alone. Without one, nothing is held back.
        """
        if deadline is None or self.outbox is None:
            return deadline
        return deadline.keeping(OUTBOX_RESERVE_SECONDS, at_most=0.25)  # an unbounded deadline stays as it is

    def _send(self, email: OutgoingEmail, key: str, deadline: Deadline | None, config: ResendConfig | None) -> str:
        """Send under ``key``. A 401/403 re-reads the config once: a key rotated in Parameter Store is used at once."""
        try:
            return self.client.send(email, idempotency_key=key, deadline=deadline)
        except ProviderAuthError:
            before = config.api_key if config is not None else None
            fresh = self.config.resend(force_refresh=True)
            if fresh.api_key == before:
                raise
            logger.warning("provider refused the API key; retrying once with the refreshed config")
            return self.client.send(email, idempotency_key=key, deadline=deadline)

    # -- parking -------------------------------------------------------------------------------

    def _park_reason(self, error: ProviderError, decision: Decision) -> str:
        if decision == Decision.CONFLICT:
            return f"{IDEMPOTENCY_CONFLICT}: {refusal_reason(error)}"
        return refusal_reason(error)

    def _park(
        self, queued: QueuedEmail, error: ProviderError, reason: str, *, recorded: bool = True
    ) -> dict[str, str] | None:
        """Keep a refused email for the operator; the log fields, or ``None`` when no parking lot took it.

        The one place a submission is parked: ``EmailsFailed`` and an ERROR log line (the alarm's source)
        every time; the parking lot (the dead-letter queue, with the reason as an attribute) and the
        record (``parked``, with the email, so a release works after the queue's copy is gone). When no lot
        took it, the caller keeps it in the outbox instead.
        """
        fields = {
            "idempotency_key": queued.idempotency_key,
            "submission_request_id": queued.request_id,
            "error": type(error).__name__,
            "status": error.status,
            "provider_error": error.name,
            "parked_reason": reason,
        }
        self._record_metric(Metric.EMAILS_FAILED)
        problem = None
        if self.parking is None:
            problem = "no parking lot is configured (CONTACT_PARKED_QUEUE_URL)"
        else:
            try:
                self.parking.park(queued, reason=reason)
            except ParkingUnavailable as exc:
                problem = f"the parking lot is unavailable ({exc})"
        if problem is not None:
            logger.error(
                "provider refused the submission permanently and it could not be parked; kept in the outbox",
                extra={**fields, "parking_problem": problem},
            )
            return None
        logger.error(
            "submission parked: the provider refused it permanently; fix the cause, then redrive it", extra=fields
        )
        if not recorded:
            return {}
        payload = None if queued.email is None else payload_json(queued.email.to_json(), key=queued.idempotency_key)
        return self._move(
            queued.idempotency_key,
            RecordState.PARKED,
            cycle=queued.cycle,
            reasons=(reason,),
            payload=payload,
            request_id=queued.request_id,
        )

    # -- the record ----------------------------------------------------------------------------

    def _record_of(self, key: str) -> RecordView | None:
        if self.records is None:
            return None
        try:
            return self.records.get(key)
        except RecordUnavailable as exc:
            logger.warning(
                "the submission's record is unreadable; relying on the provider's idempotency",
                extra={"error": str(exc)},
            )
            return None

    def _move(
        self,
        key: str,
        to: RecordState,
        *,
        cycle: int | None,
        reasons: tuple[str, ...] = (),
        email_id: str | None = None,
        payload: str | None = None,
        new_key: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, str]:
        """Move the record; the log fields saying so. A failure is a gap, logged and counted, never raised."""
        if self.records is None:
            return {}
        try:
            view = self.records.move(
                key,
                to,
                cycle=cycle,
                now=self._clock(),
                reasons=reasons,
                email_id=email_id,
                payload=payload,
                new_key=new_key,
                request_id=request_id,
            )
        except RecordUnavailable as exc:
            self._record_metric(Metric.ARCHIVE_WRITE_FAILED)
            logger.warning(
                "the submission's record could not be written; it went ahead without it",
                extra={"idempotency_key": key, "record_gap": to.value, "error": str(exc)},
            )
            return {"record_gap": to.value}
        if view is None:
            logger.warning("the submission has no record; its state was not recorded", extra={"idempotency_key": key})
            return {}
        if view.state != to:
            logger.warning(
                "the record refused the move; it keeps its state",
                extra={"idempotency_key": key, "record_state": view.state.value, "refused_state": to.value},
            )
        return {"record_state": view.state.value}

    # -- legacy messages -----------------------------------------------------------------------

    @staticmethod
    def _as_queued(message: QueuedEmail | LegacySubmission) -> QueuedEmail:
        if isinstance(message, QueuedEmail):
            return message
        return QueuedEmail(
            email=None,
            submission=message.to_submission(),
            idempotency_key=message.idempotency_key,
            request_id=message.request_id,
            queued_at=message.queued_at,
            reason=message.reason,
        )

    @staticmethod
    def _submission_of(queued: QueuedEmail) -> ContactSubmission:
        assert queued.submission is not None  # noqa: S101 - a QueuedEmail carries one or the other
        return queued.submission
