"""A dependency that just failed or overran is remembered, so the requests that follow skip it for a while.

One :class:`DependencyGuard` per dependency (DynamoDB, Parameter Store, Cloudflare's siteverify) in
each execution environment. It is a small circuit breaker with a short memory::

    healthy ──a failure──► skipping ──skip_seconds──► probing ──success──► healthy
                              ▲                          │
                              └─────────failure──────────┘  (and the next skip is twice as long,
                                                              up to max_skip_seconds)

A *failure* is what says the dependency is slow or down: a call cut by its timeout, or by the
request's deadline after it had a fair share of time (half a second), a connection that could not be
made, a 5xx, throttling. An answer the dependency gave in time (a failed condition, a missing item) is not one.
While skipping, every call is refused at once (:meth:`admit` returns ``None``) and the caller takes
its documented degraded path (``docs/guarantees.md``); after ``skip_seconds`` exactly one call goes
through as a probe while the others keep skipping, so a dependency that came back is found within
seconds and one that did not costs one request its timeout, not every request.

The memory is per execution environment (a Lambda instance), not fleet-wide: each instance pays for
one probe per skip period, which is what a probe is for. The SQS outbox is never skipped (a durable
copy is worth the wait; its calls are still bounded), so it has no guard.

Example::

    guard = DependencyGuard("dynamodb")
    admission = guard.admit()
    if admission is None:
        ...                      # degraded path, at once
    else:
        try:
            call()
        except TimeoutError:
            guard.failed(admission)
            raise
        guard.succeeded(admission)
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Admission", "DependencyGuard", "GuardState"]

logger = logging.getLogger(__name__)


class GuardState(enum.StrEnum):
    """Where a guard stands."""

    HEALTHY = "healthy"
    SKIPPING = "skipping"
    PROBING = "probing"


@dataclass(frozen=True, slots=True)
class Admission:
    """Permission for one call; hand it back to :meth:`DependencyGuard.succeeded`, ``failed`` or ``release``."""

    probe: bool


class DependencyGuard:
    """Skips a dependency for ``skip_seconds`` after a failure, then lets one probe find it back.

    ``on_change(name, old, new)`` is told every change of state (for the log); it must not block.
    """

    def __init__(
        self,
        name: str,
        *,
        skip_seconds: float = 5.0,
        max_skip_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, GuardState, GuardState], None] | None = None,
    ) -> None:
        if not 0 < skip_seconds <= max_skip_seconds:
            raise ValueError("skip_seconds must be positive and at most max_skip_seconds")
        self.name = name
        self.skip_seconds = skip_seconds
        self.max_skip_seconds = max_skip_seconds
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = GuardState.HEALTHY
        self._skip_until = 0.0
        self._next_skip = skip_seconds

    @property
    def state(self) -> GuardState:
        """``healthy``, ``skipping`` (and for how long: :meth:`seconds_skipped`) or ``probing``."""
        with self._lock:
            return self._state

    def seconds_skipped(self) -> float:
        """How long calls are still skipped (0 unless skipping)."""
        with self._lock:
            if self._state != GuardState.SKIPPING:
                return 0.0
            return max(0.0, self._skip_until - self._clock())

    def admit(self) -> Admission | None:
        """Permission for one call, or ``None``: skip the dependency now."""
        with self._lock:
            if self._state == GuardState.HEALTHY:
                return Admission(probe=False)
            if self._state == GuardState.PROBING or self._clock() < self._skip_until:
                return None
            self._move(GuardState.PROBING)
            return Admission(probe=True)

    def succeeded(self, admission: Admission) -> None:
        """The call was answered in time: the dependency is healthy (a probe ends the skipping)."""
        with self._lock:
            if admission.probe or self._state == GuardState.HEALTHY:
                self._next_skip = self.skip_seconds
                self._move(GuardState.HEALTHY)

    def failed(self, admission: Admission) -> None:
        """The call overran or could not be made: skip the dependency for a while.

        A failed probe doubles the next skip (up to ``max_skip_seconds``); a failure of a call that was
        admitted before the skipping began changes nothing more.
        """
        with self._lock:
            if self._state == GuardState.SKIPPING and not admission.probe:
                return
            if self._state == GuardState.PROBING and not admission.probe:
                return  # an older call's verdict; the probe decides
            skip = self._next_skip
            self._next_skip = min(skip * 2, self.max_skip_seconds)
            self._skip_until = self._clock() + skip
            self._move(GuardState.SKIPPING)

    def release(self, admission: Admission) -> None:
        """The admitted call was never sent (no time was left): a probe hands its turn to the next call."""
        with self._lock:
            if admission.probe and self._state == GuardState.PROBING:
                self._skip_until = self._clock()
                self._move(GuardState.SKIPPING)

    def reset(self) -> None:
        """Forget every failure (a SnapStart restore: a new process, new connections)."""
        with self._lock:
            self._next_skip = self.skip_seconds
            self._move(GuardState.HEALTHY)

    def _move(self, new: GuardState) -> None:
        old, self._state = self._state, new
        if old != new and self._on_change is not None:
            try:
                self._on_change(self.name, old, new)
            except Exception:  # a listener must never break a call
                logger.exception("dependency guard listener failed")
