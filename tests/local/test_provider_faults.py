"""The provider faults a local run can hold: each a valid sandbox setting that does what its name says."""

from __future__ import annotations

import pytest

from contact_sdk.devtools.local.provider_faults import DOWN_FOR_SECONDS, PROVIDER_FAULTS, provider_fault
from contact_sdk.devtools.sandbox.faults import parse_faults


def test_slow_makes_every_call_take_eight_seconds() -> None:
    """``slow``: 8 s on every Resend call, twice the API's 4 s response budget."""
    assert parse_faults(provider_fault("slow").settings, now=0.0).latency_ms == (8000.0, 8000.0)


def test_down_is_an_outage_of_a_day_from_when_it_is_set() -> None:
    """``down``: the sandbox answers 503 to everything for 86,400 s from the moment it is set."""
    faults = parse_faults(provider_fault("down").settings, now=1_000.0)
    assert DOWN_FOR_SECONDS == 86_400
    assert faults.outage_until == 87_400.0


def test_flaky_fails_one_call_in_ten_with_a_500() -> None:
    """``flaky``: 10 % of calls answered ``500 internal_server_error``."""
    faults = parse_faults(provider_fault("flaky").settings, now=0.0)
    assert (faults.failure_rate, faults.failure_status, faults.failure_name) == (0.1, 500, "internal_server_error")


def test_the_three_faults_are_offered_in_the_order_of_the_docs() -> None:
    """``slow``, ``down``, ``flaky``: the names the issue and ``--help`` use."""
    assert list(PROVIDER_FAULTS) == ["slow", "down", "flaky"]


@pytest.mark.parametrize("name", ["", "Slow", "outage", "slow "])
def test_another_name_is_refused_with_the_choices(name: str) -> None:
    """Anything else is a ``ValueError`` that lists the three names."""
    with pytest.raises(ValueError, match="expected one of slow, down, flaky"):
        provider_fault(name)
