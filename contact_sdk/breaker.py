"""A circuit breaker around provider calls that never serialises them.

pybreaker decides (consecutive-failure counting, the open/half-open/closed state machine,
``success_threshold``, listeners), but its ``CircuitBreaker.call`` holds an ``RLock`` for the
whole wrapped call: in a threaded server every concurrent send would wait for the one before
it. So the network call runs outside any lock, in three steps:

1. :meth:`ProviderBreaker.admit` — a short critical section: refuse while open (by our injected
   clock), move to half-open when the reset timeout has passed, and in half-open let one trial
   call through at a time.
2. the caller does the HTTP request, unlocked;
3. :meth:`ProviderBreaker.record` — a short critical section that replays the outcome through
   ``pybreaker.CircuitBreaker.call`` with a function that returns or raises at once, so
   pybreaker's own rules count it.

Outcomes of calls that were in flight when the breaker opened are ignored: the breaker already
knows the provider is down.

Example::

    breaker = ProviderBreaker(on_state_change=lambda old, new: print(old, "->", new))
    ticket = breaker.admit()            # raises CircuitOpenError while open
    try:
        response = do_request()
    except ProviderError as exc:
        breaker.record(ticket, exc)
        raise
    breaker.record(ticket, None)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pybreaker

from contact_sdk.errors import CircuitOpenError, ProviderError

__all__ = ["BreakerTicket", "ProviderBreaker"]

logger = logging.getLogger(__name__)

CLOSED = pybreaker.STATE_CLOSED
OPEN = pybreaker.STATE_OPEN
HALF_OPEN = pybreaker.STATE_HALF_OPEN


@dataclass(frozen=True, slots=True)
class BreakerTicket:
    """Permission for one call; hand it back to :meth:`ProviderBreaker.record`."""

    trial: bool


def _replay(outcome: BaseException | None) -> None:
    if outcome is not None:
        raise outcome


class _StateListener(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: ProviderBreaker) -> None:
        self._owner = owner

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        self._owner._on_state_change(old_state.name if old_state else None, new_state.name)


class ProviderBreaker:
    """Opens after ``fail_max`` consecutive failures, stays open ``reset_timeout`` seconds,
    closes after ``success_threshold`` consecutive successes in half-open.

    ``on_state_change(old, new)`` is called on every transition with pybreaker's state names
    (``"closed"``, ``"open"``, ``"half-open"``); it must not block.
    """

    def __init__(
        self,
        *,
        fail_max: int = 5,
        reset_timeout: float = 60.0,
        success_threshold: int = 3,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: Callable[[str | None, str], None] | None = None,
        name: str = "resend",
    ) -> None:
        self._clock = clock
        self._on_change = on_state_change
        self._lock = threading.Lock()
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            success_threshold=success_threshold,
            exclude=[lambda exc: isinstance(exc, ProviderError) and not exc.counts_against_provider],
            listeners=[_StateListener(self)],
            name=name,
            throw_new_error_on_trip=False,
        )

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        return str(self._breaker.current_state)

    @property
    def fail_counter(self) -> int:
        """Consecutive failures counted so far."""
        return int(self._breaker.fail_counter)

    @property
    def reset_timeout(self) -> float:
        """Seconds the breaker stays open before letting a trial call through."""
        return float(self._breaker.reset_timeout)

    def seconds_until_half_open(self) -> float:
        """How long until a trial call may go through (0 when not open)."""
        with self._lock:
            if self.state != OPEN or self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self.reset_timeout - self._clock())

    def admit(self) -> BreakerTicket:
        """Permission for one call, or :class:`CircuitOpenError` without touching the network."""
        with self._lock:
            state = self.state
            if state == OPEN:
                opened_at = self._opened_at if self._opened_at is not None else self._clock()
                remaining = opened_at + self.reset_timeout - self._clock()
                if remaining > 0:
                    raise CircuitOpenError(
                        f"circuit open: the provider failed repeatedly; next trial in {remaining:.0f} s",
                        retry_after=remaining,
                    )
                self._breaker.half_open()
                state = HALF_OPEN
            if state == HALF_OPEN:
                if self._trial_in_flight:
                    raise CircuitOpenError("circuit half-open: a trial call is already in flight", retry_after=1.0)
                self._trial_in_flight = True
                return BreakerTicket(trial=True)
            return BreakerTicket(trial=False)

    def record(self, ticket: BreakerTicket, outcome: BaseException | None) -> None:
        """Count one finished call: ``outcome`` is the error it ended with, or ``None`` on success."""
        with self._lock:
            if ticket.trial:
                self._trial_in_flight = False
            state = self.state
            if state == OPEN or (state == HALF_OPEN and not ticket.trial):
                return  # in flight when the breaker changed state: its verdict is already in
            try:
                self._breaker.call(_replay, outcome)
            except BaseException as exc:
                if exc is not outcome:
                    raise

    def reset(self) -> None:
        """Close the breaker and forget failures (operators, tests, SnapStart restore)."""
        with self._lock:
            self._trial_in_flight = False
            self._breaker.close()

    def _on_state_change(self, old: str | None, new: str) -> None:
        # Called by pybreaker inside record()/admit()/reset(), i.e. under our lock already.
        if new == OPEN:
            self._opened_at = self._clock()
        logger.warning("circuit breaker %s: %s -> %s", self._breaker.name, old, new)
        if self._on_change is not None:
            try:
                self._on_change(old, new)
            except Exception:  # a listener must never break a send
                logger.exception("circuit breaker listener failed")
