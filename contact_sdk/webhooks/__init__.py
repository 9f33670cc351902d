"""Resend's delivery-status webhooks, one name family: the route, its verifier, its store.

========================================  =====================================================================
:mod:`contact_sdk.webhooks.route`         :class:`WebhookRoute`, ``POST /contact/events``: verify, record, count
:mod:`contact_sdk.webhooks.verifier`      :class:`WebhookVerifier`: the Svix signature and the event (pure)
:mod:`contact_sdk.webhooks.store`         :class:`WebhookStore`: each event once, with its marker, in one write
========================================  =====================================================================

Example::

    from contact_sdk.webhooks import DynamoDBWebhookStore, WebhookRoute

    route = WebhookRoute(config_cache=cache, secret_parameter="/portfolio/prod/resend/webhook-secret",
                         store=DynamoDBWebhookStore(dynamodb, "contact-prod"), record_metric=record)
    outcome = route.receive(headers, raw_body, deadline=deadline)
"""

from contact_sdk.webhooks.route import WebhookRoute
from contact_sdk.webhooks.store import (
    DEFAULT_RETENTION_SECONDS,
    DeliveryStatus,
    DynamoDBWebhookStore,
    InMemoryWebhookStore,
    RecordedEvent,
    WebhookStore,
    WebhookStoreUnavailableError,
)
from contact_sdk.webhooks.verifier import (
    DEFAULT_TOLERANCE_SECONDS,
    KNOWN_EVENT_TYPES,
    SIGNATURE_HEADERS,
    SignatureFailure,
    WebhookError,
    WebhookEvent,
    WebhookPayloadError,
    WebhookSecretError,
    WebhookSignatureError,
    WebhookVerifier,
    decode_signing_secret,
    parse_event,
)

__all__ = [
    "DEFAULT_RETENTION_SECONDS",
    "DEFAULT_TOLERANCE_SECONDS",
    "KNOWN_EVENT_TYPES",
    "SIGNATURE_HEADERS",
    "DeliveryStatus",
    "DynamoDBWebhookStore",
    "InMemoryWebhookStore",
    "RecordedEvent",
    "SignatureFailure",
    "WebhookError",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookRoute",
    "WebhookSecretError",
    "WebhookSignatureError",
    "WebhookStore",
    "WebhookStoreUnavailableError",
    "WebhookVerifier",
    "decode_signing_secret",
    "parse_event",
]
