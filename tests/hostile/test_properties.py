"""Property-based hostile input: whatever arrives, the answer is a contract 4xx or a correct success.

Never a 500, never an unhandled exception, never an email with user markup in its HTML, never a
header a user wrote, never a log line a user forged. Most examples run in process (a recording
``httpx.MockTransport`` provider); a smaller set runs against moto and the Resend sandbox.
"""

from __future__ import annotations

import base64
import json
import string
import time
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_outcome
from hypothesis import strategies as st

from tests.entrypoint.conftest import ORIGIN, Stack, api_gateway_event
from tests.hostile.conftest import (
    InProcessStack,
    assert_contract_response,
    assert_log_lines_are_single_json_objects,
    assert_safe_email,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REAL = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- strategies ------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)


def odd_casing(name: str) -> st.SearchStrategy[str]:
    """``name`` with every letter in a random case."""
    return st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda flips: "".join(c.upper() if flip else c.lower() for c, flip in zip(name, flips, strict=True))
    )


KNOWN_HEADERS = ("Origin", "Content-Type", "X-CSRF-Token", "X-Forwarded-For", "Host", "svix-id", "svix-signature")
header_names = st.sampled_from(KNOWN_HEADERS).flatmap(odd_casing) | st.text(max_size=12)
header_values = st.none() | st.text(max_size=60) | st.sampled_from([ORIGIN, "null", "application/json", ""])
paths = st.sampled_from(["/contact", "/contact/token", "/contact/events", "/contact/", "/", ""]) | st.text(max_size=30)
methods = st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "DELETE", "post", ""]) | st.text(max_size=8)
bodies = (
    st.none()
    | st.text(max_size=300)
    | json_values.map(json.dumps)
    | st.binary(max_size=200).map(lambda raw: base64.b64encode(raw).decode())
)

events = st.fixed_dictionaries(
    {},
    optional={
        "httpMethod": methods | json_values,
        "path": paths | json_values,
        "resource": paths | json_values,
        "headers": st.none() | st.dictionaries(header_names, header_values | json_values, max_size=6) | json_values,
        "multiValueHeaders": st.none()
        | st.dictionaries(header_names, st.none() | st.lists(header_values, max_size=3) | json_values, max_size=6)
        | json_values,
        "body": bodies | json_values,
        "isBase64Encoded": st.booleans() | json_values,
        "requestContext": st.none()
        | json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "requestId": st.text(max_size=40) | json_values,
                "identity": st.none()
                | json_values
                | st.fixed_dictionaries({}, optional={"sourceIp": st.text(max_size=20) | json_values}),
            },
        ),
    },
)

# Field values: mostly text of any unicode (markup, quotes, line breaks, controls), sometimes wrong types.
markup = st.sampled_from(
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "<b>", "&amp;", "\r\nBcc: x@evil.test", "'", '"']
)
texts = st.text(max_size=120) | st.lists(st.text(max_size=20) | markup, max_size=6).map("".join)
field_values = texts | json_values
emails = st.emails() | texts
wild_forms = st.fixed_dictionaries(
    {
        "name": texts.map(lambda t: "Ada " + t) | field_values,
        "email": emails | field_values,
        "message": texts.map(lambda t: "Hello there, I write about this: " + t) | field_values,
        "consent": st.just(True) | json_values,
    },
    optional={
        "subject": texts | field_values,
        "website": st.just("") | field_values,
        "formStartedAt": st.just(int(time.time() * 1000) - 60_000) | json_values,
        "extra": json_values,
    },
)
# Valid forms whose values are still hostile: any printable unicode, markup, quotes, entities.
one_line = st.text(alphabet=st.characters(exclude_categories=["Cc", "Cf", "Zl", "Zp", "Cs"]), max_size=40) | st.lists(
    st.text(alphabet=string.printable.strip(), max_size=10) | markup.filter(lambda m: "\r" not in m), max_size=4
).map("".join)
# Names as people write them: joiners in Persian and Indic scripts, bidi marks around Arabic and Hebrew.
real_names = st.sampled_from(
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with a zero-width non-joiner
        "\u0915\u094d\u200d\u0937\u093f\u0924\u093f",  # Devanagari with a zero-width joiner
        "\u200f\u05d3\u05e0\u05d4 \u05dc\u05d5\u05d9\u200f",  # Hebrew between right-to-left marks
        "Ada \u200e(\u0639\u0644\u064a)\u200e",  # left-to-right marks around an Arabic name
        "\u2067\u0639\u0644\u064a\u2069 Lovelace",  # an isolate
    ]
)
valid_addresses = st.sampled_from(
    [
        "ada@example.org",
        "o'brien+tag@example.co.uk",
        "x@xn--bcher-kva.example",
        "Ada@Example.ORG",
        " ada@b\u00fccher.de ",
    ]
)
valid_forms = st.fixed_dictionaries(
    {
        "name": one_line.map(lambda t: ("Ada " + t)[:100]) | real_names,
        "email": valid_addresses,
        "message": st.text(
            alphabet=st.characters(exclude_categories=["Cc", "Cs"]) | st.sampled_from("\r\n\t"), max_size=200
        ).map(lambda t: "Hello there, I write about this: " + t),
        "consent": st.just(True),
    },
    optional={
        "subject": one_line | real_names,
        "website": st.just(""),
        "formStartedAt": st.sampled_from([int(time.time() * 1000) - 60_000, float(int(time.time()) - 60) * 1000]),
    },
)
form_fields = valid_forms | wild_forms


# -- in process ------------------------------------------------------------------------------------


@FAST
@given(event=events | json_values)
def test_any_event_gets_a_contract_answer(inproc: InProcessStack, event: Any) -> None:
    """Any event at all — wrong types, nulls, missing parts — is answered within the contract, never 500."""
    sent_before = len(inproc.provider.requests)
    assert_contract_response(inproc.call(event))
    assert len(inproc.provider.requests) == sent_before  # no valid token, so nothing can be sent


@FAST
@given(fields=form_fields)
def test_any_form_is_rejected_cleanly_or_sent_safely(inproc: InProcessStack, fields: dict[str, Any]) -> None:
    """Any form behind a valid token: a 4xx with the error shape, or sent with every user value inert."""
    sent_before = len(inproc.provider.requests)
    logs_before = len(inproc.logs)
    event = api_gateway_event(
        "POST",
        "/contact",
        body=json.dumps(fields),
        headers={"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": inproc.token()},
    )
    response = inproc.call(event)
    body = assert_contract_response(response)
    event_label = body.get("status") if body and "status" in body else (body or {}).get("error", {}).get("code")
    note_outcome(f"{response['statusCode']} {event_label}")
    emails = inproc.provider.emails()[sent_before:]
    typed = fields.get("email")
    for email in emails:
        assert_safe_email(email, typed if isinstance(typed, str) else None)
    if body is not None and body.get("status") == "sent" and emails:
        assert len(emails) == 1
    if body is not None and "error" in body:
        assert emails == []
    if not is_strict_json(fields):  # NaN or Infinity somewhere: not JSON (RFC 8259), refused before any field
        assert response["statusCode"] == 400 and body["error"]["code"] == "invalid_json", body  # type: ignore[index]
    elif isinstance(typed, str) and has_control_character(typed):
        assert response["statusCode"] == 400 and "email" in body["error"]["fields"], body  # type: ignore[index]
    assert_log_lines_are_single_json_objects(inproc.logs[logs_before:])


def is_strict_json(value: Any) -> bool:
    """The test's own reading of RFC 8259: the standard library refuses NaN and Infinity when told to."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


def has_control_character(value: str) -> bool:
    """The test's own rule: a character of a control, separator or surrogate category anywhere."""
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs") for ch in value)


@FAST
@given(fields=valid_forms)
def test_valid_forms_with_real_names_are_sent_as_typed(inproc: InProcessStack, fields: dict[str, Any]) -> None:
    """A valid form — joiners, bidi marks, whole-number float times included — is sent, its reply-to as typed."""
    sent_before = len(inproc.provider.requests)
    event = api_gateway_event(
        "POST",
        "/contact",
        body=json.dumps(fields),
        headers={"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": inproc.token()},
    )
    response = inproc.call(event)
    body = assert_contract_response(response)
    assert response["statusCode"] == 200 and body is not None and body["status"] == "sent", body
    emails = inproc.provider.emails()[sent_before:]
    assert len(emails) <= 1  # the same form twice is one email (idempotency)
    for email in emails:
        assert_safe_email(email, fields["email"])
        assert email["subject"].startswith(f"Contact Form: Message from {fields['name'].strip()}")


controls = st.characters(categories=["Cc", "Zl", "Zp"])


@FAST
@given(address=st.emails(), control=controls, where=st.integers(min_value=0, max_value=300))
def test_a_control_character_anywhere_in_the_address_is_refused(
    inproc: InProcessStack, address: str, control: str, where: int
) -> None:
    """CR, LF, NUL, DEL, C1, U+2028/9 — at the start, inside, or trailing: 400 naming ``email``, nothing sent."""
    at = where % (len(address) + 1)
    fields = {
        "name": "Ada",
        "email": address[:at] + control + address[at:],
        "message": "Hello there, friend.",
        "consent": True,
    }
    sent_before = len(inproc.provider.requests)
    event = api_gateway_event(
        "POST",
        "/contact",
        body=json.dumps(fields),
        headers={"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": inproc.token()},
    )
    response = inproc.call(event)
    body = assert_contract_response(response)
    assert response["statusCode"] == 400 and body is not None, body
    assert body["error"]["code"] == "validation_error"
    assert "email" in body["error"]["fields"]
    assert len(inproc.provider.requests) == sent_before


@FAST
@given(
    casings=st.tuples(odd_casing("Origin"), odd_casing("Content-Type"), odd_casing("X-CSRF-Token")),
    duplicate=st.sampled_from([None, "Origin", "Content-Type", "X-CSRF-Token"]),
    conflicting=st.booleans(),
    message=st.integers(min_value=0, max_value=10**9),
)
def test_header_names_in_any_case_and_duplicated_headers(
    inproc: InProcessStack,
    casings: tuple[str, str, str],
    duplicate: str | None,
    conflicting: bool,
    message: int,
) -> None:
    """Header names match in any case; a security header sent twice with different values is refused, not guessed."""
    token = inproc.token()
    values = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token}
    cased = dict(zip(("Origin", "Content-Type", "X-CSRF-Token"), casings, strict=True))
    headers = {cased[name]: value for name, value in values.items()}
    multi = {name: [value] for name, value in headers.items()}
    if duplicate is not None:
        other = {"Origin": "https://evil.example", "Content-Type": "text/plain", "X-CSRF-Token": "v1.forged"}
        multi[cased[duplicate]].append(other[duplicate] if conflicting else values[duplicate])
    payload = {
        "name": "Ada",
        "email": "ada@example.org",
        "message": f"Hello, this is message {message} about headers.",
        "consent": True,
    }
    event = api_gateway_event("POST", "/contact", body=json.dumps(payload), headers=headers)
    event["multiValueHeaders"] = multi
    response = inproc.call(event)
    body = assert_contract_response(response)
    assert body is not None
    if duplicate is None or not conflicting:
        assert response["statusCode"] == 200, body
    else:
        expected = {
            "Origin": "origin_not_allowed",
            "Content-Type": "unsupported_media_type",
            "X-CSRF-Token": "csrf_missing",
        }
        assert body["error"]["code"] == expected[duplicate]


@FAST
@given(raw=st.binary(max_size=3000), valid_base64=st.booleans())
def test_base64_bodies_of_any_bytes(inproc: InProcessStack, raw: bytes, valid_base64: bool) -> None:
    """``isBase64Encoded`` bodies of any bytes (non-UTF-8 included), or not base64 at all: a clean 4xx."""
    encoded = base64.b64encode(raw).decode() if valid_base64 else raw.decode("latin-1") + "!"
    event = api_gateway_event(
        "POST",
        "/contact",
        body=encoded,
        headers={"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": inproc.token()},
        is_base64=True,
    )
    response = inproc.call(event)
    body = assert_contract_response(response)
    assert body is not None
    assert response["statusCode"] == 400, body  # random bytes are never a valid form
    assert body["error"]["code"] in ("invalid_json", "validation_error")


@FAST
@given(prefix=st.text(max_size=20), surrogates=st.text(alphabet=st.characters(categories=["Cs"]), min_size=1))
def test_bodies_that_are_not_utf8(inproc: InProcessStack, prefix: str, surrogates: str) -> None:
    """A body with lone surrogates (bytes that are not UTF-8) is 400 invalid_json."""
    body_text = '{"name": "' + prefix.replace('"', "") + surrogates + '"}'
    event = api_gateway_event(
        "POST",
        "/contact",
        body=body_text,
        headers={"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": inproc.token()},
    )
    response = inproc.call(event)
    body = assert_contract_response(response)
    assert body is not None
    assert body["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("[" * 20_000, "invalid_json"),
        ('{"name": ' + "[" * 10_000 + "]" * 10_000 + "}", "invalid_json"),
        ('{"name": {"a": [[[[[[[[[[1]]]]]]]]]]}, "email": 1, "message": null, "consent": "yes"}', "validation_error"),
        (json.dumps({"name": "A" * 40_000}), "payload_too_large"),
        (
            json.dumps({"name": "A" * 200, "email": "a@b.co", "message": "x" * 6000, "consent": True}),
            "validation_error",
        ),
        ("null", "invalid_json"),
        ('"a string"', "invalid_json"),
        ("", "invalid_json"),
        ('{"name": "Ada", "name": "Eve"}', "validation_error"),
    ],
    ids=["deep-array", "deep-in-field", "wrong-types", "huge", "too-long", "null", "string", "empty", "dup-keys"],
)
def test_huge_deep_and_wrongly_typed_bodies(inproc: InProcessStack, body: str, code: str) -> None:
    """Deeply nested, huge, null or wrongly typed bodies: the contract's 4xx, never a crash."""
    event = api_gateway_event(
        "POST",
        "/contact",
        body=body,
        headers={"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": inproc.token()},
    )
    answer = assert_contract_response(inproc.call(event))
    assert answer is not None
    assert answer["error"]["code"] == code


# -- against the real stack (moto + the Resend sandbox) --------------------------------------------


@pytest.fixture
def real_stack(make_stack: Callable[..., Stack]) -> Stack:
    """moto + the Resend sandbox, with limits out of the way (hypothesis reuses it across examples)."""
    return make_stack(submit_limit=100_000, token_limit=100_000)


@pytest.mark.integration
@REAL
@given(fields=form_fields)
def test_any_form_through_the_real_stack(real_stack: Stack, fields: dict[str, Any]) -> None:
    """The same property over moto and the Resend sandbox: what the sandbox received is safe."""
    stack = real_stack
    before = len(stack.sandbox.emails())
    logs_before = len(stack.logs)
    response = stack.submit(fields)
    body = assert_contract_response(response)
    emails = stack.sandbox.emails()[before:]
    typed = fields.get("email")
    for email in emails:
        assert_safe_email(dict(email["body"]), typed if isinstance(typed, str) else None)  # type: ignore[call-overload]
    if body is not None and "error" in body:
        assert emails == []
    assert_log_lines_are_single_json_objects(stack.logs[logs_before:])
