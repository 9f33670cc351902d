"""The outbox consumer, fast tier: backoff figures computed by hand, and batches delivered in process."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from contact_sdk.bootstrap import Components, build_components
from contact_sdk.compose import idempotency_key
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource, InMemoryParkingLot
from contact_sdk.errors import CircuitOpenError, ProviderError, ProviderQuotaError, ProviderServerError
from contact_sdk.metrics import ListSink
from contact_sdk.models import ContactSubmission
from contact_sdk.outbox import QueuedEmail
from contact_sdk.outbox_consumer import backoff_seconds
from contact_sdk.record import Draft, RecordState
from contact_sdk.resend import OutgoingEmail
from contact_sdk.settings import Settings
from tests.clocks import RecordingClock

NOON = dt.datetime(2027, 3, 1, 12, 0, 0, tzinfo=dt.UTC).timestamp()


# The hide grows 30 s, doubling per receive, and stops at 5 min (docs/guarantees.md: a day-long outage
# spends receives slowly, and mail flows within minutes of recovery).
@pytest.mark.parametrize(
    ("receive_count", "seconds"), [(0, 30), (1, 30), (2, 60), (3, 120), (4, 240), (5, 300), (6, 300), (20, 300)]
)
def test_the_hide_grows_from_30_seconds_and_stops_at_5_minutes(receive_count: int, seconds: int) -> None:
    error = ProviderServerError("down", status=500)
    assert backoff_seconds(error, receive_count=receive_count, breaker_wait=0, now=NOON) == seconds


def test_an_open_breaker_waits_for_its_half_open_time_within_the_growing_hide() -> None:
    # At least the growing hide, at least the breaker's wait, never past the 5-minute cap.
    assert backoff_seconds(CircuitOpenError("open"), receive_count=1, breaker_wait=42.2, now=NOON) == 43
    assert backoff_seconds(CircuitOpenError("open"), receive_count=1, breaker_wait=0.0, now=NOON) == 30
    assert backoff_seconds(CircuitOpenError("open"), receive_count=5, breaker_wait=42.2, now=NOON) == 300
    assert backoff_seconds(CircuitOpenError("open"), receive_count=1, breaker_wait=900.0, now=NOON) == 300


def test_retry_after_is_honoured_past_the_cap_and_never_below_the_growing_hide() -> None:
    assert (
        backoff_seconds(
            ProviderError("busy", status=503, retry_after=1000.5), receive_count=1, breaker_wait=0, now=NOON
        )
        == 1001
    )
    assert (
        backoff_seconds(ProviderError("busy", status=503, retry_after=7.5), receive_count=1, breaker_wait=0, now=NOON)
        == 30
    )
    assert (
        backoff_seconds(ProviderError("busy", status=503, retry_after=7.5), receive_count=9, breaker_wait=0, now=NOON)
        == 300
    )


@pytest.mark.parametrize(("retry_after", "seconds"), [(0.0, 30), (10**9, 43_200)])
def test_retry_after_is_bounded(retry_after: float, seconds: int) -> None:
    error = ProviderError("busy", status=503, retry_after=retry_after)
    assert backoff_seconds(error, receive_count=1, breaker_wait=0, now=NOON) == seconds


def test_a_daily_quota_waits_for_midnight_utc_plus_30_seconds() -> None:
    error = ProviderQuotaError("quota", status=429, retry_after=1.0)
    # From 12:00:00 to 00:00:30 the next day: 12 h + 30 s = 43 230 s, over the 12 h SQS cap.
    assert backoff_seconds(error, receive_count=1, breaker_wait=0, now=NOON) == 43_200
    late = dt.datetime(2027, 3, 1, 23, 0, 0, tzinfo=dt.UTC).timestamp()
    assert backoff_seconds(error, receive_count=1, breaker_wait=0, now=late) == 3630
    longer = ProviderQuotaError("quota", status=429, retry_after=5000.0)
    assert backoff_seconds(longer, receive_count=1, breaker_wait=0, now=late) == 5000


@pytest.mark.parametrize(("zone", "local_hour"), [("XST-14", 13), ("HST10", 13)])
def test_the_quota_reset_is_midnight_utc_whatever_the_machines_time_zone(zone: str, local_hour: int) -> None:
    """23:00 UTC waits 3,630 s for 00:00:30 UTC on a machine at UTC+14 or UTC-10 too (POSIX zones: no tzdata)."""
    late = dt.datetime(2027, 3, 1, 23, 0, 0, tzinfo=dt.UTC).timestamp()
    error = ProviderQuotaError("quota", status=429, retry_after=1.0)
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        assert time.localtime(late).tm_hour == local_hour  # the zone really is in force
        assert backoff_seconds(error, receive_count=1, breaker_wait=0, now=late) == 3630
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.parametrize("longest", [1.5, 0.2, 0.0])
def test_a_hide_is_never_under_a_second_even_at_the_end_of_sqss_12_hours(longest: float) -> None:
    """With under 2 s of SQS's 12 hours left, the hide is 1 s: never 0 (a message offered again at once)."""
    error = ProviderServerError("down", status=500)
    assert backoff_seconds(error, receive_count=5, breaker_wait=0, now=NOON, longest=longest) == 1


# -- the consumer, in process (in-memory ledger and outbox, a recording provider) -------------------


CONFIG = json.dumps(
    {
        "apiKey": "re_test_key_123456",
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "owner@example.com",
        "version": 1,
        "rotatedAt": "2026-11-01T10:00:00Z",
    }
)


@pytest.fixture
def consumer_setup() -> Iterator[tuple[Components, list[dict[str, Any]]]]:
    sent: list[dict[str, Any]] = []

    def provider(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"id": f"e-{len(sent)}"})

    components = consumer_with(provider)
    yield components, sent
    components.close()


def consumer_with(provider: Callable[[httpx.Request], httpx.Response]) -> Components:
    """The service in process with an in-memory outbox, ``provider`` answering for Resend."""
    settings = Settings.from_env(
        environ={},
        config_parameter="/c",
        csrf_secret_parameter="/s",
        allowed_origins=("https://a.example",),
        environment="test",
        resend_api_url="http://resend.invalid",
    )
    return build_components(
        settings,
        sink=ListSink(),
        parameters=InMemoryParameterSource({"/c": CONFIG, "/s": "s" * 48}),
        http=httpx.Client(transport=httpx.MockTransport(provider)),
        outbox=InMemoryOutbox(),
        clock=RecordingClock(),
    )


def record(body: str, message_id: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:outbox",
        "awsRegion": "eu-west-1",
    }


SUBMISSION = ContactSubmission.model_validate(
    {"name": "Ada", "email": "ada@example.org", "message": "Hello there, about the engine.", "consent": True}
)
#: An email as it was composed when it was queued: its sender is not today's config's.
QUEUED_EMAIL = OutgoingEmail(
    sender="Contact Form <old-sender@example.com>",
    to=("owner@example.com",),
    subject="[captcha unverified] Contact Form: Message from Ada",
    html="<p>Hello there, about the engine.</p>",
    text="Hello there, about the engine.",
    reply_to=("ada@example.org",),
    tags=(("source", "contact-form"),),
)


def queued_body(email: OutgoingEmail = QUEUED_EMAIL, **changes: Any) -> tuple[str, str]:
    """A version-2 outbox message carrying ``email``, as JSON, and its key."""
    key = idempotency_key(SUBMISSION)
    item = QueuedEmail(
        email=email, idempotency_key=key, request_id="r-1", queued_at=0.0, reason="x", config_version="1"
    )
    data = {**json.loads(item.to_json()), **changes}
    return json.dumps(data), key


def legacy_body(**changes: Any) -> tuple[str, str]:
    """A version-1 message (the form's fields), as queued before the outbox carried the email."""
    key = idempotency_key(SUBMISSION)
    data = {
        "name": "Ada",
        "email": "ada@example.org",
        "subject": None,
        "message": "Hello there, about the engine.",
        "idempotency_key": key,
        "request_id": "r-1",
        "queued_at": 0.0,
        "reason": "x",
        "version": 1,
        **changes,
    }
    return json.dumps(data), key


def test_a_queued_email_is_sent_exactly_as_it_was_composed(
    consumer_setup: tuple[Components, list[dict[str, Any]]],
) -> None:
    """The consumer sends the queued request byte for byte (the old sender, the captcha mark), not today's config."""
    components, sent = consumer_setup
    body, _key = queued_body()
    assert components.consumer.handle({"Records": [record(body, "m-1")]})["batchItemFailures"] == []
    assert sent == [json.loads(body)["email"]]
    assert sent[0]["from"] == "Contact Form <old-sender@example.com>"


def test_a_legacy_message_is_composed_from_todays_config(
    consumer_setup: tuple[Components, list[dict[str, Any]]],
) -> None:
    """A version-1 message carries the form's fields: composed once, from the config the consumer reads."""
    components, sent = consumer_setup
    body, _ = legacy_body()
    assert components.consumer.handle({"Records": [record(body, "m-1")]})["batchItemFailures"] == []
    [email] = sent
    assert (email["from"], email["to"], email["reply_to"]) == (
        "Contact Form <no-reply@example.com>",
        ["owner@example.com"],
        ["ada@example.org"],
    )


def test_a_legacy_message_the_provider_refuses_is_parked_with_its_own_history(caplog: pytest.LogCaptureFixture) -> None:
    """A version-1 message Resend refuses for good (``422 validation_error``): the parking lot's message (what the
    dead-letter queue would hold, read back as JSON) keeps the request that queued it and when, so the operator can
    trace it, and says why it was parked (Resend's refusal, as docs/records.md shows it); the ERROR line names that
    request too."""
    sent: list[dict[str, Any]] = []

    def refusing(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(
            422, json={"statusCode": 422, "name": "validation_error", "message": "Invalid `to` field."}
        )

    components = consumer_with(refusing)
    lot = InMemoryParkingLot()
    components.delivery.parking = lot
    body, key = legacy_body(request_id="r-legacy", queued_at=1_765_000_000.5, reason="CircuitOpenError")
    with caplog.at_level(logging.INFO):
        assert components.consumer.handle({"Records": [record(body, "m-1")]})["batchItemFailures"] == []
    assert len(sent) == 1
    [(queued, why)] = lot.parked
    parked = json.loads(queued.to_json())
    assert (parked["request_id"], parked["queued_at"], parked["idempotency_key"]) == ("r-legacy", 1_765_000_000.5, key)
    assert parked["reason"] == why == "ProviderRequestError 422 validation_error: Invalid `to` field."
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR and "parked" in r.getMessage()]
    assert error.__dict__["submission_request_id"] == "r-legacy"
    components.close()


def test_a_batch_delivers_the_good_and_reports_the_unreadable(
    consumer_setup: tuple[Components, list[dict[str, Any]]],
) -> None:
    """Not ours, or a submission that is no longer valid: failed alone (no parking lot here), the rest delivered."""
    components, sent = consumer_setup
    good, _ = queued_body()
    stale, _ = legacy_body(email="x\n@example.com", idempotency_key="contact-" + "b" * 64)  # queued before the rule
    good_message = json.loads(good)
    no_email = json.dumps({**good_message, "email": None})  # neither an email nor a submission
    event = {
        "Records": [record(good, "m-1"), record("{not ours", "m-2"), record(stale, "m-3"), record(no_email, "m-4")]
    }
    result = components.consumer.handle(event)
    assert result["batchItemFailures"] == [{"itemIdentifier": f"m-{n}"} for n in (2, 3, 4)]
    assert [email["reply_to"] for email in sent] == [["ada@example.org"]]


def test_a_message_whose_record_is_sent_is_dropped_without_sending(
    consumer_setup: tuple[Components, list[dict[str, Any]]],
) -> None:
    """An SQS redelivery of an email already sent: its record says so, nothing goes to the provider."""
    components, sent = consumer_setup
    body, key = queued_body()
    draft = Draft.of(
        SUBMISSION, key=key, request_id="r-0", client_ip="203.0.113.9", state=RecordState.RECEIVED, now=time.time()
    )
    claim = components.records.claim(draft)
    components.records.move(key, RecordState.SENT, cycle=claim.record.cycle, now=time.time(), email_id="e-0")
    message = json.loads(body)
    message["cycle"] = claim.record.cycle
    assert components.consumer.handle({"Records": [record(json.dumps(message), "m-1")]})["batchItemFailures"] == []
    assert sent == []


def _parked_record(components: Components, key: str, *, payload: OutgoingEmail = QUEUED_EMAIL) -> int:
    """A record for ``SUBMISSION`` parked with ``payload`` kept, as a refused delivery leaves it; its cycle."""
    draft = Draft.of(
        SUBMISSION, key=key, request_id="r-0", client_ip="203.0.113.9", state=RecordState.RECEIVED, now=time.time()
    )
    cycle = components.records.claim(draft).record.cycle
    kept = json.dumps({"key": key, "email": payload.to_json()})
    components.records.move(key, RecordState.PARKED, cycle=cycle, now=time.time(), reasons=("422",), payload=kept)
    return cycle


def test_a_message_under_a_key_a_recompose_replaced_is_dropped_without_sending(
    consumer_setup: tuple[Components, list[dict[str, Any]]],
) -> None:
    """After ``redrive --recompose`` the record holds the first key and ``.r1``: a copy under the first is superseded
    (sending it could make a second email); the ``.r1`` message is the one sent."""
    components, sent = consumer_setup
    body, key = queued_body()
    cycle = _parked_record(components, key)
    components.records.move(key, RecordState.QUEUED, cycle=cycle, now=time.time(), new_key=key + ".r1")
    old = json.dumps({**json.loads(body), "cycle": cycle})
    assert components.consumer.handle({"Records": [record(old, "m-1")]})["batchItemFailures"] == []
    assert sent == []
    new = json.dumps({**json.loads(body), "cycle": cycle, "idempotency_key": key + ".r1"})
    assert components.consumer.handle({"Records": [record(new, "m-2")]})["batchItemFailures"] == []
    assert len(sent) == 1
    view = components.records.get(key)
    assert view is not None and view.state == RecordState.SENT and view.keys == (key, key + ".r1")


def test_a_derived_key_the_record_missed_is_noted_when_it_is_delivered(
    consumer_setup: tuple[Components, list[dict[str, Any]]],
) -> None:
    """The operator's record write failed after the recomposed message went out: its delivery notes the key."""
    components, sent = consumer_setup
    body, key = queued_body()
    cycle = _parked_record(components, key)
    new = json.dumps({**json.loads(body), "cycle": cycle, "idempotency_key": key + ".r1"})
    assert components.consumer.handle({"Records": [record(new, "m-1")]})["batchItemFailures"] == []
    assert len(sent) == 1
    view = components.records.get(key)
    assert view is not None and view.state == RecordState.SENT and view.keys == (key, key + ".r1")


def test_a_requeued_submission_is_recomposed_and_keeps_its_captcha_mark(
    consumer_setup: tuple[Components, list[dict[str, Any]]],
) -> None:
    """``redrive --recompose``: today's sender, the ``[captcha unverified]`` mark of the parked email, key ``.r1``,
    and the record ``queued`` with both keys."""
    components, _ = consumer_setup
    _, key = queued_body()
    _parked_record(components, key)
    view = components.records.get(key)
    assert view is not None
    queued = components.delivery.requeue(SUBMISSION, view, reason="fixed the sender")
    outbox = components.delivery.outbox
    assert isinstance(outbox, InMemoryOutbox)
    [message] = outbox.messages
    assert message is queued and message.idempotency_key == key + ".r1"
    assert message.email is not None
    assert message.email.sender == "Contact Form <no-reply@example.com>"
    assert message.email.subject == "[captcha unverified] Contact Form: Message from Ada"
    after = components.records.get(key)
    assert after is not None and after.state == RecordState.QUEUED and after.keys == (key, key + ".r1")
    assert after.payload is None


def test_a_delivered_submission_has_nothing_to_requeue(
    consumer_setup: tuple[Components, list[dict[str, Any]]],
) -> None:
    """``requeue`` refuses a sent record: the outbox gets nothing."""
    components, _ = consumer_setup
    _, key = queued_body()
    cycle = _parked_record(components, key)
    components.records.move(key, RecordState.SENT, cycle=cycle, now=time.time(), email_id="e-1")
    view = components.records.get(key)
    assert view is not None
    with pytest.raises(ValueError, match="a sent submission has nothing to redrive"):
        components.delivery.requeue(SUBMISSION, view, reason="again")
    outbox = components.delivery.outbox
    assert isinstance(outbox, InMemoryOutbox) and outbox.messages == []


def test_the_delivered_line_says_how_long_the_email_waited_in_the_outbox(
    consumer_setup: tuple[Components, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    """A message queued 42 s ago is logged delivered with ``queued_for_s`` 42."""
    components, _sent = consumer_setup
    body, _key = queued_body(queued_at=time.time() - 42)
    with caplog.at_level(logging.INFO):
        assert components.consumer.handle({"Records": [record(body, "m-1")]})["batchItemFailures"] == []
    [delivered] = [r for r in caplog.records if r.getMessage() == "outbox message delivered"]
    assert delivered.__dict__["queued_for_s"] == 42
