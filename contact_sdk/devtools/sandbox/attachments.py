"""Attachments of sent and received emails, as ``/emails/{id}/attachments`` and the receiving API list them.

An email sent with ``attachments`` keeps each one with ``content`` decoded (base64 text or a list of bytes):
its size, content type (given, or guessed from the file name), content id and disposition (``inline`` when it
has a content id). One given by ``path`` is listed with size 0: the sandbox fetches nothing. Each has a
``download_url`` on the sandbox itself (``/_sandbox/attachments/{id}``), valid for an hour of the sandbox clock.

Example::

    store = AttachmentStore(clock, base_url=lambda: "http://127.0.0.1:8025")
    store.add_sent(email_id, [{"filename": "a.txt", "content": "aGk="}])
    store.listing(email_id)[0]["size"]        # 2
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from contact_sdk.devtools.sandbox.store import Clock, iso_time, paginate

__all__ = ["DOWNLOAD_TTL_SECONDS", "AttachmentStore", "StoredAttachment"]

#: How long a download URL stays valid.
DOWNLOAD_TTL_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    """One attachment of one email."""

    id: str
    email_id: str
    filename: str | None
    content_type: str
    content_id: str | None
    disposition: str
    data: bytes

    def summary(self) -> dict[str, object]:
        """As a received email's ``attachments`` list shows it (no download link)."""
        described: dict[str, object] = {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "content_disposition": self.disposition,
            "size": len(self.data),
        }
        if self.content_id is not None:
            described["content_id"] = self.content_id
        return described


def _decode(content: object) -> bytes:
    if isinstance(content, list):
        return bytes(int(b) for b in content)
    if isinstance(content, str):
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            return content.encode("utf-8")
    return b""


class AttachmentStore:
    """Every attachment the sandbox holds, by email."""

    def __init__(self, clock: Clock, *, base_url: Callable[[], str]) -> None:
        """An empty store; ``base_url`` is where the sandbox listens (for the download links)."""
        self._clock = clock
        self._base_url = base_url
        self._lock = threading.Lock()
        self._by_email: dict[str, list[StoredAttachment]] = {}
        self._by_id: dict[str, StoredAttachment] = {}

    def _keep(self, attachment: StoredAttachment) -> None:
        with self._lock:
            self._by_email.setdefault(attachment.email_id, []).append(attachment)
            self._by_id[attachment.id] = attachment

    def add_sent(self, email_id: str, attachments: Sequence[Any]) -> None:
        """Keep the ``attachments`` of a sent email (already validated)."""
        for item in attachments:
            filename = item.get("filename")
            content_type = item.get("content_type") or (
                mimetypes.guess_type(str(filename or item.get("path") or ""))[0] or "application/octet-stream"
            )
            content_id = item.get("content_id")
            self._keep(
                StoredAttachment(
                    id=str(uuid.uuid4()),
                    email_id=email_id,
                    filename=filename if isinstance(filename, str) else None,
                    content_type=str(content_type),
                    content_id=content_id if isinstance(content_id, str) else None,
                    disposition="inline" if isinstance(content_id, str) else "attachment",
                    data=_decode(item.get("content")),
                )
            )

    def add_received(
        self,
        email_id: str,
        *,
        filename: str | None,
        content_type: str,
        content_id: str | None,
        inline: bool,
        data: bytes,
    ) -> StoredAttachment:
        """Keep one attachment of a received email."""
        attachment = StoredAttachment(
            str(uuid.uuid4()), email_id, filename, content_type, content_id, "inline" if inline else "attachment", data
        )
        self._keep(attachment)
        return attachment

    def of(self, email_id: str) -> list[StoredAttachment]:
        """The attachments of one email, in order."""
        with self._lock:
            return list(self._by_email.get(email_id, ()))

    def get(self, attachment_id: str) -> StoredAttachment | None:
        """One attachment by id (for its download)."""
        with self._lock:
            return self._by_id.get(attachment_id)

    def detail(self, attachment: StoredAttachment) -> dict[str, object]:
        """``RetrievedAttachment``: the summary with ``object``, a download URL and when it expires."""
        return {
            "object": "attachment",
            **attachment.summary(),
            "download_url": f"{self._base_url()}/_sandbox/attachments/{attachment.id}",
            "expires_at": iso_time(self._clock() + DOWNLOAD_TTL_SECONDS),
        }

    def listing(
        self, email_id: str, *, limit: int = 20, after: str | None = None, before: str | None = None
    ) -> tuple[list[dict[str, object]], bool]:
        """One page of an email's attachments (in attachment order), with download URLs."""
        found, has_more = paginate(self.of(email_id), lambda a: a.id, limit=limit, after=after, before=before)
        return [{k: v for k, v in self.detail(a).items() if k != "object"} for a in found], has_more

    def clear(self) -> None:
        """Forget every attachment."""
        with self._lock:
            self._by_email.clear()
            self._by_id.clear()
