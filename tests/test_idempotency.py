"""The submission ledger, fast tier: the in-memory ledger's rules and the DynamoDB ledger's error mapping.

The DynamoDB ledger's conditional write itself is exercised against moto in tests/faults.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from contact_sdk.idempotency import (
    RECORD_TTL_SECONDS,
    DynamoDBSubmissionLedger,
    InMemorySubmissionLedger,
    LedgerUnavailable,
    SubmissionState,
    SubmissionStatus,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_records_live_24_hours_from_first_seen() -> None:
    assert RECORD_TTL_SECONDS == 86_400
    clock = Clock()
    ledger = InMemorySubmissionLedger(clock=clock)
    assert ledger.lookup("k") is None
    ledger.mark("k", SubmissionStatus.QUEUED)
    assert ledger.lookup("k") == SubmissionState(SubmissionStatus.QUEUED, None, 1_000_000.0 + 86_400)
    clock.now += 3600
    ledger.mark("k", SubmissionStatus.SENT, email_id="e-1")
    assert ledger.lookup("k") == SubmissionState(SubmissionStatus.SENT, "e-1", 1_000_000.0 + 86_400)  # not renewed
    clock.now = 1_000_000.0 + 86_400 - 0.001
    assert ledger.lookup("k") is not None
    clock.now = 1_000_000.0 + 86_400
    assert ledger.lookup("k") is None


def test_sent_is_final_while_the_record_lives() -> None:
    clock = Clock()
    ledger = InMemorySubmissionLedger(clock=clock, ttl_seconds=100)
    ledger.mark("k", SubmissionStatus.SENT, email_id="e-1")
    ledger.mark("k", SubmissionStatus.QUEUED)
    assert ledger.lookup("k") == SubmissionState(SubmissionStatus.SENT, "e-1", 1_000_100.0)
    clock.now += 100  # expired: a new submission with the same key starts a new record
    ledger.mark("k", SubmissionStatus.QUEUED)
    assert ledger.lookup("k") == SubmissionState(SubmissionStatus.QUEUED, None, 1_000_200.0)


def test_keys_are_independent() -> None:
    ledger = InMemorySubmissionLedger(clock=Clock())
    ledger.mark("a", SubmissionStatus.SENT)
    assert ledger.lookup("b") is None


class FakeDynamo:
    """Answers get_item with ``item`` or raises ``error``; records update_item calls."""

    def __init__(self, item: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.item = item
        self.error = error
        self.updates: list[dict[str, Any]] = []
        self.update_error: Exception | None = None

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return {"Item": self.item} if self.item is not None else {}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        if self.update_error is not None:
            raise self.update_error
        self.updates.append(kwargs)
        return {}


def dynamo_ledger(client: FakeDynamo, clock: Clock | None = None) -> DynamoDBSubmissionLedger:
    return DynamoDBSubmissionLedger(client, "contact", clock=clock or Clock())  # type: ignore[arg-type]


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "UpdateItem")


def test_dynamodb_lookup_reads_status_id_and_expiry() -> None:
    item = {"status": {"S": "sent"}, "expiresAt": {"N": "1000100"}, "emailId": {"S": "e-1"}}
    ledger = dynamo_ledger(FakeDynamo(item))
    assert ledger.lookup("k") == SubmissionState(SubmissionStatus.SENT, "e-1", 1_000_100.0)


@pytest.mark.parametrize(
    "item",
    [
        {"status": {"S": "sent"}, "expiresAt": {"N": "1000000"}},  # expired (TTL deletion is lazy)
        {"status": {"S": "bogus"}, "expiresAt": {"N": "2000000"}},
        {"expiresAt": {"N": "2000000"}},
        {"status": {"S": "sent"}},  # no expiry at all (seen under a concurrent emulator): unknown, not a 500
        {"status": {"S": "sent"}, "expiresAt": {"S": "soon"}},
        {"status": {"S": "sent"}, "expiresAt": {"N": "not-a-number"}},
    ],
)
def test_dynamodb_lookup_ignores_expired_or_foreign_items(item: dict[str, Any]) -> None:
    assert dynamo_ledger(FakeDynamo(item)).lookup("k") is None


def test_dynamodb_lookup_errors_are_ledger_unavailable() -> None:
    ledger = dynamo_ledger(FakeDynamo(error=EndpointConnectionError(endpoint_url="https://ddb")))
    with pytest.raises(LedgerUnavailable, match=r"submission ledger \(contact\) unreadable: EndpointConnectionError"):
        ledger.lookup("k")


def test_dynamodb_mark_writes_one_conditional_update() -> None:
    client = FakeDynamo()
    dynamo_ledger(client).mark("k", SubmissionStatus.SENT, email_id="e-1")
    (update,) = client.updates
    assert update["Key"] == {"pk": {"S": "submission#k"}}
    assert update["UpdateExpression"] == "SET #status = :status, #expires = :expires, emailId = :email"
    assert update["ExpressionAttributeValues"][":status"] == {"S": "sent"}
    assert update["ExpressionAttributeValues"][":expires"] == {"N": str(1_000_000 + 86_400)}
    assert update["ExpressionAttributeValues"][":email"] == {"S": "e-1"}


def test_dynamodb_mark_keeps_the_first_expiry_and_omits_a_missing_email_id() -> None:
    client = FakeDynamo({"status": {"S": "queued"}, "expiresAt": {"N": "1000500"}})
    dynamo_ledger(client).mark("k", SubmissionStatus.QUEUED)
    (update,) = client.updates
    assert update["UpdateExpression"] == "SET #status = :status, #expires = :expires"
    assert update["ExpressionAttributeValues"][":expires"] == {"N": "1000500"}


def test_dynamodb_mark_treats_a_failed_condition_as_already_sent() -> None:
    client = FakeDynamo()
    client.update_error = client_error("ConditionalCheckFailedException")
    dynamo_ledger(client).mark("k", SubmissionStatus.QUEUED)  # no error: sent is final


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (client_error("ProvisionedThroughputExceededException"), "refused the write"),
        (EndpointConnectionError(endpoint_url="https://ddb"), "unreachable: EndpointConnectionError"),
    ],
)
def test_dynamodb_mark_errors_are_ledger_unavailable(error: Exception, text: str) -> None:
    client = FakeDynamo()
    client.update_error = error
    with pytest.raises(LedgerUnavailable, match=text):
        dynamo_ledger(client).mark("k", SubmissionStatus.SENT)
