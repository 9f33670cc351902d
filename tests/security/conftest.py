"""Fixtures for the security tests."""

from __future__ import annotations

import pytest

from contact_sdk.security import ratelimit


@pytest.fixture(autouse=True)
def _addresses_uncached() -> None:
    """Each test parses its source addresses afresh: ``address_unit`` keeps the last addresses' units, and a cache
    filled by an earlier test (or, under mutation testing, by the process each mutant's run is forked from) would
    answer for the code under test."""
    ratelimit._recent_units.cache_clear()
