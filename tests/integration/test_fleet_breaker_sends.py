"""The fleet-wide breaker keeps sends concurrent: real sends through the sandbox, its state in moto's table.

The same check as ``test_resend_sandbox.py::test_concurrent_sends_through_one_client_are_not_serialised``
(all 8 sends held at a brownout proxy in front of the sandbox at the same moment, then each delivered
once), with the breaker reading and writing the shared item: no lock is held during a provider call or a
table call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contact_sdk.breaker import ProviderBreaker
from contact_sdk.breaker_store import DynamoDBBreakerStore
from contact_sdk.devtools.brownout import BrownoutProxy
from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.errors import ProviderServerError
from contact_sdk.resend import ResendClient
from tests.conftest import aws_client
from tests.integration.conftest import SANDBOX_API_KEY
from tests.integration.test_resend_sandbox import EMAIL, HOLDING_TIMEOUTS, assert_all_held_then_delivered_once

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet_client(sandbox_proxy: BrownoutProxy, aws: str, contact_table: str) -> Iterator[ResendClient]:
    """A client on the real clocks, sending through the proxy, whose breaker shares its state through the table."""
    dynamodb = aws_client(aws, "dynamodb")
    breaker = ProviderBreaker(store=DynamoDBBreakerStore(dynamodb, contact_table))
    client = ResendClient(
        api_key=SANDBOX_API_KEY, base_url=sandbox_proxy.url, breaker=breaker, timeouts=HOLDING_TIMEOUTS
    )
    yield client
    client.close()
    dynamodb.close()  # its pooled connections to moto are not left for the garbage collector in a later test


def test_concurrent_sends_through_a_fleet_breaker_are_not_serialised(
    sandbox: ResendSandbox, sandbox_proxy: BrownoutProxy, fleet_client: ResendClient
) -> None:
    """8 concurrent sends with a failure counted in the table (so every admit reads it, every success clears
    it) are all in flight at the provider at once, each delivered once, and leave the fleet breaker closed."""
    breaker = fleet_client.breaker
    breaker.record(breaker.admit(), ProviderServerError("down", status=500))
    assert (breaker.fail_counter, breaker.fleet_wide) == (1, True)
    assert_all_held_then_delivered_once(sandbox, sandbox_proxy, lambda: fleet_client.send(EMAIL), ", fleet breaker")
    assert (breaker.state, breaker.fail_counter, breaker.fleet_wide) == ("closed", 0, True)
