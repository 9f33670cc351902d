"""The inbox page at ``GET /``: the emails the sandbox received, newest first, everything escaped.

Each email's HTML part is shown in ``<iframe sandbox srcdoc="...">``: the empty ``sandbox``
attribute gives the frame a unique origin with no scripts, forms or navigation, and the page's
own Content-Security-Policy (see :data:`PAGE_HEADERS`) blocks remote loads such as tracking
pixels. The page refreshes itself every few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from contact_sdk.devtools.sandbox.store import EmailRecord, iso_time
from contact_sdk.devtools.sandbox.validation import address_list

__all__ = ["PAGE_HEADERS", "REFRESH_SECONDS", "render_inbox"]

#: How often the page reloads itself.
REFRESH_SECONDS = 3
#: Headers sent with the page: no scripts anywhere, inline styles only, frames from srcdoc only.
PAGE_HEADERS: dict[str, str] = {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; "
        "base-uri 'none'; form-action 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
article { border: 1px solid #ccc; border-radius: 6px; padding: 1rem; margin-bottom: 1.5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
iframe { width: 100%; height: 320px; border: 1px solid #ddd; background: #fff; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .5rem; }
.empty { color: #777; }
"""


def render_inbox(emails: Sequence[EmailRecord], *, title: str = "Resend sandbox") -> str:
    """The whole page for ``emails`` (given oldest first; shown newest first)."""
    articles = "\n".join(_render_email(email) for email in reversed(emails))
    body = articles or '<p class="empty">No emails received yet.</p>'
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>{escape(title)}</h1><p>{len(emails)} email(s), newest first. "
        f"Refreshes every {REFRESH_SECONDS} s. Nothing here was sent to anyone.</p>\n{body}\n</body></html>\n"
    )


def _render_email(email: EmailRecord) -> str:
    body = email.body
    rows = [
        ("Subject", _text(body.get("subject"))),
        ("From", _text(body.get("from"))),
        ("To", ", ".join(address_list(body.get("to")))),
        ("Cc", ", ".join(address_list(body.get("cc")))),
        ("Reply-To", ", ".join(address_list(body.get("reply_to")))),
        ("Received", iso_time(email.created_at)),
        ("Id", email.id),
        ("Idempotency-Key", email.headers.get("idempotency-key", "")),
        ("Last event", email.last_event),
    ]
    details = "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in rows if value)
    parts = [f"<article><dl>{details}</dl>"]
    html_part = body.get("html")
    if isinstance(html_part, str):
        parts.append(
            "<h3>HTML part</h3>"
            f'<iframe sandbox="" referrerpolicy="no-referrer" title="HTML part of {escape(email.id)}" '
            f'srcdoc="{escape(html_part, quote=True)}"></iframe>'
        )
    text_part = body.get("text")
    if isinstance(text_part, str):
        parts.append(f"<h3>Text part</h3><pre>{escape(text_part)}</pre>")
    parts.append("</article>")
    return "".join(parts)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
