"""Tests for the circuit breaker (``contact_sdk.breaker``), driven by an injected clock, never by sleeping."""

from __future__ import annotations

import threading

import pytest

from contact_sdk.breaker import ProviderBreaker
from contact_sdk.errors import (
    CircuitOpenError,
    ConcurrentIdempotentRequestError,
    ConfigUnavailableError,
    IdempotencyConflictError,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderQuotaError,
    ProviderRateLimitedError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
)


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock for one breaker."""
    return FakeClock()


@pytest.fixture
def changes() -> list[tuple[str | None, str]]:
    """The (old, new) state changes a listener received."""
    return []


@pytest.fixture
def breaker(clock: FakeClock, changes: list[tuple[str | None, str]]) -> ProviderBreaker:
    """A breaker with the service's settings (5 failures, 60 s, 3 successes) and a recording listener."""
    return ProviderBreaker(clock=clock, on_state_change=lambda old, new: changes.append((old, new)))


def fail(breaker: ProviderBreaker, error: ProviderError | None = None, times: int = 1) -> None:
    """Record ``times`` admitted calls that failed with ``error`` (a 500 by default)."""
    for _ in range(times):
        breaker.record(breaker.admit(), error or ProviderServerError("down", status=500))


def succeed(breaker: ProviderBreaker, times: int = 1) -> None:
    """Record ``times`` admitted calls that succeeded."""
    for _ in range(times):
        breaker.record(breaker.admit(), None)


def test_starts_closed_and_admits() -> None:
    """A new breaker is closed and lets calls through as non-trial calls."""
    breaker = ProviderBreaker()
    assert breaker.state == "closed"
    assert breaker.admit().trial is False
    assert breaker.seconds_until_half_open() == 0


def test_opens_after_five_consecutive_failures(breaker: ProviderBreaker) -> None:
    """Four failures keep it closed; the fifth opens it."""
    fail(breaker, times=4)
    assert (breaker.state, breaker.fail_counter) == ("closed", 4)
    fail(breaker)
    assert breaker.state == "open"


def test_a_success_resets_the_consecutive_count(breaker: ProviderBreaker) -> None:
    """Failures must be consecutive: a success in between starts the count again."""
    fail(breaker, times=4)
    succeed(breaker)
    fail(breaker, times=4)
    assert breaker.state == "closed"


@pytest.mark.parametrize(
    "error",
    [
        ProviderServerError("x", status=500),
        ProviderServerError("x", status=503),
        ProviderTimeoutError("x"),
        ProviderConnectionError("x"),
        ProviderRateLimitedError("x", status=429, name="rate_limit_exceeded", retry_after=1.0),
    ],
)
def test_transient_failures_count(breaker: ProviderBreaker, error: ProviderError) -> None:
    """5xx, timeouts, connection errors and 429 rate limits each count towards opening."""
    fail(breaker, error, times=5)
    assert breaker.state == "open"


NEUTRAL = [
    ProviderRequestError("x", status=422, name="validation_error"),
    ProviderRequestError("x", status=400, name="validation_error"),
    ProviderAuthError("x", status=401, name="missing_api_key"),
    ProviderAuthError("x", status=403, name="invalid_api_key"),
    ProviderQuotaError("x", status=429, name="daily_quota_exceeded"),
    IdempotencyConflictError("x", status=409, name="invalid_idempotent_request"),
    ConcurrentIdempotentRequestError("x", status=409, name="concurrent_idempotent_requests"),
    ConfigUnavailableError("Parameter Store unreachable"),
]


@pytest.mark.parametrize("error", NEUTRAL)
def test_validation_auth_and_quota_errors_do_not_count(breaker: ProviderBreaker, error: Exception) -> None:
    """Validation, auth, quota and idempotency answers (and our own errors) never open the breaker."""
    for _ in range(20):
        breaker.record(breaker.admit(), error)
    assert (breaker.state, breaker.fail_counter) == ("closed", 0)


@pytest.mark.parametrize("error", NEUTRAL)
def test_a_neutral_outcome_does_not_reset_the_consecutive_count(breaker: ProviderBreaker, error: Exception) -> None:
    """pybreaker would count an excluded error as a success; here 4 failures + a 422/401 + 1 failure open it."""
    fail(breaker, times=4)
    breaker.record(breaker.admit(), error)
    assert breaker.fail_counter == 4
    fail(breaker)
    assert breaker.state == "open"


def test_a_neutral_trial_is_no_verdict(breaker: ProviderBreaker, clock: FakeClock) -> None:
    """In half-open a trial ending in a 422 neither closes nor reopens: the next trial may go at once."""
    fail(breaker, times=5)
    clock.now += 60
    for _ in range(5):  # five neutral trials would be five "successes" to pybreaker: closed after three
        breaker.record(breaker.admit(), NEUTRAL[0])
    assert breaker.state == "half-open"
    succeed(breaker, times=2)
    assert breaker.state == "half-open"
    succeed(breaker)
    assert breaker.state == "closed"


def test_open_refuses_with_the_time_left(breaker: ProviderBreaker, clock: FakeClock) -> None:
    """While open, ``admit`` raises CircuitOpenError with the seconds until the next trial."""
    fail(breaker, times=5)
    clock.now += 15
    with pytest.raises(CircuitOpenError) as caught:
        breaker.admit()
    assert caught.value.retry_after == pytest.approx(45)
    assert breaker.seconds_until_half_open() == pytest.approx(45)


def test_half_opens_after_60_seconds_and_closes_after_3_successes(
    breaker: ProviderBreaker, clock: FakeClock, changes: list[tuple[str | None, str]]
) -> None:
    """At 59.9 s it still refuses; at 60 s one trial is admitted; three successful trials close it."""
    fail(breaker, times=5)
    clock.now += 59.9
    with pytest.raises(CircuitOpenError):
        breaker.admit()
    clock.now += 0.1
    assert breaker.seconds_until_half_open() == 0
    for expected_state in ("half-open", "half-open", "closed"):
        ticket = breaker.admit()
        assert ticket.trial is True
        breaker.record(ticket, None)
        assert breaker.state == expected_state
    assert changes == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]


def test_half_open_lets_one_trial_through_at_a_time(breaker: ProviderBreaker, clock: FakeClock) -> None:
    """While a trial is in flight, other calls are refused; once it is recorded the next may go."""
    fail(breaker, times=5)
    clock.now += 60
    ticket = breaker.admit()
    with pytest.raises(CircuitOpenError, match="trial"):
        breaker.admit()
    breaker.record(ticket, None)
    assert breaker.admit().trial is True


def test_a_failed_trial_reopens_for_another_60_seconds(
    breaker: ProviderBreaker, clock: FakeClock, changes: list[tuple[str | None, str]]
) -> None:
    """A failing trial reopens the breaker and the 60 s count starts again from that moment."""
    fail(breaker, times=5)
    clock.now += 60
    succeed(breaker)
    fail(breaker)
    assert breaker.state == "open"
    assert breaker.seconds_until_half_open() == pytest.approx(60)
    assert changes[-1] == ("half-open", "open")
    clock.now += 60
    assert breaker.admit().trial is True


def test_outcomes_of_calls_in_flight_when_it_opened_are_ignored(breaker: ProviderBreaker) -> None:
    """A call admitted while closed that finishes after the breaker opened changes nothing."""
    late = breaker.admit()
    fail(breaker, times=5)
    breaker.record(late, None)
    assert breaker.state == "open"


def test_listener_errors_never_break_a_call(clock: FakeClock) -> None:
    """A listener that raises is logged and ignored; the breaker still opens."""

    def broken(old: str | None, new: str) -> None:
        raise RuntimeError("listener bug")

    breaker = ProviderBreaker(clock=clock, on_state_change=broken)
    fail(breaker, times=5)
    assert breaker.state == "open"


def test_state_changes_are_logged(breaker: ProviderBreaker, caplog: pytest.LogCaptureFixture) -> None:
    """Opening logs a warning naming the breaker and the transition."""
    fail(breaker, times=5)
    assert "circuit breaker resend: closed -> open" in caplog.text


def test_reset_closes_and_forgets(breaker: ProviderBreaker, changes: list[tuple[str | None, str]]) -> None:
    """``reset`` closes an open breaker, tells the listener, and the failure count starts from zero."""
    fail(breaker, times=5)
    breaker.reset()
    assert (breaker.state, breaker.fail_counter) == ("closed", 0)
    assert changes[-1] == ("open", "closed")
    fail(breaker, times=4)
    assert breaker.state == "closed"


def test_settings_are_configurable(clock: FakeClock) -> None:
    """fail_max, reset_timeout and success_threshold come from the constructor."""
    breaker = ProviderBreaker(fail_max=2, reset_timeout=10, success_threshold=1, clock=clock)
    fail(breaker, times=2)
    assert breaker.state == "open"
    assert breaker.reset_timeout == 10
    clock.now += 10
    succeed(breaker)
    assert breaker.state == "closed"


def test_admit_does_not_hold_a_lock_during_the_call(breaker: ProviderBreaker) -> None:
    """Between admit and record no lock is held: another thread can admit and record meanwhile."""
    ticket = breaker.admit()
    done = threading.Event()

    def other() -> None:
        succeed(breaker)
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert done.wait(timeout=5)
    thread.join()
    breaker.record(ticket, None)
