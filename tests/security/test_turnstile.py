"""The Turnstile verifier against the local siteverify stand-in, over loopback (no patched internals).

What the service sent is read from the stand-in's own record of each request body (parsed with the
standard library there), never from the verifier. Fast tier: the stand-in is a server thread in this process
that starts in milliseconds (the 30 tests take ~2 s), like the moto server the fast tier already uses, so
mutation testing judges the verifier by these tests (as an integration-only file, it had none).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from contact_sdk.deadline import Deadline
from contact_sdk.degraded import DependencyGuard, GuardState
from contact_sdk.devtools.local.serving import ThreadedServer
from contact_sdk.devtools.local.turnstile import DUMMY_TOKEN, FAIL_SECRET, PASS_SECRET, SPENT_SECRET, SiteverifyStandIn
from contact_sdk.errors import ConfigurationError
from contact_sdk.logs import build_logger
from contact_sdk.security.turnstile import (
    SITEVERIFY_URL,
    CaptchaResult,
    CaptchaVerdict,
    TurnstileVerifier,
    hostnames_of,
)
from tests.conftest import refusing_port
from tests.log_lines import printed

PASSED = CaptchaResult(CaptchaVerdict.PASSED, "passed")


@pytest.fixture
def standin() -> Iterator[SiteverifyStandIn]:
    """A stand-in reporting the hostname ``example.com`` and the action ``contact``."""
    with SiteverifyStandIn(("127.0.0.1", 0), hostname="example.com", action="contact") as server:
        yield server


_BUILT: list[TurnstileVerifier] = []


@pytest.fixture(autouse=True)
def _close_verifiers() -> Iterator[None]:
    """Every verifier a test builds has its HTTP connections closed afterwards."""
    yield
    while _BUILT:
        _BUILT.pop().close()


def verifier(url: str, secret_key: str = PASS_SECRET, **options: object) -> TurnstileVerifier:
    """A verifier for the origins https://example.com and http://localhost:8000, action ``contact``."""
    kwargs: dict[str, object] = {
        "secret": lambda: secret_key,
        "hostnames": hostnames_of(["https://example.com", "http://localhost:8000"]),
        "action": "contact",
        "url": url,
        "timeout_seconds": 2.0,
    }
    kwargs.update(options)
    built = TurnstileVerifier(**kwargs)  # type: ignore[arg-type]
    _BUILT.append(built)
    return built


def closed_port_url() -> str:
    """A siteverify URL on a loopback port nothing listens on."""
    return f"http://127.0.0.1:{refusing_port()}/turnstile/v0/siteverify"


def test_the_default_url_is_cloudflares() -> None:
    """Production verifies against Cloudflare's documented endpoint."""
    assert SITEVERIFY_URL == "https://challenges.cloudflare.com/turnstile/v0/siteverify"


def test_the_always_passing_test_secret_passes_and_sends_what_cloudflare_asks(standin: SiteverifyStandIn) -> None:
    """secret, response, remoteip and a UUID idempotency_key are sent, form-encoded."""
    assert verifier(standin.url).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == PASSED
    [sent] = standin.received
    assert sent["secret"] == PASS_SECRET
    assert sent["response"] == DUMMY_TOKEN
    assert sent["remoteip"] == "203.0.113.9"
    assert uuid.UUID(sent["idempotency_key"]).version == 4


@pytest.mark.parametrize(
    ("secret", "reason"),
    [(FAIL_SECRET, "invalid-input-response"), (SPENT_SECRET, "timeout-or-duplicate")],
    ids=["always-fails", "already-spent"],
)
def test_failing_test_secrets_are_refused(standin: SiteverifyStandIn, secret: str, reason: str) -> None:
    """Invalid or expired, and reused tokens: refused, with siteverify's code as the reason."""
    result = verifier(standin.url, secret).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    assert result == CaptchaResult(CaptchaVerdict.REFUSED, reason)


@pytest.mark.parametrize("token", [None, "", "   "])
def test_a_missing_token_is_refused_without_asking(standin: SiteverifyStandIn, token: str | None) -> None:
    """No token: refused at once, nothing sent to Cloudflare."""
    result = verifier(standin.url).verify(token, remote_ip="203.0.113.9", deadline=None)
    assert result == CaptchaResult(CaptchaVerdict.REFUSED, "missing")
    assert standin.received == []


def test_a_token_longer_than_cloudflares_is_refused_without_asking(standin: SiteverifyStandIn) -> None:
    """Cloudflare's tokens are at most 2048 characters."""
    result = verifier(standin.url).verify("x" * 2049, remote_ip="203.0.113.9", deadline=None)
    assert result == CaptchaResult(CaptchaVerdict.REFUSED, "too_long")
    assert standin.received == []


def test_a_token_the_test_secret_does_not_know_is_refused(standin: SiteverifyStandIn) -> None:
    """Test secrets accept only the dummy token: anything else is invalid-input-response."""
    result = verifier(standin.url).verify("a-real-looking-token", remote_ip="203.0.113.9", deadline=None)
    assert result == CaptchaResult(CaptchaVerdict.REFUSED, "invalid-input-response")


def test_a_token_for_another_hostname_is_refused(standin: SiteverifyStandIn) -> None:
    """siteverify says yes, but for a page on a host that is not one of the allowed origins."""
    standin.hostname = "evil.example"
    result = verifier(standin.url).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    assert result == CaptchaResult(CaptchaVerdict.REFUSED, "hostname_mismatch")


def test_a_token_for_another_action_is_refused(standin: SiteverifyStandIn) -> None:
    """siteverify says yes, but the widget was another form's (data-action)."""
    standin.action = "login"
    result = verifier(standin.url).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    assert result == CaptchaResult(CaptchaVerdict.REFUSED, "action_mismatch")
    assert verifier(standin.url, action=None).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == PASSED


def test_the_other_allowed_hostname_passes(standin: SiteverifyStandIn) -> None:
    """Every allowed origin's host is acceptable; the comparison ignores case."""
    standin.hostname = "LOCALHOST"
    assert verifier(standin.url).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == PASSED


def test_an_unknown_source_address_is_not_sent(standin: SiteverifyStandIn) -> None:
    """Without a source address there is no remoteip (it is optional for Cloudflare)."""
    verifier(standin.url).verify(DUMMY_TOKEN, remote_ip="unknown", deadline=None)
    assert "remoteip" not in standin.received[0]


def test_an_unreachable_siteverify_is_unavailable() -> None:
    """Nothing listening: unavailable (the policy decides), never an exception."""
    result = verifier(closed_port_url()).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    assert result.verdict == CaptchaVerdict.UNAVAILABLE
    assert result.reason.startswith("unreachable")


def test_a_slow_siteverify_is_cut_off_at_the_timeout(standin: SiteverifyStandIn) -> None:
    """Slower than the timeout: unavailable, after at most the timeout (retry included)."""
    standin.delay_seconds = 1.5
    result = verifier(standin.url, timeout_seconds=0.3).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    assert result == CaptchaResult(CaptchaVerdict.UNAVAILABLE, "timeout")


def test_a_deadline_already_passed_asks_nothing(standin: SiteverifyStandIn) -> None:
    """The response budget is spent: no call at all."""
    now = [100.0]
    result = verifier(standin.url, clock=lambda: now[0]).verify(
        DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=Deadline(100.0, lambda: now[0])
    )
    assert result == CaptchaResult(CaptchaVerdict.UNAVAILABLE, "deadline")
    assert standin.received == []


def test_a_dropped_connection_is_retried_with_the_same_idempotency_key(standin: SiteverifyStandIn) -> None:
    """The retry carries the first attempt's key, so Cloudflare answers it as the first attempt."""
    standin.drop_next = 1
    assert verifier(standin.url).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == PASSED
    [answered] = standin.received  # the dropped request was not recorded
    assert uuid.UUID(answered["idempotency_key"])


def test_two_dropped_connections_are_unavailable(standin: SiteverifyStandIn) -> None:
    """One retry only: then the policy decides."""
    standin.drop_next = 2
    result = verifier(standin.url).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    assert result.verdict == CaptchaVerdict.UNAVAILABLE


@pytest.mark.parametrize("status", [500, 502, 429])
def test_an_error_status_is_unavailable(standin: SiteverifyStandIn, status: int) -> None:
    """A 5xx (or anything but 200) is not an answer about the token."""
    standin.status = status
    result = verifier(standin.url).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    assert result == CaptchaResult(CaptchaVerdict.UNAVAILABLE, f"status {status}")


@pytest.mark.parametrize("secret", ["", "0x4AAAAAAAnot-a-test-secret"])
def test_siteverify_refusing_our_secret_is_unavailable_not_the_visitors_fault(
    standin: SiteverifyStandIn, secret: str
) -> None:
    """missing-input-secret / invalid-input-secret: our configuration is wrong, not the visitor's token."""
    result = verifier(standin.url, secret).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    assert result.verdict == CaptchaVerdict.UNAVAILABLE
    assert result.reason in ("missing-input-secret", "invalid-input-secret")


def test_an_unreadable_secret_parameter_is_unavailable(standin: SiteverifyStandIn) -> None:
    """Parameter Store cannot give us the secret: unavailable, nothing sent."""

    def broken() -> str:
        raise ConfigurationError("parameter /x: AccessDenied")

    result = verifier(standin.url, secret=broken).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    assert result == CaptchaResult(CaptchaVerdict.UNAVAILABLE, "secret_unreadable")
    assert standin.received == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>Cloudflare is having trouble</html>", "not_json"),
        (b'{"success": "yes"}', "unreadable_answer"),
        (b"[true]", "unreadable_answer"),
    ],
)
def test_an_answer_that_is_not_siteverifys_is_unavailable(body: bytes, reason: str) -> None:
    """An interstitial page or a malformed answer has not said yes (an httpx MockTransport plays the server)."""
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body)))
    result = verifier("http://siteverify.invalid/", http=http).verify(
        DUMMY_TOKEN, remote_ip="198.51.100.1", deadline=None
    )
    assert result == CaptchaResult(CaptchaVerdict.UNAVAILABLE, reason)
    http.close()


def test_a_refusal_without_codes_is_still_a_refusal() -> None:
    """success false with no error codes: refused."""
    answer = httpx.Response(200, json={"success": False})
    http = httpx.Client(transport=httpx.MockTransport(lambda request: answer))
    result = verifier("http://siteverify.invalid/", http=http).verify(
        DUMMY_TOKEN, remote_ip="198.51.100.1", deadline=None
    )
    assert result == CaptchaResult(CaptchaVerdict.REFUSED, "refused")


def test_a_nonsense_timeout_is_a_programming_error() -> None:
    """The timeout must be positive."""
    with pytest.raises(ValueError, match=r"^timeout_seconds must be greater than zero$"):
        verifier(SITEVERIFY_URL, timeout_seconds=0)


def test_reconnect_drops_the_pool_and_keeps_working(standin: SiteverifyStandIn) -> None:
    """After a SnapStart restore the verifier opens fresh connections; a borrowed client is left alone."""
    own = verifier(standin.url)
    assert own.verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == PASSED
    own.reconnect()
    assert own.verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == PASSED
    with httpx.Client() as borrowed:
        lent = verifier(standin.url, http=borrowed)
        lent.reconnect()
        assert not borrowed.is_closed
        assert lent.verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == PASSED


# -- what the operator reads, the guard, and the edges ------------------------------------------------


def test_an_unreadable_secret_is_an_error_line_naming_the_parameters_fault(standin: SiteverifyStandIn) -> None:
    def broken() -> str:
        raise ConfigurationError("parameter /x: AccessDenied")

    with printed(build_logger()) as out:
        verifier(standin.url, secret=broken).verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None)
    [line] = out.lines("the Turnstile secret cannot be read")
    assert (line["level"], line["error"]) == ("ERROR", "parameter /x: AccessDenied")


def test_after_siteverify_fails_it_is_skipped_until_one_probe_finds_it_back(standin: SiteverifyStandIn) -> None:
    """A 500 is remembered: the next submissions do not wait on siteverify (``skipped``, logged, nothing sent)
    until the guard's 5 s have passed; then one probe asks (a failed one doubles the wait), and an answer makes
    siteverify healthy again."""
    now = [0.0]
    guard = DependencyGuard("siteverify", skip_seconds=5.0, clock=lambda: now[0])
    check = verifier(standin.url, guard=guard, clock=lambda: now[0])
    standin.status = 500
    with printed(build_logger()) as out:
        assert check.verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None).reason == "status 500"
        standin.status = 200
        asked = len(standin.received)
        now[0] = 4.9
        assert check.verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == CaptchaResult(
            CaptchaVerdict.UNAVAILABLE, "skipped"
        )
        assert len(standin.received) == asked
        standin.status = 500
        now[0] = 5.0
        assert check.verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None).reason == "status 500"  # a probe
        standin.status = 200
        now[0] = 14.9  # a failed probe doubles the skip: 10 s from 5.0
        assert check.verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None).reason == "skipped"
        now[0] = 15.0
        assert check.verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == PASSED  # the next probe
        assert guard.state == GuardState.HEALTHY
        assert check.verify(DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None) == PASSED
    failed = out.lines("Turnstile siteverify gave no usable answer")
    skipped = out.lines("Turnstile siteverify skipped: it failed a moment ago")
    assert [(line["level"], line["captcha_failure"]) for line in failed] == [("WARNING", "status 500")] * 2
    assert [(line["level"], line["captcha_failure"]) for line in skipped] == [("WARNING", "skipped")] * 2


def answering(body: dict[str, object]) -> httpx.Client:
    """A client whose siteverify (an httpx MockTransport) gives ``body``."""
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=body)))


def test_every_error_code_is_kept_and_ours_are_an_error_line() -> None:
    """Cloudflare may give several codes; the reason keeps them all. Ours at fault: ERROR, with the codes."""
    ours = {"success": False, "error-codes": ["invalid-input-secret", "internal-error"]}
    visitors = {"success": False, "error-codes": ["invalid-input-response", "timeout-or-duplicate"]}
    with answering(ours) as one, answering(visitors) as other, printed(build_logger()) as out:
        assert verifier("http://siteverify.invalid/", http=one).verify(
            DUMMY_TOKEN, remote_ip="198.51.100.1", deadline=None
        ) == CaptchaResult(CaptchaVerdict.UNAVAILABLE, "invalid-input-secret,internal-error")
        assert verifier("http://siteverify.invalid/", http=other).verify(
            DUMMY_TOKEN, remote_ip="198.51.100.1", deadline=None
        ) == CaptchaResult(CaptchaVerdict.REFUSED, "invalid-input-response,timeout-or-duplicate")
    [line] = out.lines("Turnstile siteverify refused our request")
    assert (line["level"], line["captcha_errors"]) == ("ERROR", ["invalid-input-secret", "internal-error"])


def test_a_token_of_2048_characters_is_asked_about_and_one_longer_is_not(standin: SiteverifyStandIn) -> None:
    """Cloudflare's tokens are at most 2048 characters."""
    check = verifier(standin.url)
    assert check.verify("x" * 2048, remote_ip="203.0.113.9", deadline=None).reason != "too_long"
    assert [form["response"] for form in standin.received] == ["x" * 2048]
    assert check.verify("x" * 2049, remote_ip="203.0.113.9", deadline=None) == CaptchaResult(
        CaptchaVerdict.REFUSED, "too_long"
    )
    assert len(standin.received) == 1


def test_a_redirect_is_not_followed_so_our_secret_goes_nowhere_else(standin: SiteverifyStandIn) -> None:
    """A 307 keeps the method and the body: following it would post the secret key to wherever it points."""

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", standin.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadedServer(("127.0.0.1", 0), Redirecting)
    server.serve_in_thread()
    try:
        result = verifier(f"{server.origin}/turnstile/v0/siteverify").verify(
            DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None
        )
    finally:
        server.close()
    assert result == CaptchaResult(CaptchaVerdict.UNAVAILABLE, "status 307")
    assert standin.received == []


def test_a_borrowed_client_is_bounded_by_the_timeout_too(standin: SiteverifyStandIn) -> None:
    """An SDK user's own client (no deadline transport, httpx's 5 s default): each attempt is still given only
    what is left of the verification's bound."""
    standin.delay_seconds = 1.5
    with httpx.Client() as borrowed:
        result = verifier(standin.url, http=borrowed, timeout_seconds=0.3).verify(
            DUMMY_TOKEN, remote_ip="203.0.113.9", deadline=None
        )
    assert result == CaptchaResult(CaptchaVerdict.UNAVAILABLE, "timeout")


def test_the_default_timeout_is_the_documented_2_seconds() -> None:
    """docs/configuration.md: ``CONTACT_TURNSTILE_TIMEOUT_MS`` defaults to 2000, and so does the class."""
    built = TurnstileVerifier(secret=lambda: PASS_SECRET, hostnames={"example.com"}, action=None)
    try:
        assert built.timeout_seconds == 2.0
    finally:
        built.close()
