"""Validation of ``POST /emails`` bodies, as Resend's API does it; pure functions, no I/O.

Type and shape mistakes answer 422 ``validation_error``; a missing ``from``/``to``/``subject``
answers 422 ``missing_required_field``; a malformed sender answers 422 ``invalid_from_address``;
well-typed but unacceptable values (a tag with spaces, an unreadable ``scheduled_at``) answer
422 ``invalid_parameter``; a broken attachment answers 422 ``invalid_attachment``.

A top-level field the API does not describe (``replyTo``, ``fromEmail``...) is ignored, as Resend
ignores it. With ``strict=True`` (the sandbox's ``--strict``) it is refused with 422
``validation_error`` instead, so a camelCase slip in a client shows up in tests rather than as a
reply-to that never arrives.

Example::

    validate_email({"from": "Site <noreply@example.com>", "to": "me@example.com", "subject": "Hi"})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contact_sdk.addresses import is_valid_address
from contact_sdk.devtools.sandbox.errors import ApiError
from contact_sdk.text import control_character

__all__ = [
    "BATCH_LIMIT",
    "RECIPIENT_LIMIT",
    "SEND_FIELDS",
    "address_list",
    "bare_address",
    "validate_batch",
    "validate_email",
]

#: Top-level fields of Resend's ``SendEmailRequest``.
SEND_FIELDS: frozenset[str] = frozenset(
    {
        "from",
        "to",
        "subject",
        "bcc",
        "cc",
        "reply_to",
        "html",
        "text",
        "template",
        "headers",
        "scheduled_at",
        "attachments",
        "tags",
        "topic_id",
    }
)
#: Most recipients one email may have in ``to``.
RECIPIENT_LIMIT = 50
#: Most emails one ``POST /emails/batch`` may carry.
BATCH_LIMIT = 100

_ADDRESS = r"[^\s@<>\",;]+@[^\s@<>\",;]+"
_BARE = re.compile(rf"^\s*({_ADDRESS})\s*$")
_NAMED = re.compile(rf"^\s*[^<>]*?\s*<({_ADDRESS})>\s*$")
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_RELATIVE = re.compile(r"^in\s+\d+\s+(second|minute|min|hour|day|week)s?$", re.IGNORECASE)
_ADDRESS_FORMAT = "The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."


def bare_address(value: str) -> str | None:
    """The ``email@x`` inside ``email@x`` or ``Name <email@x>``; ``None`` if it is neither.

    The address itself must pass the service's own rule (:func:`contact_sdk.addresses.is_valid_address`),
    and no control character may appear anywhere in the value (a line break in a display name is
    a header injection however the address looks).
    """
    if control_character(value) is not None:
        return None
    match = _BARE.match(value) or _NAMED.match(value)
    if match is None or not is_valid_address(match.group(1)):
        return None
    return match.group(1)


def address_list(value: object) -> list[str]:
    """A ``to``/``cc``/``bcc``/``reply_to`` value (string or list) as a list; absent is empty."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def validate_email(body: object, *, batch: bool = False, where: str = "", strict: bool = False) -> dict[str, Any]:
    """Check one email request; return it unchanged, or raise :class:`ApiError` the way Resend would.

    ``batch`` refuses the fields Resend's batch endpoint does not support; ``where`` prefixes
    messages (``"emails[3]: "``) so a batch error names the email it is about; ``strict`` refuses
    unknown top-level fields, which Resend (and the sandbox by default) ignores.
    """
    if not isinstance(body, dict):
        raise _invalid(where, "The request body must be a JSON object.")
    unknown = sorted(set(body) - SEND_FIELDS)
    if unknown and strict:
        raise _invalid(where, f"Unknown field `{unknown[0]}`. Fields are snake_case: {', '.join(sorted(SEND_FIELDS))}.")
    for required in ("from", "to", "subject"):
        if body.get(required) is None:
            raise ApiError(422, "missing_required_field", f"{where}Missing `{required}` field.")

    sender = body["from"]
    if not isinstance(sender, str):
        raise _invalid(where, "Invalid `from` field: expected a string.")
    if bare_address(sender) is None:
        raise ApiError(422, "invalid_from_address", f"{where}Invalid `from` field. {_ADDRESS_FORMAT}")
    _check_addresses(body["to"], "to", where, minimum=1, maximum=RECIPIENT_LIMIT)
    if not isinstance(body["subject"], str):
        raise _invalid(where, "Invalid `subject` field: expected a string.")
    for name in ("cc", "bcc", "reply_to"):
        if body.get(name) is not None:
            _check_addresses(body[name], name, where, minimum=0, maximum=RECIPIENT_LIMIT)
    for name in ("html", "text", "topic_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise _invalid(where, f"Invalid `{name}` field: expected a string.")
    if body.get("headers") is not None:
        _check_headers(body["headers"], where)
    if body.get("tags") is not None:
        _check_tags(body["tags"], where)
    if body.get("template") is not None:
        _check_template(body, where)
    if body.get("scheduled_at") is not None:
        if batch:
            raise _invalid(where, "The `scheduled_at` field is not supported on the batch endpoint.")
        _check_scheduled_at(body["scheduled_at"], where)
    if body.get("attachments") is not None:
        if batch:
            raise _invalid(where, "The `attachments` field is not supported on the batch endpoint.")
        _check_attachments(body["attachments"], where)
    return body


def validate_batch(
    body: object, *, permissive: bool = False, strict: bool = False
) -> tuple[list[int], list[dict[str, object]]]:
    """Check a batch body: returns (indexes of valid emails, per-index errors).

    In strict mode (Resend's default) the first invalid email raises; with
    ``x-batch-validation: permissive`` invalid emails are reported and the rest sent.
    """
    if not isinstance(body, list):
        raise ApiError(422, "validation_error", "The request body must be a JSON array of emails.")
    if not 1 <= len(body) <= BATCH_LIMIT:
        raise ApiError(422, "validation_error", f"A batch carries between 1 and {BATCH_LIMIT} emails.")
    valid: list[int] = []
    errors: list[dict[str, object]] = []
    for index, item in enumerate(body):
        try:
            validate_email(item, batch=True, where=f"emails[{index}]: ", strict=strict)
        except ApiError as exc:
            if not permissive:
                raise
            errors.append({"index": index, "message": exc.message})
        else:
            valid.append(index)
    return valid, errors


def _invalid(where: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", f"{where}{message}")


def _check_addresses(value: object, name: str, where: str, *, minimum: int, maximum: int) -> None:
    items: list[object] = [value] if isinstance(value, str) else value if isinstance(value, list) else [None]
    if not isinstance(value, str | list) or not all(isinstance(item, str) for item in items):
        raise _invalid(where, f"Invalid `{name}` field: expected a string or a list of strings.")
    if not minimum <= len(items) <= maximum:
        raise _invalid(where, f"Invalid `{name}` field: between {minimum} and {maximum} addresses are accepted.")
    for item in items:
        if bare_address(str(item)) is None:
            raise _invalid(where, f"Invalid `{name}` field. {_ADDRESS_FORMAT}")


def _check_headers(value: object, where: str) -> None:
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise _invalid(where, "Invalid `headers` field: expected an object of string values.")


def _check_tags(value: object, where: str) -> None:
    if not isinstance(value, list):
        raise _invalid(where, "Invalid `tags` field: expected a list of {name, value} objects.")
    for tag in value:
        if not isinstance(tag, dict) or not isinstance(tag.get("name"), str):
            raise _invalid(where, "Invalid `tags` field: each tag is an object with a string `name`.")
        if "value" in tag and not isinstance(tag["value"], str):
            raise _invalid(where, "Invalid `tags` field: a tag `value` must be a string.")
        for part in ("name", "value"):
            if part in tag and not _TAG.match(tag[part]):
                raise ApiError(
                    422,
                    "invalid_parameter",
                    f"{where}Tag {part}s can only contain ASCII letters (a–z, A–Z), numbers (0–9), "
                    "underscores (_), or dashes (-), and no more than 256 characters.",
                )


def _check_template(body: Mapping[str, Any], where: str) -> None:
    template = body["template"]
    if not isinstance(template, dict) or not isinstance(template.get("id"), str):
        raise _invalid(where, "Invalid `template` field: expected an object with a string `id`.")
    variables = template.get("variables")
    if variables is not None and (
        not isinstance(variables, dict)
        or not all(isinstance(item, str | int | float) and not isinstance(item, bool) for item in variables.values())
    ):
        raise _invalid(where, "Invalid `template.variables` field: expected an object of strings and numbers.")
    if body.get("html") is not None or body.get("text") is not None:
        raise _invalid(where, "The `template` field cannot be combined with `html` or `text`.")


def _check_scheduled_at(value: object, where: str) -> None:
    if not isinstance(value, str):
        raise _invalid(where, "Invalid `scheduled_at` field: expected a string.")
    if _RELATIVE.match(value.strip()):
        return
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422,
            "invalid_parameter",
            f"{where}Invalid `scheduled_at` field: use ISO 8601 (2024-08-05T11:52:01.858Z) or `in 1 hour`.",
        ) from None


def _check_attachments(value: object, where: str) -> None:
    if not isinstance(value, list):
        raise _invalid(where, "Invalid `attachments` field: expected a list of objects.")
    for attachment in value:
        if not isinstance(attachment, dict):
            raise ApiError(422, "invalid_attachment", f"{where}Each attachment must be an object.")
        content, path = attachment.get("content"), attachment.get("path")
        content_ok = isinstance(content, str) or (
            isinstance(content, list) and all(isinstance(byte, int) and 0 <= byte < 256 for byte in content)
        )
        if content is None and not isinstance(path, str):
            raise ApiError(422, "invalid_attachment", f"{where}Attachment must have either a `content` or `path`.")
        if content is not None and not content_ok:
            raise ApiError(422, "invalid_attachment", f"{where}Attachment `content` must be base64 text or bytes.")
        if content is not None and not isinstance(attachment.get("filename"), str):
            raise ApiError(422, "invalid_attachment", f"{where}Attachment with `content` needs a `filename`.")
