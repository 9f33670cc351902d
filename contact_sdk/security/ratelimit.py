"""Per-client sliding-window rate limiting that holds across Lambda execution environments.

**Who is a client.** :func:`client_identity` turns the source address API Gateway saw into the key
that is counted: an IPv4 address as itself, an IPv6 address by its network prefix (``/64`` by default,
``CONTACT_RATE_LIMIT_IPV6_PREFIX``: one subscriber owns at least a /64 and can rotate through it at
will), and an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) as the IPv4 address it carries.

**The window.** Time is cut into fixed windows of ``window_seconds`` aligned to the epoch, and each
key's hits are counted per window, but a hit is judged against a *sliding* window: the hits of the
current window plus the previous window's hits weighted by how much of the previous window the
sliding window still covers (the estimate Cloudflare and others use). A hit at ``elapsed`` seconds
into the current window is allowed when::

    current + 1 + previous * (window - elapsed) / window  <=  limit

so a client that spent its allowance at the end of one window cannot spend it again at the start of
the next: across any boundary the total in one window length stays at ``limit`` (the weighting
assumes the previous window's hits were spread evenly; the test suite checks the boundary attack).
A refused hit does not count.

**Never longer than the window.** The even-spread assumption can overshoot: with 2 per 900 s and
both hits 20 s into a window, the estimate keeps weighing them until 450 s into the *next* window,
1,330 s after they were made, though no hit of the last 900 s remains by then. So each key also keeps
the time of its latest counted hit, and a hit is allowed whenever that one is a whole window old
(nothing counted lies in the last ``window_seconds``, exactly, so letting one in can never exceed the
limit). ``Retry-After`` is the exact time, rounded up to whole seconds, until the first of the two
rules lets the next hit in, if the client sends nothing meanwhile: never more than ``window_seconds``.

In production the counters live in the service's DynamoDB table (:class:`DynamoDBRateLimitStore`):
one item per key holding the counters of the current and previous windows and the latest hit's time,
and each check is **one** conditional ``UpdateItem``. DynamoDB's condition expressions cannot do
arithmetic, so the rule above is written out as a disjunction over the possible ``previous`` counts
(see :func:`condition_groups`), or'd with ``latest hit <= now - window``; DynamoDB serialises writes
to one item, so concurrent execution
environments can never let more through than the rule allows. Without a table,
:class:`InMemoryRateLimitStore` counts per process with the same rule.

When DynamoDB cannot be reached the store raises :class:`RateLimitStoreUnavailable` rather than
guessing an answer; what happens then is the caller's decision, made in one place. The service
wraps the store in :class:`~contact_sdk.security.fallback.FallbackRateLimitStore`, which keeps
limiting in the execution environment's own memory and logs a warning (``docs/security.md``).

Example::

    limiter = RateLimiter(DynamoDBRateLimitStore(dynamodb, table_name), scope="submit", limit=5, window_seconds=900)
    decision = limiter.check(event["requestContext"]["identity"]["sourceIp"])
    if not decision.allowed:
        ...  # 429, Retry-After: decision.retry_after_seconds

Errors::

    ContactSdkError
    └── RateLimitStoreUnavailable   the counter store could not be asked (DynamoDB down, table missing, ...)
"""

from __future__ import annotations

import functools
import heapq
import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ContactSdkError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "DEFAULT_IPV6_PREFIX",
    "EXPIRY_SLACK_SECONDS",
    "MAX_CONDITION_GROUPS",
    "DynamoDBRateLimitStore",
    "InMemoryRateLimitStore",
    "RateLimitDecision",
    "RateLimitStore",
    "RateLimitStoreUnavailable",
    "RateLimiter",
    "address_unit",
    "client_identity",
    "condition_groups",
    "sliding_decision",
    "window_bounds",
]

#: Seconds a DynamoDB counter outlives the last window it can matter to, so a clock a little behind still finds it.
EXPIRY_SLACK_SECONDS = 60
#: IPv6 addresses are counted by this prefix unless configured otherwise (one subscriber holds a /64 at least).
DEFAULT_IPV6_PREFIX = 64
#: The most ``previous``-count groups written into one DynamoDB condition (keeps the expression far below 4 KB).
MAX_CONDITION_GROUPS = 24
_MAX_UNPARSED_KEY = 64


class RateLimitStoreUnavailable(ContactSdkError):  # noqa: N818 - the name the service and the contract's codes use
    """The rate-limit store could not be asked. Nothing is known about the client's count.

    Raised by :class:`DynamoDBRateLimitStore` for every DynamoDB or connection failure other than the
    limit being reached (throttling, missing table, timeouts, refused connections), chained to the
    original error. Callers decide between refusing and degrading; see the module docstring.
    """


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """The outcome of one rate-limit check.

    ``remaining`` is how many more hits the sliding window allows right now after this one (``None``
    when the hit was counted inside a transaction, which returns nothing on success);
    ``retry_after_seconds`` is 0 when allowed, otherwise the whole seconds (at least 1) until the
    next hit would be allowed: the value of the ``Retry-After`` header.
    """

    allowed: bool
    limit: int
    remaining: int | None
    retry_after_seconds: int


def window_bounds(now: float, window_seconds: int) -> tuple[int, int]:
    """Return ``(start, end)`` in epoch seconds of the fixed window containing ``now``.

    >>> window_bounds(1_000.5, 900)
    (900, 1800)
    """
    start = math.floor(now / window_seconds) * window_seconds
    return start, start + window_seconds


def address_unit(source_ip: str, *, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str | None:
    """What the rate limit counts of a source address: IPv4 as is, IPv6 by its ``/ipv6_prefix``, mapped IPv4 as IPv4.

    ``None`` for something that is not an address. The submission record keeps this too (its ``source``), so
    it never holds more of the address than the limit needs.

    >>> address_unit("2001:db8:1:2:3:4:5:6", ipv6_prefix=48)
    '2001:db8:1::/48'
    >>> address_unit("unknown") is None
    True
    """
    return _recent_units(source_ip, ipv6_prefix)


def _unit_of(source_ip: str, ipv6_prefix: int) -> str | None:
    if not 1 <= ipv6_prefix <= 128:
        raise ValueError(f"ipv6_prefix must be 1-128, got {ipv6_prefix}")
    try:
        address = ipaddress.ip_address(source_ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    shift = 128 - ipv6_prefix
    network = ipaddress.IPv6Network(((int(address) >> shift) << shift, ipv6_prefix))
    return str(network)


#: A submission asks for its address's unit twice (its limit's key, its record's source), and follows its token
#: request from the same address: parsed once (~3 us each) for the last this-many addresses.
_RECENT_ADDRESSES = 1024
_recent_units = functools.lru_cache(maxsize=_RECENT_ADDRESSES)(_unit_of)


def client_identity(source_ip: str, *, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """The rate-limit key of a source address: its :func:`address_unit`.

    >>> client_identity("2001:db8::1")
    '2001:db8::/64'
    >>> client_identity("::ffff:192.0.2.7")
    '192.0.2.7'
    >>> client_identity("2001:db8:1:2:3:4:5:6", ipv6_prefix=48)
    '2001:db8:1::/48'

    Something that is not an address (API Gateway always sends one; ``"unknown"`` when absent) is
    counted under its own (bounded) spelling.
    """
    unit = address_unit(source_ip, ipv6_prefix=ipv6_prefix)
    return source_ip[:_MAX_UNPARSED_KEY] if unit is None else unit


def _wait_seconds(*, current: int, previous: int, limit: int, window_seconds: int, elapsed: Fraction) -> Fraction:
    """How long until a refused hit would be allowed if nothing else is counted meanwhile.

    Only called for a hit :func:`sliding_decision` has refused: ``current + 1 + previous * (W - elapsed) / W``
    is above ``limit``.
    """
    w = window_seconds
    if current + 1 <= limit and previous > 0:
        # Still in this window: previous * (W - e) <= (limit - current - 1) * W.
        needed = w - Fraction((limit - current - 1) * w, previous)
        if needed < w:
            return needed - elapsed
    # In the next window this window's hits become ``previous`` and ``current`` starts at zero.
    needed_next = w - Fraction((limit - 1) * w, current) if current > 0 else Fraction(0)
    return (w - elapsed) + max(needed_next, Fraction(0))


def sliding_decision(
    *, current: int, previous: int, limit: int, window_seconds: int, now: float, last_hit: float | None = None
) -> RateLimitDecision:
    """Judge one hit: ``current`` hits in the window containing ``now``, ``previous`` in the one before.

    ``last_hit`` is the time of the key's latest counted hit (``None``: unknown). Once it is a whole
    window old, nothing counted lies in the sliding window and the hit is allowed whatever the counts;
    a refusal's wait is never longer than until then, so it is at most ``window_seconds`` when
    ``last_hit`` is known (see the module docstring). Pure; both stores use it (the DynamoDB store
    through the condition it writes, then for the answer).

    >>> sliding_decision(current=0, previous=5, limit=5, window_seconds=900, now=1_000.0)
    RateLimitDecision(allowed=False, limit=5, remaining=0, retry_after_seconds=80)
    >>> sliding_decision(current=1, previous=0, limit=5, window_seconds=900, now=1_000.0)
    RateLimitDecision(allowed=True, limit=5, remaining=3, retry_after_seconds=0)
    >>> sliding_decision(current=2, previous=0, limit=2, window_seconds=900, now=920.0, last_hit=920.0)
    RateLimitDecision(allowed=False, limit=2, remaining=0, retry_after_seconds=900)
    """
    start, _ = window_bounds(now, window_seconds)
    # Exact arithmetic on integers: a float is n / d with d a power of two, so every comparison below is
    # multiplied through by d (and by the latest hit's own d). Fractions give the same answers and cost
    # ~15 us per call, on every request (the refusal below, which is rare, still uses them).
    now_n, now_d = now.as_integer_ratio()
    w = window_seconds
    # The latest counted hit's window has passed in full: every counted hit is outside the sliding window.
    if last_hit is not None:
        last_n, last_d = last_hit.as_integer_ratio()
        if (last_n + w * last_d) * now_d <= now_n * last_d:  # last_hit + W <= now
            current = previous = 0
    # What the previous window still weighs, times W * d: previous * (W - elapsed) * d, elapsed = now - start.
    weighed = previous * (w * now_d - (now_n - start * now_d))
    if (current + 1 - limit) * w * now_d + weighed <= 0:
        # used = current + 1 + weighed / (W * d); remaining = floor(limit - used), never below zero.
        remaining = limit - current - 1 - -(-weighed // (w * now_d))
        return RateLimitDecision(allowed=True, limit=limit, remaining=max(remaining, 0), retry_after_seconds=0)
    elapsed = Fraction(now) - start
    left_of_latest = Fraction(last_hit) + window_seconds - Fraction(now) if last_hit is not None else None
    wait = _wait_seconds(
        current=current, previous=previous, limit=limit, window_seconds=window_seconds, elapsed=elapsed
    )
    if left_of_latest is not None:
        wait = min(wait, left_of_latest)
    return RateLimitDecision(allowed=False, limit=limit, remaining=0, retry_after_seconds=max(math.ceil(wait), 1))


def condition_groups(*, limit: int, window_seconds: int, elapsed: float) -> list[tuple[int, int, int]]:
    """The sliding rule as ``(previous_low, previous_high, max_current)`` groups, for a condition without arithmetic.

    A hit is allowed iff the previous window's count lies in one group's ``[low, high]`` and the
    current count is at most its ``max_current``. Exact as long as there are at most
    :data:`MAX_CONDITION_GROUPS` groups (limits up to 24 always are); beyond that the first group
    (an empty previous window) stays exact and the others are merged, each keeping the smallest
    ``max_current`` of those it absorbs, so the condition may refuse a hit slightly early but never
    lets one more through.

    >>> condition_groups(limit=2, window_seconds=900, elapsed=450.0)
    [(0, 0, 1), (1, 2, 0)]
    """
    # elapsed = n / d exactly (a float's d is a power of two); W - elapsed = (W * d - n) / d, in integers.
    elapsed_n, elapsed_d = elapsed.as_integer_ratio()
    remaining_times_d = window_seconds * elapsed_d - elapsed_n

    def highest_previous(k: int) -> int:
        # The most hits the previous window may hold for k more to fit: previous * (W - elapsed) <= k * W.
        return (k * window_seconds * elapsed_d) // remaining_times_d

    # One exact group per current count: max_current = limit - 1 - k for previous in (highest(k-1), highest(k)].
    # highest() grows by at least 1 per k (W - elapsed <= W), so every k gives a group: ``limit`` of them.
    if limit <= MAX_CONDITION_GROUPS:
        groups: list[tuple[int, int, int]] = []
        low = 0
        for k in range(limit):
            high = highest_previous(k)
            if high >= low:
                groups.append((low, high, limit - 1 - k))
                low = high + 1
        return groups
    # The first group (no hits in the previous window: most clients) stays exact; the others are merged in
    # runs of ``size`` consecutive k, computed at the runs' ends only: the work does not grow with the limit.
    size = math.ceil((limit - 1) / (MAX_CONDITION_GROUPS - 1))
    merged = [(0, highest_previous(0), limit - 1)]
    for first in range(1, limit, size):
        last = min(first + size - 1, limit - 1)
        merged.append((highest_previous(first - 1) + 1, highest_previous(last), limit - 1 - last))
    return merged


class RateLimitStore(Protocol):
    """Counts hits per key and window, atomically, and judges each against the sliding window."""

    def hit(self, key: str, *, limit: int, window_seconds: int, now: float) -> RateLimitDecision:
        """Count one hit for ``key`` at ``now`` if the rule allows it (see the module docstring).

        Raises :class:`RateLimitStoreUnavailable` when the store cannot be reached.
        """
        ...


class InMemoryRateLimitStore:
    """A thread-safe :class:`RateLimitStore` for one process: tests, local runs, Lambda without a table.

    A window's counter is kept while it can still be the "previous" window and pruned on the next call
    after that, so memory holds only the keys seen in the last two windows; a key's latest hit time is
    kept as long as one of its counters is. It does not hold across Lambda execution environments.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, int], int] = {}
        self._by_expiry: list[tuple[int, str, int]] = []
        self._last_hit: dict[str, float] = {}
        self._live_windows: dict[str, int] = {}

    def __len__(self) -> int:
        """How many (key, window) counters are held."""
        with self._lock:
            return len(self._counters)

    def hit(self, key: str, *, limit: int, window_seconds: int, now: float) -> RateLimitDecision:
        """See :meth:`RateLimitStore.hit`."""
        start, end = window_bounds(now, window_seconds)
        with self._lock:
            self._prune(now)
            current = self._counters.get((key, start), 0)
            previous = self._counters.get((key, start - window_seconds), 0)
            decision = sliding_decision(
                current=current,
                previous=previous,
                limit=limit,
                window_seconds=window_seconds,
                now=now,
                last_hit=self._last_hit.get(key),
            )
            if decision.allowed:
                if current == 0:
                    # Needed until the end of the next window, where it is the "previous" one.
                    heapq.heappush(self._by_expiry, (end + window_seconds, key, start))
                    self._live_windows[key] = self._live_windows.get(key, 0) + 1
                self._counters[(key, start)] = current + 1
                self._last_hit[key] = now
        return decision

    def _prune(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] <= now:
            _, key, start = heapq.heappop(self._by_expiry)
            self._counters.pop((key, start), None)
            self._live_windows[key] -= 1
            if not self._live_windows[key]:
                del self._live_windows[key]
                self._last_hit.pop(key, None)


def _counter(window_start: int) -> str:
    return f"w{window_start}"


def _count(item: dict[str, Any], window_start: int) -> int:
    value = item.get(_counter(window_start), {}).get("N")
    return int(value) if value is not None else 0


#: The item attribute holding the time of the key's latest counted hit (epoch seconds).
_LAST_HIT = "lastHit"


def _last_hit(item: dict[str, Any]) -> float | None:
    value = item.get(_LAST_HIT, {}).get("N")
    return float(value) if value is not None else None


def _number(value: Decimal) -> str:
    """A DynamoDB number in plain notation, as DynamoDB itself writes it back (no trailing zeros)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class DynamoDBRateLimitStore:
    """A :class:`RateLimitStore` in the service's DynamoDB table, shared by every Lambda execution environment.

    One item per key, ``rate#<key>``, with one counter attribute per window (``w<window start>``), the
    latest counted hit's time (``lastHit``) and the TTL attribute (the end of the next window plus
    :data:`EXPIRY_SLACK_SECONDS`). Each check is a single ``UpdateItem``: ``ADD`` one to the current
    window's counter, ``SET`` ``lastHit``, ``REMOVE`` counters too old to matter, conditioned on the
    sliding rule written out by :func:`condition_groups` over the current and previous counters, or on
    ``lastHit`` being a whole window old. DynamoDB serialises writes to one item, so the limit holds
    however many environments check at once. Both outcomes return the old item (``ALL_OLD``, and
    ``ReturnValuesOnConditionCheckFailure`` for a refusal) so the answer and ``Retry-After`` are
    computed from the real counts, with no second call. (An item written before ``lastHit`` existed
    is judged by the counts alone until it expires, at most two windows later.)

    Example::

        store = DynamoDBRateLimitStore(boto3.client("dynamodb"), "contact-prod")
    """

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def hit(self, key: str, *, limit: int, window_seconds: int, now: float) -> RateLimitDecision:
        """See :meth:`RateLimitStore.hit`.

        Any failure other than the limit being reached raises :class:`RateLimitStoreUnavailable`.
        """
        request = self._update(key, limit=limit, window_seconds=window_seconds, now=now)
        try:
            response = self._client.update_item(**request, ReturnValues="ALL_OLD")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                returned: Any = exc.response.get("Item")
                return self.refused(returned, limit=limit, window_seconds=window_seconds, now=now)
            raise RateLimitStoreUnavailable(
                f"DynamoDB rate-limit store ({self._table_name}) refused the update: {code or 'unknown error'}"
            ) from exc
        except BotoCoreError as exc:
            raise RateLimitStoreUnavailable(
                f"DynamoDB rate-limit store ({self._table_name}) unreachable: {type(exc).__name__}"
            ) from exc
        before: dict[str, Any] = dict(response.get("Attributes", {}))
        start = window_bounds(now, window_seconds)[0]
        return sliding_decision(
            current=_count(before, start),
            previous=_count(before, start - window_seconds),
            limit=limit,
            window_seconds=window_seconds,
            now=now,
            last_hit=_last_hit(before),
        )

    def hit_write(self, key: str, *, limit: int, window_seconds: int, now: float) -> dict[str, Any]:
        """The same hit as an ``Update`` of a ``TransactWriteItems`` (the intake's admission transaction).

        A transaction returns no values on success: the decision is then "allowed", with ``remaining``
        unknown (``None``); on a refusal, :meth:`refused` reads the item the transaction returns.
        """
        return {"Update": self._update(key, limit=limit, window_seconds=window_seconds, now=now)}

    def refused(self, old: Any, *, limit: int, window_seconds: int, now: float) -> RateLimitDecision:
        """The decision when the hit's condition failed, computed from the item as it was."""
        item: dict[str, Any] = dict(old) if isinstance(old, dict) else {}
        start = window_bounds(now, window_seconds)[0]
        decision = sliding_decision(
            current=_count(item, start),
            previous=_count(item, start - window_seconds),
            limit=limit,
            window_seconds=window_seconds,
            now=now,
            last_hit=_last_hit(item),
        )
        if decision.allowed:  # merged condition groups refused a hit the exact rule allows: wait a second
            return RateLimitDecision(allowed=False, limit=limit, remaining=0, retry_after_seconds=1)
        return decision

    def _update(self, key: str, *, limit: int, window_seconds: int, now: float) -> dict[str, Any]:
        start, end = window_bounds(now, window_seconds)
        previous_start = start - window_seconds
        groups = condition_groups(limit=limit, window_seconds=window_seconds, elapsed=now - start)
        names = {
            "#cur": _counter(start),
            "#prev": _counter(previous_start),
            "#old1": _counter(start - 2 * window_seconds),
            "#old2": _counter(start - 3 * window_seconds),
            "#expires": TTL_ATTRIBUTE,
            "#last": _LAST_HIT,
        }
        exact_now = Decimal(repr(now))  # the float's shortest decimal spelling, which float() reads back as is
        values: dict[str, Any] = {
            ":one": {"N": "1"},
            ":expires": {"N": str(end + window_seconds + EXPIRY_SLACK_SECONDS)},
            ":now": {"N": _number(exact_now)},
            ":stale": {"N": _number(exact_now - window_seconds)},
        }
        # Every counted hit at least a window old: nothing is in the sliding window, whatever the counts say.
        clauses: list[str] = ["#last <= :stale"]
        for index, (low, high, max_current) in enumerate(groups):
            values[f":lo{index}"] = {"N": str(low)}
            values[f":hi{index}"] = {"N": str(high)}
            values[f":max{index}"] = {"N": str(max_current)}
            previous_in = f"#prev BETWEEN :lo{index} AND :hi{index}"
            if low == 0:
                previous_in = f"(attribute_not_exists(#prev) OR {previous_in})"
            clauses.append(f"({previous_in} AND (attribute_not_exists(#cur) OR #cur <= :max{index}))")
        return {
            "TableName": self._table_name,
            "Key": {PARTITION_KEY: {"S": f"rate#{key}"}},
            "UpdateExpression": "ADD #cur :one SET #expires = :expires, #last = :now REMOVE #old1, #old2",
            "ConditionExpression": " OR ".join(clauses),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }


class RateLimiter:
    """One named limit: at most ``limit`` checks per client per sliding window of ``window_seconds``.

    ``scope`` separates limiters sharing a store (the service has ``"submit"``, 5 per 900 s, and
    ``"token"``, 30 per 900 s). Clients are identified by :func:`client_identity` with
    ``ipv6_prefix``. ``clock`` gives epoch seconds.

    Example::

        limiter = RateLimiter(InMemoryRateLimitStore(), scope="token", limit=30, window_seconds=900)
        limiter.check("203.0.113.7").allowed    # True
    """

    def __init__(
        self,
        store: RateLimitStore,
        *,
        scope: str,
        limit: int,
        window_seconds: int,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not scope or "#" in scope:
            raise ValueError("scope must be a non-empty name without '#'")
        if limit <= 0 or window_seconds <= 0:
            raise ValueError("limit and window_seconds must be greater than zero")
        if not 1 <= ipv6_prefix <= 128:
            raise ValueError(f"ipv6_prefix must be 1-128, got {ipv6_prefix}")
        self._store = store
        self._clock = clock
        self.scope = scope
        self.limit = limit
        self.window_seconds = window_seconds
        self.ipv6_prefix = ipv6_prefix

    def check(self, client_ip: str) -> RateLimitDecision:
        """Count one request from ``client_ip`` (keyed by :func:`client_identity`) and say whether it may proceed.

        Raises :class:`RateLimitStoreUnavailable` when the store cannot be reached.
        """
        key, now = self.hit_for(client_ip)
        return self._store.hit(key, limit=self.limit, window_seconds=self.window_seconds, now=now)

    def hit_for(self, client_ip: str) -> tuple[str, float]:
        """The store key and the time of one hit from ``client_ip`` (for a hit counted in a transaction)."""
        client = client_identity(client_ip, ipv6_prefix=self.ipv6_prefix)
        return f"{self.scope}#{client}", self._clock()

    @property
    def store(self) -> RateLimitStore:
        """Where the hits are counted."""
        return self._store
