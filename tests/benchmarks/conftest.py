"""Fixtures for the benchmarks: a warm handler over the sandbox or a mock transport, the floor, a cold child.

The default ``pytest`` run has ``--benchmark-disable``: every benchmark then runs its body once, untimed, so
the benchmarks are exercised by CI and cannot rot. ``make bench`` runs them timed (see docs/performance.md).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

import handler
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.compose import SOURCE_TAG
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.metrics import StdoutSink
from contact_sdk.outbox import QueuedEmail
from contact_sdk.resend import OutgoingEmail
from contact_sdk.settings import Settings
from tests.benchmarks.floor import floor_pipeline
from tests.budget.simulated_sqs import sqs_event
from tests.entrypoint.conftest import (
    API_KEY,
    CONFIG_PARAMETER,
    CSRF_PARAMETER,
    CSRF_SECRET,
    ORIGIN,
    FakeLambdaContext,
    api_gateway_event,
    make_stack,
    resend_config,
    session_sandbox,
    submission,
)

__all__ = ["make_stack", "session_sandbox"]  # fixtures shared with the handler tests

ROOT = Path(__file__).resolve().parents[2]
COLD_START = Path(__file__).with_name("cold_start.py")
#: Rounds of the subprocess benchmarks when timed: each is a whole interpreter start, ~0.5-1.5 s.
COLD_ROUNDS = int(os.environ.get("BENCH_COLD_ROUNDS", "7"))
#: Rounds of the in-process benchmarks when timed.
WARM_ROUNDS = int(os.environ.get("BENCH_WARM_ROUNDS", "300"))
UNLIMITED = 1_000_000_000
CHILD_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="session")
def null_stream() -> Iterator[IO[str]]:
    """Where the EMF lines of both our path and the floor go, so printing costs the same on both sides."""
    with open(os.devnull, "w", encoding="utf-8") as stream:
        yield stream


def mock_provider(request: httpx.Request) -> httpx.Response:
    """A provider that accepts every email at once."""
    return httpx.Response(200, json={"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"})


def queued_batch(numbers: range, *, now: float) -> dict[str, Any]:
    """The SQS event the outbox consumer gets for one queued email per number, each under its own key."""
    messages: list[dict[str, Any]] = []
    for n in numbers:
        email = OutgoingEmail(
            sender="Contact Form <no-reply@example.com>",
            to=("owner@example.com",),
            subject=f"Contact Form: Message from Ada Lovelace — note {n}",
            html=f"<!doctype html>\n<html><body><p>Hello! A note about the engine, number {n}.</p></body></html>\n",
            text=f"Name: Ada Lovelace\nEmail: ada@example.org\n\nMessage:\nA note about the engine, number {n}.\n",
            reply_to=("ada@example.org",),
            tags=(SOURCE_TAG,),
        )
        queued = QueuedEmail(
            email=email,
            idempotency_key=f"contact-{n:064x}",
            request_id=f"request-{n}",
            queued_at=now - 60,
            reason="provider_unavailable",
        )
        messages.append(
            {
                "MessageId": f"message-{n}",
                "ReceiptHandle": f"receipt-{n}",
                "Body": queued.to_json(),
                "Attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int((now - 60) * 1000)),
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": str(int(now * 1000)),
                },
                "MD5OfBody": "",
            }
        )
    return sqs_event(messages)


@dataclass
class WarmHandler:
    """A handler built once, installed as ``handler``'s API, with helpers that make fresh valid events."""

    components: Components
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def token_event(self) -> dict[str, Any]:
        """``GET /contact/token`` from the allowed origin."""
        return api_gateway_event("GET", "/contact/token", headers={"Origin": ORIGIN})

    def submit_event(self, **changes: Any) -> dict[str, Any]:
        """``POST /contact`` with a fresh token and a message never sent before (no idempotent replay)."""
        n = next(self._counter)
        token = self.components.intake.csrf.issue(CSRF_SECRET.encode(), ORIGIN)
        body = submission(message=f"Hello! I would like to talk about your engine, note {n}.", **changes)
        headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token}
        return api_gateway_event("POST", "/contact", body=json.dumps(body), headers=headers)

    @staticmethod
    def call(event: dict[str, Any], context: FakeLambdaContext | None = None) -> dict[str, Any]:
        """Invoke the real Lambda entry point.

        The Lambda runtime builds the context before it calls the handler, so a timed round gets one made in
        its untimed setup (:meth:`invocation`); making it here (a UUID) would charge ~10 us of the harness to us.
        """
        return handler.lambda_handler(event, context if context is not None else FakeLambdaContext())

    @staticmethod
    def invocation(event: dict[str, Any]) -> tuple[tuple[dict[str, Any], FakeLambdaContext], dict[str, Any]]:
        """A benchmark round's arguments for :meth:`call`: the event and a context, as the runtime hands them."""
        return (event, FakeLambdaContext()), {}


@dataclass
class InterleavedFloor:
    """Runs the floor pipeline once per benchmark round, in the round's untimed ``setup``, and times it.

    The machine is shared; a floor timed right next to each timed request sees the same load, so the ratio of
    the two medians is fair even when the absolute figures drift.
    """

    warm: WarmHandler
    http: httpx.Client
    out: IO[str]
    durations: list[float] = field(default_factory=list)

    def __call__(self) -> None:
        """Serve one fresh submission the floor's way, timed."""
        event = self.warm.submit_event()
        started = time.perf_counter()
        floor_pipeline(event, http=self.http, secret=CSRF_SECRET.encode(), api_key=API_KEY, out=self.out)
        self.durations.append(time.perf_counter() - started)

    def record(self, benchmark: Any) -> None:
        """Put the floor's median (seconds) next to the benchmark's own figures."""
        if self.durations:
            benchmark.extra_info["floor_median_s"] = _median(self.durations)
            benchmark.extra_info["floor_rounds"] = len(self.durations)


@pytest.fixture
def build_warm(null_stream: IO[str]) -> Iterator[Callable[..., WarmHandler]]:
    """Build a warm handler over ``http`` (or a client for ``url``): config cached, in-memory guards."""
    built: list[Components] = []

    def build(*, url: str = "http://resend.invalid", http: httpx.Client | None = None) -> WarmHandler:
        settings = Settings.from_env(
            {},
            config_parameter=CONFIG_PARAMETER,
            csrf_secret_parameter=CSRF_PARAMETER,
            allowed_origins=(ORIGIN,),
            environment="bench",
            resend_api_url=url,
            submit_limit=UNLIMITED,
            token_limit=UNLIMITED,
            min_fill_seconds=0,  # benchmarks post at once; with the fill-time rule on, nothing would be sent
        )
        source = InMemoryParameterSource({CONFIG_PARAMETER: resend_config(), CSRF_PARAMETER: CSRF_SECRET})
        components = build_components(settings, sink=StdoutSink(write=null_stream.write), parameters=source, http=http)
        built.append(components)
        handler.environment.use_components(components)
        warm = WarmHandler(components)
        assert warm.call(warm.submit_event())["statusCode"] == 200  # warms the caches and the connection
        return warm

    yield build
    handler.environment.use_components(None)
    for components in built:
        components.close()


@pytest.fixture
def sandbox(session_sandbox: ResendSandbox) -> Iterator[ResendSandbox]:
    """The session's Resend sandbox, emptied before and after."""
    session_sandbox.reset()
    yield session_sandbox
    session_sandbox.reset()


@pytest.fixture
def floor_client(sandbox: ResendSandbox) -> Iterator[httpx.Client]:
    """A keep-alive client to the sandbox, as the floor would use it."""
    with httpx.Client(base_url=sandbox.url) as client:
        yield client


@dataclass
class ColdRun:
    """Runs ``cold_start.py`` in a fresh interpreter and collects what each round reported."""

    results: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def environ() -> dict[str, str]:
        """This process's environment (the emulator's URL, the service's settings), the project root importable."""
        environ = dict(os.environ)
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
        return environ

    def __call__(
        self, mode: str, event: dict[str, Any] | None = None, *, env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Run one fresh interpreter in ``mode`` (``env`` added to the environment); return what it reported."""
        with tempfile.TemporaryDirectory() as scratch:
            result_path = Path(scratch) / "result.json"
            child = subprocess.Popen(
                [sys.executable, str(COLD_START), mode, str(result_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                text=True,
                cwd=ROOT,
                env={**self.environ(), **(env or {})},
            )
            # No ``timeout=`` on the wait: with one, subprocess polls the child every 50 ms and the round's
            # time is rounded up to that. A watchdog thread kills a child that hangs instead.
            watchdog = threading.Timer(CHILD_TIMEOUT_SECONDS, child.kill)
            watchdog.start()
            try:
                child.communicate(json.dumps(event) if event is not None else "")
            finally:
                watchdog.cancel()
            if child.returncode != 0:
                raise subprocess.CalledProcessError(child.returncode, child.args)
            result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
        self.results.append(result)
        return result

    def medians(self) -> dict[str, float]:
        """Median of each numeric figure over the rounds so far."""
        keys = [k for k, v in self.results[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
        return {k: round(_median([float(r[k]) for r in self.results]), 2) for k in keys}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@pytest.fixture
def cold_run() -> ColdRun:
    """A runner of fresh interpreters, collecting each round's figures."""
    return ColdRun()


def record_cold(benchmark: Any, run: ColdRun) -> None:
    """Attach the in-interpreter medians (import ms, request ms, peak RSS) to the benchmark's JSON."""
    for key, value in run.medians().items():
        benchmark.extra_info[key] = value
    benchmark.extra_info["rounds_in_child"] = len(run.results)
