"""The demo contact page's web server: a handful of static files and the page's ``config.json``.

With a Turnstile sitekey (the stack's ``--turnstile``), the page also gets the widget's markup in its
form and the local widget stand-in's script (:func:`with_turnstile_widget`), served at
``/turnstile/v0/api.js``; without one, neither exists.

The page is served from its own origin (``http://127.0.0.1:8000`` by default), which the stack lists
in ``CONTACT_ALLOWED_ORIGINS``; the API lives on another port, so every call the page makes is a real
cross-origin request with a preflight, as on a deployed site. Only the files in :data:`PAGE_FILES` and
the drop-in client (:data:`CLIENT_FILES`) are served; ``config.json`` tells the page where the API and
the sandbox inbox are, and ``/openapi.yaml`` is the API's OpenAPI description (``docs/openapi.yaml`` of
the clone the stack runs from).

Example::

    server = PageServer(("127.0.0.1", 8000), config={"apiUrl": "http://127.0.0.1:8080"})
    server.serve_in_thread()
"""

from __future__ import annotations

import html
import json
import logging
import socket
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contact_sdk.devtools.local.serving import ThreadedServer

__all__ = [
    "CLIENT_FILES",
    "OPENAPI_DOCUMENT",
    "PAGE_FILES",
    "TURNSTILE_SCRIPT_PATH",
    "PageServer",
    "client_asset",
    "page_asset",
    "with_turnstile_widget",
]

logger = logging.getLogger(__name__)

#: URL path -> (file in ``contact_sdk/devtools/local/static``, content type).
PAGE_FILES: Mapping[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/contact.js": ("contact.js", "text/javascript; charset=utf-8"),
    "/contact.css": ("contact.css", "text/css; charset=utf-8"),
}
#: URL path -> file in ``contact_sdk/client``: the drop-in form client the demo page uses, as a site would.
CLIENT_FILES: Mapping[str, str] = {"/contact-form.js": "contact-form.js"}

#: The contact API's OpenAPI description, served at ``/openapi.yaml`` (RFC 9512's media type).
OPENAPI_DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"


#: Where the page loads the Turnstile widget stand-in from (Cloudflare's is ``/turnstile/v0/api.js`` too).
TURNSTILE_SCRIPT_PATH = "/turnstile/v0/api.js"


def page_asset(name: str) -> bytes:
    """The bytes of one static file of the demo page."""
    return resources.files("contact_sdk.devtools.local").joinpath("static", name).read_bytes()


def client_asset(name: str) -> bytes:
    """The bytes of one file of the drop-in browser client (``contact_sdk/client``, shipped in the package)."""
    return resources.files("contact_sdk").joinpath("client", name).read_bytes()


def with_turnstile_widget(page: bytes, sitekey: str, *, action: str = "contact") -> bytes:
    """``page`` with a Turnstile widget in its first form and the widget script in its head.

    The markup is what Cloudflare's implicit rendering expects (``<div class="cf-turnstile"
    data-sitekey=... data-action=...>`` inside the form); the script is the local stand-in. The page
    itself stays free of Turnstile, so it is added only when the stack runs with ``--turnstile``.
    """
    text = page.decode("utf-8")
    widget = (
        f'<div class="cf-turnstile" data-sitekey="{html.escape(sitekey)}" data-action="{html.escape(action)}"></div>\n'
    )
    script = f'<script src="{TURNSTILE_SCRIPT_PATH}" async defer></script>\n'
    if "</form>" not in text or "</head>" not in text:
        raise ValueError("the demo page has no </form> or </head> to put the Turnstile widget in")
    text = text.replace("</form>", widget + "</form>", 1).replace("</head>", script + "</head>", 1)
    return text.encode("utf-8")


class _PageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "contact-sdk-demo-page"

    def version_string(self) -> str:
        """The ``Server`` header: the name only."""
        return self.server_version

    server: PageServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(10.0)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see api_server: no Nagle stalls

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("demo page: " + format, *args)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", self.server.content_security_policy)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/config.json":
            self._send(200, "application/json", self.server.config_json)
            return
        if path == "/openapi.yaml":
            try:
                document = OPENAPI_DOCUMENT.read_bytes()
            except OSError:
                self._send(404, "text/plain; charset=utf-8", b"docs/openapi.yaml is not in this installation\n")
                return
            self._send(200, "application/yaml; charset=utf-8", document)
            return
        if path in CLIENT_FILES:
            self._send(200, "text/javascript; charset=utf-8", client_asset(CLIENT_FILES[path]))
            return
        sitekey = self.server.turnstile_sitekey
        if sitekey is not None and path == TURNSTILE_SCRIPT_PATH:
            self._send(200, "text/javascript; charset=utf-8", page_asset("turnstile-standin.js"))
            return
        entry = PAGE_FILES.get(path)
        if entry is None:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")
            return
        name, content_type = entry
        body = page_asset(name)
        if sitekey is not None and name == "index.html":
            body = with_turnstile_widget(body, sitekey)
        self._send(200, content_type, body)

    do_HEAD = do_GET  # noqa: N815 - the stdlib dispatches on do_<METHOD>


class PageServer(ThreadedServer):
    """Serves the demo page; ``config`` is what the page reads from ``/config.json`` (``apiUrl``, ``sandboxUrl``)."""

    thread_name = "demo-page"

    def __init__(
        self, address: tuple[str, int], *, config: Mapping[str, Any], turnstile_sitekey: str | None = None
    ) -> None:
        #: With a sitekey, the page carries a Turnstile widget and the stand-in script (``--turnstile``).
        self.turnstile_sitekey = turnstile_sitekey
        self.config_json = json.dumps(dict(config)).encode("utf-8")
        api = str(config.get("apiUrl", ""))
        # The page may talk to its own origin and to the API, nothing else.
        self.content_security_policy = (
            f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' {api}; "
            "img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
        )
        super().__init__(address, _PageHandler)

    @property
    def url(self) -> str:
        """``http://host:port`` the page is served on: its origin."""
        return self.origin
