"""Tests for sliding-window rate limiting: client identity, the pure arithmetic, both stores, and the limiter."""

from __future__ import annotations

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
    client_identity,
    condition_groups,
    sliding_decision,
    window_bounds,
)
from tests.conftest import REGION, aws_client, refusing_port

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
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{refusing_port()}",
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
    """An allowed hit says how many remain (hand-computed) and that nothing needs to wait."""
    assert sliding_decision(current=2, previous=0, limit=5, window_seconds=WINDOW, now=WINDOW_START) == (
        RateLimitDecision(allowed=True, limit=5, remaining=2, retry_after_seconds=0)
    )
    # Half-way through: the previous window's 4 hits weigh 2; 1 + 1 + 2 used, 1 remains.
    assert sliding_decision(current=1, previous=4, limit=5, window_seconds=WINDOW, now=WINDOW_START + 450) == (
        RateLimitDecision(allowed=True, limit=5, remaining=1, retry_after_seconds=0)
    )


@pytest.mark.parametrize(
    ("current", "previous", "offset", "retry_after"),
    [
        # Full current window, empty previous: wait for the window's end, then until the 5 old hits weigh <= 4
        # (1/5 of the next window, 180 s): 900 - offset + 180.
        (5, 0, 0, 1080),
        (5, 0, 100.25, 980),
        (5, 0, 899.5, 181),
        # Nothing yet in this window, 5 in the previous one: allowed once 5 * (900 - e) / 900 <= 4, at e = 180.
        (0, 5, 0, 180),
        (0, 5, 179.5, 1),
        # 2 here and 5 before: 3 + 5 * (900 - e) / 900 <= 5 at e = 540.
        (2, 5, 500, 40),
        # limit 1 (below): the one hit of this window blocks until the end of the next window.
    ],
)
def test_refused_decision_waits_exactly_until_the_next_hit_fits(
    current: int, previous: int, offset: float, retry_after: int
) -> None:
    """Retry-After is the whole seconds, rounded up and never below 1, until the sliding estimate lets a hit in."""
    decision = sliding_decision(
        current=current, previous=previous, limit=5, window_seconds=WINDOW, now=WINDOW_START + offset
    )
    assert decision == RateLimitDecision(allowed=False, limit=5, remaining=0, retry_after_seconds=retry_after)


def test_a_limit_of_one_waits_out_the_next_window_too() -> None:
    """With limit 1 the previous window's hit must have slid out completely: to the end of the next window."""
    decision = sliding_decision(current=1, previous=0, limit=1, window_seconds=WINDOW, now=WINDOW_START + 100)
    assert decision.retry_after_seconds == 800 + 900


def test_decision_is_immutable() -> None:
    """A decision is a frozen value."""
    decision = sliding_decision(current=1, previous=0, limit=5, window_seconds=WINDOW, now=WINDOW_START)
    with pytest.raises(AttributeError):
        decision.allowed = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("limit", "elapsed", "groups"),
    [
        # Hand-worked: previous * (900 - elapsed) <= (limit - 1 - max_current) * 900.
        (1, 0.0, [(0, 0, 0)]),
        (2, 450.0, [(0, 0, 1), (1, 2, 0)]),
        (3, 0.0, [(0, 0, 2), (1, 1, 1), (2, 2, 0)]),
        (3, 600.0, [(0, 0, 2), (1, 3, 1), (4, 6, 0)]),
    ],
)
def test_condition_groups_write_out_the_rule(limit: int, elapsed: float, groups: list[tuple[int, int, int]]) -> None:
    """The DynamoDB condition's groups, computed by hand for small limits."""
    assert condition_groups(limit=limit, window_seconds=WINDOW, elapsed=elapsed) == groups


@pytest.mark.parametrize("limit", [1, 5, 24, 25, 100, 10_000])
@pytest.mark.parametrize("elapsed", [0.0, 0.5, 450.0, 899.999])
def test_condition_groups_never_allow_what_the_rule_refuses(limit: int, elapsed: float) -> None:
    """Checked against the rule evaluated directly: exact up to 24 groups, never more generous beyond."""
    groups = condition_groups(limit=limit, window_seconds=WINDOW, elapsed=elapsed)
    assert len(groups) <= 24
    for previous in {0, 1, 2, limit // 2, limit - 1, limit, limit + 1, 3 * limit}:
        for current in {0, 1, limit // 2, limit - 2, limit - 1, limit}:
            if current < 0:
                continue
            # The rule, independently: current + 1 + previous * (W - elapsed) / W <= limit.
            rule = (current + 1) * WINDOW + previous * (WINDOW - elapsed) <= limit * WINDOW + 1e-9
            by_groups = any(low <= previous <= high and current <= top for low, high, top in groups)
            assert not (by_groups and not rule), (previous, current)
            if limit <= 24:
                assert by_groups == rule, (previous, current)


@pytest.mark.parametrize("limit", [25, 49, 1000])
@pytest.mark.parametrize("elapsed", [0.0, 123.4, 899.0])
def test_merged_groups_are_runs_of_the_exact_groups(limit: int, elapsed: float) -> None:
    """Past 24 groups: the first exact group, then runs of the exact ones, each keeping its smallest allowance."""
    exact = []  # one group per allowance, by the rule: previous * (W - elapsed) <= k * W
    low = 0
    for k in range(limit):
        high = int(k * WINDOW // (WINDOW - elapsed)) if elapsed else k
        exact.append((low, high, limit - 1 - k))
        low = high + 1
    rest = exact[1:]
    size = -(-len(rest) // 23)
    expected = [exact[0]] + [
        (run[0][0], run[-1][1], run[-1][2]) for run in (rest[i : i + size] for i in range(0, len(rest), size))
    ]
    assert condition_groups(limit=limit, window_seconds=WINDOW, elapsed=elapsed) == expected


def test_a_huge_limit_still_gives_a_short_condition() -> None:
    """A limit of a million (a load test's) is 24 groups, the last one ending where the rule allows nothing more."""
    groups = condition_groups(limit=1_000_000, window_seconds=WINDOW, elapsed=0.0)
    assert len(groups) == 24
    assert groups[0] == (0, 0, 999_999)
    assert groups[-1][1:] == (999_999, 0)


# --- who is a client -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::a", "2001:db8::/64"),
        ("2001:DB8:0:0:ffff:ffff:ffff:ffff", "2001:db8::/64"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::FFFF:cb00:7107", "203.0.113.7"),
        ("unknown", "unknown"),
    ],
)
def test_client_identity(source: str, key: str) -> None:
    """IPv4 by address, IPv6 by its /64, an IPv4-mapped IPv6 address as its IPv4 address."""
    assert client_identity(source) == key


def test_client_identity_prefix_is_configurable() -> None:
    """A /48 groups a whole site; a /128 counts single addresses."""
    assert client_identity("2001:db8:1:2::9", ipv6_prefix=48) == "2001:db8:1::/48"
    assert client_identity("2001:db8:1:2::9", ipv6_prefix=128) == "2001:db8:1:2::9/128"
    with pytest.raises(ValueError, match="1-128"):
        client_identity("2001:db8::1", ipv6_prefix=0)


def test_an_unparsable_source_is_counted_under_a_bounded_key() -> None:
    """Not an address: counted as sent, but never more than 64 characters of it."""
    assert client_identity("x" * 500) == "x" * 64


def test_ipv6_rotation_inside_a_64_is_one_client(clock: FakeClock) -> None:
    """The issue's attack: ten submissions from 2001:db8::1 ... ::a against a limit of 5. Five get through."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    allowed = [limiter.check(f"2001:db8::{i:x}").allowed for i in range(1, 11)]
    assert allowed == [True] * 5 + [False] * 5
    assert limiter.check("2001:db8:0:1::1").allowed  # the next /64 is someone else


def test_ipv4_mapped_addresses_share_the_ipv4_count(clock: FakeClock) -> None:
    """Alternating 203.0.113.7 and ::ffff:203.0.113.7 is still one client."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    allowed = [limiter.check(IP if i % 2 else f"::ffff:{IP}").allowed for i in range(8)]
    assert allowed == [True] * 5 + [False] * 3


# --- limiter over the in-memory store ------------------------------------------------------------


def test_limit_allows_exactly_limit_hits_per_window(clock: FakeClock) -> None:
    """Five hits are allowed with remaining counting down, the sixth is refused with an accurate wait."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    decisions = [limiter.check(IP) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    # The sliding estimate would say 980 s (799.75 s to the window's end, then 180 s), but the five hits, all at
    # 100.25 s, are a whole window old 900 s later: the wait is never longer than the window.
    assert decisions[-1].retry_after_seconds == 900
    assert all(d.limit == 5 for d in decisions)


def test_the_window_cannot_be_doubled_across_its_boundary(clock: FakeClock) -> None:
    """The issue's attack: five just before a boundary, five just after. Fixed windows let all ten through."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    clock.now = WINDOW_START + WINDOW - 1
    assert [limiter.check(IP).allowed for _ in range(5)] == [True] * 5
    clock.now = WINDOW_START + WINDOW
    refused = limiter.check(IP)
    assert not refused.allowed
    assert refused.retry_after_seconds == 180  # the five old hits weigh 4 once a fifth of the window has passed
    clock.now = WINDOW_START + WINDOW + 179
    assert not limiter.check(IP).allowed
    clock.now = WINDOW_START + WINDOW + 180
    assert limiter.check(IP).allowed
    assert not limiter.check(IP).allowed


def test_retry_after_is_when_the_next_hit_is_let_in(clock: FakeClock) -> None:
    """Waiting exactly Retry-After seconds gets in; a second less does not."""
    store = InMemoryRateLimitStore()
    for start in (WINDOW_START + 10, WINDOW_START + 500.5, WINDOW_START + 899):
        key = f"198.51.100.{int(start) % 250}"
        clock.now = start
        limiter = submit_limiter(store, clock)
        for _ in range(5):
            limiter.check(key)
        wait = limiter.check(key).retry_after_seconds
        clock.now = start + wait - 1
        assert not limiter.check(key).allowed
        clock.now = start + wait
        assert limiter.check(key).allowed


def test_a_steady_client_gets_the_limit_per_window(clock: FakeClock) -> None:
    """Polling every 10 s for ten windows, a greedy client never has more than the limit in any window's span."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    clock.now = WINDOW_START
    allowed_at: list[float] = []
    while clock.now < WINDOW_START + 10 * WINDOW:
        if limiter.check(IP).allowed:
            allowed_at.append(clock.now)
        clock.now += 10
    # Hand-worked: 5 in the first window, at 0-40 s; then every later window lets 4 in (the previous window's
    # hits weigh until its very end). In the second: at +40 s (the last of the first five is a window old),
    # then +360, +540, +720 s, where 2, 3, 4 + 5 * (900 - e) / 900 <= 5.
    assert len(allowed_at) == 5 + 9 * 4
    assert allowed_at[5:9] == [WINDOW_START + WINDOW + s for s in (40, 360, 540, 720)]
    for i, t in enumerate(allowed_at):
        assert sum(1 for u in allowed_at[i:] if u < t + WINDOW) <= 5


def test_refused_hits_do_not_count(clock: FakeClock) -> None:
    """A client hammering a closed window is let in as soon as its earlier hits have slid out."""
    limiter = submit_limiter(InMemoryRateLimitStore(), clock)
    for _ in range(50):
        limiter.check(IP)
    clock.now += 2 * WINDOW
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
        {"scope": "submit", "limit": 5, "window_seconds": 900, "ipv6_prefix": 0},
        {"scope": "submit", "limit": 5, "window_seconds": 900, "ipv6_prefix": 129},
    ],
)
def test_limiter_refuses_nonsense_settings(kwargs: dict[str, Any]) -> None:
    """An empty or ambiguous scope and non-positive limits are programming errors."""
    with pytest.raises(ValueError, match=r"scope|limit|prefix"):
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
    assert len(store) == 101  # still needed as the previous window
    clock.now += WINDOW
    limiter.check(IP)
    assert len(store) == 2


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
    """A refusal's Retry-After comes from the real counts (returned by the failed condition), not a guess."""
    limiter = submit_limiter(DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table), clock)
    for _ in range(5):
        limiter.check(IP)  # all at 100.25 s: a whole window old at 1000.25 s
    assert limiter.check(IP).retry_after_seconds == 900
    clock.now = WINDOW_START + 600.5
    assert limiter.check(IP).retry_after_seconds == 400  # 399.75 s, rounded up
    clock.now = WINDOW_START + WINDOW + 100
    assert limiter.check(IP).retry_after_seconds == 1  # 0.25 s, rounded up
    clock.now = WINDOW_START + WINDOW + 100.25
    assert limiter.check(IP).allowed


@pytest.mark.integration
def test_dynamodb_window_cannot_be_doubled_across_its_boundary(aws: str, contact_table: str, clock: FakeClock) -> None:
    """Five in the last second of a window, then the next window's first minutes: refused until 180 s in."""
    limiter = submit_limiter(DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table), clock)
    clock.now = WINDOW_START + WINDOW - 1
    assert [limiter.check(IP).allowed for _ in range(6)] == [True] * 5 + [False]
    for offset in (0, 1, 60, 179.9):
        clock.now = WINDOW_START + WINDOW + offset
        assert not limiter.check(IP).allowed, offset
    clock.now = WINDOW_START + WINDOW + 180
    assert limiter.check(IP).allowed
    clock.now = WINDOW_START + 3 * WINDOW
    assert [limiter.check(IP).allowed for _ in range(6)] == [True] * 5 + [False]


@pytest.mark.integration
def test_dynamodb_ipv6_rotation_is_one_client(aws: str, contact_table: str, clock: FakeClock) -> None:
    """Ten addresses of one /64 share one counter in the table too, and the token limiter uses it as well."""
    store = DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table)
    limiter = submit_limiter(store, clock)
    assert [limiter.check(f"2001:db8::{i:x}").allowed for i in range(1, 11)] == [True] * 5 + [False] * 5
    tokens = RateLimiter(store, scope="token", limit=2, window_seconds=WINDOW, clock=clock)
    assert [tokens.check(f"2001:db8::{i:x}").allowed for i in range(20, 23)] == [True, True, False]


@pytest.mark.integration
def test_dynamodb_large_limits_stay_within_the_rule(aws: str, contact_table: str, clock: FakeClock) -> None:
    """A limit whose condition needs merged groups still allows the limit in a fresh window, never more."""
    limiter = RateLimiter(
        DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table),
        scope="token",
        limit=40,
        window_seconds=WINDOW,
        clock=clock,
    )
    assert [limiter.check(IP).allowed for _ in range(41)] == [True] * 40 + [False]


@pytest.mark.integration
def test_dynamodb_merged_groups_refuse_early_never_late(aws: str, contact_table: str, clock: FakeClock) -> None:
    """Limit 40, 37 hits in the previous window, half-way through this one.

    By hand: the exact rule allows current + 1 + 37 * 450 / 900 <= 40, i.e. 21 more hits. With 40 groups
    merged in pairs, the pair holding previous = 37 keeps the stricter max_current, 19: 20 hits, then a
    refusal saying to try again in a second (the exact rule would have allowed it).
    """
    limiter = RateLimiter(
        DynamoDBRateLimitStore(aws_client(aws, "dynamodb"), contact_table),
        scope="token",
        limit=40,
        window_seconds=WINDOW,
        clock=clock,
    )
    clock.now = WINDOW_START + 10
    assert sum(limiter.check(IP).allowed for _ in range(37)) == 37
    clock.now = WINDOW_START + WINDOW + 450
    decisions = [limiter.check(IP) for _ in range(21)]
    assert [d.allowed for d in decisions] == [True] * 20 + [False]
    assert decisions[-1].retry_after_seconds == 1
    memory = RateLimiter(InMemoryRateLimitStore(), scope="token", limit=40, window_seconds=WINDOW, clock=clock)
    clock.now = WINDOW_START + 10
    for _ in range(37):
        memory.check(IP)
    clock.now = WINDOW_START + WINDOW + 450
    assert sum(memory.check(IP).allowed for _ in range(22)) == 21


@pytest.mark.integration
def test_dynamodb_counter_item_has_prefixed_key_and_ttl(aws: str, contact_table: str, clock: FakeClock) -> None:
    """One item per client, ``rate#<scope>#<client>``, one counter per window, expiring after the next window."""
    client = aws_client(aws, "dynamodb")
    limiter = submit_limiter(DynamoDBRateLimitStore(client, contact_table), clock)
    limiter.check(IP)
    limiter.check(IP)
    clock.now += WINDOW
    limiter.check(IP)
    key = {PARTITION_KEY: {"S": f"rate#submit#{IP}"}}
    item = client.get_item(TableName=contact_table, Key=key)["Item"]
    assert item[f"w{WINDOW_START}"] == {"N": "2"}
    assert item[f"w{WINDOW_START + WINDOW}"] == {"N": "1"}
    assert item[TTL_ATTRIBUTE] == {"N": str(WINDOW_START + 3 * WINDOW + EXPIRY_SLACK_SECONDS)}
    clock.now += 2 * WINDOW
    limiter.check(IP)
    item = client.get_item(TableName=contact_table, Key=key)["Item"]
    assert f"w{WINDOW_START}" not in item  # counters too old to matter are removed by the same update


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
