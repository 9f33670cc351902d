"""The DynamoDB webhook store (contact_sdk.webhooks.store.DynamoDBWebhookStore) against moto's server on loopback;
its failure modes are in test_exactly_once.py."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.webhooks.store import DEFAULT_RETENTION_SECONDS, DynamoDBWebhookStore, WebhookStoreUnavailableError
from contact_sdk.webhooks.verifier import WebhookEvent, parse_event

pytestmark = pytest.mark.integration

NOW = 1_700_000_000.0


def event(
    svix_id: str, event_type: str = "email.delivered", email_id: str | None = "em_1", **data: Any
) -> WebhookEvent:
    """A parsed event as the verifier would return it, created at second ``<last digit of svix_id>``."""
    payload: dict[str, Any] = {
        "type": event_type,
        "created_at": f"2024-01-01T00:00:{int(svix_id[-1]):02d}Z",
        "data": dict(data),
    }
    if email_id is not None:
        payload["data"]["email_id"] = email_id
    return parse_event(svix_id, json.dumps(payload).encode(), fallback_created_at=NOW)


@pytest.fixture
def dynamodb(aws: str) -> Any:
    """A DynamoDB client on the emulator."""
    return boto3.client("dynamodb", endpoint_url=aws)


@pytest.fixture
def store(dynamodb: Any, contact_table: str) -> DynamoDBWebhookStore:
    """The store on the service's table in the emulator."""
    return DynamoDBWebhookStore(dynamodb, contact_table)


def item(dynamodb: Any, table: str, key: str) -> dict[str, Any] | None:
    """The raw item stored under partition key ``key``."""
    found: dict[str, Any] | None = dynamodb.get_item(TableName=table, Key={PARTITION_KEY: {"S": key}}).get("Item")
    return found


def test_first_event_is_recorded_with_marker_and_ttl(
    store: DynamoDBWebhookStore, dynamodb: Any, contact_table: str
) -> None:
    """One event writes a webhook# marker and a delivery# item, both expiring after 30 days."""
    assert store.record(event("msg_1"), now=NOW) is True
    marker = item(dynamodb, contact_table, "webhook#msg_1")
    delivery = item(dynamodb, contact_table, "delivery#em_1")
    assert marker is not None
    assert delivery is not None
    expected_expiry = str(int(NOW) + DEFAULT_RETENTION_SECONDS)
    assert marker[TTL_ATTRIBUTE] == {"N": expected_expiry}
    assert delivery[TTL_ATTRIBUTE] == {"N": expected_expiry}
    assert marker["eventType"] == {"S": "email.delivered"}
    assert len(marker["attemptId"]["S"]) == 32  # the recording call's id, which resolves a lost answer


def test_duplicate_svix_id_is_not_recorded_twice(store: DynamoDBWebhookStore) -> None:
    """Resend's retry with the same svix-id returns False and appends nothing."""
    assert store.record(event("msg_1"), now=NOW) is True
    assert store.record(event("msg_1"), now=NOW + 30) is False
    status = store.status("em_1", now=NOW + 30)
    assert status is not None
    assert [e.svix_id for e in status.events] == ["msg_1"]


def test_events_accumulate_and_last_status_follows_created_at(store: DynamoDBWebhookStore) -> None:
    """Events for one email are kept in a list; the status is the latest by Resend's created_at."""
    store.record(event("msg_3", "email.delivered"), now=NOW)
    store.record(event("msg_1", "email.sent"), now=NOW + 1)
    store.record(event("msg_2", "email.delivery_delayed"), now=NOW + 2)
    status = store.status("em_1", now=NOW + 3)
    assert status is not None
    assert [e.type for e in status.events] == ["email.sent", "email.delivery_delayed", "email.delivered"]
    assert status.last_status == "email.delivered"
    assert status.updated_at == NOW + 2


def test_bounce_detail_is_stored(store: DynamoDBWebhookStore) -> None:
    """The bounce reason survives the round trip through DynamoDB."""
    bounce = {"type": "Permanent", "subType": "General", "message": "mailbox does not exist"}
    store.record(event("msg_1", "email.bounced", bounce=bounce), now=NOW)
    status = store.status("em_1", now=NOW)
    assert status is not None
    assert status.last_event.detail == "Permanent/General: mailbox does not exist"


def test_expired_marker_does_not_block_a_new_record(dynamodb: Any, contact_table: str) -> None:
    """A marker past its TTL but not yet deleted by DynamoDB no longer deduplicates."""
    store = DynamoDBWebhookStore(dynamodb, contact_table, ttl_seconds=60)
    assert store.record(event("msg_1"), now=NOW)
    assert store.status("em_1", now=NOW + 61) is None
    assert store.record(event("msg_1"), now=NOW + 61) is True


def test_event_without_email_id_only_writes_the_marker(
    store: DynamoDBWebhookStore, dynamodb: Any, contact_table: str
) -> None:
    """A non-email event is deduplicated but creates no delivery item."""
    assert store.record(event("msg_1", "contact.created", email_id=None), now=NOW)
    assert not store.record(event("msg_1", "contact.created", email_id=None), now=NOW)
    assert item(dynamodb, contact_table, "webhook#msg_1") is not None
    assert store.recent(now=NOW) == []


def test_recent_lists_emails_newest_first(store: DynamoDBWebhookStore) -> None:
    """recent() scans delivery items only, newest update first, up to the limit."""
    for i in range(1, 4):
        store.record(event(f"msg_{i}", email_id=f"em_{i}"), now=NOW + i)
    assert [s.email_id for s in store.recent(now=NOW + 10, limit=2)] == ["em_3", "em_2"]


def test_unknown_email_has_no_status(store: DynamoDBWebhookStore) -> None:
    """status() of an email never seen is None."""
    assert store.status("em_unknown", now=NOW) is None


def test_missing_table_raises_store_unavailable(dynamodb: Any) -> None:
    """A DynamoDB failure is translated into WebhookStoreUnavailableError, chained to the cause."""
    store = DynamoDBWebhookStore(dynamodb, "no-such-table")
    with pytest.raises(WebhookStoreUnavailableError, match="no-such-table") as raised:
        store.record(event("msg_1"), now=NOW)
    assert raised.value.__cause__ is not None
    with pytest.raises(WebhookStoreUnavailableError):
        store.status("em_1", now=NOW)
    with pytest.raises(WebhookStoreUnavailableError):
        store.recent(now=NOW)
