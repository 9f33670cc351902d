"""The webhook route (contact_sdk.webhooks.route.WebhookRoute), fast tier: signatures computed here with ``hmac``,
not by the verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from contact_sdk.config import ParameterCache
from contact_sdk.deadline import Deadline
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.logs import build_logger
from contact_sdk.metrics import Metric
from contact_sdk.webhooks.route import WebhookRoute
from contact_sdk.webhooks.store import InMemoryWebhookStore, WebhookStoreUnavailableError
from contact_sdk.webhooks.verifier import WebhookEvent
from tests.log_lines import printed

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_800_000_000


def signed(
    body: dict[str, Any] | str, *, svix_id: str = "msg_1", timestamp: int = NOW, key: bytes = KEY
) -> tuple[dict[str, str], bytes]:
    raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    mac = hmac.new(key, f"{svix_id}.{timestamp}.".encode() + raw, hashlib.sha256).digest()
    headers = {
        "svix-id": svix_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": "v1," + base64.b64encode(mac).decode(),
    }
    return headers, raw


def delivered(email_id: str = "e-1", kind: str = "email.delivered") -> dict[str, Any]:
    return {"type": kind, "created_at": "2027-01-15T08:00:00.000Z", "data": {"email_id": email_id}}


class Setup:
    def __init__(self, *, secret: str | None = SECRET) -> None:
        self.source = InMemoryParameterSource({"/w": secret} if secret is not None else {})
        self.store = InMemoryWebhookStore()
        self.metrics: list[Metric] = []
        self.cache = ParameterCache(self.source)
        self.route = WebhookRoute(
            config_cache=self.cache,
            secret_parameter="/w",
            store=self.store,
            record_metric=self.metrics.append,
            clock=lambda: float(NOW),
        )


def test_an_authentic_delivery_is_recorded_and_counted_once() -> None:
    """A signed delivery answers 200 recorded with its log fields; the same again is a duplicate, counted once."""
    setup = Setup()
    headers, body = signed(delivered())
    first = setup.route.receive(headers, body)
    assert (first.status, first.body, first.outcome) == (200, {"status": "recorded"}, "webhook_recorded")
    assert dict(first.log_fields) == {"svix_id": "msg_1", "event_type": "email.delivered", "email_id": "e-1"}
    again = setup.route.receive(headers, body)
    assert (again.status, again.body, again.outcome) == (200, {"status": "duplicate"}, "webhook_duplicate")
    assert again.log_fields == first.log_fields
    assert setup.metrics == [Metric.EMAILS_DELIVERED]


@pytest.mark.parametrize(
    ("kind", "metric"),
    [
        ("email.bounced", Metric.EMAILS_BOUNCED),
        ("email.complained", Metric.EMAILS_COMPLAINED),
        ("email.delivery_delayed", Metric.EMAILS_DELAYED),
    ],
)
def test_each_counted_type(kind: str, metric: Metric) -> None:
    """Bounced, complained and delayed events each count their own metric."""
    setup = Setup()
    setup.route.receive(*signed(delivered(kind=kind)))
    assert setup.metrics == [metric]


def test_an_unknown_type_is_ignored_not_counted() -> None:
    """A verified event of a type the route does not know answers 200 ignored, counts nothing, and says so in an
    INFO line (its type cut to 64 characters: it comes from outside)."""
    setup = Setup()
    kind = "contact." + "x" * 92
    with printed(build_logger()) as out:
        outcome = setup.route.receive(*signed(delivered(kind=kind)))
    assert (outcome.status, outcome.body, outcome.outcome) == (200, {"status": "ignored"}, "webhook_ignored")
    fields = {"svix_id": "msg_1", "event_type": kind[:64], "email_id": "e-1"}
    assert dict(outcome.log_fields) == fields
    [line] = out.lines("unknown webhook event type ignored")
    assert line["level"] == "INFO" and {name: line[name] for name in fields} == fields
    assert setup.metrics == []


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("wrong-key", "no_matching_signature"),
        ("changed-body", "no_matching_signature"),
        ("old", "stale_timestamp"),
        ("no-signature", "missing_header"),
    ],
)
def test_a_bad_signature_is_401_and_nothing_is_recorded(tamper: str, reason: str) -> None:
    """A wrong key, a changed body, an old timestamp or no signature: 401 in words, the failure's code for the
    summary line, nothing recorded or counted."""
    setup = Setup()
    headers, body = signed(
        delivered(), key=b"x" * 32 if tamper == "wrong-key" else KEY, timestamp=NOW - 3600 if tamper == "old" else NOW
    )
    if tamper == "changed-body":
        body = body.replace(b"e-1", b"e-2")
    if tamper == "no-signature":
        del headers["svix-signature"]
    outcome = setup.route.receive(headers, body)
    assert outcome.status == 401
    assert outcome.body == {
        "error": {"code": "invalid_signature", "message": "The webhook signature is missing, invalid or too old."}
    }
    assert dict(outcome.log_fields) == {"signature_failure": reason}
    assert setup.metrics == []
    assert setup.store.status("e-1", now=NOW) is None


def test_an_authentic_body_that_is_not_an_event_is_400() -> None:
    """A correctly signed body that is not a Resend event answers 400 invalid_json."""
    setup = Setup()
    outcome = setup.route.receive(*signed("[1, 2]"))
    assert outcome.status == 400
    assert outcome.body == {"error": {"code": "invalid_json", "message": "The webhook body is not a Resend event."}}
    assert dict(outcome.log_fields) == {"payload_error": "the webhook body is not a JSON object"}


def test_no_secret_is_503_so_resend_retries() -> None:
    """Without a signing secret the route answers 503 with Retry-After, so Resend keeps the event."""
    outcome = Setup(secret=None).route.receive(*signed(delivered()))
    assert outcome.status == 503
    message = "Webhook verification is not available right now."
    assert outcome.body == {"error": {"code": "service_unavailable", "message": message}}
    assert dict(outcome.headers) == {"Retry-After": "60"}
    assert list(outcome.log_fields) == ["config_error"] and "/w" in outcome.log_fields["config_error"]


def test_a_store_outage_is_503() -> None:
    """A store that cannot record answers 503 and counts nothing."""

    class Broken(InMemoryWebhookStore):
        def record(self, event: WebhookEvent, *, now: float, deadline: float | None = None) -> bool:
            raise WebhookStoreUnavailableError("down")

    setup = Setup()
    setup.route = WebhookRoute(
        config_cache=ParameterCache(setup.source),
        secret_parameter="/w",
        store=Broken(),
        record_metric=setup.metrics.append,
        clock=lambda: float(NOW),
    )
    outcome = setup.route.receive(*signed(delivered()))
    assert outcome.status == 503
    message = "The event could not be recorded right now."
    assert outcome.body == {"error": {"code": "service_unavailable", "message": message}}
    assert dict(outcome.headers) == {"Retry-After": "60"}
    assert dict(outcome.log_fields) == {
        "svix_id": "msg_1",
        "event_type": "email.delivered",
        "email_id": "e-1",
        "store_error": "down",
        "store_outcome_unknown": False,
    }
    assert setup.metrics == []


def test_a_rotated_secret_is_picked_up() -> None:
    """A new secret in Parameter Store verifies events once the cached value expires."""
    setup = Setup()
    setup.route.receive(*signed(delivered()))
    new_key = b"fedcba9876543210fedcba9876543210"
    setup.source.values["/w"] = "whsec_" + base64.b64encode(new_key).decode()
    setup.cache.expire_older_than(0)  # what the hourly TTL does
    outcome = setup.route.receive(*signed(delivered("e-2"), svix_id="msg_2", key=new_key))
    assert outcome.status == 200


def test_the_deadline_is_handed_to_the_store() -> None:
    """A deadline already passed: 503 so that Resend retries, nothing recorded or counted."""
    setup = Setup()
    outcome = setup.route.receive(*signed(delivered()), deadline=Deadline(0.0, lambda: 1.0))
    assert (outcome.status, outcome.body["error"]["code"]) == (503, "service_unavailable")
    assert outcome.log_fields["store_outcome_unknown"] is False
    assert setup.metrics == []
    assert setup.store.status("e-1", now=NOW) is None
    retried = setup.route.receive(*signed(delivered()))
    assert retried.body == {"status": "recorded"}
    assert setup.metrics == [Metric.EMAILS_DELIVERED]
