"""When a scheduled email is due: Resend's ``scheduled_at`` (ISO 8601 or ``in 1 hour``) as epoch seconds.

Resend accepts an ISO 8601 timestamp (``2024-08-05T11:52:01.858Z``; one without an offset is read
as UTC here) or natural language such as ``in 1 min``. The sandbox understands the relative form
``in <N> <second|minute|min|hour|day|week>[s]`` and reads "now" from its injected clock, so a test
moves a scheduled email to ``sent`` by advancing the clock, without waiting.

Example::

    due_epoch("2024-08-05T11:52:01Z", now=0.0)   # 1722858721.0
    due_epoch("in 2 hours", now=100.0)           # 7300.0
    due_epoch("next tuesday", now=0.0)           # None: not understood
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["due_epoch"]

_RELATIVE = re.compile(r"^in\s+(\d+)\s+(second|minute|min|hour|day|week)s?$", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "min": 60, "hour": 3600, "day": 86400, "week": 604800}


def due_epoch(value: str, *, now: float) -> float | None:
    """Epoch seconds at which ``value`` falls due (``in N unit`` counts from ``now``); ``None`` if unreadable."""
    text = value.strip()
    if match := _RELATIVE.match(text):
        return now + int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
