"""Outbox messages for tests: a submission composed as the service composes it, queued under its key."""

from __future__ import annotations

from typing import Any

from contact_sdk.compose import compose_email, idempotency_key
from contact_sdk.config import ResendConfig
from contact_sdk.models import ContactSubmission
from contact_sdk.outbox import QueuedEmail

#: The Resend config the test stacks seed (tests/entrypoint/conftest.py's resend_config()).
CONFIG = ResendConfig(
    api_key="re_test",
    domain="example.com",
    from_email="no-reply@example.com",
    to_email="owner@example.com",
    version="1",
    rotated_at="2026-11-01T10:00:00Z",
)


def queued_email(submission: ContactSubmission, *, now: float, reason: str = "x", **changes: Any) -> QueuedEmail:
    """``submission`` as the outbox keeps it: the composed email, its idempotency key, a request id."""
    fields: dict[str, Any] = {
        "email": compose_email(submission, CONFIG),
        "idempotency_key": idempotency_key(submission),
        "request_id": "r-1",
        "queued_at": now,
        "reason": reason,
        "cycle": None,
        "config_version": CONFIG.version,
    }
    return QueuedEmail(**{**fields, **changes})
