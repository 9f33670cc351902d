"""``POST /emails/{email_id}/share``: a link anyone can open to read one sent or received email, for a while.

``expires_in`` is a duration like ``10m``, ``2 hours`` or ``1 day`` (default and most: 48 hours; anything
longer or unreadable is 422 ``validation_error``). The link is the sandbox's own page,
``/_sandbox/shared?token=...``, which shows the email until the link expires by the sandbox clock, then
answers 410.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from contact_sdk.devtools.sandbox.errors import ApiError, not_found
from contact_sdk.devtools.sandbox.exchange import Answer, ApiRequest, json_answer, json_object
from contact_sdk.devtools.sandbox.store import Clock

__all__ = ["MAX_SHARE_SECONDS", "ShareRoutes", "parse_duration"]

#: The longest a link may live.
MAX_SHARE_SECONDS = 48 * 3600
_DURATION = re.compile(
    r"^\s*(\d+)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)\s*$",
    re.IGNORECASE,
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int | None:
    """Seconds in ``10m``, ``2 hours``, ``1 day`` ...; ``None`` if unreadable."""
    match = _DURATION.match(text)
    if match is None:
        return None
    unit = match.group(2).lower()
    return int(match.group(1)) * _UNITS["m" if unit.startswith("mi") or unit == "m" else unit[0]]


@dataclass(frozen=True, slots=True)
class _Link:
    email_id: str
    expires_at: float


class ShareRoutes:
    """Share links: created by the API, opened on the sandbox's page."""

    def __init__(self, clock: Clock, *, base_url: Callable[[], str], exists: Callable[[str], bool]) -> None:
        """``exists`` says whether an email id is one the sandbox holds (sent or received)."""
        self._clock = clock
        self._base_url = base_url
        self._exists = exists
        self._lock = threading.Lock()
        self._links: dict[str, _Link] = {}

    def share(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``POST /emails/{email_id}/share``."""
        email_id = params["email_id"]
        if not self._exists(email_id):
            raise not_found("Email not found.")
        payload = json_object(request.body, empty=True)
        expires_in = payload.get("expires_in", "48h")
        seconds = parse_duration(expires_in) if isinstance(expires_in, str) else None
        if seconds is None or not 0 < seconds <= MAX_SHARE_SECONDS:
            message = "The `expires_in` field must be a duration like `10m`, `2 hours` or `1 day`, at most 48 hours."
            raise ApiError(422, "validation_error", message)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._links[token] = _Link(email_id, self._clock() + seconds)
        return json_answer(
            200, {"object": "email", "id": email_id, "url": f"{self._base_url()}/_sandbox/shared?token={token}"}
        )

    def shared_email(self, token: str) -> str | None:
        """The email id a live link shows; ``None`` for an unknown or expired link."""
        with self._lock:
            link = self._links.get(token)
        if link is None or self._clock() >= link.expires_at:
            return None
        return link.email_id
