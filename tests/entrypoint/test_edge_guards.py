"""Issue 13's attacks on the edges, through the real handler with moto's DynamoDB and the Resend sandbox:
loose origin spellings, IPv6 rotation, IPv4-mapped addresses and the window boundary.

Each test here failed before the fix (checked by reverting ``origin.py`` / ``ratelimit.py``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from tests.entrypoint.conftest import ORIGIN, Stack, api_gateway_event, submission
from tests.entrypoint.test_lambda_handler import assert_error

pytestmark = pytest.mark.integration


class Clock:
    """Epoch seconds, moved by hand; starts at the beginning of a 900 s window near the real time."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) // 900 * 900)

    def __call__(self) -> float:
        return self.now


def token_response(stack: Stack, origin: str, source_ip: str = "203.0.113.10") -> dict[str, object]:
    """``GET /contact/token`` with this ``Origin``."""
    return stack.call(api_gateway_event("GET", "/contact/token", headers={"Origin": origin}, source_ip=source_ip))


@pytest.mark.parametrize(
    "suffix",
    ["?", "#", "/", "/#", "?x=1", ":443", ":0443"],
)
def test_odd_origin_spellings_get_no_token_and_no_cors(stack: Stack, suffix: str) -> None:
    """The fuzz's finds: `…?`, `…#`, `…/` and a port with a leading zero all got tokens before.

    (``:443`` is the default port of the https ORIGIN: a browser drops it, so it is the same origin.)
    """
    response = token_response(stack, ORIGIN + suffix)
    if suffix == ":443":
        assert response["statusCode"] == 200
        assert response["headers"]["Access-Control-Allow-Origin"] == ORIGIN  # type: ignore[index]
        return
    assert_error(response, 403, "origin_not_allowed")  # type: ignore[arg-type]
    assert "Access-Control-Allow-Origin" not in response["headers"]  # type: ignore[operator]


@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_an_upper_case_origin_is_answered_with_the_canonical_one(stack: Stack, method: str) -> None:
    """`HTTPS://WWW.EXAMPLE.COM` is the same origin, but the odd spelling is never echoed back."""
    event = api_gateway_event(method, "/contact/token", headers={"Origin": ORIGIN.upper()})
    response = stack.call(event)
    assert response["statusCode"] in (200, 204)
    assert response["headers"]["Access-Control-Allow-Origin"] == ORIGIN


def test_a_post_from_an_odd_spelling_is_refused(stack: Stack) -> None:
    """A token fetched properly does not help a POST whose Origin carries a trailing slash."""
    token = stack.token()
    headers = {"Origin": ORIGIN + "/", "Content-Type": "application/json", "X-CSRF-Token": token}
    response = stack.call(api_gateway_event("POST", "/contact", body=json.dumps(submission()), headers=headers))
    assert_error(response, 403, "origin_not_allowed")
    assert stack.sandbox.emails() == []


def test_ipv6_rotation_within_a_64_is_rate_limited(stack: Stack) -> None:
    """Ten submissions from 2001:db8::1 … ::a against a limit of 5: before, all ten were accepted."""
    statuses = [
        stack.submit(submission(message=f"Message number {i} from one IPv6 /64."), source_ip=f"2001:db8::{i:x}")[
            "statusCode"
        ]
        for i in range(1, 11)
    ]
    assert statuses == [200] * 5 + [429] * 5
    assert len(stack.sandbox.emails()) == 5


def test_ipv4_mapped_ipv6_is_the_ipv4_client(stack: Stack) -> None:
    """Alternating 198.51.100.7 and ::ffff:198.51.100.7 is one client for the token limit too."""
    spellings = ["198.51.100.7", "::ffff:198.51.100.7"]
    statuses = [token_response(stack, ORIGIN, source_ip=spellings[i % 2])["statusCode"] for i in range(32)]
    assert statuses == [200] * 30 + [429] * 2


def test_the_limit_cannot_be_doubled_across_a_window_boundary(make_stack: Callable[..., Stack]) -> None:
    """Five in the window's last second, then at once in the next: refused, with an honest Retry-After."""
    clock = Clock()
    stack = make_stack(clock=clock)
    clock.now += 899
    for i in range(5):
        assert stack.submit(submission(message=f"Boundary message {i}, late."))["statusCode"] == 200
    clock.now += 1  # the next window
    refused = stack.submit(submission(message="Boundary message, early in the next window."))
    assert_error(refused, 429, "rate_limited")
    assert refused["headers"]["Retry-After"] == "180"
    clock.now += 180
    assert stack.submit(submission(message="Boundary message, after Retry-After."))["statusCode"] == 200
    assert len(stack.sandbox.emails()) == 6


def test_retry_after_is_never_longer_than_the_window(make_stack: Callable[..., Stack]) -> None:
    """Issue 22, 2 per 900 s: two sends 20 s into a window; the third is told 900 s (not 1,330), gets in then."""
    clock = Clock()
    stack = make_stack(clock=clock, submit_limit=2)
    clock.now += 20
    for i in range(2):
        assert stack.submit(submission(message=f"Early message {i}, long enough."))["statusCode"] == 200
    refused = stack.submit(submission(message="The third message, too soon."))
    assert_error(refused, 429, "rate_limited")
    assert refused["headers"]["Retry-After"] == "900"
    clock.now += 899
    assert stack.submit(submission(message="The third message, a second early."))["headers"]["Retry-After"] == "1"
    clock.now += 1
    assert stack.submit(submission(message="The third message, when told."))["statusCode"] == 200
    assert len(stack.sandbox.emails()) == 3
