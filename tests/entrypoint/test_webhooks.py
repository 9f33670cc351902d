"""``POST /contact/events`` through ``lambda_handler``: Svix signatures, dedupe, metrics, bad input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest

from contact_sdk.ops.cli import main
from tests.entrypoint.conftest import Stack, api_gateway_event

pytestmark = pytest.mark.integration

WEBHOOK_PARAMETER = "/portfolio/prod/resend/webhook-secret"
SECRET = "whsec_" + base64.b64encode(b"a-webhook-signing-key-for-tests!").decode()


def signed_event(
    body: bytes, *, secret: str = SECRET, svix_id: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    """An API Gateway event carrying a webhook signed as Svix signs (independent of the code under test)."""
    svix_id = svix_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{svix_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    headers = {
        "Content-Type": "application/json",
        "svix-id": svix_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": f"v1,{signature.decode()}",
    }
    return api_gateway_event("POST", "/contact/events", body=body.decode(), headers=headers)


def delivery(event_type: str, email_id: str = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c") -> bytes:
    """A Resend webhook payload."""
    return json.dumps(
        {
            "type": event_type,
            "created_at": "2026-11-27T18:00:00.000Z",
            "data": {
                "email_id": email_id,
                "from": "Contact Form <no-reply@example.com>",
                "to": ["owner@example.com"],
                "subject": "Contact Form: Message from Ada",
                "created_at": "2026-11-27T17:59:58.000Z",
            },
        }
    ).encode()


@pytest.fixture
def webhook_stack(stack: Stack) -> Stack:
    """A stack whose webhook signing secret is in Parameter Store."""
    stack.put_parameter(WEBHOOK_PARAMETER, SECRET)
    return stack


@pytest.mark.parametrize(
    ("event_type", "metric"),
    [
        ("email.delivered", "EmailsDelivered"),
        ("email.bounced", "EmailsBounced"),
        ("email.complained", "EmailsComplained"),
        ("email.delivery_delayed", "EmailsDelayed"),
    ],
)
def test_a_verified_event_is_recorded_and_counted(webhook_stack: Stack, event_type: str, metric: str) -> None:
    """A correctly signed delivery event answers 200 recorded and counts its metric."""
    response = webhook_stack.call(signed_event(delivery(event_type)))
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "recorded"
    assert webhook_stack.sink.totals()[metric] == 1
    assert "Access-Control-Allow-Origin" not in response["headers"]


def test_a_retried_event_is_not_counted_twice(webhook_stack: Stack) -> None:
    """Resend retries with the same svix-id: the second delivery is a 200 duplicate, counted once."""
    event = signed_event(delivery("email.delivered"), svix_id="msg_same")
    assert json.loads(webhook_stack.call(event)["body"])["status"] == "recorded"
    assert json.loads(webhook_stack.call(event)["body"])["status"] == "duplicate"
    assert webhook_stack.sink.totals()["EmailsDelivered"] == 1


@pytest.mark.parametrize(
    "tamper",
    ["wrong-secret", "tampered-body", "missing-signature", "stale", "future"],
)
def test_bad_signatures_are_401_and_record_nothing(webhook_stack: Stack, tamper: str) -> None:
    """Wrong secret, changed body, no signature, or a timestamp 6 minutes off: 401 and nothing counted."""
    body = delivery("email.delivered")
    if tamper == "wrong-secret":
        event = signed_event(body, secret="whsec_" + base64.b64encode(b"another-key").decode())
    elif tamper == "stale":
        event = signed_event(body, timestamp=int(time.time()) - 360)
    elif tamper == "future":
        event = signed_event(body, timestamp=int(time.time()) + 360)
    else:
        event = signed_event(body)
        if tamper == "tampered-body":
            event["body"] = event["body"].replace("delivered", "bounced")
        else:
            del event["headers"]["svix-signature"]
            del event["multiValueHeaders"]["svix-signature"]
    response = webhook_stack.call(event)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "invalid_signature"
    assert not any(name.startswith("Emails") for name in webhook_stack.sink.totals())


def test_an_unknown_event_type_is_ignored_with_200(webhook_stack: Stack) -> None:
    """A verified event of a type we do not know answers 200 ignored, with a log line."""
    response = webhook_stack.call(signed_event(delivery("contact.created")))
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "ignored"
    assert any(line["message"] == "unknown webhook event type ignored" for line in webhook_stack.log_lines())


def test_a_signed_body_that_is_not_json_is_400(webhook_stack: Stack) -> None:
    """An authentic but malformed body answers 400 invalid_json."""
    response = webhook_stack.call(signed_event(b"{not json"))
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_json"


def test_without_a_signing_secret_the_route_is_503_so_resend_retries(stack: Stack) -> None:
    """No webhook secret in Parameter Store: 503 with Retry-After, never a 2xx that would drop the event."""
    response = stack.call(signed_event(delivery("email.delivered")))
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"]


# -- contact-sdk status ------------------------------------------------------------------------


def test_status_shows_the_latest_event_of_each_email(webhook_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    """Two emails' webhooks recorded; status lists both with their latest event, newest first."""
    webhook_stack.call(signed_event(delivery("email.delivered", email_id="email-a")))
    webhook_stack.call(signed_event(delivery("email.bounced", email_id="email-b")))
    capsys.readouterr()
    assert main(["status", "--table", webhook_stack.table, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["emailId"]: row["status"] for row in rows} == {
        "email-a": "email.delivered",
        "email-b": "email.bounced",
    }


def test_status_lists_as_many_emails_as_the_limit_says(
    webhook_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three emails' webhooks recorded: all three by default (20 at most), two with ``--limit 2``."""
    for email_id in ("email-1", "email-2", "email-3"):
        webhook_stack.call(signed_event(delivery("email.delivered", email_id=email_id)))
    capsys.readouterr()
    assert main(["status", "--table", webhook_stack.table, "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main(["status", "--table", webhook_stack.table, "--format", "json", "--limit", "2"]) == 0
    limited = json.loads(capsys.readouterr().out)
    assert len(limited) == 2
    assert {row["emailId"] for row in limited} < {"email-1", "email-2", "email-3"}


def test_status_of_one_email_lists_its_events(webhook_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    """--email-id prints every event of that email as a table."""
    webhook_stack.call(signed_event(delivery("email.delivery_delayed", email_id="email-c")))
    webhook_stack.call(signed_event(delivery("email.delivered", email_id="email-c")))
    capsys.readouterr()
    assert main(["status", "--table", webhook_stack.table, "--email-id", "email-c"]) == 0
    out = capsys.readouterr().out
    assert "email.delivery_delayed" in out
    assert "email.delivered" in out


def test_status_without_a_table_or_with_nothing_recorded(
    webhook_stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No table given: exit 2 with the reason; an unknown email: exit 1 saying nothing was recorded."""
    monkeypatch.delenv("CONTACT_TABLE_NAME", raising=False)
    assert main(["status"]) == 2
    assert "CONTACT_TABLE_NAME" in capsys.readouterr().err
    assert main(["status", "--table", webhook_stack.table, "--email-id", "nope"]) == 1
    assert "no delivery events" in capsys.readouterr().err
