"""The drop-in client ``contact_sdk/client/contact-form.js``, its pure parts run under Node.

What it sends (``payload``), what it makes of each answer the contract allows (``outcome``), how long
it waits after a 429/503 (``waitSeconds``) and how it says so (``inWords``). The script is run as a
browser would run it, in a context of its own whose ``self`` and ``document`` stand in for the page's
(it exports nothing to Node: every byte of it is the page's). The answers are written out by hand from
the contract; the browser behaviour (focus, live region, retries) is in ``test_demo_page_browser.py``
and ``test_docs_example_browser.py``.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.local.page_server import PageServer, client_asset
from tests.local.node_tools import terser

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "contact_sdk" / "client" / "contact-form.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js runs the client's pure parts outside a browser")


#: Loads the script into a context of its own, as a page would (a document with no form to mount), as ``F``.
LOAD = """
const vm = require("vm");
const page = {{ document: {{ readyState: "complete", querySelectorAll: () => [] }} }};
page.self = page;
vm.runInNewContext(require("fs").readFileSync({script}, "utf8"), page);
const F = page.ContactForm;
"""


def js(expression: str) -> Any:
    """Evaluate ``expression`` with the client's ``window.ContactForm`` as ``F``; its JSON value."""
    assert NODE is not None
    program = LOAD.format(script=json.dumps(str(SCRIPT))) + f"process.stdout.write(JSON.stringify({expression}));"
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


@pytest.mark.integration
def test_it_stays_under_5_kb_minified_and_the_docs_give_its_size() -> None:
    """``terser <file> -c -m`` (as the docs say): under 5,000 bytes; the docs' minified and gzipped figures hold."""
    minified = terser(SCRIPT)
    gzipped = len(gzip.compress(minified, compresslevel=9, mtime=0))
    assert len(minified) < 5000, f"{len(minified)} bytes minified"
    doc = (ROOT / "docs" / "browser-snippet.md").read_text(encoding="utf-8")
    assert f"**{len(minified):,} bytes minified** and **{gzipped:,} bytes minified and" in doc
    assert f"-c -m | wc -c            # {len(minified)}\n" in doc
    assert f"-c -m | gzip -9 | wc -c  # {gzipped}\n" in doc
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{len(minified):,} bytes minified, {gzipped:,} gzipped" in readme


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
    ("header", "seconds"),
    [("17", 17), ("900", 900), (None, 60), ("", 60), ("0", 1), ("soon", 60), ("-5", 60), ("86400", 3600)],
)
def test_wait_seconds(header: str | None, seconds: int) -> None:
    """The Retry-After header (the API exposes it), else a minute; between 1 s and an hour."""
    assert js(f"F.waitSeconds({json.dumps(header)})") == seconds


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (42, "42 seconds"),
        (59, "59 seconds"),
        (60, "about a minute"),
        (89, "about a minute"),
        (90, "about 2 minutes"),
        (900, "about 15 minutes"),
        (1330, "about 22 minutes"),
        (3540, "about 59 minutes"),
        (3570, "about an hour"),
        (3600, "about an hour"),
    ],
)
def test_a_wait_is_said_in_words(seconds: int, words: str) -> None:
    """Seconds under a minute, then whole minutes rounded, "about" each; an hour at most (the longest wait)."""
    assert js(f"F.inWords({seconds})") == words


LIMITED = {"error": {"code": "rate_limited", "message": "Too many. Please try again in 42 seconds."}}
UNAVAILABLE = {"error": {"code": "service_unavailable", "message": "Please try again in a minute."}}


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "kind", "text"),
    [
        (200, {"status": "sent", "nextToken": "t"}, None, "sent", "Thank you, your message was sent."),
        (202, {"status": "queued", "nextToken": "t"}, None, "queued", "no need to send it again"),
        (429, LIMITED, "42", "wait", "we will try again in 42 seconds."),
        (429, LIMITED, "900", "wait", "we will try again in about 15 minutes."),
        (429, LIMITED, None, "wait", "we will try again in about a minute."),  # the header, not the message
        (503, UNAVAILABLE, "30", "wait", "we will try again in 30 seconds."),
        (403, {"error": {"code": "csrf_invalid", "message": "x"}}, None, "token", "could not be sent"),
        (403, {"error": {"code": "csrf_missing", "message": "x"}}, None, "token", "could not be sent"),
        (403, {"error": {"code": "captcha_invalid", "message": "x"}}, None, "captcha", "verification"),
        # Only a same-origin page can read this 403 (a refused origin gets no CORS headers): the API's words.
        (403, {"error": {"code": "origin_not_allowed", "message": "Not from here."}}, None, "error", "Not from here."),
        (413, {"error": {"code": "payload_too_large", "message": "Too large."}}, None, "error", "Too large."),
        (500, {"error": {"code": "internal_error", "message": "Traceback..."}}, None, "error", "please try again"),
        (200, {"status": "weird"}, None, "error", "could not be sent"),
        (0, None, None, "error", "could not be reached"),
    ],
)
def test_every_answer_has_a_truthful_message(
    status: int, body: Any, retry_after: str | None, kind: str, text: str
) -> None:
    """Sent, queued (the truth: delivery later), waits in words, token refresh, captcha, refusals, bugs, no answer."""
    result = js(f"F.outcome({status}, {json.dumps(body)}, {json.dumps(retry_after)})")
    assert result["kind"] == kind
    assert text in result["text"]
    if kind == "wait":
        assert result["retry"] == (int(retry_after) if retry_after else 60)


def test_field_errors_are_handed_back_and_messages_can_be_replaced() -> None:
    """``validation_error`` carries the per-field messages; a site may pass its own words (e.g. another language)."""
    body = {"error": {"code": "validation_error", "message": "m", "fields": {"email": "must be valid"}}}
    result = js(f"F.outcome(400, {json.dumps(body)}, null)")
    assert (result["kind"], result["fields"]) == ("invalid", {"email": "must be valid"})
    answer = json.dumps({"error": {"message": "Please try again in 5 seconds."}})
    german = js(f"F.outcome(429, {answer}, '5', {{...F.MESSAGES, wait: 'Noch {{s}} s'}})")
    assert german["text"] == "Noch 5 s"
