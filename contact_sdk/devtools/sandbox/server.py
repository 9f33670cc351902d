"""The sandbox itself: a standard-library HTTP server speaking the Resend API on loopback.

:class:`ResendSandbox` wires the stores, the fault state, the API surface, the admin endpoints,
the inbox page and (optionally) the webhook dispatcher behind one ``ThreadingHTTPServer`` whose
request threads are daemons, so concurrent requests are served concurrently and a hung request
never blocks shutdown: every hang waits on the stop event, not ``time.sleep``.

Example::

    from contact_sdk.devtools.sandbox import ResendSandbox

    with ResendSandbox(api_key="re_test_key") as sandbox:
        httpx.post(f"{sandbox.url}/emails", headers={"Authorization": "Bearer re_test_key"}, json={...})
        sandbox.script(["500", "200"])
        assert sandbox.emails()[-1]["body"]["subject"] == "Hello"
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from contact_sdk.devtools.loopback import is_loopback
from contact_sdk.devtools.sandbox.admin import handle_admin
from contact_sdk.devtools.sandbox.api import (
    IDEMPOTENCY_ON_REFUSAL,
    Answer,
    ApiRequest,
    ResendApi,
    error_answer,
    json_answer,
)
from contact_sdk.devtools.sandbox.api_keys import ApiKeyStore
from contact_sdk.devtools.sandbox.attachments import AttachmentStore
from contact_sdk.devtools.sandbox.domains import DomainStore
from contact_sdk.devtools.sandbox.errors import ApiError
from contact_sdk.devtools.sandbox.faults import Faults, FaultState, parse_faults, parse_step
from contact_sdk.devtools.sandbox.page import PAGE_HEADERS, render_inbox
from contact_sdk.devtools.sandbox.receiving import ReceivingStore
from contact_sdk.devtools.sandbox.store import (
    DEFAULT_RATE_LIMIT,
    Clock,
    EmailRecord,
    EmailStore,
    IdempotencyStore,
    RateLimiter,
    RequestLog,
)
from contact_sdk.devtools.sandbox.webhook_sender import WebhookDispatcher, checked_delay, delivery_plan

__all__ = ["DEFAULT_API_KEY", "MAX_BODY_BYTES", "ResendSandbox", "is_loopback"]

#: The API key a sandbox accepts when none is given.
DEFAULT_API_KEY = "re_test_key"
#: Largest request body read; Resend's limit is 40 MB including attachments.
MAX_BODY_BYTES = 40 * 1024 * 1024


class ResendSandbox:
    """A local Resend API for tests, the local stack and load runs that must not send mail.

    Every argument is keyword-only. ``latency_ms``, ``failure_rate``, ``failure_status`` and
    ``failure_name`` are the common start-up faults; ``faults`` takes any other fault setting
    (same keys as ``POST /_sandbox/faults``). ``clock`` (epoch seconds) drives idempotency
    expiry, the rate window, the outage window, scheduled sends and timestamps. Delivery webhooks
    are sent only when ``webhook_url`` is set (with a ``whsec_`` ``webhook_secret``).

    ``rate_limit_per_second`` defaults to Resend's documented default (:data:`DEFAULT_RATE_LIMIT`);
    ``0`` or ``None`` turns the limit off. ``strict`` refuses unknown top-level fields in send
    bodies (Resend ignores them). ``domains`` are added at start, ``not_started``, for the domains API.
    ``idempotency_on_refusal`` says what a refused send (422, or 403 for an unverified sender domain)
    does to its ``Idempotency-Key``: ``"release"`` (default) gives it back, ``"record"`` keeps it with
    that payload and that refusal for 24 hours. ``require_verified_domain`` refuses, with Resend's 403,
    a ``from`` whose domain is not a ``verified`` domain of the domains API.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit_per_second: int | None = DEFAULT_RATE_LIMIT,
        latency_ms: tuple[float, float] | Sequence[float] | str | None = None,
        failure_rate: float = 0.0,
        failure_status: int = 500,
        failure_name: str = "internal_server_error",
        faults: Mapping[str, object] | None = None,
        clock: Clock = time.time,
        seed: int | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_delay_seconds: float = 0.2,
        webhook_retry_delays: Sequence[float] = (0.5, 2.0, 5.0),
        allow_non_loopback: bool = False,
        strict: bool = False,
        domains: Sequence[str] = (),
        idempotency_on_refusal: str = "release",
        require_verified_domain: bool = False,
    ) -> None:
        """Build the sandbox (nothing listens until :meth:`start`); bad settings raise ``ValueError``."""
        if not api_key:
            raise ValueError("api_key must not be empty")
        if not allow_non_loopback and not is_loopback(host):
            raise ValueError(f"refusing to listen on non-loopback host {host!r}: it is a test tool")
        if (webhook_url is None) != (webhook_secret is None):
            raise ValueError("webhook_url and webhook_secret go together")
        self._api_key = api_key
        self._host, self._port = host, port
        self._clock = clock
        self._stopping = threading.Event()
        start_faults: dict[str, object] = {
            "latency_ms": latency_ms if latency_ms is None or isinstance(latency_ms, str) else list(latency_ms),
            "failure_rate": failure_rate,
            "failure_status": failure_status,
            "failure_name": failure_name,
            **(faults or {}),
        }
        self._faults = FaultState(parse_faults(start_faults, now=clock()), Random(seed))  # noqa: S311 - chance only
        self._emails = EmailStore(clock)
        self._requests = RequestLog(clock)
        self._idempotency = IdempotencyStore(clock)
        self._limiter = RateLimiter(rate_limit_per_second, clock)
        self._domains = DomainStore(clock)
        for name in domains:
            self._domains.add(name)
        self._keys = ApiKeyStore(clock, first_token=api_key)
        self._attachments = AttachmentStore(clock, base_url=lambda: self.url)
        self._received = ReceivingStore(clock, self._attachments)
        self._dispatcher: WebhookDispatcher | None = None
        if webhook_url is not None and webhook_secret is not None:
            self._dispatcher = WebhookDispatcher(
                url=webhook_url,
                secret=webhook_secret,
                clock=clock,
                on_event=self._emails.set_last_event,
                delay_seconds=webhook_delay_seconds,
                retry_delays=webhook_retry_delays,
            )
        self._api = ResendApi(
            api_key=api_key,
            clock=clock,
            emails=self._emails,
            requests=self._requests,
            idempotency=self._idempotency,
            limiter=self._limiter,
            faults=self._faults,
            wait=self._stopping.wait,
            on_accept=self._accepted,
            domains=self._domains,
            strict=strict,
            keys=self._keys,
            attachments=self._attachments,
            receiving=self._received,
            base_url=lambda: self.url,
            idempotency_on_refusal=idempotency_on_refusal,
            require_verified_domain=require_verified_domain,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.log_requests = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ResendSandbox:
        """Bind and serve in a daemon thread; raises ``OSError`` when the port is taken."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self._host, self._port), _Handler)
        server.sandbox = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="resend-sandbox", daemon=True
        )
        self._thread.start()
        if self._dispatcher is not None:
            self._dispatcher.start()
        return self

    def stop(self) -> None:
        """Stop serving: hung requests end at once, open connections are closed. Idempotent."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._dispatcher is not None:
            self._dispatcher.stop()

    def serve_forever(self) -> None:
        """Start and block until interrupted (the command line's loop)."""
        self.start()
        try:
            while not self._stopping.wait(1.0):
                pass
        finally:
            self.stop()

    def __enter__(self) -> ResendSandbox:
        """Start on entry."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop on exit."""
        self.stop()

    # -- where it listens ---------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The host it listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The port it listens on (the real one once started with ``port=0``)."""
        if self._server is not None:
            return int(self._server.server_address[1])
        return self._port

    @property
    def url(self) -> str:
        """Base URL to give a Resend client, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def api_key(self) -> str:
        """The key it was started with (full access); keys made through ``POST /api-keys`` work too."""
        return self._api_key

    def api_keys(self) -> list[dict[str, object]]:
        """Every API key, oldest first: id, name, permission, domain_id (tokens are not shown)."""
        return [
            {"id": key.id, "name": key.name, "permission": key.permission, "domain_id": key.domain_id}
            for key in self._keys.all()
        ]

    # -- what it received ---------------------------------------------------------------------

    def emails(self) -> list[dict[str, object]]:
        """Accepted emails, oldest first: id, body as sent, headers that matter, created_at."""
        self._api.release_due()
        return [record.to_json() for record in self._emails.all()]

    def requests(self) -> list[dict[str, object]]:
        """Every API request, oldest first: method, path, status, idempotency key, fault, timestamp."""
        return [record.to_json() for record in self._requests.all()]

    def webhooks(self) -> list[dict[str, object]]:
        """Every webhook delivery attempt, oldest first (empty without ``webhook_url``)."""
        return self._dispatcher.log() if self._dispatcher is not None else []

    def receive(self, raw: bytes) -> str:
        """Take in one inbound email (the raw RFC 5322 message) for the receiving API; returns its id."""
        return self._received.receive(raw).id

    def received(self) -> list[dict[str, object]]:
        """Received emails, oldest first: id, from, to, subject, created_at."""
        return [
            {"id": email.id, "from": email.sender, "to": email.to, "subject": email.subject}
            for email in reversed(self._received.newest_first())
        ]

    def reset(self) -> None:
        """Forget emails, received emails, attachments, requests, idempotency keys, the rate window, webhooks.

        The faults are cleared too; domains and API keys stay.
        """
        self._emails.clear()
        self._received.clear()
        self._attachments.clear()
        self._requests.clear()
        self._idempotency.clear()
        self._limiter.clear()
        self._faults.clear()
        if self._dispatcher is not None:
            self._dispatcher.clear()

    # -- faults -------------------------------------------------------------------------------

    def faults(self) -> dict[str, object]:
        """The fault settings now, as ``GET /_sandbox/faults`` shows them."""
        return self._faults.current().to_json(self._clock())

    def current_faults(self) -> Faults:
        """The fault settings now, as a value."""
        return self._faults.current()

    def set_faults(self, settings: Mapping[str, object] | None = None, /, **changes: object) -> dict[str, object]:
        """Merge fault settings, e.g. ``set_faults(latency_ms=[50, 100], failure_rate=0.1)``.

        Keys are those of ``POST /_sandbox/faults``; raises ``FaultSpecError`` (a ``ValueError``)
        on a bad one, leaving the settings unchanged. Returns the settings now.
        """
        merged = {**(settings or {}), **changes}
        return self._faults.update(merged, self._clock()).to_json(self._clock())

    def script(self, steps: Sequence[object]) -> None:
        """Replace the script: one step per ``POST /emails``, e.g. ``["500", "timeout", "200"]``."""
        for step in steps:
            parse_step(step)
        self.set_faults(script=list(steps))

    def outage(self, seconds: float) -> None:
        """Answer every API request 503 ``service_unavailable`` for ``seconds`` of the clock."""
        self.set_faults(outage_seconds=seconds)

    def clear_faults(self) -> None:
        """No faults (the rate limit is a setting, not a fault, and stays)."""
        self._faults.clear()

    def set_rate_limit(self, per_second: int | None) -> None:
        """Change the requests-per-second limit; ``None`` or 0 turns it off."""
        self._limiter.set_limit(per_second)

    @property
    def rate_limit(self) -> int | None:
        """Requests per second allowed, ``None`` when unlimited."""
        return self._limiter.limit

    @property
    def strict(self) -> bool:
        """True when unknown top-level fields in send bodies are refused (``--strict``)."""
        return self._api.strict

    @property
    def idempotency_on_refusal(self) -> str:
        """``release`` or ``record``: what a refused send does to its Idempotency-Key."""
        return self._api.idempotency_on_refusal

    def settings(self) -> dict[str, object]:
        """The settings that are not faults, as ``GET /_sandbox/settings`` shows them."""
        return {
            "idempotency_on_refusal": self._api.idempotency_on_refusal,
            "rate_limit_per_second": self._limiter.limit,
            "require_verified_domain": self._api.require_verified_domain,
            "strict": self._api.strict,
            "webhook_delay_seconds": None if self._dispatcher is None else self._dispatcher.delay_seconds,
        }

    def set_settings(self, settings: Mapping[str, object] | None = None, /, **changes: object) -> dict[str, object]:
        """Change settings, e.g. ``set_settings(idempotency_on_refusal="record")``; returns them all.

        Keys are those :meth:`settings` shows. A bad key or value raises ``ValueError`` naming it,
        and nothing changes. Keys already kept by the idempotency store keep what they hold. A new
        ``webhook_delay_seconds`` paces the emails accepted from then on (``null`` when no webhooks are sent).
        """
        merged = {**(settings or {}), **changes}
        unknown = sorted(set(merged) - set(self.settings()))
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(self.settings()))}")
        on_refusal = merged.get("idempotency_on_refusal", self._api.idempotency_on_refusal)
        if on_refusal not in IDEMPOTENCY_ON_REFUSAL:
            raise ValueError(f"idempotency_on_refusal must be one of {', '.join(IDEMPOTENCY_ON_REFUSAL)}")
        for name in ("require_verified_domain", "strict"):
            if not isinstance(merged.get(name, False), bool):
                raise ValueError(f"{name} must be true or false")
        rate = merged.get("rate_limit_per_second", self._limiter.limit)
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 0):
            raise ValueError("rate_limit_per_second must be a whole number >= 0, or null for no limit")
        paced: float | None = None
        if self._dispatcher is not None:
            paced = checked_delay(merged.get("webhook_delay_seconds", self._dispatcher.delay_seconds))
        elif merged.get("webhook_delay_seconds") is not None:
            raise ValueError("webhook_delay_seconds: this sandbox sends no webhooks (it has no webhook URL)")
        self._api.idempotency_on_refusal = str(on_refusal)
        self._api.require_verified_domain = bool(
            merged.get("require_verified_domain", self._api.require_verified_domain)
        )
        self._api.strict = bool(merged.get("strict", self._api.strict))
        if "rate_limit_per_second" in merged:
            self.set_rate_limit(rate)
        if self._dispatcher is not None and paced is not None:
            self._dispatcher.delay_seconds = paced
        return self.settings()

    # -- domains ------------------------------------------------------------------------------

    def add_domain(
        self,
        name: str,
        *,
        region: str = "us-east-1",
        status: str = "not_started",
        dkim: str = "cname",
        return_path: str = "send",
        verify: str = "verified",
    ) -> dict[str, object]:
        """Add a sending domain to the domains API; returns it as ``GET /domains/{id}`` shows it.

        ``dkim="txt"`` gives it an older Resend domain's single TXT key instead of today's three CNAMEs;
        ``return_path`` is its return-path subdomain (Resend's ``custom_return_path``); ``verify="failed"`` makes
        ``POST /domains/{id}/verify`` find its records missing.
        """
        if verify not in ("verified", "failed"):
            raise ValueError(f"verify must be verified or failed, not {verify!r}")
        entry = self._domains.add(name, region, status, return_path=return_path, dkim=dkim)
        self._domains.update(entry.id, verify_outcome=verify)
        return entry.resource()

    def set_domain_status(self, name_or_id: str, status: str, records: Sequence[str] | None = None) -> None:
        """Set a domain's status (``verified``, ``failed``...) and optionally each record's, in record order."""
        self._domains.set_status(name_or_id, status, list(records) if records is not None else None)

    def domains(self) -> list[dict[str, object]]:
        """Every domain, oldest first, as ``GET /domains/{id}`` shows it."""
        entries, _ = self._domains.page(limit=None, after=None, before=None)
        return [entry.resource() for entry in reversed(entries)]

    # -- wiring used by the handler -----------------------------------------------------------

    def _accepted(self, record: EmailRecord) -> None:
        if record.last_event == "scheduled":
            return  # delivered when it falls due: ResendApi.release_due hands it back here
        if self._dispatcher is not None:
            self._dispatcher.schedule(record)
        else:
            self._emails.set_last_event(record.id, delivery_plan(record)[-1][0].removeprefix("email."))

    def _answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> Answer:
        parts = urlsplit(target)
        path = parts.path
        if path == "/" and method == "GET":
            return Answer(200, render_inbox(self._emails.all()).encode(), dict(PAGE_HEADERS))
        if path == "/favicon.ico":
            return Answer(404, b"", {})
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            return handle_admin(self, method, path, body, _first_values(parts.query))
        lists = {name: tuple(values) for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        query = {name: values[-1] for name, values in lists.items()}
        return self._api.handle(ApiRequest(method, path, query, headers, body, lists))

    # -- links the API hands out --------------------------------------------------------------

    def shared_email(self, token: str) -> dict[str, object] | None:
        """The email a live share link shows (sent or received); ``None`` when unknown or expired."""
        email_id = self._api.shares.shared_email(token)
        if email_id is None:
            return None
        sent = self._emails.get(email_id)
        if sent is not None:
            return sent.resource()
        received = self._received.get(email_id)
        if received is None:
            return None
        return {
            "id": received.id,
            "from": received.sender,
            "to": received.to,
            "subject": received.subject,
            "html": received.html,
            "text": received.text,
        }

    def raw_message(self, email_id: str) -> bytes | None:
        """A received email's raw message (its ``raw.download_url``)."""
        received = self._received.get(email_id)
        return received.raw if received is not None else None

    def attachment_content(self, attachment_id: str) -> tuple[str, bytes] | None:
        """An attachment's content type and bytes (its ``download_url``)."""
        found = self._attachments.get(attachment_id)
        return (found.content_type, found.data) if found is not None else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 overflows under a burst of new connections (load tests).
    request_queue_size = 128
    sandbox: ResendSandbox

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every handler blocked on a kept-alive connection so it ends."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "resend-sandbox"
    disable_nagle_algorithm = True  # headers and body are separate writes; Nagle would add ~40 ms per answer
    timeout = 120  # an idle kept-alive connection is closed after this
    server: _Server

    # Every standard method reaches the same dispatcher, which answers Resend-shaped JSON (404 / 405) for
    # what is not a route; a made-up method is answered by send_error below, also in JSON.
    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def do_TRACE(self) -> None:
        self._handle()

    def do_CONNECT(self) -> None:
        self._handle()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The standard library answers what it cannot parse (a bad request line, oversized headers, a method
        # it has no do_ for) with an HTML page; Resend answers JSON, and so does the sandbox.
        self.close_connection = True
        # A request line too broken to name its version leaves the stdlib's default, HTTP/0.9, which would
        # drop the status line and headers; answer in HTTP/1.1 like every other answer.
        self.request_version = "HTTP/1.1"
        if code == HTTPStatus.NOT_IMPLEMENTED:
            error = ApiError(405, "method_not_allowed", "Method is not allowed for the requested path.")
        else:
            error = ApiError(code, "validation_error", message or explain or "The request could not be read.")
        self._write(error_answer(error))

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.log_requests:
            super().log_message(format, *args)

    def _handle(self) -> None:
        sandbox = self.server.sandbox
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            body = self._read_body(headers)
            answer = sandbox._answer(self.command, self.path, headers, body)
        except ApiError as exc:
            answer = error_answer(exc)
        except Exception as exc:  # noqa: BLE001 - a sandbox bug must answer 500, not kill the connection
            traceback.print_exc()
            error = {"statusCode": 500, "name": "application_error", "message": f"Sandbox error: {exc!r}"}
            answer = json_answer(500, error)
        if answer.hang_seconds > 0 and sandbox._stopping.wait(answer.hang_seconds):
            answer.reset = True  # stopping: end the hang without answering
        if answer.reset:
            self._reset_connection()
            return
        self._write(answer)

    def _read_body(self, headers: Mapping[str, str]) -> bytes | None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(headers.get("content-length", "0") or "0")
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(65537).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537).strip():
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _write(self, answer: Answer) -> None:
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(answer.body)))
            if self.close_connection:
                self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its read timeout); nothing to do

    def _reset_connection(self) -> None:
        """Close without answering; SO_LINGER 0 turns the close into a TCP reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _first_values(query: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(query, keep_blank_values=True).items()}
