"""The DynamoDB rate-limit condition for a high limit: its cost must not grow with the limit.

A load test or a schemathesis run sets the limit to 100 000 or more. Writing the sliding rule out as
condition groups once took time and memory in proportion to the limit (7 s and 177 MB per request at a
million); ``make bench`` shows it is now a few microseconds whatever the limit.
"""

from __future__ import annotations

from typing import Any

import pytest

from contact_sdk.security.ratelimit import condition_groups


@pytest.mark.parametrize("limit", [5, 100_000, 1_000_000])
def test_condition_groups(benchmark: Any, limit: int) -> None:
    """One request's condition at ``limit``: at most 24 groups."""
    groups = benchmark(condition_groups, limit=limit, window_seconds=900, elapsed=123.4)
    assert len(groups) <= 24
