"""A loopback HTTP reverse proxy that browns out one upstream: healthy, slow or hanging, switched at runtime.

Dev tooling only: the runtime never imports it. The fault suite, the fault table and the local stack put it
in front of one dependency of the service, so that only that one degrades::

    service ──HTTP/1.1──▶ BrownoutProxy (127.0.0.1:port) ──▶ upstream: moto (one AWS service), the Resend
                                                                sandbox, or the siteverify stand-in

boto3 reaches it through the service-specific endpoint variable (boto3 >= 1.28), which wins over
``AWS_ENDPOINT_URL`` for that service alone: ``AWS_ENDPOINT_URL_DYNAMODB``, ``AWS_ENDPOINT_URL_SQS``,
``AWS_ENDPOINT_URL_SSM`` (:data:`ENDPOINT_VARIABLES`). Resend and siteverify take its URL as their base URL.

Modes (:class:`Mode`), switched at any time from any thread:

===========  ==========================================================================================
``healthy``  every request is forwarded at once and its answer passed back at once
``slow:N``   the request is forwarded at once (the upstream acts on it: a write is made), and its answer
             is held back until N seconds after the request arrived -- a brownout, the way a degraded
             region behaves (a closed port fails in microseconds and proves nothing)
``hang``     the request is held, never forwarded and never answered
===========  ==========================================================================================

A held request is judged again against the *current* mode while it waits (every
:data:`POLL_SECONDS`): switching back to ``healthy`` releases every held request at once (a hung one is
forwarded then), switching to ``slow:N`` releases those that arrived N seconds ago or more.
:meth:`BrownoutProxy.stop` closes every connection, held or idle, without an answer, within
:data:`POLL_SECONDS`, and releases the port.

Every request is recorded as an :class:`Exchange`: when it arrived (on the injectable ``clock``), its
method and path, the AWS operation it asks for (``X-Amz-Target`` for the JSON protocols of DynamoDB, SQS
and SSM, the ``Action`` parameter for the query protocol), the mode it met, when it was forwarded and
answered and with what status, and when the client **gave up**: closed its connection before the
answer came (what a caller that bounds its calls does). :meth:`BrownoutProxy.pending` lists the requests
still held with a client waiting on them.

HTTP/1.1 with keep-alive on both sides, request bodies of any size (``Content-Length`` or chunked), the
upstream's answer passed back whole with its own headers (hop-by-hop ones excepted). It listens on, and
forwards to, loopback only.

Example::

    with BrownoutProxy(moto_url) as proxy:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.url
        proxy.set_mode(Mode.slow(30))
        ...  # the service under test calls DynamoDB
        [(e.operation, e.gave_up is not None) for e in proxy.exchanges()]  # [("UpdateItem", True), ...]
"""

from __future__ import annotations

import contextlib
import http.client
import math
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from contact_sdk.devtools.loopback import is_loopback

__all__ = [
    "DEPENDENCIES",
    "ENDPOINT_VARIABLES",
    "POLL_SECONDS",
    "BrownoutProxy",
    "Exchange",
    "Mode",
    "aws_operation",
    "parse_target",
]

#: How often a held request looks at the mode, the clock, its client and a stop: the granularity of every
#: release, of noticing that a client gave up, and of :meth:`BrownoutProxy.stop`.
POLL_SECONDS = 0.02
#: The service-specific endpoint variable boto3 reads for each AWS service the contact service calls.
ENDPOINT_VARIABLES = {
    "dynamodb": "AWS_ENDPOINT_URL_DYNAMODB",
    "sqs": "AWS_ENDPOINT_URL_SQS",
    "ssm": "AWS_ENDPOINT_URL_SSM",
}
#: The service's dependencies one proxy can stand in front of (``--brownout`` of the local stack and the fault table).
DEPENDENCIES = ("dynamodb", "sqs", "ssm", "siteverify", "resend")
#: Headers that belong to one connection, not to the message (RFC 9110 §7.6.1), plus the ones rewritten here.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",  # answered here (100 Continue); the upstream gets the whole body at once
    }
)
_HEALTHY, _SLOW, _HANG = "healthy", "slow", "hang"


@dataclass(frozen=True, slots=True)
class Mode:
    """How the proxy treats a request: :meth:`healthy`, :meth:`slow` or :meth:`hang`."""

    kind: str
    #: For ``slow``: seconds from a request's arrival to its answer.
    seconds: float = 0.0

    @classmethod
    def healthy(cls) -> Mode:
        """Forward at once, answer at once."""
        return cls(_HEALTHY)

    @classmethod
    def slow(cls, seconds: float) -> Mode:
        """Forward at once, hold the answer until ``seconds`` after the request arrived (> 0, finite)."""
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a slow mode needs a delay in seconds above zero, not {seconds!r}")
        return cls(_SLOW, float(seconds))

    @classmethod
    def hang(cls) -> Mode:
        """Hold the request: never forwarded, never answered."""
        return cls(_HANG)

    @classmethod
    def parse(cls, text: str) -> Mode:
        """``healthy``, ``hang`` or ``slow:SECONDS`` (``slow:10``, ``slow:2.5``); a clear ``ValueError`` otherwise."""
        kind, _, seconds = text.strip().partition(":")
        if kind in (_HEALTHY, _HANG) and not seconds:
            return cls(kind)
        if kind == _SLOW and seconds:
            try:
                delay = float(seconds)
            except ValueError:
                delay = math.nan
            return cls.slow(delay)
        raise ValueError(f"expected healthy, hang or slow:SECONDS (e.g. slow:10), not {text!r}")

    def __post_init__(self) -> None:
        if self.kind not in (_HEALTHY, _SLOW, _HANG):
            raise ValueError(f"unknown brownout mode {self.kind!r}")

    @property
    def forwards_at_once(self) -> bool:
        """Whether a request arriving in this mode reaches the upstream at once."""
        return self.kind != _HANG

    def releases(self, arrived: float, now: float) -> bool:
        """Whether a request that arrived at ``arrived`` may be answered at ``now``."""
        if self.kind == _HEALTHY:
            return True
        if self.kind == _SLOW:
            return now >= arrived + self.seconds
        return False

    def __str__(self) -> str:
        return f"slow:{self.seconds:g}" if self.kind == _SLOW else self.kind


def parse_target(text: str) -> tuple[str, Mode]:
    """``DEPENDENCY:MODE`` -> ``(dependency, mode)``: ``dynamodb:slow:10``, ``sqs:hang``, ``ssm:healthy``."""
    dependency, separator, mode = text.strip().partition(":")
    if dependency not in DEPENDENCIES or not separator:
        raise ValueError(
            f"expected DEPENDENCY:MODE with DEPENDENCY one of {', '.join(DEPENDENCIES)} "
            f"(e.g. dynamodb:slow:10, sqs:hang), not {text!r}"
        )
    return dependency, Mode.parse(mode)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request through the proxy, as far as it got. Times are on the proxy's clock."""

    number: int
    method: str
    path: str
    #: The AWS operation (``PutItem``, ``SendMessage``, ``GetParameter``...), ``None`` for other HTTP APIs.
    operation: str | None
    #: The mode in force when it arrived.
    mode: Mode
    arrived: float
    #: When it was handed to the upstream (``None``: never, e.g. held in ``hang``).
    forwarded: float | None = None
    #: When its answer began to be written back, and the answer's status (``502`` when the upstream failed).
    answered: float | None = None
    status: int | None = None
    #: When the client closed its connection before an answer came.
    gave_up: float | None = None
    #: When :meth:`BrownoutProxy.stop` closed it unanswered.
    dropped: float | None = None

    @property
    def pending(self) -> bool:
        """Still held, with a client waiting on it."""
        return self.answered is None and self.gave_up is None and self.dropped is None

    @property
    def label(self) -> str:
        """``UpdateItem`` for AWS calls, ``POST /emails`` for others."""
        return self.operation or f"{self.method} {self.path.split('?', 1)[0]}"


def aws_operation(headers: Any, path: str, body: bytes) -> str | None:
    """The AWS operation a request asks for: ``X-Amz-Target``'s last part, or the query protocol's ``Action``."""
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1] or None
    query = urlsplit(path).query
    actions = parse_qs(query).get("Action")
    if not actions and "application/x-www-form-urlencoded" in str(headers.get("Content-Type", "")).lower():
        actions = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return actions[0] if actions else None


def _require_loopback(host: str, what: str) -> None:
    if not is_loopback(host):
        raise ValueError(f"the brownout proxy works on loopback only; {what} {host!r} is not a loopback address")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "brownout-proxy"
    server: _Server
    _upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: every request is kept as an :class:`Exchange` instead."""

    def setup(self) -> None:
        super().setup()
        self.server.proxy._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._closed(self.connection)
            if self._upstream is not None:
                self._upstream.close()

    # -- one request -------------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers: dropped, as hop-by-hop
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _relay(self) -> None:
        proxy = self.server.proxy
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        exchange = proxy._arrive(self.command, self.path, aws_operation(self.headers, self.path, body))
        number = exchange.number
        answer: tuple[int, str, list[tuple[str, str]], bytes] | None = None
        if exchange.mode.forwards_at_once:
            answer = self._forward(number, body)
        if not self._hold(number, exchange.arrived):
            self.close_connection = True
            return
        if answer is None:
            answer = self._forward(number, body)
        if self._client_gone():
            proxy._update(number, gave_up=proxy.clock())
            self.close_connection = True
            return
        status, reason, headers, content = answer
        # Recorded before the first byte goes back: a client that has read its answer finds it in exchanges().
        proxy._update(number, answered=proxy.clock(), status=status)
        try:
            self.send_response_only(status, reason)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            if self.command == "HEAD":  # no body came, but the upstream's length is the answer's
                length = next((v for n, v in headers if n.lower() == "content-length"), "0")
            else:
                length = str(len(content))
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)
            self.wfile.flush()
        except OSError:
            proxy._update(number, answered=None, status=None, gave_up=proxy.clock())
            self.close_connection = True

    do_DELETE = do_GET = do_HEAD = do_OPTIONS = do_PATCH = do_POST = do_PUT = _relay  # noqa: N815 - stdlib dispatch names

    def _forward(self, number: int, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Hand the request to the upstream; its answer, or a ``502`` that says why there is none."""
        proxy = self.server.proxy
        proxy._update(number, forwarded=proxy.clock())
        while True:
            reused = self._upstream is not None
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=proxy.upstream_timeout
                )
            upstream = self._upstream
            try:
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        upstream.putheader(name, value)
                if body or self.command in ("POST", "PUT", "PATCH"):
                    upstream.putheader("Content-Length", str(len(body)))
                upstream.endheaders(body)
                response = upstream.getresponse()
                content = response.read()
                if response.will_close:
                    upstream.close()
                    self._upstream = None
                return response.status, response.reason, response.getheaders(), content
            except (OSError, http.client.HTTPException) as exc:
                upstream.close()
                self._upstream = None
                # A kept-alive upstream connection the upstream closed meanwhile: once more on a fresh one.
                if reused and isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError):
                    continue
                message = f'{{"error": "brownout proxy: the upstream failed: {type(exc).__name__}"}}'
                return 502, "Bad Gateway", [("Content-Type", "application/json")], message.encode()

    def _hold(self, number: int, arrived: float) -> bool:
        """Wait until the current mode releases the request; ``False`` if the client gave up or the proxy stopped."""
        proxy = self.server.proxy
        while True:
            if proxy._stopping.is_set():
                proxy._update(number, dropped=proxy.clock())
                return False
            if proxy.mode.releases(arrived, proxy.clock()):
                return True
            if self._client_gone(wait=POLL_SECONDS):
                # stop() shuts the connection down from this side: that is a drop, not the client giving up.
                what = "dropped" if proxy._stopping.is_set() else "gave_up"
                proxy._update(number, **{what: proxy.clock()})
                return False

    def _client_gone(self, *, wait: float = 0.0) -> bool:
        """Whether the client closed its connection (waits up to ``wait`` for a sign either way)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], wait)
            if not readable:
                return False
            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                return True
        except (OSError, ValueError):
            return True
        # The client sent more (a pipelined request): it is still there; do not spin on the readable socket.
        time.sleep(wait)
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], proxy: BrownoutProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)


class BrownoutProxy:
    """The proxy; see the module docstring. Thread-safe: switch its mode and read its records from any thread."""

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: Mode | None = None,
        clock: Callable[[], float] = time.monotonic,
        upstream_timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL on loopback, not {upstream!r}")
        _require_loopback(parts.hostname, "upstream")
        _require_loopback(host, "host")
        self.upstream = f"http://{parts.netloc}"
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_timeout = upstream_timeout
        self.clock = clock
        self._mode = mode or Mode.healthy()
        self._lock = threading.Condition()
        self._exchanges: dict[int, Exchange] = {}
        self._arrivals = 0
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    # -- the mode ----------------------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """The mode in force now."""
        with self._lock:
            return self._mode

    def set_mode(self, mode: Mode) -> None:
        """Switch the mode; held requests are judged against it within :data:`POLL_SECONDS`."""
        with self._lock:
            self._mode = mode

    # -- where it is -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the endpoint to give the client instead of the upstream's."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- what it saw -------------------------------------------------------------------------------------

    def exchanges(self) -> list[Exchange]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._exchanges.values())

    def pending(self) -> list[Exchange]:
        """The requests still held with a client waiting on them."""
        return [exchange for exchange in self.exchanges() if exchange.pending]

    def settle(self, timeout: float) -> list[Exchange]:
        """Wait up to ``timeout`` (real) seconds for no request to be pending; those still pending then."""
        end = time.monotonic() + timeout
        with self._lock:
            while True:
                pending = [exchange for exchange in self._exchanges.values() if exchange.pending]
                left = end - time.monotonic()
                if not pending or left <= 0:
                    return pending
                self._lock.wait(min(left, POLL_SECONDS))

    def clear(self) -> None:
        """Forget the requests recorded so far (held ones keep being served, unrecorded)."""
        with self._lock:
            self._exchanges.clear()

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> BrownoutProxy:
        """Serve from a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": POLL_SECONDS},
                name=f"brownout-proxy-{self._server.server_address[1]}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection unanswered, stop serving and release the port. Safe to call twice."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # idle keep-alive connections wait in a read: end it
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        end = time.monotonic() + 1.0
        with self._lock:  # held requests notice the stop within POLL_SECONDS and close their connections
            while self._connections and time.monotonic() < end:
                self._lock.wait(POLL_SECONDS)
        self._server.server_close()

    def __enter__(self) -> BrownoutProxy:
        """Start on entry."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop on exit."""
        self.stop()

    # -- bookkeeping, called by the handler threads -------------------------------------------------------

    def _arrive(self, method: str, path: str, operation: str | None) -> Exchange:
        arrived = self.clock()
        with self._lock:
            self._arrivals += 1
            exchange = Exchange(
                number=self._arrivals, method=method, path=path, operation=operation, mode=self._mode, arrived=arrived
            )
            self._exchanges[exchange.number] = exchange
            self._lock.notify_all()
        return exchange

    def _update(self, number: int, **changes: Any) -> None:
        with self._lock:
            exchange = self._exchanges.get(number)
            if exchange is not None:  # None: cleared meanwhile, nothing to record
                self._exchanges[number] = replace(exchange, **changes)
            self._lock.notify_all()

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)
        if self._stopping.is_set():
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)
            self._lock.notify_all()
