"""The per-dependency guard: every move of its state machine on an injected clock, and every refused one."""

from __future__ import annotations

import logging

import pytest

from contact_sdk.degraded import Admission, DependencyGuard, GuardState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def changes() -> list[tuple[str, GuardState, GuardState]]:
    return []


@pytest.fixture
def guard(clock: Clock, changes: list[tuple[str, GuardState, GuardState]]) -> DependencyGuard:
    return DependencyGuard("dynamodb", clock=clock, on_change=lambda *change: changes.append(change))


def test_a_healthy_dependency_admits_every_call(guard: DependencyGuard) -> None:
    """Healthy: every call is admitted, none of them a probe; successes change nothing."""
    for _ in range(3):
        admission = guard.admit()
        assert admission == Admission(probe=False)
        guard.succeeded(admission)
    assert guard.state == GuardState.HEALTHY


def test_a_failure_skips_the_dependency_for_5_seconds_then_one_probe_goes(guard: DependencyGuard, clock: Clock) -> None:
    """After a failure: skipped for 5 s; at 5 s exactly one probe; the others keep skipping until it reports."""
    guard.failed(guard.admit())  # type: ignore[arg-type]
    assert guard.state == GuardState.SKIPPING
    assert guard.seconds_skipped() == 5.0
    clock.now = 4.99
    assert guard.admit() is None
    clock.now = 5.0
    probe = guard.admit()
    assert probe == Admission(probe=True)
    assert guard.state == GuardState.PROBING
    assert [guard.admit() for _ in range(3)] == [None, None, None]
    guard.succeeded(probe)  # type: ignore[arg-type]
    assert guard.state == GuardState.HEALTHY
    assert guard.admit() == Admission(probe=False)


def test_failed_probes_double_the_skip_up_to_30_seconds_and_a_success_resets_it(
    guard: DependencyGuard, clock: Clock
) -> None:
    """Skips of 5, 10, 20, 30, 30 s while probes fail; after a good probe the next skip is 5 s again."""
    guard.failed(guard.admit())  # type: ignore[arg-type]
    skips = [guard.seconds_skipped()]
    for _ in range(4):
        clock.now += skips[-1]
        probe = guard.admit()
        assert probe is not None and probe.probe
        guard.failed(probe)
        skips.append(guard.seconds_skipped())
    assert skips == [5.0, 10.0, 20.0, 30.0, 30.0]
    clock.now += 30.0
    guard.succeeded(guard.admit())  # type: ignore[arg-type]
    guard.failed(guard.admit())  # type: ignore[arg-type]
    assert guard.seconds_skipped() == 5.0


def test_late_verdicts_of_calls_admitted_before_do_not_move_the_state(guard: DependencyGuard, clock: Clock) -> None:
    """A call admitted while healthy that fails during the skip, or during the probe, changes nothing."""
    first, second = guard.admit(), guard.admit()
    assert first is not None and second is not None
    guard.failed(first)
    guard.failed(second)  # already skipping: the skip is not extended
    assert guard.seconds_skipped() == 5.0
    clock.now = 5.0
    probe = guard.admit()
    assert probe is not None
    guard.failed(second)  # an old call's verdict: the probe decides
    guard.succeeded(second)
    assert guard.state == GuardState.PROBING
    guard.succeeded(probe)
    assert guard.state == GuardState.HEALTHY


def test_a_probe_that_was_never_sent_hands_its_turn_to_the_next_call(guard: DependencyGuard, clock: Clock) -> None:
    """No time was left to send the probe: the next call probes at once, the skip is not extended."""
    guard.failed(guard.admit())  # type: ignore[arg-type]
    clock.now = 5.0
    probe = guard.admit()
    assert probe is not None
    guard.release(probe)
    assert guard.state == GuardState.SKIPPING
    assert guard.admit() == Admission(probe=True)
    guard.release(Admission(probe=False))  # not a probe: nothing to hand over
    assert guard.state == GuardState.PROBING


def test_reset_forgets_the_failures_and_every_change_is_told(
    guard: DependencyGuard, changes: list[tuple[str, GuardState, GuardState]]
) -> None:
    """A SnapStart restore resets the guard; the listener heard each move, named."""
    guard.failed(guard.admit())  # type: ignore[arg-type]
    guard.reset()
    assert guard.state == GuardState.HEALTHY and guard.seconds_skipped() == 0.0
    assert changes == [
        ("dynamodb", GuardState.HEALTHY, GuardState.SKIPPING),
        ("dynamodb", GuardState.SKIPPING, GuardState.HEALTHY),
    ]


def test_a_listener_that_fails_never_breaks_a_call(clock: Clock) -> None:
    """The guard logs a broken listener and goes on."""

    def broken(*_: object) -> None:
        raise RuntimeError("listener down")

    guard = DependencyGuard("ssm", clock=clock, on_change=broken)
    guard.failed(guard.admit())  # type: ignore[arg-type]
    assert guard.state == GuardState.SKIPPING


@pytest.mark.parametrize(("skip", "most"), [(0.0, 30.0), (-1.0, 30.0), (31.0, 30.0)])
def test_skip_times_must_be_positive_and_ordered(skip: float, most: float) -> None:
    """A zero, negative or inverted skip is a programming error, and the message says which rule."""
    with pytest.raises(ValueError, match=r"^skip_seconds must be positive and at most max_skip_seconds$"):
        DependencyGuard("x", skip_seconds=skip, max_skip_seconds=most)


@pytest.mark.parametrize(("skip", "most"), [(0.5, 30.0), (1.0, 1.0), (30.0, 30.0)])
def test_a_skip_under_a_second_or_equal_to_the_most_is_allowed(skip: float, most: float, clock: Clock) -> None:
    """Half a second is a skip; a skip already at the most never grows past it."""
    guard = DependencyGuard("x", skip_seconds=skip, max_skip_seconds=most, clock=clock)
    guard.failed(guard.admit())  # type: ignore[arg-type]
    assert guard.seconds_skipped() == skip
    clock.now = skip
    guard.failed(guard.admit())  # type: ignore[arg-type]  # the probe fails: the skip doubles, up to the most
    assert guard.seconds_skipped() == min(2 * skip, most)


def test_a_skip_whose_time_has_passed_says_zero_until_the_probe(guard: DependencyGuard, clock: Clock) -> None:
    """5 s after a failure nothing is skipped any more, even before the next call turns it into a probe."""
    guard.failed(guard.admit())  # type: ignore[arg-type]
    clock.now = 6.0
    assert guard.state == GuardState.SKIPPING
    assert guard.seconds_skipped() == 0.0


def test_after_a_reset_the_next_failure_skips_5_seconds_again(guard: DependencyGuard, clock: Clock) -> None:
    """Two failed probes grew the skip to 20 s; a reset forgets that: the next failure skips 5 s."""
    guard.failed(guard.admit())  # type: ignore[arg-type]  # 5 s
    clock.now = 5.0
    guard.failed(guard.admit())  # type: ignore[arg-type]  # the probe fails: 10 s
    clock.now = 15.0
    guard.failed(guard.admit())  # type: ignore[arg-type]  # and again: 20 s next
    guard.reset()
    guard.failed(guard.admit())  # type: ignore[arg-type]
    assert guard.seconds_skipped() == 5.0


def test_the_listener_hears_changes_only(
    guard: DependencyGuard, clock: Clock, changes: list[tuple[str, GuardState, GuardState]]
) -> None:
    """Successes while healthy, a reset while healthy and a second failure while skipping are not changes."""
    for _ in range(3):
        guard.succeeded(guard.admit())  # type: ignore[arg-type]
    guard.reset()
    assert changes == []
    admitted = guard.admit()
    guard.failed(guard.admit())  # type: ignore[arg-type]
    guard.failed(admitted)  # type: ignore[arg-type]  # admitted before the skipping began
    assert changes == [("dynamodb", GuardState.HEALTHY, GuardState.SKIPPING)]


def test_a_broken_listener_is_logged_by_name(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    """The guard says which listener broke, at ERROR with the traceback, and the state still moved."""

    def broken(*_: object) -> None:
        raise RuntimeError("listener down")

    guard = DependencyGuard("ssm", clock=clock, on_change=broken)
    with caplog.at_level(logging.ERROR, logger="contact_sdk.degraded"):
        guard.failed(guard.admit())  # type: ignore[arg-type]
    [record] = [r for r in caplog.records if r.name == "contact_sdk.degraded"]
    assert record.getMessage() == "dependency guard listener failed"
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert guard.state == GuardState.SKIPPING
