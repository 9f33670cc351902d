"""Delivery webhooks: signed like Svix, one event per outcome per recipient, retried with the same svix-id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import resend

from contact_sdk.devtools.sandbox import ResendSandbox

pytestmark = pytest.mark.integration

Email = Callable[..., dict[str, object]]
SECRET = "whsec_" + base64.b64encode(b"sandbox-webhook-test-secret-32by").decode()


@dataclass
class Receiver:
    """A webhook endpoint on loopback that records deliveries and can fail the first few."""

    url: str = ""
    fail_first: int = 0
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, count: int, timeout: float = 3.0) -> list[tuple[dict[str, str], bytes]]:
        """Wait until ``count`` deliveries arrived and return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} deliveries, got {len(self.deliveries)}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running webhook receiver."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            with state.lock:
                state.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = len(state.deliveries) <= state.fail_first
            self.send_response(500 if failing else 204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/contact/events"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Svix's documented check, written independently of the sandbox."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['svix-id']}.{headers['svix-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (item.partition(",") for item in headers["svix-signature"].split())
    )


def make_hooked(make_sandbox: Callable[..., ResendSandbox], receiver: Receiver, **kwargs: Any) -> ResendSandbox:
    return make_sandbox(
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_delay_seconds=0.01,
        webhook_retry_delays=(0.02, 0.02),
        **kwargs,
    )


def send(sandbox: ResendSandbox, body: dict[str, object]) -> str:
    response = httpx.post(f"{sandbox.url}/emails", json=body, headers={"Authorization": "Bearer re_test_key"})
    return str(response.json()["id"])


def test_events_are_signed_and_shaped_like_resend(
    make_sandbox: Callable[..., ResendSandbox], receiver: Receiver, clock: Any, email: Email
):
    """``email.sent`` then ``email.delivered``, with Svix headers whose signature verifies."""
    sandbox = make_hooked(make_sandbox, receiver)
    email_id = send(sandbox, email(tags=[{"name": "source", "value": "form"}]))
    deliveries = receiver.events(2)
    for headers, body in deliveries:
        assert headers["svix-id"].startswith("msg_")
        assert headers["svix-timestamp"] == str(int(clock()))
        assert headers["svix-signature"].startswith("v1,")
        assert verify(SECRET, headers, body)
        assert not verify("whsec_" + base64.b64encode(b"another secret").decode(), headers, body)
    events = [json.loads(body) for _, body in deliveries]
    assert [event["type"] for event in events] == ["email.sent", "email.delivered"]
    data = events[1]["data"]
    assert data["email_id"] == email_id
    assert (data["from"], data["to"], data["subject"]) == (
        "Contact form <noreply@example.com>",
        ["delivered@resend.dev"],
        "Hello",
    )
    assert data["tags"] == {"source": "form"}
    assert events[1]["created_at"].endswith("Z")


@pytest.mark.parametrize(
    "case",
    [
        ("bounced@resend.dev", ["email.sent", "email.bounced"], "bounced"),
        ("complained+x@resend.dev", ["email.sent", "email.delivered", "email.complained"], "complained"),
        ("delayed@resend.dev", ["email.sent", "email.delivery_delayed", "email.delivered"], "delivered"),
        ("someone@example.org", ["email.sent", "email.delivered"], "delivered"),
    ],
)
def test_outcome_follows_resend_test_addresses(
    make_sandbox: Callable[..., ResendSandbox],
    receiver: Receiver,
    email: Email,
    case: tuple[str, list[str], str],
):
    """Resend's test addresses decide the events, and ``last_event`` follows them."""
    recipient, types, last_event = case
    sandbox = make_hooked(make_sandbox, receiver)
    email_id = send(sandbox, email(to=recipient))
    events = [json.loads(body) for _, body in receiver.events(len(types))]
    assert [event["type"] for event in events] == types
    if "email.bounced" in types:
        assert events[-1]["data"]["bounce"]["type"] == "Permanent"
    deadline = time.monotonic() + 2
    while sandbox.emails()[0]["last_event"] != last_event and time.monotonic() < deadline:
        time.sleep(0.01)
    got = httpx.get(f"{sandbox.url}/emails/{email_id}", headers={"Authorization": "Bearer re_test_key"}).json()
    assert got["last_event"] == last_event


def test_the_webhook_delay_is_a_setting_that_paces_the_next_emails(
    make_sandbox: Callable[..., ResendSandbox], receiver: Receiver, email: Email
):
    """``GET /_sandbox/settings`` shows ``webhook_delay_seconds``; changed from 30 s to 0.01 s, the next email's
    events arrive at once (30 s apart, none would within the receiver's wait); a negative one is a 400 that
    changes nothing."""
    sandbox = make_sandbox(webhook_url=receiver.url, webhook_secret=SECRET, webhook_delay_seconds=30)
    settings = f"{sandbox.url}/_sandbox/settings"
    assert httpx.get(settings).json()["webhook_delay_seconds"] == 30.0
    refused = httpx.post(settings, json={"webhook_delay_seconds": -1})
    assert (refused.status_code, refused.json()["name"]) == (400, "invalid_setting")
    assert "webhook_delay_seconds must be seconds, 0 or more" in refused.json()["message"]
    assert httpx.get(settings).json()["webhook_delay_seconds"] == 30.0
    assert httpx.post(settings, json={"webhook_delay_seconds": 0.01}).json()["webhook_delay_seconds"] == 0.01
    send(sandbox, email())
    assert [json.loads(body)["type"] for _, body in receiver.events(2)] == ["email.sent", "email.delivered"]


def test_failed_delivery_is_retried_with_the_same_svix_id(
    make_sandbox: Callable[..., ResendSandbox], receiver: Receiver, email: Email
):
    """A 500 from the receiver is retried with the same ``svix-id`` and body; the log shows each attempt."""
    receiver.fail_first = 2
    sandbox = make_hooked(make_sandbox, receiver)
    send(sandbox, email())
    attempts: dict[str, list[bytes]] = {}
    for headers, body in receiver.events(4):
        attempts.setdefault(headers["svix-id"], []).append(body)
    assert len(attempts) == 2  # email.sent and email.delivered, each under one id however often it was tried
    assert all(len(set(bodies)) == 1 for bodies in attempts.values())
    deadline = time.monotonic() + 2
    while len(sandbox.webhooks()) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    log = httpx.get(f"{sandbox.url}/_sandbox/webhooks").json()
    by_id: dict[str, list[tuple[int, int]]] = {}
    for entry in log:
        by_id.setdefault(entry["svix_id"], []).append((entry["attempt"], entry["status"]))
    assert sorted(by_id) == sorted(attempts)
    assert all(
        tries[-1][1] == 204 and [a for a, _ in tries] == list(range(1, len(tries) + 1)) for tries in by_id.values()
    )
    assert sum(status == 500 for tries in by_id.values() for _, status in tries) == 2


def test_official_sdk_verifies_the_signature(
    make_sandbox: Callable[..., ResendSandbox], receiver: Receiver, email: Email
):
    """``resend.Webhooks.verify`` accepts what the sandbox sends (real clock, inside its tolerance)."""
    sandbox = make_hooked(make_sandbox, receiver, clock=time.time)
    send(sandbox, email())
    headers, body = receiver.events(1)[0]
    event = resend.Webhooks.verify(
        {
            "payload": body.decode(),
            "headers": {
                "id": headers["svix-id"],
                "timestamp": headers["svix-timestamp"],
                "signature": headers["svix-signature"],
            },
            "webhook_secret": SECRET,
        }
    )
    assert event["type"] == "email.sent"


def test_webhook_settings_are_checked(email: Email):
    """A secret without ``whsec_`` or a non-http URL is refused at construction."""
    with pytest.raises(ValueError, match="whsec_"):
        ResendSandbox(webhook_url="http://127.0.0.1:1/", webhook_secret="secret")
    with pytest.raises(ValueError, match="http"):
        ResendSandbox(webhook_url="file:///etc/passwd", webhook_secret=SECRET)
