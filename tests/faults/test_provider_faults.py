"""Provider faults, one request at a time: the answer, the metrics, the log line and the state of the world.

Each test ends with :func:`account`: every accepted submission is delivered or queued, no email twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from contact_sdk.resend import Timeouts
from tests.entrypoint.conftest import submission
from tests.faults.conftest import FaultStack, Tally, account, closed_port

pytestmark = pytest.mark.integration


def email_requests(stack: FaultStack) -> list[dict[str, Any]]:
    """The sandbox's log of ``POST /emails`` requests."""
    return [r for r in stack.sandbox.requests() if r["path"] == "/emails"]


def submit(stack: FaultStack, tally: Tally, **changes: Any) -> dict[str, Any]:
    """Submit a (distinct) valid form and count the answer."""
    payload = submission(**changes)
    response = stack.submit(payload)
    tally.record(payload, response)
    return response


def test_provider_500s_then_success_sends_once(fault_stack: FaultStack) -> None:
    """Two 500s are retried after 1 s and 2 s with the same key; the third attempt sends; one email."""
    stack, tally = fault_stack, Tally()
    stack.sandbox.script(["500", "500", "200"])
    response = submit(stack, tally)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "sent"
    totals = stack.sink.totals()
    assert totals["ProviderRetries"] == 2
    assert totals["EmailsSent"] == 1
    assert "EmailsFailed" not in totals
    assert "EmailsQueued" not in totals
    assert stack.sleeps == [1.0, 2.0]
    retries = stack.lines("provider call failed, retrying")
    assert [(r["status"], r["error"]) for r in retries] == [(500, "ProviderServerError")] * 2
    assert stack.summary()["outcome"] == "sent"
    assert len({r["idempotency_key"] for r in email_requests(stack)}) == 1
    account(stack, tally.accepted, label="provider 500s then success")


def test_429_with_retry_after_waits_what_the_provider_asked(fault_stack: FaultStack) -> None:
    """A 429 rate_limit_exceeded with ``Retry-After: 2`` (inside the 4 s budget) is retried after exactly 2 s."""
    stack, tally = fault_stack, Tally()
    stack.sandbox.script(["429;retry-after=2", "200"])
    response = submit(stack, tally)
    assert response["statusCode"] == 200
    assert stack.sleeps == [2.0]
    assert stack.sink.totals()["ProviderRetries"] == 1
    [retry] = stack.lines("provider call failed, retrying")
    assert (retry["status"], retry["provider_error"], retry["wait_seconds"]) == (429, "rate_limit_exceeded", 2.0)
    account(stack, tally.accepted, label="429 with Retry-After")


@pytest.mark.parametrize(
    ("retry_after", "budget_exhausted", "queued_reason"),
    [(7, 1, "ProviderDeferredError"), (60, 0, "ProviderRateLimitedError")],
)
def test_429_with_a_retry_after_past_the_budget_is_queued_at_once(
    fault_stack: FaultStack, retry_after: int, budget_exhausted: int, queued_reason: str
) -> None:
    """A 429's ``Retry-After`` that does not fit the 4 s budget: nothing is slept, one request, queued at once.

    ``7`` is a wait the client would sleep with more time: the budget ran out (``BudgetExhausted``, the dashboard's
    "queued: response budget ran out"). ``60`` is longer than any wait the client sleeps (16 s), whatever the
    budget: the provider's refusal, counted as ``EmailsFailed`` and not as ``BudgetExhausted``. Either way the
    message goes to SQS with the provider's wait as its delay, so the consumer's first try does not come sooner.
    """
    stack, tally = fault_stack, Tally()
    stack.sandbox.script([f"429;retry-after={retry_after}", "200"])
    response = submit(stack, tally)
    assert response["statusCode"] == 202
    assert stack.sleeps == []
    assert len(email_requests(stack)) == 1
    totals = stack.sink.totals()
    counted = (totals["EmailsFailed"], totals["EmailsQueued"], totals.get("BudgetExhausted", 0))
    assert counted == (1, 1, budget_exhausted)
    assert "ProviderRetries" not in totals
    assert stack.summary()["queued_reason"] == queued_reason
    assert stack.sqs is not None and stack.sqs.delays == [retry_after]
    assert stack.summary()["first_try_in_s"] == retry_after
    assert stack.drain() == [{"batchItemFailures": []}]
    account(stack, tally.accepted, label=f"429 with Retry-After {retry_after} past the budget, then the outbox")


@pytest.mark.parametrize("step", ["timeout-accept;seconds=1.5", "timeout;seconds=1.5"])
def test_a_read_timeout_is_retried_with_the_same_key_and_sends_once(
    build_stack: Callable[..., FaultStack], step: str
) -> None:
    """The first attempt times out — even when the provider had accepted it — and the retry ends in one email.

    ``timeout-accept``: the sandbox stores the email, then hangs past the client's read timeout; the
    retry carries the same ``Idempotency-Key`` and gets the same email id back.
    """
    stack, tally = build_stack(timeouts=Timeouts(connect=1.0, read=0.4, write=1.0, pool=1.0)), Tally()
    stack.sandbox.script([step, "200"])
    response = submit(stack, tally)
    assert response["statusCode"] == 200
    [retry] = stack.lines("provider call failed, retrying")
    assert retry["error"] == "ProviderTimeoutError"
    totals = stack.sink.totals()
    assert (totals["ProviderRetries"], totals["EmailsSent"]) == (1, 1)
    requests = email_requests(stack)
    assert len(requests) == 2
    assert len({r["idempotency_key"] for r in requests}) == 1
    [email] = stack.sandbox.emails()
    assert stack.summary()["email_id"] == email["id"]
    if step.startswith("timeout-accept"):
        assert requests[1]["replayed"] is True
    account(stack, tally.accepted, label=f"read timeout ({step.split(';', maxsplit=1)[0]})")


def test_connection_refused_is_queued_then_delivered_by_the_consumer(build_stack: Callable[..., FaultStack]) -> None:
    """RESEND_API_URL on a closed port: 3 refused attempts in the budget, 202 queued; fixed, the outbox delivers it."""
    stack, tally = build_stack(settings={"resend_api_url": f"http://127.0.0.1:{closed_port()}"}), Tally()
    response = submit(stack, tally)
    assert response["statusCode"] == 202
    assert json.loads(response["body"])["status"] == "queued"
    totals = stack.sink.totals()
    # attempts at 0, 1 and 3 s; the 4 s wait after the third would end past the 4 s budget.
    assert (totals["ProviderRetries"], totals["EmailsFailed"], totals["EmailsQueued"]) == (2, 1, 1)
    assert {r["error"] for r in stack.lines("provider call failed, retrying")} == {"ProviderConnectionError"}
    summary = stack.summary()
    assert (summary["outcome"], summary["queued_reason"]) == ("queued", "ProviderDeferredError")
    [queued] = stack.queued_messages()
    assert queued.reason == "ProviderDeferredError"
    assert stack.sandbox.emails() == []
    # The configuration is fixed (a new execution environment); the outbox drains into one email.
    fixed = build_stack()
    assert fixed.drain()[0] == {"batchItemFailures": []}
    [email] = fixed.sandbox.emails()
    assert dict(email["headers"])["idempotency-key"] == queued.idempotency_key  # type: ignore[call-overload]
    account(fixed, tally.accepted, label="connection refused")


def test_a_non_json_502_is_a_retried_server_error(fault_stack: FaultStack) -> None:
    """An HTML 502 from a proxy is translated to ProviderServerError and retried; one email."""
    stack, tally = fault_stack, Tally()
    stack.sandbox.script(["502-html", "200"])
    response = submit(stack, tally)
    assert response["statusCode"] == 200
    [retry] = stack.lines("provider call failed, retrying")
    assert (retry["status"], retry["error"], retry.get("provider_error")) == (502, "ProviderServerError", None)
    assert stack.sink.totals()["ProviderRetries"] == 1
    account(stack, tally.accepted, label="non-JSON 502")


def test_retries_exhausted_queue_and_the_consumer_delivers_once(fault_stack: FaultStack) -> None:
    """Four 503s: 202 queued; a double click answers queued again (no second message); the drain sends one."""
    stack, tally = fault_stack, Tally()
    stack.sandbox.script(["503"] * 4)
    assert submit(stack, tally)["statusCode"] == 202
    assert submit(stack, tally)["statusCode"] == 202  # the same submission again: answered from the ledger
    assert len(stack.queued_messages()) == 1
    assert stack.lines("request handled")[-1]["outcome"] == "duplicate_queued"
    responses = stack.drain()
    assert responses == [{"batchItemFailures": []}]
    assert stack.lines("outbox message delivered")
    account(stack, tally.accepted, label="retries exhausted, then drained")
