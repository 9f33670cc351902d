"""The demo page: its form fields, and its script's validation and outcome messages (run under Node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.devtools.local.page_server import page_asset

SCRIPT = Path(__file__).resolve().parents[2] / "contact_sdk" / "devtools" / "local" / "static" / "contact.js"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js runs the page's script outside a browser")


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("input", "textarea") and attributes.get("name"):
            self.inputs[str(attributes["name"])] = attributes
        if attributes.get("class"):
            self.classes.append(str(attributes["class"]))


def _page_inputs() -> _Inputs:
    parser = _Inputs()
    parser.feed(page_asset("index.html").decode("utf-8"))
    return parser


def js(expression: str) -> Any:
    """Evaluate ``expression`` with the page's exports as ``F``; its JSON value."""
    assert NODE is not None
    program = f"const F = require({json.dumps(str(SCRIPT))}); process.stdout.write(JSON.stringify({expression}));"
    result = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(result.stdout)


def test_form_has_every_contract_field() -> None:
    """name, email, subject, message, consent (a checkbox), the honeypot and the timing field are all there."""
    inputs = _page_inputs().inputs
    assert set(inputs) == {"name", "email", "subject", "message", "consent", "website", "formStartedAt"}
    assert inputs["consent"]["type"] == "checkbox"
    assert inputs["formStartedAt"]["type"] == "hidden"


def test_honeypot_is_hidden_from_people_and_skipped_by_keyboards() -> None:
    """The ``website`` field is out of tab order, never autofilled, inside an aria-hidden off-screen box."""
    parser = _page_inputs()
    website = parser.inputs["website"]
    assert website["tabindex"] == "-1"
    assert website["autocomplete"] == "off"
    assert "hp" in parser.classes
    assert ".hp { position: absolute; left: -10000px" in page_asset("contact.css").decode("utf-8")


@needs_node
def test_a_valid_form_has_no_errors() -> None:
    """A form a person filled in correctly passes client-side validation."""
    values = {"name": "Ada", "email": "ada@example.org", "subject": "", "message": "Hello there!", "consent": True}
    assert js(f"F.validateForm({json.dumps(values)})") == {}


@needs_node
def test_every_field_rule_gives_its_own_message() -> None:
    """Each contract rule (required, lengths, control characters, line breaks, consent) names its field."""
    values = {
        "name": "A\u0007da",
        "email": "ada-at-example",
        "subject": "two\nlines",
        "message": "too short",
        "consent": False,
    }
    errors = js(f"F.validateForm({json.dumps(values)})")
    assert set(errors) == {"name", "email", "subject", "message", "consent"}
    assert "10 characters" in errors["message"]
    assert js('F.validateField("name", "   ")') == "Please tell us your name."
    assert "100" in js(f'F.validateField("name", {json.dumps("x" * 101)})')
    assert "5000" in js(f'F.validateField("message", {json.dumps("x" * 5001)})')
    assert "150" in js(f'F.validateField("subject", {json.dumps("x" * 151)})')
    assert js('F.validateField("subject", "")') == ""


@needs_node
def test_payload_carries_consent_honeypot_and_timing() -> None:
    """The body has trimmed values, ``consent: true``, the honeypot value and ``formStartedAt``; no empty subject."""
    values = {"name": " Ada ", "email": "ada@example.org", "subject": " ", "message": " Hello there! ", "consent": True}
    payload = js(f"F.buildPayload({json.dumps({**values, 'website': ''})}, 1700000000000)")
    assert payload == {
        "name": "Ada",
        "email": "ada@example.org",
        "message": "Hello there!",
        "consent": True,
        "website": "",
        "formStartedAt": 1700000000000,
    }


@needs_node
@pytest.mark.parametrize(
    ("status", "body", "retry_after", "kind", "words"),
    [
        (200, {"status": "sent", "nextToken": "t2"}, None, "sent", "was sent"),
        (202, {"status": "queued", "nextToken": "t2"}, None, "queued", "no need to send it again"),
        (
            429,
            {"error": {"code": "rate_limited", "message": "Please try again in 42 seconds."}},
            None,
            "rate_limited",
            "in 42 seconds",
        ),
        (429, {"error": {"code": "rate_limited", "message": "x"}}, "600", "rate_limited", "in about 10 minutes"),
        (400, {"error": {"code": "validation_error", "fields": {"email": "bad"}}}, None, "validation", "attention"),
        (403, {"error": {"code": "origin_not_allowed"}}, None, "refused", "not allowed"),
        (403, {"error": {"code": "csrf_invalid"}}, None, "refused", "press Send again"),
        (503, {"error": {"code": "service_unavailable", "message": "in 30 seconds"}}, "30", "unavailable", "NOT sent"),
        (413, {"error": {"code": "payload_too_large", "message": "The message is too large."}}, None, "error", "large"),
        (500, {"error": {"code": "internal_error"}}, None, "error", "went wrong"),
        (0, None, None, "error", "could not reach"),
    ],
)
def test_every_outcome_has_a_clear_message(
    status: int, body: Any, retry_after: str | None, kind: str, words: str
) -> None:
    """Sent, queued, rate limited (with the wait), field errors, refusals, unavailable, bugs and no answer."""
    outcome = js(f"F.describeOutcome({status}, {json.dumps(body)}, {json.dumps(retry_after)})")
    assert outcome["kind"] == kind
    assert words in outcome["message"]


@needs_node
def test_next_token_and_field_errors_are_handed_back() -> None:
    """The answer's ``nextToken`` is kept for the next submission; server field errors map onto fields."""
    sent = js('F.describeOutcome(200, {"status": "sent", "nextToken": "t2", "requestId": "r1"}, null)')
    assert sent["nextToken"] == "t2"
    assert sent["requestId"] == "r1"
    invalid = js('F.describeOutcome(400, {"error": {"code": "validation_error", "fields": {"email": "bad"}}}, null)')
    assert invalid["fields"] == {"email": "bad"}
    assert js('F.describeOutcome(403, {"error": {"code": "csrf_missing"}}, null)')["refreshToken"] is True
