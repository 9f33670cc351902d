"""The durable outbox end to end: queued when the provider is down, delivered once by ``outbox_handler``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import handler
from contact_sdk.devtools.local.event_source import sqs_event
from contact_sdk.errors import CircuitOpenError, ProviderQuotaError, ProviderServerError
from contact_sdk.outbox import QueuedEmail, read_message
from contact_sdk.outbox_consumer import backoff_seconds
from contact_sdk.record import RecordState
from tests.conftest import aws_client, create_outbox_queues
from tests.entrypoint.conftest import FakeLambdaContext, Stack, submission

pytestmark = pytest.mark.integration


@pytest.fixture
def queues(aws: str) -> dict[str, str]:
    """The outbox queue with a dead-letter queue after 3 receives, in moto."""
    return create_outbox_queues(aws, max_receive_count=3)


@pytest.fixture
def outbox_stack(make_stack: Callable[..., Stack], queues: dict[str, str]) -> Stack:
    """A stack whose outbox is the SQS queue; the consumer entry point uses the same components."""
    stack = make_stack(outbox_queue_url=queues["url"])
    handler.environment.use_components(stack.components)
    return stack


def receive_event(stack: Stack, queue_url: str) -> dict[str, Any]:
    """Receive what the queue holds and shape it as the SQS event Lambda's event source sends."""
    sqs = aws_client(stack.aws, "sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs_event(sqs, queue_url, queue_arn=arn, region="eu-west-1")


def waiting(stack: Stack, queue_url: str) -> dict[str, int]:
    """What SQS says the queue holds: offered now, received and hidden, and held back by a delay."""
    attributes = aws_client(stack.aws, "sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "hidden": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
    }


def queue_depth(stack: Stack, queue_url: str) -> int:
    """Visible plus in-flight messages."""
    counts = waiting(stack, queue_url)
    return counts["visible"] + counts["hidden"]


def test_provider_down_queues_the_submission_and_answers_202(outbox_stack: Stack, queues: dict[str, str]) -> None:
    """Retries exhausted: 202 queued with a nextToken; one message with the first attempt's key; metrics."""
    stack = outbox_stack
    stack.sandbox.script(["500", "500", "500", "500"])
    response = stack.submit(submission())
    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["status"] == "queued"
    assert body["nextToken"]
    event = receive_event(stack, queues["url"])
    [record] = event["Records"]
    queued = read_message(record["body"])
    assert isinstance(queued, QueuedEmail) and queued.email is not None
    attempts = [r for r in stack.sandbox.requests() if r["path"] == "/emails"]
    assert {r["idempotency_key"] for r in attempts} == {queued.idempotency_key}
    assert queued.reason == "ProviderDeferredError"  # three 500s, then the 4 s budget had no room for a fourth
    # The message carries the email as composed (contract §8), not the form to compose again later.
    assert (queued.email.sender, queued.email.to, queued.email.reply_to) == (
        "Contact Form <no-reply@example.com>",
        ("owner@example.com",),
        ("ada@example.org",),
    )
    totals = stack.sink.totals()
    assert totals["EmailsQueued"] == 1
    assert totals["EmailsFailed"] == 1
    state = stack.components.records.get(queued.idempotency_key)
    assert state is not None
    assert state.state == RecordState.QUEUED


def test_a_wait_the_provider_names_holds_the_queued_message_back(outbox_stack: Stack, queues: dict[str, str]) -> None:
    """429 with ``Retry-After: 60``: 202 queued, and SQS does not offer the message to the consumer before then.

    Offered at once, the consumer's first replay would be one more request the provider asked us not to make,
    and its likely 429 one more failure towards opening the breaker.
    """
    stack = outbox_stack
    stack.sandbox.script(["429:rate_limit_exceeded;retry-after=60"])
    response = stack.submit(submission())
    assert response["statusCode"] == 202
    assert len([r for r in stack.sandbox.requests() if r["path"] == "/emails"]) == 1
    assert waiting(stack, queues["url"]) == {"visible": 0, "hidden": 0, "delayed": 1}
    assert receive_event(stack, queues["url"])["Records"] == []
    summary = [line for line in stack.log_lines() if line.get("message") == "request handled"][-1]
    assert (summary["queued_reason"], summary["first_try_in_s"]) == ("ProviderRateLimitedError", 60)


def test_a_delayed_message_is_delivered_once_its_wait_is_over(outbox_stack: Stack, queues: dict[str, str]) -> None:
    """``Retry-After: 1`` on every attempt: queued with a 1 s delay, then received (long poll) and delivered once."""
    stack = outbox_stack
    stack.sandbox.script(["429:rate_limit_exceeded;retry-after=1"] * 10)
    assert stack.submit(submission())["statusCode"] == 202
    stack.sandbox.clear_faults()
    sqs = aws_client(stack.aws, "sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queues["url"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = sqs_event(sqs, queues["url"], queue_arn=arn, region="eu-west-1", wait_seconds=10)
    assert len(event["Records"]) == 1
    assert handler.outbox_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    assert len(stack.sandbox.emails()) == 1
    assert stack.sink.totals()["EmailsSent"] == 1


def test_a_double_click_while_queued_queues_once(outbox_stack: Stack, queues: dict[str, str]) -> None:
    """The same submission again while it waits in the outbox answers queued without a second message."""
    stack = outbox_stack
    stack.sandbox.set_faults(failure_rate=1.0, failure_status=503)
    assert stack.submit(submission())["statusCode"] == 202
    assert stack.submit(submission())["statusCode"] == 202
    assert queue_depth(stack, queues["url"]) == 1


def test_the_consumer_delivers_once_even_when_sqs_redelivers(outbox_stack: Stack, queues: dict[str, str]) -> None:
    """Replay sends with the original key; the same message delivered again sends nothing more."""
    stack = outbox_stack
    stack.sandbox.script(["503", "503", "503", "503"])
    assert stack.submit(submission())["statusCode"] == 202
    event = receive_event(stack, queues["url"])
    result = handler.outbox_handler(event, FakeLambdaContext())
    assert result == {"batchItemFailures": []}
    assert len(stack.sandbox.emails()) == 1
    again = handler.outbox_handler(event, FakeLambdaContext())  # SQS at-least-once: the same batch again
    assert again == {"batchItemFailures": []}
    assert len(stack.sandbox.emails()) == 1
    keys = {r["idempotency_key"] for r in stack.sandbox.requests() if r["path"] == "/emails"}
    assert len(keys) == 1
    assert stack.sink.totals()["EmailsSent"] == 1


def test_a_failed_delivery_is_reported_and_postponed(outbox_stack: Stack, queues: dict[str, str]) -> None:
    """Provider still down: the message is a batch item failure and hidden for the backoff."""
    stack = outbox_stack
    stack.sandbox.set_faults(failure_rate=1.0, failure_status=500)
    assert stack.submit(submission())["statusCode"] == 202
    event = receive_event(stack, queues["url"])
    result = handler.outbox_handler(event, FakeLambdaContext())
    assert result["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert stack.sandbox.emails() == []
    assert receive_event(stack, queues["url"])["Records"] == []  # hidden, not lost
    assert queue_depth(stack, queues["url"]) == 1


def test_an_unreadable_message_fails_alone(outbox_stack: Stack, queues: dict[str, str]) -> None:
    """A corrupted message is a failure (on its way to the DLQ) while the good one in the batch is delivered."""
    stack = outbox_stack
    stack.sandbox.script(["503", "503", "503", "503"])
    assert stack.submit(submission())["statusCode"] == 202
    aws_client(stack.aws, "sqs").send_message(QueueUrl=queues["url"], MessageBody="{not ours")
    event = receive_event(stack, queues["url"])
    assert len(event["Records"]) == 2
    bad = next(r["messageId"] for r in event["Records"] if r["body"] == "{not ours")
    result = handler.outbox_handler(event, FakeLambdaContext())
    assert result["batchItemFailures"] == [{"itemIdentifier": bad}]
    assert len(stack.sandbox.emails()) == 1


def test_provider_and_outbox_both_down_is_503(make_stack: Callable[..., Stack]) -> None:
    """With the queue unreachable too, nothing was accepted: 503 service_unavailable with Retry-After."""
    stack = make_stack(outbox_queue_url="http://127.0.0.1:9/000000000000/missing")
    stack.sandbox.set_faults(failure_rate=1.0, failure_status=500)
    response = stack.submit(submission())
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"]
    assert "EmailsQueued" not in stack.sink.totals()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (CircuitOpenError("open", retry_after=42.0), 120),
        (ProviderServerError("x", status=500, retry_after=7.0), 120),
        (ProviderServerError("x", status=500, retry_after=700.0), 700),
        (ProviderServerError("x", status=500), 120),
        (ProviderQuotaError("quota", status=429, name="daily_quota_exceeded"), 5 * 3600 + 30),
    ],
)
def test_backoff_respects_breaker_retry_after_and_quota_reset(error: Exception, expected: int) -> None:
    """On the third receive: at least 30 s doubled twice (120 s); a longer provider hint or quota reset wins."""
    now = 1_795_806_000.0  # 2026-11-27 19:00:00 UTC
    seconds = backoff_seconds(error, receive_count=3, breaker_wait=42.0, now=now)
    assert seconds == expected
