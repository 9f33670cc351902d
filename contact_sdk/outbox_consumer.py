"""The outbox consumer: delivers queued emails when the provider can take them again.

An SQS event source invokes :meth:`OutboxConsumer.handle` with a batch; Powertools' batch utility
reports each failed message back (``batchItemFailures``) so only those return to the queue. Each
message goes through the one delivery path (:meth:`~contact_sdk.delivery.Delivery.replay`), which sends
the email exactly as it was composed, under the *same* idempotency key as the first attempt, and
moves the submission's record. This module owns only what is SQS's: reading the messages, and
hiding the ones that must wait.

Two schedules, one client: inside one invocation the client runs the design's full schedule
(1 s, ×2, each wait capped at 16 s, ``Retry-After`` honoured) bounded by this Lambda's own
deadline; a longer wait, or one past the deadline, is handed to SQS: the message is hidden
(``ChangeMessageVisibility``) until the provider may be ready again. The hide grows with the
receive count whatever the reason, the provider's or ours (Parameter Store unreachable at a cold
start, a bug): 30 s doubling, capped at 5 minutes. It is longer when the provider names a wait
(``Retry-After``, the next UTC midnight for a daily quota), up to what SQS still allows: a message
stays hidden at most 12 hours from the receive that delivered it, so a longer wait is split over
receives (each hides again for what is left). With the stack's ``maxReceiveCount`` of 450 a
24-hour outage dead-letters nothing.

A permanent refusal is parked by the delivery and leaves the outbox; only if no parking lot takes it
does it stay, and SQS moves it to the dead-letter queue after ``maxReceiveCount`` receives, where
``contact-sdk outbox`` inspects and redrives it. A message that is not ours is parked as it came.

Example (``handler.py``)::

    def outbox_handler(event, context):
        return consumer.handle(event, context)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from contact_sdk.deadline import QUEUE_ALLOWANCE_SECONDS, Deadline, lambda_deadline, within
from contact_sdk.delivery import Delivery, ReplayResult
from contact_sdk.errors import CircuitOpenError, ProviderError
from contact_sdk.logs import correlation
from contact_sdk.metrics import MetricsRecorder, MetricsSink, recording
from contact_sdk.outbox import QueuedEmail, named_wait, read_message

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from mypy_boto3_sqs import SQSClient

__all__ = [
    "HIDE_CAP_SECONDS",
    "MAX_VISIBILITY_SECONDS",
    "RECEIVE_SLACK_SECONDS",
    "OutboxConsumer",
    "backoff_seconds",
    "growing_hide",
    "longest_hide",
]

logger = logging.getLogger(__name__)

#: SQS's upper bound for a message's visibility timeout (12 hours), counted from the receive.
MAX_VISIBILITY_SECONDS = 43_200
#: How long before the consumer's invocation SQS may have handed the batch to the event source:
#: its batching window (at most 300 s; the stack's is 5 s) and a minute of slack. SQS's 12 hours
#: count from that receive, which the consumer cannot see (``ApproximateFirstReceiveTimestamp`` is
#: the first receive's, not this one's).
RECEIVE_SLACK_SECONDS = 360
BASE_BACKOFF_SECONDS = 30
#: The longest a message is hidden for a reason we can only guess at (an outage, an open breaker):
#: short enough that mail flows again within minutes of the provider's recovery. A wait the
#: provider names (``Retry-After``, a quota's reset) is honoured beyond it, up to SQS's 12 hours.
HIDE_CAP_SECONDS = 300


def growing_hide(receive_count: int) -> float:
    """30 s, 60 s, 120 s, 240 s, then 300 s on every later receive."""
    return float(min(BASE_BACKOFF_SECONDS * 2 ** min(max(receive_count - 1, 0), 20), HIDE_CAP_SECONDS))


def longest_hide(*, invoked_at: float, now: float) -> float:
    """The longest hide SQS still accepts ``now`` for a message of a batch whose invocation began at ``invoked_at``.

    SQS refuses a visibility timeout that would end more than 12 hours after the message was
    received (``InvalidParameterValue``); the receive came at most :data:`RECEIVE_SLACK_SECONDS`
    before the invocation.
    """
    return MAX_VISIBILITY_SECONDS - RECEIVE_SLACK_SECONDS - max(now - invoked_at, 0.0)


def backoff_seconds(
    error: BaseException,
    *,
    receive_count: int,
    breaker_wait: float,
    now: float,
    longest: float = MAX_VISIBILITY_SECONDS,
) -> int:
    """How long to hide a message that failed with ``error`` before SQS offers it again.

    Never less than :func:`growing_hide` of the receive count, whatever the reason (the provider's
    or ours), so a long outage spends receives slowly (see docs/guarantees.md for the arithmetic
    against the queue's ``maxReceiveCount``); never more than ``longest`` (see :func:`longest_hide`):
    a longer wait is finished by the hide of the next receive.
    """
    grown = growing_hide(receive_count)
    if isinstance(error, CircuitOpenError):
        wait = min(max(breaker_wait, grown), HIDE_CAP_SECONDS)
    else:  # a wait the provider names (Retry-After, a daily quota's reset) is honoured beyond the cap
        wait = max(named_wait(error, now=now), grown)
    return max(1, min(math.ceil(wait), math.floor(min(longest, MAX_VISIBILITY_SECONDS))))


class OutboxConsumer:
    """Delivers a batch of outbox messages through :class:`~contact_sdk.delivery.Delivery`; built once per
    execution environment."""

    def __init__(
        self,
        delivery: Delivery,
        *,
        environment: str,
        sink: MetricsSink,
        logger: Logger,
        queue_url: str | None,
        sqs_client: Callable[[], SQSClient] | None = None,
        deadline_margin_ms: int = 3000,
        clock: Callable[[], float] = time.time,
        deadline_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delivery = delivery
        self.environment = environment
        self.sink = sink
        self.logger = logger
        self.queue_url = queue_url
        self._sqs = sqs_client
        self.deadline_margin_ms = deadline_margin_ms
        self._clock = clock
        self._deadline_clock = deadline_clock

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Process one SQS batch; returns the partial batch response."""
        recorder = MetricsRecorder(environment=self.environment, sink=self.sink)
        invoked_at = self._clock()
        deadline = lambda_deadline(context, margin_ms=self.deadline_margin_ms, clock=self._deadline_clock)
        # Deferred: Powertools' batch utility (and its data classes) cost ~40 ms to import, and only this
        # handler needs them; the API's cold start must not pay for it.
        from aws_lambda_powertools.utilities.batch import (  # noqa: PLC0415
            BatchProcessor,
            EventType,
            process_partial_response,
        )

        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        try:
            with recording(recorder):
                response = process_partial_response(
                    event=event,
                    record_handler=lambda record: self._process(record, deadline, invoked_at),
                    processor=processor,
                    context=context,
                )
        finally:
            recorder.flush()
        failures = response.get("batchItemFailures", [])
        self.logger.info(
            "outbox batch processed",
            extra={"received": len(event.get("Records", []) or []), "failed": len(failures)},
        )
        return dict(response)

    def _process(self, record: SQSRecord, deadline: Deadline | None, invoked_at: float) -> str:
        try:
            message = read_message(record.body)
        except ValueError as exc:
            # Not ours or corrupted: it can never succeed. Park it as it came: left to maxReceiveCount (450
            # receives, 180 s apart) it would take a day to reach the dead-letter queue, as it does with no lot.
            self.logger.error("outbox message unreadable", extra={"message_id": record.message_id, "error": str(exc)})
            if self.delivery.park_unreadable(record.body, reason=f"unreadable: {exc}", deadline=deadline):
                return ""
            raise
        with correlation(self.logger, message.request_id):
            try:
                replayed = self.delivery.replay(message, deadline=deadline)
            except Exception as exc:
                # Not the provider (Parameter Store at a cold start, a bug): hidden for the growing hide at least,
                # so every cause spends receives as slowly as an outage does.
                self._later(record, exc, invoked_at, deadline, breaker_wait=0.0, key=message.idempotency_key)
                raise
            if replayed.result == ReplayResult.LATER:
                error = replayed.error or RuntimeError("the provider could not take it now")
                self._later(
                    record, error, invoked_at, deadline, breaker_wait=replayed.breaker_wait, key=message.idempotency_key
                )
                raise error
            if replayed.result == ReplayResult.ALREADY_DELIVERED:
                self.logger.info("outbox message already delivered; dropping it", extra=dict(replayed.log_fields))
            elif replayed.result == ReplayResult.PARKED:
                # Delivery logged the refusal at ERROR; this line is the record's, for the dashboard's states.
                self.logger.info("outbox message parked", extra=dict(replayed.log_fields))
            elif replayed.result == ReplayResult.SUPERSEDED:
                self.logger.info(
                    "outbox message superseded by a recomposed one; dropping it", extra=dict(replayed.log_fields)
                )
            elif replayed.result == ReplayResult.DELIVERED:
                self.logger.info(
                    "outbox message delivered",
                    extra={
                        **replayed.log_fields,
                        "email_id": replayed.email_id,
                        "queued_for_s": round(self._clock() - _queued_at(message)),
                    },
                )
            return replayed.email_id or ""

    def _later(
        self,
        record: SQSRecord,
        error: BaseException,
        invoked_at: float,
        deadline: Deadline | None,
        *,
        breaker_wait: float,
        key: str,
    ) -> None:
        with within(deadline.extended(QUEUE_ALLOWANCE_SECONDS) if deadline is not None else None):
            self._postpone(record, error, invoked_at, breaker_wait)
        self.logger.warning(
            "outbox delivery failed; will retry",
            extra={
                "idempotency_key": key,
                "error": type(error).__name__,
                "status": error.status if isinstance(error, ProviderError) else None,
                "receive_count": record.attributes.approximate_receive_count,
            },
        )

    def _postpone(self, record: SQSRecord, error: BaseException, invoked_at: float, breaker_wait: float) -> None:
        if self.queue_url is None or self._sqs is None:
            return
        try:
            receive_count = int(record.attributes.approximate_receive_count or "1")
        except ValueError:
            receive_count = 1
        now = self._clock()
        seconds = backoff_seconds(
            error,
            receive_count=receive_count,
            breaker_wait=breaker_wait,
            now=now,
            longest=longest_hide(invoked_at=invoked_at, now=now),
        )
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        sqs = self._sqs()
        try:
            sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=seconds
            )
        except ClientError as exc:
            fallback = int(growing_hide(receive_count))
            if exc.response.get("Error", {}).get("Code") != "InvalidParameterValue" or seconds <= fallback:
                logger.warning("could not postpone the outbox message", extra={"error": type(exc).__name__})
                return
            # SQS counts its 12 hours from an earlier receive than we thought: the growing hide still spends
            # receives slowly, and the next receive asks for the rest of the wait.
            logger.warning(
                "SQS refused the hide; hiding for the growing hide instead",
                extra={"refused_s": seconds, "hide_s": fallback, "error": str(exc)},
            )
            try:
                sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=fallback
                )
            except (ClientError, BotoCoreError) as again:
                logger.warning("could not postpone the outbox message", extra={"error": type(again).__name__})
        except BotoCoreError as exc:
            logger.warning("could not postpone the outbox message", extra={"error": type(exc).__name__})


def _queued_at(message: QueuedEmail | Any) -> float:
    return float(getattr(message, "queued_at", 0.0))
