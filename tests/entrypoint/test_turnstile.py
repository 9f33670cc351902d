"""Optional Cloudflare Turnstile through the real handler: moto's SSM holds the secret, the local siteverify
stand-in answers as Cloudflare does for its test secrets, the Resend sandbox receives what is delivered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from contact_sdk.devtools.local.turnstile import DUMMY_TOKEN, FAIL_SECRET, PASS_SECRET, SPENT_SECRET, SiteverifyStandIn
from tests.conftest import refusing_port
from tests.entrypoint.conftest import ORIGIN, Stack, api_gateway_event, submission
from tests.entrypoint.test_lambda_handler import assert_error, body_of, metric_totals

pytestmark = pytest.mark.integration

PARAMETER = "/portfolio/test/contact/turnstile-secret"
HOST = "127.0.0.1"
PAGE_HOST = urlsplit(ORIGIN).hostname  # what the stand-in reports as the page's hostname


@pytest.fixture
def standin() -> Iterator[SiteverifyStandIn]:
    """The siteverify stand-in on loopback."""
    with SiteverifyStandIn((HOST, 0), hostname=str(PAGE_HOST), action="contact") as server:
        yield server


def closed_port_url() -> str:
    """A siteverify URL nothing listens on: Cloudflare unreachable."""
    return f"http://{HOST}:{refusing_port()}/turnstile/v0/siteverify"


@pytest.fixture
def turnstile_stack(make_stack: Callable[..., Stack]) -> Callable[..., Stack]:
    """``build(secret, url, **settings)``: a stack with Turnstile on and ``secret`` in Parameter Store."""
    built: list[Stack] = []

    def build(secret: str, url: str, **settings: Any) -> Stack:
        stack = make_stack(turnstile_secret_parameter=PARAMETER, turnstile_siteverify_url=url, **settings)
        stack.put_parameter(PARAMETER, secret)
        built.append(stack)
        return stack

    yield build  # type: ignore[misc]
    for stack in built:
        if stack.components.captcha is not None:
            stack.components.captcha.close()


def test_a_passing_token_is_delivered_and_verified_with_the_visitors_address(
    turnstile_stack: Callable[..., Stack], standin: SiteverifyStandIn
) -> None:
    """The always-passing test secret: 200 sent, one email, siteverify asked once with remoteip."""
    stack = turnstile_stack(PASS_SECRET, standin.url)
    response = stack.submit(submission(turnstileToken=DUMMY_TOKEN), source_ip="198.51.100.23")
    assert response["statusCode"] == 200 and body_of(response)["status"] == "sent"
    [email] = stack.sandbox.emails()
    assert email["body"]["subject"].startswith("Contact Form: Message from Ada Lovelace")
    [asked] = standin.received
    assert (asked["secret"], asked["response"], asked["remoteip"]) == (PASS_SECRET, DUMMY_TOKEN, "198.51.100.23")
    assert asked["idempotency_key"]


@pytest.mark.parametrize(
    ("secret", "token"),
    [(FAIL_SECRET, DUMMY_TOKEN), (SPENT_SECRET, DUMMY_TOKEN), (PASS_SECRET, "forged.token.value")],
    ids=["invalid", "reused", "forged"],
)
def test_a_refused_token_is_403_captcha_invalid(
    turnstile_stack: Callable[..., Stack], standin: SiteverifyStandIn, secret: str, token: str
) -> None:
    """Always-fails, already-spent and unknown tokens: 403 captcha_invalid, nothing sent, CaptchaRejected."""
    stack = turnstile_stack(secret, standin.url)
    response = stack.submit(submission(turnstileToken=token))
    assert_error(response, 403, "captcha_invalid")
    assert stack.sandbox.emails() == []
    assert metric_totals(stack)["CaptchaRejected"] == 1


def test_a_missing_token_is_403_with_a_next_token(
    turnstile_stack: Callable[..., Stack], standin: SiteverifyStandIn
) -> None:
    """No turnstileToken: 403 captcha_invalid after the CSRF token is spent; its nextToken carries the resend."""
    stack = turnstile_stack(PASS_SECRET, standin.url)
    token = stack.token()
    missing = assert_error(stack.submit(submission(), token=token), 403, "captcha_invalid")
    blank = assert_error(
        stack.submit(submission(turnstileToken="  "), token=missing["error"]["nextToken"]), 403, "captcha_invalid"
    )
    assert standin.received == []
    assert_error(stack.submit(submission(turnstileToken=DUMMY_TOKEN), token=token), 403, "csrf_invalid")
    response = stack.submit(submission(turnstileToken=DUMMY_TOKEN), token=blank["error"]["nextToken"])
    assert response["statusCode"] == 200
    assert len(stack.sandbox.emails()) == 1


def test_a_token_for_another_site_is_refused(turnstile_stack: Callable[..., Stack], standin: SiteverifyStandIn) -> None:
    """siteverify says yes, for a page on another host: refused."""
    standin.hostname = "evil.example"
    stack = turnstile_stack(PASS_SECRET, standin.url)
    assert_error(stack.submit(submission(turnstileToken=DUMMY_TOKEN)), 403, "captcha_invalid")
    assert stack.sandbox.emails() == []


@pytest.mark.parametrize(
    "case",
    [(None, "newsletter", 403), ("newsletter", "newsletter", 200), ("newsletter", "contact", 403)],
    ids=["default contact, newsletter's token", "newsletter configured, its token", "newsletter configured, contact's"],
)
def test_a_token_solved_on_another_widget_of_the_site_is_refused_by_its_action(
    turnstile_stack: Callable[..., Stack],
    standin: SiteverifyStandIn,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str | None, str, int],
) -> None:
    """A site with two widgets (the contact form, a newsletter sign-up) tells their tokens apart by ``data-action``,
    which siteverify reports. The form accepts its own action, ``contact`` unless ``CONTACT_TURNSTILE_ACTION``
    names another, and refuses a token solved on the other widget with 403 captcha_invalid, sending nothing."""
    configured, reported, status = case
    if configured is not None:
        monkeypatch.setenv("CONTACT_TURNSTILE_ACTION", configured)
    standin.action = reported
    stack = turnstile_stack(PASS_SECRET, standin.url)
    response = stack.submit(submission(turnstileToken=DUMMY_TOKEN))
    if status == 403:
        assert_error(response, 403, "captcha_invalid")
        assert stack.sandbox.emails() == []
    else:
        assert response["statusCode"] == 200 and body_of(response)["status"] == "sent"
        assert len(stack.sandbox.emails()) == 1
    assert len(standin.received) == 1


def test_a_forged_csrf_token_never_reaches_cloudflare(
    turnstile_stack: Callable[..., Stack], standin: SiteverifyStandIn
) -> None:
    """The CSRF check comes first: a forged request costs no siteverify call."""
    stack = turnstile_stack(PASS_SECRET, standin.url)
    assert_error(stack.submit(submission(turnstileToken=DUMMY_TOKEN), token="v1.forged"), 403, "csrf_invalid")
    assert standin.received == []


def test_an_oversized_or_non_text_token_is_refused_without_asking_cloudflare(
    turnstile_stack: Callable[..., Stack], standin: SiteverifyStandIn
) -> None:
    """Longer than Cloudflare's 2048 characters, or not text: 403 captcha_invalid, judged before any field."""
    stack = turnstile_stack(PASS_SECRET, standin.url)
    for bad in ("x" * 2049, 12345):
        response = stack.submit(submission(turnstileToken=bad, email="not judged yet"))
        error = assert_error(response, 403, "captcha_invalid")["error"]
        assert "fields" not in error and error["nextToken"]
    assert standin.received == []


def test_siteverify_down_delivers_with_the_subject_marked_by_default(turnstile_stack: Callable[..., Stack]) -> None:
    """Cloudflare unreachable, default policy: the message is not lost; its subject says it was not verified."""
    stack = turnstile_stack(PASS_SECRET, closed_port_url())
    response = stack.submit(submission(turnstileToken=DUMMY_TOKEN))
    assert response["statusCode"] == 200 and body_of(response)["status"] == "sent"
    [email] = stack.sandbox.emails()
    assert (
        email["body"]["subject"] == "[captcha unverified] Contact Form: Message from Ada Lovelace — Analytical engine"
    )
    assert metric_totals(stack)["CaptchaUnavailable"] == 1
    assert "CaptchaRejected" not in metric_totals(stack)


def test_siteverify_down_in_strict_mode_is_503(turnstile_stack: Callable[..., Stack]) -> None:
    """CONTACT_TURNSTILE_STRICT=true: refused with 503 and Retry-After, nothing sent."""
    stack = turnstile_stack(PASS_SECRET, closed_port_url(), turnstile_strict=True)
    response = stack.submit(submission(turnstileToken=DUMMY_TOKEN))
    assert_error(response, 503, "service_unavailable")
    assert int(response["headers"]["Retry-After"]) > 0
    assert stack.sandbox.emails() == []
    assert metric_totals(stack)["CaptchaUnavailable"] == 1


def test_a_siteverify_error_status_follows_the_policy(
    turnstile_stack: Callable[..., Stack], standin: SiteverifyStandIn
) -> None:
    """A 500 from siteverify is an outage like a refused connection."""
    standin.status = 500
    stack = turnstile_stack(PASS_SECRET, standin.url)
    assert stack.submit(submission(turnstileToken=DUMMY_TOKEN))["statusCode"] == 200
    assert stack.sandbox.emails()[0]["body"]["subject"].startswith("[captcha unverified] ")


def test_turnstile_off_ignores_a_token_sent_anyway(
    make_stack: Callable[..., Stack], standin: SiteverifyStandIn
) -> None:
    """Without the parameter setting nothing is verified; a page that sends a token anyway is fine."""
    stack = make_stack()
    assert stack.components.captcha is None
    assert stack.submit(submission(turnstileToken=DUMMY_TOKEN))["statusCode"] == 200
    assert stack.submit(submission(message="And one without any token at all."))["statusCode"] == 200
    assert standin.received == []
    assert len(stack.sandbox.emails()) == 2


def test_the_secret_is_read_from_parameter_store_once(
    turnstile_stack: Callable[..., Stack], standin: SiteverifyStandIn
) -> None:
    """Two submissions, one Parameter Store read of the Turnstile secret (the cache), the value never logged."""
    stack = turnstile_stack(PASS_SECRET, standin.url)
    for i in range(2):
        assert (
            stack.submit(submission(turnstileToken=DUMMY_TOKEN, message=f"Message number {i} here."))["statusCode"]
            == 200
        )
    assert [asked["secret"] for asked in standin.received] == [PASS_SECRET, PASS_SECRET]
    assert all(PASS_SECRET not in json.dumps(line) for line in stack.log_lines())


def test_the_token_field_is_not_a_header(turnstile_stack: Callable[..., Stack], standin: SiteverifyStandIn) -> None:
    """The contract fixes a body field: a header carrying the token does not count."""
    stack = turnstile_stack(PASS_SECRET, standin.url)
    headers = {
        "Origin": ORIGIN,
        "Content-Type": "application/json",
        "X-CSRF-Token": stack.token(),
        "CF-Turnstile-Response": DUMMY_TOKEN,
    }
    event = api_gateway_event("POST", "/contact", body=json.dumps(submission()), headers=headers)
    assert_error(stack.call(event), 403, "captcha_invalid")
