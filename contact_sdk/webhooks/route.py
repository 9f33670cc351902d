"""The webhook route, ``POST /contact/events``: Resend's delivery-status webhooks, verified, recorded once, counted.

:class:`WebhookRoute` reads the signing secret (through the config cache, so a rotated secret is
picked up), verifies with :class:`~contact_sdk.webhooks.verifier.WebhookVerifier`, and records with a
:class:`~contact_sdk.webhooks.store.WebhookStore`.

It is a route of the same ``lambda_handler`` rather than a sibling entry point: one artifact,
one config cache (the signing secret is a third SecureString behind it), one API Gateway
integration, and webhook traffic is tiny next to what API Gateway throttling already bounds.

Answers (Resend retries anything that is not 2xx, so "retry later" is a 5xx and "never" a 4xx):

* a wrong or missing signature, or a stale timestamp → ``401 invalid_signature``, nothing recorded;
* an authentic body that is not a Resend event → ``400 invalid_json``;
* an event type we do not know → ``200`` ``{"status": "ignored"}`` and a log line;
* a ``svix-id`` already recorded (Resend's retry) → ``200`` ``{"status": "duplicate"}``, not counted twice;
* the signing secret or the store unavailable, or the deadline passed → ``503 service_unavailable``
  (Resend retries).

An event's metric is counted when, and only when, the store says this call recorded it: the store
writes the svix-id marker and the event in one transaction and resolves its own unanswered writes,
so neither a crash nor a timeout at any point appends an event twice or loses one
(``DynamoDBWebhookStore`` says which single window can leave one event uncounted).

Example::

    route = WebhookRoute(config_cache=cache, secret_parameter="/portfolio/prod/resend/webhook-secret",
                         store=store, record_metric=record)
    outcome = route.receive(headers, body, deadline=deadline)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from contact_sdk.config import ParameterCache
from contact_sdk.deadline import Deadline
from contact_sdk.errors import ConfigurationError
from contact_sdk.metrics import Metric
from contact_sdk.outcome import Outcome
from contact_sdk.webhooks.store import WebhookStore, WebhookStoreUnavailableError
from contact_sdk.webhooks.verifier import WebhookPayloadError, WebhookSignatureError, WebhookVerifier

__all__ = ["WebhookRoute"]

logger = logging.getLogger(__name__)


class WebhookRoute:
    """The webhook route; thread-safe, built once per execution environment."""

    def __init__(
        self,
        *,
        config_cache: ParameterCache,
        secret_parameter: str,
        store: WebhookStore,
        record_metric: Callable[[Metric], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache = config_cache
        self.secret_parameter = secret_parameter
        self._store = store
        self._record = record_metric
        self._clock = clock
        self._verifier: tuple[str, WebhookVerifier] | None = None
        self._lock = threading.Lock()

    def _current_verifier(self) -> WebhookVerifier:
        secret = self._cache.get(self.secret_parameter)
        with self._lock:
            if self._verifier is None or self._verifier[0] != secret:
                self._verifier = (secret, WebhookVerifier(secret, clock=self._clock))
            return self._verifier[1]

    def receive(self, headers: Mapping[str, str], body: bytes, *, deadline: Deadline | None = None) -> Outcome:
        """Verify one delivery and record it; every call it makes ends by ``deadline`` (the request's)."""
        try:
            verifier = self._current_verifier()
        except ConfigurationError as exc:
            return Outcome.error(
                503,
                "service_unavailable",
                "Webhook verification is not available right now.",
                headers={"Retry-After": "60"},
                log_fields={"config_error": str(exc)},
            )
        try:
            event = verifier.verify(headers, body)
        except WebhookSignatureError as exc:
            return Outcome.error(
                401,
                "invalid_signature",
                "The webhook signature is missing, invalid or too old.",
                log_fields={"signature_failure": str(getattr(exc, "reason", "invalid"))},
            )
        except WebhookPayloadError as exc:
            return Outcome.error(
                400,
                "invalid_json",
                "The webhook body is not a Resend event.",
                log_fields={"payload_error": str(exc)[:200]},
            )
        fields = {"svix_id": event.svix_id, "event_type": event.type[:64], "email_id": event.email_id}
        if not event.is_known:
            logger.info("unknown webhook event type ignored", extra=fields)
            return Outcome(status=200, body={"status": "ignored"}, outcome="webhook_ignored", log_fields=fields)
        try:
            first_time = self._store.record(event, now=self._clock(), deadline=deadline)
        except WebhookStoreUnavailableError as exc:
            # With outcome_unknown the event may be recorded: Resend's retry will answer "duplicate"
            # and this event's metric stays uncounted (the store's docstring explains why).
            return Outcome.error(
                503,
                "service_unavailable",
                "The event could not be recorded right now.",
                headers={"Retry-After": "60"},
                log_fields={**fields, "store_error": str(exc), "store_outcome_unknown": exc.outcome_unknown},
            )
        if not first_time:
            return Outcome(status=200, body={"status": "duplicate"}, outcome="webhook_duplicate", log_fields=fields)
        if event.metric is not None:
            self._record(event.metric)
        return Outcome(status=200, body={"status": "recorded"}, outcome="webhook_recorded", log_fields=fields)
