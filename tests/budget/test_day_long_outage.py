"""A 24-hour Resend outage, simulated: the real API and outbox consumer against an SQS that keeps time.

Every piece of the service is the real one (:func:`~contact_sdk.bootstrap.build_components`: the
response budget, the client and its retries, the breaker, the outbox, the consumer and its backoff);
only time is simulated, and SQS is :class:`~tests.budget.simulated_sqs.SimulatedQueue` (visibility,
receive counts, a dead-letter queue after the stack's ``maxReceiveCount``). The provider is an
``httpx.MockTransport`` answering ``503`` for 24 hours, then accepting — and recording every
acceptance per idempotency key, so a second email for one submission would show.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from contact_sdk.bootstrap import build_components
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.errors import ConfigUnavailableError
from contact_sdk.metrics import ListSink
from contact_sdk.settings import Settings
from tests.budget.simulated_sqs import SimClock, SimContext, SimulatedQueue


def deployed_max_receive_count() -> int:
    """The stack's default ``maxReceiveCount``, read from its settings module alone (no CDK import)."""
    path = Path(__file__).resolve().parents[2] / "infra" / "contact_stack" / "settings.py"
    spec = importlib.util.spec_from_file_location("_stack_settings", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return int(module.StackSettings().outbox_max_receive_count)


ORIGIN = "https://www.example.com"
API_KEY = "re_outage_key"
HOUR = 3600.0
OUTAGE = 24 * HOUR
#: Lambda's SQS event source gives the consumer at most this many messages per invocation.
BATCH = 10


@dataclass
class Provider:
    """Resend on the simulated clock: down until ``recovers_at``, then accepting once per key."""

    clock: SimClock
    recovers_at: float
    acceptances: dict[str, list[float]] = field(default_factory=dict)
    refused: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.clock() < self.recovers_at:
            self.refused += 1
            return httpx.Response(503, json={"statusCode": 503, "name": "service_unavailable", "message": "down"})
        key = request.headers["Idempotency-Key"]
        self.acceptances.setdefault(key, []).append(self.clock())
        return httpx.Response(200, json={"id": f"email-{key[-12:]}"})


@dataclass
class ParameterStoreDown:
    """Parameter Store on the simulated clock: unreachable until ``recovers_at``, then ``healthy``'s values."""

    healthy: InMemoryParameterSource
    clock: SimClock
    recovers_at: float
    refused: int = 0

    def fetch(self, name: str) -> str:
        if self.clock() < self.recovers_at:
            self.refused += 1
            raise ConfigUnavailableError(f"parameter {name}: Parameter Store unreachable (simulated outage)")
        return self.healthy.fetch(name)


def api_event(method: str, path: str, *, body: str | None, headers: dict[str, str], ip: str) -> dict[str, Any]:
    """An API Gateway REST proxy event."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": {"requestId": str(uuid.uuid4()), "identity": {"sourceIp": ip}},
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("cause", ["provider", "parameter_store"])
def test_a_day_long_outage_dead_letters_nothing_and_delivers_each_submission_once(cause: str) -> None:
    """24 h of 503s: every accepted submission is delivered exactly once, within 10 minutes of recovery, none lost.

    Submissions arrive throughout the outage (at its start, then every 2 hours); the event source
    polls whenever a message is visible. Accounting (printed): accepted, delivered, dead-lettered,
    duplicates, the most receives any message needed, and the latest delivery after recovery.
    With ``cause="parameter_store"`` the outbox consumer (a function of its own, started cold) also
    cannot read its config for the 24 h: a failure that is not the provider's spends receives as
    slowly as one that is.
    """
    clock = SimClock()
    start = clock()
    provider = Provider(clock, recovers_at=start + OUTAGE)
    max_receive_count = deployed_max_receive_count()
    queue = SimulatedQueue(clock, max_receive_count=max_receive_count)
    config = {
        "apiKey": API_KEY,
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "owner@example.com",
        "version": 1,
        "rotatedAt": "2026-11-01T10:00:00Z",
    }
    source = InMemoryParameterSource(
        {
            "/portfolio/prod/resend/api-key": json.dumps(config),
            "/portfolio/prod/contact/csrf-secret": "an-outage-test-csrf-secret-that-is-long-enough-012",
        }
    )
    settings = Settings.from_env(
        environ={},
        allowed_origins=(ORIGIN,),
        outbox_queue_url=queue.url,
        submit_limit=1000,
        resend_api_url="https://api.resend.example",
        min_fill_seconds=0,  # the script posts the instant its token is issued; the fill-time rule is not the point
    )
    http = httpx.Client(transport=httpx.MockTransport(provider), base_url="https://api.resend.example")
    components = build_components(
        settings,
        sink=ListSink(),
        parameters=source,
        http=http,
        aws={"sqs": queue},
        clock=clock,
    )
    api, consumer = components.api, components.consumer
    if cause == "parameter_store":
        consumer = build_components(
            settings,
            sink=ListSink(),
            parameters=ParameterStoreDown(source, clock, recovers_at=start + OUTAGE),
            http=http,
            aws={"sqs": queue},
            clock=clock,
        ).consumer

    arrivals = [start + 0.0, start + 1.0, start + 2.0] + [start + h * 2 * HOUR for h in range(1, 12)]
    accepted: dict[str, float] = {}  # idempotency key -> when the visitor was answered 202

    def submit(number: int) -> None:
        ip = f"198.51.100.{number + 1}"
        token = json.loads(
            api.handle(api_event("GET", "/contact/token", body=None, headers={"Origin": ORIGIN}, ip=ip))["body"]
        )["token"]
        payload = {
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "message": f"Outage message number {number}: please call me back.",
            "consent": True,
            "formStartedAt": int(time.time() * 1000) - 10_000,
        }
        headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token}
        before = len(queue.messages)
        answer = api.handle(api_event("POST", "/contact", body=json.dumps(payload), headers=headers, ip=ip))
        assert answer["statusCode"] == 202, answer
        assert json.loads(answer["body"])["status"] == "queued"
        [message] = queue.messages[before:]
        accepted[json.loads(message.body)["idempotency_key"]] = clock()

    def poll() -> None:
        received = queue.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=BATCH)["Messages"]
        if not received:
            return
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:outbox",
                    "awsRegion": "eu-west-1",
                }
                for m in received
            ]
        }
        invoked = clock()
        result = consumer.handle(event, SimContext(clock))
        assert clock() - invoked <= 30.0, "the consumer overran its Lambda timeout"
        failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
        for m in received:
            if m["MessageId"] not in failed:
                queue.delete_message(QueueUrl=queue.url, ReceiptHandle=m["ReceiptHandle"])

    pending_arrivals = list(arrivals)
    for _ in range(200_000):  # far more steps than the run needs; a loop that never ends fails below
        if pending_arrivals and pending_arrivals[0] <= clock():
            submit(len(arrivals) - len(pending_arrivals))
            pending_arrivals.pop(0)
            continue
        visible_at = queue.next_visible_at()
        if visible_at is not None and visible_at <= clock():
            poll()
            continue
        if not pending_arrivals and visible_at is None:
            break
        candidates = [t for t in (visible_at, pending_arrivals[0] if pending_arrivals else None) if t is not None]
        clock.advance_to(min(candidates))
    else:
        raise AssertionError("the simulation did not settle")

    delivered = {key: times for key, times in provider.acceptances.items() if key in accepted}
    duplicates = sum(len(times) - 1 for times in provider.acceptances.values())
    latest_after_recovery = max(times[0] for times in delivered.values()) - provider.recovers_at
    most_receives = max(m.receive_count for m in queue.messages)
    print(
        f"\n[24 h outage: {cause}] accepted={len(accepted)} delivered={len(delivered)} "
        f"dead-lettered={len(queue.dead_letters)} duplicates={duplicates} "
        f"most receives={most_receives} of maxReceiveCount={max_receive_count} "
        f"latest delivery {latest_after_recovery:.0f} s after recovery; provider refused {provider.refused} calls"
    )
    assert len(accepted) == len(arrivals)
    assert queue.dead_letters == []
    assert set(delivered) == set(accepted)
    assert set(provider.acceptances) == set(accepted)  # nothing delivered that was not accepted
    assert duplicates == 0
    assert all(times[0] >= provider.recovers_at for times in delivered.values())
    assert latest_after_recovery <= 600
    assert most_receives < max_receive_count
