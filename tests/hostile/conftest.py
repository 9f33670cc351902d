"""The hostile-input suite's stacks and invariants.

``inproc``: the whole service in process (in-memory parameters, stores and outbox; the provider an
``httpx.MockTransport`` that records every request) so hypothesis can run hundreds of examples in
seconds. The real stack (moto + the Resend sandbox) comes from ``tests/entrypoint/conftest.py``.
"""

from __future__ import annotations

import email.policy
import json
import logging
import re
import string
import threading
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

import handler
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource
from contact_sdk.metrics import ListSink
from contact_sdk.settings import Settings
from tests.clocks import RecordingClock
from tests.entrypoint.conftest import (
    CONFIG_PARAMETER,
    CSRF_PARAMETER,
    CSRF_SECRET,
    ORIGIN,
    _Capture,
    api_gateway_event,
    make_stack,
    resend_config,
    session_sandbox,
    stack,
)

__all__ = ["make_stack", "session_sandbox", "stack"]  # re-exported: pytest finds fixtures by the conftest's names

#: The only tags and attributes the email template itself writes; anything else came from a user.
TEMPLATE_TAGS = frozenset({"html", "body", "h2", "h3", "table", "tr", "th", "td", "div", "br"})
TEMPLATE_ATTRIBUTES = frozenset({"align", "style"})
ERROR_CODES = frozenset(
    {
        "not_found",
        "method_not_allowed",
        "origin_not_allowed",
        "csrf_missing",
        "csrf_invalid",
        "unsupported_media_type",
        "payload_too_large",
        "invalid_json",
        "validation_error",
        "rate_limited",
        "invalid_signature",
    }
)
WEBHOOK_PARAMETER = "/portfolio/test/resend/webhook-secret"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class RecordingProvider:
    """A Resend stand-in on ``httpx.MockTransport``: keeps every request body, answers an id."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
        return httpx.Response(200, json={"id": str(uuid.uuid4())})

    def emails(self) -> list[dict[str, Any]]:
        """The JSON bodies sent to ``POST /emails``."""
        with self._lock:
            return [json.loads(r.content) for r in self.requests]


@dataclass
class InProcessStack:
    """The service with in-memory collaborators and a recording provider."""

    components: Components
    provider: RecordingProvider
    sink: ListSink
    logs: list[str] = field(default_factory=list)

    def call(self, event: Any) -> dict[str, Any]:
        """The Lambda entry point."""
        return handler.lambda_handler(event, None)

    def token(self, origin: str = ORIGIN) -> str:
        """A fresh CSRF token for ``origin``."""
        response = self.call(api_gateway_event("GET", "/contact/token", headers={"Origin": origin}))
        assert response["statusCode"] == 200, response
        return str(json.loads(response["body"])["token"])


@pytest.fixture(scope="module")
def inproc() -> Iterator[InProcessStack]:
    """One in-process stack per module (hypothesis runs many examples through it)."""
    provider = RecordingProvider()
    sink = ListSink()
    parameters = InMemoryParameterSource(
        {CONFIG_PARAMETER: resend_config(), CSRF_PARAMETER: CSRF_SECRET, WEBHOOK_PARAMETER: WEBHOOK_SECRET}
    )
    settings = Settings.from_env(
        environ={},
        config_parameter=CONFIG_PARAMETER,
        csrf_secret_parameter=CSRF_PARAMETER,
        webhook_secret_parameter=WEBHOOK_PARAMETER,
        allowed_origins=(ORIGIN, "http://localhost:8000"),
        environment="test",
        resend_api_url="http://resend.invalid",
        submit_limit=1_000_000,
        token_limit=1_000_000,
        min_fill_seconds=0,  # examples post the instant they fetch a token; the rule has its own tests
    )
    components = build_components(
        settings,
        sink=sink,
        parameters=parameters,
        http=httpx.Client(transport=httpx.MockTransport(provider)),
        outbox=InMemoryOutbox(),
        clock=RecordingClock(),
    )
    stack = InProcessStack(components, provider, sink)
    capture = _Capture(stack.logs, components.api.logger.registered_formatter)
    loggers = [logging.getLogger("contact-form"), logging.getLogger("contact_sdk")]
    for logger in loggers:
        logger.addHandler(capture)
    handler.environment.use_components(components)
    yield stack
    handler.environment.use_components(None)
    for logger in loggers:
        logger.removeHandler(capture)
    components.close()


# -- invariants ------------------------------------------------------------------------------------


def assert_contract_response(response: Any) -> dict[str, Any] | None:
    """A 2xx/4xx proxy result with the contract's headers and body shape; never a 500. Returns the body."""
    assert isinstance(response, dict)
    status = response["statusCode"]
    assert isinstance(status, int)
    assert status < 500, response
    headers = response["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-Id"]
    assert headers.get("Access-Control-Allow-Origin") != "*"
    for value in headers.values():
        assert "\r" not in value and "\n" not in value
    if status == 204:
        assert response["body"] == ""
        return None
    body = json.loads(response["body"])
    assert isinstance(body, dict)
    assert body["requestId"] == headers["X-Request-Id"]
    if status >= 400:
        assert set(body) == {"error", "requestId"}
        error = body["error"]
        assert error["code"] in ERROR_CODES, error
        assert isinstance(error["message"], str) and error["message"]
        assert set(error) <= {"code", "message", "fields", "nextToken"}
        # Contract §6: an answer given after the CSRF token was consumed hands the page the next one.
        consumed_first = error["code"] in ("validation_error", "captcha_invalid") or (
            status == 503 and "nextToken" in error
        )
        assert ("nextToken" in error) == consumed_first, error
        if status == 429:
            assert int(headers["Retry-After"]) > 0
    else:
        assert body.get("status") in ("sent", "queued") or "token" in body, body
    return dict(body)


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.declarations: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def unknown_decl(self, data: str) -> None:  # pragma: no cover - only user HTML could produce one
        self.declarations.append(data)

    def handle_comment(self, data: str) -> None:
        self.declarations.append(f"<!--{data}-->")

    def handle_pi(self, data: str) -> None:
        self.declarations.append(f"<?{data}>")


# The test's own reading of an address, independent of the code under test (email-validator):
# RFC 5322 atext for a dot-atom local part, LDH labels for the domain, ASCII only, whole string.
_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def plain_address_problem(value: str) -> str | None:
    """Why ``value`` is not a plain ``local@domain`` a mail header can carry as is, or ``None``."""
    if not value.isascii() or any(ch.isspace() or not ch.isprintable() for ch in value):
        return "not printable ASCII without whitespace"
    if len(value) > 254 or value.count("@") != 1:
        return "not one @ within 254 characters"
    local, domain = value.split("@")
    if not 1 <= len(local) <= 64 or any(ch not in _ATEXT and ch != "." for ch in local):
        return "local part is not atext"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "local part is not a dot-atom"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        return "domain is not lower-case LDH labels with a dot"
    return None


def expected_reply_to(submitted: str) -> str:
    """What the visitor's ``email`` must become, by hand: spaces trimmed, domain lower-cased and IDNA-encoded."""
    local, _, domain = submitted.strip(" ").rpartition("@")
    return f"{local}@{domain.encode('idna').decode('ascii').lower()}"


def assert_reply_to_is(value: object, submitted: str | None) -> None:
    """``value`` (Resend's ``reply_to``) is one plain address, read by the standard library's parser."""
    assert isinstance(value, list) and len(value) == 1, value
    address = value[0]
    assert isinstance(address, str)
    assert plain_address_problem(address) is None, (address, plain_address_problem(address))
    header = EmailMessage(policy=email.policy.strict)
    header["Reply-To"] = address
    parsed = header["Reply-To"]
    assert parsed.defects == (), parsed.defects
    assert [(a.display_name, a.addr_spec) for a in parsed.addresses] == [("", address)]
    if submitted is not None:
        assert address == expected_reply_to(submitted)


def assert_safe_email(email: dict[str, Any], submitted_email: str | None = None) -> None:
    """The email as sent to Resend: only the template's own markup, one-line subject, one clean reply-to.

    ``submitted_email``, when known, is what the visitor typed: the reply-to must be exactly it (normalised).
    """
    parser = _TagCollector()
    parser.feed(str(email["html"]))
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in TEMPLATE_TAGS, f"user markup in the HTML part: <{tag}>"
        for name, _ in attrs:
            assert name in TEMPLATE_ATTRIBUTES, f"user attribute in the HTML part: {name}"
    assert parser.declarations == ["doctype html"], parser.declarations
    subject = str(email["subject"])
    assert subject.startswith("Contact Form: Message from ")
    assert not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs") for ch in subject), subject
    assert_reply_to_is(email["reply_to"], submitted_email)
    assert email["from"] == "Contact Form <no-reply@example.com>"
    assert email["to"] == ["owner@example.com"]
    assert "headers" not in email and "bcc" not in email and "cc" not in email


def assert_log_lines_are_single_json_objects(lines: list[str]) -> None:
    """Every log line is exactly one JSON object on one line: user input cannot forge another."""
    for line in lines:
        assert "\n" not in line and "\r" not in line, line
        parsed = json.loads(line)
        assert isinstance(parsed, dict)
        assert parsed.get("service") == "contact-form"
