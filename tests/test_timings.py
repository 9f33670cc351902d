"""Where one request's time went (``contact_sdk.timings``): the milliseconds and degradations its summary line
reports, and the outcome's own summary fields."""

from __future__ import annotations

import threading

import pytest

from contact_sdk import timings
from contact_sdk.outcome import Outcome


def test_each_dependencys_milliseconds_add_up_and_are_logged_to_the_hundredth() -> None:
    """Two provider calls add up; the log fields are sorted by name and rounded to 0.01 ms; a dependency never
    called reads as 0 and is not logged."""
    with timings.spending() as spent:
        timings.add(timings.PROVIDER, 12.345)
        timings.add(timings.PROVIDER, 0.001)
        timings.add(timings.DYNAMODB, 3.14159)
        assert spent.milliseconds(timings.PROVIDER) == pytest.approx(12.346)
        assert spent.milliseconds(timings.PARAMETER_STORE) == 0.0
    fields = spent.as_log_fields()
    assert fields == {"dynamodb_ms": 3.14, "provider_ms": 12.35}
    assert list(fields) == ["dynamodb_ms", "provider_ms"]


def test_outside_a_request_nothing_is_tallied() -> None:
    """The outbox consumer and the tools call ``add`` outside any request: nothing breaks, nothing is kept."""
    timings.add(timings.PROVIDER, 5.0)
    with timings.spending() as spent:
        pass
    assert spent.as_log_fields() == {}


def test_a_degraded_dependency_counts_once_per_request_and_is_logged() -> None:
    """``DependencyDegraded`` counts requests, not calls: the first skipped or cut call to a dependency in a request
    says count it, the next ones do not; the summary line lists the dependencies, sorted. Outside a request every
    call counts (the outbox consumer counts each)."""
    with timings.spending() as spent:
        assert timings.first_degradation("dynamodb") is True
        assert timings.first_degradation("dynamodb") is False
        assert timings.first_degradation("ssm") is True
    assert spent.as_log_fields() == {"degraded": ["dynamodb", "ssm"]}
    assert timings.first_degradation("dynamodb") is True
    assert timings.first_degradation("dynamodb") is True


def test_concurrent_requests_keep_their_own_tallies() -> None:
    """Each request's block has its own tally, whatever the other threads add meanwhile."""
    results: dict[str, dict[str, object]] = {}
    both_inside = threading.Barrier(2)

    def request(name: str, milliseconds: float) -> None:
        with timings.spending() as spent:
            timings.add(timings.PROVIDER, milliseconds)
            both_inside.wait(5)
            timings.first_degradation(name)
        results[name] = spent.as_log_fields()

    threads = [threading.Thread(target=request, args=args) for args in (("one", 1.0), ("two", 2.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert results == {
        "one": {"provider_ms": 1.0, "degraded": ["one"]},
        "two": {"provider_ms": 2.0, "degraded": ["two"]},
    }


def test_measuring_counts_a_block_that_raises() -> None:
    """A call that fails still took its time: ``measuring`` adds the block's duration on the way out."""
    ticks = iter([10.0, 10.25])
    with (
        timings.spending() as spent,
        pytest.raises(TimeoutError),
        timings.measuring(timings.PARAMETER_STORE, timer=lambda: next(ticks)),
    ):
        raise TimeoutError
    assert spent.as_log_fields() == {"parameter_store_ms": 250.0}


def test_an_outcomes_log_fields_are_added_to_not_replaced() -> None:
    """``Outcome.logged`` gives a new outcome whose summary fields are the old ones plus the new (the new win);
    the outcome it came from is unchanged."""
    first = Outcome.error(503, "unavailable", "Try again.", log_fields={"config_error": "unreadable"})
    second = first.logged(queued=True).logged(config_error="expired")
    assert second.log_fields == {"config_error": "expired", "queued": True}
    assert first.log_fields == {"config_error": "unreadable"}
    assert (second.status, second.body) == (first.status, first.body)
