"""The outbox hide grows with the receive count whatever the reason, so a long outage spends receives slowly."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contact_sdk.bootstrap import build_components
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.errors import (
    CircuitOpenError,
    ConfigUnavailableError,
    ProviderDeferredError,
    ProviderQuotaError,
    ProviderRateLimitedError,
    ProviderServerError,
)
from contact_sdk.metrics import ListSink
from contact_sdk.models import ContactSubmission
from contact_sdk.outbox_consumer import OutboxConsumer, backoff_seconds, longest_hide
from contact_sdk.settings import Settings
from tests.budget.simulated_sqs import SimClock, SimulatedQueue, sqs_event
from tests.queued import queued_email

NOON = 1_795_780_800.0  # 2026-11-27 12:00:00 UTC
ONE_PM = NOON + 3600  # the daily quota resets 11 h 0 min 30 s later, at 00:00:30 UTC


@pytest.mark.parametrize(
    ("receive_count", "expected"),
    [(1, 30), (2, 60), (3, 120), (4, 240), (5, 300), (6, 300), (300, 300), (10_000, 300)],
)
def test_an_open_breaker_hides_longer_on_every_receive_up_to_five_minutes(receive_count: int, expected: int) -> None:
    """While the breaker is open (10 s left) the hide is 30 s doubling per receive, capped at 300 s."""
    error = CircuitOpenError("open", retry_after=10.0)
    assert backoff_seconds(error, receive_count=receive_count, breaker_wait=10.0, now=NOON) == expected


def test_an_open_breaker_with_longer_left_than_the_growth_waits_it_out() -> None:
    """On the first receive with 55 s of open time left, the hide is the 55 s, not 30 s."""
    error = CircuitOpenError("open", retry_after=55.0)
    assert backoff_seconds(error, receive_count=1, breaker_wait=55.0, now=NOON) == 55


@pytest.mark.parametrize("receive_count", [1, 4, 50])
def test_an_exhausted_quota_hides_until_the_reset_and_never_less_than_the_growth(receive_count: int) -> None:
    """A daily quota at 13:00 UTC: hidden until 00:00:30 (11 h 30 s), however many receives so far."""
    error = ProviderQuotaError("quota", status=429, name="daily_quota_exceeded", retry_after=1.0)
    assert backoff_seconds(error, receive_count=receive_count, breaker_wait=0.0, now=ONE_PM) == 11 * 3600 + 30


def test_an_exhausted_quota_a_minute_before_midnight_still_grows() -> None:
    """Forty seconds before the reset, the 7th receive still hides 300 s: a quota never burns receives."""
    just_before = NOON + 12 * 3600 - 10  # 23:59:50 UTC, the reset is at 00:00:30
    error = ProviderQuotaError("quota", status=429, name="daily_quota_exceeded")
    assert backoff_seconds(error, receive_count=7, breaker_wait=0.0, now=just_before) == 300


@pytest.mark.parametrize(
    ("error", "receive_count", "expected"),
    [
        (ProviderRateLimitedError("slow down", status=429, retry_after=2.0), 2, 60),
        (ProviderDeferredError("deferred", status=429, retry_after=30.0), 1, 30),
        (ProviderDeferredError("deferred", status=429, retry_after=3600.0), 1, 3600),
        (ProviderDeferredError("deferred", status=503, retry_after=100_000.0), 1, 43_200),
        (ProviderServerError("down", status=503), 6, 300),
    ],
)
def test_a_provider_named_wait_is_honoured_beyond_the_cap_up_to_twelve_hours(
    error: ProviderServerError | ProviderDeferredError | ProviderRateLimitedError, receive_count: int, expected: int
) -> None:
    """Retry-After longer than the growth wins (up to SQS's 12 h); shorter, the growth wins."""
    assert backoff_seconds(error, receive_count=receive_count, breaker_wait=0.0, now=NOON) == expected


# -- SQS's 12 hours count from the receive ---------------------------------------------------------


def test_the_longest_hide_leaves_room_for_the_event_sources_batching_and_the_time_spent() -> None:
    """12 h less 6 min (the batching window SQS may have held the batch for) less the invocation's time so far."""
    assert longest_hide(invoked_at=NOON, now=NOON) == 43_200 - 360
    assert longest_hide(invoked_at=NOON, now=NOON + 25.5) == 43_200 - 360 - 25.5
    assert longest_hide(invoked_at=NOON, now=NOON - 3) == 43_200 - 360  # a clock that stepped back


def test_a_wait_longer_than_sqs_allows_is_cut_to_what_it_allows() -> None:
    """A quota at 00:30 UTC waits 23 h 30 min 30 s; the hide asks for the 42 840 s SQS takes, never more."""
    half_past_midnight = NOON - 11.5 * 3600
    error = ProviderQuotaError("quota", status=429, name="daily_quota_exceeded")
    assert backoff_seconds(error, receive_count=1, breaker_wait=0.0, now=half_past_midnight, longest=42_840) == 42_840
    long_retry = ProviderDeferredError("deferred", status=503, retry_after=100_000.0)
    assert backoff_seconds(long_retry, receive_count=1, breaker_wait=0.0, now=NOON, longest=40_000.9) == 40_000


def test_a_failure_that_is_not_the_providers_gets_the_growing_hide() -> None:
    """Parameter Store down, a bug: 30 s doubling per receive, up to 300 s, like an outage."""
    error = ConfigUnavailableError("parameter /c: Parameter Store unreachable")
    assert [backoff_seconds(error, receive_count=n, breaker_wait=0.0, now=NOON) for n in (1, 2, 5, 9)] == [
        30,
        60,
        300,
        300,
    ]
    assert backoff_seconds(RuntimeError("a bug"), receive_count=3, breaker_wait=0.0, now=NOON) == 120


def _consumer(queue: SimulatedQueue, clock: SimClock, source: InMemoryParameterSource) -> OutboxConsumer:
    settings = Settings.from_env(
        environ={},
        config_parameter="/c",
        csrf_secret_parameter="/s",
        outbox_queue_url=queue.url,
        resend_api_url="https://api.resend.example",
    )
    provider = httpx.MockTransport(
        lambda request: httpx.Response(429, json={"statusCode": 429, "name": "daily_quota_exceeded", "message": "q"})
    )
    return build_components(
        settings,
        sink=ListSink(),
        parameters=source,
        http=httpx.Client(transport=provider),
        aws={"sqs": queue},
        clock=clock,
    ).consumer


def _received_event(queue: SimulatedQueue) -> dict[str, Any]:
    [message] = queue.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=1)["Messages"]
    return sqs_event([message])


def _queue_one(queue: SimulatedQueue) -> None:
    submission = ContactSubmission.model_validate(
        {"name": "Ada", "email": "ada@example.org", "message": "Hello there, about the engine.", "consent": True}
    )
    queued = queued_email(submission, now=queue.clock())
    queue.send_message(QueueUrl=queue.url, MessageBody=queued.to_json())


CONFIG = {
    "/c": '{"apiKey": "re_k", "domain": "example.com", "fromEmail": "no-reply@example.com", '
    '"toEmail": "owner@example.com", "version": 1, "rotatedAt": "2026-11-01T10:00:00Z"}',
    "/s": "s" * 48,
}


def test_a_hide_sqs_refuses_falls_back_to_the_growing_hide() -> None:
    """Invoked 20 min after the receive (past the batching slack): SQS refuses 42 840 s, so 30 s is asked instead."""
    clock = SimClock(start=NOON - 11.5 * 3600)  # 00:30 UTC: the quota resets in 23 h 30 min 30 s
    queue = SimulatedQueue(clock, max_receive_count=450)
    consumer = _consumer(queue, clock, InMemoryParameterSource(CONFIG))
    _queue_one(queue)
    event = _received_event(queue)
    clock.advance_to(clock() + 1200)
    result = consumer.handle(event)
    assert len(result["batchItemFailures"]) == 1
    assert queue.hides == [30]
    [message] = queue.pending()
    assert message.visible_at == clock() + 30


def test_parameter_store_down_at_the_consumers_cold_start_hides_the_message_for_the_growing_hide() -> None:
    """Nothing cached and Parameter Store unreachable: the message is hidden 30 s, not left to the queue's 180 s."""
    clock = SimClock(start=NOON)
    queue = SimulatedQueue(clock, max_receive_count=450)
    source = InMemoryParameterSource(CONFIG)
    source.fail = True
    consumer = _consumer(queue, clock, source)
    _queue_one(queue)
    for _ in range(3):
        event = _received_event(queue)
        assert len(consumer.handle(event)["batchItemFailures"]) == 1
        clock.advance_to(queue.next_visible_at() or clock())
    assert queue.hides == [30, 60, 120]
