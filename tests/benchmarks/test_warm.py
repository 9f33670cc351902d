"""Warm path: requests through an already-built handler, the provider answering at once, next to the floor.

Each ``POST /contact`` round gets a fresh CSRF token and a new message (made in ``setup``, not timed), so
every round does the whole work: origin, CSRF, rate limit, validation, spam, ledger, send, EMF, log line.
The guards' stores are the in-memory ones, so the figure is our own overhead, not DynamoDB's.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import IO, Any

import httpx
import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.transport import ApiClient
from tests.benchmarks.conftest import WARM_ROUNDS, InterleavedFloor, WarmHandler, mock_provider, queued_batch
from tests.benchmarks.floor import floor_pipeline
from tests.entrypoint.conftest import API_KEY, CSRF_SECRET, FakeLambdaContext

BASE_URL = "https://api.resend.test"


def _run(benchmark: Any, target: Callable[..., Any], setup: Callable[[], Any]) -> Any:
    return benchmark.pedantic(target, setup=setup, rounds=WARM_ROUNDS, warmup_rounds=10, iterations=1)


def _run_beside_floor(benchmark: Any, warm: WarmHandler, floor: InterleavedFloor) -> Any:
    def setup() -> tuple[tuple[dict[str, Any], Any], dict[str, Any]]:
        floor()
        return warm.invocation(warm.submit_event())

    response = _run(benchmark, warm.call, setup)
    floor.record(benchmark)
    return response


@pytest.mark.integration
def test_warm_submit_sandbox(
    benchmark: Any,
    build_warm: Callable[..., WarmHandler],
    sandbox: ResendSandbox,
    floor_client: httpx.Client,
    null_stream: IO[str],
) -> None:
    """``POST /contact`` through the warm handler, the email to the sandbox on loopback (keep-alive).

    The floor pipeline runs against the same sandbox in each round's untimed setup (``floor_median_s``).
    """
    warm = build_warm(url=sandbox.url)
    response = _run_beside_floor(benchmark, warm, InterleavedFloor(warm, floor_client, null_stream))
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["status"] == "sent"


def test_warm_submit_mock(benchmark: Any, build_warm: Callable[..., WarmHandler], null_stream: IO[str]) -> None:
    """``POST /contact`` through the warm handler, the provider an ``httpx.MockTransport``: no socket at all.

    The floor pipeline runs with the same mock in each round's untimed setup (``floor_median_s``). Our side gets the
    kind of client the service makes for Resend (an ``ApiClient``, which keeps no cookies), as in the sandbox
    benchmark; the floor keeps a plain ``httpx.Client``.
    """
    http = ApiClient(base_url=BASE_URL, transport=httpx.MockTransport(mock_provider))
    warm = build_warm(url=BASE_URL, http=http)
    with httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(mock_provider)) as floor_http:
        response = _run_beside_floor(benchmark, warm, InterleavedFloor(warm, floor_http, null_stream))
    assert response["statusCode"] == 200, response


def test_warm_token(benchmark: Any, build_warm: Callable[..., WarmHandler]) -> None:
    """``GET /contact/token`` through the warm handler: origin, rate limit, one HMAC, EMF, log line."""
    http = httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(mock_provider))
    warm = build_warm(url=BASE_URL, http=http)
    response = _run(benchmark, warm.call, lambda: warm.invocation(warm.token_event()))
    assert response["statusCode"] == 200, response


def test_warm_spam(benchmark: Any, build_warm: Callable[..., WarmHandler]) -> None:
    """A honeypot submission through the warm handler: everything up to the spam verdict, nothing sent."""
    sent: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return mock_provider(request)

    warm = build_warm(url=BASE_URL, http=httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(provider)))
    before = len(sent)
    response = _run(benchmark, warm.call, lambda: warm.invocation(warm.submit_event(website="http://spam.example")))
    assert response["statusCode"] == 200, response
    assert len(sent) == before, "the spam path must not reach the provider"


@pytest.mark.integration
def test_floor_sandbox(
    benchmark: Any, build_warm: Callable[..., WarmHandler], floor_client: httpx.Client, null_stream: IO[str]
) -> None:
    """The floor pipeline (JSON, pydantic, HMAC, one POST to the same sandbox, one EMF line)."""
    warm = build_warm(url=str(floor_client.base_url))  # only to make identical events

    def target(event: dict[str, Any]) -> dict[str, Any]:
        return floor_pipeline(event, http=floor_client, secret=CSRF_SECRET.encode(), api_key=API_KEY, out=null_stream)

    floor_pipeline(warm.submit_event(), http=floor_client, secret=b"k", api_key=API_KEY, out=null_stream)  # connect
    response = _run(benchmark, target, lambda: ((warm.submit_event(),), {}))
    assert response["statusCode"] == 200


def test_floor_mock(benchmark: Any, build_warm: Callable[..., WarmHandler], null_stream: IO[str]) -> None:
    """The floor pipeline with the same ``httpx.MockTransport`` provider."""
    http = httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(mock_provider))
    warm = build_warm(url=BASE_URL, http=http)

    def target(event: dict[str, Any]) -> dict[str, Any]:
        return floor_pipeline(event, http=http, secret=CSRF_SECRET.encode(), api_key=API_KEY, out=null_stream)

    response = _run(benchmark, target, lambda: ((warm.submit_event(),), {}))
    assert response["statusCode"] == 200


def test_warm_outbox_batch(benchmark: Any, build_warm: Callable[..., WarmHandler]) -> None:
    """A batch of ten queued emails through the warm outbox consumer, the provider answering at once: each message
    read and checked, the breaker, the send under the retry policy, EMF and the log lines (a batch per round).

    The oracle is what the provider received: the last batch's ten idempotency keys, in its order, each once.
    """
    keys: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        return mock_provider(request)

    warm = build_warm(url=BASE_URL, http=ApiClient(base_url=BASE_URL, transport=httpx.MockTransport(provider)))
    consumer = warm.components.consumer
    batches = itertools.count()
    last: list[dict[str, Any]] = []

    def setup() -> tuple[tuple[dict[str, Any], FakeLambdaContext], dict[str, Any]]:
        first = next(batches) * 10
        event = queued_batch(range(first, first + 10), now=time.time())
        last[:] = [event]
        return (event, FakeLambdaContext()), {}

    result = benchmark.pedantic(consumer.handle, setup=setup, rounds=WARM_ROUNDS, warmup_rounds=10, iterations=1)
    assert result == {"batchItemFailures": []}
    [event] = last
    expected = [json.loads(record["body"])["idempotency_key"] for record in event["Records"]]
    assert keys[-10:] == expected
    assert len(set(keys)) == len(keys), "each queued email is sent once"
