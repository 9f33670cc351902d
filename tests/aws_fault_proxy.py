"""A loopback proxy in front of the AWS emulator that loses, holds, drops or refuses the calls it is told to.

botocore talks to it as to any endpoint; every call is forwarded to moto's server unchanged unless a fault
is queued for its operation (the last part of ``X-Amz-Target``, e.g. ``TransactWriteItems``). Each queued
fault applies to one call, in order:

==============  ===========================================================================================
``lose``        forward the call, then close the connection without answering: it landed, the answer is lost
``hold``        forward the call, then answer nothing until the client gives up (its read timeout)
``landed-500``  forward the call, then answer 500 ``InternalServerError``: it landed, DynamoDB says it failed
``drop``        close the connection without forwarding: the call never reached the emulator
``throttle``    answer 400 ``ThrottlingException`` without forwarding: refused, nothing applied
``conflict``    answer a ``TransactionCanceledException`` with a ``TransactionConflict`` reason, not forwarded
==============  ===========================================================================================

Example::

    with AwsFaultProxy(moto_url) as proxy:
        client = boto3.client("dynamodb", endpoint_url=proxy.url, config=NO_RETRIES)
        proxy.queue("TransactWriteItems", "lose")
        ...
        assert proxy.seen("TransactWriteItems") == ["lose", "forward"]
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar

import httpx

__all__ = ["FAULTS", "AwsFaultProxy"]

FAULTS = ("lose", "hold", "landed-500", "drop", "throttle", "conflict")

_HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


class AwsFaultProxy:
    """The proxy; see the module docstring. Thread-safe; :meth:`stop` releases held calls."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._faults: dict[str, deque[str]] = defaultdict(deque)
        self._seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._http = httpx.Client(timeout=30)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """Where to point ``endpoint_url``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> AwsFaultProxy:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held calls and stop serving."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def __enter__(self) -> AwsFaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def queue(self, operation: str, *faults: str) -> None:
        """Apply ``faults`` to the next calls of ``operation``, one each, in order."""
        unknown = [fault for fault in faults if fault not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown}; choose from {FAULTS}")
        with self._lock:
            self._faults[operation].extend(faults)

    def seen(self, operation: str) -> list[str]:
        """What was done with each call of ``operation`` so far: a fault's name, or ``forward``."""
        with self._lock:
            return [done for name, done in self._seen if name == operation]

    def _take(self, operation: str) -> str:
        with self._lock:
            pending = self._faults[operation]
            done = pending.popleft() if pending else "forward"
            self._seen.append((operation, done))
            return done


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: AwsFaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
    server: _Server
    _THROTTLE: ClassVar[dict[str, str]] = {
        "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "message": "Rate of requests exceeds the allowed throughput.",
    }
    _INTERNAL: ClassVar[dict[str, str]] = {
        "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "message": "Internal server error",
    }
    _CONFLICT: ClassVar[dict[str, Any]] = {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[TransactionConflict]",
        "CancellationReasons": [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}],
    }

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read :meth:`AwsFaultProxy.seen` instead."""

    def do_POST(self) -> None:
        """One AWS call: forward it, or apply the fault queued for its operation."""
        proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
        fault = proxy._take(operation)
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "throttle":
            self._answer(400, json.dumps(self._THROTTLE).encode(), {"Content-Type": "application/x-amz-json-1.0"})
            return
        if fault == "conflict":
            self._answer(400, json.dumps(self._CONFLICT).encode(), {"Content-Type": "application/x-amz-json-1.0"})
            return
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        response = proxy._http.post(proxy.upstream + self.path, content=body, headers=headers)
        if fault == "hold":
            proxy._release.wait(30)
        if fault in ("lose", "hold"):
            self.close_connection = True
            return
        if fault == "landed-500":
            self._answer(500, json.dumps(self._INTERNAL).encode(), {"Content-Type": "application/x-amz-json-1.0"})
            return
        kept = {name: value for name, value in response.headers.items() if name.lower() not in _HOP_BY_HOP}
        kept.pop("content-encoding", None)  # httpx has decoded the body
        self._answer(response.status_code, response.content, kept)

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
