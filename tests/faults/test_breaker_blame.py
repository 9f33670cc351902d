"""The breaker judges Resend only: our own time (a slow table, the visitor's budget) is never charged to it.

An attempt cut at the caller's deadline is neutral (the caller ran out of time; the provider did not
fail), and the breaker's admission (a read of the shared state, maybe a lease write) is our time: the
deadline is checked again after it, and an attempt left with too little is deferred, not failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import httpx
import pytest

from contact_sdk.breaker import ProviderBreaker
from contact_sdk.breaker_store import DynamoDBBreakerStore, SharedBreakerState
from contact_sdk.errors import ProviderDeferredError
from contact_sdk.resend import OutgoingEmail, ResendClient
from tests.entrypoint.conftest import submission
from tests.faults.conftest import FaultStack, Tally, account

EMAIL = OutgoingEmail(sender="Contact Form <no-reply@example.com>", to=("me@example.com",), subject="Hi", text="Hello")


@pytest.mark.integration
def test_a_provider_slower_than_the_budget_never_opens_the_breaker_and_the_consumer_delivers(
    build_stack: Callable[..., FaultStack],
) -> None:
    """Resend answers in 1.8 s, the visitor's budget is 1.5 s: six cut attempts are neutral, the fleet breaker stays
    closed, and the outbox consumer (its own 27 s deadline) delivers every one of them once.

    (A budget of 1.5 s, not less: the same deadline bounds the table's calls, and on a loaded machine moto can take
    most of a second to accept a connection, which would turn the fleet breaker local and test nothing.)"""
    stack = build_stack(settings={"response_budget_ms": 1500, "submit_limit": 100})
    stack.sandbox.set_faults(latency_ms=[1800, 1800])
    tally = Tally()
    for number in range(6):
        payload = submission(message=f"A message the slow provider takes, number {number}.")
        response = stack.submit(payload)
        tally.record(payload, response)
        assert response["statusCode"] == 202
    breaker = stack.components.client.breaker
    assert breaker.fleet_wide
    assert (breaker.state, breaker.fail_counter) == ("closed", 0)
    assert stack.sink.totals()["BudgetExhausted"] == 6
    assert not stack.lines("circuit breaker resend: closed -> open (fleet-wide)")
    responses = stack.drain()
    assert all(r == {"batchItemFailures": []} for r in responses)
    assert (breaker.state, breaker.fail_counter) == ("closed", 0)
    account(stack, tally.accepted, label="provider slower than the budget, delivered by the consumer")


class _SlowStore:
    """A shared breaker state whose every read takes ``seconds`` of the caller's (fake) clock."""

    def __init__(self, clock: list[float], seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds
        self.reads = 0

    def read(self) -> SharedBreakerState:
        self.reads += 1
        self._clock[0] += self._seconds
        return SharedBreakerState()

    def __getattr__(self, name: str) -> Any:  # any write: the state moved on, nothing recorded
        return lambda *args, **kwargs: None


def test_a_slow_table_eats_the_budget_but_is_never_charged_to_the_provider() -> None:
    """The shared state takes 3.9 s of a 4 s deadline to read: the attempt is deferred before it starts, the
    provider is never called, and ten such sends leave the breaker closed with no failure counted."""
    now = [1000.0]
    store = _SlowStore(now, 3.9)
    calls: list[httpx.Request] = []
    breaker = ProviderBreaker(
        store=cast(DynamoDBBreakerStore, store), clock=lambda: now[0], wall_clock=lambda: now[0], cache_seconds=0.0
    )
    client = ResendClient(
        api_key="re_test",
        http=httpx.Client(transport=httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(200))),
        breaker=breaker,
        clock=lambda: now[0],
        sleep=lambda seconds: None,
    )
    for _ in range(10):
        with pytest.raises(ProviderDeferredError, match="admission left no time"):
            client.send(EMAIL, idempotency_key="contact-slow-table", deadline=now[0] + 4.0)
    assert calls == []
    assert store.reads == 10
    assert (breaker.state, breaker.fail_counter) == ("closed", 0)
