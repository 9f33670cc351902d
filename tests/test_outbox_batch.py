"""The outbox consumer's batch, fast tier: what each outcome leaves behind for the operator, and whose time it uses.

The consumer is the real one (:func:`~contact_sdk.bootstrap.build_components`) on a simulated clock; SQS is
:class:`tests.budget.simulated_sqs.SimulatedQueue` (the outbox and, at another URL, the parking lot), and the
provider an ``httpx.MockTransport``. Each test reads what a user sees: the JSON lines the Lambda prints (the
dashboard's "Submissions by state per day" query reads ``outbox message delivered`` and ``outbox message parked``
with ``record_state``; docs/dashboards.md), the metrics, the message the parking lot received, and the timeouts the
provider was handed. Every figure is worked out by hand: a 30 s invocation less the 3 s margin leaves 27 s; SQS and
the parking lot may use the 0.4 s queue allowance past it (``QUEUE_ALLOWANCE_SECONDS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from contact_sdk import deadline as deadlines
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.compose import idempotency_key
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.errors import ProviderServerError
from contact_sdk.metrics import ListSink
from contact_sdk.outbox import QueuedEmail
from contact_sdk.record import Draft, DynamoDBSubmissionRecords, RecordState
from contact_sdk.settings import Settings
from tests.budget.simulated_sqs import SimClock, SimContext, SimulatedQueue, sqs_event
from tests.log_lines import Printed, printed
from tests.test_delivery import UnreachableRecords
from tests.test_outbox_consumer import CONFIG
from tests.test_outbox_postpone import EMAIL, NOON, SUBMISSION

PARKED_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/outbox-dlq"
KEY = idempotency_key(SUBMISSION)


class WatchedQueue(SimulatedQueue):
    """The simulated queue, noting how much of the ambient deadline was left at each call (``None``: unbounded)."""

    def __init__(self, clock: SimClock, *, send_fails: bool = False) -> None:
        super().__init__(clock=clock)
        self.send_fails = send_fails
        self.left_at: list[tuple[str, float | None]] = []

    def _note(self, call: str) -> None:
        scope = deadlines.current()
        self.left_at.append((call, None if scope is None else round(scope.remaining(), 3)))

    def send_message(self, *, QueueUrl: str, MessageBody: str, MessageAttributes: Any = None) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self._note("SendMessage")
        if self.send_fails and QueueUrl == PARKED_URL:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessage")
        return super().send_message(QueueUrl=QueueUrl, MessageBody=MessageBody, MessageAttributes=MessageAttributes)

    def change_message_visibility(self, *, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:  # noqa: N803
        self._note("ChangeMessageVisibility")
        super().change_message_visibility(
            QueueUrl=QueueUrl, ReceiptHandle=ReceiptHandle, VisibilityTimeout=VisibilityTimeout
        )

    def close(self) -> None:
        """As a boto3 client's: the service closes its clients when it is closed."""


@dataclass
class Provider:
    """Answers every send with ``status`` and ``answer``; keeps each request's timeouts."""

    status: int = 200
    answer: dict[str, Any] = field(default_factory=lambda: {"id": "e-1"})
    headers: dict[str, str] = field(default_factory=dict)
    timeouts: list[dict[str, float]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(dict(request.extensions["timeout"]))
        return httpx.Response(self.status, json=self.answer, headers=self.headers)


@dataclass
class Batch:
    """A consumer, its queue and what it printed."""

    components: Components
    queue: WatchedQueue
    clock: SimClock
    sink: ListSink
    parameters: InMemoryParameterSource
    output: Printed = field(default_factory=Printed)

    def lines(self, message: str) -> list[dict[str, Any]]:
        """The JSON log lines printed with ``message``."""
        return self.output.lines(message)

    def run(self, *bodies: str, context: Any = None) -> dict[str, Any]:
        """Send ``bodies`` to the outbox, receive them and hand them to the consumer as one event."""
        for body in bodies:
            self.queue.send_message(QueueUrl=self.queue.url, MessageBody=body)
        self.queue.left_at.clear()
        messages = self.queue.receive_message(QueueUrl=self.queue.url, MaxNumberOfMessages=10)["Messages"]
        return self.components.consumer.handle(sqs_event(messages), context or SimContext(self.clock))


@pytest.fixture
def batch_for() -> Iterator[Callable[..., Batch]]:
    built: list[Components] = []

    def build(provider: Provider, *, queue_url: bool = True, send_fails: bool = False, **overrides: Any) -> Batch:
        clock = SimClock(start=NOON)
        queue = WatchedQueue(clock, send_fails=send_fails)
        settings = Settings.from_env(
            environ={},
            config_parameter="/c",
            csrf_secret_parameter="/s",
            allowed_origins=("https://a.example",),
            outbox_queue_url=queue.url if queue_url else None,
            parked_queue_url=PARKED_URL,
            resend_api_url="https://api.resend.example",
            **overrides,
        )
        sink = ListSink()
        parameters = InMemoryParameterSource({"/c": CONFIG, "/s": "s" * 48})
        components = build_components(
            settings,
            sink=sink,
            parameters=parameters,
            http=httpx.Client(transport=httpx.MockTransport(provider), base_url="https://api.resend.example"),
            aws={"sqs": queue},
            clock=clock,
        )
        built.append(components)
        return Batch(components, queue, clock, sink, parameters)

    yield build
    for components in built:
        components.close()


def queued(**changes: Any) -> str:
    """The outbox message the API queued for ``SUBMISSION`` (request ``r-1``), as JSON."""
    item = QueuedEmail(
        email=EMAIL, idempotency_key=KEY, request_id="r-1", queued_at=NOON - 42, reason="ProviderServerError"
    )
    return json.dumps({**json.loads(item.to_json()), **changes})


def claim_queued(components: Components) -> None:
    """The record the API left for ``SUBMISSION``: claimed, then moved to ``queued``."""
    draft = Draft.of(
        SUBMISSION, key=KEY, request_id="r-1", client_ip="203.0.113.9", state=RecordState.RECEIVED, now=NOON
    )
    cycle = components.records.claim(draft).record.cycle
    components.records.move(KEY, RecordState.QUEUED, cycle=cycle, now=NOON, reasons=("ProviderServerError",))


def test_a_delivered_message_is_logged_with_its_record_state_and_the_submissions_request_id(
    batch_for: Callable[..., Batch],
) -> None:
    """The line the dashboard counts (``sent``), under the API request's correlation id; one EmailsSent."""
    batch = batch_for(Provider())
    claim_queued(batch.components)
    with printed(batch.components.consumer.logger) as batch.output:
        assert batch.run(queued()) == {"batchItemFailures": []}
    [delivered] = batch.lines("outbox message delivered")
    assert delivered["level"] == "INFO"
    assert delivered["correlation_id"] == "r-1"
    assert (delivered["email_id"], delivered["idempotency_key"]) == ("e-1", KEY)
    assert (delivered["record_state"], delivered["queued_for_s"]) == ("sent", 42)
    [summary] = batch.lines("outbox batch processed")
    assert (summary["received"], summary["failed"]) == (1, 0)
    assert "correlation_id" not in summary  # the batch's line belongs to no one submission
    assert batch.sink.totals()["EmailsSent"] == 1


def test_the_consumers_metrics_are_counted_in_the_configured_environment(batch_for: Callable[..., Batch]) -> None:
    """CONTACT_ENVIRONMENT=staging: every EMF document the consumer writes is in the ``Environment=staging``
    dimension the dashboards and alarms filter on, as the API's are; counted under ``prod`` (the default), a
    staging delivery would move the production alarms and none of staging's."""
    batch = batch_for(Provider(), environment="staging")
    claim_queued(batch.components)
    assert batch.run(queued()) == {"batchItemFailures": []}
    assert batch.sink.totals()["EmailsSent"] == 1
    for document in batch.sink.documents:
        assert document["Environment"] == "staging"
        assert [d["Dimensions"] for d in document["_aws"]["CloudWatchMetrics"]] == [[["Environment"]]]


def test_the_providers_timeouts_are_cut_to_what_the_invocation_has_left(batch_for: Callable[..., Batch]) -> None:
    """5 s left less the 3 s margin: every phase gets 2 s. With 30 s left the configured ones (3/10/5/2 s) apply."""
    provider = Provider()
    batch = batch_for(provider)
    assert batch.run(queued(), context=SimContext(batch.clock, timeout_s=5.0)) == {"batchItemFailures": []}
    assert provider.timeouts == [{"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}]

    provider = Provider()
    batch = batch_for(provider)
    assert batch.run(queued(), context=SimContext(batch.clock, timeout_s=30.0)) == {"batchItemFailures": []}
    assert provider.timeouts == [{"connect": 3.0, "read": 10.0, "write": 5.0, "pool": 2.0}]


def test_the_margin_setting_is_what_the_consumer_keeps_back_from_the_invocation(
    batch_for: Callable[..., Batch],
) -> None:
    """CONTACT_DEADLINE_MARGIN_MS=1000: of 5 s left, 4 s are the batch's, so the read and write timeouts are cut to
    4 s (the 3 s connect and 2 s pool timeouts are shorter already); with the default 3 s margin they were 2 s."""
    provider = Provider()
    batch = batch_for(provider, deadline_margin_ms=1000)
    assert batch.run(queued(), context=SimContext(batch.clock, timeout_s=5.0)) == {"batchItemFailures": []}
    assert provider.timeouts == [{"connect": 3.0, "read": 4.0, "write": 4.0, "pool": 2.0}]


def test_an_unreadable_message_is_parked_as_it_came_and_leaves_the_outbox(batch_for: Callable[..., Batch]) -> None:
    """Not ours: kept byte for byte with its reason (within the deadline and the allowance), and not retried."""
    batch = batch_for(Provider())
    with printed(batch.components.consumer.logger) as batch.output:
        assert batch.run("{not ours") == {"batchItemFailures": []}
    [(body, attributes)] = batch.queue.moved_by_hand
    reason = "outbox message is not JSON: Expecting property name enclosed in double quotes"
    assert body == "{not ours"
    assert attributes["parkedReason"]["StringValue"] == f"unreadable: {reason}"
    assert batch.queue.left_at == [("SendMessage", 27.4)]
    [line] = batch.lines("outbox message unreadable")
    assert line["level"] == "ERROR"
    assert (line["message_id"], line["error"]) == (batch.queue.messages[0].message_id, reason)


def test_an_unreadable_message_the_parking_lot_refuses_stays_in_the_outbox(batch_for: Callable[..., Batch]) -> None:
    """The parking queue refuses it: reported failed, so SQS keeps it (and dead-letters it in the end)."""
    batch = batch_for(Provider(), send_fails=True)
    result = batch.run("{not ours")
    assert result == {"batchItemFailures": [{"itemIdentifier": batch.queue.messages[0].message_id}]}
    assert batch.queue.moved_by_hand == []


def test_a_refused_email_is_parked_and_logged_with_the_state_the_dashboard_counts(
    batch_for: Callable[..., Batch],
) -> None:
    """422: parked (never sent again as it is), the line says ``parked`` and why; the outbox lets it go."""
    batch = batch_for(Provider(status=422, answer={"statusCode": 422, "name": "validation_error", "message": "bad"}))
    claim_queued(batch.components)
    with printed(batch.components.consumer.logger) as batch.output:
        assert batch.run(queued()) == {"batchItemFailures": []}
    [parked] = batch.lines("outbox message parked")
    assert (parked["level"], parked["correlation_id"], parked["idempotency_key"]) == ("INFO", "r-1", KEY)
    assert parked["record_state"] == "parked"
    assert parked["parked_reason"] == "ProviderRequestError 422 validation_error: bad"
    [(body, _attributes)] = batch.queue.moved_by_hand
    assert json.loads(body)["email"]["subject"] == "Contact Form: Message from Ada"


def test_a_message_already_delivered_or_superseded_is_dropped_with_a_line_saying_so(
    batch_for: Callable[..., Batch],
) -> None:
    """A redelivery of a sent email, and a copy under a key a recompose replaced: nothing sent, each line named."""
    provider = Provider()
    batch = batch_for(provider)
    draft = Draft.of(
        SUBMISSION, key=KEY, request_id="r-1", client_ip="203.0.113.9", state=RecordState.RECEIVED, now=NOON
    )
    cycle = batch.components.records.claim(draft).record.cycle
    batch.components.records.move(KEY, RecordState.PARKED, cycle=cycle, now=NOON, reasons=("422",))
    batch.components.records.move(KEY, RecordState.QUEUED, cycle=cycle, now=NOON, new_key=KEY + ".r1")
    with printed(batch.components.consumer.logger) as batch.output:
        assert batch.run(queued(cycle=cycle)) == {"batchItemFailures": []}
        [superseded] = batch.lines("outbox message superseded by a recomposed one; dropping it")
        batch.components.records.move(KEY, RecordState.SENT, cycle=cycle, now=NOON, email_id="e-0")
        assert batch.run(queued(cycle=cycle, idempotency_key=KEY + ".r1")) == {"batchItemFailures": []}
        [again] = batch.lines("outbox message already delivered; dropping it")
    assert provider.timeouts == []
    assert (superseded["idempotency_key"], superseded["superseded_by"]) == (KEY, KEY + ".r1")
    assert (again["idempotency_key"], again["correlation_id"]) == (KEY + ".r1", "r-1")


def test_a_provider_failure_is_hidden_within_the_allowance_and_logged_with_what_failed(
    batch_for: Callable[..., Batch],
) -> None:
    """503 with Retry-After 60 s (past the in-invocation schedule's 16 s): one attempt, hidden 60 s at once."""
    batch = batch_for(Provider(status=503, answer={"name": "service_unavailable"}, headers={"Retry-After": "60"}))
    with printed(batch.components.consumer.logger) as batch.output:
        result = batch.run(queued())
    [message] = batch.queue.messages
    assert result == {"batchItemFailures": [{"itemIdentifier": message.message_id}]}
    assert batch.queue.hides == [60]
    assert batch.queue.left_at == [("ChangeMessageVisibility", 27.4)]
    [failed] = batch.lines("outbox delivery failed; will retry")
    assert failed["level"] == "WARNING"
    # The provider's wait is longer than any the client sleeps, so it is left to SQS at once; the line names what
    # failed (the provider's 503), not a deferral of ours.
    assert (failed["idempotency_key"], failed["error"], failed["status"]) == (KEY, "ProviderServerError", 503)
    assert (failed["receive_count"], failed["correlation_id"]) == ("1", "r-1")
    [summary] = batch.lines("outbox batch processed")
    assert (summary["received"], summary["failed"]) == (1, 1)
    assert batch.sink.totals()["EmailsFailed"] == 1


def test_a_failure_that_is_not_the_providers_is_hidden_and_logged_by_name(batch_for: Callable[..., Batch]) -> None:
    """Parameter Store unreachable: nothing sent, the growing hide (30 s) within the allowance, no HTTP status."""
    provider = Provider()
    batch = batch_for(provider)
    batch.parameters.fail = True
    with printed(batch.components.consumer.logger) as batch.output:
        result = batch.run(queued())
    assert result["batchItemFailures"] == [{"itemIdentifier": batch.queue.messages[0].message_id}]
    assert (provider.timeouts, batch.queue.hides) == ([], [30])
    assert batch.queue.left_at == [("ChangeMessageVisibility", 27.4)]
    [failed] = batch.lines("outbox delivery failed; will retry")
    assert (failed["idempotency_key"], failed["error"]) == (KEY, "ConfigUnavailableError")
    assert "status" not in failed  # not an HTTP answer (Powertools leaves out a field that is None)


def test_without_an_outbox_queue_a_failure_asks_sqs_for_nothing(batch_for: Callable[..., Batch]) -> None:
    """No ``CONTACT_OUTBOX_QUEUE_URL``: there is no queue to hide the message in; it is only reported failed."""
    batch = batch_for(
        Provider(status=503, answer={"name": "service_unavailable"}, headers={"Retry-After": "60"}), queue_url=False
    )
    result = batch.run(queued())
    assert result["batchItemFailures"] == [{"itemIdentifier": batch.queue.messages[0].message_id}]
    assert batch.queue.left_at == []


def test_a_refusal_the_parking_lot_cannot_take_stays_in_the_outbox_for_the_growing_hide(
    batch_for: Callable[..., Batch],
) -> None:
    """422 with the parking queue refusing: not lost, not retried at once: failed, hidden 30 s."""
    batch = batch_for(
        Provider(status=422, answer={"statusCode": 422, "name": "validation_error", "message": "bad"}), send_fails=True
    )
    with printed(batch.components.consumer.logger) as batch.output:
        result = batch.run(queued())
    assert result["batchItemFailures"] == [{"itemIdentifier": batch.queue.messages[0].message_id}]
    assert (batch.queue.moved_by_hand, batch.queue.hides) == ([], [30])
    [failed] = batch.lines("outbox delivery failed; will retry")
    assert (failed["error"], failed["status"]) == ("ProviderRequestError", 422)


def test_an_unreadable_message_the_lot_refuses_is_logged_with_why(batch_for: Callable[..., Batch]) -> None:
    batch = batch_for(Provider(), send_fails=True)
    with printed(batch.components.consumer.logger) as batch.output:
        batch.run("{not ours")
    [line] = batch.lines("could not park the unreadable outbox message")
    assert (line["level"], line["error"]) == ("WARNING", "the parking queue did not take the message (ClientError)")


def test_a_conflicting_key_is_parked_as_a_conflict_with_its_reason_in_the_message(
    batch_for: Callable[..., Batch],
) -> None:
    """409 ``invalid_idempotent_request`` and no record showing it sent: parked (within the allowance), reason kept."""
    conflict = {"statusCode": 409, "name": "invalid_idempotent_request", "message": "Same key, other payload."}
    batch = batch_for(Provider(status=409, answer=conflict))
    assert batch.run(queued()) == {"batchItemFailures": []}
    reason = "idempotency_conflict: IdempotencyConflictError 409 invalid_idempotent_request: Same key, other payload."
    [(body, attributes)] = batch.queue.moved_by_hand
    assert attributes["parkedReason"]["StringValue"] == reason
    assert json.loads(body)["reason"] == reason
    assert batch.queue.left_at == [("SendMessage", 27.4)]


def test_a_conflict_for_a_record_sent_in_its_current_life_is_already_delivered(
    batch_for: Callable[..., Batch],
) -> None:
    """A message from an earlier life of the submission (another cycle): Resend's 409 and a sent record mean sent."""
    conflict = {"statusCode": 409, "name": "invalid_idempotent_request", "message": "Same key, other payload."}
    batch = batch_for(Provider(status=409, answer=conflict))
    claim_queued(batch.components)
    view = batch.components.records.get(KEY)
    assert view is not None
    batch.components.records.move(KEY, RecordState.SENT, cycle=view.cycle, now=NOON, email_id="e-0")
    with printed(batch.components.consumer.logger) as batch.output:
        assert batch.run(queued(cycle=view.cycle - 1)) == {"batchItemFailures": []}
    assert batch.queue.moved_by_hand == []
    [line] = batch.lines("outbox message already delivered; dropping it")
    assert line["idempotency_key"] == KEY


def test_a_message_without_a_cycle_is_not_sent_again_when_the_record_says_sent(
    batch_for: Callable[..., Batch],
) -> None:
    """Messages queued before records had cycles: the record alone decides."""
    provider = Provider()
    batch = batch_for(provider)
    claim_queued(batch.components)
    view = batch.components.records.get(KEY)
    assert view is not None
    batch.components.records.move(KEY, RecordState.SENT, cycle=view.cycle, now=NOON, email_id="e-0")
    assert "cycle" not in json.loads(queued()) or json.loads(queued())["cycle"] is None
    assert batch.run(queued()) == {"batchItemFailures": []}
    assert provider.timeouts == []


def test_a_message_two_recomposes_behind_names_the_key_that_replaced_it_last(batch_for: Callable[..., Batch]) -> None:
    provider = Provider()
    batch = batch_for(provider)
    claim_queued(batch.components)
    view = batch.components.records.get(KEY)
    assert view is not None
    for n in (1, 2):
        batch.components.records.move(KEY, RecordState.QUEUED, cycle=view.cycle, now=NOON, new_key=f"{KEY}.r{n}")
    with printed(batch.components.consumer.logger) as batch.output:
        assert batch.run(queued(cycle=view.cycle, idempotency_key=KEY + ".r1")) == {"batchItemFailures": []}
    [line] = batch.lines("outbox message superseded by a recomposed one; dropping it")
    assert line["superseded_by"] == KEY + ".r2"
    assert provider.timeouts == []


def test_an_open_breaker_hides_the_message_until_its_trial(batch_for: Callable[..., Batch]) -> None:
    """Opened by five failures 18 s ago (60 s open): the first receive waits the breaker's 42 s, not the usual 30."""
    provider = Provider()
    batch = batch_for(provider)
    breaker = batch.components.client.breaker
    for _ in range(5):
        breaker.record(breaker.admit(), ProviderServerError("down", status=500))
    assert breaker.state == "open"
    batch.clock.advance_to(NOON + 18)
    assert batch.run(queued()) == {"batchItemFailures": [{"itemIdentifier": batch.queue.messages[0].message_id}]}
    assert batch.queue.hides == [42]
    assert provider.timeouts == []


def test_a_delivered_message_leaves_the_tables_record_with_its_one_key(
    batch_for: Callable[..., Batch], moto_dynamodb: Any, moto_table: str
) -> None:
    """The table appends a noted key (``list_append``), unlike the in-memory records: one already there is not noted.

    The records are the table's store on moto's DynamoDB in process (the service's own AWS calls go out over HTTP,
    which the in-process emulator does not take; the consumer reaches the records through its delivery).
    """
    batch = batch_for(Provider())
    records = DynamoDBSubmissionRecords(moto_dynamodb, moto_table)
    batch.components.delivery.records = records
    batch.components.records = records
    claim_queued(batch.components)
    assert batch.run(queued()) == {"batchItemFailures": []}
    view = batch.components.records.get(KEY)
    assert view is not None
    assert (view.state, view.keys, view.email_id) == (RecordState.SENT, (KEY,), "e-1")


def test_a_refused_key_is_read_again_once_and_not_sent_again_unchanged(batch_for: Callable[..., Batch]) -> None:
    """401 and Parameter Store still holds the same key: one request, then parked as an auth refusal."""
    provider = Provider(status=401, answer={"statusCode": 401, "name": "restricted_api_key", "message": "no"})
    batch = batch_for(provider)
    assert batch.run(queued()) == {"batchItemFailures": []}
    assert len(provider.timeouts) == 1
    [(_, attributes)] = batch.queue.moved_by_hand
    assert attributes["parkedReason"]["StringValue"] == "ProviderAuthError 401 restricted_api_key: no"


def test_with_the_records_unreadable_the_consumer_relies_on_the_providers_idempotency(
    batch_for: Callable[..., Batch],
) -> None:
    """It cannot tell whether the email went out: it sends under the same key (Resend answers a repeat with the first
    email's id) and says why; the record's move is a gap, not a failure of the message."""
    provider = Provider()
    batch = batch_for(provider)
    batch.components.delivery.records = UnreachableRecords()
    with printed(batch.components.consumer.logger) as batch.output:
        assert batch.run(queued()) == {"batchItemFailures": []}
    assert len(provider.timeouts) == 1
    [line] = batch.lines("the submission's record is unreadable; relying on the provider's idempotency")
    assert (line["level"], line["error"]) == ("WARNING", "record store unreachable (simulated)")
    [delivered] = batch.lines("outbox message delivered")
    assert delivered["record_gap"] == "sent"
    [gap] = batch.lines("the submission's record could not be written; it went ahead without it")
    assert (gap["level"], gap["idempotency_key"], gap["record_gap"]) == ("WARNING", KEY, "sent")
    assert gap["error"] == "record store unreachable (simulated)"
