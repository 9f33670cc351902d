"""The fleet-wide breaker: separately built breakers sharing one table in moto's server over loopback.

Each :class:`ProviderBreaker` here stands for one Lambda execution environment: its own store, its own
boto3 client, its own listener. Time is one injected clock for all of them (monotonic and wall clock
alike), so the 1 s cache, the 60 s open time and the leases pass without sleeping. What the table holds
is read back with a plain boto3 ``get_item``, not through the store under test.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from contact_sdk.breaker import ProviderBreaker
from contact_sdk.breaker_store import DynamoDBBreakerStore
from contact_sdk.devtools.tables import create_table
from contact_sdk.errors import (
    CircuitOpenError,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
)
from tests.conftest import REGION, aws_client, refusing_port

pytestmark = pytest.mark.integration


class Clock:
    """Epoch seconds that move only when told; shared by every breaker of a test (thread-safe)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class Fleet:
    """Breakers built over one table, each recording the transitions it reports."""

    def __init__(self, endpoint: str, table: str, clock: Clock) -> None:
        self.endpoint = endpoint
        self.table = table
        self.clock = clock
        self.transitions: list[tuple[int, str | None, str]] = []
        self._lock = threading.Lock()
        self._built = 0

    def instance(self, **options: Any) -> ProviderBreaker:
        """A new execution environment's breaker on its own client."""
        number, self._built = self._built, self._built + 1

        def on_change(old: str | None, new: str) -> None:
            with self._lock:
                self.transitions.append((number, old, new))

        client = options.pop("client", None) or aws_client(self.endpoint, "dynamodb")
        return ProviderBreaker(
            store=DynamoDBBreakerStore(client, options.pop("table", self.table)),
            clock=self.clock,
            wall_clock=self.clock,
            on_state_change=on_change,
            **options,
        )

    def openings(self) -> int:
        """How many times any instance reported opening the breaker."""
        return sum(1 for _, _, new in self.transitions if new == "open")

    def item(self) -> dict[str, Any]:
        """The breaker item as DynamoDB holds it, decoded by hand."""
        raw = aws_client(self.endpoint, "dynamodb").get_item(
            TableName=self.table, Key={"pk": {"S": "breaker#resend"}}, ConsistentRead=True
        )
        decoded: dict[str, Any] = {}
        for name, value in raw.get("Item", {}).items():
            (kind, text), *_ = value.items()
            decoded[name] = float(text) if kind == "N" else text
        return decoded


@pytest.fixture
def clock() -> Clock:
    """The one clock of a test."""
    return Clock()


@pytest.fixture
def fleet(aws: str, contact_table: str, clock: Clock) -> Fleet:
    """Breakers over the service's table in moto."""
    return Fleet(aws, contact_table, clock)


@pytest.fixture
def serial_fleet(serial_contact_table: tuple[str, str], clock: Clock) -> Fleet:
    """Breakers over a table in a moto that answers one request at a time (DynamoDB's per-item atomicity)."""
    endpoint, table = serial_contact_table
    return Fleet(endpoint, table, clock)


def down() -> ProviderServerError:
    return ProviderServerError("down", status=500)


def fail(breaker: ProviderBreaker, times: int = 1, error: BaseException | None = None) -> None:
    """``times`` admitted calls that failed (a 500 by default)."""
    for _ in range(times):
        breaker.record(breaker.admit(), error if error is not None else down())


def succeed(breaker: ProviderBreaker, times: int = 1) -> None:
    """``times`` admitted calls that succeeded."""
    for _ in range(times):
        breaker.record(breaker.admit(), None)


def concurrently(n: int, action: Callable[[int], object]) -> list[object]:
    """Run ``action(i)`` on ``n`` threads released together; each result, or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


# -- opening ------------------------------------------------------------------------------------


def test_failures_on_two_instances_add_up_and_the_other_sees_the_opening(fleet: Fleet, clock: Clock) -> None:
    """3 failures on A and 2 on B open it (B's write); A refuses without a trial at once, by the item's time."""
    a, b = fleet.instance(), fleet.instance()
    fail(a, 3)
    fail(b, 2)
    assert fleet.item()["phase"] == "open"
    assert fleet.item()["openedAt"] == clock.now
    assert fleet.transitions == [(1, "closed", "open")]  # only B, whose conditional write opened it
    clock.advance(15)
    with pytest.raises(CircuitOpenError) as caught:
        a.admit()
    assert caught.value.retry_after == pytest.approx(45)
    assert a.state == "open"
    assert a.seconds_until_half_open() == pytest.approx(45)


def test_a_healthy_view_is_cached_for_a_second_then_the_opening_is_seen(fleet: Fleet, clock: Clock) -> None:
    """B read "closed, no failures" just before A opened it: B admits for under 1 s more, then refuses."""
    a, b = fleet.instance(), fleet.instance()
    assert b.admit().trial is False  # B's reading: closed, no failures
    fail(a, 5)
    clock.advance(0.5)
    assert b.admit().trial is False  # still B's cached reading: at most ~1 s stale
    clock.advance(0.5)
    with pytest.raises(CircuitOpenError):
        b.admit()


def test_a_success_anywhere_resets_the_consecutive_count(fleet: Fleet, clock: Clock) -> None:
    """4 failures on A, a success on B, 4 more on A: still closed with 4 counted fleet-wide."""
    a, b = fleet.instance(), fleet.instance()
    fail(a, 4)
    succeed(b)
    assert fleet.item()["failures"] == 0
    fail(a, 4)
    assert (a.state, a.fail_counter) == ("closed", 4)
    assert b.fail_counter == 0  # B's own reading of "no failures", at most 1 s old
    clock.advance(1)
    assert b.fail_counter == 4
    assert fleet.openings() == 0


@pytest.mark.parametrize(
    "error",
    [
        ProviderRequestError("x", status=422, name="validation_error"),
        ProviderAuthError("x", status=401, name="missing_api_key"),
        ProviderAuthError("x", status=403, name="invalid_api_key"),
    ],
)
def test_permanent_errors_neither_trip_nor_reset_the_fleet_count(fleet: Fleet, error: ProviderError) -> None:
    """4 failures on A, ten 422/401/403 on B, one failure on A: the fifth consecutive failure opens it."""
    a, b = fleet.instance(), fleet.instance()
    fail(a, 4)
    fail(b, 10, error)
    assert fleet.item()["failures"] == 4
    fail(a)
    assert fleet.item()["phase"] == "open"
    assert fleet.openings() == 1


def test_n_instances_failing_together_open_it_once(serial_fleet: Fleet) -> None:
    """8 instances each recording 2 failures at the same moment: one opening, reported by one instance."""
    instances = [serial_fleet.instance() for _ in range(8)]
    concurrently(8, lambda i: fail(instances[i], 2))
    assert serial_fleet.item()["phase"] == "open"
    assert serial_fleet.item()["generation"] == 1
    assert serial_fleet.openings() == 1


def test_a_call_in_flight_when_it_opened_changes_nothing(fleet: Fleet) -> None:
    """A admitted while closed; B opens it; A's late failure and late success are both ignored."""
    a, b = fleet.instance(), fleet.instance()
    late_failure, late_success = a.admit(), a.admit()
    fail(b, 5)
    a.record(late_failure, down())
    a.record(late_success, None)
    item = fleet.item()
    assert (item["phase"], item["failures"], item["generation"]) == ("open", 0, 1)
    assert fleet.openings() == 1


# -- half-open ----------------------------------------------------------------------------------


def test_half_open_admits_exactly_one_prober_among_n_instances(serial_fleet: Fleet, clock: Clock) -> None:
    """At 60 s, 8 instances ask at once: one gets the trial (the lease), 7 are refused without a request."""
    instances = [serial_fleet.instance() for _ in range(8)]
    fail(instances[0], 5)
    clock.advance(60)
    results = concurrently(8, lambda i: instances[i].admit())
    trials = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, CircuitOpenError)]
    assert (len(trials), len(refused)) == (1, 7)
    assert serial_fleet.item()["leaseToken"]


def test_three_successful_trials_on_different_instances_close_it(fleet: Fleet, clock: Clock) -> None:
    """Trials by A, B and C, one at a time, close it on the third; every instance then admits normally."""
    a, b, c = fleet.instance(), fleet.instance(), fleet.instance()
    fail(a, 5)
    clock.advance(60)
    for prober, expected in ((a, "open"), (b, "open"), (c, "closed")):
        ticket = prober.admit()
        assert ticket.trial is True
        prober.record(ticket, None)
        assert fleet.item()["phase"] == expected
    clock.advance(1)
    assert [x.admit().trial for x in (a, b, c)] == [False, False, False]
    assert fleet.transitions == [(0, "closed", "open"), (2, "half-open", "closed")]


def test_a_second_prober_waits_while_the_lease_is_held(fleet: Fleet, clock: Clock) -> None:
    """While A's trial is in flight B is refused; once A records it, B's trial may go (B's reading ≤ 1 s old)."""
    a, b = fleet.instance(), fleet.instance()
    fail(a, 5)
    clock.advance(60)
    ticket = a.admit()
    with pytest.raises(CircuitOpenError, match="trial"):
        b.admit()
    a.record(ticket, None)
    clock.advance(1)
    assert b.admit().trial is True
    assert fleet.item()["successes"] == 1


def test_a_lease_left_by_a_dead_instance_lapses(fleet: Fleet, clock: Clock) -> None:
    """A takes the trial and never reports (its Lambda timed out): after the lease B may probe."""
    a, b = fleet.instance(lease_seconds=30), fleet.instance(lease_seconds=30)
    fail(a, 5)
    clock.advance(60)
    a.admit()
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        b.admit()
    clock.advance(1)
    assert b.admit().trial is True


def test_a_failed_trial_reopens_for_60_s_and_counts_one_more_opening(fleet: Fleet, clock: Clock) -> None:
    """A success then a failure in half-open: open again from that moment, reported once, by the prober."""
    a, b = fleet.instance(), fleet.instance()
    fail(a, 5)
    clock.advance(60)
    succeed(a)
    fail(b)
    item = fleet.item()
    assert (item["phase"], item["openedAt"], item["successes"], item["generation"]) == ("open", clock.now, 0, 2)
    assert fleet.transitions == [(0, "closed", "open"), (1, "half-open", "open")]
    clock.advance(59)
    with pytest.raises(CircuitOpenError):
        a.admit()
    clock.advance(1)
    assert a.admit().trial is True


def test_a_neutral_trial_is_no_verdict_fleet_wide(fleet: Fleet, clock: Clock) -> None:
    """A trial ending in a 422 releases the lease without counting: B may probe at once; 3 successes close."""
    a, b = fleet.instance(), fleet.instance()
    fail(a, 5)
    clock.advance(60)
    for _ in range(4):
        a.record(a.admit(), ProviderRequestError("x", status=422, name="validation_error"))
    assert (fleet.item()["phase"], fleet.item()["successes"]) == ("open", 0)
    succeed(b, 2)
    succeed(a)
    assert fleet.item()["phase"] == "closed"


def test_reset_closes_it_for_the_fleet(fleet: Fleet, clock: Clock) -> None:
    """An operator's reset on one instance closes the shared breaker; another sees it within a second."""
    a, b = fleet.instance(), fleet.instance()
    fail(a, 5)
    with pytest.raises(CircuitOpenError):
        b.admit()
    a.reset()
    assert (fleet.item()["phase"], fleet.item()["failures"]) == ("closed", 0)
    clock.advance(1)
    assert b.admit().trial is False


# -- the table unreachable ----------------------------------------------------------------------


def dead_client() -> Any:
    """A DynamoDB client pointed at a loopback port nothing listens on."""
    port = refusing_port()
    config = Config(connect_timeout=0.5, read_timeout=0.5, retries={"mode": "standard", "max_attempts": 1})
    return boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION, config=config)


def test_an_unreachable_table_leaves_the_local_breaker_in_charge_logged_once(
    fleet: Fleet, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Connection refused: the instance opens on its own 5 failures, warns once, and asks again after 30 s."""
    caplog.set_level(logging.WARNING, logger="contact_sdk.breaker")
    alone = fleet.instance(client=dead_client(), table_retry_seconds=30)
    fail(alone, 4)
    assert (alone.fleet_wide, alone.state, alone.fail_counter) == (False, "closed", 4)
    fail(alone)
    with pytest.raises(CircuitOpenError):
        alone.admit()
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1
    assert "EndpointConnectionError" in unavailable[0].__dict__["error"]
    assert fleet.transitions == [(0, "closed", "open")]  # its own opening, counted as before
    clock.advance(30)
    alone.seconds_until_half_open()  # asks the table again: still down, no second warning
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


def test_the_fleet_breaker_resumes_when_the_table_answers_again(
    aws: str, fleet: Fleet, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A table that does not exist yet (ResourceNotFound) is "down"; once created, after 30 s, it decides again."""
    caplog.set_level(logging.WARNING, logger="contact_sdk.breaker")
    later = fleet.instance(table="contact-created-later", table_retry_seconds=30)
    fail(later, 2)
    assert later.fleet_wide is False
    create_table(aws_client(aws, "dynamodb"), "contact-created-later")
    clock.advance(10)
    assert later.fleet_wide is False  # not asked again before 30 s
    fail(later, 2)
    assert later.fail_counter == 4  # still the local count
    clock.advance(20)
    assert (later.state, later.fail_counter, later.fleet_wide) == ("closed", 0, True)
    assert any("answers again" in r.getMessage() for r in caplog.records)


def test_an_open_breaker_stays_open_when_the_table_goes_away(fleet: Fleet, clock: Clock) -> None:
    """Table lost while open: the instance keeps refusing until the opening's 60 s pass, reporting nothing new."""
    a = fleet.instance()
    fail(a, 5)
    aws_client(fleet.endpoint, "dynamodb").delete_table(TableName=fleet.table)
    clock.advance(20)
    with pytest.raises(CircuitOpenError) as caught:
        a.admit()
    assert a.fleet_wide is False
    assert caught.value.retry_after == pytest.approx(40)
    clock.advance(40)
    assert a.admit().trial is True  # the local breaker's half-open trial
    assert fleet.openings() == 1


def test_a_timeout_is_transient_and_counts_fleet_wide(fleet: Fleet) -> None:
    """Timeouts on A and 500s on B make the five consecutive failures together."""
    a, b = fleet.instance(), fleet.instance()
    fail(a, 3, ProviderTimeoutError("slow"))
    fail(b, 2)
    assert fleet.item()["phase"] == "open"


def test_successes_on_a_healthy_breaker_write_nothing(fleet: Fleet) -> None:
    """Closed with no failures: a success costs no write (the item is not even created)."""
    a = fleet.instance()
    succeed(a, 3)
    assert fleet.item() == {}


def test_a_trial_reported_after_its_lease_lapsed_changes_nothing(fleet: Fleet, clock: Clock) -> None:
    """A's trial outlives its lease, B takes the next one; A's late failure neither reopens nor counts."""
    a, b = fleet.instance(lease_seconds=30), fleet.instance(lease_seconds=30)
    fail(a, 5)
    clock.advance(60)
    late = a.admit()
    clock.advance(30)
    current = b.admit()
    a.record(late, down())
    assert (fleet.item()["generation"], fleet.item()["leaseToken"]) == (1, current.lease)
    b.record(current, None)
    assert fleet.item()["successes"] == 1
    assert fleet.openings() == 1


def test_the_table_failing_between_admit_and_record_hands_the_outcome_to_the_local_breaker(fleet: Fleet) -> None:
    """Admitted on the shared state, the table is gone when the failure is recorded: counted locally."""
    a = fleet.instance()
    fail(a, 3)
    ticket = a.admit()
    aws_client(fleet.endpoint, "dynamodb").delete_table(TableName=fleet.table)
    a.record(ticket, down())
    assert (a.fleet_wide, a.fail_counter) == (False, 1)


def test_the_table_failing_as_a_trial_takes_its_lease_lets_the_local_breaker_probe(fleet: Fleet, clock: Clock) -> None:
    """Half-open seen, then the lease write fails: the local breaker (seeded with that opening) probes instead."""
    a = fleet.instance()
    fail(a, 5)
    clock.advance(60)
    assert a.state == "half-open"  # a fresh reading of the item, cached
    aws_client(fleet.endpoint, "dynamodb").delete_table(TableName=fleet.table)
    ticket = a.admit()
    assert (ticket.trial, ticket.shared) == (True, False)
    a.record(ticket, None)
    assert a.state == "half-open"  # one of the three successful trials the local breaker needs


def test_reset_with_the_table_unreachable_resets_locally(fleet: Fleet, caplog: pytest.LogCaptureFixture) -> None:
    """An operator's reset while DynamoDB is unreachable still closes this instance, and says so."""
    caplog.set_level(logging.WARNING, logger="contact_sdk.breaker")
    alone = fleet.instance(client=dead_client())
    fail(alone, 5)
    alone.reset()
    assert (alone.state, alone.fail_counter, alone.fleet_wide) == ("closed", 0, False)
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
