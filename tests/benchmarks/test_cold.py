"""Cold path: a fresh interpreter per round importing ``handler`` (and, separately, the import floor) and serving
the first request with config from the AWS emulator and the email to the Resend sandbox, both on loopback.

Each round is a whole interpreter, so the benchmark's time includes Python's own start-up; the figures
measured inside the interpreter (``import_ms``, ``request_ms``, ``maxrss_mb``) are in ``extra_info``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.security.csrf import CsrfTokens, InMemoryNonceStore
from tests.benchmarks.conftest import COLD_ROUNDS, ColdRun, queued_batch, record_cold
from tests.entrypoint.conftest import CSRF_SECRET, ORIGIN, Stack, api_gateway_event, submission

#: The seed's Lambda has 256 MB; the budget leaves room for traffic spikes and the runtime itself.
RSS_BUDGET_MB = 150


def test_import_handler(benchmark: Any, cold_run: ColdRun) -> None:
    """Importing ``handler`` in a fresh interpreter (no request), the import floor interleaved round by round.

    Other work on a shared machine comes and goes; a floor child run just before each timed child (in the
    untimed ``setup``) sees the same load, so ``floor_import_ms`` and ``import_ms`` make a fair ratio.
    """
    floor = ColdRun()

    def setup() -> tuple[tuple[str], dict[str, Any]]:
        floor("import-floor")
        return ("import-handler",), {}

    result = benchmark.pedantic(cold_run, setup=setup, rounds=COLD_ROUNDS, iterations=1)
    record_cold(benchmark, cold_run)
    benchmark.extra_info["floor_import_ms"] = floor.medians()["import_ms"]
    assert not result["aiohttp_loaded"], "aws-embedded-metrics' package __init__ (aiohttp) is on the cold path"


def test_import_handler_without_bytecode(benchmark: Any, cold_run: ColdRun, tmp_path: Path) -> None:
    """Importing ``handler`` (and boto3) with no ``.pyc`` to read or write: the Lambda artifact as built today.

    ``tools/build_lambda.py`` packs no bytecode and ``/var/task`` is read-only, so without SnapStart every cold
    start compiles every module it imports. An empty ``PYTHONPYCACHEPREFIX`` reproduces that here.
    """
    env = {"PYTHONPYCACHEPREFIX": str(tmp_path / "no-pycache"), "PYTHONDONTWRITEBYTECODE": "1"}
    benchmark.pedantic(
        cold_run, args=("import-handler",), kwargs={"env": env}, rounds=min(COLD_ROUNDS, 3), iterations=1
    )
    record_cold(benchmark, cold_run)


def test_import_floor(benchmark: Any, cold_run: ColdRun) -> None:
    """The import floor: boto3, httpx, pydantic, tenacity, pybreaker and Powertools' Logger, in a fresh interpreter."""
    benchmark.pedantic(cold_run, args=("import-floor",), rounds=COLD_ROUNDS, iterations=1)
    record_cold(benchmark, cold_run)


@pytest.fixture
def cold_event(make_stack: Callable[..., Stack]) -> Callable[[], dict[str, Any]]:
    """Parameters and table in the emulator, the environment set like the Lambda's; makes one fresh event per call.

    The token is minted here with the same secret (its nonce unused), so the child's first request is the
    submission itself: Parameter Store, DynamoDB and the provider all on the cold path.

    The rate limits are the production defaults and each event comes from a new visitor (its own source
    address), as a cold start's first request does. A limit raised to let one address through every round
    would make the rate-limit condition its longest (24 groups instead of 5), and the emulator parses each
    group: about 1 ms apiece on moto, a cost real DynamoDB does not have (docs/performance.md).
    """
    make_stack()
    tokens = CsrfTokens(nonces=InMemoryNonceStore())
    counter = iter(range(1_000_000))

    def event() -> dict[str, Any]:
        n = next(counter)
        body = json.dumps(submission(message=f"Hello from a cold start, round {n} at {time.time()}."))
        headers = {
            "Origin": ORIGIN,
            "Content-Type": "application/json",
            "X-CSRF-Token": tokens.issue(CSRF_SECRET.encode(), ORIGIN),
        }
        visitor = f"198.51.{100 + n // 250}.{n % 250 + 1}"
        return api_gateway_event("POST", "/contact", body=body, headers=headers, source_ip=visitor)

    return event


@pytest.mark.integration
def test_cold_first_request(benchmark: Any, cold_run: ColdRun, cold_event: Callable[[], dict[str, Any]]) -> None:
    """Fresh interpreter, ``import handler``, first ``POST /contact``: config from SSM, email to the sandbox."""
    result = benchmark.pedantic(
        cold_run,
        setup=lambda: (("first-request", cold_event()), {}),
        rounds=COLD_ROUNDS,
        iterations=1,
    )
    record_cold(benchmark, cold_run)
    assert result["status"] == 200, result
    assert json.loads(result["body"])["status"] == "sent"
    assert not result["aiohttp_loaded"] and not result["xray_loaded"], "aiohttp / the X-Ray SDK on the cold path"
    assert result["dev_tools_loaded"] == [], "the sandbox, local stack or CLI imported by the handler"
    assert result["webhooks_loaded"] == [], "a visitor's first request loaded the webhook route's modules"
    assert result["maxrss_mb"] < RSS_BUDGET_MB, f"peak RSS {result['maxrss_mb']:.0f} MB after the first request"


@pytest.mark.integration
def test_cold_first_answer(
    benchmark: Any,
    cold_run: ColdRun,
    cold_event: Callable[[], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fresh interpreter, ``import handler``, ``GET /contact/token``, ``POST /contact`` with it; the floor interleaved.

    The floor child (``first-answer-floor``) does the same work with the bare libraries in each round's untimed
    setup: Parameter Store, an HMAC token, one DynamoDB write, validation, the POST to the sandbox, an EMF line.
    The token is posted at once, so the fill-time rule is off in both children (it would drop the email).
    """
    monkeypatch.setenv("CONTACT_MIN_FILL_SECONDS", "0")
    floor = ColdRun()

    def setup() -> tuple[tuple[str, dict[str, Any]], dict[str, Any]]:
        assert floor("first-answer-floor", cold_event())["status"] == 200
        return ("first-answer", cold_event()), {}

    result = benchmark.pedantic(cold_run, setup=setup, rounds=COLD_ROUNDS, iterations=1)
    record_cold(benchmark, cold_run)
    floor_medians = floor.medians()
    benchmark.extra_info["floor_import_ms"] = floor_medians["import_ms"]
    benchmark.extra_info["floor_request_ms"] = floor_medians["request_ms"]
    assert result["status"] == 200, result
    assert json.loads(result["body"])["status"] == "sent"


@pytest.mark.integration
def test_cold_outbox_first_batch(
    benchmark: Any, cold_run: ColdRun, make_stack: Callable[..., Stack], session_sandbox: ResendSandbox
) -> None:
    """The outbox consumer's cold start: a fresh interpreter, ``import handler``, then ``outbox_handler`` with one
    queued email (config from Parameter Store in moto, its record looked up in the table, the send to the sandbox).

    No floor and no target: the figure to compare a change of the consumer against. The oracle is the sandbox: each
    round's email arrives under its own idempotency key.
    """
    make_stack()
    rounds = itertools.count()
    queued_keys: list[str] = []

    def setup() -> tuple[tuple[str, dict[str, Any]], dict[str, Any]]:
        n = next(rounds)
        event = queued_batch(range(n, n + 1), now=time.time())
        queued_keys.extend(json.loads(record["body"])["idempotency_key"] for record in event["Records"])
        return ("first-batch", event), {}

    result = benchmark.pedantic(cold_run, setup=setup, rounds=COLD_ROUNDS, iterations=1)
    record_cold(benchmark, cold_run)
    assert result["failures"] == 0, result
    sent = [request["idempotency_key"] for request in session_sandbox.requests() if request["path"] == "/emails"]
    assert sent == queued_keys, "each round's queued email reaches the provider once, under its own key"


def test_emf_core_import(benchmark: Any, cold_run: ColdRun) -> None:
    """aws-embedded-metrics' serializer loaded as ``contact_sdk.metrics`` does: no package ``__init__``, no aiohttp."""
    result = benchmark.pedantic(cold_run, args=("emf-core",), rounds=COLD_ROUNDS, iterations=1)
    record_cold(benchmark, cold_run)
    assert not result["aiohttp_loaded"]


def test_emf_package_import(benchmark: Any, cold_run: ColdRun) -> None:
    """The same, through ``import aws_embedded_metrics`` (what the stub avoids): aiohttp comes with it."""
    result = benchmark.pedantic(cold_run, args=("emf-package",), rounds=COLD_ROUNDS, iterations=1)
    record_cold(benchmark, cold_run)
    assert result["aiohttp_loaded"]
