"""What both SDK call matrices share: a world of sandbox state made over plain HTTP, and the judge.

:class:`World` makes what a call needs (an email with attachments, a scheduled one, a received message, a
domain, a claim, an API key) through ``httpx``, never through the SDK under test, so a call is judged by
something it did not build. :meth:`World.judge` checks the last answer against Resend's OpenAPI description
read strictly (:mod:`tests.sandbox.openapi_reference`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx

from contact_sdk.devtools.sandbox import ResendSandbox
from tests.sandbox.conftest import ManualClock
from tests.sandbox.openapi_reference import problems

__all__ = ["ATTACHMENT_BYTES", "INLINE_BYTES", "RAW_MESSAGE", "World", "email_params"]

ATTACHMENT_BYTES = b"%PDF-1.4 invoice\n"
INLINE_BYTES = b"\x89PNG\r\n\x1a\nlogo"

#: One inbound message: text and HTML bodies, an inline image the HTML refers to by cid, a PDF attachment.
RAW_MESSAGE = (
    b"From: Alice Visitor <alice@example.org>\r\n"
    b"To: inbox@example.com\r\n"
    b"Cc: team@example.com\r\n"
    b"Reply-To: alice.replies@example.org\r\n"
    b"Subject: Question about my order\r\n"
    b"Message-ID: <order-42@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/related; boundary="related"\r\n'
    b"\r\n"
    b"--related\r\n"
    b'Content-Type: multipart/alternative; boundary="alt"\r\n'
    b"\r\n"
    b"--alt\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Where is order 42?\r\n"
    b"--alt\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b'<p>Where is order 42?</p><img src="cid:logo@example.org">\r\n'
    b"--alt--\r\n"
    b"--related\r\n"
    b"Content-Type: image/png\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-ID: <logo@example.org>\r\n"
    b'Content-Disposition: inline; filename="logo.png"\r\n'
    b"\r\n" + base64.b64encode(INLINE_BYTES) + b"\r\n"
    b"--related--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="invoice.pdf"\r\n'
    b"\r\n" + base64.b64encode(ATTACHMENT_BYTES) + b"\r\n"
    b"--outer--\r\n"
)


def email_params(**overrides: object) -> dict[str, Any]:
    """A valid send body (Resend's field names), with ``overrides``."""
    return {
        "from": "Site <noreply@example.com>",
        "to": ["delivered@resend.dev"],
        "subject": "From the matrix",
        "html": "<p>hello</p>",
        **overrides,
    }


class World:
    """State for one call, made over HTTP with the sandbox's own key; and the judge of the call's answer."""

    def __init__(self, sandbox: ResendSandbox, clock: ManualClock) -> None:
        """Talk to ``sandbox``, whose clock is ``clock``."""
        self.sandbox = sandbox
        self.clock = clock
        self.http = httpx.Client(
            base_url=sandbox.url,
            headers={"Authorization": f"Bearer {sandbox.api_key}", "User-Agent": "matrix-world"},
            timeout=10,
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request that must succeed; its JSON."""
        answer = self.http.request(method, path, **kwargs)
        assert answer.is_success, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    # -- things a call needs ------------------------------------------------------------------

    def email(self, **overrides: object) -> str:
        """A sent email's id."""
        return str(self.ok("POST", "/emails", json=email_params(**overrides))["id"])

    def scheduled(self) -> str:
        """An email scheduled an hour ahead."""
        return self.email(scheduled_at="in 1 hour")

    def email_with_attachments(self) -> tuple[str, list[dict[str, Any]]]:
        """An email sent with a PDF attachment and an inline image; its id and its attachments as listed."""
        email_id = self.email(
            attachments=[
                {"filename": "invoice.pdf", "content": base64.b64encode(ATTACHMENT_BYTES).decode()},
                {"filename": "logo.png", "content": list(INLINE_BYTES), "content_id": "logo"},
            ]
        )
        return email_id, self.ok("GET", f"/emails/{email_id}/attachments")["data"]

    def received(self) -> tuple[str, list[dict[str, Any]]]:
        """The id of :data:`RAW_MESSAGE` once received, and its attachments as listed."""
        created = self.ok("POST", "/_sandbox/receiving", content=RAW_MESSAGE)
        email_id = str(created["id"])
        return email_id, self.ok("GET", f"/emails/receiving/{email_id}/attachments")["data"]

    def domain(self, name: str, **settings: object) -> str:
        """A new domain's id."""
        return str(self.ok("POST", "/domains", json={"name": name, **settings})["id"])

    def claim(self, name: str) -> str:
        """The placeholder domain id of a new claim."""
        return str(self.ok("POST", "/domains/claim", json={"name": name})["domain_id"])

    def api_key(self, name: str, **settings: object) -> tuple[str, str]:
        """A new key's id and token."""
        created = self.ok("POST", "/api-keys", json={"name": name, **settings})
        return str(created["id"]), str(created["token"])

    def status_with(self, token: str, method: str, path: str, **kwargs: Any) -> tuple[int, str | None]:
        """Status and error name of one request made with another key."""
        answer = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        name = answer.json().get("name") if not answer.is_success else None
        return answer.status_code, name

    # -- the judge ----------------------------------------------------------------------------

    def last_call(self) -> Mapping[str, Any]:
        """The last request the sandbox's API answered (method, path, status)."""
        return self.sandbox.requests()[-1]

    def judge(self, body: object, *, drop: tuple[str, ...] = ()) -> None:
        """``body`` is what the last request answered and is shaped as Resend's description says.

        ``drop`` names keys an SDK adds of its own (the Python SDK's ``http_headers``).
        """
        last = self.last_call()
        assert 200 <= int(last["status"]) < 300, last
        if isinstance(body, dict):
            body = {key: value for key, value in body.items() if key not in drop}
        found = problems(str(last["method"]), str(last["path"]), int(last["status"]), body)
        assert not found, "\n".join(found)
