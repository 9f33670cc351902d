"""A circuit breaker around provider calls that never serialises them, shared by the fleet when it can be.

pybreaker decides for one execution environment (consecutive-failure counting, the open/half-open/closed
state machine, ``success_threshold``, listeners), but its ``CircuitBreaker.call`` holds an ``RLock`` for
the whole wrapped call: in a threaded server every concurrent send would wait for the one before
it. So the network call runs outside any lock, in three steps:

1. :meth:`ProviderBreaker.admit` — refuse while open, move to half-open when the reset timeout
   has passed, and in half-open let one trial call through at a time;
2. the caller does the HTTP request, unlocked;
3. :meth:`ProviderBreaker.record` — count the outcome.

**What counts.** Only transient failures say the provider is unwell: 5xx, timeouts, connection
errors, ``429 rate_limit_exceeded`` (:func:`counts_as_failure`). Every other outcome — a validation
or auth refusal, an exhausted quota, ``409`` idempotency answers, an error of our own — is
*neutral*: it neither counts towards opening nor resets the consecutive count, and a half-open trial
that ends that way is no verdict (the next trial goes). pybreaker would count such an excluded error
as a *success* (``_handle_error`` calls ``_handle_success`` for it, which resets the failure count and
counts towards ``success_threshold`` in half-open), so neutral outcomes are never replayed into it.

**Fleet-wide** (``store``: the service's DynamoDB table, :mod:`contact_sdk.breaker_store`). Every
environment reads the one breaker item, cached for ``cache_seconds`` (1 s) while it shows no failures
or an opening (a view with failures counted is read afresh on every call), so an opening is seen
everywhere within about a second and every environment then skips the provider and queues at once.
Failures, the opening, the half-open trial's lease and the successes that close it are conditional
writes to that item, so the thresholds (5 consecutive failures, 60 s open, 3 consecutive successful
trials) hold across the fleet, exactly one environment probes at a time in half-open, and only the
environment whose write opened the breaker reports the change to ``on_state_change`` (so
``CircuitOpened`` counts each opening once). If the table cannot be asked, this environment's own
pybreaker decides alone (seeded with the last state read), a warning is logged once, and the table
is asked again after ``table_retry_seconds``.

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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pybreaker

from contact_sdk.breaker_store import DynamoDBBreakerStore, SharedBreakerState
from contact_sdk.errors import CircuitOpenError, TransientProviderError

__all__ = ["BreakerTicket", "ProviderBreaker", "counts_as_failure"]

logger = logging.getLogger(__name__)

CLOSED = pybreaker.STATE_CLOSED
OPEN = pybreaker.STATE_OPEN
HALF_OPEN = pybreaker.STATE_HALF_OPEN


def counts_as_failure(outcome: BaseException | None) -> bool:
    """Whether a call's outcome says the provider is unwell: a transient failure (5xx, timeout,
    connection error, ``429`` rate limit). ``409 concurrent_idempotent_requests`` is transient but
    about our own key, not the provider's health, so it does not count."""
    return isinstance(outcome, TransientProviderError) and outcome.counts_against_provider


@dataclass(frozen=True, slots=True)
class BreakerTicket:
    """Permission for one call; hand it back to :meth:`ProviderBreaker.record`."""

    trial: bool
    #: Admitted on the fleet-wide state (else on this environment's own breaker).
    shared: bool = False
    #: For a fleet-wide trial: the opening it probes, its lease, and the successful trials before it.
    generation: int = 0
    lease: str | None = None
    successes: int = 0


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

    ``on_state_change(old, new)`` is called on every transition this breaker makes, with pybreaker's
    state names (``"closed"``, ``"open"``, ``"half-open"``); it must not block. Fleet-wide, that is the
    transitions this environment's writes made (opening, a failed trial reopening, the closing trial);
    half-open, reached by time, is not reported.

    ``clock`` (monotonic) times the local breaker and the cache; ``wall_clock`` (epoch seconds)
    stamps the shared item, whose times every environment compares.
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
        store: DynamoDBBreakerStore | None = None,
        wall_clock: Callable[[], float] = time.time,
        cache_seconds: float = 1.0,
        lease_seconds: float = 30.0,
        table_retry_seconds: float = 30.0,
    ) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self._on_change = on_state_change
        self._lock = threading.Lock()
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._quiet = False
        self._store = store
        self._cache_seconds = cache_seconds
        self._lease_seconds = lease_seconds
        self._table_retry_seconds = table_retry_seconds
        self._view: SharedBreakerState | None = None
        self._view_read_at = 0.0
        self._table_retry_at: float | None = None
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            success_threshold=success_threshold,
            exclude=[lambda exc: not counts_as_failure(exc)],
            listeners=[_StateListener(self)],
            name=name,
            throw_new_error_on_trip=False,
        )

    # -- what it says ----------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"`` (fleet-wide when the table answers)."""
        view = self._shared_view()
        if view is None:
            return self._local_state()
        if view.phase != OPEN:
            return CLOSED
        return HALF_OPEN if view.half_open(self._wall_clock(), self.reset_timeout) else OPEN

    @property
    def fail_counter(self) -> int:
        """Consecutive failures counted so far (fleet-wide when the table answers)."""
        view = self._shared_view()
        return int(self._breaker.fail_counter) if view is None else view.failures

    @property
    def name(self) -> str:
        """The breaker's name (``"resend"``), in its log lines and its table item's key."""
        return str(self._breaker.name)

    @property
    def reset_timeout(self) -> float:
        """Seconds the breaker stays open before letting a trial call through."""
        return float(self._breaker.reset_timeout)

    @property
    def fleet_wide(self) -> bool:
        """Whether decisions come from the shared table now (configured and answering)."""
        with self._lock:
            return self._store is not None and self._table_retry_at is None

    def seconds_until_half_open(self) -> float:
        """How long until a trial call may go through (0 when not open)."""
        view = self._shared_view()
        if view is not None:
            if view.phase != OPEN:
                return 0.0
            return max(0.0, view.opened_at + self.reset_timeout - self._wall_clock())
        with self._lock:
            if self._local_state() != OPEN or self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self.reset_timeout - self._clock())

    # -- admit and record ------------------------------------------------------------------------

    def admit(self) -> BreakerTicket:
        """Permission for one call, or :class:`CircuitOpenError` without touching the network."""
        view, store = self._shared_view(), self._store
        if view is None or store is None:
            return self._admit_local()
        if view.phase != OPEN:
            return BreakerTicket(trial=False, shared=True)
        now = self._wall_clock()
        remaining = view.opened_at + self.reset_timeout - now
        if remaining > 0:
            raise CircuitOpenError(
                f"circuit open: the provider failed repeatedly; next trial in {remaining:.0f} s", retry_after=remaining
            )
        if view.lease_token is not None and view.lease_until > now:
            raise CircuitOpenError("circuit half-open: a trial call is already in flight", retry_after=1.0)
        token = uuid.uuid4().hex
        try:
            leased = store.acquire_lease(
                now,
                generation=view.generation,
                token=token,
                reset_timeout=self.reset_timeout,
                lease_seconds=self._lease_seconds,
            )
        except Exception as exc:  # noqa: BLE001 - whatever the table does, a send goes on
            self._table_down(exc)
            return self._admit_local()
        if leased is None:  # another environment's trial, or the state moved on: read it afresh next time
            self._forget_view()
            raise CircuitOpenError("circuit half-open: a trial call is already in flight", retry_after=1.0)
        self._remember(leased)
        return BreakerTicket(
            trial=True, shared=True, generation=leased.generation, lease=token, successes=leased.successes
        )

    def record(self, ticket: BreakerTicket, outcome: BaseException | None) -> None:
        """Count one finished call: ``outcome`` is the error it ended with, or ``None`` on success."""
        if ticket.shared:
            self._record_shared(ticket, outcome)
        else:
            self._record_local(ticket, outcome)

    def reset(self) -> None:
        """Close the breaker and forget failures (operators, tests); with the table, for the whole fleet."""
        with self._lock:
            self._trial_in_flight = False
            self._breaker.close()
        if self._store is None:
            return
        try:
            self._store.reset(self._wall_clock())
        except Exception as exc:  # noqa: BLE001 - whatever the table does, a send goes on
            self._table_down(exc)
            return
        self._remember(SharedBreakerState())

    # -- this environment alone ------------------------------------------------------------------

    def _local_state(self) -> str:
        return str(self._breaker.current_state)

    def _admit_local(self) -> BreakerTicket:
        with self._lock:
            state = self._local_state()
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

    def _record_local(self, ticket: BreakerTicket, outcome: BaseException | None) -> None:
        with self._lock:
            if ticket.trial:
                self._trial_in_flight = False
            if outcome is not None and not counts_as_failure(outcome):
                return  # neutral: pybreaker would count it as a success
            state = self._local_state()
            if state == OPEN or (state == HALF_OPEN and not ticket.trial):
                return  # in flight when the breaker changed state: its verdict is already in
            try:
                self._breaker.call(_replay, outcome)
            except BaseException as exc:
                if exc is not outcome:
                    raise

    def _on_state_change(self, old: str | None, new: str) -> None:
        # Called by pybreaker inside record()/admit()/reset(), i.e. under our lock already.
        if new == OPEN:
            self._opened_at = self._clock()
        if not self._quiet:
            self._announce(old, new)

    def _announce(self, old: str | None, new: str, where: str = "") -> None:
        logger.warning("circuit breaker %s: %s -> %s%s", self._breaker.name, old, new, where)
        if self._on_change is not None:
            try:
                self._on_change(old, new)
            except Exception:  # a listener must never break a send
                logger.exception("circuit breaker listener failed")

    # -- the fleet -------------------------------------------------------------------------------

    def _record_shared(self, ticket: BreakerTicket, outcome: BaseException | None) -> None:
        store = self._store
        if store is None or (ticket.trial and ticket.lease is None):  # pragma: no cover - admit never makes one
            self._record_local(ticket, outcome)
            return
        failure = counts_as_failure(outcome)
        neutral = outcome is not None and not failure
        now = self._wall_clock()
        state: SharedBreakerState | None
        try:
            if ticket.trial:
                if neutral:
                    state = store.release_lease(now, token=str(ticket.lease))
                elif failure:
                    state = store.trial_failed(
                        now, generation=ticket.generation, token=str(ticket.lease), reset_timeout=self.reset_timeout
                    )
                    if state is not None:
                        self._announce(HALF_OPEN, OPEN, " (fleet-wide)")
                else:
                    state = store.trial_succeeded(
                        now,
                        generation=ticket.generation,
                        token=str(ticket.lease),
                        successes_before=ticket.successes,
                        success_threshold=int(self._breaker.success_threshold),
                    )
                    if state is not None and state.phase != OPEN:
                        self._announce(HALF_OPEN, CLOSED, " (fleet-wide)")
            elif neutral:
                return
            elif failure:
                state = store.add_failure(now)
                if state is not None and state.failures >= self._breaker.fail_max:
                    state = store.open(now, fail_max=int(self._breaker.fail_max), reset_timeout=self.reset_timeout)
                    if state is not None:
                        self._announce(CLOSED, OPEN, " (fleet-wide)")
            else:
                with self._lock:
                    counted = self._view.failures if self._view is not None else 1
                if counted == 0:
                    return  # nothing to clear (as of a read at most cache_seconds old): no write
                state = store.clear_failures(now)
        except Exception as exc:  # noqa: BLE001 - whatever the table does, a send goes on
            self._table_down(exc)
            self._record_local(BreakerTicket(trial=False), outcome)
            return
        if state is None:
            self._forget_view()  # a condition failed: the item moved on; read it afresh next time
        else:
            self._remember(state)

    def _shared_view(self) -> SharedBreakerState | None:
        """The shared state, at most ``cache_seconds`` old; ``None`` when there is no table or it is down."""
        if self._store is None:
            return None
        now = self._clock()
        with self._lock:
            retry_at = self._table_retry_at
            if retry_at is not None and 0 < retry_at - now <= self._table_retry_seconds:
                return None
            view = self._view
            # A view with failures counted is read afresh on every call: the fifth failure anywhere is
            # seen at once by an environment already counting. Closed-and-healthy or open: at most
            # cache_seconds old.
            # 0 <= age: a clock that went back (a SnapStart restore) must not keep an old view forever.
            fresh = view is not None and 0 <= now - self._view_read_at < self._cache_seconds
            if view is not None and fresh and (view.phase == OPEN or view.failures == 0):
                return view
        try:
            view = self._store.read()
        except Exception as exc:  # noqa: BLE001 - whatever the table does, a send goes on
            self._table_down(exc)
            return None
        with self._lock:
            recovered = self._table_retry_at is not None
            self._table_retry_at = None
            self._view, self._view_read_at = view, self._clock()
        if recovered:
            logger.warning(
                "circuit breaker %s: the shared state answers again; deciding fleet-wide", self._breaker.name
            )
        return view

    def _remember(self, view: SharedBreakerState) -> None:
        with self._lock:
            self._view, self._view_read_at = view, self._clock()

    def _forget_view(self) -> None:
        with self._lock:
            self._view = None

    def _table_down(self, exc: Exception) -> None:
        """Decide alone until ``table_retry_seconds`` have passed; warn once per outage, not per request."""
        with self._lock:
            first = self._table_retry_at is None
            self._table_retry_at = self._clock() + self._table_retry_seconds
            if first:
                self._seed_local(self._view)
            self._view = None
        if first:
            logger.warning(
                "circuit breaker %s: the shared state in DynamoDB is unavailable; this instance decides alone "
                "and asks again every %.0f s",
                self._breaker.name,
                self._table_retry_seconds,
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )

    def _seed_local(self, view: SharedBreakerState | None) -> None:
        """Start the local breaker from the last shared state read (under our lock), reporting nothing:
        the fleet already counted that opening."""
        self._quiet = True
        try:
            self._trial_in_flight = False
            self._breaker.close()
            if view is not None and view.phase == OPEN:
                self._breaker.open()
                self._opened_at = self._clock() - max(0.0, self._wall_clock() - view.opened_at)
        finally:
            self._quiet = False
