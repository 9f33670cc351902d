"""Received (inbound) email: what arrives at the sandbox, and Resend's receiving endpoints over it.

A message arrives through ``ResendSandbox.receive(raw)`` or ``POST /_sandbox/receiving`` (the raw RFC 5322
message as the body): it is parsed with the standard library's ``email`` package, its attachments kept in the
:class:`AttachmentStore`, and the raw message served at ``/_sandbox/raw/{id}`` (the ``raw.download_url`` the Node
SDK's ``forward`` downloads).

===================================================================  ===============================================
``GET /emails/receiving``                                            newest first, cursor-paginated
``GET /emails/receiving/{email_id}``                                 one message (``html_format``: data_uri or cid)
``GET /emails/receiving/{email_id}/attachments``                     its attachments, with download URLs
``GET /emails/receiving/{email_id}/attachments/{attachment_id}``     one attachment
===================================================================  ===============================================

Ids are UUIDs (422 ``invalid_parameter`` otherwise); an unknown one is 404 ``not_found``.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from contact_sdk.devtools.sandbox.attachments import DOWNLOAD_TTL_SECONDS, AttachmentStore
from contact_sdk.devtools.sandbox.errors import ApiError, not_found
from contact_sdk.devtools.sandbox.exchange import Answer, ApiRequest, json_answer, pagination, require_uuid
from contact_sdk.devtools.sandbox.store import Clock, CursorError, iso_time, paginate

__all__ = ["ReceivedEmail", "ReceivingRoutes", "ReceivingStore"]


@dataclass(slots=True)
class ReceivedEmail:
    """One inbound message, parsed."""

    id: str
    raw: bytes
    created_at: float
    sender: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    reply_to: list[str]
    subject: str | None
    message_id: str
    html: str | None
    text: str | None
    headers: dict[str, str] = field(default_factory=dict)


def _addresses(message: EmailMessage, name: str) -> list[str]:
    return [address for _, address in getaddresses([str(v) for v in message.get_all(name, [])]) if address]


def parse_message(raw: bytes, email_id: str, now: float) -> tuple[ReceivedEmail, EmailMessage]:
    """The message in ``raw`` as a :class:`ReceivedEmail` (and the parsed message, for its attachments)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default always builds EmailMessage
        raise ApiError(400, "validation_error", "The body is not an email message.")
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    senders = _addresses(message, "from")
    return (
        ReceivedEmail(
            id=email_id,
            raw=raw,
            created_at=now,
            sender=senders[0] if senders else "",
            to=_addresses(message, "to"),
            cc=_addresses(message, "cc"),
            bcc=_addresses(message, "bcc"),
            reply_to=_addresses(message, "reply-to"),
            subject=str(message["subject"]) if message["subject"] is not None else None,
            message_id=str(message["message-id"] or f"<{email_id}@sandbox.resend.local>"),
            html=html_part.get_content() if isinstance(html_part, EmailMessage) else None,
            text=text_part.get_content() if isinstance(text_part, EmailMessage) else None,
            headers={name: str(value) for name, value in message.items()},
        ),
        message,
    )


def attachment_parts(message: EmailMessage) -> list[EmailMessage]:
    """Every part that is not a body: attachments, and inline parts (images a ``cid:`` in the HTML names).

    ``EmailMessage.iter_attachments`` looks only one level down, so an inline image inside
    ``multipart/related`` would be missed; this walks the whole tree.
    """
    bodies = {id(message.get_body(preferencelist=(kind,))) for kind in ("html", "plain")}
    return [
        part
        for part in message.walk()
        if isinstance(part, EmailMessage) and not part.is_multipart() and part is not message and id(part) not in bodies
    ]


class ReceivingStore:
    """Received emails in arrival order, their attachments in the shared :class:`AttachmentStore`."""

    def __init__(self, clock: Clock, attachments: AttachmentStore) -> None:
        """An empty store."""
        self._clock = clock
        self._attachments = attachments
        self._lock = threading.Lock()
        self._emails: dict[str, ReceivedEmail] = {}

    def receive(self, raw: bytes) -> ReceivedEmail:
        """Take in one raw message; ``ApiError`` 400 when it is empty."""
        if not raw.strip():
            raise ApiError(400, "validation_error", "The message is empty.")
        email, message = parse_message(raw, str(uuid.uuid4()), self._clock())
        for part in attachment_parts(message):
            data = part.get_payload(decode=True)
            content_id = part.get("content-id")
            self._attachments.add_received(
                email.id,
                filename=part.get_filename(),
                content_type=part.get_content_type(),
                content_id=str(content_id).strip("<>") if content_id else None,
                inline=part.get_content_disposition() == "inline",
                data=data if isinstance(data, bytes) else b"",
            )
        with self._lock:
            self._emails[email.id] = email
        return email

    def get(self, email_id: str) -> ReceivedEmail | None:
        """One received email by id."""
        with self._lock:
            return self._emails.get(email_id)

    def newest_first(self) -> list[ReceivedEmail]:
        """Every received email, newest first."""
        with self._lock:
            return list(reversed(self._emails.values()))

    def clear(self) -> None:
        """Forget every received email."""
        with self._lock:
            self._emails.clear()


_CID = re.compile(r"""(["'(])cid:([^"')]+)(["')])""")


class ReceivingRoutes:
    """The receiving endpoints."""

    def __init__(self, store: ReceivingStore, attachments: AttachmentStore, clock: Clock, base_url: Callable[[], str]):
        """Handlers over ``store``; ``base_url`` is where the sandbox listens (for the raw download link)."""
        self._store = store
        self._attachments = attachments
        self._clock = clock
        self._base_url = base_url

    def _email(self, email_id: str) -> ReceivedEmail:
        require_uuid(email_id)
        email = self._store.get(email_id)
        if email is None:
            raise not_found("Email not found.")
        return email

    def _summary(self, email: ReceivedEmail) -> dict[str, object]:
        return {
            "id": email.id,
            "to": email.to,
            "from": email.sender,
            "subject": email.subject,
            "message_id": email.message_id,
            "bcc": email.bcc,
            "cc": email.cc,
            "reply_to": email.reply_to,
            "created_at": iso_time(email.created_at),
            "attachments": [a.summary() for a in self._attachments.of(email.id)],
        }

    def _inline_images(self, email: ReceivedEmail, html: str) -> str:
        """``cid:`` references as ``data:`` URIs (Resend's default ``html_format``)."""
        by_cid = {a.content_id: a for a in self._attachments.of(email.id) if a.content_id}

        def inline(match: re.Match[str]) -> str:
            found = by_cid.get(match.group(2))
            if found is None:
                return match.group(0)
            encoded = base64.b64encode(found.data).decode("ascii")
            return f"{match.group(1)}data:{found.content_type};base64,{encoded}{match.group(3)}"

        return _CID.sub(inline, html)

    def list(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``GET /emails/receiving``."""
        limit, after, before = pagination(request.query, default_limit=20)
        try:
            page, has_more = paginate(
                self._store.newest_first(), lambda e: e.id, limit=limit or 20, after=after, before=before
            )
        except CursorError as exc:
            raise ApiError(422, "validation_error", f"The cursor `{exc.args[0]}` matches no received email.") from None
        return json_answer(200, {"object": "list", "has_more": has_more, "data": [self._summary(e) for e in page]})

    def get(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``GET /emails/receiving/{email_id}``."""
        email = self._email(params["email_id"])
        html_format = request.query.get("html_format", "data_uri")
        if html_format not in ("data_uri", "cid"):
            raise ApiError(422, "validation_error", "The `html_format` parameter must be data_uri or cid.")
        html = email.html
        if html is not None and html_format == "data_uri":
            html = self._inline_images(email, html)
        return json_answer(
            200,
            {
                "object": "email",
                **self._summary(email),
                "html": html,
                "text": email.text,
                "headers": email.headers,
                "raw": {
                    "download_url": f"{self._base_url()}/_sandbox/raw/{email.id}",
                    "expires_at": iso_time(self._clock() + DOWNLOAD_TTL_SECONDS),
                },
            },
        )

    def list_attachments(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``GET /emails/receiving/{email_id}/attachments``."""
        email = self._email(params["email_id"])
        limit, after, before = pagination(request.query, default_limit=20)
        try:
            data, has_more = self._attachments.listing(email.id, limit=limit or 20, after=after, before=before)
        except CursorError as exc:
            raise ApiError(422, "validation_error", f"The cursor `{exc.args[0]}` matches no attachment.") from None
        return json_answer(200, {"object": "list", "has_more": has_more, "data": data})

    def get_attachment(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``GET /emails/receiving/{email_id}/attachments/{attachment_id}``."""
        email = self._email(params["email_id"])
        attachment_id = require_uuid(params["attachment_id"])
        found = next((a for a in self._attachments.of(email.id) if a.id == attachment_id), None)
        if found is None:
            raise not_found("Attachment not found.")
        return json_answer(200, self._attachments.detail(found))
