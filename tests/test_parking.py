"""The parking lot (``contact_sdk.parking``) on an SQS queue: moto in process, read back as the operator reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from contact_sdk.models import ContactSubmission
from contact_sdk.parking import ParkingUnavailable, SqsParkingLot
from tests.conftest import REGION
from tests.queued import queued_email


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An SQS client in the tests' region against moto in process; boto3's default region is another one."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def parked(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message on the queue with its attributes, as ``contact-sdk outbox parked`` reads them."""
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return list(answer.get("Messages", []))


def a_submission() -> ContactSubmission:
    fields = {"name": "Ada", "email": "ada@example.org", "message": "Hello there, friend.", "consent": True}
    return ContactSubmission.model_validate(fields)


def test_a_parked_submission_keeps_its_email_key_request_and_reason(sqs: Any) -> None:
    """The message is the queued submission as the outbox writes it, with its idempotency key, request id and the
    reason as string attributes; the client given is the one used (the queue is in another region than boto3's
    default)."""
    url = sqs.create_queue(QueueName="contact-outbox-dlq")["QueueUrl"]
    queued = queued_email(a_submission(), now=1_700_000_000.0, request_id="req-7")
    SqsParkingLot(url, client=sqs).park(queued, reason="ProviderRequestError 422 invalid_from_address")
    [message] = parked(sqs, url)
    assert json.loads(message["Body"]) == json.loads(queued.to_json())
    assert message["MessageAttributes"] == {
        "idempotencyKey": {"DataType": "String", "StringValue": queued.idempotency_key},
        "requestId": {"DataType": "String", "StringValue": "req-7"},
        "parkedReason": {"DataType": "String", "StringValue": "ProviderRequestError 422 invalid_from_address"},
    }


def test_an_unreadable_message_is_parked_as_it_came_with_a_short_reason(sqs: Any) -> None:
    """A body that is not a submission goes as it came, with only its reason, cut to 300 characters (an empty
    reason reads ``unknown``)."""
    url = sqs.create_queue(QueueName="contact-outbox-dlq")["QueueUrl"]
    lot = SqsParkingLot(url, client_factory=lambda: sqs)
    lot.park_unreadable("{not json", reason="x" * 400)
    lot.park_unreadable("[]", reason="")
    messages = sorted(parked(sqs, url), key=lambda m: m["Body"])
    assert [m["Body"] for m in messages] == ["[]", "{not json"]
    assert [m["MessageAttributes"] for m in messages] == [
        {"parkedReason": {"DataType": "String", "StringValue": "unknown"}},
        {"parkedReason": {"DataType": "String", "StringValue": "x" * 300}},
    ]


def test_a_queue_that_does_not_take_it_is_parking_unavailable(sqs: Any) -> None:
    """No such queue: ``ParkingUnavailable`` naming SQS's error, so the caller keeps the submission elsewhere."""
    url = sqs.create_queue(QueueName="contact-outbox-dlq")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ParkingUnavailable, match=r"^the parking queue did not take the message \(\w+\)$"):
        SqsParkingLot(url, client=sqs).park_unreadable("{}", reason="unreadable")
