"""Per-key fixed-window rate limiting that holds across Lambda execution environments.

Time is cut into windows of ``window_seconds`` aligned to the epoch (``[k*w, (k+1)*w)``). Each key may
be counted ``limit`` times per window; the next hit is refused until the window ends. A refused hit
does not count, so a client that keeps retrying is let in again as soon as the window rolls over.

In production the counters live in the service's DynamoDB table (:class:`DynamoDBRateLimitStore`):
each check is **one** conditional ``UpdateItem`` that increments the counter only while it is below
the limit, so concurrent execution environments can never let more than ``limit`` hits through.
Without a table, :class:`InMemoryRateLimitStore` counts per process.

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

import heapq
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ContactSdkError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "EXPIRY_SLACK_SECONDS",
    "DynamoDBRateLimitStore",
    "InMemoryRateLimitStore",
    "RateLimitDecision",
    "RateLimitStore",
    "RateLimitStoreUnavailable",
    "RateLimiter",
    "decide",
    "window_bounds",
]

#: Seconds a DynamoDB counter outlives its window, so a clock a little behind still finds it.
EXPIRY_SLACK_SECONDS = 60


class RateLimitStoreUnavailable(ContactSdkError):  # noqa: N818 - the name the service and the contract's codes use
    """The rate-limit store could not be asked. Nothing is known about the client's count.

    Raised by :class:`DynamoDBRateLimitStore` for every DynamoDB or connection failure other than the
    limit being reached (throttling, missing table, timeouts, refused connections), chained to the
    original error. Callers decide between refusing and degrading; see the module docstring.
    """


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """The outcome of one rate-limit check.

    ``remaining`` is how many more hits the current window allows after this one;
    ``retry_after_seconds`` is 0 when allowed, otherwise the whole seconds (at least 1) until the
    current window ends: the value of the ``Retry-After`` header.
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: int


def window_bounds(now: float, window_seconds: int) -> tuple[int, int]:
    """Return ``(start, end)`` in epoch seconds of the fixed window containing ``now``.

    >>> window_bounds(1_000.5, 900)
    (900, 1800)
    """
    start = math.floor(now / window_seconds) * window_seconds
    return start, start + window_seconds


def decide(*, hits: int, limit: int, window_seconds: int, now: float, allowed: bool) -> RateLimitDecision:
    """Build the decision for a key counted ``hits`` times in the window containing ``now``.

    Pure; both stores use it so they answer identically.

    >>> decide(hits=5, limit=5, window_seconds=900, now=1_000.5, allowed=False)
    RateLimitDecision(allowed=False, limit=5, remaining=0, retry_after_seconds=800)
    """
    if allowed:
        return RateLimitDecision(allowed=True, limit=limit, remaining=max(limit - hits, 0), retry_after_seconds=0)
    _, end = window_bounds(now, window_seconds)
    return RateLimitDecision(allowed=False, limit=limit, remaining=0, retry_after_seconds=max(math.ceil(end - now), 1))


class RateLimitStore(Protocol):
    """Counts hits per key and window, atomically."""

    def hit(self, key: str, *, limit: int, window_seconds: int, now: float) -> RateLimitDecision:
        """Count one hit for ``key`` in the window containing ``now`` if fewer than ``limit`` were counted.

        Raises :class:`RateLimitStoreUnavailable` when the store cannot be reached.
        """
        ...


class InMemoryRateLimitStore:
    """A thread-safe :class:`RateLimitStore` for one process: tests, local runs, Lambda without a table.

    Counters of ended windows are pruned on every call, so memory holds only the keys seen in the
    current window. It does not hold across Lambda execution environments.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, int], int] = {}
        self._by_end: list[tuple[int, str, int]] = []

    def __len__(self) -> int:
        """How many (key, window) counters are held."""
        with self._lock:
            return len(self._counters)

    def hit(self, key: str, *, limit: int, window_seconds: int, now: float) -> RateLimitDecision:
        """See :meth:`RateLimitStore.hit`."""
        start, end = window_bounds(now, window_seconds)
        with self._lock:
            self._prune(now)
            hits = self._counters.get((key, start), 0)
            if hits >= limit:
                return decide(hits=hits, limit=limit, window_seconds=window_seconds, now=now, allowed=False)
            if hits == 0:
                heapq.heappush(self._by_end, (end, key, start))
            self._counters[(key, start)] = hits + 1
        return decide(hits=hits + 1, limit=limit, window_seconds=window_seconds, now=now, allowed=True)

    def _prune(self, now: float) -> None:
        while self._by_end and self._by_end[0][0] <= now:
            _, key, start = heapq.heappop(self._by_end)
            self._counters.pop((key, start), None)


class DynamoDBRateLimitStore:
    """A :class:`RateLimitStore` in the service's DynamoDB table, shared by every Lambda execution environment.

    One item per key and window, ``rate#<key>#<window start>``, holding ``hits`` and the TTL attribute
    (window end plus :data:`EXPIRY_SLACK_SECONDS`). Each check is a single ``UpdateItem``
    ``ADD hits :one`` conditioned on ``attribute_not_exists(hits) OR hits < :limit``: DynamoDB
    serialises writes to one item, so the limit holds however many environments check at once.

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
        start, end = window_bounds(now, window_seconds)
        try:
            response = self._client.update_item(
                TableName=self._table_name,
                Key={PARTITION_KEY: {"S": f"rate#{key}#{start}"}},
                UpdateExpression="ADD #hits :one SET #expires = :expires",
                ConditionExpression="attribute_not_exists(#hits) OR #hits < :limit",
                ExpressionAttributeNames={"#hits": "hits", "#expires": TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":expires": {"N": str(end + EXPIRY_SLACK_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                # The refusal is fully determined by the window (nothing remains, wait until it ends), so
                # the old item is not fetched back with ReturnValuesOnConditionCheckFailure.
                return decide(hits=limit, limit=limit, window_seconds=window_seconds, now=now, allowed=False)
            raise RateLimitStoreUnavailable(
                f"DynamoDB rate-limit store ({self._table_name}) refused the update: {code or 'unknown error'}"
            ) from exc
        except BotoCoreError as exc:
            raise RateLimitStoreUnavailable(
                f"DynamoDB rate-limit store ({self._table_name}) unreachable: {type(exc).__name__}"
            ) from exc
        hits = int(response.get("Attributes", {}).get("hits", {}).get("N", str(limit)))
        return decide(hits=hits, limit=limit, window_seconds=window_seconds, now=now, allowed=True)


class RateLimiter:
    """One named limit: at most ``limit`` checks per client per fixed window of ``window_seconds``.

    ``scope`` separates limiters sharing a store (the service has ``"submit"``, 5 per 900 s, and
    ``"token"``, 30 per 900 s). ``clock`` gives epoch seconds.

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
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not scope or "#" in scope:
            raise ValueError("scope must be a non-empty name without '#'")
        if limit <= 0 or window_seconds <= 0:
            raise ValueError("limit and window_seconds must be greater than zero")
        self._store = store
        self._clock = clock
        self.scope = scope
        self.limit = limit
        self.window_seconds = window_seconds

    def check(self, client_ip: str) -> RateLimitDecision:
        """Count one request from ``client_ip`` and say whether it may proceed.

        Raises :class:`RateLimitStoreUnavailable` when the store cannot be reached.
        """
        return self._store.hit(
            f"{self.scope}#{client_ip}", limit=self.limit, window_seconds=self.window_seconds, now=self._clock()
        )
