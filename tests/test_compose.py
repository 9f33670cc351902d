"""The email and the idempotency key, fast tier: what a submission becomes, checked with hand-written expectations.

The HTML part is read with the standard library's ``html.parser``; the key is checked against a
canonical string typed out here, so a change to what makes two submissions "the same" is seen.
"""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
from typing import Any

import pytest

from contact_sdk.compose import SOURCE_TAG, compose_email, idempotency_key, normalized_submission
from contact_sdk.config import ResendConfig
from contact_sdk.models import ContactSubmission

CONFIG = ResendConfig(
    api_key="re_test_key_123456",
    domain="example.com",
    from_email="no-reply@example.com",
    to_email="owner@example.com",
    version="1",
    rotated_at="2026-01-01T00:00:00Z",
)


def submission(**changes: Any) -> ContactSubmission:
    fields: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "subject": "Engines",
        "message": "Hello,\nI like <b>engines</b> & notes.",
        "consent": True,
    }
    fields.update(changes)
    return ContactSubmission.model_validate({k: v for k, v in fields.items() if v is not ...})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.cells.append(data.strip())


def read_html(document: str) -> _Text:
    parser = _Text()
    parser.feed(document)
    parser.close()
    return parser


# -- the email -----------------------------------------------------------------------------------


def test_envelope_follows_the_contract() -> None:
    email = compose_email(submission(), CONFIG)
    assert email.sender == "Contact Form <no-reply@example.com>"
    assert email.to == ("owner@example.com",)
    assert email.reply_to == ("ada@example.org",)
    assert email.tags == (("source", "contact-form"),)
    assert SOURCE_TAG == ("source", "contact-form")
    assert dict(email.headers) == {}


def test_subject_with_and_without_the_visitors_subject() -> None:
    assert compose_email(submission(), CONFIG).subject == "Contact Form: Message from Ada Lovelace — Engines"
    assert compose_email(submission(subject=...), CONFIG).subject == "Contact Form: Message from Ada Lovelace"
    assert compose_email(submission(subject=""), CONFIG).subject == "Contact Form: Message from Ada Lovelace"


def test_text_part_lists_the_fields_then_the_message() -> None:
    text = compose_email(submission(), CONFIG).text
    assert text == (
        "Name: Ada Lovelace\nEmail: ada@example.org\nSubject: Engines\n\n"
        "Message:\nHello,\nI like <b>engines</b> & notes.\n"
    )
    without = compose_email(submission(subject=...), CONFIG).text
    assert without == "Name: Ada Lovelace\nEmail: ada@example.org\n\nMessage:\nHello,\nI like <b>engines</b> & notes.\n"


def test_html_part_escapes_every_user_value() -> None:
    hostile = submission(name="<i>Ada</i>", subject='"><script>x</script>', message="Hi <img src=x> & bye, friend")
    document = compose_email(hostile, CONFIG).html
    assert document is not None
    page = read_html(document)
    assert page.tags == [
        "html",
        "body",
        "h2",
        "table",
        "tr",
        "th",
        "td",
        "tr",
        "th",
        "td",
        "tr",
        "th",
        "td",
        "h3",
        "div",
    ]
    assert page.cells == [
        "New Contact Form Submission",
        "Name",
        "<i>Ada</i>",
        "Email",
        "ada@example.org",
        "Subject",
        '"><script>x</script>',
        "Message",
        "Hi <img src=x> & bye, friend",
    ]
    assert document.startswith("<!doctype html>\n<html><body>\n<h2>")
    assert document.endswith("</div>\n</body></html>\n")


def test_html_part_turns_line_breaks_into_br() -> None:
    document = compose_email(submission(message="line one\r\nline two\nline three"), CONFIG).html
    assert document is not None
    assert "line one<br>\nline two<br>\nline three" in document
    assert read_html(document).tags.count("br") == 2


def test_html_part_has_no_subject_row_without_a_subject() -> None:
    document = compose_email(submission(subject=...), CONFIG).html
    assert document is not None
    assert "Subject" not in read_html(document).cells


def test_names_with_joiners_reach_the_subject_unchanged() -> None:
    name = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    email = compose_email(submission(name=name, subject="\u200f\u05e9\u05dc\u05d5\u05dd"), CONFIG)
    assert email.subject == f"Contact Form: Message from {name} — \u200f\u05e9\u05dc\u05d5\u05dd"


def test_a_line_break_that_slipped_past_validation_never_reaches_a_header() -> None:
    # Defence in depth: a submission built without validation (model_construct) still renders one line.
    raw = ContactSubmission.model_construct(
        name="Ada\r\nBcc: eve@example.org",
        email="ada@example.org",
        subject="Hi\u2028there\u2029now\x85",
        message="Hello there, friend.",
        consent=True,
    )
    email = compose_email(raw, CONFIG)
    assert email.subject == "Contact Form: Message from Ada  Bcc: eve@example.org — Hi there now"
    assert email.text is not None and email.text.startswith("Name: Ada  Bcc: eve@example.org\n")
    spaced = ContactSubmission.model_construct(
        name="  Ada  ", email="ada@example.org", subject="  Hi  ", message="Hello there, friend.", consent=True
    )
    assert compose_email(spaced, CONFIG).subject == "Contact Form: Message from Ada — Hi"


# -- the idempotency key -------------------------------------------------------------------------


def expected_key(canonical: str) -> str:
    return "contact-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_the_key_is_the_sha256_of_the_canonical_fields() -> None:
    # Typed out by hand: sorted keys, json.dumps separators, no ASCII escaping. Changing this
    # changes every key: a deploy would then send again what the previous version already sent.
    canonical = (
        '{"email": "ada@example.org", "message": "Hello, I like <b>engines</b> & notes.", '
        '"name": "Ada Lovelace", "subject": "Engines"}'
    )
    assert idempotency_key(submission()) == expected_key(canonical)
    key = idempotency_key(submission(name="Zo\u00eb"))
    assert key == expected_key(canonical.replace("Ada Lovelace", "Zo\u00eb"))


def test_normalized_fields() -> None:
    assert normalized_submission(submission(subject=..., email="Ada@Example.org")) == {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "subject": "",
        "message": "Hello, I like <b>engines</b> & notes.",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Ada King"},
        {"subject": "Notes"},
        {"subject": ...},
        {"message": "A second, different message from the same sender."},
        {"email": "ada@example.net"},
    ],
    ids=["name", "subject", "no-subject", "message", "email"],
)
def test_a_different_submission_gets_a_different_key(change: dict[str, Any]) -> None:
    """The same sender's second, different message must not be dropped as a duplicate."""
    assert idempotency_key(submission(**change)) != idempotency_key(submission())


@pytest.mark.parametrize(
    "change",
    [
        {"email": "ADA@example.org"},
        {"name": "  Ada   Lovelace "},
        {"message": "Hello,   I like <b>engines</b>\n\n& notes."},
        {"subject": "Engines  "},
        {"name": "Ada Lovelace", "message": "Hello,\r\nI like <b>engines</b> & notes."},
    ],
    ids=["email-case", "name-spaces", "message-whitespace", "subject-trailing", "crlf"],
)
def test_the_same_submission_retyped_gets_the_same_key(change: dict[str, Any]) -> None:
    assert idempotency_key(submission(**change)) == idempotency_key(submission())


def test_composed_and_decomposed_accents_are_the_same_submission() -> None:
    composed = submission(name="Zo\u00eb", message="Caf\u00e9 notes, please read.")
    decomposed = submission(name="Zoe\u0308", message="Cafe\u0301 notes, please read.")
    assert idempotency_key(composed) == idempotency_key(decomposed)
