"""A loopback HTTP server that records each request and answers it from a function the test gives.

For the answers no emulator gives: a proxy's HTML error page in front of Resend, a body of the wrong shape, an
AWS endpoint that throttles or fails a set number of times. Clients reach it by its ``url`` (boto3 through
``AWS_ENDPOINT_URL`` or a service's own ``AWS_ENDPOINT_URL_<SERVICE>``).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: ``answer(method, path, body)`` -> (status, headers, body bytes).
Answer = Callable[[str, str, bytes], tuple[int, dict[str, str], bytes]]


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client gave up before the answer (what a test of a timeout arranges): nothing to report
        super().handle_error(request, client_address)


class ScriptedServer:
    """Serves ``GET`` and ``POST`` on 127.0.0.1 (an ephemeral port) while the ``with`` block runs.

    ``requests`` holds (method, path, headers, body) of each request, in the order they came. With
    ``keep_alive=False`` every answer closes its connection (HTTP/1.0), so a client the test never closes
    holds no socket open after it.
    """

    def __init__(self, answer: Answer, *, keep_alive: bool = True) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.requests.append((self.command, self.path, dict(self.headers.items()), body))
                status, headers, payload = answer(self.command, self.path, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                return

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
