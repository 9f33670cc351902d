"""A 30-second provider outage with traffic through it, the breaker's full cycle, and an exhausted quota.

Time is a :class:`FakeClock` shared by the sandbox (its outage window) and the breaker, so the
30 s outage and the 60 s open breaker pass without waiting.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from tests.conftest import aws_client
from tests.entrypoint.conftest import API_KEY, CONFIG_PARAMETER, resend_config, submission
from tests.faults.conftest import FakeClock, FaultStack, Tally, account, breaker_on, sqs_event

pytestmark = pytest.mark.integration


@pytest.fixture
def clock() -> FakeClock:
    """Fake time starting now (the sandbox stamps emails with it)."""
    return FakeClock(start=time.time())


@pytest.fixture
def clocked_sandbox(clock: FakeClock) -> Iterator[ResendSandbox]:
    """A sandbox of its own whose outage window follows the fake clock."""
    # The fake clock does not advance by itself, so Resend's default rate limit would never reset.
    with ResendSandbox(api_key=API_KEY, clock=clock, rate_limit_per_second=None) as sandbox:
        yield sandbox


def message(number: int) -> str:
    """A distinct, legitimate message."""
    return f"Hello, this is message number {number}; could we talk about your engine next week?"


def test_a_30s_outage_queues_traffic_cycles_the_breaker_and_drains(
    build_stack: Callable[..., FaultStack], clocked_sandbox: ResendSandbox, clock: FakeClock
) -> None:
    """Outage: 202 queued throughout, breaker open → half-open → closed once it is over, the outbox drained.

    While the breaker is open no request reaches the provider; after ``reset_timeout`` one trial at a
    time goes through, three successes close it; the consumer then delivers every queued submission once.
    """
    transitions: list[tuple[str | None, str]] = []
    breaker = breaker_on(clock, transitions)
    stack = build_stack(sandbox=clocked_sandbox, breaker=breaker, settings={"submit_limit": 100})
    tally = Tally()

    def submit(number: int) -> dict[str, Any]:
        payload = submission(message=message(number))
        response = stack.submit(payload)
        tally.record(payload, response)
        return response

    assert submit(0)["statusCode"] == 200  # before the outage
    clocked_sandbox.outage(30)
    outage_answers = []
    for number in range(1, 7):  # traffic every 5 s during the outage
        outage_answers.append(submit(number))
        clock.advance(5)
    assert [r["statusCode"] for r in outage_answers] == [202] * 6
    assert transitions == [("closed", "open")]
    assert breaker.state == "open"
    # 3 attempts for the first (after 1 + 2 s of waits the next 4 s wait would overrun the 4 s response
    # budget), 2 for the second (its second is the fifth consecutive failure and opens the breaker); then none.
    outage_hits = [r for r in clocked_sandbox.requests() if r.get("fault") == "outage"]
    assert len(outage_hits) == 5
    reasons = [line["queued_reason"] for line in stack.lines("request handled") if line["outcome"] == "queued"]
    assert reasons == ["ProviderDeferredError", *["CircuitOpenError"] * 5]  # the 2nd opened it mid-retry
    # Each went to SQS delayed to the breaker's trial (60 s after it opened at t = 5, while the second was
    # queued): none is offered to the consumer before then. The first named no wait (503s without Retry-After).
    assert stack.sqs is not None
    assert stack.sqs.delays == [0, 60, 55, 50, 45, 40]
    assert stack.lines("circuit breaker resend: closed -> open")

    clock.advance(5)  # t = 35: the provider is back, but the breaker is still open
    requests_before = len(clocked_sandbox.requests())
    assert submit(7)["statusCode"] == 202
    assert len(clocked_sandbox.requests()) == requests_before  # the breaker spared the provider
    assert stack.sqs.delays[-1] == 30  # t = 35: due at t = 65, the trial, like every other

    clock.advance(30)  # t = 65: past the 60 s reset timeout
    assert [submit(number)["statusCode"] for number in (8, 9, 10)] == [200, 200, 200]
    assert transitions == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    assert breaker.state == "closed"
    # The operator sees each change in the log.
    changes = [line for line in stack.log_lines() if str(line.get("message", "")).startswith("circuit breaker ")]
    assert [(line["message"], line["level"]) for line in changes] == [
        ("circuit breaker resend: closed -> open", "WARNING"),
        ("circuit breaker resend: open -> half-open", "WARNING"),
        ("circuit breaker resend: half-open -> closed", "WARNING"),
    ]

    totals = stack.sink.totals()
    assert totals["CircuitOpened"] == 1
    assert totals["EmailsQueued"] == 7
    assert totals["EmailsSent"] == 4
    assert len(stack.queued_messages()) == 7

    responses = stack.drain()
    assert all(r == {"batchItemFailures": []} for r in responses)
    assert len(stack.lines("outbox message delivered")) == 7
    assert stack.sink.totals()["EmailsSent"] == 11
    counts = account(stack, tally.accepted, label="30 s outage + breaker cycle + drain")
    assert (counts.accepted, counts.delivered, counts.queued) == (11, 11, 0)


#: Any day: the consumer's clock is injected, so the test passes at every hour it runs.
QUOTA_DAY = dt.date(2027, 3, 1)


@pytest.mark.parametrize(
    ("time_of_day", "delay", "hides"),
    [
        # The reset is 00:00:30 UTC. The API sends the message with that wait as its delay, up to SQS's 900 s;
        # the consumer hides it for the rest. SQS keeps a message hidden at most 12 h (43 200 s) from the
        # receive that delivered it; the consumer allows 360 s for the event source's batching, so one hide is
        # at most 42 840 s and a longer wait is finished by the next receive's hide.
        pytest.param(dt.time(0, 30), 900, [42_840, 40_890], id="00:30 (23 h 30 min 30 s to wait)"),
        pytest.param(dt.time(11, 59), 900, [42_390], id="11:59 (12 h 1 min 30 s)"),
        pytest.param(dt.time(12, 1), 900, [42_270], id="12:01 (11 h 59 min 30 s)"),
        pytest.param(dt.time(23, 59), 90, [], id="23:59 (90 s: the delay alone)"),
    ],
)
def test_an_exhausted_quota_queues_and_the_consumer_waits_for_the_reset(
    build_stack: Callable[..., FaultStack], time_of_day: dt.time, delay: int, hides: list[int]
) -> None:
    """429 daily_quota_exceeded: not retried, 202 queued; nothing tries again before the reset.

    The sandbox sends ``Retry-After: 1`` with the 429 (the per-second rate window); a daily quota does
    not come back in a second, so the message is delayed in SQS towards the reset (15 minutes at most) and
    the consumer hides it for what is left, not retrying every second until SQS gives up and dead-letters
    the message. Every hide is one SQS (moto) accepts.
    """
    clock = FakeClock(start=dt.datetime.combine(QUOTA_DAY, time_of_day, tzinfo=dt.UTC).timestamp())
    stack, tally = build_stack(clock=clock), Tally()
    stack.sandbox.set_faults(failure_rate=1.0, failure_status=429, failure_name="daily_quota_exceeded")
    payload = submission()
    response = stack.submit(payload)
    tally.record(payload, response)
    assert response["statusCode"] == 202
    totals = stack.sink.totals()
    assert (totals["EmailsFailed"], totals["EmailsQueued"]) == (1, 1)
    assert "ProviderRetries" not in totals  # a quota is permanent for now: no pointless retries
    assert stack.summary()["queued_reason"] == "ProviderQuotaError"

    assert stack.sqs is not None
    assert stack.sqs.delays == [delay]
    clock.advance(delay)  # SQS offers the message once its delay is over
    asked: list[int] = []
    for _ in hides:
        event = sqs_event(stack.aws, stack.queue_url)
        result = stack.drain_once(event)
        assert result["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
        [postpone] = [call for name, call in stack.sqs.calls if name == "change_message_visibility"][len(asked) :]
        asked.append(postpone["VisibilityTimeout"])
        clock.advance(postpone["VisibilityTimeout"])  # the hide ends: the message is visible again
        stack.make_visible(event)
    assert asked == hides
    reset = dt.datetime.combine(QUOTA_DAY + dt.timedelta(days=1), dt.time(0, 0, 30), tzinfo=dt.UTC).timestamp()
    assert clock() == reset
    assert not stack.lines("could not postpone the outbox message")  # SQS took every hide
    warnings = stack.lines("outbox delivery failed; will retry")
    assert [w["error"] for w in warnings] == ["ProviderQuotaError"] * len(hides)
    assert stack.sandbox.emails() == []

    # The reset comes: the quota is back and the message visible again; the drain sends it once.
    stack.sandbox.clear_faults()
    assert stack.drain() == [{"batchItemFailures": []}]
    account(stack, tally.accepted, label=f"quota exhausted at {time_of_day:%H:%M}, delivered after the reset")


def test_the_consumer_waits_out_an_open_breaker(
    build_stack: Callable[..., FaultStack], clock: FakeClock, clocked_sandbox: ResendSandbox
) -> None:
    """A replay while the breaker is open does not touch the provider and is hidden until the trial time."""
    transitions: list[tuple[str | None, str]] = []
    breaker = breaker_on(clock, transitions)
    stack = build_stack(sandbox=clocked_sandbox, breaker=breaker)
    tally = Tally()
    clocked_sandbox.outage(30)
    payload = submission()
    response = stack.submit(payload)
    tally.record(payload, response)
    assert response["statusCode"] == 202
    # The request made three attempts inside its 4 s budget; two more failures make five: open.
    breaker.record(breaker.admit(), _server_error())
    breaker.record(breaker.admit(), _server_error())
    assert breaker.state == "open"
    clock.advance(20)
    requests_before = len(clocked_sandbox.requests())
    event = sqs_event(stack.aws, stack.queue_url)
    result = stack.drain_once(event)
    assert len(result["batchItemFailures"]) == 1
    assert len(clocked_sandbox.requests()) == requests_before
    assert stack.sqs is not None
    [(_, postpone)] = [call for call in stack.sqs.calls if call[0] == "change_message_visibility"]
    assert postpone["VisibilityTimeout"] == 40  # 60 s reset timeout, 20 s already passed
    clock.advance(41)
    stack.make_visible(event)
    assert stack.drain() == [{"batchItemFailures": []}]
    assert transitions[-1] == ("open", "half-open")
    account(stack, tally.accepted, label="consumer waits out an open breaker")


def _server_error() -> Exception:
    from contact_sdk.errors import ProviderServerError

    return ProviderServerError("503 from the provider", status=503)


def test_the_outbox_message_never_carries_more_than_the_email_needs(fault_stack: FaultStack) -> None:
    """What waits in the queue: the email as composed, the first attempt's key, the request id — no consent, no IP."""
    stack = fault_stack
    stack.sandbox.script(["503"] * 4)
    assert stack.submit(submission(), source_ip="198.51.100.77")["statusCode"] == 202
    [record] = sqs_event(stack.aws, stack.queue_url)["Records"]
    body = json.loads(record["body"])
    assert set(body) == {
        "version",
        "email",
        "submission",
        "subject_prefix",
        "idempotency_key",
        "request_id",
        "queued_at",
        "reason",
        "cycle",
        "config_version",
    }
    assert set(body["email"]) == {"from", "to", "subject", "html", "text", "reply_to", "tags"}
    assert body["submission"] is None
    assert "198.51.100.77" not in record["body"] and "consent" not in record["body"]


def test_a_replay_after_a_config_change_sends_the_original_email(fault_stack: FaultStack) -> None:
    """Queued under one sender; the operator changes fromEmail; the consumer still sends the queued request, byte
    for byte, under the same key (another payload under that key is what Resend refuses with 409)."""
    stack, tally = fault_stack, Tally()
    stack.sandbox.script(["503"] * 4)
    payload = submission()
    response = stack.submit(payload)
    tally.record(payload, response)
    assert response["statusCode"] == 202
    [queued] = stack.queued_messages()
    changed = json.loads(resend_config())
    changed["fromEmail"] = "new-sender@example.com"
    aws_client(stack.aws, "ssm").put_parameter(
        Name=CONFIG_PARAMETER, Value=json.dumps(changed), Type="SecureString", Overwrite=True
    )
    stack.components.cache.expire_older_than(0)
    assert stack.drain() == [{"batchItemFailures": []}]
    [email] = stack.sandbox.emails()
    assert email["body"] == json.loads(queued.to_json())["email"]  # type: ignore[index]
    assert dict(email["headers"])["idempotency-key"] == queued.idempotency_key  # type: ignore[call-overload]
    assert email["body"]["from"] == "Contact Form <no-reply@example.com>"  # type: ignore[index]
    account(stack, tally.accepted, label="replay after a config change")


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(None, 5 * 3600 + 30), (1.0, 5 * 3600 + 30), (8 * 3600.0, 8 * 3600)],
)
def test_a_quota_backoff_never_ends_before_the_reset(retry_after: float | None, expected: int) -> None:
    """A short Retry-After on a quota 429 (the rate window's) does not shorten the wait for the daily reset."""
    from contact_sdk.errors import ProviderQuotaError
    from contact_sdk.outbox_consumer import backoff_seconds

    now = 1_795_806_000.0  # 2026-11-27 19:00:00 UTC
    error = ProviderQuotaError("quota", status=429, name="daily_quota_exceeded", retry_after=retry_after)
    assert backoff_seconds(error, receive_count=1, breaker_wait=0.0, now=now) == expected
