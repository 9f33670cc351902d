"""Two execution environments over one table: the breaker opened by one spares the provider for the other.

Each stack is what ``build_components`` makes in a fresh Lambda environment (default breaker, so the
one bootstrap wires to ``CONTACT_TABLE_NAME``); the two share moto's table and queue and the sandbox,
and the handler is pointed at one or the other before each request. The oracle is what the sandbox
received and what the queue holds, not the breaker's own state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import handler
from tests.conftest import aws_client
from tests.entrypoint.conftest import submission
from tests.faults.conftest import FaultStack

pytestmark = pytest.mark.integration


def submit_on(stack: FaultStack, number: int, source_ip: str) -> dict[str, Any]:
    """POST /contact through ``stack``'s execution environment."""
    handler.environment.use_components(stack.components)
    message = f"Message number {number} from a visitor, about your analytical engine notes."
    return stack.submit(submission(message=message), source_ip=source_ip)


def circuit_opened(*stacks: FaultStack) -> float:
    """``CircuitOpened`` summed over every EMF document the stacks emitted."""
    return sum(stack.sink.totals().get("CircuitOpened", 0) for stack in stacks)


def test_five_failures_across_two_instances_open_it_for_both(build_stack: Callable[..., FaultStack]) -> None:
    """A fails 4 attempts, B's 1 attempt is the fifth and opens it; then A queues without calling Resend."""
    a, b = build_stack(), build_stack()
    a.sandbox.set_faults(failure_rate=1.0, failure_status=500)

    first = submit_on(a, 1, "198.51.100.1")
    assert first["statusCode"] == 202, first["body"]
    assert len(a.sandbox.requests()) == 4  # the first attempt and 3 retries, all 500

    second = submit_on(b, 2, "198.51.100.2")
    assert second["statusCode"] == 202, second["body"]
    assert len(a.sandbox.requests()) == 5  # B's first attempt was the fifth failure: B's retry was refused

    third = submit_on(a, 3, "198.51.100.3")
    assert third["statusCode"] == 202, third["body"]
    assert json.loads(third["body"])["status"] == "queued"
    assert len(a.sandbox.requests()) == 5  # A saw B's opening: no request left A

    assert circuit_opened(a, b) == 1  # one opening, counted once, by the instance that opened it
    item = aws_client(a.aws, "dynamodb").get_item(
        TableName=a.table, Key={"pk": {"S": "breaker#resend"}}, ConsistentRead=True
    )["Item"]
    assert item["phase"] == {"S": "open"}
    assert len(a.queued_messages()) == 3


def test_without_a_table_each_instance_counts_alone(build_stack: Callable[..., FaultStack]) -> None:
    """Control: the same traffic with no table gives each instance its own count, so A still calls Resend."""
    a, b = build_stack(settings={"table_name": None}), build_stack(settings={"table_name": None})
    a.sandbox.set_faults(failure_rate=1.0, failure_status=500)
    for stack, number in ((a, 1), (b, 2), (a, 3)):
        assert submit_on(stack, number, f"198.51.100.{number}")["statusCode"] == 202
    # A: 4 attempts, then 1 (its fifth failure opens its own breaker); B: 4 attempts of its own.
    assert len(a.sandbox.requests()) == 9
    assert circuit_opened(a, b) == 1
    assert not a.components.client.breaker.fleet_wide
