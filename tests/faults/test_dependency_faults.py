"""Faults of the AWS services the handler depends on: Parameter Store, DynamoDB, the SQS outbox.

Each test says what the service does while the dependency is down and checks it ends with every
accepted submission delivered or queued, and no email twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from contact_sdk.record import RecordState
from tests.entrypoint.conftest import CONFIG_PARAMETER, CSRF_PARAMETER, api_gateway_event, submission
from tests.faults.conftest import FaultStack, Tally, account, key_of

pytestmark = pytest.mark.integration


def body(response: dict[str, Any]) -> dict[str, Any]:
    """The response body as JSON."""
    return dict(json.loads(response["body"]))


def assert_error(response: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    """The contract's error shape with this status and code."""
    assert response["statusCode"] == status, response["body"]
    payload = body(response)
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]
    assert payload["requestId"] == response["headers"]["X-Request-Id"]
    return payload


# -- Parameter Store -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["throttled", "unreachable"])
def test_parameter_store_down_with_a_cached_config_keeps_serving(fault_stack: FaultStack, mode: str) -> None:
    """Throttled or unreachable after the TTL: the cached config is served (warned), sending goes on."""
    stack, tally = fault_stack, Tally()
    first = submission(message="The first message, while Parameter Store is fine.")
    tally.record(first, stack.submit(first))
    assert stack.parameters is not None
    stack.parameters.mode = mode
    stack.components.cache.expire_older_than(0)  # the hour is over: the next use refreshes
    stack.sink.clear()
    second = submission(message="The second message, while Parameter Store is down.")
    response = stack.submit(second)
    tally.record(second, response)
    assert response["statusCode"] == 200
    warnings = stack.lines("parameter refresh failed; serving the cached value")
    assert sorted(w["parameter"] for w in warnings) == sorted([CONFIG_PARAMETER, CSRF_PARAMETER])  # once each
    expected = "ThrottlingException" if mode == "throttled" else "unreachable"
    assert all(expected in w["error"] for w in warnings)
    totals = stack.sink.totals()
    assert totals["ParameterAccess"] == 2  # one failed refresh per parameter, then the stale value for a minute
    assert totals["EmailsSent"] == 1
    account(stack, tally.accepted, label=f"Parameter Store {mode}, config cached")


@pytest.mark.parametrize("mode", ["throttled", "unreachable"])
def test_parameter_store_down_at_cold_start_is_503_and_nothing_is_accepted(fault_stack: FaultStack, mode: str) -> None:
    """Nothing cached (a fresh execution environment): no token can be signed; 503 with Retry-After."""
    stack = fault_stack
    assert stack.parameters is not None
    stack.parameters.mode = mode
    response = stack.call(api_gateway_event("GET", "/contact/token", headers={"Origin": "https://www.example.com"}))
    assert_error(response, 503, "service_unavailable")
    assert response["headers"]["Retry-After"] == "30"
    summary = stack.summary()
    assert summary["outcome"] == "service_unavailable"
    assert CSRF_PARAMETER in summary["config_error"]
    assert "token" not in response["body"]
    account(stack, set(), label=f"Parameter Store {mode}, cold start")


def test_resend_config_unreadable_after_the_token_is_queued_then_delivered(fault_stack: FaultStack) -> None:
    """CSRF secret cached, Resend config not: the submission is kept (202), then delivered once PS is back."""
    stack, tally = fault_stack, Tally()
    token = stack.token()
    assert stack.parameters is not None
    stack.parameters.mode = "unreachable"
    payload = submission()
    response = stack.submit(payload, token=token)
    tally.record(payload, response)
    assert response["statusCode"] == 202
    assert stack.summary()["queued_reason"].startswith("config: parameter " + CONFIG_PARAMETER)
    assert stack.sink.totals()["EmailsQueued"] == 1
    stack.parameters.mode = None
    assert stack.drain() == [{"batchItemFailures": []}]
    account(stack, tally.accepted, label="Resend config unreadable, queued")


# -- DynamoDB ------------------------------------------------------------------------------------


def test_dynamodb_down_degrades_to_instance_memory_and_still_limits(build_stack: Callable[..., FaultStack]) -> None:
    """DynamoDB unreachable: limits and single-use tokens hold in this instance (warned); one email per submission.

    Fail-soft, not open: the rate limit still refuses the 4th of 3 allowed, a used token is still
    refused, and a double click is still one email (the provider's idempotency on the same key).
    """
    stack, tally = build_stack(settings={"submit_limit": 3}), Tally()
    assert stack.dynamodb is not None
    stack.dynamodb.down = True
    payload = submission()
    token = stack.token()
    response = stack.submit(payload, token=token)
    tally.record(payload, response)
    assert response["statusCode"] == 200
    messages = {line["message"] for line in stack.log_lines() if line["level"] == "WARNING"}
    assert "rate-limit store unavailable; limiting in this instance only" in messages
    assert "nonce store unavailable; single use enforced in this instance only" in messages
    assert "the submission's record could not be written; it goes ahead without it" in messages

    replay = stack.submit(submission(message="Another message with the token already used."), token=token)
    assert_error(replay, 403, "csrf_invalid")
    assert stack.summary()["csrf_reason"] == "replayed"

    again = stack.submit(payload)  # a double click with a fresh token: the record cannot tell, Resend can
    tally.record(payload, again)
    assert again["statusCode"] == 200
    assert len(stack.sandbox.emails()) == 1
    assert [r["replayed"] for r in stack.sandbox.requests() if r["path"] == "/emails"] == [False, True]

    limited = stack.submit(submission(message="A fourth attempt from the same address."))
    assert_error(limited, 429, "rate_limited")
    assert int(limited["headers"]["Retry-After"]) > 0
    assert stack.sink.totals()["RateLimited"] == 1
    account(stack, tally.accepted, label="DynamoDB down")


def test_dynamodb_back_up_means_shared_state_again(build_stack: Callable[..., FaultStack]) -> None:
    """After the outage the guards use the table again: the records keep what is sent from then on."""
    stack, tally = build_stack(), Tally()
    assert stack.dynamodb is not None
    stack.dynamodb.down = True
    tally.record(first := submission(message="Sent while DynamoDB was down."), stack.submit(first))
    stack.dynamodb.down = False
    tally.record(second := submission(message="Sent after DynamoDB came back."), stack.submit(second))
    records = stack.components.records
    assert records.get(key_of(first)) is None  # not recorded during the outage (logged, counted)
    state = records.get(key_of(second))
    assert state is not None
    assert state.state == RecordState.SENT
    account(stack, tally.accepted, label="DynamoDB back up")


# -- SQS (the outbox) ----------------------------------------------------------------------------


def test_outbox_down_with_the_provider_up_changes_nothing(fault_stack: FaultStack) -> None:
    """The outbox is only needed when the provider fails: with SQS down, submissions are still sent."""
    stack, tally = fault_stack, Tally()
    assert stack.sqs is not None
    stack.sqs.down = True
    payload = submission()
    response = stack.submit(payload)
    tally.record(payload, response)
    assert response["statusCode"] == 200
    assert stack.sqs.calls == []
    account(stack, tally.accepted, label="outbox down, provider up")


def test_provider_and_outbox_down_is_503_nothing_accepted_then_the_retry_sends(fault_stack: FaultStack) -> None:
    """Both down: 503 service_unavailable + Retry-After, logged at ERROR, nothing recorded; the client's retry sends."""
    stack, tally = fault_stack, Tally()
    assert stack.sqs is not None
    stack.sqs.down = True
    stack.sandbox.set_faults(failure_rate=1.0, failure_status=500)
    payload = submission()
    response = stack.submit(payload)
    tally.record(payload, response)
    assert_error(response, 503, "service_unavailable")
    assert response["headers"]["Retry-After"] == "30"
    assert body(response)["error"]["nextToken"]  # the token was spent: the page resends with this one
    totals = stack.sink.totals()
    assert totals["EmailsFailed"] == 1
    assert "EmailsQueued" not in totals
    [kept] = stack.lines("submission NOT accepted: provider and durable store unavailable; full submission follows")
    assert kept["level"] == "ERROR"
    assert json.loads(kept["submission"])["idempotency_key"] == key_of(payload)
    assert stack.lines("the outbox is unavailable too")
    record = stack.components.records.get(key_of(payload))
    assert record is not None and record.state == RecordState.RECEIVED  # received, never claimed as accepted
    account(stack, tally.accepted, label="provider and outbox down (503)")

    # Retry-After later, everything is back: the client's retry is accepted and sent, once.
    stack.sqs.down = False
    stack.sandbox.clear_faults()
    retry = stack.submit(payload)
    tally.record(payload, retry)
    assert retry["statusCode"] == 200
    account(stack, tally.accepted, label="provider and outbox down, client retried")


def test_a_failed_refresh_is_not_retried_on_every_request() -> None:
    """During an outage the stale value is served without asking again for a minute, then asked once more."""
    from contact_sdk.config import ParameterCache
    from contact_sdk.devtools.fakes import InMemoryParameterSource

    now = [0.0]
    source = InMemoryParameterSource({"/p": "v1"})
    cache = ParameterCache(source, ttl_seconds=3600, clock=lambda: now[0], stale_retry_seconds=60)
    assert cache.get("/p") == "v1"
    source.fail = True
    now[0] = 3600.0
    assert [cache.get("/p") for _ in range(5)] == ["v1"] * 5
    assert source.fetches == 2  # the first fetch, one failed refresh
    now[0] = 3661.0
    source.fail = False
    source.values["/p"] = "v2"
    assert cache.get("/p") == "v2"
    assert source.fetches == 3
