"""Turning a submission into the email (contract section 8) and its idempotency key.

Every user value is HTML-escaped in the HTML part; no user value reaches a header except the
validated ``reply_to`` address and the subject, both free of CR/LF by validation and again here.
The body is a pure function of the submission and the config — no timestamps, no request
ids — so the same submission always renders the same request and Resend's idempotency
recognises a repeat.

Example::

    email = compose_email(submission, config)
    key = idempotency_key(submission)
"""

from __future__ import annotations

import hashlib
import html
import json
import unicodedata
from typing import TYPE_CHECKING

from contact_sdk.config import ResendConfig
from contact_sdk.resend import OutgoingEmail

if TYPE_CHECKING:
    from contact_sdk.models import ContactSubmission

__all__ = ["SOURCE_TAG", "compose_email", "idempotency_key", "normalized_submission"]

SOURCE_TAG = ("source", "contact-form")


def _one_line(value: str) -> str:
    # Defence in depth: validation already refuses control characters in these fields.
    if value.isprintable():  # fast path in C: nothing to replace
        return value.strip()
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in value).strip()


def compose_email(submission: ContactSubmission, config: ResendConfig) -> OutgoingEmail:
    """The email for one submission, as the contract describes it."""
    name = _one_line(submission.name)
    subject = f"Contact Form: Message from {name}"
    if submission.subject:
        subject += f" — {_one_line(submission.subject)}"
    e = html.escape
    message_html = e(submission.message).replace("\r\n", "\n").replace("\n", "<br>\n")
    rows = [("Name", e(name)), ("Email", e(submission.email))]
    if submission.subject:
        rows.append(("Subject", e(_one_line(submission.subject))))
    table = "\n".join(
        f'<tr><th align="left" style="padding:4px 12px 4px 0">{label}</th><td>{value}</td></tr>'
        for label, value in rows
    )
    html_part = (
        "<!doctype html>\n<html><body>\n<h2>New Contact Form Submission</h2>\n"
        f"<table>\n{table}\n</table>\n"
        f'<h3>Message</h3>\n<div style="white-space:normal">{message_html}</div>\n'
        "</body></html>\n"
    )
    text_lines = [f"Name: {name}", f"Email: {submission.email}"]
    if submission.subject:
        text_lines.append(f"Subject: {_one_line(submission.subject)}")
    text_part = "\n".join([*text_lines, "", "Message:", submission.message, ""])
    return OutgoingEmail(
        sender=f"Contact Form <{config.from_email}>",
        to=(config.to_email,),
        subject=subject,
        html=html_part,
        text=text_part,
        reply_to=(submission.email,),
        tags=(SOURCE_TAG,),
    )


def normalized_submission(submission: ContactSubmission) -> dict[str, str]:
    """The fields that make two submissions "the same": trimmed, whitespace-folded, email lower-cased."""

    def fold(value: str | None) -> str:
        return " ".join(unicodedata.normalize("NFC", value or "").split())

    return {
        "name": fold(submission.name),
        "email": submission.email.strip().lower(),
        "subject": fold(submission.subject),
        "message": fold(submission.message),
    }


def idempotency_key(submission: ContactSubmission) -> str:
    """A stable ``Idempotency-Key`` for a submission (``contact-`` + 64 hex characters)."""
    canonical = json.dumps(normalized_submission(submission), sort_keys=True, ensure_ascii=False)
    return "contact-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
