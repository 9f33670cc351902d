"""The inbox page at ``GET /``: newest first, everything escaped, the HTML part in a sandboxed frame."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import httpx
import pytest

pytestmark = pytest.mark.integration

Email = Callable[..., dict[str, object]]


def test_page_escapes_a_script_subject_and_frames_the_html_part(client: httpx.Client, email: Email):
    """A ``<script>`` subject is shown as text and the HTML part only inside ``<iframe sandbox srcdoc>``."""
    hostile = "<img src=x onerror=alert(1)>\"'&"
    client.post(
        "/emails",
        json=email(subject="<script>alert('s')</script>", html=hostile, text="<b>plain</b>", reply_to="r@example.org"),
    )
    page = client.get("/").text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;s&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;plain&lt;/b&gt;" in page
    assert "r@example.org" in page
    [srcdoc] = re.findall(r'<iframe sandbox="" [^>]*srcdoc="([^"]*)"', page)
    assert html.unescape(srcdoc) == hostile
    assert "<img" not in page


def test_page_lists_newest_first_and_refreshes(client: httpx.Client, email: Email):
    """Emails appear newest first; the page reloads itself and forbids scripts by CSP."""
    client.post("/emails", json=email(subject="older"))
    client.post("/emails", json=email(subject="newer"))
    response = client.get("/")
    assert response.text.index("newer") < response.text.index("older")
    assert '<meta http-equiv="refresh"' in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["content-type"].startswith("text/html")
