"""The breaker's rules in the fast tier: the fleet-wide scenarios in process, and the local rules by hand.

``tests/test_breaker_fleet.py`` pins the fleet-wide breaker (5 failures anywhere open it once, 60 s
open, one prober at a time, 3 successful trials close it, the table going away) against moto's
server on loopback, so the fast tier, which judges mutants, never reached that code. Its
single-threaded scenarios run again here, unchanged, against moto's DynamoDB *in process*
(``mock_aws``): the same emulator and the same conditional writes, without a server. (The two
scenarios that race threads against one item need the serialising server and stay there.)

The rest pins the local breaker (no table) with the documented numbers typed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from contact_sdk.breaker import ProviderBreaker, counts_as_failure
from contact_sdk.breaker_store import BreakerStoreUnavailable, DynamoDBBreakerStore, SharedBreakerState
from contact_sdk.devtools.tables import create_table
from contact_sdk.errors import (
    CircuitOpenError,
    ConcurrentIdempotentRequestError,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderQuotaError,
    ProviderRateLimitedError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
)
from tests import test_breaker_fleet as loopback

#: The regional endpoint: mock_aws answers it in process.
IN_PROCESS = "https://dynamodb.eu-west-1.amazonaws.com"
TABLE = "contact-test"


@pytest.fixture
def aws(moto_dynamodb: Any) -> Iterator[str]:
    """The in-process emulator's endpoint, every table dropped after the test (stands in for the loopback one)."""
    yield IN_PROCESS
    for name in moto_dynamodb.list_tables()["TableNames"]:
        moto_dynamodb.delete_table(TableName=name)


@pytest.fixture
def clock() -> loopback.Clock:
    """The one clock of a test."""
    return loopback.Clock()


@pytest.fixture
def fleet(aws: str, moto_dynamodb: Any, clock: loopback.Clock) -> loopback.Fleet:
    """Breakers over the service's table in the in-process emulator."""
    create_table(moto_dynamodb, TABLE)
    return loopback.Fleet(aws, TABLE, clock)


# The loopback module's single-threaded scenarios, collected here with the fixtures above.
test_failures_on_two_instances_add_up_and_the_other_sees_the_opening = (
    loopback.test_failures_on_two_instances_add_up_and_the_other_sees_the_opening
)
test_a_healthy_view_is_cached_for_a_second_then_the_opening_is_seen = (
    loopback.test_a_healthy_view_is_cached_for_a_second_then_the_opening_is_seen
)
test_a_success_anywhere_resets_the_consecutive_count = loopback.test_a_success_anywhere_resets_the_consecutive_count
test_permanent_errors_neither_trip_nor_reset_the_fleet_count = (
    loopback.test_permanent_errors_neither_trip_nor_reset_the_fleet_count
)
test_a_call_in_flight_when_it_opened_changes_nothing = loopback.test_a_call_in_flight_when_it_opened_changes_nothing
test_three_successful_trials_on_different_instances_close_it = (
    loopback.test_three_successful_trials_on_different_instances_close_it
)
test_a_second_prober_waits_while_the_lease_is_held = loopback.test_a_second_prober_waits_while_the_lease_is_held
test_a_lease_left_by_a_dead_instance_lapses = loopback.test_a_lease_left_by_a_dead_instance_lapses
test_a_failed_trial_reopens_for_60_s_and_counts_one_more_opening = (
    loopback.test_a_failed_trial_reopens_for_60_s_and_counts_one_more_opening
)
test_a_neutral_trial_is_no_verdict_fleet_wide = loopback.test_a_neutral_trial_is_no_verdict_fleet_wide
test_reset_closes_it_for_the_fleet = loopback.test_reset_closes_it_for_the_fleet
test_an_unreachable_table_leaves_the_local_breaker_in_charge_logged_once = (
    loopback.test_an_unreachable_table_leaves_the_local_breaker_in_charge_logged_once
)
test_the_fleet_breaker_resumes_when_the_table_answers_again = (
    loopback.test_the_fleet_breaker_resumes_when_the_table_answers_again
)
test_an_open_breaker_stays_open_when_the_table_goes_away = (
    loopback.test_an_open_breaker_stays_open_when_the_table_goes_away
)
test_a_timeout_is_transient_and_counts_fleet_wide = loopback.test_a_timeout_is_transient_and_counts_fleet_wide
test_successes_on_a_healthy_breaker_write_nothing = loopback.test_successes_on_a_healthy_breaker_write_nothing
test_a_trial_reported_after_its_lease_lapsed_changes_nothing = (
    loopback.test_a_trial_reported_after_its_lease_lapsed_changes_nothing
)
test_the_table_failing_between_admit_and_record_hands_the_outcome_to_the_local_breaker = (
    loopback.test_the_table_failing_between_admit_and_record_hands_the_outcome_to_the_local_breaker
)
test_the_table_failing_as_a_trial_takes_its_lease_lets_the_local_breaker_probe = (
    loopback.test_the_table_failing_as_a_trial_takes_its_lease_lets_the_local_breaker_probe
)
test_reset_with_the_table_unreachable_resets_locally = loopback.test_reset_with_the_table_unreachable_resets_locally


# --- the item, read by hand ------------------------------------------------------------------------


def raw_item(client: Any, name: str = "resend") -> dict[str, Any]:
    """The breaker item as DynamoDB holds it."""
    return dict(client.get_item(TableName=TABLE, Key={"pk": {"S": f"breaker#{name}"}}).get("Item", {}))


def test_the_fifth_failure_writes_the_opening_by_hand(fleet: loopback.Fleet, moto_dynamodb: Any) -> None:
    """Five failures at t: phase open, openedAt t, resetTimeout 60, generation 1, counters 0, expiry t + 30 days."""
    breaker = fleet.instance()
    loopback.fail(breaker, 4)
    item = raw_item(moto_dynamodb)
    assert (item["phase"], item["failures"]) == ({"S": "closed"}, {"N": "4"})
    loopback.fail(breaker)
    item = raw_item(moto_dynamodb)
    assert item["phase"] == {"S": "open"}
    assert float(item["openedAt"]["N"]) == 1_800_000_000.0
    assert float(item["resetTimeout"]["N"]) == 60.0
    assert (item["generation"], item["failures"], item["successes"]) == ({"N": "1"}, {"N": "0"}, {"N": "0"})
    assert item["expiresAt"] == {"N": str(1_800_000_000 + 30 * 86_400)}
    assert "leaseToken" not in item
    state = DynamoDBBreakerStore(moto_dynamodb, TABLE).read()
    assert (state.phase, state.opened_at, state.reset_timeout, state.generation) == ("open", 1_800_000_000.0, 60.0, 1)


def test_a_trial_leaves_no_lease_behind(fleet: loopback.Fleet, moto_dynamodb: Any) -> None:
    """After a failed trial and after a successful one, the item holds no leaseToken or leaseUntil."""
    breaker = fleet.instance()
    loopback.fail(breaker, 5)
    fleet.clock.advance(60)
    trial = breaker.admit()
    assert {"leaseToken", "leaseUntil"} <= set(raw_item(moto_dynamodb))
    breaker.record(trial, ProviderServerError("down", status=500))
    assert not {"leaseToken", "leaseUntil"} & set(raw_item(moto_dynamodb))
    fleet.clock.advance(60)
    breaker.record(breaker.admit(), None)
    item = raw_item(moto_dynamodb)
    assert not {"leaseToken", "leaseUntil"} & set(item)
    assert item["successes"] == {"N": "1"}


def test_an_operators_reset_writes_a_closed_item_for_30_days(fleet: loopback.Fleet, moto_dynamodb: Any) -> None:
    """reset() at t: phase closed, failures 0, expiring t + 30 days (not in the past)."""
    breaker = fleet.instance()
    loopback.fail(breaker, 5)
    breaker.reset()
    assert raw_item(moto_dynamodb) == {
        "pk": {"S": "breaker#resend"},
        "phase": {"S": "closed"},
        "failures": {"N": "0"},
        "expiresAt": {"N": str(1_800_000_000 + 30 * 86_400)},
    }


def test_after_a_reset_the_closed_view_is_cached_for_a_second(fleet: loopback.Fleet) -> None:
    """The resetting environment holds 'closed, no failures' for 1 s: another's opening meanwhile is seen after it."""
    a, b = fleet.instance(), fleet.instance()
    a.reset()
    loopback.fail(b, 5)
    assert a.admit().trial is False  # its own fresh view of the reset, under a second old
    fleet.clock.advance(1)
    with pytest.raises(CircuitOpenError):
        a.admit()


def test_a_reset_that_finds_the_table_down_says_why(caplog: pytest.LogCaptureFixture) -> None:
    """When reset() is the first call to find DynamoDB unreachable, the one warning names the error."""
    caplog.set_level("WARNING", logger="contact_sdk.breaker")
    breaker = ProviderBreaker(
        store=DynamoDBBreakerStore(loopback.dead_client(), TABLE), clock=Tick(), wall_clock=Tick()
    )
    breaker.reset()
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].__dict__["error"].startswith("BreakerStoreUnavailable: ")
    assert "EndpointConnectionError" in warnings[0].__dict__["error"]
    assert warnings[0].getMessage() == (
        "circuit breaker resend: the shared state in DynamoDB is unavailable; this instance decides alone "
        "and asks again every 30 s"
    )
    assert breaker.state == "closed"


def test_the_table_lost_half_a_second_after_the_opening_keeps_the_full_60_s(
    fleet: loopback.Fleet, moto_dynamodb: Any
) -> None:
    """Opened fleet-wide at t, the table gone when a call in flight reports at t + 0.5: 59.5 s more, locally."""
    breaker = fleet.instance()
    in_flight = breaker.admit()
    loopback.fail(breaker, 5)
    moto_dynamodb.delete_table(TableName=TABLE)
    fleet.clock.advance(0.5)
    breaker.record(in_flight, ProviderServerError("down", status=500))
    with pytest.raises(CircuitOpenError) as caught:
        breaker.admit()
    assert breaker.fleet_wide is False
    assert caught.value.retry_after == pytest.approx(59.5)
    fleet.clock.advance(59.25)
    with pytest.raises(CircuitOpenError):
        breaker.admit()
    fleet.clock.advance(0.25)
    assert breaker.admit().trial is True


def test_the_closing_trial_leaves_a_clean_closed_item(fleet: loopback.Fleet, moto_dynamodb: Any) -> None:
    """The third successful trial closes it: phase closed, failures 0, successes 0, no lease."""
    breaker = fleet.instance()
    loopback.fail(breaker, 5)
    fleet.clock.advance(60)
    loopback.succeed(breaker, 3)
    item = raw_item(moto_dynamodb)
    assert (item["phase"], item["failures"], item["successes"]) == ({"S": "closed"}, {"N": "0"}, {"N": "0"})
    assert not {"leaseToken", "leaseUntil"} & set(item)


def test_a_stale_view_cannot_take_a_held_lease(fleet: loopback.Fleet) -> None:
    """B saw half-open with no trial; A then takes the lease; B's attempt is refused by the table's condition."""
    a, b = fleet.instance(), fleet.instance()
    loopback.fail(a, 5)
    fleet.clock.advance(60)
    assert b.state == "half-open"  # B's cached view: no lease yet
    trial = a.admit()
    assert trial.trial is True
    with pytest.raises(CircuitOpenError) as refused:
        b.admit()  # refused by the table's condition
    assert (refused.value.message, refused.value.retry_after) == (
        "circuit half-open: a trial call is already in flight",
        1.0,
    )
    fleet.clock.advance(1)
    with pytest.raises(CircuitOpenError) as seen:
        b.admit()  # refused by its fresh view of the lease
    assert (seen.value.message, seen.value.retry_after) == ("circuit half-open: a trial call is already in flight", 1.0)
    state = DynamoDBBreakerStore(boto3.client("dynamodb", region_name="eu-west-1"), TABLE).read()
    assert (state.lease_token, state.lease_until) == (trial.lease, 1_800_000_060.0 + 30)


def test_the_fleet_refuses_until_the_full_60_s_have_passed(fleet: loopback.Fleet) -> None:
    """Opened at t: at t + 59.5 the refusal says 'next trial in 0 s' and asks for 0.5 s; at t + 60 a trial goes."""
    breaker = fleet.instance()
    loopback.fail(breaker, 5)
    fleet.clock.advance(20)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.admit()
    assert caught.value.message == "circuit open: the provider failed repeatedly; next trial in 40 s"
    fleet.clock.advance(39.5)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.admit()
    assert caught.value.retry_after == pytest.approx(0.5)
    assert caught.value.message.startswith("circuit open:")
    fleet.clock.advance(0.5)
    assert breaker.admit().trial is True


def test_seconds_until_half_open_fleet_wide(fleet: loopback.Fleet) -> None:
    """Closed: 0 s to wait. Opened at t: 0.5 s left at t + 59.5, 0 from t + 60 on."""
    breaker = fleet.instance()
    assert breaker.seconds_until_half_open() == 0.0
    loopback.fail(breaker, 5)
    fleet.clock.advance(59.5)
    assert breaker.seconds_until_half_open() == pytest.approx(0.5)
    fleet.clock.advance(0.5)
    assert breaker.seconds_until_half_open() == 0.0


def test_a_success_reported_after_the_table_went_down_is_counted_locally(
    fleet: loopback.Fleet, moto_dynamodb: Any
) -> None:
    """Two calls admitted fleet-wide; the table goes; the failure and then the success are both taken locally."""
    breaker = fleet.instance()
    first, second = breaker.admit(), breaker.admit()
    moto_dynamodb.delete_table(TableName=TABLE)
    breaker.record(first, ProviderServerError("down", status=500))
    assert (breaker.fleet_wide, breaker.fail_counter) == (False, 1)
    breaker.record(second, None)
    assert (breaker.fleet_wide, breaker.fail_counter) == (False, 0)


def test_a_late_failure_after_the_opening_keeps_the_fleet_in_charge(fleet: loopback.Fleet) -> None:
    """A failure of a call admitted before the opening is ignored, and the environment still decides fleet-wide."""
    a, b = fleet.instance(), fleet.instance()
    late = a.admit()
    loopback.fail(b, 5)
    a.record(late, ProviderServerError("down", status=500))
    assert a.fleet_wide is True
    assert a.state == "open"


def test_fleet_wide_transitions_are_logged_as_such(fleet: loopback.Fleet, caplog: pytest.LogCaptureFixture) -> None:
    """Opening, a failed trial and the closing trial each log 'circuit breaker resend: old -> new (fleet-wide)'."""
    caplog.set_level("WARNING", logger="contact_sdk.breaker")
    breaker = fleet.instance()
    loopback.fail(breaker, 5)
    fleet.clock.advance(60)
    loopback.fail(breaker)
    fleet.clock.advance(60)
    loopback.succeed(breaker, 3)
    assert [r.getMessage() for r in caplog.records] == [
        "circuit breaker resend: closed -> open (fleet-wide)",
        "circuit breaker resend: half-open -> open (fleet-wide)",
        "circuit breaker resend: half-open -> closed (fleet-wide)",
    ]


def test_a_store_is_named_after_its_breaker(fleet: loopback.Fleet, moto_dynamodb: Any) -> None:
    """A store named 'other' keeps breaker#other, apart from breaker#resend."""
    store = DynamoDBBreakerStore(moto_dynamodb, TABLE, name="other")
    assert store.key == "breaker#other"
    assert store.add_failure(1_000.0) == SharedBreakerState(failures=1)
    assert raw_item(moto_dynamodb, "other")["failures"] == {"N": "1"}
    assert raw_item(moto_dynamodb) == {}


def test_reading_a_missing_table_is_unavailable(aws: str, moto_dynamodb: Any) -> None:
    """Reading or resetting with no table raises BreakerStoreUnavailable with the table and the error code."""
    store = DynamoDBBreakerStore(moto_dynamodb, "no-such-table")
    with pytest.raises(BreakerStoreUnavailable, match=r"\(no-such-table\) refused the read: ResourceNotFound"):
        store.read()
    with pytest.raises(BreakerStoreUnavailable, match=r"\(no-such-table\) refused the write: ResourceNotFound"):
        store.reset(1_000.0)
    with pytest.raises(BreakerStoreUnavailable, match=r"\(no-such-table\) refused the write: ResourceNotFound"):
        store.add_failure(1_000.0)


def test_an_unreachable_table_is_unavailable_by_the_error_name() -> None:
    """No DynamoDB listening: every call is BreakerStoreUnavailable, 'unreachable: EndpointConnectionError'."""
    store = DynamoDBBreakerStore(loopback.dead_client(), TABLE)
    with pytest.raises(BreakerStoreUnavailable, match=rf"\({TABLE}\) unreachable: EndpointConnectionError"):
        store.read()
    with pytest.raises(BreakerStoreUnavailable, match="unreachable: EndpointConnectionError"):
        store.reset(1_000.0)
    with pytest.raises(BreakerStoreUnavailable, match="unreachable: EndpointConnectionError"):
        store.clear_failures(1_000.0)


def test_an_error_without_a_code_is_unavailable_as_unknown() -> None:
    """A DynamoDB error carrying no code is BreakerStoreUnavailable, 'unknown error', for reads and writes."""
    client = boto3.client("dynamodb", region_name="eu-west-1")
    store = DynamoDBBreakerStore(client, TABLE)
    with Stubber(client) as stubber:
        stubber.add_client_error("get_item", service_error_code="", http_status_code=500)
        stubber.add_client_error("update_item", service_error_code="", http_status_code=500)
        with pytest.raises(BreakerStoreUnavailable, match=r"refused the read: unknown error$"):
            store.read()
        with pytest.raises(BreakerStoreUnavailable, match=r"refused the write: unknown error$"):
            store.add_failure(1_000.0)


def test_half_open_is_open_once_the_reset_timeout_has_passed() -> None:
    """Opened at 100 with 60 s: half-open from 160 on, not at 159.9; a closed state is never half-open."""
    opened = SharedBreakerState(phase="open", opened_at=100.0)
    assert not opened.half_open(159.9, 60.0)
    assert opened.half_open(160.0, 60.0)
    assert not SharedBreakerState().half_open(1_000.0, 60.0)


# --- what counts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "counts"),
    [
        (ProviderServerError("500", status=500), True),
        (ProviderTimeoutError("slow"), True),
        (ProviderConnectionError("refused"), True),
        (ProviderRateLimitedError("429", status=429, name="rate_limit_exceeded"), True),
        (ConcurrentIdempotentRequestError("409", status=409), False),
        (ProviderAuthError("401", status=401), False),
        (ProviderQuotaError("429", status=429, name="daily_quota_exceeded"), False),
        (ProviderRequestError("422", status=422), False),
        (ValueError("ours"), False),
        (None, False),
    ],
)
def test_only_transient_provider_failures_count(outcome: BaseException | None, counts: bool) -> None:
    """5xx, timeouts, connection errors and 429 rate limits count; 409, refusals, quota, our errors, success do not."""
    assert counts_as_failure(outcome) is counts


# --- the local breaker -----------------------------------------------------------------------------


class Tick:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def failing(breaker: ProviderBreaker, times: int) -> None:
    """``times`` admitted calls that failed with a 500."""
    for _ in range(times):
        breaker.record(breaker.admit(), ProviderServerError("down", status=500))


def test_the_local_breaker_opens_at_5_waits_60_and_closes_after_3_trials() -> None:
    """4 failures: closed; the 5th opens for 60 s; then one trial at a time, and 3 good trials close it."""
    tick = Tick()
    changes: list[tuple[str | None, str]] = []
    breaker = ProviderBreaker(clock=tick, on_state_change=lambda old, new: changes.append((old, new)))
    failing(breaker, 4)
    assert (breaker.state, breaker.fail_counter) == ("closed", 4)
    failing(breaker, 1)
    assert breaker.state == "open"
    tick.now += 20
    with pytest.raises(CircuitOpenError) as caught:
        breaker.admit()
    assert caught.value.message == "circuit open: the provider failed repeatedly; next trial in 40 s"
    tick.now += 39.5
    with pytest.raises(CircuitOpenError) as caught:
        breaker.admit()
    assert caught.value.retry_after == pytest.approx(0.5)
    assert breaker.seconds_until_half_open() == pytest.approx(0.5)
    tick.now += 0.5
    for good in range(3):
        ticket = breaker.admit()
        assert ticket.trial
        with pytest.raises(CircuitOpenError) as busy:
            breaker.admit()
        assert busy.value.message == "circuit half-open: a trial call is already in flight"
        assert busy.value.retry_after == 1.0
        breaker.record(ticket, None)
        assert breaker.state == ("closed" if good == 2 else "half-open")
    assert changes == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    assert breaker.seconds_until_half_open() == 0.0


def test_reset_closes_the_local_breaker_and_frees_the_trial() -> None:
    """An operator's reset: open or mid-trial, the breaker is closed at once and the next call is no trial."""
    tick = Tick()
    breaker = ProviderBreaker(clock=tick)
    failing(breaker, 5)
    breaker.reset()
    assert (breaker.state, breaker.fail_counter) == ("closed", 0)
    assert breaker.admit().trial is False

    failing(breaker, 5)
    tick.now += 60
    assert breaker.admit().trial is True  # a trial in flight
    breaker.reset()
    assert breaker.admit().trial is False
    failing(breaker, 4)
    assert breaker.state == "closed"


def test_a_reset_local_breaker_has_no_time_left_open() -> None:
    """Opened at t and reset at t + 10: nothing to wait for (0), not the 50 s the old opening had left."""
    tick = Tick()
    breaker = ProviderBreaker(clock=tick)
    failing(breaker, 5)
    tick.now += 10
    assert breaker.seconds_until_half_open() == pytest.approx(50.0)
    breaker.reset()
    assert breaker.seconds_until_half_open() == 0.0


def test_the_local_defaults_are_the_documented_ones() -> None:
    """Called with nothing, the breaker is 'resend', 60 s open, and local (no table)."""
    breaker = ProviderBreaker()
    assert (breaker.name, breaker.reset_timeout, breaker.fleet_wide) == ("resend", 60.0, False)


def test_a_failing_listener_never_breaks_a_send(caplog: pytest.LogCaptureFixture) -> None:
    """on_state_change raising is logged; the breaker still opens."""

    def listener(old: str | None, new: str) -> None:
        raise RuntimeError("listener down")

    breaker = ProviderBreaker(clock=Tick(), on_state_change=listener)
    with caplog.at_level("WARNING", logger="contact_sdk.breaker"):
        failing(breaker, 5)
    assert breaker.state == "open"
    assert [r.getMessage() for r in caplog.records] == [
        "circuit breaker resend: closed -> open",
        "circuit breaker listener failed",
    ]
