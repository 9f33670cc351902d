"""How the outbox consumer hides a message it could not deliver, on a simulated SQS (fast tier).

The consumer is the real one (:func:`~contact_sdk.bootstrap.build_components`); SQS is
:class:`tests.budget.simulated_sqs.SimulatedQueue`, which refuses a hide ending more than 12 h after the
receive with ``InvalidParameterValue`` as SQS does. Every figure is worked out by hand from the documented
schedule (docs/guarantees.md): 30 s, 60 s, 120 s, 240 s, then 300 s; a daily quota waits for 00:00:30 UTC,
at most until SQS's 12 hours less the 6-minute receive slack; a refused hide falls back to the growing one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contact_sdk.bootstrap import Components, build_components
from contact_sdk.compose import idempotency_key
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.metrics import ListSink
from contact_sdk.models import ContactSubmission
from contact_sdk.outbox import QueuedEmail
from contact_sdk.resend import OutgoingEmail
from contact_sdk.settings import Settings
from tests.budget.simulated_sqs import SimClock, SimContext, SimulatedQueue, sqs_event
from tests.test_outbox_consumer import CONFIG

NOON = dt.datetime(2027, 3, 1, 12, 0, 0, tzinfo=dt.UTC).timestamp()
EMAIL = OutgoingEmail(
    sender="Contact Form <no-reply@example.com>",
    to=("owner@example.com",),
    subject="Contact Form: Message from Ada",
    text="Hello there, about the engine.",
    reply_to=("ada@example.org",),
)
SUBMISSION = ContactSubmission.model_validate(
    {"name": "Ada", "email": "ada@example.org", "message": "Hello there, about the engine.", "consent": True}
)


class BrokenSqs(SimulatedQueue):
    """The simulated queue, except that ``ChangeMessageVisibility`` fails the way ``failure`` says."""

    failure: BaseException | None = None

    def change_message_visibility(self, **kwargs: Any) -> None:
        if self.failure is not None:
            raise self.failure
        super().change_message_visibility(**kwargs)


def provider_answering(status: int, name: str) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"statusCode": status, "name": name, "message": name})

    return answer


def consumer_for(queue: SimulatedQueue, clock: SimClock, provider: Callable[[httpx.Request], httpx.Response]) -> Any:
    settings = Settings.from_env(
        environ={},
        config_parameter="/c",
        csrf_secret_parameter="/s",
        allowed_origins=("https://a.example",),
        outbox_queue_url=queue.url,
        resend_api_url="https://api.resend.example",
    )
    components: Components = build_components(
        settings,
        sink=ListSink(),
        parameters=InMemoryParameterSource({"/c": CONFIG, "/s": "s" * 48}),
        http=httpx.Client(transport=httpx.MockTransport(provider), base_url="https://api.resend.example"),
        aws={"sqs": queue},
        clock=clock,
    )
    return components.consumer


def queue_one(queue: SimulatedQueue) -> None:
    item = QueuedEmail(
        email=EMAIL,
        idempotency_key=idempotency_key(SUBMISSION),
        request_id="r-1",
        queued_at=NOON,
        reason="ProviderServerError",
        config_version="1",
    )
    queue.send_message(QueueUrl=queue.url, MessageBody=item.to_json())


def receive_and_fail(queue: SimulatedQueue, consumer: Any, clock: SimClock, *, late_by: float = 0.0) -> None:
    """Receive the message, let ``late_by`` seconds pass before the invocation, and have it fail."""
    [message] = queue.receive_message(QueueUrl=queue.url)["Messages"]
    clock.advance_to(clock() + late_by)
    result = consumer.handle(sqs_event([message]), SimContext(clock))
    assert result["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    # SQS offers it again once the hide is over.
    clock.advance_to(queue.next_visible_at() or clock())


def consumer_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The error of each "will retry" line: the failure the hide answers."""
    return [r.__dict__["error"] for r in caplog.records if r.getMessage() == "outbox delivery failed; will retry"]


def test_a_failing_provider_hides_the_message_30_60_120_240_then_300_seconds(caplog: pytest.LogCaptureFixture) -> None:
    """Each receive of a message the provider keeps refusing (500) hides it twice as long, up to 5 minutes."""
    clock = SimClock(start=NOON)
    queue = SimulatedQueue(clock=clock)
    consumer = consumer_for(queue, clock, provider_answering(500, "internal_server_error"))
    queue_one(queue)
    for _ in range(6):
        receive_and_fail(queue, consumer, clock)
    assert queue.hides == [30, 60, 120, 240, 300, 300]
    # The first delivery's four attempts and the second's first open the breaker (5 in a row): from then on each
    # receive fails on it, and the growing hide, longer than the breaker's wait, still sets the pace.
    assert consumer_failures(caplog) == ["ProviderServerError"] + ["CircuitOpenError"] * 5


def test_an_exhausted_daily_quota_hides_the_message_until_after_midnight_utc() -> None:
    """At 23:00 UTC a daily quota waits 3,630 s (to 00:00:30 UTC); at noon, SQS's 12 h less the 6-minute slack."""
    clock = SimClock(start=dt.datetime(2027, 3, 1, 23, 0, 0, tzinfo=dt.UTC).timestamp())
    queue = SimulatedQueue(clock=clock)
    consumer = consumer_for(queue, clock, provider_answering(429, "daily_quota_exceeded"))
    queue_one(queue)
    receive_and_fail(queue, consumer, clock)
    assert queue.hides == [3630]

    clock = SimClock(start=NOON)
    queue = SimulatedQueue(clock=clock)
    consumer = consumer_for(queue, clock, provider_answering(429, "daily_quota_exceeded"))
    queue_one(queue)
    receive_and_fail(queue, consumer, clock)
    assert queue.hides == [43_200 - 360]


def test_a_hide_sqs_refuses_falls_back_to_the_growing_hide(caplog: pytest.LogCaptureFixture) -> None:
    """Received 10 minutes before the invocation, at 12:00 UTC: the wait for 00:00:30 (42,630 s from 12:10) fits the
    consumer's reckoning (42,840 s left of the 12 h) but not SQS's, counted from the receive; 30 s is asked next."""
    clock = SimClock(start=NOON)
    queue = SimulatedQueue(clock=clock)
    consumer = consumer_for(queue, clock, provider_answering(429, "daily_quota_exceeded"))
    queue_one(queue)
    with caplog.at_level(logging.WARNING, logger="contact_sdk.outbox_consumer"):
        receive_and_fail(queue, consumer, clock, late_by=600)
    assert queue.hides == [30]
    [refused] = [
        r for r in caplog.records if r.getMessage() == "SQS refused the hide; hiding for the growing hide instead"
    ]
    assert (refused.__dict__["refused_s"], refused.__dict__["hide_s"]) == (42_630, 30)
    assert "beyond the limit" in refused.__dict__["error"]


@pytest.mark.parametrize(
    ("failure", "name"),
    [
        (None, "a refusal of a hide no longer than the growing one"),
        ("AccessDenied", "another refusal"),
        ("bare", "a refusal whose answer names no error (a proxy's page)"),
        ("endpoint", "SQS unreachable"),
    ],
)
def test_a_hide_that_cannot_be_set_is_logged_and_the_message_comes_back_at_the_queue_default(
    failure: str | None, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing is retried that cannot help: the warning names the error, and SQS's own timeout (180 s) applies."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    clock = SimClock(start=NOON)
    queue = BrokenSqs(clock=clock)
    if failure is None:  # InvalidParameterValue for a 30 s hide: the fallback would ask the same
        queue.failure = ClientError(
            {"Error": {"Code": "InvalidParameterValue", "Message": "no"}}, "ChangeMessageVisibility"
        )
        expected = "ClientError"
    elif failure == "AccessDenied":
        queue.failure = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ChangeMessageVisibility")
        expected = "ClientError"
    elif failure == "bare":
        queue.failure = ClientError({}, "ChangeMessageVisibility")
        expected = "ClientError"
    else:
        queue.failure = EndpointConnectionError(endpoint_url="https://sqs.eu-west-1.amazonaws.com")
        expected = "EndpointConnectionError"
    consumer = consumer_for(queue, clock, provider_answering(500, "internal_server_error"))
    queue_one(queue)
    with caplog.at_level(logging.WARNING, logger="contact_sdk.outbox_consumer"):
        receive_and_fail(queue, consumer, clock)
    assert queue.hides == [], name
    [warning] = [r for r in caplog.records if r.getMessage() == "could not postpone the outbox message"]
    assert warning.__dict__["error"] == expected
    assert not [r for r in caplog.records if r.getMessage().startswith("SQS refused the hide")]  # no second ask
    assert queue.next_visible_at() == NOON + 180


def test_an_unreadable_receive_count_counts_as_the_first_receive() -> None:
    """``ApproximateReceiveCount`` that is not a number: hidden for the first receive's 30 s, not the fourth's 240 s.

    The fourth receive goes to a fresh instance (its breaker closed), so the hide is the growing one alone.
    """
    clock = SimClock(start=NOON)
    queue = SimulatedQueue(clock=clock)
    failing = provider_answering(500, "internal_server_error")
    consumer = consumer_for(queue, clock, failing)
    queue_one(queue)
    for _ in range(3):
        receive_and_fail(queue, consumer, clock)
    real_receive = queue.receive_message

    def garbled(**kwargs: Any) -> dict[str, Any]:
        answer = real_receive(**kwargs)
        for message in answer["Messages"]:
            message["Attributes"]["ApproximateReceiveCount"] = "many"
        return answer

    queue.receive_message = garbled  # type: ignore[method-assign]
    receive_and_fail(queue, consumer_for(queue, clock, failing), clock)
    assert queue.hides == [30, 60, 120, 30]


class RefusingThenDown(SimulatedQueue):
    """Refuses the first hide as too long (as SQS does past its 12 hours), then cannot be reached at all."""

    def change_message_visibility(self, **kwargs: Any) -> None:
        from botocore.exceptions import EndpointConnectionError

        if not getattr(self, "refused", False):
            self.refused = True
            super().change_message_visibility(**kwargs)  # received 10 minutes early: refused, see above
        raise EndpointConnectionError(endpoint_url="https://sqs.eu-west-1.amazonaws.com")


def test_a_fallback_hide_that_fails_too_is_logged_once_by_the_second_error(caplog: pytest.LogCaptureFixture) -> None:
    """SQS refuses the 42,630 s wait, then cannot be reached for the 30 s one: one warning for each, nothing hidden."""
    clock = SimClock(start=NOON)
    queue = RefusingThenDown(clock=clock)
    consumer = consumer_for(queue, clock, provider_answering(429, "daily_quota_exceeded"))
    queue_one(queue)
    with caplog.at_level(logging.WARNING, logger="contact_sdk.outbox_consumer"):
        receive_and_fail(queue, consumer, clock, late_by=600)
    assert queue.hides == []
    messages = [r.getMessage() for r in caplog.records if r.name == "contact_sdk.outbox_consumer"]
    assert messages == [
        "SQS refused the hide; hiding for the growing hide instead",
        "could not postpone the outbox message",
    ]
    [warning] = [r for r in caplog.records if r.getMessage() == "could not postpone the outbox message"]
    assert warning.levelno == logging.WARNING
    assert warning.__dict__["error"] == "EndpointConnectionError"
    assert queue.next_visible_at() == NOON + 180  # SQS's own timeout (180 s), from the receive at noon
