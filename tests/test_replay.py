"""How long a failed outbox message is hidden (``backoff_seconds``), fast tier, with hand-computed figures."""

from __future__ import annotations

import datetime as dt

import pytest

from contact_sdk.errors import CircuitOpenError, ProviderError, ProviderQuotaError, ProviderServerError
from contact_sdk.replay import backoff_seconds

NOON = dt.datetime(2027, 3, 1, 12, 0, 0, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(("receive_count", "seconds"), [(0, 30), (1, 30), (2, 60), (3, 120), (6, 960), (20, 43_200)])
def test_exponential_from_30_seconds_capped_at_12_hours(receive_count: int, seconds: int) -> None:
    error = ProviderServerError("down", status=500)
    assert backoff_seconds(error, receive_count=receive_count, breaker_wait=0, now=NOON) == seconds


def test_an_open_breaker_waits_for_its_half_open_time_at_least_a_second() -> None:
    assert backoff_seconds(CircuitOpenError("open"), receive_count=5, breaker_wait=42.2, now=NOON) == 43
    assert backoff_seconds(CircuitOpenError("open"), receive_count=5, breaker_wait=0.0, now=NOON) == 1


def test_retry_after_is_honoured() -> None:
    error = ProviderError("busy", status=503, retry_after=7.5)
    assert backoff_seconds(error, receive_count=9, breaker_wait=0, now=NOON) == 8


@pytest.mark.parametrize(("retry_after", "seconds"), [(0.0, 1), (10**9, 43_200)])
def test_retry_after_is_bounded(retry_after: float, seconds: int) -> None:
    error = ProviderError("busy", status=503, retry_after=retry_after)
    assert backoff_seconds(error, receive_count=1, breaker_wait=0, now=NOON) == seconds


def test_a_daily_quota_waits_for_midnight_utc_plus_30_seconds() -> None:
    error = ProviderQuotaError("quota", status=429, retry_after=1.0)
    # From 12:00:00 to 00:00:30 the next day: 12 h + 30 s = 43 230 s, over the 12 h SQS cap.
    assert backoff_seconds(error, receive_count=1, breaker_wait=0, now=NOON) == 43_200
    late = dt.datetime(2027, 3, 1, 23, 0, 0, tzinfo=dt.UTC).timestamp()
    assert backoff_seconds(error, receive_count=1, breaker_wait=0, now=late) == 3630
    longer = ProviderQuotaError("quota", status=429, retry_after=5000.0)
    assert backoff_seconds(longer, receive_count=1, breaker_wait=0, now=late) == 5000
