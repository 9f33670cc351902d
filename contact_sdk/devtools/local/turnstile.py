"""A local stand-in for Cloudflare Turnstile's siteverify, honouring Cloudflare's documented test secrets.

Dev tooling only: the runtime never imports it. The local stack runs it when started with
``--turnstile pass|fail|spent``, and the tests ask it over loopback. It answers
``POST /turnstile/v0/siteverify`` (form-encoded or JSON, like Cloudflare) as Cloudflare answers for its
dummy secret keys (developers.cloudflare.com/turnstile/troubleshooting/testing/):

=========================================  ==================================================
secret                                     answer
=========================================  ==================================================
``1x0000000000000000000000000000000AA``    always passes (for the dummy token only, as test
                                           secrets accept nothing else)
``2x0000000000000000000000000000000AA``    always fails: ``invalid-input-response``
``3x0000000000000000000000000000000AA``    token already spent: ``timeout-or-duplicate``
anything else                              ``invalid-input-secret``
=========================================  ==================================================

plus ``missing-input-secret`` / ``missing-input-response`` for absent fields and ``bad-request`` for a
body it cannot read. A success names ``hostname`` and ``action`` as configured (Cloudflare reports the
page's host name and the widget's ``data-action``). A repeated ``idempotency_key`` gets the first
answer again, as Cloudflare's does. Every request is kept (:attr:`SiteverifyStandIn.received`) so tests
read what the service sent; ``delay_seconds``, ``status`` and ``drop_next`` make it slow, failing or
dropping connections on demand.

The widget stand-in (``/turnstile/v0/api.js``, served by the demo page) is
``contact_sdk/devtools/local/static/turnstile-standin.js``.

Example::

    with SiteverifyStandIn(("127.0.0.1", 0), hostname="127.0.0.1", action="contact") as standin:
        httpx.post(standin.url, data={"secret": PASS_SECRET, "response": DUMMY_TOKEN}).json()["success"]  # True

    python -m contact_sdk.devtools.local.turnstile --port 8030 --hostname 127.0.0.1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from contact_sdk.devtools.local.serving import ThreadedServer
from contact_sdk.devtools.loopback import is_loopback

__all__ = [
    "DUMMY_TOKEN",
    "FAIL_SECRET",
    "PASS_SECRET",
    "PASS_SITEKEY",
    "SITEVERIFY_PATH",
    "SPENT_SECRET",
    "TEST_SECRETS",
    "SiteverifyStandIn",
    "main",
]

#: Cloudflare's dummy secret keys.
PASS_SECRET = "1x0000000000000000000000000000000AA"  # noqa: S105 - Cloudflare's public test secret
FAIL_SECRET = "2x0000000000000000000000000000000AA"  # noqa: S105 - Cloudflare's public test secret
SPENT_SECRET = "3x0000000000000000000000000000000AA"  # noqa: S105 - Cloudflare's public test secret
#: ``--turnstile`` mode -> test secret.
TEST_SECRETS = {"pass": PASS_SECRET, "fail": FAIL_SECRET, "spent": SPENT_SECRET}
#: The token Cloudflare's dummy sitekeys (and the widget stand-in) put in the form.
DUMMY_TOKEN = "XXXX.DUMMY.TOKEN.XXXX"  # noqa: S105 - Cloudflare's public dummy token
#: Cloudflare's dummy sitekey that always passes (visible widget).
PASS_SITEKEY = "1x00000000000000000000AA"  # noqa: S105 - Cloudflare's public test sitekey
SITEVERIFY_PATH = "/turnstile/v0/siteverify"
_MAX_BODY = 64 * 1024


def _answer(fields: dict[str, str], *, hostname: str, action: str) -> dict[str, Any]:
    def failed(*codes: str) -> dict[str, Any]:
        return {"success": False, "error-codes": list(codes), "messages": []}

    secret, token = fields.get("secret", ""), fields.get("response", "")
    if not secret:
        return failed("missing-input-secret")
    if secret not in (PASS_SECRET, FAIL_SECRET, SPENT_SECRET):
        return failed("invalid-input-secret")
    if not token:
        return failed("missing-input-response")
    if secret == FAIL_SECRET or token != DUMMY_TOKEN:
        return failed("invalid-input-response")
    if secret == SPENT_SECRET:
        return failed("timeout-or-duplicate")
    return {
        "success": True,
        "error-codes": [],
        "challenge_ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "hostname": hostname,
        "action": action,
        "cdata": "",
        "metadata": {"interactive": False},
        "messages": [],
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "siteverify-standin"
    server: SiteverifyStandIn

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stand-in keeps what it received instead."""

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        standin = self.server
        if self.path.split("?", 1)[0] != SITEVERIFY_PATH:
            self._reply(404, {"success": False, "error-codes": ["bad-request"]})
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, _MAX_BODY)) if length > 0 else b""
        if standin.take_drop():
            self.connection.shutdown(socket.SHUT_RDWR)  # a network failure, not an answer
            self.close_connection = True
            return
        fields = _fields(self.headers.get("Content-Type", ""), raw)
        with standin.lock:
            standin.received.append(dict(fields or {}))
        if standin.delay_seconds:
            time.sleep(standin.delay_seconds)
        if standin.status != 200:
            self._reply(standin.status, {"success": False, "error-codes": ["internal-error"]})
            return
        if fields is None:
            self._reply(200, {"success": False, "error-codes": ["bad-request"], "messages": []})
            return
        key = fields.get("idempotency_key")
        with standin.lock:
            cached = standin.answers.get(key) if key else None
        answer = cached or _answer(fields, hostname=standin.hostname, action=standin.action)
        if key and cached is None:
            with standin.lock:
                standin.answers[key] = answer
        self._reply(200, answer)


def _fields(content_type: str, raw: bytes) -> dict[str, str] | None:
    try:
        text = raw.decode("utf-8")
        if content_type.split(";", 1)[0].strip().lower() == "application/json":
            data = json.loads(text)
            if not isinstance(data, dict):
                return None
            return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | float)}
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


class SiteverifyStandIn(ThreadedServer):
    """The stand-in siteverify server; see the module docstring."""

    thread_name = "siteverify-standin"

    def __init__(self, address: tuple[str, int], *, hostname: str = "localhost", action: str = "contact") -> None:
        self.hostname = hostname
        self.action = action
        self.lock = threading.Lock()
        #: Every request body received, parsed (``{}`` when unreadable), oldest first.
        self.received: list[dict[str, str]] = []
        self.answers: dict[str, dict[str, Any]] = {}
        #: Seconds to wait before answering (a slow siteverify).
        self.delay_seconds = 0.0
        #: Status to answer with (anything but 200 is an outage).
        self.status = 200
        #: How many of the next requests to drop without an answer.
        self.drop_next = 0
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        """The siteverify URL (``CONTACT_TURNSTILE_SITEVERIFY_URL``)."""
        return f"{self.origin}{SITEVERIFY_PATH}"

    def take_drop(self) -> bool:
        """Whether to drop this request (counts one down)."""
        with self.lock:
            if self.drop_next > 0:
                self.drop_next -= 1
                return True
            return False

    def __enter__(self) -> SiteverifyStandIn:
        """Serve on entry."""
        self.serve_in_thread()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop on exit."""
        self.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the stand-in until Ctrl-C; 2 when it cannot listen on ``--host:--port``."""
    parser = argparse.ArgumentParser(
        prog="python -m contact_sdk.devtools.local.turnstile", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8030)
    parser.add_argument("--hostname", default="localhost", help="the hostname a success reports")
    parser.add_argument("--action", default="contact", help="the action a success reports")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        # It answers siteverify as Cloudflare's test keys do, for whoever asks: a tool for this machine.
        parser.error(f"--host {args.host!r} is not a loopback address: the stand-in listens on this machine only")
    try:
        standin = SiteverifyStandIn((args.host, args.port), hostname=args.hostname, action=args.action)
    except OSError as exc:
        print(
            f"the siteverify stand-in cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    print(f"siteverify stand-in on {standin.url}", flush=True)
    try:
        standin.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        standin.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
