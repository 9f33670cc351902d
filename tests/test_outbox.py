"""The outbox message (self-contained: the email as composed) and the two outboxes, fast tier."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from contact_sdk.devtools.fakes import InMemoryOutbox
from contact_sdk.errors import (
    CircuitOpenError,
    ConcurrentIdempotentRequestError,
    ProviderDeferredError,
    ProviderQuotaError,
    ProviderRateLimitedError,
    ProviderServerError,
    ProviderTimeoutError,
)
from contact_sdk.models import ContactSubmission
from contact_sdk.outbox import (
    LazySqsClient,
    LegacySubmission,
    OutboxUnavailable,
    QueuedEmail,
    SqsOutbox,
    derived_key,
    first_try_delay,
    named_wait,
    read_message,
)
from contact_sdk.resend import OutgoingEmail

KEY = "contact-" + "a" * 64
EMAIL = OutgoingEmail(
    sender="Contact Form <no-reply@example.com>",
    to=("owner@example.com",),
    subject="Contact Form: Message from Zoë",
    html="<p>Hello there, friend.</p>",
    text="Hello there, friend.",
    reply_to=("ada@example.org",),
    tags=(("source", "contact-form"),),
)


def submission(**changes: Any) -> ContactSubmission:
    fields = {"name": "Ada", "email": "Ada@Example.org", "message": "Hello there, friend.", "consent": True}
    return ContactSubmission.model_validate({**fields, **changes})


def queued(**changes: Any) -> QueuedEmail:
    fields: dict[str, Any] = {
        "email": EMAIL,
        "idempotency_key": KEY,
        "request_id": "req-1",
        "queued_at": 1_700_000_000.5,
        "reason": "CircuitOpenError",
        "cycle": 1_700_000_000,
        "config_version": "3",
    }
    return QueuedEmail(**{**fields, **changes})


def test_the_stored_body_is_the_email_as_resend_takes_it_with_its_key_and_cycle() -> None:
    """Version 2: the composed email (Resend's snake_case body), the first key, the record's cycle; UTF-8 kept."""
    body = queued().to_json()
    assert json.loads(body) == {
        "version": 2,
        "email": {
            "from": "Contact Form <no-reply@example.com>",
            "to": ["owner@example.com"],
            "subject": "Contact Form: Message from Zoë",
            "html": "<p>Hello there, friend.</p>",
            "text": "Hello there, friend.",
            "reply_to": ["ada@example.org"],
            "tags": [{"name": "source", "value": "contact-form"}],
        },
        "submission": None,
        "subject_prefix": "",
        "idempotency_key": KEY,
        "request_id": "req-1",
        "queued_at": 1_700_000_000.5,
        "reason": "CircuitOpenError",
        "cycle": 1_700_000_000,
        "config_version": "3",
    }
    assert "\\u" not in body  # UTF-8 kept as is


def test_a_round_trip_gives_back_the_same_email() -> None:
    """Read back, the message is equal to what was queued: the same request goes to Resend."""
    item = queued()
    assert read_message(item.to_json()) == item
    assert queued().visitor == "ada@example.org"


def test_an_uncomposed_message_carries_the_submission_and_the_subject_mark() -> None:
    """Queued while the config could not be read: the four fields and the mark, composed later, once."""
    item = queued(email=None, submission=submission(subject="Engines"), subject_prefix="[captcha unverified] ")
    again = read_message(item.to_json())
    assert again == item
    assert isinstance(again, QueuedEmail) and again.submission is not None
    assert (again.submission.email, again.submission.subject, again.visitor) == (
        "Ada@example.org",
        "Engines",
        "Ada@example.org",
    )
    with pytest.raises(ValueError, match="either the composed email or the submission"):
        queued(email=None)


def test_a_version_1_message_is_still_read() -> None:
    """Messages queued before the outbox carried the email: the form's fields and the first key."""
    raw = json.dumps(
        {
            "name": "Ada",
            "email": "ada@example.org",
            "subject": None,
            "message": "Hello there, friend.",
            "idempotency_key": KEY,
            "request_id": "req-1",
            "queued_at": 1.5,
            "reason": "x",
            "version": 1,
        }
    )
    legacy = read_message(raw)
    assert isinstance(legacy, LegacySubmission)
    assert (legacy.to_submission().message, legacy.visitor, legacy.idempotency_key) == (
        "Hello there, friend.",
        "ada@example.org",
        KEY,
    )


def test_a_derived_key_counts_the_keys_used_so_far() -> None:
    """A recomposed resend goes out under the first key plus .r<n>: recognisable, and never a key used before."""
    assert derived_key(KEY, 1) == KEY + ".r1"
    assert derived_key(KEY + ".r1", 2) == KEY + ".r2"
    assert derived_key(KEY + ".r9", 10) == KEY + ".r10"
    with pytest.raises(ValueError, match="at least one used key"):
        derived_key(KEY, 0)


def stored(**changes: Any) -> str:
    return json.dumps({**json.loads(queued().to_json()), **changes})


def legacy(**changes: Any) -> str:
    fields = {"name": "Ada", "email": "ada@example.org", "subject": None, "message": "Hello there, friend."}
    return json.dumps(
        {**fields, "idempotency_key": KEY, "request_id": "r", "queued_at": 0, "reason": "x", "version": 1, **changes}
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{nope", "outbox message is not JSON: "),
        ("[1]", "outbox message is not a JSON object"),
        (stored(version=3), "outbox message has unknown version 3"),
        (json.dumps({"name": "x"}), "outbox message has unknown version None"),
        (stored(extra=1), "outbox message has unexpected fields: extra"),
        (json.dumps({"version": 2}), "outbox message lacks the fields: "),
        (stored(request_id=None), "outbox message field request_id is not a string"),
        (stored(idempotency_key=""), "outbox message field idempotency_key is not 1 to 256 characters"),
        (stored(queued_at="soon"), "outbox message field queued_at is not a time"),
        (stored(cycle=1.5), "outbox message field cycle is not a whole number"),
        (stored(email=None), "outbox message carries neither an email nor a submission (or both)"),
        (stored(email={"from": "a"}), "the email's from and subject must be non-empty text"),
        (stored(email={**json.loads(stored())["email"], "bcc": ["x@example.org"]}), "the email has unexpected fields"),
        (stored(email={**json.loads(stored())["email"], "to": []}), "the email's to must be a non-empty list"),
        (stored(email={**json.loads(stored())["email"], "tags": [1]}), "the email's tags must be a list"),
        (stored(submission={"name": "Ada"}), "outbox message field submission is not the form's four fields"),
        (legacy(extra=1), "outbox message has unexpected fields: "),
        (legacy(email=5), "outbox message field email is not a string"),
        # Queued by an older version before the address rule refused line feeds: parked, not retried.
        (legacy(email="x\n@example.com"), "outbox message holds a submission that is not valid: email"),
        (legacy(name="", message="short"), "outbox message holds a submission that is not valid: message, name"),
    ],
)
def test_unreadable_messages_say_why(raw: str, message: str) -> None:
    """Every way a message can be wrong is refused with a reason an operator can act on."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        read_message(raw)


def test_the_in_memory_outbox_keeps_drains_and_fails_on_demand() -> None:
    outbox = InMemoryOutbox()
    outbox.enqueue(queued())
    outbox.enqueue(queued(request_id="req-2"))
    assert [item["request_id"] for item in outbox.as_dicts()] == ["req-1", "req-2"]
    assert [item.request_id for item in outbox.drain()] == ["req-1", "req-2"]
    assert outbox.drain() == []
    outbox.fail = True
    with pytest.raises(OutboxUnavailable, match="simulated"):
        outbox.enqueue(queued())
    assert outbox.messages == []


class FakeSqs:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        self.sent.append(kwargs)
        return {"MessageId": "m-1"}


def test_sqs_outbox_sends_the_body_and_the_key_as_attributes() -> None:
    client = FakeSqs()
    outbox = SqsOutbox("https://sqs.example/q", client=client)  # type: ignore[arg-type]
    item = queued()
    outbox.enqueue(item)
    assert client.sent == [
        {
            "QueueUrl": "https://sqs.example/q",
            "MessageBody": item.to_json(),
            "MessageAttributes": {
                "idempotencyKey": {"DataType": "String", "StringValue": KEY},
                "requestId": {"DataType": "String", "StringValue": "req-1"},
            },
        }
    ]


def test_a_delay_goes_to_sqs_only_when_there_is_one() -> None:
    client = FakeSqs()
    outbox = SqsOutbox("https://sqs.example/q", client=client)  # type: ignore[arg-type]
    outbox.enqueue(queued(), delay_seconds=0)
    outbox.enqueue(queued(), delay_seconds=60)
    outbox.enqueue(queued(), delay_seconds=900)
    assert [sent.get("DelaySeconds") for sent in client.sent] == [None, 60, 900]


@pytest.mark.parametrize("delay", [-1, 901, 3600])
def test_a_delay_sqs_would_refuse_is_an_error_and_nothing_is_sent(delay: int) -> None:
    client = FakeSqs()
    outbox = SqsOutbox("https://sqs.example/q", client=client)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"delay_seconds must be 0..900, not {delay}"):
        outbox.enqueue(queued(), delay_seconds=delay)
    assert client.sent == []


def test_the_in_memory_outbox_notes_each_delay() -> None:
    outbox = InMemoryOutbox()
    outbox.enqueue(queued())
    outbox.enqueue(queued(), delay_seconds=45)
    assert outbox.delays == [0, 45]
    assert len(outbox.drain()) == 2


#: 2027-03-01 23:59:00 UTC, a minute and a half before a daily quota's reset (00:00:30 UTC).
BEFORE_MIDNIGHT = dt.datetime(2027, 3, 1, 23, 59, tzinfo=dt.UTC).timestamp()
#: 2027-03-01 00:30:00 UTC: the reset is 23 h 30 min 30 s away.
AFTER_MIDNIGHT = dt.datetime(2027, 3, 1, 0, 30, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("error", "now", "waits", "delay"),
    [
        pytest.param(ProviderRateLimitedError("slow down", status=429, retry_after=60.0), 0.0, 60.0, 60, id="429 60 s"),
        pytest.param(ProviderRateLimitedError("slow down", status=429, retry_after=7.2), 0.0, 7.2, 8, id="rounded up"),
        pytest.param(ProviderServerError("down", status=503, retry_after=3600.0), 0.0, 3600.0, 900, id="SQS's 15 min"),
        pytest.param(ProviderServerError("down", status=503), 0.0, 0.0, 0, id="503 naming no wait"),
        pytest.param(ProviderTimeoutError("no answer"), 0.0, 0.0, 0, id="timeout"),
        pytest.param(ProviderRateLimitedError("odd", status=429, retry_after=-5.0), 0.0, 0.0, 0, id="negative"),
        pytest.param(CircuitOpenError("open", retry_after=42.5), 0.0, 42.5, 43, id="breaker's trial"),
        pytest.param(
            ProviderDeferredError("budget", status=503, retry_after=7.0), 0.0, 7.0, 7, id="budget, provider asked 7 s"
        ),
        pytest.param(ConcurrentIdempotentRequestError("in flight", status=409), 0.0, 0.0, 0, id="409 in flight"),
        pytest.param(
            ProviderQuotaError("quota", status=429, retry_after=1.0), BEFORE_MIDNIGHT, 90.0, 90, id="quota at 23:59"
        ),
        pytest.param(
            ProviderQuotaError("quota", status=429), AFTER_MIDNIGHT, 84_630.0, 900, id="quota at 00:30, SQS's cap"
        ),
        pytest.param(
            ProviderQuotaError("quota", status=429, retry_after=600.0), BEFORE_MIDNIGHT, 600.0, 600, id="rolling quota"
        ),
        pytest.param(RuntimeError("not the provider"), 0.0, 0.0, 0, id="not the provider"),
    ],
)
def test_the_first_try_waits_for_what_the_failure_names(error: Exception, now: float, waits: float, delay: int) -> None:
    """The provider's Retry-After, the breaker's trial, a daily quota's reset (00:00:30 UTC); SQS holds 900 s."""
    assert named_wait(error, now=now) == pytest.approx(waits)
    assert first_try_delay(error, now=now) == delay


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (ClientError({"Error": {"Code": "AccessDenied", "Message": "m"}}, "SendMessage"), "ClientError"),
        (EndpointConnectionError(endpoint_url="https://sqs.example"), "EndpointConnectionError"),
    ],
)
def test_sqs_errors_become_outbox_unavailable(error: Exception, name: str) -> None:
    outbox = SqsOutbox("https://sqs.example/q", client=FakeSqs(error))  # type: ignore[arg-type]
    with pytest.raises(OutboxUnavailable) as raised:
        outbox.enqueue(queued())
    assert str(raised.value) == f"the outbox queue did not take the message ({name})"


def test_the_client_comes_from_the_factory_and_is_made_again_after_reset() -> None:
    made: list[FakeSqs] = []

    def factory() -> FakeSqs:
        made.append(FakeSqs())
        return made[-1]

    outbox = SqsOutbox("q", client_factory=factory)  # type: ignore[arg-type]
    outbox.enqueue(queued())
    outbox.enqueue(queued())
    outbox.reset_client()
    outbox.enqueue(queued())
    assert [len(client.sent) for client in made] == [2, 1]


def test_every_field_a_message_lacks_or_adds_is_named_in_one_reason() -> None:
    """An operator reading a parked message's reason sees every field at once, in order."""
    cases = {
        stored(extra=1, added=2): "outbox message has unexpected fields: added, extra",
        json.dumps({"version": 2, "email": None}): (
            "outbox message lacks the fields: config_version, cycle, idempotency_key, queued_at, reason, request_id, "
            "subject_prefix, submission"
        ),
        stored(
            email=None, submission={"name": "", "email": "ada@example.org", "subject": None, "message": "short"}
        ): "outbox message holds a submission that is not valid: message, name",
    }
    for raw, reason in cases.items():
        with pytest.raises(ValueError, match=f"^{re.escape(reason)}$"):
            read_message(raw)


@pytest.mark.parametrize(("length", "readable"), [(0, False), (1, True), (256, True), (257, False)])
def test_an_idempotency_key_is_1_to_256_characters(length: int, readable: bool) -> None:
    """Resend takes keys of 1 to 256 characters: a message whose key it would refuse is unreadable, not retried."""
    raw = stored(idempotency_key="k" * length)
    if readable:
        message = read_message(raw)
        assert isinstance(message, QueuedEmail) and len(message.idempotency_key) == length
    else:
        with pytest.raises(ValueError, match=r"^outbox message field idempotency_key is not 1 to 256 characters$"):
            read_message(raw)


def test_the_stored_body_is_compact_and_keeps_its_letters() -> None:
    """As small as JSON gets (SQS takes 256 KB): no blank after a separator, non-ASCII letters as themselves."""
    body = queued().to_json()
    assert "Zoë" in body and "\\u" not in body
    assert len(body) == len(json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False))


def test_a_version_1_message_is_shown_to_the_operator_as_it_was_stored() -> None:
    """``contact-sdk outbox`` prints a version-1 message's body: the same fields and values, compact, letters kept."""
    raw = legacy(name="Zoë")
    shown = read_message(raw).to_json()
    assert json.loads(shown) == json.loads(raw)
    assert "Zoë" in shown
    assert len(shown) == len(json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False))


def test_the_errors_for_impossible_messages_say_what_is_wrong() -> None:
    """Programming errors name the rule: a derived key needs a used key, a queued email one of its two forms."""
    with pytest.raises(ValueError, match=r"^a derived key follows at least one used key$"):
        derived_key(KEY, 0)
    with pytest.raises(
        ValueError, match=r"^a queued email carries either the composed email or the submission to compose it from$"
    ):
        queued(email=None)


def test_without_a_client_or_factory_the_outbox_asks_boto3_for_sqs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default: boto3's SQS client for the function's region, made on first use."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = LazySqsClient().get()
    assert (client.meta.service_model.service_name, client.meta.region_name) == ("sqs", "eu-west-1")
