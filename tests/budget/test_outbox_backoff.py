"""The outbox hide grows with the receive count whatever the reason, so a long outage spends receives slowly."""

from __future__ import annotations

import pytest

from contact_sdk.errors import (
    CircuitOpenError,
    ProviderDeferredError,
    ProviderQuotaError,
    ProviderRateLimitedError,
    ProviderServerError,
)
from contact_sdk.replay import backoff_seconds

NOON = 1_795_780_800.0  # 2026-11-27 12:00:00 UTC
ONE_PM = NOON + 3600  # the daily quota resets 11 h 0 min 30 s later, at 00:00:30 UTC


@pytest.mark.parametrize(
    ("receive_count", "expected"),
    [(1, 30), (2, 60), (3, 120), (4, 240), (5, 300), (6, 300), (300, 300), (10_000, 300)],
)
def test_an_open_breaker_hides_longer_on_every_receive_up_to_five_minutes(receive_count: int, expected: int) -> None:
    """While the breaker is open (10 s left) the hide is 30 s doubling per receive, capped at 300 s."""
    error = CircuitOpenError("open", retry_after=10.0)
    assert backoff_seconds(error, receive_count=receive_count, breaker_wait=10.0, now=NOON) == expected


def test_an_open_breaker_with_longer_left_than_the_growth_waits_it_out() -> None:
    """On the first receive with 55 s of open time left, the hide is the 55 s, not 30 s."""
    error = CircuitOpenError("open", retry_after=55.0)
    assert backoff_seconds(error, receive_count=1, breaker_wait=55.0, now=NOON) == 55


@pytest.mark.parametrize("receive_count", [1, 4, 50])
def test_an_exhausted_quota_hides_until_the_reset_and_never_less_than_the_growth(receive_count: int) -> None:
    """A daily quota at 13:00 UTC: hidden until 00:00:30 (11 h 30 s), however many receives so far."""
    error = ProviderQuotaError("quota", status=429, name="daily_quota_exceeded", retry_after=1.0)
    assert backoff_seconds(error, receive_count=receive_count, breaker_wait=0.0, now=ONE_PM) == 11 * 3600 + 30


def test_an_exhausted_quota_a_minute_before_midnight_still_grows() -> None:
    """Forty seconds before the reset, the 7th receive still hides 300 s: a quota never burns receives."""
    just_before = NOON + 12 * 3600 - 10  # 23:59:50 UTC, the reset is at 00:00:30
    error = ProviderQuotaError("quota", status=429, name="daily_quota_exceeded")
    assert backoff_seconds(error, receive_count=7, breaker_wait=0.0, now=just_before) == 300


@pytest.mark.parametrize(
    ("error", "receive_count", "expected"),
    [
        (ProviderRateLimitedError("slow down", status=429, retry_after=2.0), 2, 60),
        (ProviderDeferredError("deferred", status=429, retry_after=30.0), 1, 30),
        (ProviderDeferredError("deferred", status=429, retry_after=3600.0), 1, 3600),
        (ProviderDeferredError("deferred", status=503, retry_after=100_000.0), 1, 43_200),
        (ProviderServerError("down", status=503), 6, 300),
    ],
)
def test_a_provider_named_wait_is_honoured_beyond_the_cap_up_to_twelve_hours(
    error: ProviderServerError | ProviderDeferredError | ProviderRateLimitedError, receive_count: int, expected: int
) -> None:
    """Retry-After longer than the growth wins (up to SQS's 12 h); shorter, the growth wins."""
    assert backoff_seconds(error, receive_count=receive_count, breaker_wait=0.0, now=NOON) == expected
