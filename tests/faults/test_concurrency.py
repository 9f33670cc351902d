"""Many threads through ONE service instance while the provider flaps, then the outbox drained.

The short version runs in the default command; the long one is ``pytest -m slow tests/faults``.
Pairs of threads submit the same messages at the same moment (double clicks racing each other),
and some submissions are spam, so the accounting is exercised on every path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.tables import create_table
from tests.conftest import aws_client
from tests.entrypoint.conftest import submission
from tests.faults.conftest import FakeClock, FaultStack, Tally, account, breaker_on

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("threads", "per_thread", "latency_ms"),
    [
        pytest.param(8, 4, [2, 15], id="short"),
        pytest.param(16, 10, [5, 40], id="long", marks=pytest.mark.slow),
    ],
)
def test_concurrent_submissions_while_the_provider_flaps(  # noqa: PLR0917 - pytest passes fixtures by position
    build_stack: Callable[..., FaultStack],
    serial_moto_server: str,
    contact_table: str,
    threads: int,
    per_thread: int,
    latency_ms: list[int],
) -> None:
    """accepted = delivered + queued and no duplicate email, with half the provider calls failing, and latency.

    DynamoDB is moto answering one request at a time: real DynamoDB applies each conditional write and each
    transaction atomically, moto's threaded server does not (racing threads can half-apply a transaction in
    the emulator), and what this test proves is our admission transaction under concurrency, not moto.
    """
    httpx.post(f"{serial_moto_server}/moto-api/reset").raise_for_status()
    serial = aws_client(serial_moto_server, "dynamodb")
    create_table(serial, contact_table)
    clock = FakeClock(start=time.time())
    transitions: list[tuple[str | None, str]] = []
    stack = build_stack(
        breaker=breaker_on(clock, transitions),
        settings={"submit_limit": 10_000, "token_limit": 10_000},
        dynamodb_client=serial,
    )
    stack.sandbox.set_faults(failure_rate=0.5, failure_status=503, latency_ms=latency_ms)
    tally = Tally()
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker(thread: int) -> None:
        try:
            start.wait()
            for number in range(per_thread):
                spam = number % 5 == 4
                # Threads 2k and 2k+1 send the same messages: a double click that races itself.
                payload = submission(
                    message=f"Concurrent message {thread // 2}-{number}: hello, can we talk about the engine?",
                    website="http://spam.example" if spam else "",
                )
                response = stack.submit(payload, source_ip=f"198.51.100.{thread + 1}")
                tally.record(payload, response, spam=spam)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    elapsed = time.perf_counter() - started
    assert not errors, errors
    assert set(tally.statuses) <= {200, 202}, sorted(set(tally.statuses))
    assert not stack.lines("unhandled error while handling the request")
    before = account(stack, tally.accepted, label=f"concurrency {threads}x{per_thread} before drain")

    # The provider recovers; time passes beyond the breaker's reset; the outbox is drained.
    stack.sandbox.clear_faults()
    clock.advance(61)
    responses = stack.drain()
    assert all(r == {"batchItemFailures": []} for r in responses), responses
    after = account(stack, tally.accepted, label=f"concurrency {threads}x{per_thread} after drain")
    assert after.queued == 0
    assert after.delivered == before.accepted
    totals: dict[str, Any] = stack.sink.totals()
    spam = threads * (per_thread // 5)
    assert totals.get("SpamBlocked", 0) == spam
    print(
        f"concurrency {threads}x{per_thread}: {len(tally.statuses)} requests in {elapsed:.1f} s, "
        f"breaker transitions {transitions}, metrics {dict(sorted(totals.items()))}"
    )
