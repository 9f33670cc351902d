"""The deadline-bounded transport against loopback servers that trickle, hang and stall.

The deadlines here are a second or less and the servers' own pace far slower (a byte every 0.3 s, never,
a connect that is never accepted), so that an exchange can only end in time if the transport cut it. The
bound checked is generous (the deadline plus 0.75 s of scheduling on a shared machine): whether it ended
*because* of the cut shows in the error and in the server seeing the hang-up, not in the timing.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from contact_sdk.deadline import Deadline, within
from contact_sdk.resend import OutgoingEmail, ResendClient
from contact_sdk.security.turnstile import TurnstileVerifier
from contact_sdk.transport import ApiClient, DeadlineBackend, DeadlineTransport, cut_timeout, shared_ssl_context
from tests.budget.slow_servers import body_server, stalled_connect_server, unread_server
from tests.faults.conftest import closed_port

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
        pytest.raises(httpx.ConnectTimeout, match=r"^the request's deadline passed before the connect$"),
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


@pytest.mark.parametrize("moved", ["the backend", "the pool"])
def test_a_transport_whose_pool_hides_its_backend_is_refused(moved: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """If httpx or httpcore stopped keeping the network backend (or the pool) where the transport hands it over,
    calls could not be bounded: the transport refuses to be built rather than silently unbounding every call."""

    def pool_without_backend(self: httpx.HTTPTransport, **_: Any) -> None:
        if moved == "the backend":
            self._pool = SimpleNamespace()  # type: ignore[assignment]

    monkeypatch.setattr(httpx.HTTPTransport, "__init__", pool_without_backend)
    message = "this httpx/httpcore keeps its network backend elsewhere: calls could not be bounded by a deadline"
    with pytest.raises(RuntimeError, match=f"^{message}$"):
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


@pytest.mark.parametrize("option", [{"cert": None}, {"trust_env": False}])
def test_a_transport_given_any_tls_option_builds_its_own_context(option: dict[str, Any]) -> None:
    """``cert`` and ``trust_env`` also shape the context httpx builds (a client certificate, ``SSL_CERT_FILE``), so
    a transport given either builds its own rather than sharing one built without them."""
    context = DeadlineTransport(**option)._pool._ssl_context
    assert context is not None and context is not shared_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("bound", ["the call's own write timeout", "the deadline"])
def test_a_write_that_blocks_is_cut(bound: str) -> None:
    """A server that stops reading (its buffers full) blocks the upload: the call's own write timeout (no deadline
    in force) or the deadline (the call's own is 10 s) ends it with a write timeout, not the server's hang-up."""
    timeout = httpx.Timeout(10.0, write=0.3) if bound == "the call's own write timeout" else httpx.Timeout(10.0)
    scope = within(Deadline.after(0.3)) if bound == "the deadline" else within(None)
    with (
        unread_server(hold_seconds=5.0) as url,
        httpx.Client(transport=DeadlineTransport(), timeout=timeout) as client,
        pytest.raises(httpx.WriteTimeout),
        scope,
    ):
        client.post(url, content=b"x" * (32 * 1024 * 1024))


def test_a_write_begun_after_the_deadline_is_a_write_timeout(http: httpx.Client) -> None:
    """On a kept-alive connection the first step is the write: with no time left it is refused as a write timeout
    before a byte goes out, and the server sees the one request made in time."""
    clock = [10.0]
    with JsonServer({"id": "pooled"}) as server:
        assert http.get(server.url).json() == {"id": "pooled"}  # opens the connection the pool keeps
        with (
            pytest.raises(httpx.WriteTimeout, match=r"^the request's deadline passed before the write$"),
            within(Deadline(10.0, lambda: clock[0])),
        ):
            http.get(server.url)
    assert len(server.clients) == 1


def test_a_connection_the_server_closed_while_idle_is_not_reused(http: httpx.Client) -> None:
    """A server may close an idle kept-alive connection without a word: the pool sees the socket closed (the
    transport's streams report it) and opens a new one instead of sending into the dead one."""
    with JsonServer({"id": "again"}, close_after=True) as server:
        assert http.get(server.url).json() == {"id": "again"}
        assert server.closed.wait(2.0)
        assert http.get(server.url).json() == {"id": "again"}
    assert len(server.clients) == 2


def test_socket_options_reach_the_socket() -> None:
    """``socket_options`` given to the transport are set on its connections (read back from the socket itself)."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    with (
        JsonServer({"id": "options"}) as server,
        httpx.Client(transport=DeadlineTransport(socket_options=options)) as client,
        client.stream("GET", server.url) as response,
    ):
        connection = response.extensions["network_stream"].get_extra_info("socket")
        assert connection.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0


@pytest.mark.skipif(sys.platform != "linux", reason="the whole of 127.0.0.0/8 is local only on Linux")
def test_a_local_address_is_the_connections_source() -> None:
    """``local_address`` given to the transport is the address the server sees the connection come from."""
    with (
        JsonServer({"id": "source"}) as server,
        httpx.Client(transport=DeadlineTransport(local_address="127.0.0.2")) as client,
    ):
        client.get(server.url)
    assert server.clients == ["127.0.0.2"]


def test_a_backend_built_alone_wraps_httpcores_default() -> None:
    """``DeadlineBackend()`` without a backend of its own connects with httpcore's: an exchange goes through."""
    with JsonServer({"id": "alone"}) as server:
        port = int(server.url.rsplit(":", 1)[1])
        stream = DeadlineBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
        try:
            stream.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout=2.0)
            answer = b""
            while chunk := stream.read(65536, timeout=2.0):
                answer += chunk
        finally:
            stream.close()
    assert answer.startswith(b"HTTP/1.0 200") or answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b'{"id": "alone"}')


class JsonServer:
    """A loopback HTTP/1.1 server answering every request 200 with ``answer`` (keep-alive), optionally setting a
    cookie (as a CDN in front of an API may) or closing each connection after its answer without saying so (as a
    server does to an idle keep-alive connection). Keeps each request's ``Cookie`` header and source address."""

    def __init__(
        self,
        answer: dict[str, Any],
        *,
        set_cookie: str | None = None,
        close_after: bool = False,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.cookies_sent: list[str | None] = []
        self.clients: list[str] = []
        self.closed = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.cookies_sent.append(self.headers.get("Cookie"))
                owner.clients.append(self.client_address[0])
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if set_cookie is not None:
                    self.send_header("Set-Cookie", set_cookie)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                if close_after:
                    self.close_connection = True  # without "Connection: close": the client cannot know

            def log_message(self, *args: Any) -> None:
                return

        class Server(ThreadingHTTPServer):
            def shutdown_request(self, request: Any) -> None:
                super().shutdown_request(request)
                owner.closed.set()

        self._server = Server((host, 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://{host}:{self._server.server_address[1]}"

    def __enter__(self) -> JsonServer:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


COOKIE = "__cf_bm=visitor-one; Path=/; HttpOnly"


def test_an_api_client_neither_keeps_nor_sends_back_a_cookie() -> None:
    """A plain ``httpx.Client`` sends the server's cookie back on its next request; an ``ApiClient`` does not."""
    with JsonServer({}, set_cookie=COOKIE) as server:
        with httpx.Client() as plain:
            plain.get(server.url)
            plain.get(server.url)
        assert server.cookies_sent == [None, "__cf_bm=visitor-one"]  # the server's cookie would be carried
        server.cookies_sent.clear()
        with ApiClient(transport=DeadlineTransport()) as client:
            first = client.get(server.url)
            client.get(server.url)
            assert dict(client.cookies) == {}
    assert server.cookies_sent == [None, None]
    assert first.headers["set-cookie"].startswith("__cf_bm=")  # the answer itself is untouched


def test_an_api_client_refuses_cookies_handed_to_it() -> None:
    """Cookies given at construction or set later are refused, not silently dropped."""
    with pytest.raises(TypeError, match=r"^an ApiClient keeps no cookies$"):
        ApiClient(cookies={"session": "x"})
    with ApiClient() as client, pytest.raises(TypeError, match=r"^an ApiClient keeps no cookies$"):
        client.cookies = {"session": "x"}  # type: ignore[assignment]


def test_the_resend_client_and_the_turnstile_verifier_send_no_cookie_back() -> None:
    """The clients the runtime builds for Resend and siteverify carry no cookie from one visitor's request to
    the next."""
    email = OutgoingEmail(sender="Contact <no-reply@example.com>", to=("me@example.com",), subject="Hi", text="Hello")
    with JsonServer({"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"}, set_cookie=COOKIE) as server:
        resend = ResendClient(api_key="re_test_key", base_url=server.url)
        try:
            resend.send(email)
            resend.send(email)
        finally:
            resend.close()
    assert server.cookies_sent == [None, None]
    answer = {"success": True, "hostname": "example.com", "action": "contact"}
    with JsonServer(answer, set_cookie=COOKIE) as server:
        verifier = TurnstileVerifier(secret=lambda: "s", hostnames=["example.com"], action="contact", url=server.url)
        try:
            for _ in range(2):
                verdict = verifier.verify("token", remote_ip="203.0.113.9", deadline=Deadline.after(5.0)).verdict
                assert verdict == "passed"
        finally:
            verifier.close()
    assert server.cookies_sent == [None, None]


@pytest.mark.skipif(sys.platform != "linux", reason="the whole of 127.0.0.0/8 is local only on Linux")
def test_a_connection_goes_to_the_host_asked() -> None:
    """The wrapped backend connects to the request's host (here 127.0.0.2, where nothing else listens)."""
    with JsonServer({"id": "host"}, host="127.0.0.2") as server, httpx.Client(transport=DeadlineTransport()) as client:
        assert client.get(server.url).json() == {"id": "host"}


@dataclass(frozen=True)
class Tls:
    """A self-signed certificate for 127.0.0.1: the server's context and a client context that trusts it."""

    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=folder / "cert.pem")
    return Tls(server=server, client=client)


def test_a_tls_exchange_goes_through_the_wrapped_stream(tls: Tls) -> None:
    """HTTPS through the transport: the handshake runs on the wrapped stream, and the connection it leaves is one
    (TLS 1.2 or later, the server's certificate verified)."""
    with (
        JsonServer({"id": "tls"}, tls=tls.server) as server,
        httpx.Client(transport=DeadlineTransport(verify=tls.client)) as client,
        within(Deadline.after(5.0)),
        client.stream("GET", server.url) as response,
    ):
        response.read()
        tls_object = response.extensions["network_stream"].get_extra_info("ssl_object")
        assert response.json() == {"id": "tls"}
        assert tls_object is not None and tls_object.version() in ("TLSv1.2", "TLSv1.3")


def test_a_tls_handshake_with_no_time_left_is_refused(tls: Tls) -> None:
    """The connect took what was left of the deadline: the handshake is refused before it starts, as a connect
    timeout naming the TLS handshake."""
    clock = [9.0]

    def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            clock[0] = 10.0

    with (
        JsonServer({"id": "tls"}, tls=tls.server) as server,
        httpx.Client(transport=DeadlineTransport(verify=tls.client)) as client,
        pytest.raises(httpx.ConnectTimeout, match=r"^the request's deadline passed before the TLS handshake$"),
        within(Deadline(10.0, lambda: clock[0])),
    ):
        client.get(server.url, extensions={"trace": trace})
    assert server.clients == []


@pytest.mark.parametrize("bound", ["the deadline", "the call's own connect timeout"])
def test_a_stalled_tls_handshake_is_cut(tls: Tls, bound: str) -> None:
    """The server takes the connection and never answers the ClientHello: a 0.3 s deadline (the call's own connect
    timeout 10 s), or with no deadline in force the call's own 0.3 s connect timeout, ends the handshake with a
    connect timeout (the server would hang up after 5 s)."""
    timeout = httpx.Timeout(10.0, connect=0.3) if bound == "the call's own connect timeout" else httpx.Timeout(10.0)
    scope = within(Deadline.after(0.3)) if bound == "the deadline" else within(None)
    with (
        unread_server(hold_seconds=5.0) as url,
        httpx.Client(transport=DeadlineTransport(verify=tls.client), timeout=timeout) as client,
    ):
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout), scope:
            client.get(url.replace("http://", "https://"))
    assert time.monotonic() - started < 0.3 + ALLOWANCE_S


class _UnixHttpServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def test_http_over_a_unix_socket_keeps_the_deadline(tmp_path: Path) -> None:
    """A transport built with ``uds=`` connects through the wrapped backend: an exchange goes through with the
    transport's socket options, and with no time left the connect is refused before the socket is opened."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def address_string(self) -> str:
            return "unix"

        def log_message(self, *args: Any) -> None:
            return

    path = str(tmp_path / "api.sock")
    server = _UnixHttpServer(path, Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    clock = [10.0]
    options = [(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)]
    try:
        with httpx.Client(transport=DeadlineTransport(uds=path, socket_options=options)) as client:
            with client.stream("GET", "http://api.local/") as response:
                connection = response.extensions["network_stream"].get_extra_info("socket")
                # the option reached the socket (Linux reports twice what was set; the default is far larger)
                assert connection.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) in (65536, 2 * 65536)
                response.read()
            assert response.json() == {}
            with (
                pytest.raises(httpx.ConnectTimeout, match=r"^the request's deadline passed before the connect$"),
                within(Deadline(10.0, lambda: clock[0])),
            ):
                client.get("http://api.local/")
    finally:
        server.shutdown()
        server.server_close()


class _RecordingBackend:
    """Stands in for httpcore's backend: notes each pause it is asked for."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)


def test_the_pause_between_connect_retries_ends_by_the_deadline() -> None:
    """httpcore pauses between connect retries (``retries=``): the whole pause outside a deadline, what is left
    of it inside one, nothing once it has passed (the next connect is then refused at once)."""
    recording = _RecordingBackend()
    backend = DeadlineBackend(recording)  # type: ignore[arg-type]
    clock = [0.0]
    backend.sleep(2.0)
    with within(Deadline(0.3, lambda: clock[0])):
        backend.sleep(2.0)
        backend.sleep(0.1)
        clock[0] = 0.5
        backend.sleep(1.0)
    assert recording.pauses == [2.0, 0.3, 0.1, 0.0]


def test_connect_retries_pause_through_the_wrapped_backend() -> None:
    """A transport built with ``retries=1`` retries a refused connect once (its pause goes through the wrapped
    backend) and then reports the refusal."""
    with (
        httpx.Client(transport=DeadlineTransport(retries=1)) as client,
        pytest.raises(httpx.ConnectError),
        within(Deadline.after(5.0)),
    ):
        client.get(f"http://127.0.0.1:{closed_port()}/")
