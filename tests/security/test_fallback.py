"""The guards while DynamoDB is down: each instance's own memory, loudly (contact_sdk.security.fallback).

The shared stores are the real DynamoDB ones on moto in process. "Down" is a table that does not exist:
DynamoDB refuses the call as it would during an outage, and the store raises its ``*Unavailable`` error. What is
judged is what a visitor and the operator see: who is let through, and the WARNING line of every degraded check.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from contact_sdk.logs import build_logger
from contact_sdk.security.csrf import DynamoDBNonceStore, InMemoryNonceStore
from contact_sdk.security.fallback import FallbackNonceStore, FallbackRateLimitStore
from contact_sdk.security.ratelimit import DynamoDBRateLimitStore, InMemoryRateLimitStore
from tests.conftest import IN_PROCESS_TABLE as TABLE
from tests.log_lines import printed

NOW = 1_764_000_000.0
RATE_WARNING = "rate-limit store unavailable; limiting in this instance only"
NONCE_WARNING = "nonce store unavailable; single use enforced in this instance only"


@pytest.fixture
def dynamodb(moto_dynamodb: Any, moto_table: str) -> Any:
    """The in-process DynamoDB with the service's table."""
    return moto_dynamodb


def visits(store: FallbackRateLimitStore) -> list[bool]:
    """Three requests from one address and one from another, at a limit of two per window."""
    return [store.hit(key, limit=2, window_seconds=900, now=NOW).allowed for key in ("ip#a", "ip#a", "ip#a", "ip#b")]


def test_while_the_table_answers_the_limit_is_shared_and_nothing_is_logged(dynamodb: Any) -> None:
    """Each address has its own counter in the table, where every instance sees it."""
    with printed(build_logger()) as out:
        assert visits(FallbackRateLimitStore(DynamoDBRateLimitStore(dynamodb, TABLE))) == [True, True, False, True]
        another_instance = FallbackRateLimitStore(DynamoDBRateLimitStore(dynamodb, TABLE))
        assert not another_instance.hit("ip#a", limit=2, window_seconds=900, now=NOW + 1).allowed
    keys = sorted(item["pk"]["S"] for item in dynamodb.scan(TableName=TABLE)["Items"])
    assert keys == ["rate#ip#a", "rate#ip#b"]
    assert out.lines(RATE_WARNING) == []


def test_while_the_table_is_down_each_instance_limits_by_itself_and_every_check_warns(dynamodb: Any) -> None:
    """An outage is not an open door: this instance still counts each address; another instance counts its own."""
    with printed(build_logger()) as out:
        assert visits(FallbackRateLimitStore(DynamoDBRateLimitStore(dynamodb, "no-such-table"))) == [
            True,
            True,
            False,
            True,
        ]
        another_instance = FallbackRateLimitStore(DynamoDBRateLimitStore(dynamodb, "no-such-table"))
        assert another_instance.hit("ip#a", limit=2, window_seconds=900, now=NOW + 1).allowed
    error = "DynamoDB rate-limit store (no-such-table) refused the update: ResourceNotFoundException"
    assert [(line["level"], line["error"]) for line in out.lines(RATE_WARNING)] == [("WARNING", error)] * 5


def instance_with_the_table_down(dynamodb: Any) -> FallbackNonceStore:
    """One instance's nonce store, its table missing, its memory on the test's clock."""
    return FallbackNonceStore(
        DynamoDBNonceStore(dynamodb, "no-such-table", clock=lambda: NOW), InMemoryNonceStore(clock=lambda: NOW)
    )


def test_while_the_table_answers_a_token_is_spent_for_every_instance(dynamodb: Any) -> None:
    with printed(build_logger()) as out:
        here = FallbackNonceStore(DynamoDBNonceStore(dynamodb, TABLE, clock=lambda: NOW))
        there = FallbackNonceStore(DynamoDBNonceStore(dynamodb, TABLE, clock=lambda: NOW))
        assert [here.consume("n1", NOW + 3600), here.consume("n2", NOW + 3600)] == [True, True]
        assert [here.consume("n1", NOW + 3600), there.consume("n1", NOW + 3600)] == [False, False]
    assert out.lines(NONCE_WARNING) == []


def test_while_the_table_is_down_a_token_is_spent_once_per_instance_and_every_check_warns(dynamodb: Any) -> None:
    """The documented cost of an outage: a token (which anyone may fetch) can be replayed once per other instance."""
    with printed(build_logger()) as out:
        here, there = instance_with_the_table_down(dynamodb), instance_with_the_table_down(dynamodb)
        assert [here.consume("n1", NOW + 3600), here.consume("n2", NOW + 3600)] == [True, True]
        assert [here.consume("n1", NOW + 3600), there.consume("n1", NOW + 3600)] == [False, True]
    error = "DynamoDB nonce store (no-such-table) refused the write: ResourceNotFoundException"
    assert [(line["level"], line["error"]) for line in out.lines(NONCE_WARNING)] == [("WARNING", error)] * 4


def test_the_memory_given_is_the_memory_used(dynamodb: Any) -> None:
    """An SDK user's own in-memory stores, empty when handed over, are the ones the fallbacks fill: two limiters
    sharing one count together, and the service's clock (given to its store) decides when a spent token is
    forgotten. (An empty in-memory store is falsy; ``fallback or InMemory...()`` replaced it with a new one.)"""
    shared = InMemoryRateLimitStore()
    first = FallbackRateLimitStore(DynamoDBRateLimitStore(dynamodb, "no-such-table"), shared)
    second = FallbackRateLimitStore(DynamoDBRateLimitStore(dynamodb, "no-such-table"), shared)
    assert [store.hit("ip#a", limit=2, window_seconds=900, now=NOW).allowed for store in (first, second, first)] == [
        True,
        True,
        False,
    ]
    nonces = instance_with_the_table_down(dynamodb)
    assert [nonces.consume("n1", NOW + 3600), nonces.consume("n1", NOW + 3600)] == [True, False]


def test_without_a_memory_given_each_fallback_keeps_its_own(dynamodb: Any) -> None:
    """The default: a memory of its own, on the wall clock (as the default service's), so a token an hour from
    expiry is refused the second time."""
    store = FallbackNonceStore(DynamoDBNonceStore(dynamodb, "no-such-table"))
    expires = time.time() + 3600
    assert [store.consume("n1", expires), store.consume("n1", expires)] == [True, False]
