"""How time passes for the service: one object, so a test or a simulation can move it instead of waiting.

Everything in the runtime that keeps time takes a :class:`Clock`: epoch seconds for what is compared with
timestamps (CSRF token expiry, rate-limit windows, records, the quota reset), a monotonic reading for
intervals (deadlines, the breaker's timers, retry waits), and ``sleep`` for the waits themselves.
:data:`SYSTEM_CLOCK` is the real one; a simulation passes its own (the day-long outage test runs 24 hours
in a second with one).

Example::

    build_components(settings)                      # SYSTEM_CLOCK
    build_components(settings, clock=simulated)     # anything with time(), monotonic() and sleep()
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


class Clock(Protocol):
    """A time source and a way to wait."""

    def time(self) -> float:
        """Seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never goes backwards (for intervals)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock: :func:`time.time`, :func:`time.monotonic`, :func:`time.sleep`."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep."""
        time.sleep(seconds)


#: The one real clock.
SYSTEM_CLOCK: Clock = SystemClock()
