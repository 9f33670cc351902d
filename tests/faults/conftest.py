"""The fault suite's stack: moto (SSM, DynamoDB, SQS) + the Resend sandbox + the real handler, with faults on demand.

Every collaborator that a fault needs to reach is injected through ``build_components``: a breaker
on a fake clock, short Resend timeouts, a Parameter Store source that fails when told to, DynamoDB
and SQS clients that can be switched to a dead endpoint. The accounting (:func:`account`) turns
the final state of the world into the issue's numbers: accepted, delivered, queued, duplicates, lost.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

import handler
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.breaker import ProviderBreaker
from contact_sdk.compose import idempotency_key
from contact_sdk.config import ParameterSource, SsmParameterSource
from contact_sdk.devtools.local.event_source import sqs_event as local_sqs_event
from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.metrics import ListSink
from contact_sdk.models import parse_submission
from contact_sdk.outbox import LegacySubmission, QueuedEmail, read_message
from contact_sdk.parking import ParkingLot
from contact_sdk.resend import Timeouts
from contact_sdk.settings import Settings
from tests.clocks import StackClock
from tests.conftest import ACCOUNTING, REGION, aws_client, create_outbox_queues, refusing_port
from tests.entrypoint.conftest import (
    FakeLambdaContext,
    LogCaptures,
    Stack,
    seed_stack,
    session_sandbox,
)

__all__ = ["session_sandbox"]  # re-exported: pytest finds fixtures by the conftest's names


# -- small fakes -----------------------------------------------------------------------------------


class FakeClock:
    """Epoch-like seconds that move only when a test says so."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self.now += seconds


def closed_port() -> int:
    """A loopback port nothing listens on (held bound by :func:`tests.conftest.refusing_port`): refused at once."""
    return refusing_port()


def dead_aws_client(service: str) -> Any:
    """A boto3 client for ``service`` pointed at a closed loopback port: every call fails fast."""
    config = Config(connect_timeout=0.5, read_timeout=0.5, retries={"mode": "standard", "max_attempts": 1})
    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=f"http://127.0.0.1:{closed_port()}", region_name=REGION, config=config
    )


class Switchable:
    """A boto3 client stand-in that forwards to ``healthy`` or, while ``down``, to ``broken``.

    ``calls`` records every operation name, so tests can see what the service asked for.
    """

    def __init__(self, healthy: Any, broken: Any) -> None:
        self.healthy = healthy
        self.broken = broken
        self.down = False
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.broken if self.down else self.healthy, name)
        if not callable(target) or name.startswith("_") or name in ("meta", "exceptions"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return target(*args, **kwargs)

        return call


class SqsOnTheTestsClock(Switchable):
    """The SQS client stand-in: a :class:`Switchable` that keeps each message's ``DelaySeconds`` in ``delays`` and
    sends the message without it.

    The service in these tests runs on a clock the test moves (or on the real one, never waiting its sleeps);
    moto counts a delay in real seconds, so a message queued behind a 60 s ``Retry-After`` would stay out of every
    drain. Here time passes when the test says so: what the service asked SQS for is in ``delays`` (``0`` when
    it asked for none) for the test to judge, and the consumer is offered the message at once. The delay itself
    reaching SQS, and SQS holding the message back, are tested against moto in tests/entrypoint/test_outbox.py.
    """

    def __init__(self, healthy: Any, broken: Any) -> None:
        super().__init__(healthy, broken)
        self.delays: list[int] = []

    def send_message(self, **kwargs: Any) -> Any:
        delay = int(kwargs.pop("DelaySeconds", 0))
        self.calls.append(("send_message", {**kwargs, "DelaySeconds": delay}))
        sent = (self.broken if self.down else self.healthy).send_message(**kwargs)
        self.delays.append(delay)
        return sent


class FlakyParameterSource:
    """Parameter Store that can be throttled or unreachable on demand (the real SSM client either way).

    ``mode``: ``None`` (healthy, moto), ``"throttled"`` (SSM answers ``ThrottlingException``, through a
    botocore ``Stubber``) or ``"unreachable"`` (a closed port).
    """

    def __init__(self, healthy: ParameterSource) -> None:
        self.healthy = healthy
        self.mode: str | None = None
        self.fetches: list[tuple[str, str | None]] = []

    def fetch(self, name: str) -> str:
        """Fetch from whatever Parameter Store is like right now."""
        self.fetches.append((name, self.mode))
        if self.mode is None:
            return self.healthy.fetch(name)
        if self.mode == "throttled":
            client = boto3.client("ssm", region_name=REGION)
            with Stubber(client) as stubber:
                stubber.add_client_error(
                    "get_parameter",
                    service_error_code="ThrottlingException",
                    service_message="Rate exceeded",
                    http_status_code=400,
                )
                return SsmParameterSource(client).fetch(name)
        return SsmParameterSource(dead_aws_client("ssm")).fetch(name)


# -- the stack -------------------------------------------------------------------------------------


@dataclass
class FaultStack(Stack):
    """A :class:`Stack` with the outbox on SQS and handles on every injected fault."""

    queue_url: str = ""
    dlq_url: str = ""
    sqs: SqsOnTheTestsClock | None = None
    dynamodb: Switchable | None = None
    parameters: FlakyParameterSource | None = None
    transitions: list[tuple[str | None, str]] = field(default_factory=list)

    def queued_messages(self) -> list[QueuedEmail | LegacySubmission]:
        """Every message in the outbox and its dead-letter queue, left visible again afterwards."""
        return [read_message(body) for body in peek_bodies(self.aws, self.queue_url, self.dlq_url)]

    def drain_once(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run ``outbox_handler`` on one SQS event, then delete what it did not report failed.

        That deletion is what Lambda's SQS event source mapping does with a partial batch response.
        """
        response = handler.outbox_handler(event, FakeLambdaContext())
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        sqs = aws_client(self.aws, "sqs")
        for record in event["Records"]:
            if record["messageId"] not in failed:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
        return response

    def drain(self, *, rounds: int = 50) -> list[dict[str, Any]]:
        """Receive and run ``outbox_handler`` batch after batch until the queue shows nothing; the responses."""
        responses = []
        for _ in range(rounds):
            event = sqs_event(self.aws, self.queue_url)
            if not event["Records"]:
                break
            responses.append(self.drain_once(event))
        return responses

    def make_visible(self, event: dict[str, Any]) -> None:
        """Time has passed: the (postponed) messages of ``event`` are visible again."""
        sqs = aws_client(self.aws, "sqs")
        for record in event["Records"]:
            sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
            )

    def lines(self, message: str) -> list[dict[str, Any]]:
        """The captured log lines with this message."""
        return [line for line in self.log_lines() if line.get("message") == message]

    def summary(self) -> dict[str, Any]:
        """The last request's summary log line."""
        return self.lines("request handled")[-1]


def sqs_event(aws: str, queue_url: str) -> dict[str, Any]:
    """Receive what the queue holds, shaped as the SQS event Lambda's event source sends."""
    sqs = aws_client(aws, "sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return local_sqs_event(sqs, queue_url, queue_arn=arn, region=REGION)


def peek_bodies(aws: str, *queue_urls: str) -> list[str]:
    """The bodies of every visible message in the queues, made visible again right after."""
    sqs = aws_client(aws, "sqs")
    bodies: list[str] = []
    for url in queue_urls:
        handles: list[str] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
                "Messages", []
            )
            if not messages:
                break
            for message in messages:
                bodies.append(message["Body"])
                handles.append(message["ReceiptHandle"])
        for receipt in handles:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return bodies


def in_flight(aws: str, queue_url: str) -> int:
    """Messages received (or postponed) and not yet visible again."""
    attributes = aws_client(aws, "sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def fault_queues(aws: str) -> dict[str, str]:
    """The outbox queue with its dead-letter queue (after 5 receives), in moto."""
    return create_outbox_queues(aws, max_receive_count=5)


@pytest.fixture
def build_stack(
    aws: str,
    contact_table: str,
    session_sandbox: ResendSandbox,
    fault_queues: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., FaultStack]]:
    """Build a stack whose every outside dependency can fail on demand.

    ``build(settings={...}, sandbox=..., clock=..., dynamodb_client=..., breaker=..., timeouts=..., parking=...)``:
    ``settings`` override :class:`Settings` fields; ``clock`` is the service's time (real by default; waits
    are recorded in ``stack.sleeps``, never waited); the DynamoDB client is a :class:`Switchable`, SQS's a
    :class:`SqsOnTheTestsClock`, the parameter source a :class:`FlakyParameterSource`.
    """
    session_sandbox.reset()
    kms_key_id = seed_stack(
        aws, contact_table, session_sandbox, monkeypatch, CONTACT_OUTBOX_QUEUE_URL=fault_queues["url"]
    )
    captures = LogCaptures()
    built: list[Components] = []

    def build(
        *,
        settings: dict[str, Any] | None = None,
        sandbox: ResendSandbox | None = None,
        clock: Callable[[], float] | None = None,
        dynamodb_client: Any = None,
        breaker: ProviderBreaker | None = None,
        timeouts: Timeouts | None = None,
        parking: ParkingLot | None = None,
    ) -> FaultStack:
        sandbox = sandbox or session_sandbox
        sink = ListSink()
        sleeps: list[float] = []
        transitions: list[tuple[str | None, str]] = []
        sqs = SqsOnTheTestsClock(aws_client(aws, "sqs"), dead_aws_client("sqs"))
        dynamodb = Switchable(dynamodb_client or aws_client(aws, "dynamodb"), dead_aws_client("dynamodb"))
        parameters = FlakyParameterSource(SsmParameterSource(aws_client(aws, "ssm")))
        # Fault tests post the instant they fetch a token; the fill-time rule (its own tests live in
        # tests/entrypoint/test_fill_time.py) would drop those as spam, so it is off unless a test sets it.
        fields = {"resend_api_url": sandbox.url, "min_fill_seconds": 0, **(settings or {})}
        components = build_components(
            Settings.from_env(**fields),
            sink=sink,
            clock=StackClock(clock, sleeps),
            aws={"sqs": sqs, "dynamodb": dynamodb},
            parameters=parameters,
        )
        # What a test swaps in after the build: a breaker on its own clock or thresholds, shorter provider
        # timeouts, a parking lot that fails on demand (public attributes of the parts; the runtime has no seam).
        if breaker is not None:
            components.client.breaker = breaker
        if timeouts is not None:
            components.client.timeouts = timeouts
        if parking is not None:
            components.delivery.parking = parking
        stack = FaultStack(
            aws,
            sandbox,
            contact_table,
            kms_key_id,
            sink,
            components,
            sleeps,
            queue_url=fault_queues["url"],
            dlq_url=fault_queues["dlq"],
            sqs=sqs,
            dynamodb=dynamodb,
            parameters=parameters,
            transitions=transitions,
        )
        captures.attach(stack.logs, components.api.logger.registered_formatter)
        built.append(components)
        handler.environment.use_components(components)
        return stack

    yield build
    for components in built:
        components.close()
    captures.close()
    handler.environment.use_components(None)
    session_sandbox.reset()


@pytest.fixture
def fault_stack(build_stack: Callable[..., FaultStack]) -> FaultStack:
    """The default fault stack: real breaker settings on the real clock, default timeouts."""
    return build_stack()


def breaker_on(clock: FakeClock, transitions: list[tuple[str | None, str]], **options: Any) -> ProviderBreaker:
    """A breaker on ``clock`` that records its transitions and keeps bootstrap's ``CircuitOpened`` metric."""
    from contact_sdk.bootstrap import _on_breaker_change

    def on_change(old: str | None, new: str) -> None:
        transitions.append((old, new))
        _on_breaker_change(old, new)

    return ProviderBreaker(clock=clock, on_state_change=on_change, **options)


# -- accounting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """The final state of the world against what clients were told."""

    accepted: int
    delivered: int
    queued: int
    duplicates: int
    lost: int
    #: Refused by the provider for good and kept for the operator (the record says ``parked``).
    parked: int = 0

    def __str__(self) -> str:
        return (
            f"accepted={self.accepted} delivered={self.delivered} queued={self.queued} parked={self.parked} "
            f"duplicates={self.duplicates} lost={self.lost}"
        )

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.accepted + other.accepted,
            self.delivered + other.delivered,
            self.queued + other.queued,
            self.duplicates + other.duplicates,
            self.lost + other.lost,
            self.parked + other.parked,
        )


#: The record's moves as issue 21 states them, written out here rather than read from ``contact_sdk.record``
#: (the code under test): sent and released are final, spam never follows anything but spam, nothing goes
#: back to received but a repeat of a spam verdict judged legitimate.
FORWARD: dict[str, set[str]] = {
    "received": {"sent", "queued", "parked"},
    "queued": {"queued", "sent", "parked"},
    "parked": {"parked", "queued", "sent"},
    "spam": {"spam", "received", "released"},
    "sent": set(),
    "released": set(),
}


def record_histories(stack: Stack) -> dict[str, list[str]]:
    """Each submission record's states, oldest first, read straight from the table (empty without one)."""
    if not getattr(stack, "table", None):
        return {}
    paginator = aws_client(stack.aws, "dynamodb").get_paginator("scan")
    histories: dict[str, list[str]] = {}
    for page in paginator.paginate(TableName=stack.table):
        for item in page["Items"]:
            if item["pk"]["S"].startswith("archive#"):
                key = item["idempotencyKey"]["S"]
                histories[key] = [entry["M"]["state"]["S"] for entry in item["history"]["L"]]
    return histories


def backwards_moves(histories: dict[str, list[str]]) -> list[str]:
    """Every step of a history that :data:`FORWARD` does not allow (a test runs well inside one 24-hour cycle)."""
    wrong = []
    for key, states in histories.items():
        if states and states[0] not in ("received", "spam"):
            wrong.append(f"{key}: starts at {states[0]}")
        for before, after in itertools.pairwise(states):
            if after not in FORWARD[before]:
                wrong.append(f"{key}: {before} -> {after} in {states}")
    return wrong


def key_of(payload: dict[str, Any]) -> str:
    """The idempotency key the service derives for a (valid) payload."""
    submission, errors = parse_submission(payload)
    assert submission is not None, errors
    return idempotency_key(submission)


class Tally:
    """What clients were told, collected from the answers (thread-safe).

    Accepted: a ``200 sent`` (not judged spam) or a ``202 queued``, counted once per submission
    (idempotency key), because a double click of one submission is one accepted submission.
    """

    def __init__(self) -> None:
        self.accepted: set[str] = set()
        self.statuses: list[int] = []
        self._lock = threading.Lock()

    def record(self, payload: dict[str, Any], response: dict[str, Any], *, spam: bool = False) -> None:
        """Count one answer to ``payload``."""
        status = int(response["statusCode"])
        with self._lock:
            self.statuses.append(status)
            if status in (200, 202) and not spam:
                self.accepted.add(key_of(payload))


def _first_key(key: str) -> str:
    """The submission's own key for a derived one (``<key>.r1`` of a recomposed resend)."""
    return key.split(".r", 1)[0]


def account(stack: FaultStack, accepted: set[str], *, label: str) -> Counts:
    """accepted / delivered (distinct submissions emailed) / queued (in the outbox) / parked / duplicates / lost.

    Also checks the identities the issues ask for: every accepted submission is delivered, queued or
    parked; no email went out for a submission nobody was told was accepted; and no submission's record
    ever moved backwards.
    """
    emails = stack.sandbox.emails()
    email_keys = [str(dict(e["headers"]).get("idempotency-key")) for e in emails]  # type: ignore[call-overload]
    delivered = {_first_key(key) for key in email_keys}
    histories = record_histories(stack)
    parked = {key for key, states in histories.items() if states and states[-1] == "parked"} - delivered
    waiting = {_first_key(m.idempotency_key) for m in stack.queued_messages()} - delivered - parked
    counts = Counts(
        accepted=len(accepted),
        delivered=len(delivered),
        queued=len(waiting),
        parked=len(parked),
        duplicates=len(emails) - len(delivered),
        lost=len(accepted - delivered - waiting - parked),
    )
    ACCOUNTING.append((label, asdict(counts)))
    print(f"[{label}] {counts}")
    assert delivered <= accepted, "an email went out for a submission that was not accepted"
    assert counts.accepted == counts.delivered + counts.queued + counts.parked, counts
    assert counts.duplicates == 0, counts
    assert counts.lost == 0, counts
    assert backwards_moves(histories) == []
    return counts
