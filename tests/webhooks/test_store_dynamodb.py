"""The DynamoDB webhook store (contact_sdk.webhooks.store.DynamoDBWebhookStore) against moto's server on loopback;
its failure modes are in test_exactly_once.py."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config

from contact_sdk.deadline import Deadline, current
from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.webhooks.store import DEFAULT_RETENTION_SECONDS, DynamoDBWebhookStore, WebhookStoreUnavailableError
from contact_sdk.webhooks.verifier import WebhookEvent, parse_event
from tests.conftest import REGION
from tests.webhooks.test_store import refusals_past_the_deadline

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


def test_the_marker_says_what_arrived_when_and_for_which_email(
    store: DynamoDBWebhookStore, dynamodb: Any, contact_table: str
) -> None:
    """The svix-id marker keeps the event's type, the time it was recorded and the email it is about."""
    store.record(event("msg_1", "email.opened", email_id="em_7"), now=NOW + 0.25)
    marker = item(dynamodb, contact_table, "webhook#msg_1")
    assert marker is not None
    assert (marker["eventType"], marker["receivedAt"], marker["emailId"]) == (
        {"S": "email.opened"},
        {"N": "1700000000.25"},
        {"S": "em_7"},
    )


def test_a_status_expires_exactly_at_its_ttl(dynamodb: Any, contact_table: str) -> None:
    """TTL 60 s: read one second before it, gone at the second itself (DynamoDB deletes lazily)."""
    store = DynamoDBWebhookStore(dynamodb, contact_table, ttl_seconds=60)
    store.record(event("msg_1"), now=NOW)
    assert store.status("em_1", now=NOW + 59) is not None
    assert store.status("em_1", now=NOW + 60) is None


def test_past_the_deadline_each_call_names_the_table_and_what_it_could_not_do(store: DynamoDBWebhookStore) -> None:
    """Nothing is sent once the deadline has passed; the error says which table and which call."""
    assert refusals_past_the_deadline(store) == [
        f"DynamoDB webhook store (contact-test) could not {action}: the deadline passed before the call"
        for action in ("record the event", "read the delivery status", "scan recent deliveries")
    ]


def test_a_store_that_cannot_be_reached_says_so_by_the_errors_name(dynamodb: Any) -> None:
    """A missing table is named by DynamoDB's error code, an unreachable endpoint by botocore's error class; each
    error is chained to its cause."""
    missing = DynamoDBWebhookStore(dynamodb, "no-such-table")
    calls = {
        "record the event": lambda store: store.record(event("msg_1"), now=NOW),
        "read the delivery status": lambda store: store.status("em_1", now=NOW),
        "scan recent deliveries": lambda store: store.recent(now=NOW),
    }
    for action, call in calls.items():
        with pytest.raises(WebhookStoreUnavailableError) as refused:
            call(missing)
        assert str(refused.value) == (
            f"DynamoDB webhook store (no-such-table) could not {action}: ResourceNotFoundException"
        )
        assert refused.value.__cause__ is not None
    no_retries = Config(retries={"total_max_attempts": 1}, connect_timeout=1)
    closed = boto3.client("dynamodb", endpoint_url="http://127.0.0.1:9", region_name=REGION, config=no_retries)
    with pytest.raises(WebhookStoreUnavailableError) as refused:
        DynamoDBWebhookStore(closed, "contact-test").status("em_1", now=NOW)
    assert str(refused.value) == (
        "DynamoDB webhook store (contact-test) could not read the delivery status: EndpointConnectionError"
    )


class PagedScans:
    """The client as it is, except that a Scan answers at most ``size`` items a page (DynamoDB pages at 1 MB)."""

    def __init__(self, client: Any, size: int) -> None:
        self._client = client
        self.size = size
        self.pages = 0

    def scan(self, **request: Any) -> Any:
        self.pages += 1
        return self._client.scan(**request, Limit=self.size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_recent_reads_every_page_of_the_scan(dynamodb: Any, contact_table: str) -> None:
    """Five emails, a page of two items at a time (markers included): all five are found, newest first."""
    paged = PagedScans(dynamodb, size=2)
    store = DynamoDBWebhookStore(paged, contact_table)
    for i in range(1, 6):
        store.record(event(f"msg_{i}", email_id=f"em_{i}"), now=NOW + i)
    assert [s.email_id for s in store.recent(now=NOW + 10)] == ["em_5", "em_4", "em_3", "em_2", "em_1"]
    assert paged.pages >= 5  # ten items, two a page


def test_the_status_is_read_strongly_consistent(dynamodb: Any, contact_table: str) -> None:
    """The GetItem DynamoDB receives asks for a consistent read: an event recorded by another instance a moment
    ago is in the status (an eventually consistent read may miss it)."""
    sent: list[dict[str, Any]] = []
    dynamodb.meta.events.register("provide-client-params.dynamodb.GetItem", lambda params, **_: sent.append(params))
    store = DynamoDBWebhookStore(dynamodb, contact_table)
    store.record(event("msg_1"), now=NOW)
    assert store.status("em_1", now=NOW) is not None
    assert [params.get("ConsistentRead") for params in sent] == [True]


def test_a_marker_written_before_attempt_ids_is_a_duplicate(
    store: DynamoDBWebhookStore, dynamodb: Any, contact_table: str
) -> None:
    """A marker from before the attempt id existed (no ``attemptId``) deduplicates like any other."""
    dynamodb.put_item(
        TableName=contact_table,
        Item={PARTITION_KEY: {"S": "webhook#msg_1"}, "eventType": {"S": "email.sent"}, TTL_ATTRIBUTE: {"N": "4e9"}},
    )
    assert store.record(event("msg_1"), now=NOW) is False
    assert store.status("em_1", now=NOW) is None


class DeadlineSeen:
    """The client as it is, noting for each call the deadline in force while it runs (what a bounded client cuts
    the call at: contact_sdk.aws)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.seen: dict[str, Deadline | None] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**request: Any) -> Any:
            self.seen[name] = current()
            return method(**request)

        return call


def test_every_call_runs_inside_the_requests_deadline(dynamodb: Any, contact_table: str) -> None:
    """The write, the read and the scan each run within the deadline given, so the service's bounded client ends
    them by it (the route's budget, the operator command's)."""
    watched = DeadlineSeen(dynamodb)
    store = DynamoDBWebhookStore(watched, contact_table)
    deadline = Deadline(1_000.0, lambda: 10.0)
    store.record(event("msg_1"), now=NOW, deadline=deadline)
    store.status("em_1", now=NOW, deadline=deadline)
    store.recent(now=NOW, deadline=deadline)
    assert watched.seen == {"transact_write_items": deadline, "get_item": deadline, "scan": deadline}


def test_recent_lists_twenty_by_default(store: DynamoDBWebhookStore) -> None:
    """Without a limit, the 20 most recently updated emails (the operator command's default page)."""
    for i in range(22):
        store.record(event(f"msg_{i}", email_id=f"em_{i:02d}"), now=NOW + i)
    assert [s.email_id for s in store.recent(now=NOW + 30)] == [f"em_{i:02d}" for i in range(21, 1, -1)]
