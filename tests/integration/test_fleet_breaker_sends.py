"""The fleet-wide breaker keeps sends concurrent: real sends through the sandbox, its state in moto's table.

The same measure as ``test_resend_sandbox.py::test_concurrent_sends_through_one_client_are_not_serialised``
(8 sends against a 300 ms sandbox take about one latency, not 8), with the breaker reading and writing
the shared item: no lock is held during a provider call or a table call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contact_sdk.breaker import ProviderBreaker
from contact_sdk.breaker_store import DynamoDBBreakerStore
from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.errors import ProviderServerError
from contact_sdk.resend import ResendClient
from tests.conftest import aws_client
from tests.integration.conftest import SANDBOX_API_KEY
from tests.integration.test_resend_sandbox import CONCURRENCY, EMAIL, LATENCY, send_concurrently

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet_client(sandbox: ResendSandbox, aws: str, contact_table: str) -> Iterator[ResendClient]:
    """A client on the real clocks whose breaker shares its state through the table in moto."""
    breaker = ProviderBreaker(store=DynamoDBBreakerStore(aws_client(aws, "dynamodb"), contact_table))
    client = ResendClient(api_key=SANDBOX_API_KEY, base_url=sandbox.url, breaker=breaker)
    yield client
    client.close()


def test_concurrent_sends_through_a_fleet_breaker_are_not_serialised(
    sandbox: ResendSandbox, fleet_client: ResendClient
) -> None:
    """8 concurrent sends with a failure counted in the table (so every admit reads it, every success
    clears it) still take about one latency."""
    breaker = fleet_client.breaker
    sandbox.set_faults(latency_ms=(LATENCY * 1000, LATENCY * 1000))
    send_concurrently(lambda: fleet_client.send(EMAIL), CONCURRENCY)  # open the connections first
    breaker.record(breaker.admit(), ProviderServerError("down", status=500))
    assert breaker.fail_counter == 1
    total, durations = send_concurrently(lambda: fleet_client.send(EMAIL), CONCURRENCY)
    print(
        f"\n[concurrency, fleet breaker] {CONCURRENCY} sends, sandbox latency {LATENCY * 1000:.0f} ms: "
        f"total {total * 1000:.0f} ms ({total / LATENCY:.2f} x latency); per send min "
        f"{min(durations) * 1000:.0f} / max {max(durations) * 1000:.0f} ms"
    )
    assert min(durations) >= LATENCY * 0.9
    # Serialised, the sends would take CONCURRENCY latencies (2.4 s); concurrent, about one. The bound sits
    # well between, so a busy machine (table round trips on both cores) does not make it flaky.
    assert total < CONCURRENCY * LATENCY * 0.6
    assert len(sandbox.emails()) == 2 * CONCURRENCY
    assert (breaker.state, breaker.fail_counter, breaker.fleet_wide) == ("closed", 0, True)
