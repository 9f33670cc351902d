"""The fill-time rule from server evidence (issue 13, item 5), through the real handler, moto and the sandbox.

A submission is spam -- answered like "sent", nothing mailed -- when it arrives less than
``CONTACT_MIN_FILL_SECONDS`` after its CSRF token's signed issue time *or* after its ``formStartedAt``.
The service's clock is a settable one: no test sleeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.entrypoint.conftest import ORIGIN, Stack, api_gateway_event, submission
from tests.entrypoint.test_lambda_handler import body_of, metric_totals

pytestmark = pytest.mark.integration


class Clock:
    """Epoch seconds, moved by hand; starts at a whole second near the real time."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The service's clock."""
    return Clock()


@pytest.fixture
def timed(make_stack: Callable[..., Stack], clock: Clock) -> Stack:
    """A stack with the production rule: 3 seconds."""
    return make_stack(min_fill_seconds=3, clock=clock)


def post(stack: Stack, payload: dict[str, Any], token: str) -> dict[str, Any]:
    """POST /contact with ``token`` as the page sends it."""
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token}
    return stack.call(api_gateway_event("POST", "/contact", body=json.dumps(payload), headers=headers))


def assert_dropped_as_spam(stack: Stack, response: dict[str, Any]) -> None:
    """Looks sent, nothing reached the provider, SpamBlocked counted."""
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["status"] == "sent" and body["nextToken"]
    assert stack.sandbox.emails() == []
    assert metric_totals(stack)["SpamBlocked"] == 1


def test_a_bot_that_omits_form_started_at_and_posts_at_once_is_spam(timed: Stack, clock: Clock) -> None:
    """The issue's attack: no formStartedAt, posted the instant the token was issued. Delivered before."""
    token = timed.token()
    clock.now += 0.5
    assert_dropped_as_spam(timed, post(timed, submission(formStartedAt=...), token))


def test_a_bot_that_backdates_form_started_at_is_spam(timed: Stack, clock: Clock) -> None:
    """The issue's attack: formStartedAt an hour back, posted one second after the token. Delivered before."""
    token = timed.token()
    clock.now += 1
    backdated = int((clock.now - 3600) * 1000)
    assert_dropped_as_spam(timed, post(timed, submission(formStartedAt=backdated), token))


def test_a_person_who_takes_their_time_is_delivered(timed: Stack, clock: Clock) -> None:
    """Token fetched when the form was shown, sent 3 s later (the threshold itself): delivered."""
    shown = clock.now
    token = timed.token()
    clock.now += 3
    response = post(timed, submission(formStartedAt=int(shown * 1000)), token)
    assert response["statusCode"] == 200
    assert len(timed.sandbox.emails()) == 1
    assert metric_totals(timed).get("SpamBlocked", 0) == 0


def test_just_under_the_threshold_after_the_token_is_spam(timed: Stack, clock: Clock) -> None:
    """2.9 s after the token, even with a formStartedAt ten seconds back: spam."""
    token = timed.token()
    clock.now += 2.9
    assert_dropped_as_spam(timed, post(timed, submission(formStartedAt=int((clock.now - 10) * 1000)), token))


def test_form_started_at_still_counts_when_the_token_is_old(timed: Stack, clock: Clock) -> None:
    """A token fetched long ago does not excuse a formStartedAt one second back: either clock may say too fast."""
    token = timed.token()
    clock.now += 60
    assert_dropped_as_spam(timed, post(timed, submission(formStartedAt=int((clock.now - 1) * 1000)), token))


def test_a_form_started_far_in_the_future_is_spam(timed: Stack, clock: Clock) -> None:
    """formStartedAt beyond the allowed clock skew is spam even when the token is old enough."""
    token = timed.token()
    clock.now += 60
    assert_dropped_as_spam(timed, post(timed, submission(formStartedAt=10**13), token))


def test_a_next_token_counts_from_the_start_of_the_token_it_replaces(timed: Stack, clock: Clock) -> None:
    """Contract §6: a nextToken keeps its form's start, so the next message may go at once; a fresh token may not."""
    token = timed.token()
    clock.now += 5
    first = post(timed, submission(formStartedAt=...), token)
    assert first["statusCode"] == 200 and len(timed.sandbox.emails()) == 1
    next_token = str(body_of(first)["nextToken"])
    clock.now += 1  # 6 s after the form was shown, 1 s after the nextToken was issued
    second = post(timed, submission(message="A second message, about the notes.", formStartedAt=...), next_token)
    assert second["statusCode"] == 200
    assert len(timed.sandbox.emails()) == 2
    assert metric_totals(timed).get("SpamBlocked", 0) == 0
    fresh = timed.token()
    clock.now += 1  # a token fetched 1 s ago: the fill-time rule counts from its own issue
    third = post(timed, submission(message="A third message, about the engine.", formStartedAt=...), fresh)
    assert third["statusCode"] == 200
    assert len(timed.sandbox.emails()) == 2
    assert metric_totals(timed)["SpamBlocked"] == 1


def test_a_field_error_hands_back_a_next_token_that_may_resend_at_once(timed: Stack, clock: Clock) -> None:
    """A 400 after the token was spent carries a nextToken with the form's start: the corrected form goes at once."""
    token = timed.token()
    clock.now += 4
    refused = post(timed, submission(email="not an address", formStartedAt=...), token)
    assert refused["statusCode"] == 400
    next_token = str(body_of(refused)["error"]["nextToken"])
    assert post(timed, submission(formStartedAt=...), token)["statusCode"] == 403  # the first token is spent
    corrected = post(timed, submission(formStartedAt=...), next_token)
    assert corrected["statusCode"] == 200
    assert len(timed.sandbox.emails()) == 1


def test_zero_turns_the_timing_rules_off(make_stack: Callable[..., Stack], clock: Clock) -> None:
    """CONTACT_MIN_FILL_SECONDS=0: posted at once, no formStartedAt, or one far ahead: all delivered."""
    stack = make_stack(min_fill_seconds=0, clock=clock)
    assert post(stack, submission(formStartedAt=...), stack.token())["statusCode"] == 200
    future = submission(message="Another message, sent from a clock far ahead.", formStartedAt=10**13)
    assert post(stack, future, stack.token())["statusCode"] == 200
    assert len(stack.sandbox.emails()) == 2
    assert metric_totals(stack).get("SpamBlocked", 0) == 0


def test_the_spam_reason_is_logged_not_shown(timed: Stack, clock: Clock) -> None:
    """The log line names the rule (for the operator); the response does not."""
    response = post(timed, submission(formStartedAt=...), timed.token())
    assert "token" not in json.dumps(body_of(response)).replace("nextToken", "")
    reasons = [line.get("spam_reasons") for line in timed.log_lines() if line.get("outcome") == "spam"]
    assert reasons == [["token_too_recent"]]
