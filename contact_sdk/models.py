"""The contact form submission: untrusted input, validated strictly with pydantic.

Rules are the contract's (section 6). Unknown fields are refused. Every message is one a
person can act on, keyed by the field's name as the form sends it.

Example::

    submission, errors = parse_submission({"name": "Ada", "email": "ada@example.com",
                                           "message": "Hello there, ...", "consent": True})
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["ContactSubmission", "is_valid_email", "parse_submission"]

MAX_EMAIL_LENGTH = 254
# RFC 5322 dot-atom local part and an LDH (or IDNA) domain with a dot: conservative on purpose,
# because the address becomes the email's Reply-To header. No quoted strings, comments,
# whitespace, commas or angle brackets can get through.
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


_ALLOWED_IN_MESSAGE = str.maketrans("", "", "\n\r\t")


def _has_control_characters(value: str) -> bool:
    # Fast path in C: a printable string holds no Cc/Cf/Zl/Zp character (nearly every real name).
    if value.isprintable():
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in "\t" for ch in value)


def is_valid_email(address: str) -> bool:
    """Whether ``address`` is a syntactically valid, header-safe email address (no DNS lookup)."""
    if not address or len(address) > MAX_EMAIL_LENGTH or address.count("@") != 1:
        return False
    local, domain = address.split("@")
    if len(local) > 64 or not _LOCAL_PART.match(local):
        return False
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_domain.rstrip(".").split(".")
    if len(labels) < 2 or len(ascii_domain) > 253:
        return False
    return all(_DOMAIN_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


class ContactSubmission(BaseModel):
    """A validated submission. Strings are trimmed; ``subject`` is ``None`` when not given."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(min_length=1, max_length=100)
    email: str = Field(max_length=MAX_EMAIL_LENGTH)
    subject: str | None = Field(default=None, max_length=150)
    message: str = Field(min_length=10, max_length=5000)
    consent: bool
    website: str | None = Field(default=None, max_length=1000)
    form_started_at: int | None = Field(default=None, alias="formStartedAt", ge=0)
    #: The Cloudflare Turnstile widget's token (``cf-turnstile-response``); required only when Turnstile is on.
    turnstile_token: str | None = Field(default=None, alias="turnstileToken", max_length=2048)

    # Not the honeypot: people never see it, so any content in it -- whitespace included -- is a bot's.
    @field_validator("name", "message", "subject", "email", mode="before")
    @classmethod
    def _trim(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _name_has_no_controls(cls, value: str) -> str:
        if _has_control_characters(value):
            raise ValueError("must not contain line breaks or control characters")
        return value

    @field_validator("subject")
    @classmethod
    def _subject_is_one_line(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _has_control_characters(value):
            raise ValueError("must be a single line without control characters")
        return value or None

    @field_validator("message")
    @classmethod
    def _message_has_no_odd_controls(cls, value: str) -> str:
        # Line breaks and tabs are fine in a message; other control characters are not.
        if value.translate(_ALLOWED_IN_MESSAGE).isprintable():  # fast path in C
            return value
        if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("email")
    @classmethod
    def _email_is_valid(cls, value: str) -> str:
        if not is_valid_email(value):
            raise ValueError("must be a valid email address, like name@example.com")
        return value

    @field_validator("consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("you must agree to the processing of your data to send the form")
        return value


_FRIENDLY: dict[str, str] = {
    "missing": "is required",
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number (milliseconds since the epoch)",
    "extra_forbidden": "is not a field of this form",
    "greater_than_equal": "must not be negative",
}


def _message_for(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "string_too_short":
        return f"must be at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return _FRIENDLY.get(kind, str(error["msg"]))


def parse_submission(payload: dict[str, Any]) -> tuple[ContactSubmission | None, dict[str, str]]:
    """Validate a decoded JSON object: the submission, or ``None`` and a message per field."""
    try:
        return ContactSubmission.model_validate(payload), {}
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors(include_url=False, include_input=False):
            location = error["loc"]
            field_name = str(location[0]) if location else "body"
            if field_name == "form_started_at":
                field_name = "formStartedAt"
            elif field_name == "turnstile_token":
                field_name = "turnstileToken"
            fields.setdefault(field_name[:64], _message_for(error))
        return None, fields
