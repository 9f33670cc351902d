"""The in-process webhook store (contact_sdk.webhooks.store.InMemoryWebhookStore); the DynamoDB one has its
own file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contact_sdk.deadline import Deadline
from contact_sdk.webhooks.store import InMemoryWebhookStore, WebhookStoreUnavailableError
from contact_sdk.webhooks.verifier import WebhookEvent, parse_event

NOW = 1_700_000_000.0


def event(
    svix_id: str, event_type: str = "email.delivered", email_id: str | None = "em_1", created_at: str | None = None
) -> WebhookEvent:
    """A parsed event as the verifier would return it."""
    data: dict[str, Any] = {} if email_id is None else {"email_id": email_id}
    payload: dict[str, Any] = {"type": event_type, "data": data}
    if created_at is not None:
        payload["created_at"] = created_at
    return parse_event(svix_id, json.dumps(payload).encode(), fallback_created_at=NOW)


def test_in_memory_store_records_a_svix_id_once() -> None:
    """Resend's retry of the same svix-id is not recorded a second time."""
    store = InMemoryWebhookStore()
    assert store.record(event("msg_1"), now=NOW) is True
    assert store.record(event("msg_1"), now=NOW + 60) is False
    status = store.status("em_1", now=NOW + 60)
    assert status is not None
    assert [e.svix_id for e in status.events] == ["msg_1"]


def test_in_memory_store_orders_events_by_created_at() -> None:
    """Events arriving out of order are read back by Resend's created_at; the latest is the status."""
    store = InMemoryWebhookStore()
    store.record(event("msg_2", "email.delivered", created_at="2024-01-01T00:00:05Z"), now=NOW)
    store.record(event("msg_1", "email.sent", created_at="2024-01-01T00:00:01Z"), now=NOW + 1)
    status = store.status("em_1", now=NOW + 2)
    assert status is not None
    assert [e.type for e in status.events] == ["email.sent", "email.delivered"]
    assert status.last_status == "email.delivered"
    assert status.updated_at == NOW + 1


def test_in_memory_store_forgets_after_retention() -> None:
    """Entries expire after the retention period, and the svix-id may then be recorded again."""
    store = InMemoryWebhookStore(retention_seconds=100)
    store.record(event("msg_1"), now=NOW)
    assert store.status("em_1", now=NOW + 100) is None
    assert store.record(event("msg_1"), now=NOW + 100) is True


def test_in_memory_store_lists_recent_emails_newest_first() -> None:
    """recent() lists emails by their last update, newest first, up to the limit."""
    store = InMemoryWebhookStore()
    for i in range(3):
        store.record(event(f"msg_{i}", email_id=f"em_{i}"), now=NOW + i)
    assert [s.email_id for s in store.recent(now=NOW + 10, limit=2)] == ["em_2", "em_1"]


def test_events_without_email_id_are_only_deduplicated() -> None:
    """A non-email event is remembered for dedupe but creates no delivery status."""
    store = InMemoryWebhookStore()
    assert store.record(event("msg_1", "contact.created", email_id=None), now=NOW)
    assert not store.record(event("msg_1", "contact.created", email_id=None), now=NOW)
    assert store.recent(now=NOW) == []


def test_in_memory_store_refuses_every_call_after_the_deadline() -> None:
    """Past the request's deadline nothing is recorded or read; before it, everything works."""

    def clock() -> float:
        return 100.0

    store = InMemoryWebhookStore()
    with pytest.raises(WebhookStoreUnavailableError, match="deadline passed"):
        store.record(event("msg_1"), now=NOW, deadline=Deadline(100.0, clock))
    with pytest.raises(WebhookStoreUnavailableError, match="deadline passed"):
        store.status("em_1", now=NOW, deadline=Deadline(99.0, clock))
    with pytest.raises(WebhookStoreUnavailableError, match="deadline passed"):
        store.recent(now=NOW, deadline=Deadline(50.0, clock))
    assert store.record(event("msg_1"), now=NOW, deadline=Deadline(100.5, clock)) is True
    assert store.status("em_1", now=NOW, deadline=Deadline(101.0, clock)) is not None
    assert len(store.recent(now=NOW, deadline=None)) == 1
