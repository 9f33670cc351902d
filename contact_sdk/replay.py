"""The outbox consumer: delivers queued submissions when the provider can take them again.

An SQS event source invokes :meth:`OutboxConsumer.handle` with a batch; Powertools' batch
utility reports each failed message back (``batchItemFailures``) so only those return to the
queue. Each message is sent through the same :class:`~contact_sdk.service.ContactService` path
as a live submission — same client, same breaker, same key rotation — with the *same*
idempotency key as the first attempt, and the ledger marks it sent.

Backoff: a failed message is hidden (``ChangeMessageVisibility``) until the provider may be
ready again — the breaker's remaining open time, the provider's ``Retry-After``, the next UTC
midnight for an exhausted daily quota, else exponential in the receive count — instead of
coming straight back. After the queue's ``maxReceiveCount`` SQS moves it to the dead-letter
queue, where ``contact-sdk outbox`` inspects and redrives it.

Example (``handler.py``)::

    def outbox_handler(event, context):
        return consumer.handle(event, context)
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from contact_sdk.errors import (
    CircuitOpenError,
    IdempotencyConflictError,
    ProviderError,
    ProviderQuotaError,
)
from contact_sdk.idempotency import LedgerUnavailable, SubmissionStatus
from contact_sdk.logs import correlation
from contact_sdk.metrics import Metric, MetricsRecorder, MetricsSink, recording
from contact_sdk.outbox import QueuedSubmission
from contact_sdk.service import lambda_deadline

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from mypy_boto3_sqs import SQSClient

    from contact_sdk.service import ContactService

__all__ = ["MAX_VISIBILITY_SECONDS", "OutboxConsumer", "backoff_seconds"]

logger = logging.getLogger(__name__)

#: SQS's upper bound for a message's visibility timeout (12 hours).
MAX_VISIBILITY_SECONDS = 43_200
BASE_BACKOFF_SECONDS = 30


def backoff_seconds(error: BaseException, *, receive_count: int, breaker_wait: float, now: float) -> int:
    """How long to hide a message that failed with ``error`` before SQS offers it again."""
    if isinstance(error, CircuitOpenError):
        wait = max(breaker_wait, 1.0)
    elif isinstance(error, ProviderQuotaError):
        # Daily quotas reset at midnight UTC. A shorter Retry-After on the same 429 is the per-second
        # rate window's, not the quota's: honouring it would retry every second until SQS dead-letters
        # the message. A longer one (a rolling window) is honoured.
        tomorrow = dt.datetime.fromtimestamp(now, tz=dt.UTC).date() + dt.timedelta(days=1)
        reset = dt.datetime.combine(tomorrow, dt.time(0, 0, 30), tzinfo=dt.UTC).timestamp() - now
        wait = max(reset, error.retry_after or 0.0)
    elif isinstance(error, ProviderError) and error.retry_after is not None:
        wait = error.retry_after
    else:
        wait = BASE_BACKOFF_SECONDS * 2 ** max(receive_count - 1, 0)
    return max(1, min(math.ceil(wait), MAX_VISIBILITY_SECONDS))


class OutboxConsumer:
    """Delivers a batch of outbox messages; built once per execution environment."""

    def __init__(
        self,
        service: ContactService,
        *,
        environment: str,
        sink: MetricsSink,
        logger: Logger,
        queue_url: str | None,
        sqs_client: Callable[[], SQSClient] | None = None,
        deadline_margin_ms: int = 3000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.environment = environment
        self.sink = sink
        self.logger = logger
        self.queue_url = queue_url
        self._sqs = sqs_client
        self.deadline_margin_ms = deadline_margin_ms
        self._clock = clock

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Process one SQS batch; returns the partial batch response."""
        recorder = MetricsRecorder(environment=self.environment, sink=self.sink)
        deadline = lambda_deadline(context, margin_ms=self.deadline_margin_ms, clock=self.service.client.clock)
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
                    record_handler=lambda record: self._process(record, deadline),
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

    def _process(self, record: SQSRecord, deadline: float | None) -> str:
        try:
            queued = QueuedSubmission.from_json(record.body)
        except ValueError as exc:
            # Not ours or corrupted: it can never succeed; let SQS move it to the dead-letter queue.
            self.logger.error("outbox message unreadable", extra={"message_id": record.message_id, "error": str(exc)})
            raise
        with correlation(self.logger, queued.request_id):
            return self._deliver(record, queued, deadline)

    def _deliver(self, record: SQSRecord, queued: QueuedSubmission, deadline: float | None) -> str:
        key = queued.idempotency_key
        ledger = self.service.ledger
        try:
            state = ledger.lookup(key) if ledger is not None else None
        except LedgerUnavailable:
            state = None  # the provider's idempotency on the same key still holds
        if state is not None and state.status == SubmissionStatus.SENT:
            self.logger.info("outbox message already delivered; dropping it", extra={"idempotency_key": key})
            return state.email_id or ""
        try:
            email_id = self.service.send_submission(queued.to_submission(), key, deadline)
        except IdempotencyConflictError:
            email_id = ""  # the provider already holds an email for this key
        except ProviderError as exc:
            self.service.record_metric(Metric.EMAILS_FAILED)
            self._postpone(record, exc)
            self.logger.warning(
                "outbox delivery failed; will retry",
                extra={
                    "idempotency_key": key,
                    "error": type(exc).__name__,
                    "status": exc.status,
                    "receive_count": record.attributes.approximate_receive_count,
                },
            )
            raise
        self.service.record_metric(Metric.EMAILS_SENT)
        if ledger is not None:
            try:
                ledger.mark(key, SubmissionStatus.SENT, email_id=email_id or None)
            except LedgerUnavailable as exc:
                logger.warning("submission ledger unavailable; state not recorded", extra={"error": str(exc)})
        archived = self.service.archive_state(key, "sent", email_id=email_id or None)
        self.logger.info(
            "outbox message delivered",
            extra={
                "idempotency_key": key,
                "email_id": email_id,
                "queued_for_s": round(self._clock() - queued.queued_at),
                **archived,
            },
        )
        return email_id

    def _postpone(self, record: SQSRecord, error: ProviderError) -> None:
        if self.queue_url is None or self._sqs is None:
            return
        try:
            receive_count = int(record.attributes.approximate_receive_count or "1")
        except ValueError:
            receive_count = 1
        seconds = backoff_seconds(
            error,
            receive_count=receive_count,
            breaker_wait=self.service.client.breaker.seconds_until_half_open(),
            now=self._clock(),
        )
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        try:
            self._sqs().change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=seconds
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not postpone the outbox message", extra={"error": type(exc).__name__})
