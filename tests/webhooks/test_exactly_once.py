"""Each webhook event recorded and counted once, whatever fails and wherever: the route and the DynamoDB store
against moto's server on loopback, behind a proxy that loses, holds, drops or refuses the store's calls.

The oracle is the table itself, read with a plain client straight from the emulator (never through the store),
and the metrics the route handed to its recorder. Signatures are computed here with ``hmac``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from contact_sdk.config import ParameterCache
from contact_sdk.deadline import Deadline
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.dynamo import PARTITION_KEY
from contact_sdk.metrics import Metric
from contact_sdk.webhooks.route import WebhookRoute
from contact_sdk.webhooks.store import DynamoDBWebhookStore, WebhookStoreUnavailableError
from contact_sdk.webhooks.verifier import parse_event
from tests.aws_fault_proxy import AwsFaultProxy
from tests.conftest import REGION, aws_client

pytestmark = pytest.mark.integration

KEY = b"an-exactly-once-webhook-test-key"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_800_000_000
EMAIL_ID = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"
WRITE = "TransactWriteItems"


class Clock:
    """The deadlines' clock: a number the test sets, moving ``step`` seconds on every reading."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 500.0
        self.step = step

    def __call__(self) -> float:
        reading = self.now
        self.now += self.step
        return reading


def client_for(url: str, *, botocore_attempts: int = 1, read_timeout: float = 5) -> Any:
    """A DynamoDB client at ``url``; by default botocore does not retry, so what is tested is the store's own
    handling (one test turns botocore's retry on)."""
    config = Config(
        connect_timeout=2,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": botocore_attempts},
    )
    return boto3.client("dynamodb", endpoint_url=url, region_name=REGION, config=config)  # type: ignore[call-overload]


@pytest.fixture
def proxy(aws: str, contact_table: str) -> Iterator[AwsFaultProxy]:
    """The fault proxy in front of a clean emulator holding the service's table."""
    with AwsFaultProxy(aws) as running:
        yield running


class Route:
    """The webhook route over the DynamoDB store behind the proxy; metrics land in ``metrics``."""

    def __init__(self, proxy: AwsFaultProxy, table: str, *, max_attempts: int = 2, **client_options: Any) -> None:
        self.clock = Clock()
        self.store = DynamoDBWebhookStore(client_for(proxy.url, **client_options), table, max_attempts=max_attempts)
        self.metrics: list[Metric] = []
        self.route = WebhookRoute(
            config_cache=ParameterCache(InMemoryParameterSource({"/w": SECRET})),
            secret_parameter="/w",
            store=self.store,
            record_metric=self.metrics.append,
            clock=lambda: float(NOW),
        )

    def deliver(self, svix_id: str = "msg_1", event_type: str = "email.delivered", **options: Any) -> tuple[int, Any]:
        """Resend delivers the event once (a retry is another call with the same svix-id); (status, body)."""
        body = json.dumps(
            {"type": event_type, "created_at": "2027-01-15T08:00:00.000Z", "data": {"email_id": EMAIL_ID}}
        ).encode()
        mac = hmac.new(KEY, f"{svix_id}.{NOW}.".encode() + body, hashlib.sha256).digest()
        headers = {
            "svix-id": svix_id,
            "svix-timestamp": str(NOW),
            "svix-signature": "v1," + base64.b64encode(mac).decode(),
        }
        outcome = self.route.receive(headers, body, **options)
        self.last_log_fields = dict(outcome.log_fields)
        return outcome.status, outcome.body


def raw_item(aws: str, table: str, key: str) -> dict[str, Any] | None:
    """The item under ``key``, read straight from the emulator."""
    found: dict[str, Any] | None = (
        aws_client(aws, "dynamodb")
        .get_item(TableName=table, Key={PARTITION_KEY: {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    return found


def history(aws: str, table: str) -> list[str]:
    """The svix-ids in the email's delivery history, in the order they were appended."""
    item = raw_item(aws, table, f"delivery#{EMAIL_ID}")
    return [] if item is None else [entry["M"]["svixId"]["S"] for entry in item["events"]["L"]]


def status_of(response: tuple[int, Any]) -> str:
    """``recorded`` / ``duplicate`` for a 200, else the error code."""
    status, body = response
    return str(body["status"]) if status == 200 else f"{status} {body['error']['code']}"


# -- before the write ----------------------------------------------------------------------------


def test_a_deadline_already_passed_starts_no_call_and_resends_retry_records_once(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """No time left: 503 without a single call reaching DynamoDB; Resend's retry records and counts the event."""
    route = Route(proxy, contact_table)
    assert status_of(route.deliver(deadline=Deadline(route.clock.now, route.clock))) == "503 service_unavailable"
    assert proxy.seen(WRITE) == []
    assert route.last_log_fields["store_outcome_unknown"] is False
    assert status_of(route.deliver()) == "recorded"
    assert route.metrics == [Metric.EMAILS_DELIVERED]
    assert history(aws, contact_table) == ["msg_1"]


def test_a_call_dropped_before_it_reached_dynamodb_is_sent_again(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """The connection closes before the write arrives: the store's second try records it, counted once."""
    route = Route(proxy, contact_table)
    proxy.queue(WRITE, "drop")
    assert status_of(route.deliver()) == "recorded"
    assert proxy.seen(WRITE) == ["drop", "forward"]
    assert route.metrics == [Metric.EMAILS_DELIVERED]
    assert history(aws, contact_table) == ["msg_1"]


def test_every_try_dropped_is_503_and_the_retry_records_once(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """Both tries dropped before DynamoDB: 503, nothing in the table; Resend's retry records and counts it once."""
    route = Route(proxy, contact_table)
    proxy.queue(WRITE, "drop", "drop")
    assert status_of(route.deliver()) == "503 service_unavailable"
    assert raw_item(aws, contact_table, "webhook#msg_1") is None
    assert history(aws, contact_table) == []
    assert status_of(route.deliver()) == "recorded"
    assert route.metrics == [Metric.EMAILS_DELIVERED]
    assert history(aws, contact_table) == ["msg_1"]


# -- a write that timed out but landed -----------------------------------------------------------


def test_a_write_whose_answer_was_lost_is_recognised_as_this_calls_own(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """The write lands and its answer is lost: the second try finds the marker this call wrote, so the event is
    recorded and counted once; Resend's retry afterwards is a duplicate."""
    route = Route(proxy, contact_table)
    proxy.queue(WRITE, "lose")
    assert status_of(route.deliver()) == "recorded"
    assert proxy.seen(WRITE) == ["lose", "forward"]
    assert history(aws, contact_table) == ["msg_1"]
    assert status_of(route.deliver()) == "duplicate"
    assert route.metrics == [Metric.EMAILS_DELIVERED]
    assert history(aws, contact_table) == ["msg_1"]


def test_a_write_that_timed_out_after_landing_is_counted_once(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """A real read timeout (the answer held back) after the write landed: recorded and counted once, then duplicate."""
    route = Route(proxy, contact_table, read_timeout=1)
    proxy.queue(WRITE, "hold")
    assert status_of(route.deliver()) == "recorded"
    assert proxy.seen(WRITE) == ["hold", "forward"]
    assert status_of(route.deliver()) == "duplicate"
    assert route.metrics == [Metric.EMAILS_DELIVERED]
    assert history(aws, contact_table) == ["msg_1"]


def test_a_500_after_the_write_landed_is_resolved_by_the_next_try(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """DynamoDB applies the write and answers 500 (its 5xx leave the outcome open): the second try finds the
    call's own marker, so the event is recorded and counted once."""
    route = Route(proxy, contact_table)
    proxy.queue(WRITE, "landed-500")
    assert status_of(route.deliver()) == "recorded"
    assert proxy.seen(WRITE) == ["landed-500", "forward"]
    assert route.metrics == [Metric.EMAILS_DELIVERED]
    assert history(aws, contact_table) == ["msg_1"]


def test_botocores_own_retry_of_a_landed_write_counts_once(proxy: AwsFaultProxy, aws: str, contact_table: str) -> None:
    """With the store trying once and botocore retrying (the same token), a lost answer still counts once."""
    route = Route(proxy, contact_table, max_attempts=1, botocore_attempts=2)
    proxy.queue(WRITE, "lose")
    assert status_of(route.deliver()) == "recorded"
    assert proxy.seen(WRITE) == ["lose", "forward"]
    assert route.metrics == [Metric.EMAILS_DELIVERED]
    assert history(aws, contact_table) == ["msg_1"]


def test_an_unanswered_write_and_no_time_for_another_try_is_503_and_never_doubles(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """The window the store documents: the write lands, no try reads an answer, the route answers 503 saying the
    outcome is unknown; Resend's retry is a duplicate. The history holds the event once; it is not counted."""
    route = Route(proxy, contact_table)
    proxy.queue(WRITE, "lose", "lose")
    assert status_of(route.deliver()) == "503 service_unavailable"
    assert route.last_log_fields["store_outcome_unknown"] is True
    assert "outcome unknown" in route.last_log_fields["store_error"]
    assert history(aws, contact_table) == ["msg_1"]
    assert status_of(route.deliver()) == "duplicate"
    assert history(aws, contact_table) == ["msg_1"]
    assert route.metrics == []


def test_no_retry_starts_after_the_deadline(proxy: AwsFaultProxy, aws: str, contact_table: str) -> None:
    """An unanswered try that used up the time left: no second call, an error saying the outcome is unknown."""
    clock = Clock(step=1.0)  # each try reads the clock once: the second reading is the deadline
    store = DynamoDBWebhookStore(client_for(proxy.url), contact_table)
    proxy.queue(WRITE, "lose")
    with pytest.raises(WebhookStoreUnavailableError, match="deadline passed before another try") as raised:
        store.record(event("msg_1"), now=NOW, deadline=Deadline(clock.now + 1, clock))
    assert raised.value.outcome_unknown
    assert proxy.seen(WRITE) == ["lose"]
    assert history(aws, contact_table) == ["msg_1"]


def test_every_try_answered_500_is_an_unknown_outcome_after_exactly_two_tries(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """DynamoDB's 500 may follow a write that landed (here both did): two tries by default, then an error that
    names the code and says the event may be recorded."""
    store = DynamoDBWebhookStore(client_for(proxy.url), contact_table)
    proxy.queue(WRITE, "landed-500", "landed-500")
    with pytest.raises(WebhookStoreUnavailableError) as raised:
        store.record(event("msg_1"), now=NOW)
    assert str(raised.value) == (
        f"DynamoDB webhook store ({contact_table}) could not record the event: InternalServerError; "
        "a try went unanswered, so the event may be recorded (outcome unknown)"
    )
    assert raised.value.outcome_unknown is True
    assert proxy.seen(WRITE) == ["landed-500", "landed-500"]
    assert history(aws, contact_table) == ["msg_1"]


def test_a_500_and_no_time_for_another_try_says_both(proxy: AwsFaultProxy, aws: str, contact_table: str) -> None:
    """The first try answered 500, the deadline passed before the second: the error gives all three facts."""
    clock = Clock(step=1.0)
    store = DynamoDBWebhookStore(client_for(proxy.url), contact_table)
    proxy.queue(WRITE, "landed-500")
    with pytest.raises(WebhookStoreUnavailableError) as raised:
        store.record(event("msg_1"), now=NOW, deadline=Deadline(clock.now + 1, clock))
    assert str(raised.value) == (
        f"DynamoDB webhook store ({contact_table}) could not record the event: InternalServerError; "
        "the deadline passed before another try; a try went unanswered, so the event may be recorded (outcome unknown)"
    )
    assert proxy.seen(WRITE) == ["landed-500"]


# -- a write that failed ------------------------------------------------------------------------


def test_a_refused_write_records_nothing_and_the_retry_records_once(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """Throttled: 503 at once (no second try: nothing was applied), no marker, no event; the retry records it."""
    route = Route(proxy, contact_table)
    proxy.queue(WRITE, "throttle")
    assert status_of(route.deliver()) == "503 service_unavailable"
    assert proxy.seen(WRITE) == ["throttle"]
    assert route.last_log_fields["store_outcome_unknown"] is False
    assert "ThrottlingException" in route.last_log_fields["store_error"]
    assert raw_item(aws, contact_table, "webhook#msg_1") is None
    assert history(aws, contact_table) == []
    assert status_of(route.deliver()) == "recorded"
    assert route.metrics == [Metric.EMAILS_DELIVERED]
    assert history(aws, contact_table) == ["msg_1"]


def test_a_conflict_with_another_event_of_the_same_email_is_tried_again(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """A transaction cancelled by a concurrent write to the same item applied nothing: the store tries again."""
    route = Route(proxy, contact_table)
    proxy.queue(WRITE, "conflict")
    assert status_of(route.deliver()) == "recorded"
    assert proxy.seen(WRITE) == ["conflict", "forward"]
    assert route.metrics == [Metric.EMAILS_DELIVERED]


def test_when_the_event_cannot_be_appended_the_marker_is_not_written_either(
    proxy: AwsFaultProxy, aws: str, contact_table: str
) -> None:
    """Marker and event are one write: an append DynamoDB rejects (a damaged history item) leaves no marker, so
    once the item is repaired Resend's retry records and counts the event."""
    dynamodb = aws_client(aws, "dynamodb")
    damaged = {PARTITION_KEY: {"S": f"delivery#{EMAIL_ID}"}, "events": {"S": "not a list"}}
    dynamodb.put_item(TableName=contact_table, Item=damaged)
    route = Route(proxy, contact_table)
    assert status_of(route.deliver()) == "503 service_unavailable"
    assert proxy.seen(WRITE) == ["forward"]  # cancelled for a reason other than a conflict: not tried again
    assert raw_item(aws, contact_table, "webhook#msg_1") is None
    dynamodb.delete_item(TableName=contact_table, Key={PARTITION_KEY: damaged[PARTITION_KEY]})
    assert status_of(route.deliver()) == "recorded"
    assert route.metrics == [Metric.EMAILS_DELIVERED]
    assert history(aws, contact_table) == ["msg_1"]


# -- deliveries at the same time ------------------------------------------------------------------


def event(svix_id: str, event_type: str = "email.delivered") -> Any:
    """A parsed event for ``EMAIL_ID``."""
    body = json.dumps({"type": event_type, "created_at": "2027-01-15T08:00:00Z", "data": {"email_id": EMAIL_ID}})
    return parse_event(svix_id, body.encode(), fallback_created_at=NOW)


def test_concurrent_deliveries_of_one_event_record_it_once(serial_contact_table: tuple[str, str]) -> None:
    """Svix delivering one event eight times at once: exactly one call records it, the history holds it once."""
    url, table = serial_contact_table
    store = DynamoDBWebhookStore(client_for(url), table)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        barrier.wait()
        results.append(store.record(event("msg_same"), now=NOW))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    item = raw_item(url, table, f"delivery#{EMAIL_ID}")
    assert item is not None
    assert [entry["M"]["svixId"]["S"] for entry in item["events"]["L"]] == ["msg_same"]


# -- deadlines on reads -------------------------------------------------------------------------


def test_reads_refuse_to_start_after_the_deadline(proxy: AwsFaultProxy, contact_table: str) -> None:
    """status() and recent() with the deadline passed raise the store's error and send nothing."""
    clock = Clock()
    store = DynamoDBWebhookStore(client_for(proxy.url), contact_table)
    store.record(event("msg_1"), now=NOW)
    with pytest.raises(WebhookStoreUnavailableError, match="deadline passed"):
        store.status(EMAIL_ID, now=NOW, deadline=Deadline(clock.now, clock))
    with pytest.raises(WebhookStoreUnavailableError, match="deadline passed"):
        store.recent(now=NOW, deadline=Deadline(clock.now - 5, clock))
    assert proxy.seen("GetItem") == []
    assert proxy.seen("Scan") == []
    status = store.status(EMAIL_ID, now=NOW, deadline=Deadline(clock.now + 1, clock))
    assert status is not None
    assert [s.email_id for s in store.recent(now=NOW, deadline=Deadline(clock.now + 1, clock))] == [EMAIL_ID]


def test_max_attempts_below_one_is_refused() -> None:
    """A store that may never try is a configuration mistake, refused when built."""
    with pytest.raises(ValueError, match=r"^max_attempts must be at least 1$"):
        DynamoDBWebhookStore(boto3.client("dynamodb", region_name=REGION), "t", max_attempts=0)
