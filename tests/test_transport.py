"""The deadline-bounded transport against loopback servers that trickle, hang and stall.

The deadlines here are a second or less and the servers' own pace far slower (a byte every 0.3 s, never,
a connect that is never accepted), so that an exchange can only end in time if the transport cut it. The
bound checked is generous (the deadline plus 0.75 s of scheduling on a shared machine): whether it ended
*because* of the cut shows in the error and in the server seeing the hang-up, not in the timing.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from contact_sdk.deadline import Deadline, within
from contact_sdk.resend import OutgoingEmail, ResendClient
from contact_sdk.security.turnstile import TurnstileVerifier
from contact_sdk.transport import ApiClient, DeadlineTransport, cut_timeout, shared_ssl_context
from tests.budget.slow_servers import body_server, stalled_connect_server

pytestmark = pytest.mark.integration

ALLOWANCE_S = 0.75


@pytest.fixture
def http() -> Any:
    client = httpx.Client(transport=DeadlineTransport(), timeout=10.0)
    yield client
    client.close()


def test_a_trickled_body_is_cut_at_the_deadline_and_its_connection_closed(http: httpx.Client) -> None:
    """A byte every 0.3 s never trips a 10 s read timeout; the 1 s deadline cuts it, and the server sees the hang-up."""
    hung_up: list[float] = []
    with body_server(byte_every=0.3, hung_up=hung_up) as url:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout), within(Deadline.after(1.0)):
            http.get(url)
        ended = time.monotonic()
        for _ in range(50):
            if hung_up:
                break
            time.sleep(0.02)
    assert ended - started < 1.0 + ALLOWANCE_S
    assert hung_up and hung_up[0] <= ended + 0.1


def test_a_hang_after_the_headers_is_cut_at_the_deadline(http: httpx.Client) -> None:
    """Headers at once, then silence: a read timeout at the deadline, not after 10 s."""
    with body_server(byte_every=None) as url:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout), within(Deadline.after(0.5)):
            http.get(url)
    assert time.monotonic() - started < 0.5 + ALLOWANCE_S


def test_a_connect_that_is_never_accepted_is_cut_at_the_deadline(http: httpx.Client) -> None:
    """A SYN nobody answers: a connect timeout at the deadline."""
    with stalled_connect_server() as url:
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout), within(Deadline.after(0.5)):
            http.get(url)
    assert time.monotonic() - started < 0.5 + ALLOWANCE_S


@pytest.mark.parametrize("step", ["connect", "read"])
def test_inside_a_scope_a_shorter_timeout_of_the_callers_own_still_applies(step: str) -> None:
    """3 s left of the deadline, but the caller's own connect or read timeout is 0.3 s: that one ends the call
    (the transport only ever shortens a timeout), with the error of the step that overran."""
    timeout = httpx.Timeout(10.0, connect=0.3) if step == "connect" else httpx.Timeout(10.0, read=0.3)
    expected = httpx.ConnectTimeout if step == "connect" else httpx.ReadTimeout
    with (
        httpx.Client(transport=DeadlineTransport(), timeout=timeout) as client,
        stalled_connect_server() if step == "connect" else body_server(byte_every=None) as url,
    ):
        started = time.monotonic()
        with pytest.raises(expected), within(Deadline.after(3.0)):
            client.get(url)
    assert time.monotonic() - started < 0.3 + ALLOWANCE_S


def test_a_read_begun_after_the_deadline_is_a_read_timeout(http: httpx.Client) -> None:
    """The answer's headers have come and, by then, the deadline has passed (on the scope's clock): its body is
    not waited for, and the error names the read, not the connect."""
    clock = [10.0]

    def late(response: httpx.Response) -> None:
        clock[0] = 11.0  # the headers are in (httpx calls this before reading the body); nothing is left

    http.event_hooks["response"] = [late]
    with (
        body_server(byte_every=0.001) as url,
        pytest.raises(httpx.ReadTimeout, match="deadline passed before the read"),
        within(Deadline(10.5, lambda: clock[0])),
    ):
        http.get(url)


def test_a_passed_deadline_sends_nothing(http: httpx.Client) -> None:
    """No time left: the connect is refused before a socket is opened; the server never sees a request."""
    clock = [10.0]
    hung_up: list[float] = []
    with (
        body_server(byte_every=0.001, hung_up=hung_up) as url,
        pytest.raises(httpx.ConnectTimeout, match="deadline passed"),
        within(Deadline(10.0, lambda: clock[0])),
    ):
        http.get(url)
    assert hung_up == []


def test_outside_a_scope_the_calls_own_timeouts_apply(http: httpx.Client) -> None:
    """No deadline in force: a prompt trickle is read in full; the client's own read timeout is what bounds it."""
    with body_server(byte_every=0.001) as url:
        assert http.get(url).json() == {"id": "trickled-0000"}
    assert cut_timeout(3.0) == 3.0 and cut_timeout(None) is None


def test_inside_a_scope_each_timeout_is_cut_to_what_is_left() -> None:
    """With 1.5 s left, a 10 s timeout becomes 1.5 s, a 0.2 s one stays, and "no limit" becomes 1.5 s."""
    clock = [0.0]
    with within(Deadline(1.5, lambda: clock[0])):
        assert (cut_timeout(10.0), cut_timeout(0.2), cut_timeout(None)) == (1.5, 0.2, 1.5)


def test_nothing_is_left_running_after_a_cut(http: httpx.Client) -> None:
    """The exchange ran in the caller's thread: no thread of the client's outlives the call."""
    with body_server(byte_every=None) as url:
        before = {t for t in threading.enumerate() if not t.daemon}
        with pytest.raises(httpx.ReadTimeout), within(Deadline.after(0.3)):
            http.get(url)
        assert {t for t in threading.enumerate() if not t.daemon} == before


def test_a_transport_whose_pool_hides_its_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """If httpx or httpcore stopped keeping the network backend where the transport hands it over, calls could
    not be bounded: the transport refuses to be built rather than silently unbounding every call."""

    def pool_without_backend(self: httpx.HTTPTransport, **_: Any) -> None:
        self._pool = SimpleNamespace()  # type: ignore[assignment]

    monkeypatch.setattr(httpx.HTTPTransport, "__init__", pool_without_backend)
    with pytest.raises(RuntimeError, match="could not be bounded"):
        DeadlineTransport()


def test_default_transports_share_one_verifying_tls_context() -> None:
    """Transports built with the default verification verify certificates and host names with one shared context
    (a cold start reads the CA bundle once, not once per Resend, DynamoDB and Parameter Store client)."""
    first, second = DeadlineTransport(), DeadlineTransport()
    contexts = [transport._pool._ssl_context for transport in (first, second)]
    assert contexts[0] is contexts[1] is shared_ssl_context()
    assert contexts[0] is not None and contexts[0].verify_mode == ssl.CERT_REQUIRED and contexts[0].check_hostname


def test_a_transport_given_its_own_verification_keeps_it() -> None:
    """A caller that says how to verify (here: not at all, for a test server) gets exactly that, not the shared one."""
    transport = DeadlineTransport(verify=False)
    context = transport._pool._ssl_context
    assert context is not None and context is not shared_ssl_context()
    assert context.verify_mode == ssl.CERT_NONE


@contextmanager
def cookie_setting_server(answer: dict[str, Any]) -> Iterator[tuple[str, list[str | None]]]:
    """Answers every request 200 with ``answer`` and a ``Set-Cookie`` (as a CDN in front of an API may);
    yields its URL and the ``Cookie`` header of each request it got (``None``: none sent)."""
    cookies_sent: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            cookies_sent.append(self.headers.get("Cookie"))
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Set-Cookie", "__cf_bm=visitor-one; Path=/; HttpOnly")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", cookies_sent
    finally:
        server.shutdown()
        server.server_close()


def test_an_api_client_neither_keeps_nor_sends_back_a_cookie() -> None:
    """A plain ``httpx.Client`` sends the server's cookie back on its next request; an ``ApiClient`` does not."""
    with cookie_setting_server({}) as (url, cookies_sent):
        with httpx.Client() as plain:
            plain.get(url)
            plain.get(url)
        assert cookies_sent == [None, "__cf_bm=visitor-one"]  # the server's cookie would be carried
        cookies_sent.clear()
        with ApiClient(transport=DeadlineTransport()) as client:
            first = client.get(url)
            client.get(url)
            assert dict(client.cookies) == {}
    assert cookies_sent == [None, None]
    assert first.headers["set-cookie"].startswith("__cf_bm=")  # the answer itself is untouched


def test_an_api_client_refuses_cookies_handed_to_it() -> None:
    """Cookies given at construction or set later are refused, not silently dropped."""
    with pytest.raises(TypeError, match="keeps no cookies"):
        ApiClient(cookies={"session": "x"})
    with ApiClient() as client, pytest.raises(TypeError, match="keeps no cookies"):
        client.cookies = {"session": "x"}  # type: ignore[assignment]


def test_the_resend_client_and_the_turnstile_verifier_send_no_cookie_back() -> None:
    """The clients the runtime builds for Resend and siteverify carry no cookie from one visitor's request to
    the next."""
    email = OutgoingEmail(sender="Contact <no-reply@example.com>", to=("me@example.com",), subject="Hi", text="Hello")
    with cookie_setting_server({"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"}) as (url, cookies_sent):
        resend = ResendClient(api_key="re_test_key", base_url=url)
        try:
            resend.send(email)
            resend.send(email)
        finally:
            resend.close()
    assert cookies_sent == [None, None]
    answer = {"success": True, "hostname": "example.com", "action": "contact"}
    with cookie_setting_server(answer) as (url, cookies_sent):
        verifier = TurnstileVerifier(secret=lambda: "s", hostnames=["example.com"], action="contact", url=url)
        try:
            for _ in range(2):
                verdict = verifier.verify("token", remote_ip="203.0.113.9", deadline=Deadline.after(5.0)).verdict
                assert verdict == "passed"
        finally:
            verifier.close()
    assert cookies_sent == [None, None]
