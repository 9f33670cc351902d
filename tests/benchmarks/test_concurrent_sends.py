"""Concurrent sends through one ``ResendClient``, against a sandbox that answers after a fixed latency.

One round: 8 sends released together on 8 threads, all through one client. Concurrent, a round takes about
one sandbox latency (300 ms); serialised it would take 8 (2.4 s): divide the median by the latency. The
integration tests prove the sends are concurrent without reading a clock (all 8 held at a brownout proxy at
once: ``tests/integration/test_resend_sandbox.py``); this is the timed figure, printed by ``make bench``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.resend import OutgoingEmail, ResendClient

CONCURRENCY = 8
LATENCY_MS = 300.0
#: Rounds when timed; each is about one latency.
ROUNDS = int(os.environ.get("BENCH_CONCURRENT_ROUNDS", "10"))
API_KEY = "re_bench_key"
EMAIL = OutgoingEmail(
    sender="Contact Form <no-reply@example.com>",
    to=("delivered@resend.dev",),
    subject="Hello from the contact form",
    text="Hi there",
)


@pytest.fixture
def slow_client() -> Iterator[ResendClient]:
    """A client on a sandbox that answers every send after LATENCY_MS; both closed afterwards."""
    with ResendSandbox(api_key=API_KEY, rate_limit_per_second=None) as sandbox:
        sandbox.set_faults(latency_ms=(LATENCY_MS, LATENCY_MS))
        client = ResendClient(api_key=API_KEY, base_url=sandbox.url)
        yield client
        client.close()


def test_concurrent_sends_one_client(benchmark: Any, slow_client: ResendClient) -> None:
    """8 sends released together through one client, the sandbox answering each after 300 ms."""
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:

        def round_of_sends() -> list[str]:
            barrier = threading.Barrier(CONCURRENCY)

            def send() -> str:
                barrier.wait()
                return slow_client.send(EMAIL)

            return [future.result() for future in [pool.submit(send) for _ in range(CONCURRENCY)]]

        # The warm-up round opens the pool's connections, so the rounds measure sends, not connects.
        ids = benchmark.pedantic(round_of_sends, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    benchmark.extra_info["concurrency"] = CONCURRENCY
    benchmark.extra_info["sandbox_latency_ms"] = LATENCY_MS
    assert len(set(ids)) == CONCURRENCY
