"""What one visitor leaves in the table: the rate-limit counters of both routes and the used CSRF nonce, against moto.

Each item is compared with its layout written out by hand, and its size with DynamoDB's item-size rules applied by
hand in the test's docstring (``docs/performance.md``, "Per-visitor state", has the same arithmetic). The clock is
fixed, so the numbers are too: 1,764,547,234.25 is 34.25 s into the 900-second window that starts at 1,764,547,200.
"""

from __future__ import annotations

from typing import Any

import pytest

from contact_sdk.devtools.capacity import STORAGE_OVERHEAD, item_size
from contact_sdk.security.csrf import CsrfTokens, DynamoDBNonceStore
from contact_sdk.security.ratelimit import DynamoDBRateLimitStore, RateLimiter
from tests.conftest import aws_client

pytestmark = pytest.mark.integration

NOW = 1_764_547_234.25
WINDOW = 900
SECRET = b"a-csrf-secret-that-is-long-enough"
ORIGIN = "https://www.example.com"


class Clock:
    """A settable clock."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dynamodb(aws: str) -> Any:
    return aws_client(aws, "dynamodb")


def item(dynamodb: Any, table: str, pk: str) -> dict[str, Any]:
    """The item as stored."""
    return dict(dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}})["Item"])


def limiter(dynamodb: Any, table: str, clock: Clock, *, scope: str, limit: int) -> RateLimiter:
    return RateLimiter(
        DynamoDBRateLimitStore(dynamodb, table), scope=scope, limit=limit, window_seconds=WINDOW, clock=clock
    )


def test_a_token_route_counter_is_67_bytes_and_expires_two_windows_on(contact_table: str, dynamodb: Any) -> None:
    """One hit: pk (2 + 23 bytes), the window's counter w1764547200 = 1 (11 + 2), lastHit (7 + 12 digits: 7),
    expiresAt = window end 1764548100 + 900 + 60 (9 + 9 digits: 6) = 25 + 13 + 14 + 15 = 67 bytes."""
    limiter(dynamodb, contact_table, Clock(), scope="token", limit=30).check("203.0.113.10")
    stored = item(dynamodb, contact_table, "rate#token#203.0.113.10")
    assert stored == {
        "pk": {"S": "rate#token#203.0.113.10"},
        "w1764547200": {"N": "1"},
        "lastHit": {"N": "1764547234.25"},
        "expiresAt": {"N": "1764549060"},
    }
    assert item_size(stored) == 67
    assert item_size(stored) + STORAGE_OVERHEAD == 167


def test_a_counter_never_holds_more_than_two_windows(contact_table: str, dynamodb: Any) -> None:
    """A visitor back in each of four windows: the item keeps the current and the previous counter only (80 bytes:
    a second counter, 13 more), and its TTL moves with the last hit."""
    clock = Clock()
    check = limiter(dynamodb, contact_table, clock, scope="submit", limit=5).check
    for window in range(4):
        clock.now = NOW + window * WINDOW
        assert check("203.0.113.10").allowed
    stored = item(dynamodb, contact_table, "rate#submit#203.0.113.10")
    assert stored == {
        "pk": {"S": "rate#submit#203.0.113.10"},
        "w1764549000": {"N": "1"},
        "w1764549900": {"N": "1"},
        "lastHit": {"N": "1764549934.25"},
        "expiresAt": {"N": "1764551760"},
    }
    assert item_size(stored) == 26 + 13 + 13 + 14 + 15


def test_an_ipv6_visitor_is_counted_by_its_64(contact_table: str, dynamodb: Any) -> None:
    """2001:db8:1:2:3:4:5:6 is counted as 2001:db8:1:2::/64: the key is 5 bytes longer than 203.0.113.10's."""
    limiter(dynamodb, contact_table, Clock(), scope="submit", limit=5).check("2001:db8:1:2:3:4:5:6")
    stored = item(dynamodb, contact_table, "rate#submit#2001:db8:1:2::/64")
    assert item_size(stored) == 68 + 5


def test_a_used_nonce_is_44_bytes_and_lives_as_long_as_its_token(contact_table: str, dynamodb: Any) -> None:
    """The token issued at NOW expires at floor(NOW) + 3600 = 1764550834; its nonce item is pk (2 + 5 + 22) and
    expiresAt (9 + 10 digits: 6) = 29 + 15 = 44 bytes; a token that is never sent leaves nothing."""
    clock = Clock()
    nonces = DynamoDBNonceStore(dynamodb, contact_table, clock=clock)
    drawn = iter([b"\xff" * 16, bytes(16)])
    tokens = CsrfTokens(nonces=nonces, clock=clock, random_bytes=lambda n: next(drawn))
    tokens.issue(SECRET, ORIGIN)  # never sent: its nonce, /////..., is never written
    token = tokens.issue(SECRET, ORIGIN)
    tokens.verify_and_consume(SECRET, ORIGIN, token)
    [stored] = dynamodb.scan(TableName=contact_table)["Items"]
    assert stored == {"pk": {"S": "csrf#AAAAAAAAAAAAAAAAAAAAAA"}, "expiresAt": {"N": "1764550834"}}
    assert item_size(stored) == 44


def test_a_visitor_who_fetched_a_token_and_sent_once_leaves_three_items_of_179_bytes(
    contact_table: str, dynamodb: Any
) -> None:
    """The token route's counter (67), the submit route's (68) and the nonce (44): 3 items, 179 bytes, 479 stored."""
    clock = Clock()
    limiter(dynamodb, contact_table, clock, scope="token", limit=30).check("203.0.113.10")
    tokens = CsrfTokens(nonces=DynamoDBNonceStore(dynamodb, contact_table, clock=clock), clock=clock)
    token = tokens.issue(SECRET, ORIGIN)
    clock.now += 10
    limiter(dynamodb, contact_table, clock, scope="submit", limit=5).check("203.0.113.10")
    tokens.verify_and_consume(SECRET, ORIGIN, token)
    items = dynamodb.scan(TableName=contact_table)["Items"]
    sizes = sorted(item_size(stored) for stored in items)
    assert sizes == [44, 67, 68]
    assert sum(sizes) + len(items) * STORAGE_OVERHEAD == 479
