"""The contact form submission: untrusted input, validated strictly with pydantic.

Rules are the contract's (section 6). Unknown fields are refused. Every message is one a
person can act on, keyed by the field's name as the form sends it.

Example::

    submission, errors = parse_submission({"name": "Ada", "email": "ada@example.com",
                                           "message": "Hello there, ...", "consent": True})

Loaded on first use, not at ``import handler``: pydantic's model machinery and building this model cost
about 40 ms of a cold start, and only a request that carries a submission (or the outbox reading one) needs
them; the token route, the webhooks, the deployment check and every refusal before the body is read do not.
The runtime's modules import it under ``TYPE_CHECKING`` and where it is used;
``tests/test_import_path.py`` fails if it is imported eagerly again.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contact_sdk.addresses import MAX_ADDRESS_LENGTH, InvalidAddressError, normalize_address
from contact_sdk.text import control_character, describe_character

__all__ = ["ContactSubmission", "parse_submission"]

MAX_EMAIL_LENGTH = MAX_ADDRESS_LENGTH

_ALLOWED_IN_MESSAGE = str.maketrans("", "", "\n\r\t")


# The rules, as plain functions: the validators below only route fields to them (and mutation testing,
# which cannot switch a decorated method, exercises them here).


def _trimmed(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _one_line(value: Any) -> Any:
    """Refuse a control character anywhere in ``value`` as sent (before any trimming)."""
    if isinstance(value, str):
        bad = control_character(value)
        if bad is not None:
            raise ValueError(f"must be a single line without control characters ({describe_character(bad)})")
    return value


def _none_if_empty(value: str | None) -> str | None:
    return value or None


def _message_text(value: str) -> str:
    # Line breaks and tabs are fine in a message; other control characters are not.
    if value.translate(_ALLOWED_IN_MESSAGE).isprintable():  # fast path in C
        return value
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _address(value: str) -> str:
    try:
        return normalize_address(value)
    except InvalidAddressError as exc:
        raise ValueError(f"must be a valid email address, like name@example.com ({exc})") from None


def _whole_number(value: Any) -> Any:
    # JSON has one number type: 1796418354000.0 and 1.7e12 are whole numbers. A fractional,
    # infinite or NaN float stays a float, and strict mode refuses it as "not a whole number".
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _consent(value: bool) -> bool:
    if value is not True:
        raise ValueError("you must agree to the processing of your data to send the form")
    return value


class ContactSubmission(BaseModel):
    """A validated submission. Strings are trimmed; ``subject`` is ``None`` when not given."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(min_length=1, max_length=100)
    email: str = Field(max_length=MAX_EMAIL_LENGTH)
    subject: str | None = Field(default=None, max_length=150)
    message: str = Field(min_length=10, max_length=5000)
    consent: bool
    #: The honeypot, as sent: any JSON value (a bot fills it with whatever it likes). It is never judged as a
    #: field — a 400 would tell a bot the field is checked — only by the spam rules
    #: (:func:`contact_sdk.security.spam.honeypot_filled`).
    website: Any = None
    form_started_at: int | None = Field(default=None, alias="formStartedAt", ge=0)
    #: The Cloudflare Turnstile widget's token (``cf-turnstile-response``); required only when Turnstile is on.
    turnstile_token: str | None = Field(default=None, alias="turnstileToken", max_length=2048)

    # Not the honeypot: people never see it, so any content in it -- whitespace included -- is a bot's.
    @field_validator("name", "message", "subject", "email", mode="before")
    @classmethod
    def _trim(cls, value: Any) -> Any:
        return _trimmed(value)

    # Defined after ``_trim`` on purpose: pydantic runs "before" validators last-defined first, so this
    # sees the value as sent — a trailing newline is refused, not trimmed away.
    @field_validator("name", "subject", "email", mode="before")
    @classmethod
    def _one_line_as_sent(cls, value: Any) -> Any:
        return _one_line(value)

    @field_validator("subject")
    @classmethod
    def _empty_subject_is_none(cls, value: str | None) -> str | None:
        return _none_if_empty(value)

    @field_validator("message")
    @classmethod
    def _message_has_no_odd_controls(cls, value: str) -> str:
        return _message_text(value)

    @field_validator("email")
    @classmethod
    def _email_is_valid(cls, value: str) -> str:
        return _address(value)

    @field_validator("form_started_at", mode="before")
    @classmethod
    def _whole_number_floats_are_whole(cls, value: Any) -> Any:
        return _whole_number(value)

    @field_validator("consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        return _consent(value)


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
            field_name = (
                str(location[0]) if location else "body"
            )  # pydantic reports aliases: formStartedAt, turnstileToken
            fields.setdefault(field_name[:64], _message_for(error))
        return None, fields
