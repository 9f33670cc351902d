"""The one deadline of a request: arithmetic on an injected clock, and the scope the bounded I/O reads."""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest

from contact_sdk.deadline import QUEUE_ALLOWANCE_SECONDS, Deadline, current, lambda_deadline, within


class Clock:
    """Seconds that move only when told to."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_deadline_counts_down_on_its_clock_and_never_below_zero() -> None:
    """4 s from t=100: 4 left, 1.5 left at t=102.5, none (not negative) at and after t=104."""
    clock = Clock()
    deadline = Deadline.after(4.0, clock=clock)
    assert (deadline.at, deadline.remaining(), deadline.expired()) == (104.0, 4.0, False)
    clock.now = 102.5
    assert (deadline.remaining(), deadline.allows(1.5), deadline.allows(1.6)) == (1.5, True, False)
    assert deadline.cap(10.0) == 1.5 and deadline.cap(0.2) == 0.2
    clock.now = 104.0
    assert (deadline.remaining(), deadline.expired(), deadline.allows(0.0)) == (0.0, True, True)
    clock.now = 110.0
    assert deadline.remaining() == 0.0


def test_no_deadline_allows_everything_and_caps_nothing() -> None:
    """Deadline.never(): unbounded, never expired, every cap is the call's own timeout."""
    deadline = Deadline.never(clock=Clock())
    assert not deadline.bounded
    assert deadline.remaining() == math.inf
    assert not deadline.expired()
    assert deadline.allows(10**9)
    assert deadline.cap(2.5) == 2.5
    assert deadline.extended(1.0) is deadline
    assert deadline.earliest(1.5).at == 101.5


def test_the_allowance_to_queue_and_answer_is_400_ms_past_the_deadline() -> None:
    """The contract allows 500 ms past the budget to queue and answer; keeping the submission may use 400."""
    assert QUEUE_ALLOWANCE_SECONDS == 0.4
    clock = Clock()
    extended = Deadline.after(4.0, clock=clock).extended(QUEUE_ALLOWANCE_SECONDS)
    assert extended.at == 104.4


def test_earliest_is_the_request_deadline_or_a_call_timeout_whichever_comes_first() -> None:
    """4 s left: a 1 s call timeout is earlier; 0.5 s left: the request's deadline is."""
    clock = Clock()
    deadline = Deadline.after(4.0, clock=clock)
    assert deadline.earliest(1.0).at == 101.0
    clock.now = 103.5
    assert deadline.earliest(1.0) is deadline


def test_keeping_a_share_holds_back_the_seconds_or_that_fraction_of_what_is_left() -> None:
    """4 s left, 1 s kept: ends at 103. At t=103.2, 0.8 s left: half of it (0.4 s) is less than 1 s, so it ends at
    103.6; a quarter (0.2 s) is less than 0.5 s, so 103.8. No deadline keeps nothing (worked out by hand)."""
    clock = Clock()
    deadline = Deadline.after(4.0, clock=clock)
    assert deadline.keeping(1.0, at_most=0.5).at == 103.0
    assert deadline.keeping(0.5, at_most=0.25).at == 103.5
    clock.now = 103.2
    kept = deadline.keeping(1.0, at_most=0.5)
    assert kept.at == pytest.approx(103.6) and kept.remaining() == pytest.approx(0.4)
    assert deadline.keeping(0.5, at_most=0.25).at == pytest.approx(103.8)
    clock.now = 104.5  # already past: nothing is left to keep a share of
    assert deadline.keeping(1.0, at_most=0.5).at == 104.0
    unbounded = Deadline.never(clock=clock)
    assert unbounded.keeping(1.0, at_most=0.5) is unbounded


def test_a_call_timeout_keeps_the_requests_clock() -> None:
    """The deadline ``earliest`` makes counts on the request's clock: 1 s left at 100, none at 101 (by hand)."""
    clock = Clock()  # reads 100.0, far from time.monotonic()
    call = Deadline.after(4.0, clock=clock).earliest(1.0)
    assert call.remaining() == 1.0
    clock.now = 100.25
    assert call.remaining() == 0.75 and not call.expired()
    clock.now = 101.0
    assert call.remaining() == 0.0 and call.expired()


def test_scopes_nest_and_the_innermost_is_in_force() -> None:
    """A scope with the allowance inside the request's scope lifts it; leaving restores the outer one."""
    clock = Clock()
    request = Deadline.after(4.0, clock=clock)
    assert current() is None
    with within(request) as outer:
        assert outer is request and current() is request
        with within(request.extended(0.4)):
            assert current() == Deadline(104.4, clock)
        with within(None):
            assert current() is request  # None leaves the scope as it is
        with within(Deadline.never(clock=clock)):
            assert current() is None  # an unbounded deadline lifts it
        assert current() is request
    assert current() is None


def test_a_scope_belongs_to_its_thread() -> None:
    """Another thread does not see this thread's deadline (each request has its own)."""
    seen: list[Deadline | None] = []
    with within(Deadline.after(1.0)):
        thread = threading.Thread(target=lambda: seen.append(current()))
        thread.start()
        thread.join()
    assert seen == [None]


# -- the Lambda's own deadline ----------------------------------------------------------------


class Context:
    """A Lambda context reporting ``remaining`` milliseconds."""

    def __init__(self, remaining: Any) -> None:
        self.remaining = remaining

    def get_remaining_time_in_millis(self) -> Any:
        return self.remaining


def test_the_deadline_is_the_remaining_time_minus_the_margin_on_the_clients_clock() -> None:
    """30 s left and a 3 s margin: provider work must stop 27 s from now on the given clock."""
    deadline = lambda_deadline(Context(30_000), margin_ms=3000, clock=lambda: 100.0)
    assert deadline is not None
    assert (deadline.at, deadline.remaining()) == (127.0, 27.0)


def test_a_nearly_spent_lambda_gives_a_deadline_of_now_not_in_the_past() -> None:
    """Less time left than the margin: the deadline is now, so no attempt starts."""
    deadline = lambda_deadline(Context(1_000), margin_ms=3000, clock=lambda: 100.0)
    assert deadline is not None
    assert (deadline.at, deadline.expired()) == (100.0, True)


def test_without_a_usable_context_there_is_no_deadline() -> None:
    """No context, or one whose remaining time is not a number: None (the client's own limits apply)."""
    assert lambda_deadline(None, margin_ms=3000, clock=lambda: 0.0) is None
    assert lambda_deadline(Context("soon"), margin_ms=3000, clock=lambda: 0.0) is None
