"""Fixtures for integration tests: a real Resend sandbox on loopback, and a brownout proxy in front of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contact_sdk.devtools.brownout import BrownoutProxy
from contact_sdk.devtools.sandbox import ResendSandbox

SANDBOX_API_KEY = "re_test_key"


@pytest.fixture
def sandbox() -> Iterator[ResendSandbox]:
    """A started Resend sandbox on 127.0.0.1 and an ephemeral port, with no faults; stopped after the test."""
    # No rate limit: retry tests send back to back; 429s come from scripted steps where a test wants them.
    with ResendSandbox(api_key=SANDBOX_API_KEY, rate_limit_per_second=None) as running:
        yield running


@pytest.fixture
def sandbox_proxy(sandbox: ResendSandbox) -> Iterator[BrownoutProxy]:
    """A brownout proxy in front of the sandbox, healthy until a test switches it; stopped after the test."""
    with BrownoutProxy(sandbox.url) as proxy:
        yield proxy
