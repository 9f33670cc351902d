"""``GET /contact/token``, fast tier: what a page gets when it asks for its form's token, and what that costs it.

The service runs in process (:func:`tests.test_api.in_process`) on a manual clock; every answer is read as the
page's ``fetch`` reads it (status, headers, JSON). The figures are the contract's, worked out by hand: a token is
valid for 3600 s (section 5); token requests are limited per source IP (section 7; 30 per 900 s by default, 3
here), and a refused request learns when to come back from ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

import pytest

from contact_sdk.bootstrap import Components
from contact_sdk.deadline import current
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource
from contact_sdk.security.fallback import FallbackRateLimitStore
from contact_sdk.security.ratelimit import RateLimitDecision, RateLimiter, RateLimitStoreUnavailable
from tests.clocks import ManualClock
from tests.log_lines import printed
from tests.test_api import ORIGIN, Provider, answer, event, form, in_process

#: On a rate-limit window's boundary (1_800_000_000 = 2,000,000 windows of 900 s, 6,000,000 of 300 s), so the
#: figures are whole.
START = 1_800_000_000.0
PAGE_IP = "203.0.113.7"


def ask(
    components: Components, *, origin: str | None = ORIGIN, ip: str = PAGE_IP, request_id: str = "t-1"
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One ``GET /contact/token`` from ``ip`` with ``origin`` (none when ``None``)."""
    raw = event("GET", "/contact/token", headers={} if origin is None else {"Origin": origin}, request_id=request_id)
    raw["requestContext"]["identity"]["sourceIp"] = ip
    status, headers, body = answer(components.api, raw)
    assert body is not None
    return status, headers, body


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START)


@pytest.fixture
def provider() -> Provider:
    return Provider()


def service(built: list[Components], provider: Provider, clock: ManualClock, **settings: Any) -> Components:
    """The service in process on ``clock``, ``provider`` answering for Resend, ``settings`` over the test defaults."""
    components = in_process(provider, outbox=InMemoryOutbox(), clock=clock, **settings)
    built.append(components)
    return components


def parameters(components: Components) -> InMemoryParameterSource:
    source = components.parameter_source
    assert isinstance(source, InMemoryParameterSource)
    return source


def test_a_page_of_ours_gets_a_token_for_an_hour_that_its_submission_spends(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """``200 {"token", "expiresIn": 3600, "requestId"}`` with the page's origin allowed, logged as outcome
    ``token_issued``; each request gets a token of its own, and a submission carrying one is sent."""
    components = service(built, provider, clock)
    with printed(components.api.logger) as out:
        status, headers, body = ask(components, request_id="t-first")
    assert status == 200
    [summary] = out.lines("request handled")  # what the dashboard's "Request outcomes by status" groups by
    assert (summary["route"], summary["status"], summary["outcome"]) == ("/contact/token", 200, "token_issued")
    assert set(body) == {"token", "expiresIn", "requestId"}
    assert body["expiresIn"] == 3600 and body["requestId"] == "t-first"
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert ask(components)[2]["token"] != body["token"]

    post = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": body["token"]}
    status, _, sent = answer(components.api, event("POST", "/contact", headers=post, body=form()))
    assert (status, sent and sent["status"]) == (200, "sent")
    assert len(provider.sent) == 1


@pytest.mark.parametrize(
    "origin",
    [None, "https://evil.example", "null", ORIGIN + ".evil.example"],
    ids=["none", "foreign", "null", "suffix"],
)
def test_a_token_is_refused_without_an_allowed_origin_before_anything_is_read_or_counted(
    built: list[Components], provider: Provider, clock: ManualClock, origin: str | None
) -> None:
    """``403 origin_not_allowed`` and no CORS header; the refusal comes before the secret is read (a cold
    instance whose Parameter Store is down still answers ``403``, not ``503``) and before the client's token
    requests are counted (the page's own request, the limit's one, is still served)."""
    components = service(built, provider, clock, token_limit=1)
    parameters(components).fail = True
    status, headers, body = ask(components, origin=origin)
    assert status == 403
    assert body["error"] == {"code": "origin_not_allowed", "message": "Requests from this origin are not allowed."}
    assert "Access-Control-Allow-Origin" not in headers

    parameters(components).fail = False
    for _ in range(3):
        assert ask(components, origin=origin)[0] == 403
    assert ask(components)[0] == 200


def test_the_fourth_token_request_in_a_window_waits_for_the_window_to_pass(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """3 token requests per 300 s: all three at the window's start are served; the fourth is ``429`` with
    ``Retry-After: 300`` (the latest hit a whole window old), and its message says so in the page's words. Another
    address is served meanwhile; one second before the wait ends the answer is still ``429`` (``Retry-After: 1``),
    and at its end the page gets a token again. The window is not the default (900 s), nor the submissions'
    (900 s here), so the figures show that ``CONTACT_TOKEN_RATE_LIMIT_WINDOW_SECONDS`` reaches the token limit."""
    components = service(built, provider, clock, token_limit=3, token_window_seconds=300)
    assert [ask(components)[0] for _ in range(3)] == [200, 200, 200]

    status, headers, body = ask(components)
    assert (status, headers["Retry-After"]) == (429, "300")
    assert body["error"] == {
        "code": "rate_limited",
        "message": "Too many token requests from your address. Please try again in 300 seconds.",
    }
    assert ask(components, ip="198.51.100.20")[0] == 200

    clock.advance(299)
    status, headers, _ = ask(components)
    assert (status, headers["Retry-After"]) == (429, "1")
    clock.advance(1)
    assert ask(components)[0] == 200


@pytest.mark.parametrize(
    ("prefix", "statuses"),
    [(64, [200, 200, 200, 200]), (48, [200, 200, 200, 429])],
    ids=["the default /64: four networks", "CONTACT_RATE_LIMIT_IPV6_PREFIX=48: one network"],
)
def test_ipv6_token_requests_are_counted_by_the_configured_prefix(
    built: list[Components], provider: Provider, clock: ManualClock, prefix: int, statuses: list[int]
) -> None:
    """3 token requests per window, one each from four /64s of the same /48 (what one customer of a provider
    that hands out /48s can use): by their /64 each address is new; by the configured /48 the fourth is over."""
    components = service(built, provider, clock, token_limit=3, rate_limit_ipv6_prefix=prefix)
    senders = ["2001:db8:aa:1::7", "2001:db8:aa:2::7", "2001:db8:aa:3::7", "2001:db8:aa:4::7"]
    assert [ask(components, ip=ip)[0] for ip in senders] == statuses


def test_a_cold_instance_without_its_secret_answers_503_and_the_request_is_not_counted(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """Parameter Store down on a cold instance: ``503`` with ``Retry-After`` and the page's message; the summary
    line names the parameter it could not read. The secret is read before the limiter is asked, so the failed
    request spends none of the client's token requests (one allowed here): once the store is back, it is served."""
    components = service(built, provider, clock, token_limit=1)
    parameters(components).fail = True
    with printed(components.api.logger) as out:
        status, headers, body = ask(components)
    assert status == 503 and int(headers["Retry-After"]) > 0
    assert body["error"] == {"code": "service_unavailable", "message": "The contact form is not available right now."}
    [summary] = out.lines("request handled")
    assert summary["status"] == 503 and "/s" in summary["config_error"]

    parameters(components).fail = False
    assert ask(components)[0] == 200


def test_a_secret_too_short_is_503_and_the_log_says_why(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """A CSRF secret of 31 characters (docs/configuration.md asks for at least 32): no token is signed with it;
    ``503`` with the page's message, and the summary line says what is wrong with which parameter."""
    components = service(built, provider, clock)
    parameters(components).values["/s"] = "s" * 31
    with printed(components.api.logger) as out:
        status, _, body = ask(components)
    assert status == 503
    assert body["error"] == {"code": "service_unavailable", "message": "The contact form is not available right now."}
    [summary] = out.lines("request handled")
    assert "/s" in summary["config_error"] and "32+ characters" in summary["config_error"]


class ShortSecretSource:
    """The service's configuration, except that the CSRF secret it hands over is 15 bytes: what a secret source of
    an SDK user's own may do (the service's Parameter Store reading refuses one under 32 characters first)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def csrf_secret(self) -> bytes:
        return b"s" * 15

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_secret_too_short_to_sign_with_is_never_used(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """Whatever the source, no token is signed with a key under 16 bytes: ``503`` with the page's message (not a
    ``500``, not a token), and the summary line says why."""
    components = service(built, provider, clock)
    components.intake.config = ShortSecretSource(components.intake.config)
    with printed(components.api.logger) as out:
        status, _, body = ask(components)
    assert status == 503
    assert body["error"] == {"code": "service_unavailable", "message": "The contact form is not available right now."}
    [summary] = out.lines("request handled")
    assert "at least 16 bytes" in summary["config_error"]


class HangingRateLimitTable:
    """The token limit's table, hanging: each call takes all the time it is allowed (the request's deadline in
    force, else its own 4 s call timeout), then is cut. Notes what each call was given."""

    CALL_TIMEOUT = 4.0

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.given: list[float] = []

    def hit(self, key: str, *, limit: int, window_seconds: int, now: float) -> RateLimitDecision:
        in_force = current()
        allowed = self.CALL_TIMEOUT if in_force is None else min(in_force.remaining(), self.CALL_TIMEOUT)
        self.given.append(round(allowed, 6))
        self.clock.advance(allowed)
        raise RateLimitStoreUnavailable("the table did not answer in time")


def test_a_hanging_rate_limit_table_still_gives_the_token_inside_the_response_budget(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """A 2 s response budget and a table whose calls may take 4 s (``CONTACT_AWS_CALL_TIMEOUT_MS`` above the
    budget): the table's call is cut at the budget, 2.0 s after the request arrived, and the token is issued with
    this instance's own count, so the page is answered ``200`` inside its budget rather than after the 4 s."""
    components = service(built, provider, clock, response_budget_ms=2000)
    table = HangingRateLimitTable(clock)
    components.intake.token_limiter = RateLimiter(
        FallbackRateLimitStore(table), scope="token", limit=30, window_seconds=900, clock=clock.time
    )
    status, _, body = ask(components)
    assert status == 200 and body["token"]
    assert table.given == [2.0]
    assert clock.now - START == pytest.approx(2.0)
