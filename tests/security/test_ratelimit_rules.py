"""The sliding-window rate limit against the documented rule, computed here independently.

The rule (docs/security.md, the module docstring): a hit at ``elapsed`` seconds into the current fixed
window is allowed when ``current + 1 + previous * (window - elapsed) / window <= limit``; ``Retry-After``
is the time, rounded up to whole seconds (at least 1), until that lets the next hit in if the client
sends nothing meanwhile. When the time of the latest counted hit is known, a hit is also allowed once
that hit is a whole window old, so the wait is never longer than the window. The oracles below
implement those sentences with their own arithmetic and find the wait by stepping through time second
by second, a second rule that shares no code with the module.

The DynamoDB store runs against moto's DynamoDB *in process* (``mock_aws``): the same emulator the
loopback tests use, evaluating the same condition expressions, without a server, so the fast tier
(the one that judges mutants) exercises the one-conditional-write design too.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from contact_sdk.security.ratelimit import (
    DynamoDBRateLimitStore,
    InMemoryRateLimitStore,
    RateLimitDecision,
    RateLimiter,
    RateLimitStoreUnavailable,
    client_identity,
    condition_groups,
    sliding_decision,
)
from tests.conftest import IN_PROCESS_TABLE as TABLE


def allowed_by_rule(*, current: int, previous: int, limit: int, window: int, elapsed: Fraction) -> bool:
    """The documented inequality, in exact arithmetic."""
    return current + 1 + previous * (window - elapsed) / window <= limit


def counts_at(t: Fraction, *, now: int, current: int, previous: int, window: int) -> tuple[int, int, Fraction]:
    """(current, previous, elapsed) seen at time ``t`` >= ``now`` when nothing is counted after ``now``."""
    start_now = (now // window) * window
    start_t = (t // window) * window
    elapsed = t - start_t
    if start_t == start_now:
        return current, previous, elapsed
    if start_t == start_now + window:
        return 0, current, elapsed
    return 0, 0, elapsed


def oracle(*, current: int, previous: int, limit: int, window: int, now: int) -> tuple[bool, int]:
    """(allowed now, Retry-After) by the documented rule, the wait found by stepping whole seconds."""
    start = (now // window) * window
    if allowed_by_rule(current=current, previous=previous, limit=limit, window=window, elapsed=Fraction(now - start)):
        return True, 0
    # Time is an integer and the estimate only falls as time passes, so the first whole second at which
    # the hit is allowed is the exact wait rounded up.
    for seconds in range(1, 3 * window + 2):
        c, p, e = counts_at(Fraction(now + seconds), now=now, current=current, previous=previous, window=window)
        if allowed_by_rule(current=c, previous=p, limit=limit, window=window, elapsed=e):
            return False, seconds
    raise AssertionError("never allowed")  # pragma: no cover - two windows later everything is allowed


CASES = [
    (current, previous, limit, window, offset)
    for limit, window in ((1, 60), (2, 60), (5, 90), (7, 100))
    for current in range(limit + 2)
    for previous in range(0, limit + 3)
    for offset in (0, 1, window // 3, window // 2, window - 1)
]


def test_the_decision_and_retry_after_follow_the_rule() -> None:
    """Whether a hit is allowed, its remaining count and a refusal's Retry-After match the rule second by second."""
    for current, previous, limit, window, offset in CASES:
        now = 10 * window + offset
        decision = sliding_decision(current=current, previous=previous, limit=limit, window_seconds=window, now=now)
        allowed, wait = oracle(current=current, previous=previous, limit=limit, window=window, now=now)
        case = (current, previous, limit, window, offset)
        assert (decision.allowed, decision.retry_after_seconds) == (allowed, wait), case
        assert decision.limit == limit, case
        if allowed:
            used = current + 1 + Fraction(previous * (window - offset), window)
            assert decision.remaining == max(math.floor(limit - used), 0), case
        else:
            assert decision.remaining == 0, case


#: Fractions of a second a clock reads: binary ones (exact in a float) and decimal ones (not).
FRACTIONS = (0.25, 0.5, 0.1, 0.3, 0.999, 0.000001)


def test_fractional_clocks_follow_the_rule_exactly() -> None:
    """Clocks read epoch floats, not whole seconds: the decision and the remaining count still follow the rule,
    computed here on the float's exact value with Fractions."""
    for limit, window in ((2, 60), (5, 900)):
        for fraction in FRACTIONS:
            now = 1_796_553_000 + window // 3 + fraction
            start = (int(now) // window) * window
            elapsed = Fraction(now) - start
            for current in range(limit + 2):
                for previous in range(limit + 3):
                    decision = sliding_decision(
                        current=current, previous=previous, limit=limit, window_seconds=window, now=now
                    )
                    allowed = allowed_by_rule(
                        current=current, previous=previous, limit=limit, window=window, elapsed=elapsed
                    )
                    case = (limit, window, fraction, current, previous)
                    assert decision.allowed == allowed, case
                    if allowed:
                        used = current + 1 + previous * (window - elapsed) / window
                        assert decision.remaining == max(math.floor(limit - used), 0), case


def test_the_latest_hit_a_whole_window_old_lets_one_in_to_the_last_bit() -> None:
    """At exactly ``last_hit + window`` nothing counted is in the window any more: allowed; a float later than
    that ``last_hit`` (one unit in the last place) and the full counts still refuse."""
    for window in (60, 900):
        for fraction in FRACTIONS:
            now = 1_796_553_000 + window // 2 + fraction
            last_hit = now - window
            assert Fraction(last_hit) + window == Fraction(now), "the subtraction is exact at these magnitudes"
            full = {"current": 3, "previous": 3, "limit": 3, "window_seconds": window, "now": now}
            assert sliding_decision(**full, last_hit=last_hit).allowed, fraction
            assert not sliding_decision(**full, last_hit=math.nextafter(last_hit, math.inf)).allowed, fraction


def oracle_with_latest(
    *, current: int, previous: int, limit: int, window: int, now: int, last_hit: int
) -> tuple[bool, int]:
    """(allowed now, Retry-After) when the latest counted hit was at ``last_hit``: either rule lets a hit in."""

    def allowed_at(t: Fraction) -> bool:
        if t - last_hit >= window:
            return True
        c, p, e = counts_at(t, now=now, current=current, previous=previous, window=window)
        return allowed_by_rule(current=c, previous=p, limit=limit, window=window, elapsed=e)

    if allowed_at(Fraction(now)):
        return True, 0
    for seconds in range(1, 3 * window + 2):
        if allowed_at(Fraction(now + seconds)):
            return False, seconds
    raise AssertionError("never allowed")  # pragma: no cover - a window after the latest hit it is allowed


def latest_hits(current: int, previous: int, window: int, now: int) -> list[int]:
    """Times the latest counted hit can have, given where the counts say the hits are."""
    start = (now // window) * window
    if current:
        return [start, (start + now) // 2, now]
    if previous:
        return [start - window, start - window // 2, start - 1]
    return []


def test_with_the_latest_hit_known_the_wait_follows_both_rules_and_never_exceeds_the_window() -> None:
    """A hit is let in by the estimate or once the latest counted hit is a window old; Retry-After <= the window."""
    checked = 0
    for current, previous, limit, window, offset in CASES:
        now = 10 * window + offset
        for last_hit in latest_hits(current, previous, window, now):
            decision = sliding_decision(
                current=current, previous=previous, limit=limit, window_seconds=window, now=now, last_hit=last_hit
            )
            expected = oracle_with_latest(
                current=current, previous=previous, limit=limit, window=window, now=now, last_hit=last_hit
            )
            case = (current, previous, limit, window, offset, last_hit)
            assert (decision.allowed, decision.retry_after_seconds) == expected, case
            assert decision.retry_after_seconds <= window, case
            checked += 1
    assert checked > 500


def test_a_worked_example_from_the_docs() -> None:
    """5 per 900 s, 5 hits in the window before: a hit 100 s in is refused for 80 s (5 × 800/900 > 4 until 180 s)."""
    decision = sliding_decision(current=0, previous=5, limit=5, window_seconds=900, now=1_000.0)
    assert decision == RateLimitDecision(allowed=False, limit=5, remaining=0, retry_after_seconds=80)


def test_a_fractional_clock_rounds_the_wait_up() -> None:
    """Refused 0.5 s before the estimate allows a hit, Retry-After is 1, never 0."""
    # 5 per 900 s, previous 5: allowed from 180 s into the window; at 179.5 s the wait is 0.5 s.
    decision = sliding_decision(current=0, previous=5, limit=5, window_seconds=900, now=900 + 179.5)
    assert (decision.allowed, decision.retry_after_seconds) == (False, 1)
    assert sliding_decision(current=0, previous=5, limit=5, window_seconds=900, now=900 + 180.0).allowed


# --- the condition groups -------------------------------------------------------------------------


def exact_max_current(*, previous: int, limit: int, window: int, elapsed: Fraction) -> int:
    """The largest current count the rule allows a hit at, or -1 when none."""
    best = -1
    for current in range(limit):
        if allowed_by_rule(current=current, previous=previous, limit=limit, window=window, elapsed=elapsed):
            best = current
    return best


def group_max(groups: list[tuple[int, int, int]], previous: int) -> int:
    """The current count the groups allow a hit up to, for ``previous`` (-1 when no group holds it)."""
    for low, high, max_current in groups:
        if low <= previous <= high:
            return max_current
    return -1


@pytest.mark.parametrize(
    ("limit", "window", "elapsed"), [(1, 60, 0), (5, 900, 100), (5, 900, 899), (24, 900, 450), (3, 10, 7), (24, 60, 1)]
)
def test_up_to_24_groups_are_the_rule_exactly(limit: int, window: int, elapsed: int) -> None:
    """For limits up to 24 the groups allow exactly the (previous, current) pairs the rule allows."""
    groups = condition_groups(limit=limit, window_seconds=window, elapsed=float(elapsed))
    assert len(groups) <= 24
    for previous in range(0, 4 * limit * window):
        expected = exact_max_current(previous=previous, limit=limit, window=window, elapsed=Fraction(elapsed))
        assert group_max(groups, previous) == expected, previous
        if expected == -1:
            break


@pytest.mark.parametrize(("limit", "elapsed"), [(25, 450), (60, 300), (100, 450), (30, 600)])
def test_more_than_24_groups_are_merged_never_letting_more_through(limit: int, elapsed: int) -> None:
    """Past 24 groups: at most 24, contiguous, the empty previous window exact, each merged group as strict as its
    strictest member, and never a hit the rule refuses."""
    window = 900
    groups = condition_groups(limit=limit, window_seconds=window, elapsed=float(elapsed))
    assert len(groups) <= 24
    assert groups[0] == (0, 0, limit - 1)  # nothing in the previous window: up to limit - 1 before this hit
    for (_, high, _), (low, _, _) in itertools.pairwise(groups):
        assert low == high + 1
    for low, high, max_current in groups:
        assert max_current == exact_max_current(previous=high, limit=limit, window=window, elapsed=Fraction(elapsed))
        for previous in range(low, high + 1):
            assert max_current <= exact_max_current(
                previous=previous, limit=limit, window=window, elapsed=Fraction(elapsed)
            )
    last_high = groups[-1][1]
    assert exact_max_current(previous=last_high + 1, limit=limit, window=window, elapsed=Fraction(elapsed)) == -1


def test_the_merge_starts_at_25_groups() -> None:
    """Limit 24 (24 groups) is kept exact; limit 25 at the same moment has 25 and is merged down to 24 or fewer."""
    # Half-way through a 900 s window each previous hit weighs 1/2: limit L gives L groups (0 | 1-2 | 3-4 | ...).
    exact = condition_groups(limit=24, window_seconds=900, elapsed=450.0)
    assert len(exact) == 24
    assert exact[1] == (1, 2, 22)
    merged = condition_groups(limit=25, window_seconds=900, elapsed=450.0)
    assert len(merged) < 25
    assert merged[1] == (1, 4, 22)  # (1-2, max 23) and (3-4, max 22) merged: the stricter 22 is kept


def test_a_merge_packs_the_groups_into_24() -> None:
    """Limit 46 half-way: 46 groups by hand, (0,0,45) then (1-2,44) ... (89-90,0); pairs merge into 24 groups."""
    merged = condition_groups(limit=46, window_seconds=900, elapsed=450.0)
    assert len(merged) == 24
    assert merged[:3] == [(0, 0, 45), (1, 4, 43), (5, 8, 41)]
    assert merged[-1] == (89, 90, 0)


# --- client identity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "prefix", "key"),
    [
        ("203.0.113.7", 64, "203.0.113.7"),
        (" 203.0.113.7 ", 64, "203.0.113.7"),
        ("2001:db8:0:0:ffff::1", 64, "2001:db8::/64"),
        ("2001:db8:0:1::1", 64, "2001:db8:0:1::/64"),
        ("2001:db8:aaaa:bbbb::1", 48, "2001:db8:aaaa::/48"),
        ("2001:db8::1", 128, "2001:db8::1/128"),
        ("8000::1", 1, "8000::/1"),
        ("::ffff:198.51.100.9", 64, "198.51.100.9"),
        ("not-an-address", 64, "not-an-address"),
        ("x" * 80, 64, "x" * 64),
    ],
)
def test_client_identity_by_hand(source: str, prefix: int, key: str) -> None:
    """IPv4 as itself, IPv6 by its prefix, mapped IPv4 as IPv4, anything else cut to 64 characters."""
    assert client_identity(source, ipv6_prefix=prefix) == key


@pytest.mark.parametrize("prefix", [0, 129, -1])
def test_a_prefix_outside_1_to_128_is_refused(prefix: int) -> None:
    """An IPv6 prefix length must be 1-128, for the identity and for the limiter."""
    with pytest.raises(ValueError, match="ipv6_prefix must be 1-128"):
        client_identity("2001:db8::1", ipv6_prefix=prefix)
    with pytest.raises(ValueError, match="ipv6_prefix must be 1-128"):
        RateLimiter(InMemoryRateLimitStore(), scope="submit", limit=5, window_seconds=900, ipv6_prefix=prefix)


@pytest.mark.parametrize("prefix", [1, 128])
def test_the_prefix_bounds_are_accepted(prefix: int) -> None:
    """1 and 128 are valid prefix lengths."""
    limiter = RateLimiter(InMemoryRateLimitStore(), scope="s", limit=1, window_seconds=1, ipv6_prefix=prefix)
    assert limiter.ipv6_prefix == prefix


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": ""}, "^scope must be a non-empty name without '#'$"),
        ({"scope": "a#b"}, "^scope must be a non-empty name without '#'$"),
        ({"limit": 0}, "^limit and window_seconds must be greater than zero$"),
        ({"window_seconds": 0}, "^limit and window_seconds must be greater than zero$"),
    ],
)
def test_bad_limiter_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    """A scope must be a name without '#', and limit and window must be positive."""
    settings: dict[str, Any] = {"scope": "submit", "limit": 5, "window_seconds": 900, **kwargs}
    with pytest.raises(ValueError, match=message):
        RateLimiter(InMemoryRateLimitStore(), **settings)


def test_the_limiter_counts_a_slash_64_as_one_client_under_its_scope() -> None:
    """Two addresses of one /64 share a count; another /64 and another scope count apart."""
    store = InMemoryRateLimitStore()
    clock = iter(float(1_000 + i) for i in range(100))
    submit = RateLimiter(store, scope="submit", limit=2, window_seconds=900, clock=lambda: next(clock))
    token = RateLimiter(store, scope="token", limit=2, window_seconds=900, clock=lambda: next(clock))
    assert [submit.check(ip).allowed for ip in ("2001:db8::1", "2001:db8::2", "2001:db8::3")] == [True, True, False]
    assert submit.check("2001:db8:0:1::1").allowed
    assert token.check("2001:db8::1").allowed
    assert (submit.scope, submit.limit, submit.window_seconds) == ("submit", 2, 900)


def test_the_limiter_uses_its_configured_prefix() -> None:
    """With a /48 prefix, two addresses in different /64s of one /48 are one client."""
    limiter = RateLimiter(
        InMemoryRateLimitStore(), scope="s", limit=1, window_seconds=900, ipv6_prefix=48, clock=lambda: 1_000.0
    )
    assert limiter.check("2001:db8:1:1::1").allowed
    assert not limiter.check("2001:db8:1:2::1").allowed


# --- the stores -----------------------------------------------------------------------------------


@pytest.fixture
def dynamodb(moto_dynamodb: Any, moto_table: str) -> Any:
    """A fresh service table in the in-process DynamoDB, deleted after the test."""
    return moto_dynamodb


def item(client: Any, key: str) -> dict[str, Any]:
    """The stored counter item for ``key``, as DynamoDB holds it."""
    return dict(client.get_item(TableName=TABLE, Key={"pk": {"S": f"rate#{key}"}}, ConsistentRead=True)["Item"])


def stores(client: Any) -> list[Any]:
    """Both stores: each must follow the same rule."""
    return [InMemoryRateLimitStore(), DynamoDBRateLimitStore(client, TABLE)]


def test_five_per_window_then_refused_with_the_wait_by_hand(dynamodb: Any) -> None:
    """5 per 900 s: hits at 1000-1004 s leave 4,3,2,1,0; the 6th at 1005 s waits until 1904 s (899 s).

    The estimate alone would hold it until 1980 s (975 s); at 1904 s the latest hit is a window old.
    """
    for store in stores(dynamodb):
        decisions = [store.hit("k", limit=5, window_seconds=900, now=1_000.0 + i) for i in range(6)]
        assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
        assert all(d.allowed for d in decisions[:5])
        assert decisions[5] == RateLimitDecision(allowed=False, limit=5, remaining=0, retry_after_seconds=899)
        # Refused hits are not counted: at 1904 s (the hit of 1004 s a window old) the next hit goes.
        assert not store.hit("k", limit=5, window_seconds=900, now=1_903.0).allowed
        assert store.hit("k", limit=5, window_seconds=900, now=1_904.0).allowed


def test_the_issues_example_waits_a_window_at_most(dynamodb: Any) -> None:
    """Limit 2 per 900 s, two hits 20 s into a window: the third is told 900 s (the issue saw 1,330), and gets in then.

    By hand: hits at 920 s; the estimate weighs both until 450 s into the next window (2 × 450/900 = 1), 1,350 s;
    but at 920 + 900 = 1,820 s nothing counted lies in the last 900 s.
    """
    for store in stores(dynamodb):
        assert [store.hit("i", limit=2, window_seconds=900, now=920.0).allowed for _ in range(2)] == [True, True]
        assert store.hit("i", limit=2, window_seconds=900, now=920.0) == RateLimitDecision(
            allowed=False, limit=2, remaining=0, retry_after_seconds=900
        )
        assert store.hit("i", limit=2, window_seconds=900, now=1_819.5).retry_after_seconds == 1
        assert store.hit("i", limit=2, window_seconds=900, now=1_820.0) == RateLimitDecision(
            allowed=True, limit=2, remaining=1, retry_after_seconds=0
        )


def test_the_boundary_attack_is_refused(dynamodb: Any) -> None:
    """Five hits at the end of one window and five at the start of the next: the second five are refused."""
    for store in stores(dynamodb):
        first = [store.hit("b", limit=5, window_seconds=900, now=1_795.0 + i) for i in range(5)]
        second = [store.hit("b", limit=5, window_seconds=900, now=1_801.0 + i) for i in range(5)]
        assert all(d.allowed for d in first)
        assert not any(d.allowed for d in second)


def test_the_item_holds_the_window_counter_and_its_expiry(dynamodb: Any) -> None:
    """The item rate#<key> counts hits in w<window start> and expires at the next window's end plus 60 s."""
    store = DynamoDBRateLimitStore(dynamodb, TABLE)
    store.hit("submit#203.0.113.7", limit=5, window_seconds=900, now=1_000.0)
    store.hit("submit#203.0.113.7", limit=5, window_seconds=900, now=1_001.0)
    stored = item(dynamodb, "submit#203.0.113.7")
    # Window [900, 1800): counter w900 = 2; the latest hit at 1001 s; expiry 1800 + 900 + 60.
    assert stored == {
        "pk": {"S": "rate#submit#203.0.113.7"},
        "w900": {"N": "2"},
        "lastHit": {"N": "1001"},
        "expiresAt": {"N": "2760"},
    }
    store.hit("submit#203.0.113.7", limit=5, window_seconds=900, now=1_002.25)
    assert item(dynamodb, "submit#203.0.113.7")["lastHit"] == {"N": "1002.25"}


def test_counters_too_old_to_matter_are_removed(dynamodb: Any) -> None:
    """Two and three windows later the old counter is removed; the previous window's counter stays."""
    store = DynamoDBRateLimitStore(dynamodb, TABLE)
    store.hit("k", limit=5, window_seconds=900, now=1_000.0)  # w900
    store.hit("k", limit=5, window_seconds=900, now=1_900.0)  # w1800; w900 is its previous window: kept
    assert set(item(dynamodb, "k")) == {"pk", "expiresAt", "lastHit", "w900", "w1800"}
    store.hit("k", limit=5, window_seconds=900, now=2_800.0)  # w2700: w900 is two windows back -> removed
    assert set(item(dynamodb, "k")) == {"pk", "expiresAt", "lastHit", "w1800", "w2700"}
    store.hit("k", limit=5, window_seconds=900, now=4_600.0)  # w4500: w2700 two back, w1800 three back -> removed
    assert set(item(dynamodb, "k")) == {"pk", "expiresAt", "lastHit", "w4500"}


def test_a_refusal_computes_the_wait_from_the_stored_counts(dynamodb: Any) -> None:
    """Counts written by another environment decide: previous 5, current 0, 100 s in -> refused for 80 s."""
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "rate#k"}, "w0": {"N": "5"}, "expiresAt": {"N": "9999"}})
    decision = DynamoDBRateLimitStore(dynamodb, TABLE).hit("k", limit=5, window_seconds=900, now=1_000.0)
    assert decision == RateLimitDecision(allowed=False, limit=5, remaining=0, retry_after_seconds=80)
    assert item(dynamodb, "k")["w0"] == {"N": "5"}
    assert "w900" not in item(dynamodb, "k")


def test_an_allowed_hit_reports_what_remains_from_the_stored_counts(dynamodb: Any) -> None:
    """Previous 2, current 1, half-way (450 s of 900): used = 1 + 1 + 2·½ = 3 of 5, so 2 remain."""
    dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": "rate#k"}, "w0": {"N": "2"}, "w900": {"N": "1"}, "expiresAt": {"N": "9999"}},
    )
    decision = DynamoDBRateLimitStore(dynamodb, TABLE).hit("k", limit=5, window_seconds=900, now=1_350.0)
    assert decision == RateLimitDecision(allowed=True, limit=5, remaining=2, retry_after_seconds=0)
    assert item(dynamodb, "k")["w900"] == {"N": "2"}


def test_a_hit_the_merged_condition_refuses_waits_one_second(dynamodb: Any) -> None:
    """Limit 100, half-way, previous 1, current 95: the rule allows (96.5 ≤ 100) but the merged group (1-10, max 94)
    does not, so the store refuses with Retry-After 1 and counts nothing."""
    dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": "rate#k"}, "w0": {"N": "1"}, "w900": {"N": "95"}, "expiresAt": {"N": "9999"}},
    )
    assert allowed_by_rule(current=95, previous=1, limit=100, window=900, elapsed=Fraction(450))
    decision = DynamoDBRateLimitStore(dynamodb, TABLE).hit("k", limit=100, window_seconds=900, now=1_350.0)
    assert decision == RateLimitDecision(allowed=False, limit=100, remaining=0, retry_after_seconds=1)
    assert item(dynamodb, "k")["w900"] == {"N": "95"}


def test_a_missing_table_is_unavailable_with_the_reason(dynamodb: Any) -> None:
    """A table that does not exist is RateLimitStoreUnavailable naming the table and DynamoDB's error code."""
    store = DynamoDBRateLimitStore(dynamodb, "no-such-table")
    with pytest.raises(RateLimitStoreUnavailable, match=r"\(no-such-table\) refused the update: ResourceNotFound"):
        store.hit("k", limit=5, window_seconds=900, now=1_000.0)


def test_an_error_without_a_code_is_unavailable_as_unknown() -> None:
    """A DynamoDB error carrying no code is still RateLimitStoreUnavailable, 'unknown error'."""
    client = boto3.client("dynamodb", region_name="eu-west-1")
    with Stubber(client) as stubber:
        stubber.add_client_error("update_item", service_error_code="", http_status_code=500)
        with pytest.raises(RateLimitStoreUnavailable, match=r"refused the update: unknown error$"):
            DynamoDBRateLimitStore(client, TABLE).hit("k", limit=5, window_seconds=900, now=1_000.0)


def test_an_unreachable_endpoint_is_unavailable() -> None:
    """No DynamoDB listening (a closed loopback port) is RateLimitStoreUnavailable, 'unreachable'."""
    client = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1),
    )
    store = DynamoDBRateLimitStore(client, TABLE)
    with pytest.raises(RateLimitStoreUnavailable, match=rf"\({TABLE}\) unreachable: EndpointConnectionError"):
        store.hit("k", limit=5, window_seconds=900, now=1_000.0)


def test_the_in_memory_store_forgets_windows_that_can_no_longer_matter() -> None:
    """A counter is held through the next window (as its previous) and pruned after."""
    store = InMemoryRateLimitStore()
    store.hit("a", limit=5, window_seconds=900, now=1_000.0)
    store.hit("a", limit=5, window_seconds=900, now=1_001.0)
    assert len(store) == 1
    store.hit("b", limit=5, window_seconds=900, now=2_699.0)  # window [1800, 2700): a's w900 still previous-of-next
    assert len(store) == 2
    store.hit("b", limit=5, window_seconds=900, now=2_700.0)  # w900 ends its usefulness at 2700
    assert len(store) == 2  # a's w900 gone, b's w1800 and w2700 held


def test_a_latest_hit_a_window_old_still_lets_one_in_after_an_older_window_is_forgotten(dynamodb: Any) -> None:
    """1 per 100 s. Hits at 10 s and 150 s (the first a window old by then) are let in. At 260 s the window of 10 s
    is forgotten, the counts alone (0 + 1 + 1 x 40/100 = 1.4 > 1) would refuse, but the hit of 150 s is 110 s old:
    allowed. Forgetting a window must not forget the latest hit while a later counter is still held."""
    for store in stores(dynamodb):
        assert store.hit("f", limit=1, window_seconds=100, now=10.0).allowed
        assert store.hit("f", limit=1, window_seconds=100, now=150.0).allowed
        assert store.hit("f", limit=1, window_seconds=100, now=260.0).allowed, type(store).__name__
        assert not store.hit("f", limit=1, window_seconds=100, now=261.0).allowed


def transact_hit(client: Any, store: DynamoDBRateLimitStore, now: float) -> RateLimitDecision:
    """One hit through the admission transaction's ``Update``, read the way the intake reads it."""
    limits = {"limit": 5, "window_seconds": 900, "now": now}
    try:
        client.transact_write_items(TransactItems=[store.hit_write("t", **limits)])
    except client.exceptions.TransactionCanceledException as exc:
        [reason] = exc.response["CancellationReasons"]
        assert reason["Code"] == "ConditionalCheckFailed"
        return store.refused(reason.get("Item"), **limits)
    return RateLimitDecision(allowed=True, limit=5, remaining=None, retry_after_seconds=0)


def test_the_admission_transactions_hit_follows_the_same_rule(dynamodb: Any) -> None:
    """The ``Update`` the intake puts in its transaction counts like a single hit: 5 per 900 s at 1000-1004 s let in,
    the 6th (1005 s) refused with the wait by hand (899 s: the hit of 1004 s is a window old at 1904 s), and the
    item holds the count and the expiry a single hit writes."""
    store = DynamoDBRateLimitStore(dynamodb, TABLE)
    decisions = [transact_hit(dynamodb, store, 1_000.0 + i) for i in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[5] == RateLimitDecision(allowed=False, limit=5, remaining=0, retry_after_seconds=899)
    stored = item(dynamodb, "t")
    assert stored["w900"] == {"N": "5"}  # refused hits are not counted
    assert stored["lastHit"] == {"N": "1004"}
    assert stored["expiresAt"] == {"N": "2760"}  # the window ends at 1800; the next one at 2700; a minute's slack
    assert transact_hit(dynamodb, store, 1_904.0).allowed


def test_a_refusal_without_the_item_still_refuses_for_a_second(dynamodb: Any) -> None:
    """A refusal whose reason carries no item (nothing returned with it) cannot be judged from the counts: it stays
    a refusal, with the shortest honest wait, never an "allowed" read off an empty item."""
    store = DynamoDBRateLimitStore(dynamodb, TABLE)
    for old in (None, "not an item", []):
        assert store.refused(old, limit=5, window_seconds=900, now=1_000.0) == RateLimitDecision(
            allowed=False, limit=5, remaining=0, retry_after_seconds=1
        )


def test_a_whole_second_clock_is_written_as_it_is(dynamodb: Any) -> None:
    """A clock that reads whole seconds as ``int`` (1000, not 1000.0): lastHit is 1000, not 1 (no zero stripped off
    a number without a decimal point), and the hit a window later is judged by it."""
    store = DynamoDBRateLimitStore(dynamodb, TABLE)
    assert store.hit("s", limit=1, window_seconds=900, now=1_000).allowed
    assert item(dynamodb, "s")["lastHit"] == {"N": "1000"}
    assert not store.hit("s", limit=1, window_seconds=900, now=1_899).allowed
    assert store.hit("s", limit=1, window_seconds=900, now=1_900).allowed
