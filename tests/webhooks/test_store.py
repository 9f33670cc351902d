"""The in-process webhook store (contact_sdk.webhooks.store.InMemoryWebhookStore); the DynamoDB one has its
own file."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from contact_sdk.deadline import Deadline
from contact_sdk.webhooks.store import (
    DynamoDBWebhookStore,
    InMemoryWebhookStore,
    WebhookStore,
    WebhookStoreUnavailableError,
)
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


def refusals_past_the_deadline(store: WebhookStore) -> list[str]:
    """What the store's three calls (record, status, recent) each raise once the request's deadline has passed."""
    passed = Deadline(50.0, lambda: 100.0)
    calls: list[Callable[[], object]] = [
        lambda: store.record(event("msg_1"), now=NOW, deadline=passed),
        lambda: store.status("em_1", now=NOW, deadline=passed),
        lambda: store.recent(now=NOW, deadline=passed),
    ]
    refusals = []
    for call in calls:
        with pytest.raises(WebhookStoreUnavailableError) as refused:
            call()
        refusals.append(str(refused.value))
    return refusals


def test_each_refusal_after_the_deadline_names_the_store_and_what_it_could_not_do() -> None:
    """The words the route logs and the operator's command prints, whole."""
    assert refusals_past_the_deadline(InMemoryWebhookStore()) == [
        f"the in-memory webhook store could not {action}: the deadline passed before the call"
        for action in ("record the event", "read the delivery status", "list recent deliveries")
    ]


def test_retention_ends_exactly_when_it_says_for_every_read_and_the_history_restarts() -> None:
    """Retention 100 s: at 99.5 s the email is listed and read; at exactly 100 s it is neither, and an event then
    starts a new history instead of joining the expired one."""
    store = InMemoryWebhookStore(retention_seconds=100)
    store.record(event("msg_1", "email.sent", created_at="2024-01-01T00:00:01Z"), now=NOW)
    status = store.status("em_1", now=NOW + 99.5)
    assert status is not None and status.email_id == "em_1"
    assert [s.email_id for s in store.recent(now=NOW + 99.5)] == ["em_1"]
    assert store.status("em_1", now=NOW + 100) is None
    assert store.recent(now=NOW + 100) == []
    store.record(event("msg_2", "email.delivered", created_at="2024-01-01T00:00:02Z"), now=NOW + 100)
    status = store.status("em_1", now=NOW + 100)
    assert status is not None
    assert [e.svix_id for e in status.events] == ["msg_2"]


def test_a_bounces_reason_is_kept_with_its_event() -> None:
    """What explains a bounce (type, subtype, message) is read back with the status."""
    bounce = {"type": "Permanent", "subType": "General", "message": "mailbox does not exist"}
    payload = {"type": "email.bounced", "data": {"email_id": "em_1", "bounce": bounce}}
    store = InMemoryWebhookStore()
    store.record(parse_event("msg_1", json.dumps(payload).encode(), fallback_created_at=NOW), now=NOW)
    status = store.status("em_1", now=NOW)
    assert status is not None
    assert status.last_event.detail == "Permanent/General: mailbox does not exist"


def test_recent_lists_twenty_by_default() -> None:
    """Without a limit, the 20 most recently updated emails."""
    store = InMemoryWebhookStore()
    for i in range(25):
        store.record(event(f"msg_{i}", email_id=f"em_{i}"), now=NOW + i)
    listed = [s.email_id for s in store.recent(now=NOW + 30)]
    assert listed == [f"em_{i}" for i in range(24, 4, -1)]


class CancelledFor:
    """A DynamoDB client whose every transaction is cancelled with ``reasons``, as DynamoDB documents the answer."""

    def __init__(self, *reasons: str) -> None:
        self.reasons = [{"Code": code} for code in reasons]
        self.tries = 0

    def transact_write_items(self, **request: Any) -> Any:
        self.tries += 1
        error = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}
        raise ClientError({"Error": error, "CancellationReasons": self.reasons}, "TransactWriteItems")


def test_a_transaction_cancelled_for_a_reason_other_than_a_conflict_is_not_tried_again() -> None:
    """The append was invalid (``ValidationError`` on the second item): nothing was applied and trying again cannot
    help, so one try and an error naming the cancellation; a conflict is tried again."""
    invalid = CancelledFor("None", "ValidationError")
    with pytest.raises(WebhookStoreUnavailableError) as refused:
        DynamoDBWebhookStore(invalid, "t").record(event("msg_1"), now=NOW)  # type: ignore[arg-type]
    assert invalid.tries == 1
    assert str(refused.value) == "DynamoDB webhook store (t) could not record the event: TransactionCanceledException"
    conflict = CancelledFor("None", "TransactionConflict")
    with pytest.raises(WebhookStoreUnavailableError):
        DynamoDBWebhookStore(conflict, "t").record(event("msg_1"), now=NOW)  # type: ignore[arg-type]
    assert conflict.tries == 2


class Refusing:
    """A DynamoDB client whose reads are refused with a code botocore's model has no class for (a plain
    ``ClientError``, as real DynamoDB's ``ValidationException`` arrives)."""

    def get_item(self, **request: Any) -> Any:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "invalid key"}}, "GetItem")


def test_an_error_botocore_has_no_class_for_is_named_by_its_code() -> None:
    """The operator reads DynamoDB's code, not the Python class ``ClientError``."""
    with pytest.raises(WebhookStoreUnavailableError) as refused:
        DynamoDBWebhookStore(Refusing(), "t").status("em_1", now=NOW)  # type: ignore[arg-type]
    assert str(refused.value) == "DynamoDB webhook store (t) could not read the delivery status: ValidationException"
