"""The drop-in client ``contact_sdk/client/contact-form.js``, its pure parts run under Node.

What it sends (``payload``), what it makes of each answer the contract allows (``outcome``) and how long
it waits after a 429/503 (``waitSeconds``). The answers are written out by hand from the contract; the
browser behaviour (focus, live region, retries) is in ``test_demo_page_browser.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.local.page_server import PageServer, client_asset

SCRIPT = Path(__file__).resolve().parents[2] / "contact_sdk" / "client" / "contact-form.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js runs the client's pure parts outside a browser")


def js(expression: str) -> Any:
    """Evaluate ``expression`` with the client's exports as ``F``; its JSON value."""
    assert NODE is not None
    program = f"const F = require({json.dumps(str(SCRIPT))}); process.stdout.write(JSON.stringify({expression}));"
    result = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(result.stdout)


def test_the_packaged_file_is_the_one_tested() -> None:
    """What the demo page server (and a wheel) ships is this file."""
    assert client_asset("contact-form.js") == SCRIPT.read_bytes()


@pytest.mark.integration
def test_the_demo_page_server_serves_it_as_javascript() -> None:
    """``GET /contact-form.js`` on the demo page's origin: the file, as JavaScript, under the page's CSP."""
    server = PageServer(("127.0.0.1", 0), config={"apiUrl": "http://127.0.0.1:9"})
    server.serve_in_thread()
    try:
        answer = httpx.get(f"{server.url}/contact-form.js", timeout=10)
    finally:
        server.close()
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.content == SCRIPT.read_bytes()
    assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_payload_has_the_contract_fields_only() -> None:
    """Trimmed values, ``consent`` a boolean, the honeypot sent empty, an empty subject left out, the time kept."""
    values = {
        "name": " Ada ",
        "email": "ada@example.org",
        "subject": "  ",
        "message": " Hello there, engines! ",
        "consent": True,
        "website": "",
        "admin": "yes",
    }
    assert js(f"F.payload({json.dumps(values)}, 1700000000000)") == {
        "name": "Ada",
        "email": "ada@example.org",
        "message": "Hello there, engines!",
        "consent": True,
        "website": "",
        "formStartedAt": 1700000000000,
    }


def test_payload_carries_turnstile_and_a_filled_honeypot() -> None:
    """``turnstileToken`` is sent when present; a bot's honeypot value goes as typed (the API judges it)."""
    values = {"name": "A", "email": "a@b.co", "message": "0123456789", "consent": False, "website": "http://x"}
    body = js(f"F.payload({json.dumps({**values, 'turnstileToken': 'tok'})}, 0)")
    assert body["turnstileToken"] == "tok"
    assert body["website"] == "http://x"
    assert body["consent"] is False
    assert "formStartedAt" not in body
    assert "turnstileToken" not in js(f"F.payload({json.dumps({**values, 'turnstileToken': ''})}, 0)")


@pytest.mark.parametrize(
    ("header", "message", "seconds"),
    [
        ("17", "Please try again in 42 seconds.", 17),  # the header wins when the page may read it
        (None, "Too many messages from your address. Please try again in 42 seconds.", 42),
        (None, "We could not send your message right now. Please try again in a minute.", 60),
        (None, None, 60),
        ("0", None, 1),
        ("soon", None, 60),
        (None, "Please try again in 86400 seconds.", 3600),
    ],
)
def test_wait_seconds(header: str | None, message: str | None, seconds: int) -> None:
    """Retry-After, else the seconds the message names, else a minute; between 1 s and an hour."""
    assert js(f"F.waitSeconds({json.dumps(header)}, {json.dumps(message)})") == seconds


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (200, {"status": "sent", "nextToken": "t"}, "sent", "Thank you, your message was sent."),
        (202, {"status": "queued", "nextToken": "t"}, "queued", "no need to send it again"),
        (429, {"error": {"code": "rate_limited", "message": "Please try again in 42 seconds."}}, "wait", "in 42 "),
        (503, {"error": {"code": "service_unavailable", "message": "Please try again in a minute."}}, "wait", "60"),
        (403, {"error": {"code": "csrf_invalid", "message": "x"}}, "token", "could not be sent"),
        (403, {"error": {"code": "csrf_missing", "message": "x"}}, "token", "could not be sent"),
        (403, {"error": {"code": "captcha_invalid", "message": "x"}}, "captcha", "verification"),
        (403, {"error": {"code": "origin_not_allowed", "message": "x"}}, "error", "may not send"),
        (413, {"error": {"code": "payload_too_large", "message": "The message is too large."}}, "error", "too large"),
        (500, {"error": {"code": "internal_error", "message": "Traceback..."}}, "error", "please try again"),
        (200, {"status": "weird"}, "error", "could not be sent"),
        (0, None, "error", "could not be reached"),
    ],
)
def test_every_answer_has_a_truthful_message(status: int, body: Any, kind: str, text: str) -> None:
    """Sent, queued (the truth: delivery later), waits, token refresh, captcha, refusals, bugs, no answer."""
    result = js(f"F.outcome({status}, {json.dumps(body)}, null)")
    assert result["kind"] == kind
    assert text in result["text"]


def test_field_errors_are_handed_back_and_messages_can_be_replaced() -> None:
    """``validation_error`` carries the per-field messages; a site may pass its own words (e.g. another language)."""
    body = {"error": {"code": "validation_error", "message": "m", "fields": {"email": "must be valid"}}}
    result = js(f"F.outcome(400, {json.dumps(body)}, null)")
    assert (result["kind"], result["fields"]) == ("invalid", {"email": "must be valid"})
    answer = json.dumps({"error": {"message": "in 5 seconds"}})
    german = js(f"F.outcome(429, {answer}, null, {{...F.MESSAGES, wait: 'Noch {{s}} s'}})")
    assert german["text"] == "Noch 5 s"
