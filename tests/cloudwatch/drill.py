"""The fire drill's vocabulary: simulated requests, and a stand-in for what the handler prints for each.

A :class:`SimulatedRequest` describes a situation (provider up, down or slow; spam; an invalid
form; a cold start), not metrics, so the same scenarios can later be played against the real
handler. :func:`recorder_source` is the stand-in: it records, through the SDK's own
:class:`~contact_sdk.metrics.MetricsRecorder` and :class:`~contact_sdk.metrics.ListSink`, exactly
the metrics the contract's section 10 says the handler emits for that situation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from contact_sdk.metrics import ListSink, Metric, MetricsRecorder

#: Turns one simulated request into the EMF documents the function printed for it.
EmfSource = Callable[["SimulatedRequest"], list[dict[str, Any]]]

#: Consecutive failed sends after which the breaker opens (the service's breaker setting).
BREAKER_FAILURE_THRESHOLD = 5
#: Retries of a provider call before the attempt sequence is given up.
PROVIDER_RETRIES = 2
#: Parameters fetched on a cold start: the Resend config and the CSRF secret.
PARAMETERS_PER_COLD_START = 2


@dataclass(frozen=True, slots=True)
class SimulatedRequest:
    """One contact-form submission in a drill, described by its situation."""

    provider: Literal["up", "down", "slow"] = "up"
    #: DynamoDB (rate limits, nonces, records, the breaker's state) unreachable: the request goes on degraded.
    dynamodb: Literal["up", "down"] = "up"
    spam: bool = False
    valid: bool = True
    cold_start: bool = False
    response_time_ms: float = 350.0


def recorder_source(environment: str) -> EmfSource:
    """A stand-in for the handler: per request, the EMF documents the contract says it prints.

    Keeps the little state the real function keeps: the breaker's consecutive failures.
    """
    consecutive_failures = 0
    breaker_open = False

    def documents(request: SimulatedRequest) -> list[dict[str, Any]]:
        nonlocal consecutive_failures, breaker_open
        sink = ListSink()
        recorder = MetricsRecorder(environment=environment, sink=sink, clock_ms=lambda: 0)
        if request.cold_start:
            recorder.count(Metric.PARAMETER_ACCESS, PARAMETERS_PER_COLD_START)
        if request.dynamodb == "down":
            recorder.count(Metric.DEPENDENCY_DEGRADED)
        if not request.valid:
            recorder.count(Metric.VALIDATION_ERRORS)
        elif request.spam:
            recorder.count(Metric.SPAM_BLOCKED)
        elif request.provider == "down":
            if not breaker_open:
                recorder.count(Metric.PROVIDER_RETRIES, PROVIDER_RETRIES)
                consecutive_failures += 1
                if consecutive_failures >= BREAKER_FAILURE_THRESHOLD:
                    breaker_open = True
                    recorder.count(Metric.CIRCUIT_OPENED)
            recorder.count(Metric.EMAILS_FAILED)
            recorder.count(Metric.EMAILS_QUEUED)
        else:
            consecutive_failures = 0
            recorder.count(Metric.EMAILS_SENT)
        recorder.timing(Metric.RESPONSE_TIME, request.response_time_ms)
        recorder.flush()
        return sink.documents

    return documents


#: Simulated time between two requests of a drill (the incidents spread 20 requests over 5 minutes).
SECONDS_BETWEEN_REQUESTS = 15.0


def handler_source(environment: str) -> EmfSource:
    """The real thing: each simulated request goes through ``handler.lambda_handler`` as API Gateway events.

    A token fetch, then the submission, from a fresh source IP. The provider is an
    ``httpx.MockTransport`` (up: 200; down: 500; slow: 200 late) that advances the API's injected
    timer by the request's latency, so ``ResponseTime`` is measured by the real code without
    waiting. Parameters come from an in-memory source; a cold start rebuilds every component,
    as a new execution environment would, so ``ParameterAccess`` counts its real fetches.
    Returns every EMF document the handler printed for the request (token route included).
    """
    import json
    import time

    import httpx

    import handler
    from contact_sdk.bootstrap import Components, build_components
    from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource
    from contact_sdk.settings import Settings
    from tests.entrypoint.conftest import api_gateway_event, resend_config, submission

    origin = "https://www.example.com"
    now = [1000.0]
    current: dict[str, Any] = {"request": SimulatedRequest()}
    parameters = InMemoryParameterSource(
        {
            "/portfolio/prod/resend/api-key": resend_config(),
            "/portfolio/prod/contact/csrf-secret": "a-drill-csrf-secret-that-is-long-enough-0123456789",
        }
    )

    def provider(request: httpx.Request) -> httpx.Response:
        simulated: SimulatedRequest = current["request"]
        now[0] += simulated.response_time_ms / 1000
        if simulated.provider == "down":
            return httpx.Response(500, json={"statusCode": 500, "name": "internal_server_error", "message": "down"})
        return httpx.Response(200, json={"id": f"email-{now[0]}"})

    def build(*, dynamodb_down: bool = False) -> Components:
        # DynamoDB down: the table is named, and its endpoint is a loopback port nothing listens on.
        table = {"table_name": "drill-contact"} if dynamodb_down else {}
        components = build_components(
            Settings.from_env(
                {},
                allowed_origins=(origin,),
                environment=environment,
                submit_limit=10**6,
                token_limit=10**6,
                min_fill_seconds=0,  # the drill posts at once; with the fill-time rule on, it would all be spam
                **table,
            ),
            sink=sink,
            parameters=parameters,
            http=httpx.Client(transport=httpx.MockTransport(provider)),
            outbox=InMemoryOutbox(),
            clock=DrillClock(now),
            aws={"dynamodb": _unreachable_dynamodb()} if dynamodb_down else None,
        )
        components.api.timer = lambda: now[0]
        return components

    sink = ListSink()
    components = build()
    counter = [0]

    def call(request: SimulatedRequest) -> None:
        counter[0] += 1
        ip = f"198.51.{counter[0] // 250 % 250}.{counter[0] % 250 + 1}"
        token_event = api_gateway_event("GET", "/contact/token", headers={"Origin": origin}, source_ip=ip)
        token = json.loads(handler.lambda_handler(token_event, None)["body"])["token"]
        fields: dict[str, Any] = {
            "message": f"Drill message number {counter[0]} with enough words.",
            "formStartedAt": int(time.time() * 1000) - 60_000,
        }
        if not request.valid:
            fields["email"] = "not-an-email"
        if request.spam:
            fields["website"] = "http://spam.example"
        headers = {"Origin": origin, "Content-Type": "application/json", "X-CSRF-Token": token}
        event = api_gateway_event(
            "POST", "/contact", body=json.dumps(submission(**fields)), headers=headers, source_ip=ip
        )
        handler.lambda_handler(event, None)

    handler.environment.use_components(components)
    call(SimulatedRequest())  # warm the caches: the drill's "cold starts" are the explicit ones
    sink.clear()

    degraded: list[Components] = []

    def documents(request: SimulatedRequest) -> list[dict[str, Any]]:
        nonlocal components
        if request.cold_start:
            components.close()
            components = build()
        serving = components
        if request.dynamodb == "down":
            if not degraded:
                degraded.append(build(dynamodb_down=True))
            serving = degraded[0]
        handler.environment.use_components(serving)
        current["request"] = request
        try:
            call(request)
        finally:
            handler.environment.use_components(None)
        now[0] += SECONDS_BETWEEN_REQUESTS  # the breaker's reset timeout runs on simulated time
        produced = list(sink.documents)
        sink.clear()
        return produced

    return documents


class DrillClock:
    """The drill's clock: intervals (the breaker's 60 s, the deadlines) on the simulated ``now``, which each
    provider answer moves by its simulated response time; epoch time real; no real waits."""

    def __init__(self, now: list[float]) -> None:
        self._now = now

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """The simulated seconds."""
        return self._now[0]

    def sleep(self, seconds: float) -> None:
        """No real wait: the drill replays hours of traffic in seconds."""


def _unreachable_dynamodb() -> Any:
    """A DynamoDB client for a loopback port nothing listens on: every call is refused at once."""
    import boto3

    from tests.conftest import refusing_port

    port = refusing_port()
    return boto3.client(  # type: ignore[call-overload]
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="eu-west-1",
        aws_access_key_id="drill",
        aws_secret_access_key="drill",
    )
