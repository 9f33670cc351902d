"""Clocks for the tests (:class:`contact_sdk.clock.Clock`): real time without real waits, or time moved by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RecordingClock:
    """Real time; ``sleep`` records the wait and returns at once, so a retry schedule is checked, not waited out."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Record the wait."""
        self.sleeps.append(seconds)


class ManualClock:
    """Epoch-like seconds that move only when a test says so (or, with ``advance_on_sleep``, by ``sleep``).

    Callable too (``clock()`` is :meth:`time`), for the parts that take a plain function, such as the sandbox.
    """

    def __init__(self, start: float = 1_000_000.0, *, advance_on_sleep: bool = False) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.advance_on_sleep = advance_on_sleep
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def time(self) -> float:
        """The clock's seconds."""
        return self()

    def monotonic(self) -> float:
        """The same seconds: the clock never goes back."""
        return self()

    def sleep(self, seconds: float) -> None:
        """Record the wait; move time by it when ``advance_on_sleep``."""
        self.sleeps.append(seconds)
        if self.advance_on_sleep:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self.now += seconds

    def advance_to(self, when: float) -> None:
        """Move time forward to ``when`` (never back)."""
        with self._lock:
            self.now = max(self.now, when)


class StackClock:
    """A test stack's clock: ``now`` (a function of seconds, real time by default) for both readings; every
    ``sleep`` recorded in ``sleeps`` and not waited, so a retry schedule is checked without waiting it out."""

    def __init__(self, now: Callable[[], float] | None = None, sleeps: list[float] | None = None) -> None:
        self._now = now
        self.sleeps: list[float] = [] if sleeps is None else sleeps

    def time(self) -> float:
        """``now()``, or seconds since the epoch."""
        return self._now() if self._now is not None else time.time()

    def monotonic(self) -> float:
        """``now()``, or monotonic seconds."""
        return self._now() if self._now is not None else time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Record the wait."""
        self.sleeps.append(seconds)
