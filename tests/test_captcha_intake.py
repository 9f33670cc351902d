"""Turnstile on, fast tier: what a visitor is answered for each siteverify verdict, and what the owner receives.

The service runs in process (:func:`tests.test_api.in_process`) with ``CONTACT_TURNSTILE_SECRET_PARAMETER`` set,
and its verifier talks to :class:`Siteverify`, an ``httpx.MockTransport`` that answers as Cloudflare documents
siteverify (form fields in; ``success``, ``hostname``, ``action``, ``error-codes`` out). The loopback stand-in
(``contact_sdk.devtools.local.turnstile``) and the slow and hanging cases stay in the Turnstile and brownout
suites; these are the verdicts and the contract's answers (section 6: the token is spent before siteverify is
asked, every later answer carries a ``nextToken``; ``CONTACT_TURNSTILE_STRICT`` picks between a marked subject and
``503``).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from contact_sdk import deadline as deadlines
from contact_sdk.bootstrap import Components
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource
from contact_sdk.metrics import ListSink
from contact_sdk.security.turnstile import TurnstileVerifier
from tests.clocks import ManualClock
from tests.log_lines import printed
from tests.test_api import ORIGIN, answer, event, form, in_process, token

SECRET = "0x4AAAAAAA-turnstile-secret"
GOOD = "good-widget-token"
PAGE_HOST = "www.example.com"
VISITOR_IP = "203.0.113.7"  # what tests.test_api.event sends as the source IP


@dataclass
class Siteverify:
    """Cloudflare's siteverify as documented; keeps each form it was posted. ``down``: the connection is refused."""

    down: bool = False
    forms: list[dict[str, str]] = field(default_factory=list)
    #: With a clock: siteverify hangs, taking all the time the scope in force allows (noted in ``had``).
    hang_on: ManualClock | None = None
    had: list[float] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.hang_on is not None:
            scope = deadlines.current()
            assert scope is not None, "siteverify is asked inside a deadline"
            self.had.append(round(scope.remaining(), 3))
            self.hang_on.advance(scope.remaining())
            raise httpx.ReadTimeout("no answer", request=request)
        posted = dict(urllib.parse.parse_qsl(request.content.decode()))
        self.forms.append(posted)
        if posted.get("secret") == SECRET and posted.get("response") == GOOD:
            verdict = {
                "success": True,
                "challenge_ts": "2026-12-06T22:00:00.000Z",
                "hostname": PAGE_HOST,
                "action": "contact",
                "error-codes": [],
            }
            return httpx.Response(200, json=verdict)
        return httpx.Response(200, json={"success": False, "error-codes": ["invalid-input-response"]})


@dataclass
class Provider:
    """Resend accepting every email; keeps what it was sent."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(json.loads(request.content))
        return httpx.Response(200, json={"id": f"e-{len(self.sent)}"})


@dataclass
class Service:
    components: Components
    provider: Provider
    siteverify: Siteverify
    clock: ManualClock

    def post(self, csrf_token: str | None = None, **changes: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
        headers = {
            "Origin": ORIGIN,
            "Content-Type": "application/json",
            "X-CSRF-Token": csrf_token or token(self.components.api),
        }
        status, response_headers, body = answer(
            self.components.api, event("POST", "/contact", headers=headers, body=form(**changes))
        )
        assert body is not None
        return status, response_headers, body

    def totals(self) -> dict[str, float]:
        sink = self.components.api.sink
        assert isinstance(sink, ListSink)
        return sink.totals()


@pytest.fixture
def service() -> Iterator[Callable[..., Service]]:
    built: list[Components] = []

    def build(*, strict: bool = False, **settings: Any) -> Service:
        provider, siteverify = Provider(), Siteverify()
        clock = ManualClock(start=1_800_000_000.0, advance_on_sleep=True)
        components = in_process(
            provider,
            outbox=InMemoryOutbox(),
            clock=clock,
            turnstile_secret_parameter="/t",
            turnstile_strict=strict,
            **settings,
        )
        source = components.parameter_source
        assert isinstance(source, InMemoryParameterSource)
        source.values["/t"] = SECRET
        built_verifier = components.intake.captcha
        assert isinstance(built_verifier, TurnstileVerifier)  # the setting turned Turnstile on
        verifier = TurnstileVerifier(
            secret=lambda: source.fetch("/t"),
            hostnames=built_verifier.hostnames,
            action=built_verifier.action,
            timeout_seconds=built_verifier.timeout_seconds,
            http=httpx.Client(transport=httpx.MockTransport(siteverify)),
            clock=clock,
        )
        components.intake.captcha = verifier
        built.append(components)
        return Service(components, provider, siteverify, clock)

    yield build
    for components in built:
        components.close()


def test_a_verified_visitor_is_sent_unmarked_and_siteverify_gets_the_secret_token_and_ip(
    service: Callable[..., Service],
) -> None:
    s = service()
    status, _, body = s.post(turnstileToken=GOOD)
    assert (status, body["status"]) == (200, "sent")
    [email] = s.provider.sent
    assert not str(email["subject"]).startswith("[captcha")
    [posted] = s.siteverify.forms
    assert (posted["secret"], posted["response"], posted["remoteip"]) == (SECRET, GOOD, VISITOR_IP)
    assert posted["idempotency_key"]  # a retry of the same check is not a second use of the token


@pytest.mark.parametrize(("changes", "asked"), [({}, 0), ({"turnstileToken": "  "}, 0), ({"turnstileToken": "x"}, 1)])
def test_a_missing_or_refused_captcha_is_403_captcha_invalid_with_a_next_token_and_nothing_sent(
    service: Callable[..., Service], changes: dict[str, Any], asked: int
) -> None:
    """No token (or a blank one) is refused without asking Cloudflare; a token siteverify refuses is refused after.
    The CSRF token was spent either way, so the error carries the next one, and ``CaptchaRejected`` counts it."""
    s = service()
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(**changes)
    assert (status, body["error"]["code"]) == (403, "captcha_invalid")
    assert body["error"]["message"] == (
        "We could not confirm that you are not a robot. Please complete the check again and resend."
    )
    assert body["error"]["nextToken"]
    assert s.provider.sent == [] and len(s.siteverify.forms) == asked
    assert s.totals()["CaptchaRejected"] == 1
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert summary["captcha_reason"] == ("missing" if asked == 0 else "invalid-input-response")


def test_siteverify_unreachable_delivers_with_the_subject_marked_and_counts_it(service: Callable[..., Service]) -> None:
    """Not strict (the default): the owner gets the email with ``[captcha unverified] `` in front of its subject,
    the visitor ``200 sent``, and ``CaptchaUnavailable`` counts it; the warning says why."""
    s = service()
    s.siteverify.down = True
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(turnstileToken=GOOD)
    assert (status, body["status"]) == (200, "sent")
    [email] = s.provider.sent
    assert str(email["subject"]).startswith("[captcha unverified] ")
    assert s.totals()["CaptchaUnavailable"] == 1
    [warning] = out.lines("Turnstile unavailable: delivering with the subject marked")
    assert warning["captcha_reason"].startswith("unreachable")


def test_siteverify_unreachable_in_strict_mode_is_503_with_retry_after_and_nothing_sent(
    service: Callable[..., Service],
) -> None:
    s = service(strict=True)
    s.siteverify.down = True
    with printed(s.components.api.logger) as out:
        status, headers, body = s.post(turnstileToken=GOOD)
    assert (status, body["error"]["code"]) == (503, "service_unavailable")
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert summary["captcha_reason"] == "unreachable: ConnectError"
    assert int(headers["Retry-After"]) > 0
    assert body["error"]["message"] == (
        "We could not check that you are not a robot right now. Please try again in a minute."
    )
    assert s.provider.sent == []
    assert s.totals()["CaptchaUnavailable"] == 1


def test_a_replayed_csrf_token_never_reaches_siteverify(service: Callable[..., Service]) -> None:
    """The token is spent before Cloudflare is asked: its replay is ``403 csrf_invalid``, siteverify asked once."""
    s = service()
    page_token = token(s.components.api)
    assert s.post(page_token, turnstileToken=GOOD)[0] == 200
    status, _, body = s.post(page_token, turnstileToken=GOOD, message="Another message about the engine.")
    assert (status, body["error"]["code"]) == (403, "csrf_invalid")
    assert len(s.siteverify.forms) == 1 and len(s.provider.sent) == 1


def test_a_hanging_siteverify_gets_the_checks_share_of_the_budget_not_its_own_timeout(
    service: Callable[..., Service],
) -> None:
    """A 2 s budget and siteverify's own 2 s timeout: siteverify hangs and is cut where the checks' share ends
    (1 s: half the budget, the other half kept for delivery), and the email goes out marked at 1 s."""
    s = service(response_budget_ms=2000, turnstile_timeout_ms=2000)
    s.siteverify.hang_on = s.clock
    started = s.clock()
    status, _, body = s.post(turnstileToken=GOOD)
    assert (status, body["status"]) == (200, "sent")
    assert s.siteverify.had == [1.0]
    assert s.clock() - started == pytest.approx(1.0)
    [email] = s.provider.sent
    assert str(email["subject"]).startswith("[captcha unverified] ")


def test_a_hanging_siteverify_is_cut_at_its_own_timeout_when_that_ends_first(service: Callable[..., Service]) -> None:
    """CONTACT_TURNSTILE_TIMEOUT_MS=300 under the default 4 s budget (the checks' share: 2 s): siteverify hangs and
    is cut at its own 0.3 s, and the email goes out marked as unverified."""
    s = service(turnstile_timeout_ms=300)
    s.siteverify.hang_on = s.clock
    started = s.clock()
    status, _, body = s.post(turnstileToken=GOOD)
    assert (status, body["status"]) == (200, "sent")
    assert s.siteverify.had == [0.3]
    assert s.clock() - started == pytest.approx(0.3)
    [email] = s.provider.sent
    assert str(email["subject"]).startswith("[captcha unverified] ")


def test_a_visitor_without_a_source_address_is_checked_without_one(service: Callable[..., Service]) -> None:
    """An event with no usable source address (a test console, a misconfigured integration): siteverify is asked
    without ``remoteip`` rather than with a placeholder Cloudflare would read as an address."""
    s = service()
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token(s.components.api)}
    raw = event("POST", "/contact", headers=headers, body=form(turnstileToken=GOOD))
    raw["requestContext"]["identity"] = {}
    status, _, body = answer(s.components.api, raw)
    assert (status, body and body["status"]) == (200, "sent")
    [posted] = s.siteverify.forms
    assert "remoteip" not in posted
