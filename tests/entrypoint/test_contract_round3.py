"""The contract's round-3 rules for ``POST /contact`` (§6), read off its text, through the real handler.

"Nobody without a valid token learns the field rules: a reused, forged or foreign-origin token is
``403 csrf_invalid`` whatever the body. Every answer given after the token was consumed carries a
``nextToken`` (the ``400`` above included, in its ``error`` object), and a ``nextToken`` keeps the
fill-time start of the token it replaces, so a visitor who corrects a field can resend at once. A
filled honeypot is judged spam whatever its length or type." And ``NaN``/``Infinity`` are not JSON.

The service's clock is a settable one: no test sleeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.entrypoint.conftest import ORIGIN, Stack, api_gateway_event, submission
from tests.entrypoint.test_lambda_handler import assert_error, body_of

pytestmark = pytest.mark.integration


class Clock:
    """Epoch seconds, moved by hand; starts at a whole second near the real time."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def post(stack: Stack, token: str, *, body: str) -> dict[str, Any]:
    """``POST /contact`` from the allowed origin with ``token`` and this raw body."""
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token}
    return stack.call(api_gateway_event("POST", "/contact", body=body, headers=headers))


#: A body whose fields break several rules at once: the field rules a probe without a token would learn.
BAD_FIELDS = json.dumps({"name": "", "email": "not an address", "message": "short", "consent": False})


def test_a_used_token_with_bad_fields_is_csrf_invalid(stack: Stack) -> None:
    """A token already used, and a body the field rules refuse: ``403 csrf_invalid``, never the fields."""
    token = stack.token()
    assert post(stack, token, body=json.dumps(submission()))["statusCode"] == 200
    body = assert_error(post(stack, token, body=BAD_FIELDS), 403, "csrf_invalid")
    assert "fields" not in body["error"]


def test_a_forged_token_with_bad_fields_is_csrf_invalid(stack: Stack) -> None:
    """A token nobody issued, and a body the field rules refuse: ``403 csrf_invalid``, never the fields."""
    body = assert_error(post(stack, "forged.token.value", body=BAD_FIELDS), 403, "csrf_invalid")
    assert "fields" not in body["error"]


def test_a_field_error_hands_a_next_token_that_keeps_the_fill_time(make_stack: Callable[..., Stack]) -> None:
    """A ``400`` after 5 s of filling carries ``error.nextToken``; the corrected form sent with it at once is mailed."""
    clock = Clock()
    stack = make_stack(min_fill_seconds=3, clock=clock)
    shown = clock.now
    token = stack.token()
    clock.now += 5
    refused = post(stack, token, body=json.dumps(submission(email="ada@example", formStartedAt=int(shown * 1000))))
    error = assert_error(refused, 400, "validation_error")["error"]
    assert set(error["fields"]) == {"email"}
    clock.now += 0.5  # corrected at once: half a second after the 400 handed out the next token
    corrected = post(stack, error["nextToken"], body=json.dumps(submission(formStartedAt=int(shown * 1000))))
    assert corrected["statusCode"] == 200
    assert body_of(corrected)["status"] == "sent"
    assert len(stack.sandbox.emails()) == 1, "mailed, not judged spam: the fill time counts from the form shown"


@pytest.mark.parametrize("honeypot", ["x" * 1001, 12, True, {"url": "http://spam.example"}, ["a"]])
def test_a_filled_honeypot_is_spam_whatever_its_length_or_type(stack: Stack, honeypot: Any) -> None:
    """A honeypot a bot filled (1,001 characters, a number, a boolean, an object, a list): looks sent, mails nothing."""
    response = post(stack, stack.token(), body=json.dumps(submission(website=honeypot)))
    assert response["statusCode"] == 200, response["body"]
    assert body_of(response)["status"] == "sent"
    assert stack.sandbox.emails() == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(stack: Stack, number: str) -> None:
    """``{"name": NaN, ...}`` is what Python's json module reads, but not JSON (RFC 8259): ``400 invalid_json``."""
    raw = json.dumps(submission(name="<number>")).replace('"<number>"', number)
    assert f'"name": {number},' in raw
    assert_error(post(stack, stack.token(), body=raw), 400, "invalid_json")
