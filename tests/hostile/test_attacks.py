"""Named attacks against the real stack (moto + the Resend sandbox + the handler), each with its expected outcome.

The table is the documentation: an attack, what the service answers, and what must (not) happen —
checked on the answer, on the email the sandbox received (if any) and on every captured log line.
"""

from __future__ import annotations

import base64
import html
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import handler
from contact_sdk.devtools.local.api_server import ApiServerOptions, LocalApiServer
from contact_sdk.security.csrf import CsrfTokens, InMemoryNonceStore
from tests.entrypoint.conftest import CSRF_SECRET, ORIGIN, Stack, api_gateway_event, submission
from tests.hostile.conftest import (
    assert_contract_response,
    assert_log_lines_are_single_json_objects,
    assert_safe_email,
)

pytestmark = pytest.mark.integration

SCRIPT = "<script>alert(document.cookie)</script>"
ATTRIBUTE = '" onmouseover="alert(1)" x="><img src=x onerror=alert(1)>'
FORGED_LOG = '\n{"level":"ERROR","message":"forged","service":"contact-form"}\n'


@dataclass(frozen=True)
class Attack:
    """One named attack: how it is sent, and the answer it must get."""

    name: str
    send: Callable[[Stack], dict[str, Any]]
    status: int
    code: str | None = None  # the error code, or None for a success
    emails: int | None = None  # how many emails must reach the sandbox (None: not checked here)
    fields: tuple[str, ...] = ()  # the fields a validation error must name


def post(stack: Stack, payload: Any, *, headers: dict[str, str] | None = None, **options: Any) -> dict[str, Any]:
    """POST /contact with a fresh token and the given header overrides."""
    token = stack.token()
    merged = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token, **(headers or {})}
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return stack.call(api_gateway_event("POST", "/contact", body=body, headers=merged, **options))


def with_field(field: str, value: str) -> Callable[[Stack], dict[str, Any]]:
    """Send a legitimate submission with one field replaced."""
    return lambda stack: post(stack, submission(**{field: value}))


def token_signed(secret: bytes, *, origin: str = ORIGIN, age_seconds: float = 0.0) -> str:
    """A well-formed token signed with ``secret``, issued ``age_seconds`` ago."""
    tokens = CsrfTokens(nonces=InMemoryNonceStore(), clock=lambda: time.time() - age_seconds)
    return tokens.issue(secret, origin)


def replayed_token(stack: Stack) -> dict[str, Any]:
    token = stack.token()
    first = stack.submit(submission(), token=token)
    assert first["statusCode"] == 200
    return stack.submit(submission(message="A second message with the same token, please."), token=token)


def other_origin_token(stack: Stack) -> dict[str, Any]:
    token = stack.token(origin="http://localhost:8000")  # an allowed origin, but not this one
    return stack.submit(submission(), token=token)


def spoofed_forwarded_for(stack: Stack) -> dict[str, Any]:
    response: dict[str, Any] = {}
    for number in range(6):
        token = stack.token()
        event = api_gateway_event(
            "POST",
            "/contact",
            body=json.dumps(submission(message=f"Message number {number}, from a rotating proxy.")),
            headers={
                "Origin": ORIGIN,
                "Content-Type": "application/json",
                "X-CSRF-Token": token,
                "X-Forwarded-For": f"198.51.100.{number}, 10.0.0.{number}",
                "X-Real-IP": f"192.0.2.{number}",
            },
            source_ip="203.0.113.77",
        )
        event["headers"]["X-Forwarded-For"] = f"198.51.100.{number}"  # what a spoofing client sends
        response = stack.call(event)
    return response


def unknown_field_named(name: str) -> Callable[[Stack], dict[str, Any]]:
    return lambda stack: post(stack, {**submission(), name: "x"})


def weird_path(stack: Stack) -> dict[str, Any]:
    event = api_gateway_event("POST", "/contact" + FORGED_LOG, headers={"Origin": ORIGIN})
    event["resource"] = "/{proxy+}"
    return stack.call(event)


def forged_request_id(stack: Stack) -> dict[str, Any]:
    return stack.call(api_gateway_event("GET", "/contact/token", headers={"Origin": ORIGIN}, request_id=FORGED_LOG))


ATTACKS: list[Attack] = [
    # CRLF: header injection through the fields that become email headers.
    Attack("crlf-in-name", with_field("name", "Ada\r\nBcc: victim@evil.test"), 400, "validation_error", 0, ("name",)),
    Attack(
        "crlf-in-subject",
        with_field("subject", "Hi\r\nBcc: victim@evil.test"),
        400,
        "validation_error",
        0,
        ("subject",),
    ),
    Attack(
        "crlf-in-email",
        with_field("email", "ada@example.org\r\nBcc: victim@evil.test"),
        400,
        "validation_error",
        0,
        ("email",),
    ),
    Attack("lf-in-subject", with_field("subject", "Hi\nX-Injected: 1"), 400, "validation_error", 0, ("subject",)),
    Attack(
        "unicode-line-separator-in-subject",
        with_field("subject", "Hi\u2028Bcc: v@evil.test"),
        400,
        "validation_error",
        0,
        ("subject",),
    ),
    Attack("nel-in-name", with_field("name", "Ada\x85Bcc: v@evil.test"), 400, "validation_error", 0, ("name",)),
    # A line feed in the address: each used to be accepted (the patterns ended in ``$``) and parked in the outbox.
    Attack("lf-in-email-local-part", with_field("email", "x\n@example.com"), 400, "validation_error", 0, ("email",)),
    Attack("lf-in-email-domain", with_field("email", "a@example\n.com"), 400, "validation_error", 0, ("email",)),
    Attack("trailing-lf-in-email", with_field("email", "ada@example.org\n"), 400, "validation_error", 0, ("email",)),
    Attack("tab-in-email", with_field("email", "ada\t@example.org"), 400, "validation_error", 0, ("email",)),
    Attack("nul-in-email", with_field("email", "ada@exa\x00mple.org"), 400, "validation_error", 0, ("email",)),
    Attack("del-in-email", with_field("email", "ada\x7f@example.org"), 400, "validation_error", 0, ("email",)),
    Attack("trailing-lf-in-name", with_field("name", "Ada\n"), 400, "validation_error", 0, ("name",)),
    Attack("trailing-lf-in-subject", with_field("subject", "Hello\n"), 400, "validation_error", 0, ("subject",)),
    Attack("bidi-override-in-subject", with_field("subject", "Invoice \u202egpj.exe"), 400, "validation_error", 0),
    # Real names and whole numbers: accepted and delivered.
    Attack("zwnj-in-name", with_field("name", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"), 200, None, 1),
    Attack("zwj-in-name", with_field("name", "\u0915\u094d\u200d\u0937\u093f\u0924\u093f"), 200, None, 1),
    Attack("rlm-in-subject", with_field("subject", "\u200f\u05e9\u05dc\u05d5\u05dd\u200f"), 200, None, 1),
    Attack(
        "whole-float-formStartedAt",
        lambda s: post(s, {**submission(), "formStartedAt": float(int(time.time()) - 60) * 1000}),
        200,
        None,
        1,
    ),
    Attack(
        "fractional-formStartedAt",
        lambda s: post(s, {**submission(), "formStartedAt": time.time() * 1000 - 60_000.5}),
        400,
        "validation_error",
        0,
        ("formStartedAt",),
    ),
    Attack(
        "comma-list-in-email",
        with_field("email", "ada@example.org, victim@evil.test"),
        400,
        "validation_error",
        0,
        ("email",),
    ),
    Attack(
        "display-name-in-email", with_field("email", "Ada <victim@evil.test>"), 400, "validation_error", 0, ("email",)
    ),
    Attack("encoded-word-in-name", with_field("name", "=?utf-8?q?Ada=0D=0ABcc:_v@evil.test?="), 200, None, 1),
    # Markup in every field: inert text in the email, or refused where the field has a syntax.
    Attack("script-in-name", with_field("name", f"Ada {SCRIPT}"), 200, None, 1),
    Attack("script-in-subject", with_field("subject", f"Hello {SCRIPT}"), 200, None, 1),
    Attack("script-in-message", with_field("message", f"Hello there, {SCRIPT} and more words."), 200, None, 1),
    Attack("script-in-email", with_field("email", f"{SCRIPT}@example.org"), 400, "validation_error", 0, ("email",)),
    Attack("attribute-in-name", with_field("name", f"Ada{ATTRIBUTE}"), 200, None, 1),
    Attack("attribute-in-subject", with_field("subject", f"Hello{ATTRIBUTE}"), 200, None, 1),
    Attack("attribute-in-message", with_field("message", f"Hello there, reading{ATTRIBUTE} more."), 200, None, 1),
    Attack(
        "attribute-in-email",
        with_field("email", f'ada"{ATTRIBUTE}@example.org'),
        400,
        "validation_error",
        0,
        ("email",),
    ),
    Attack("script-in-honeypot", with_field("website", SCRIPT), 200, None, 0),  # spam: looks sent, sends nothing
    Attack(
        "script-in-formStartedAt",
        lambda s: post(s, {**submission(), "formStartedAt": SCRIPT}),
        400,
        "validation_error",
        0,
        ("formStartedAt",),
    ),
    Attack(
        "script-in-consent",
        lambda s: post(s, {**submission(), "consent": SCRIPT}),
        400,
        "validation_error",
        0,
        ("consent",),
    ),
    # CSRF tokens.
    Attack("csrf-missing", lambda s: s.submit(submission(), token=None), 403, "csrf_missing", 0),
    Attack("csrf-forged", lambda s: s.submit(submission(), token=token_signed(b"x" * 48)), 403, "csrf_invalid", 0),
    Attack(
        "csrf-expired",
        lambda s: s.submit(submission(), token=token_signed(CSRF_SECRET.encode(), age_seconds=7200)),
        403,
        "csrf_invalid",
        0,
    ),
    Attack("csrf-replayed", replayed_token, 403, "csrf_invalid", 1),
    Attack("csrf-other-origin", other_origin_token, 403, "csrf_invalid", 0),
    Attack("csrf-garbage", lambda s: s.submit(submission(), token="v1." + "A" * 10_000), 403, "csrf_invalid", 0),
    # Origin.
    Attack(
        "origin-null-post", lambda s: s.submit(submission(), origin="null", token=None), 403, "origin_not_allowed", 0
    ),
    Attack(
        "origin-null-token",
        lambda s: s.call(api_gateway_event("GET", "/contact/token", headers={"Origin": "null"})),
        403,
        "origin_not_allowed",
        0,
    ),
    Attack("origin-missing", lambda s: s.submit(submission(), origin=None, token=None), 403, "origin_not_allowed", 0),
    Attack(
        "origin-with-crlf",
        lambda s: post(s, submission(), headers={"Origin": ORIGIN + "\r\nSet-Cookie: a=b"}),
        403,
        "origin_not_allowed",
        0,
    ),
    Attack(
        "origin-suffix",
        lambda s: post(s, submission(), headers={"Origin": ORIGIN + ".evil.test"}),
        403,
        "origin_not_allowed",
        0,
    ),
    # Rate limit.
    Attack("spoofed-x-forwarded-for", spoofed_forwarded_for, 429, "rate_limited", 5),
    # Size.
    Attack("oversized-body", lambda s: post(s, submission(message="x" * 40_000)), 413, "payload_too_large", 0),
    Attack(
        "oversized-base64-body",
        lambda s: post(
            s, base64.b64encode(json.dumps(submission(message="y" * 40_000)).encode()).decode(), is_base64=True
        ),
        413,
        "payload_too_large",
        0,
    ),
    # Log injection.
    Attack("log-injection-in-name", with_field("name", "Ada" + FORGED_LOG), 400, "validation_error", 0, ("name",)),
    Attack("log-injection-in-message", with_field("message", "Hello there, reader." + FORGED_LOG), 200, None, 1),
    Attack("log-injection-in-field-name", unknown_field_named(FORGED_LOG), 400, "validation_error", 0),
    Attack("log-injection-in-path", weird_path, 404, "not_found", 0),
    Attack("log-injection-in-request-id", forged_request_id, 200, None, 0),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_named_attack(stack: Stack, attack: Attack) -> None:
    """Each attack gets its expected answer; emails that went out are inert; logs cannot be forged."""
    response = attack.send(stack)
    body = assert_contract_response(response)
    assert response["statusCode"] == attack.status, response["body"]
    assert body is not None
    if attack.code is None:
        assert "error" not in body
    else:
        assert body["error"]["code"] == attack.code
        assert set(attack.fields) <= set(body["error"].get("fields", {}))
        if attack.code in ("origin_not_allowed",):
            assert not any(name.startswith("Access-Control-") for name in response["headers"])
    emails = [dict(email["body"]) for email in stack.sandbox.emails()]  # type: ignore[call-overload]
    if attack.emails is not None:
        assert len(emails) == attack.emails
    for email in emails:
        assert_safe_email(email, submission()["email"])
        assert SCRIPT not in str(email["html"])
        assert "<img" not in str(email["html"])
    if attack.name.startswith(("script-in", "attribute-in")) and emails:
        value = SCRIPT if "script" in attack.name else ATTRIBUTE
        assert html.escape(value.strip()) in str(email["html"]) or html.escape(value) in str(email["html"])
    lines = stack.logs
    assert_log_lines_are_single_json_objects(lines)
    assert not [line for line in stack.log_lines() if line.get("message") == "forged"]
    assert "\n" not in response["headers"]["X-Request-Id"]


# -- slow-loris at the local API -------------------------------------------------------------------


@pytest.fixture
def local_api(stack: Stack) -> Iterator[LocalApiServer]:
    """The local API server in front of the real handler, with short client timeouts."""
    options = ApiServerOptions(socket_timeout_seconds=0.5, body_timeout_seconds=1.0, max_body_bytes=64 * 1024)
    server = LocalApiServer(("127.0.0.1", 0), handler.lambda_handler, options=options)
    server.serve_in_thread()
    yield server
    server.close()


def _connect(server: LocalApiServer) -> socket.socket:
    host, port = server.server_address[:2]
    return socket.create_connection((str(host), int(port)), timeout=5)


def _read_response(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_slow_loris_body_is_cut_off_while_others_are_served(stack: Stack, local_api: LocalApiServer) -> None:
    """A body dribbled byte by byte is cut off with 408 after the body timeout; meanwhile others get answers.

    The function never sees the partial request, so nothing is half-validated or half-sent.
    """
    handled_before = len([line for line in stack.log_lines() if line.get("message") == "request handled"])
    slow = _connect(local_api)
    slow.sendall(
        b"POST /contact HTTP/1.1\r\nHost: localhost\r\nOrigin: " + ORIGIN.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"
    )
    started = time.monotonic()
    # While the slow client holds its connection, a normal client is served.
    answer = httpx.get(f"{local_api.url}/contact/token", headers={"Origin": ORIGIN}, timeout=5)
    assert answer.status_code == 200
    for _ in range(10):
        try:
            slow.sendall(b" ")
        except OSError:
            break
        time.sleep(0.15)
    raw = _read_response(slow)
    slow.close()
    elapsed = time.monotonic() - started
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), raw[:200]
    error = json.loads(payload)
    assert error["error"]["code"] == "request_timeout"
    assert elapsed < 5
    handled = [line for line in stack.log_lines() if line.get("message") == "request handled"]
    assert [line["route"] for line in handled[handled_before:]] == ["/contact/token"]
    assert stack.sandbox.emails() == []


def test_slow_headers_are_dropped(local_api: LocalApiServer) -> None:
    """Headers that never finish: the connection is closed after the socket timeout, not held open."""
    slow = _connect(local_api)
    slow.sendall(b"POST /contact HTTP/1.1\r\nHost: localhost\r\n")
    started = time.monotonic()
    _read_response(slow)
    slow.close()
    assert time.monotonic() - started < 3


def test_a_huge_content_length_is_refused_unread(local_api: LocalApiServer) -> None:
    """``Content-Length`` of 10 GB: 413 at once, before a byte of the body is read."""
    sock = _connect(local_api)
    sock.sendall(
        b"POST /contact HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000000\r\n\r\n"
    )
    raw = _read_response(sock)
    sock.close()
    assert raw.startswith(b"HTTP/1.1 413"), raw[:200]


def test_request_ids_from_clients_never_reach_headers_raw(stack: Stack) -> None:
    """A request id with CR/LF (from a forged event) is replaced, so X-Request-Id cannot split a header."""
    response = stack.call(
        api_gateway_event("GET", "/contact/token", headers={"Origin": ORIGIN}, request_id="abc\r\nSet-Cookie: x=1")
    )
    assert response["statusCode"] == 200
    uuid.UUID(response["headers"]["X-Request-Id"])
