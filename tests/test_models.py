"""The submission model, fast tier: every field rule at its edge, with messages a person can act on.

Expectations are written by hand from the contract's table (section 6), never read from the model.
"""

from __future__ import annotations

from typing import Any

import pytest

from contact_sdk.models import ContactSubmission, parse_submission


def form(**changes: Any) -> dict[str, Any]:
    """A valid form with ``changes`` applied (``...`` removes a field)."""
    value: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "subject": "Analytical engine",
        "message": "Hello! I would like to talk about your engine.",
        "consent": True,
        "website": "",
        "formStartedAt": 1_796_418_354_000,
    }
    value.update(changes)
    return {key: item for key, item in value.items() if item is not ...}


def accepted(**changes: Any) -> ContactSubmission:
    submission, errors = parse_submission(form(**changes))
    assert errors == {}
    assert submission is not None
    return submission


def refused(**changes: Any) -> dict[str, str]:
    submission, errors = parse_submission(form(**changes))
    assert submission is None
    assert errors
    return errors


def test_a_valid_form_is_kept_as_sent() -> None:
    submission = accepted()
    assert submission.name == "Ada Lovelace"
    assert submission.email == "ada@example.org"
    assert submission.subject == "Analytical engine"
    assert submission.message == "Hello! I would like to talk about your engine."
    assert submission.consent is True
    assert submission.website == ""
    assert submission.form_started_at == 1_796_418_354_000


def test_optional_fields_may_be_absent() -> None:
    submission = accepted(subject=..., website=..., formStartedAt=...)
    assert submission.subject is None
    assert submission.website is None
    assert submission.form_started_at is None


@pytest.mark.parametrize("missing", ["name", "email", "message", "consent"])
def test_required_fields(missing: str) -> None:
    assert refused(**{missing: ...}) == {missing: "is required"}


# -- lengths: the contract's numbers, at and just past each edge --------------------------------


@pytest.mark.parametrize(("field", "longest"), [("name", 100), ("subject", 150), ("message", 5000)])
def test_longest_values(field: str, longest: int) -> None:
    assert getattr(accepted(**{field: "x" * longest}), field) == "x" * longest
    assert refused(**{field: "x" * (longest + 1)}) == {field: f"must be at most {longest} characters"}


@pytest.mark.parametrize("filled", [" ", "\t", "\n", "  \u00a0 ", "x" * 1001, 0, False, [1], {"url": "x"}])
def test_a_honeypot_is_kept_as_sent_whatever_it_holds(filled: object) -> None:
    """The honeypot is never a field error and never trimmed: its length and type are the spam rule's to judge."""
    submission, errors = parse_submission(form(website=filled))
    assert errors == {}
    assert submission is not None and submission.website == filled


def test_the_turnstile_token_is_at_most_2048_characters() -> None:
    """Cloudflare's tokens are well under 2048 characters; a longer value is refused before siteverify."""
    assert accepted(turnstileToken="t" * 2048).turnstile_token == "t" * 2048
    assert list(refused(turnstileToken="t" * 2049)) == ["turnstileToken"]


def test_shortest_values() -> None:
    assert accepted(name="A").name == "A"
    assert refused(name="") == {"name": "must be at least 1 characters"}
    assert accepted(message="0123456789").message == "0123456789"
    assert refused(message="012345678") == {"message": "must be at least 10 characters"}


def test_lengths_count_after_trimming() -> None:
    assert refused(name="   ") == {"name": "must be at least 1 characters"}
    assert refused(message="  012345678  ") == {"message": "must be at least 10 characters"}
    assert accepted(name="  Ada  ").name == "Ada"
    assert accepted(message="\n 0123456789 \n").message == "0123456789"
    assert accepted(subject="  Hi  ").subject == "Hi"


def test_email_is_at_most_254_characters() -> None:
    just_right = "a" * 64 + "@" + ".".join(["b" * 61, "c" * 61, "d" * 61]) + ".org"  # 64 + 1 + 61*3 + 2 + 4 = 254
    assert len(just_right) == 254
    assert accepted(email=just_right).email == just_right
    too_long = "a" * 64 + "@" + ".".join(["b" * 61, "c" * 61, "d" * 62]) + ".org"
    assert len(too_long) == 255
    assert refused(email=too_long) == {"email": "must be at most 254 characters"}


# -- control characters: anywhere in a one-line field, as sent (before trimming) ---------------------

CONTROLS = {
    "CR": "\r",
    "LF": "\n",
    "TAB": "\t",
    "NUL": "\x00",
    "DEL": "\x7f",
    "NEL (C1)": "\x85",
    "CSI (C1)": "\x9b",
    "LINE SEPARATOR": "\u2028",
    "PARAGRAPH SEPARATOR": "\u2029",
    "RIGHT-TO-LEFT OVERRIDE": "\u202e",
    "LEFT-TO-RIGHT EMBEDDING": "\u202a",
}


@pytest.mark.parametrize("field", ["name", "subject", "email"])
@pytest.mark.parametrize("control", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_control_character_anywhere_in_a_one_line_field_is_refused(field: str, control: str, where: str) -> None:
    clean = {"name": "Ada Lovelace", "subject": "Analytical engine", "email": "ada@example.org"}[field]
    value = {"start": control + clean, "middle": clean[:3] + control + clean[3:], "end": clean + control}[where]
    errors = refused(**{field: value})
    assert list(errors) == [field]
    assert errors[field] == f"must be a single line without control characters (U+{ord(control):04X})"


def test_the_address_line_feeds_from_the_issue() -> None:
    for address in ("x\n@example.com", "a@example\n.com", "a@example.com\n", "\na@example.com", "a@example.com\r\n"):
        assert list(refused(email=address)) == ["email"], address


def test_a_lone_surrogate_is_refused() -> None:
    assert list(refused(name="Ada \ud800")) == ["name"]
    assert list(refused(subject="\udfff")) == ["subject"]


REAL_NAMES = {
    "Persian with ZWNJ": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    "Devanagari with ZWJ": "\u0915\u094d\u200d\u0937\u093f\u0924\u093f",
    "Hebrew between RLMs": "\u200f\u05d3\u05e0\u05d4 \u05dc\u05d5\u05d9\u200f",
    "Arabic between LRMs": "Ada \u200e(\u0639\u0644\u064a)\u200e",
    "Arabic letter mark": "\u061c\u0639\u0644\u064a",
    "isolates": "\u2067\u0639\u0644\u064a\u2069 Lovelace",
    "emoji ZWJ sequence": "Ada \U0001f469\u200d\U0001f4bb",
}


@pytest.mark.parametrize("name", REAL_NAMES.values(), ids=REAL_NAMES.keys())
def test_names_and_subjects_accept_the_format_characters_people_use(name: str) -> None:
    assert accepted(name=name).name == name
    assert accepted(subject=name).subject == name


def test_the_message_keeps_line_breaks_and_tabs_but_not_other_controls() -> None:
    text = "Hello,\r\n\tI write\nabout the engine."
    assert accepted(message=text).message == text
    assert accepted(message="Hello there \u2028 friend").message == "Hello there \u2028 friend"
    for control in ("\x00", "\x07", "\x7f", "\x85", "\x1b"):
        assert refused(message=f"Hello there{control} friend") == {"message": "must not contain control characters"}


def test_an_empty_subject_is_no_subject() -> None:
    assert accepted(subject="").subject is None
    assert accepted(subject="   ").subject is None


# -- the address ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ada@example.org", "ada@example.org"),
        ("  Ada@Example.ORG  ", "Ada@example.org"),  # the domain is lower-cased, the local part kept
        ("\u00a0ada@example.org\u2003", "ada@example.org"),  # trimmed like every field: no-break and em spaces
        ("o'brien+tag@example.co.uk", "o'brien+tag@example.co.uk"),
        ("x@b\u00fccher.de", "x@xn--bcher-kva.de"),  # IDN domains are kept in their ASCII form
        ("x@XN--BCHER-KVA.de", "x@xn--bcher-kva.de"),
    ],
)
def test_addresses_are_normalised(typed: str, kept: str) -> None:
    assert accepted(email=typed).email == kept


@pytest.mark.parametrize(
    "address",
    [
        "ada",
        "ada@",
        "@example.org",
        "ada@example",
        "ada@@example.org",
        "ada@example.org, eve@example.org",
        "Ada <ada@example.org>",
        '"ada"@example.org',
        "ada@[127.0.0.1]",
        "a..b@example.org",
        ".ada@example.org",
        "ada.@example.org",
        "ada@-example.org",
        "ada@example.org.",
        "ada @example.org",
        "\u00e4da@example.org",  # non-ASCII local part: would need SMTPUTF8
        "ada@example.test",  # special-use domain
        "ada@localhost",
        "<script>@example.org",
        "a" * 65 + "@example.org",
    ],
)
def test_malformed_addresses_are_refused_with_a_helpful_message(address: str) -> None:
    errors = refused(email=address)
    assert list(errors) == ["email"]
    assert errors["email"].startswith("must be a valid email address, like name@example.com (")


# -- types, consent, extras ----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "email", "message", "subject"])
@pytest.mark.parametrize("value", [1, 1.5, True, None, ["Ada"], {"a": "b"}])
def test_text_fields_must_be_text(field: str, value: Any) -> None:
    if value is None and field == "subject":
        accepted(**{field: None})
        return
    assert refused(**{field: value}) == {field: "must be text"}


@pytest.mark.parametrize("value", [False, "true", 1, None, "yes"])
def test_consent_must_be_true(value: Any) -> None:
    errors = refused(consent=value)
    expected = (
        "you must agree to the processing of your data to send the form" if value is False else "must be true or false"
    )
    assert errors == {"consent": expected}


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (0, 0),
        (1_796_418_354_000, 1_796_418_354_000),
        (1_796_418_354_000.0, 1_796_418_354_000),
        (1.7e12, 1_700_000_000_000),
        (1_796_418_354.0, 1_796_418_354),
        (-0.0, 0),
    ],
)
def test_form_started_at_takes_whole_numbers_even_written_as_floats(value: Any, kept: int) -> None:
    submission = accepted(formStartedAt=value)
    assert submission.form_started_at == kept
    assert type(submission.form_started_at) is int


@pytest.mark.parametrize(
    "value", [1.5, 1_796_418_354_000.25, float("inf"), float("-inf"), float("nan"), True, "1", [1]]
)
def test_form_started_at_refuses_fractions_bools_and_strings(value: Any) -> None:
    assert refused(formStartedAt=value) == {"formStartedAt": "must be a whole number (milliseconds since the epoch)"}


def test_form_started_at_is_not_negative() -> None:
    assert refused(formStartedAt=-1) == {"formStartedAt": "must not be negative"}
    assert refused(formStartedAt=-1.0) == {"formStartedAt": "must not be negative"}


def test_unknown_fields_are_named() -> None:
    assert refused(replyTo="x") == {"replyTo": "is not a field of this form"}
    long_name = "f" * 100
    assert refused(**{long_name: "x"}) == {"f" * 64: "is not a field of this form"}


def test_every_failing_field_is_named_once() -> None:
    errors = refused(name="", email="nope", message="short", consent=False, formStartedAt="x")
    assert set(errors) == {"name", "email", "message", "consent", "formStartedAt"}


def test_a_body_that_is_not_an_object_is_one_error() -> None:
    submission, errors = parse_submission([])  # type: ignore[arg-type]
    assert submission is None
    assert list(errors) == ["body"]
    assert isinstance(errors["body"], str) and "dictionary" in errors["body"]  # pydantic's own words


def test_an_error_without_a_friendly_message_keeps_pydantics() -> None:
    errors = refused(message="Hello there \ud800 friend")  # a lone surrogate: not a unicode string
    assert isinstance(errors["message"], str) and "unicode" in errors["message"]


def test_the_model_is_frozen_and_strict_about_extras() -> None:
    submission = accepted()
    with pytest.raises(ValueError, match="frozen"):
        submission.name = "Eve"  # type: ignore[misc]
