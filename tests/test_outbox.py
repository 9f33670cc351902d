"""The outbox message and the two outboxes, fast tier (SQS through an injected client stand-in)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from contact_sdk.models import ContactSubmission
from contact_sdk.outbox import InMemoryOutbox, OutboxUnavailable, QueuedSubmission, SqsOutbox

KEY = "contact-" + "a" * 64


def submission(**changes: Any) -> ContactSubmission:
    fields = {"name": "Ada", "email": "Ada@Example.org", "message": "Hello there, friend.", "consent": True}
    return ContactSubmission.model_validate({**fields, **changes})


def queued(**changes: Any) -> QueuedSubmission:
    return QueuedSubmission.from_submission(
        submission(**changes), idempotency_key=KEY, request_id="req-1", reason="CircuitOpenError", now=1_700_000_000.5
    )


def test_a_queued_submission_keeps_what_the_email_needs() -> None:
    item = queued(subject="Engines")
    assert (item.name, item.email, item.subject, item.message) == (
        "Ada",
        "Ada@example.org",
        "Engines",
        "Hello there, friend.",
    )
    assert (item.idempotency_key, item.request_id, item.reason, item.queued_at, item.version) == (
        KEY,
        "req-1",
        "CircuitOpenError",
        1_700_000_000.5,
        1,
    )


def test_the_stored_body_is_compact_json_with_every_field() -> None:
    body = queued().to_json()
    assert json.loads(body) == {
        "name": "Ada",
        "email": "Ada@example.org",
        "subject": None,
        "message": "Hello there, friend.",
        "idempotency_key": KEY,
        "request_id": "req-1",
        "queued_at": 1_700_000_000.5,
        "reason": "CircuitOpenError",
        "version": 1,
    }
    assert body.startswith('{"name":"Ada","email":"Ada@example.org","subject":null,')
    assert "\\u" not in queued(name="Zo\u00eb").to_json()  # UTF-8 kept as is


def test_round_trip_and_back_to_a_submission() -> None:
    item = queued(subject="Hi")
    again = QueuedSubmission.from_json(item.to_json())
    assert again == item
    back = again.to_submission()
    assert (back.name, back.email, back.subject, back.message, back.consent) == (
        "Ada",
        "Ada@example.org",
        "Hi",
        "Hello there, friend.",
        True,
    )


def stored(**changes: Any) -> str:
    return json.dumps({**json.loads(queued().to_json()), **changes})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{nope", "outbox message is not JSON: "),
        ("[1]", "outbox message is not a JSON object"),
        (stored(version=2), "outbox message has unknown version 2"),
        (json.dumps({"name": "x"}), "outbox message has unknown version None"),
        (stored(extra=1), "outbox message has unexpected fields: "),
        (stored(email=5), "outbox message field email is not a string"),
        (stored(request_id=None), "outbox message field request_id is not a string"),
        # Queued by an older version before the address rule refused line feeds: dead-lettered, not retried.
        (stored(email="x\n@example.com"), "outbox message holds a submission that is not valid: email"),
        (stored(name="", message="short"), "outbox message holds a submission that is not valid: message, name"),
    ],
)
def test_unreadable_messages_say_why(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        QueuedSubmission.from_json(raw)


def test_the_in_memory_outbox_keeps_drains_and_fails_on_demand() -> None:
    outbox = InMemoryOutbox()
    outbox.enqueue(queued())
    outbox.enqueue(queued(name="Bo"))
    assert [item["name"] for item in outbox.as_dicts()] == ["Ada", "Bo"]
    assert [item.name for item in outbox.drain()] == ["Ada", "Bo"]
    assert outbox.drain() == []
    outbox.fail = True
    with pytest.raises(OutboxUnavailable, match="simulated"):
        outbox.enqueue(queued())
    assert outbox.messages == []


class FakeSqs:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        self.sent.append(kwargs)
        return {"MessageId": "m-1"}


def test_sqs_outbox_sends_the_body_and_the_key_as_attributes() -> None:
    client = FakeSqs()
    outbox = SqsOutbox("https://sqs.example/q", client=client)  # type: ignore[arg-type]
    item = queued()
    outbox.enqueue(item)
    assert client.sent == [
        {
            "QueueUrl": "https://sqs.example/q",
            "MessageBody": item.to_json(),
            "MessageAttributes": {
                "idempotencyKey": {"DataType": "String", "StringValue": KEY},
                "requestId": {"DataType": "String", "StringValue": "req-1"},
            },
        }
    ]


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (ClientError({"Error": {"Code": "AccessDenied", "Message": "m"}}, "SendMessage"), "ClientError"),
        (EndpointConnectionError(endpoint_url="https://sqs.example"), "EndpointConnectionError"),
    ],
)
def test_sqs_errors_become_outbox_unavailable(error: Exception, name: str) -> None:
    outbox = SqsOutbox("https://sqs.example/q", client=FakeSqs(error))  # type: ignore[arg-type]
    with pytest.raises(OutboxUnavailable) as raised:
        outbox.enqueue(queued())
    assert str(raised.value) == f"the outbox queue did not take the message ({name})"


def test_the_client_comes_from_the_factory_and_is_made_again_after_reset() -> None:
    made: list[FakeSqs] = []

    def factory() -> FakeSqs:
        made.append(FakeSqs())
        return made[-1]

    outbox = SqsOutbox("q", client_factory=factory)  # type: ignore[arg-type]
    outbox.enqueue(queued())
    outbox.enqueue(queued())
    outbox.reset_client()
    outbox.enqueue(queued())
    assert [len(client.sent) for client in made] == [2, 1]
