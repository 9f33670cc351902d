"""The webhook verifier (contact_sdk.webhooks.verifier): Svix signatures, and parsing verified events."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from contact_sdk.errors import ConfigurationError
from contact_sdk.metrics import Metric
from contact_sdk.webhooks.verifier import (
    KNOWN_EVENT_TYPES,
    SignatureFailure,
    WebhookEvent,
    WebhookPayloadError,
    WebhookSecretError,
    WebhookSignatureError,
    WebhookVerifier,
    parse_event,
)

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_700_000_000
MSG_ID = "msg_2ZsVb1ps1Lq2rVjkVEYFE2gYdxA"
BODY = (
    b'{"type":"email.delivered","created_at":"2024-11-22T23:41:12.126Z",'
    b'"data":{"email_id":"56761188-7520-42d8-8898-ff6fc54ce618","to":["delivered@resend.dev"]}}'
)


def sign(key: bytes, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """A ``v1,<base64>`` signature computed the way Svix documents it, independently of the SDK."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers_for(body: bytes = BODY, *, timestamp: int = NOW, key: bytes = KEY, msg_id: str = MSG_ID) -> dict[str, str]:
    """The three signature headers for ``body``."""
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign(key, msg_id, timestamp, body),
    }


def verifier(now: float = NOW, **kwargs: float) -> WebhookVerifier:
    """A verifier whose clock is frozen at ``now``."""
    return WebhookVerifier(SECRET, clock=lambda: now, **kwargs)


def test_valid_signature_returns_the_parsed_event() -> None:
    """A correctly signed body verifies and parses into the event's id, type and email id."""
    event = verifier().verify(headers_for(), BODY)
    assert event.svix_id == MSG_ID
    assert event.type == "email.delivered"
    assert event.email_id == "56761188-7520-42d8-8898-ff6fc54ce618"
    assert event.created_at.isoformat() == "2024-11-22T23:41:12.126000+00:00"


def test_published_svix_test_vector_verifies() -> None:
    """The example from Svix's documentation verifies byte for byte (an external oracle)."""
    body = b'{"test": 2432232314}'
    headers = {
        "svix-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "svix-timestamp": "1614265330",
        "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    strict = WebhookVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", clock=lambda: 1614265330)
    with pytest.raises(WebhookPayloadError):  # authentic, but not a Resend event: proves the signature passed
        strict.verify(headers, body)
    headers["svix-signature"] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"  # one character off
    with pytest.raises(WebhookSignatureError):
        strict.verify(headers, body)


def test_one_matching_signature_among_several_is_enough() -> None:
    """During secret rotation several space-separated signatures arrive; any one v1 match verifies."""
    headers = headers_for()
    wrong = sign(b"another key", MSG_ID, NOW, BODY)
    headers["svix-signature"] = f"v2,abc {wrong} v1,not-base64!! v1 {headers['svix-signature']}"
    assert verifier().verify(headers, BODY).svix_id == MSG_ID


def test_signature_of_another_version_is_ignored() -> None:
    """A correct digest labelled with a version other than v1 does not count."""
    headers = headers_for()
    headers["svix-signature"] = headers["svix-signature"].replace("v1,", "v1a,")
    with pytest.raises(WebhookSignatureError) as raised:
        verifier().verify(headers, BODY)
    assert raised.value.reason is SignatureFailure.NO_MATCHING_SIGNATURE


def test_wrong_secret_is_refused() -> None:
    """A body signed with another secret is refused as no matching signature."""
    with pytest.raises(WebhookSignatureError) as raised:
        verifier().verify(headers_for(key=b"not the right key"), BODY)
    assert raised.value.reason is SignatureFailure.NO_MATCHING_SIGNATURE


def test_tampered_body_is_refused() -> None:
    """Changing one byte of the signed body breaks the signature."""
    tampered = BODY.replace(b"delivered", b"bounced", 1)
    with pytest.raises(WebhookSignatureError):
        verifier().verify(headers_for(), tampered)


def test_reserialized_json_is_refused() -> None:
    """The signature covers the raw bytes: the same JSON re-serialised does not verify."""
    reserialized = json.dumps(json.loads(BODY)).encode()
    assert json.loads(reserialized) == json.loads(BODY)
    with pytest.raises(WebhookSignatureError):
        verifier().verify(headers_for(), reserialized)


def test_signature_for_another_message_id_is_refused() -> None:
    """The message id is part of the signed content: a signature cannot be moved to another id."""
    headers = headers_for()
    headers["svix-id"] = "msg_other"
    with pytest.raises(WebhookSignatureError):
        verifier().verify(headers, BODY)


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_each_missing_header_is_refused(missing: str) -> None:
    """Without any one of the three headers the request is refused, naming the header."""
    headers = headers_for()
    del headers[missing]
    with pytest.raises(WebhookSignatureError, match=missing) as raised:
        verifier().verify(headers, BODY)
    assert raised.value.reason is SignatureFailure.MISSING_HEADER


def test_empty_header_counts_as_missing() -> None:
    """A header present but blank is treated as missing."""
    headers = headers_for()
    headers["svix-signature"] = "  "
    with pytest.raises(WebhookSignatureError) as raised:
        verifier().verify(headers, BODY)
    assert raised.value.reason is SignatureFailure.MISSING_HEADER


def test_headers_match_in_any_casing() -> None:
    """API Gateway may pass header names in any casing; they still match."""
    headers = {name.upper() if i % 2 else name.title(): value for i, (name, value) in enumerate(headers_for().items())}
    assert set(headers) == {"Svix-Id", "SVIX-TIMESTAMP", "Svix-Signature"}
    assert verifier().verify(headers, BODY).svix_id == MSG_ID


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 86_400])
def test_timestamps_beyond_the_tolerance_are_refused(offset: int) -> None:
    """A correctly signed request more than 5 minutes old or in the future is refused (replay defence)."""
    headers = headers_for(timestamp=NOW + offset)
    with pytest.raises(WebhookSignatureError) as raised:
        verifier().verify(headers, BODY)
    assert raised.value.reason is SignatureFailure.STALE_TIMESTAMP


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_within_the_tolerance_are_accepted(offset: int) -> None:
    """Exactly 5 minutes either way is still accepted."""
    assert verifier().verify(headers_for(timestamp=NOW + offset), BODY).svix_id == MSG_ID


def test_tolerance_is_configurable() -> None:
    """A smaller tolerance refuses what the default accepts."""
    with pytest.raises(WebhookSignatureError):
        verifier(tolerance_seconds=10).verify(headers_for(timestamp=NOW - 11), BODY)


def test_clock_is_read_on_every_verification() -> None:
    """The same request verifies now and is stale once the injected clock has moved on."""
    now = [float(NOW)]
    moving = WebhookVerifier(SECRET, clock=lambda: now[0])
    moving.verify(headers_for(), BODY)
    now[0] += 301
    with pytest.raises(WebhookSignatureError):
        moving.verify(headers_for(), BODY)


@pytest.mark.parametrize("timestamp", ["1700000000.5", "1e9", "-1700000000", "abc", "١٧٠٠٠٠٠٠٠٠"])
def test_malformed_timestamp_is_refused(timestamp: str) -> None:
    """A timestamp that is not plain ASCII integer seconds is refused as malformed."""
    headers = headers_for()
    headers["svix-timestamp"] = timestamp
    headers["svix-signature"] = sign(KEY, MSG_ID, timestamp, BODY)
    with pytest.raises(WebhookSignatureError) as raised:
        verifier().verify(headers, BODY)
    assert raised.value.reason is SignatureFailure.MALFORMED_HEADER


def test_overlong_message_id_is_refused() -> None:
    """A svix-id too long to be a key is refused before any work."""
    msg_id = "msg_" + "x" * 300
    with pytest.raises(WebhookSignatureError) as raised:
        verifier().verify(headers_for(msg_id=msg_id), BODY)
    assert raised.value.reason is SignatureFailure.MALFORMED_HEADER


def test_malformed_json_after_valid_signature_is_a_payload_error() -> None:
    """An authentic body that is not JSON raises WebhookPayloadError, not a signature error."""
    body = b"{not json"
    with pytest.raises(WebhookPayloadError):
        verifier().verify(headers_for(body), body)


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"data": {}}', b'{"type": "", "data": {}}', b'{"type": 3, "data": {}}', b'{"type": "email.sent"}'],
)
def test_json_that_is_not_an_event_is_a_payload_error(body: bytes) -> None:
    """A body without a string type and an object data is refused as a payload error."""
    with pytest.raises(WebhookPayloadError):
        verifier().verify(headers_for(body), body)


def test_secret_without_prefix_is_refused_at_construction() -> None:
    """A secret lacking ``whsec_`` (e.g. a pasted API key) fails when the verifier is built."""
    with pytest.raises(WebhookSecretError, match="whsec_"):
        WebhookVerifier(base64.b64encode(KEY).decode())
    with pytest.raises(WebhookSecretError):
        WebhookVerifier("re_123456789")


@pytest.mark.parametrize("secret", ["whsec_", "whsec_***notbase64***", "whsec_abc$def"])
def test_secret_with_invalid_base64_is_refused(secret: str) -> None:
    """An empty or non-base64 secret is a configuration error, and the message does not echo it."""
    with pytest.raises(WebhookSecretError) as raised:
        WebhookVerifier(secret)
    assert isinstance(raised.value, ConfigurationError)
    encoded = secret.removeprefix("whsec_")
    assert not encoded or encoded not in str(raised.value)


def test_secret_without_base64_padding_is_accepted() -> None:
    """Unpadded base64 after the prefix decodes to the same key."""
    unpadded = "whsec_" + base64.b64encode(b"0123456789").decode().rstrip("=")
    assert unpadded.endswith("MDEyMzQ1Njc4OQ")
    body_headers = headers_for(key=b"0123456789")
    assert WebhookVerifier(unpadded, clock=lambda: NOW).verify(body_headers, BODY).type == "email.delivered"


def test_repr_does_not_leak_the_key() -> None:
    """The verifier's repr shows no secret material."""
    text = repr(verifier())
    assert base64.b64encode(KEY).decode() not in text
    assert "whsec_" not in text


# -- parsing verified events ---------------------------------------------------------------------


def parsed(
    svix_id: str, event_type: str = "email.delivered", email_id: str | None = "em_1", created_at: str | None = None
) -> WebhookEvent:
    """A verified body parsed into an event, dated ``NOW`` when it carries no readable created_at."""
    data: dict[str, Any] = {} if email_id is None else {"email_id": email_id}
    payload: dict[str, Any] = {"type": event_type, "data": data}
    if created_at is not None:
        payload["created_at"] = created_at
    return parse_event(svix_id, json.dumps(payload).encode(), fallback_created_at=NOW)


def test_known_event_types_map_to_the_contract_metrics() -> None:
    """The four delivery outcomes count the contract's metrics; other email events count nothing."""
    assert KNOWN_EVENT_TYPES["email.delivered"] is Metric.EMAILS_DELIVERED
    assert KNOWN_EVENT_TYPES["email.bounced"] is Metric.EMAILS_BOUNCED
    assert KNOWN_EVENT_TYPES["email.complained"] is Metric.EMAILS_COMPLAINED
    assert KNOWN_EVENT_TYPES["email.delivery_delayed"] is Metric.EMAILS_DELAYED
    assert KNOWN_EVENT_TYPES["email.sent"] is None
    assert KNOWN_EVENT_TYPES["email.opened"] is None


def test_unknown_event_type_is_returned_not_refused() -> None:
    """An unknown type parses (the route logs and ignores it) and counts no metric."""
    unknown = parsed("msg_1", "domain.updated", email_id=None)
    assert unknown.type == "domain.updated"
    assert not unknown.is_known
    assert unknown.metric is None
    assert unknown.email_id is None


def test_created_at_falls_back_to_the_signature_timestamp() -> None:
    """Without a readable created_at the event is dated by its svix-timestamp."""
    assert parsed("msg_1", created_at="yesterday").created_at == datetime.fromtimestamp(NOW, UTC)
    assert parsed("msg_2").created_at == datetime.fromtimestamp(NOW, UTC)


def test_naive_created_at_is_read_as_utc() -> None:
    """A created_at without an offset is taken as UTC."""
    assert parsed("msg_1", created_at="2024-11-22T23:41:12").created_at.tzinfo is UTC


def test_bounce_detail_is_kept() -> None:
    """A bounce's type, subtype and message explain the status."""
    body = json.dumps(
        {
            "type": "email.bounced",
            "data": {
                "email_id": "em_1",
                "bounce": {"type": "Permanent", "subType": "Suppressed", "message": "on the suppression list"},
            },
        }
    ).encode()
    assert parse_event("msg_1", body, fallback_created_at=NOW).detail == "Permanent/Suppressed: on the suppression list"


# -- what an operator or an SDK user reads when something is refused --------------------------------


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("re_123456789", "the webhook signing secret must start with 'whsec_' (copy it from Resend)"),
        ("whsec_abc$def", "the webhook signing secret is not valid base64 after 'whsec_'"),
        ("whsec_", "the webhook signing secret is empty after 'whsec_'"),
    ],
)
def test_a_bad_secret_says_what_is_wrong_with_it(secret: str, message: str) -> None:
    """The route logs this as ``config_error`` on every webhook until the parameter is fixed."""
    with pytest.raises(WebhookSecretError) as raised:
        WebhookVerifier(secret)
    assert str(raised.value) == message


@pytest.mark.parametrize("pasted", ["MfKQ9r8G*KYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw"])
def test_a_secret_with_a_stray_character_is_refused(pasted: str) -> None:
    """A damaged paste is refused when the verifier is built, though a lenient decoder would drop the character
    and go on: a paste that gained a character may also have lost or changed one, and a wrong key would then
    refuse every genuine webhook with nothing to say why."""
    with pytest.raises(WebhookSecretError, match="not valid base64"):
        WebhookVerifier("whsec_" + pasted)


def test_a_secret_missing_one_padding_character_is_accepted() -> None:
    """Eleven bytes encode to fifteen characters and one ``=``: without it, the same key."""
    key = b"0123456789a"
    unpadded = "whsec_" + base64.b64encode(key).decode().rstrip("=")
    assert unpadded == "whsec_MDEyMzQ1Njc4OWE"
    assert WebhookVerifier(unpadded, clock=lambda: NOW).verify(headers_for(key=key), BODY).type == "email.delivered"


def test_a_zero_tolerance_accepts_only_the_same_second() -> None:
    """Zero is a tolerance (the clocks must agree to the second); a negative one is a programming error."""
    exact = verifier(tolerance_seconds=0)
    assert exact.verify(headers_for(), BODY).svix_id == MSG_ID
    with pytest.raises(WebhookSignatureError):
        exact.verify(headers_for(timestamp=NOW - 1), BODY)
    with pytest.raises(ValueError, match=r"^tolerance_seconds must not be negative$"):
        verifier(tolerance_seconds=-0.5)


@pytest.mark.parametrize(
    ("offset", "tolerance", "message"),
    [
        (-400, 300, "svix-timestamp is 400 s old (tolerance 300 s)"),
        (-1, 0, "svix-timestamp is 1 s old (tolerance 0 s)"),
        (1, 0, "svix-timestamp is 1 s far in the future (tolerance 0 s)"),
    ],
)
def test_a_stale_timestamp_says_how_far_off_it_is(offset: int, tolerance: int, message: str) -> None:
    """Old or early, by how much: enough to tell a replay (minutes or days) from a clock that drifted."""
    check = verifier(tolerance_seconds=tolerance)
    with pytest.raises(WebhookSignatureError) as raised:
        check.verify(headers_for(timestamp=NOW + offset), BODY)
    assert str(raised.value) == message


def test_each_header_fault_is_named() -> None:
    """Every missing header at once, a timestamp that is not seconds, an id that is not printable, no match."""
    expectations = [
        ({"svix-timestamp": str(NOW)}, "missing header(s): svix-id, svix-signature"),
        (headers_for() | {"svix-timestamp": "soon"}, "svix-timestamp is not an integer number of seconds"),
        (headers_for(msg_id="msg_\x00"), "svix-id is too long or not printable"),
        (headers_for(key=b"another key"), "no v1 signature matches the body"),
    ]
    for headers, message in expectations:
        with pytest.raises(WebhookSignatureError) as raised:
            verifier().verify(headers, BODY)
        assert str(raised.value) == message


def test_a_message_id_of_256_characters_is_the_longest_taken() -> None:
    """The id becomes part of a DynamoDB key; Svix's are ~30 characters."""
    longest = "msg_" + "x" * 252
    assert verifier().verify(headers_for(msg_id=longest), BODY).svix_id == longest
    with pytest.raises(WebhookSignatureError) as raised:
        verifier().verify(headers_for(msg_id=longest + "x"), BODY)
    assert raised.value.reason is SignatureFailure.MALFORMED_HEADER


def test_a_signature_with_a_stray_character_does_not_match() -> None:
    """Only the exact base64 of the digest counts; nothing is dropped to make it fit."""
    headers = headers_for()
    headers["svix-signature"] += "!"
    with pytest.raises(WebhookSignatureError) as raised:
        verifier().verify(headers, BODY)
    assert raised.value.reason is SignatureFailure.NO_MATCHING_SIGNATURE


def test_a_verified_event_without_created_at_is_dated_by_its_signature() -> None:
    """Resend always sends ``created_at``; an event without one is still recorded, at its svix-timestamp."""
    body = b'{"type":"email.delivered","data":{"email_id":"em_1"}}'
    event = verifier().verify(headers_for(body, timestamp=NOW - 5), body)
    assert event.created_at == datetime(2023, 11, 14, 22, 13, 15, tzinfo=UTC)  # 1,699,999,995


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the webhook body is not valid JSON"),
        (b"\xff\xfe", "the webhook body is not valid JSON"),
        (b"[]", "the webhook body is not a JSON object"),
        (b'{"type": 3, "data": {}}', "the webhook body has no string 'type'"),
        (b'{"type": "email.sent", "data": []}', "the webhook body has no object 'data'"),
    ],
)
def test_each_payload_fault_is_named(body: bytes, message: str) -> None:
    """The route answers 400 and logs this as ``payload_error``."""
    with pytest.raises(WebhookPayloadError) as raised:
        verifier().verify(headers_for(body), body)
    assert str(raised.value) == message


@pytest.mark.parametrize("email_id", ["", 42, None, ["em_1"]])
def test_an_email_id_that_is_not_text_is_no_email_id(email_id: object) -> None:
    """An event is matched to a record by its email id; a blank or non-text one matches nothing."""
    body = json.dumps({"type": "email.delivered", "data": {"email_id": email_id}}).encode()
    assert parse_event("msg_1", body, fallback_created_at=NOW).email_id is None


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_created_at_is_read_as_utc_whatever_the_machines_zone(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A time with an offset is converted, one without is UTC: never the machine's local time."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        aware = parsed("msg_1", created_at="2024-11-23T01:11:12+01:30").created_at
        naive = parsed("msg_2", created_at="2024-11-22T23:41:12").created_at
    finally:
        monkeypatch.undo()
        time.tzset()
    expected = datetime(2024, 11, 22, 23, 41, 12, tzinfo=UTC)
    assert (aware, aware.utcoffset(), naive, naive.utcoffset()) == (
        expected,
        dt.timedelta(0),
        expected,
        dt.timedelta(0),
    )


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        ({"failed": {"reason": "reached_daily_quota"}}, "reached_daily_quota"),  # Resend's documented example
        (
            {"suppressed": {"type": "OnAccountSuppressionList", "message": "on the account's suppression list"}},
            "OnAccountSuppressionList: on the account's suppression list",
        ),
        ({"bounce": {"type": "Permanent", "subType": "General"}}, "Permanent/General"),
        ({"bounce": {"message": "mailbox full", "reason": "ignored when there is a message"}}, "mailbox full"),
        ({"bounce": {"type": "Transient", "message": ""}}, "Transient"),
        ({"bounce": {}, "failed": {"reason": "the bounce said nothing"}}, "the bounce said nothing"),
        ({"bounce": "Permanent"}, None),
        ({"bounce": {"message": "x" * 600}}, "x" * 500),
    ],
)
def test_the_detail_of_a_failure_explains_it(data: dict[str, Any], detail: str | None) -> None:
    """What ``submissions show`` prints beside a bounced, failed or suppressed delivery."""
    assert parsed_with(data).detail == detail


def parsed_with(data: dict[str, Any]) -> WebhookEvent:
    body = json.dumps({"type": "email.bounced", "data": {"email_id": "em_1", **data}}).encode()
    return parse_event("msg_1", body, fallback_created_at=NOW)
