"""Tests for fixed-window rate limiting: the pure window arithmetic, both stores, and the limiter."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ContactSdkError
from contact_sdk.security.ratelimit import (
    EXPIRY_SLACK_SECONDS,
    DynamoDBRateLimitStore,
    InMemoryRateLimitStore,
    RateLimitDecision,
    RateLimiter,
    RateLimitStore,
    RateLimitStoreUnavailable,
    decide,
    window_bounds,
)
from tests.conftest import REGION, aws_client

WINDOW = 900
WINDOW_START = 1_700_000_100  # a multiple of 900
IP = "203.0.113.7"


class FakeClock:
    """A settable clock in epoch seconds."""

    def __init__(self, now: float = WINDOW_START + 100.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A clock 100.25 s into a window."""
    return FakeClock()


def submit_limiter(store: RateLimitStore, clock: FakeClock) -> RateLimiter:
    """The service's submission limiter: 5 per 15 minutes."""
    return RateLimiter(store, scope="submit", limit=5, window_seconds=WINDOW, clock=clock)


def unreachable_client() -> Any:
    """A DynamoDB client pointed at a closed loopback port, with no retries (so no backoff sleeps)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1),
    )


# --- pure arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "bounds"),
    [
        (WINDOW_START, (WINDOW_START, WINDOW_START + WINDOW)),
        (WINDOW_START + 0.001, (WINDOW_START, WINDOW_START + WINDOW)),
        (WINDOW_START + WINDOW - 0.001, (WINDOW_START, WINDOW_START + WINDOW)),
        (WINDOW_START + WINDOW, (WINDOW_START + WINDOW, WINDOW_START + 2 * WINDOW)),
    ],
)
def test_windows_are_aligned_to_the_epoch(now: float, bounds: tuple[int, int]) -> None:
    """A window is ``[k*w, (k+1)*w)``: its start belongs to it, its end to the next one."""
    assert window_bounds(now, WINDOW) == bounds


def test_allowed_decision_reports_remaining_and_no_wait() -> None:
    """An allowed hit says how many remain and that nothing needs to wait."""
    assert decide(hits=2, limit=5, window_seconds=WINDOW, now=WINDOW_START, allowed=True) == RateLimitDecision(
        allowed=True, limit=5, remaining=3, retry_after_seconds=0
    )


@pytest.mark.parametrize(
    ("offset", "retry_after"),
    [(0, 900), (100.25, 800), (899, 1), (899.2, 1), (899.999, 1), (0.5, 900)],
)
def test_refused_decision_waits_until_the_window_ends(offset: float, retry_after: int) -> None:
    """Retry-After is the whole seconds to the window's end, rounded up, never below 1."""
    decision = decide(hits=5, limit=5, window_seconds=WINDOW, now=WINDOW_START + offset, allowed=False)
    assert decision == RateLimitDecision(allowed=False, limit=5, remaining=0, retry_after_seconds=retry_after)


def test_decision_is_immutable() -> None:
    """A decision is a frozen value."""
    decision = decide(hits=1, limit=5, window_seconds=WINDOW, now=WINDOW_START, allowed=True)
    with pytest.raises(AttributeError):
        decision.allowed = False  # type: ignore[misc]


# --- limiter over the in-memory store ------------------------------------------------------------


def test_limit_allows_exactly_limit_hits_per_window(clock: FakeClock) -> None:
    """Five hits are allowed with remaining counting down, the sixth is refused with an accurate wait."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    decisions = [limiter.check(IP) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert decisions[-1].retry_after_seconds == 800
    assert all(d.limit == 5 for d in decisions)


def test_window_rolls_over_at_its_end(clock: FakeClock) -> None:
    """Refused until the window's last instant; allowed again, with a full allowance, from its end."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    for _ in range(5):
        limiter.check(IP)
    clock.now = WINDOW_START + WINDOW - 0.001
    refused = limiter.check(IP)
    assert not refused.allowed
    assert refused.retry_after_seconds == 1
    clock.now = WINDOW_START + WINDOW
    assert limiter.check(IP) == RateLimitDecision(allowed=True, limit=5, remaining=4, retry_after_seconds=0)


def test_refused_hits_do_not_count(clock: FakeClock) -> None:
    """A client hammering a closed window is let in as soon as the next window opens."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    for _ in range(50):
        limiter.check(IP)
    clock.now += WINDOW
    assert [limiter.check(IP).allowed for _ in range(6)] == [True] * 5 + [False]


def test_clients_are_counted_separately(clock: FakeClock) -> None:
    """One client's exhaustion does not affect another (IPv4 and IPv6 alike)."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    for _ in range(5):
        limiter.check(IP)
    assert not limiter.check(IP).allowed
    assert limiter.check("198.51.100.1").allowed
    assert limiter.check("2001:db8::1").allowed


def test_scopes_sharing_a_store_are_counted_separately(clock: FakeClock) -> None:
    """The submission and token limiters share one store without sharing counts."""
    store = InMemoryRateLimitStore()
    submit = submit_limiter(store, clock)
    token = RateLimiter(store, scope="token", limit=30, window_seconds=WINDOW, clock=clock)
    for _ in range(5):
        submit.check(IP)
    assert not submit.check(IP).allowed
    decision = token.check(IP)
    assert decision.allowed
    assert decision.remaining == 29


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scope": "", "limit": 5, "window_seconds": 900},
        {"scope": "a#b", "limit": 5, "window_seconds": 900},
        {"scope": "submit", "limit": 0, "window_seconds": 900},
        {"scope": "submit", "limit": 5, "window_seconds": 0},
    ],
)
def test_limiter_refuses_nonsense_settings(kwargs: dict[str, Any]) -> None:
    """An empty or ambiguous scope and non-positive limits are programming errors."""
    with pytest.raises(ValueError, match=r"scope|limit"):
        RateLimiter(InMemoryRateLimitStore(), **kwargs)


def test_in_memory_store_prunes_ended_windows(clock: FakeClock) -> None:
    """Memory is bounded: counters of ended windows are dropped on the next call."""
    store = InMemoryRateLimitStore()
    limiter = submit_limiter(store, clock)
    for i in range(100):
        limiter.check(f"10.0.0.{i}")
    assert len(store) == 100
    clock.now += WINDOW
    limiter.check(IP)
    assert len(store) == 1


def test_in_memory_store_is_thread_safe(clock: FakeClock) -> None:
    """Twenty threads at once against a limit of five: exactly five are allowed."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    barrier = threading.Barrier(20)

    def check(_: int) -> bool:
        barrier.wait()
        return limiter.check(IP).allowed

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert sum(pool.map(check, range(20))) == 5


def test_unavailable_error_is_part_of_the_tree() -> None:
    """The store's outage error is a ``ContactSdkError`` the service can catch by type."""
    assert issubclass(RateLimitStoreUnavailable, ContactSdkError)


# --- DynamoDB store (moto server) ----------------------------------------------------------------


@pytest.mark.integration
def test_dynamodb_store_allows_exactly_limit_hits(aws: str, contact_table: str, clock: FakeClock) -> None:
    """Against DynamoDB, too, five are allowed with remaining counting down, then refused."""
    limiter = submit_limiter(DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table), clock)
    decisions = [limiter.check(IP) for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]


@pytest.mark.integration
def test_dynamodb_limit_holds_across_environments(aws: str, contact_table: str, clock: FakeClock) -> None:
    """Two separately built limiters sharing the table allow five in total, not ten."""
    first = submit_limiter(DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table), clock)
    second = submit_limiter(DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table), clock)
    allowed = sum(limiter.check(IP).allowed for _ in range(5) for limiter in (first, second))
    assert allowed == 5
    assert not first.check(IP).allowed
    assert not second.check(IP).allowed


@pytest.mark.integration
def test_dynamodb_limit_holds_under_concurrency(serial_contact_table: tuple[str, str], clock: FakeClock) -> None:
    """Twenty threads, each with its own client, against a limit of five: exactly five are allowed.

    Against an emulator that serialises requests, as DynamoDB serialises writes to one item.
    """
    aws, contact_table = serial_contact_table
    limiters = [
        submit_limiter(DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table), clock) for _ in range(20)
    ]
    barrier = threading.Barrier(20)

    def check(limiter: RateLimiter) -> bool:
        barrier.wait()
        return limiter.check(IP).allowed

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert sum(pool.map(check, limiters)) == 5


@pytest.mark.integration
def test_dynamodb_retry_after_is_accurate(aws: str, contact_table: str, clock: FakeClock) -> None:
    """A refusal's Retry-After is the whole seconds left in the window, down to 1 near its end."""
    limiter = submit_limiter(DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table), clock)
    for _ in range(5):
        limiter.check(IP)
    assert limiter.check(IP).retry_after_seconds == 800
    clock.now = WINDOW_START + 600.5
    assert limiter.check(IP).retry_after_seconds == 300
    clock.now = WINDOW_START + WINDOW - 0.25
    assert limiter.check(IP).retry_after_seconds == 1


@pytest.mark.integration
def test_dynamodb_window_rolls_over(aws: str, contact_table: str, clock: FakeClock) -> None:
    """A new window starts with a full allowance; the old counter does not leak into it."""
    limiter = submit_limiter(DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table), clock)
    for _ in range(6):
        limiter.check(IP)
    clock.now = WINDOW_START + WINDOW
    assert [limiter.check(IP).allowed for _ in range(6)] == [True] * 5 + [False]


@pytest.mark.integration
def test_dynamodb_counter_item_has_prefixed_key_and_ttl(aws: str, contact_table: str, clock: FakeClock) -> None:
    """The counter is ``rate#<scope>#<ip>#<window start>`` and expires after its window plus slack."""
    client = aws_client(aws, "dynamodb")
    limiter = submit_limiter(DynamoDBRateLimitStore(client, contact_table), clock)
    limiter.check(IP)
    limiter.check(IP)
    key = {PARTITION_KEY: {"S": f"rate#submit#{IP}#{WINDOW_START}"}}
    item = client.get_item(TableName=contact_table, Key=key)["Item"]
    assert item["hits"] == {"N": "2"}
    assert item[TTL_ATTRIBUTE] == {"N": str(WINDOW_START + WINDOW + EXPIRY_SLACK_SECONDS)}


@pytest.mark.integration
def test_dynamodb_store_with_missing_table_is_unavailable(aws: str, clock: FakeClock) -> None:
    """A table that does not exist raises the typed unavailable error, chained to DynamoDB's."""
    limiter = submit_limiter(DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), "no-such-table"), clock)
    with pytest.raises(RateLimitStoreUnavailable, match="ResourceNotFoundException") as raised:
        limiter.check(IP)
    assert raised.value.__cause__ is not None


@pytest.mark.integration
def test_dynamodb_store_with_unreachable_endpoint_is_unavailable(clock: FakeClock) -> None:
    """A DynamoDB that cannot be connected to raises the typed unavailable error, not a botocore one."""
    store = DynamoDBRateLimitStore(unreachable_client(), "contact-test")
    with pytest.raises(RateLimitStoreUnavailable, match="unreachable") as raised:
        submit_limiter(store, clock).check(IP)
    assert raised.value.__cause__ is not None
