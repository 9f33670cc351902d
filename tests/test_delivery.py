"""What the API does with each provider answer, fast tier: the visitor's answer, and where the submission went.

The service runs in process (:func:`tests.test_api.in_process`: in-memory guards, records and outbox, an
``httpx.MockTransport`` provider) on a clock that moves only when the client sleeps, so the retry schedule and
the 4 s response budget are exact: with an outbox the provider's attempts may use all but 0.5 s of the budget
(3.5 s), the documented waits are 1 s then 2 s, and a third wait of 4 s no longer fits. Each test reads what a
user sees: the answer, the requests the provider received, what the outbox and the parking lot hold, the record's
state and the metrics (the table in contact_sdk/delivery.py's docstring; docs/guarantees.md, "What happens in each
outage").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from contact_sdk import deadline as deadlines
from contact_sdk.admission import SeparateAdmission
from contact_sdk.bootstrap import Components
from contact_sdk.compose import idempotency_key
from contact_sdk.deadline import Deadline
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource, InMemoryParkingLot
from contact_sdk.errors import ProviderRequestError
from contact_sdk.intake import Accepted
from contact_sdk.metrics import ListSink
from contact_sdk.models import parse_submission
from contact_sdk.outbox import QueuedEmail
from contact_sdk.record import (
    CYCLE_SECONDS,
    Draft,
    InMemorySubmissionRecords,
    RecordState,
    RecordUnavailable,
    RecordView,
    payload_json,
)
from contact_sdk.resend import OutgoingEmail
from tests.clocks import ManualClock
from tests.log_lines import printed
from tests.test_api import CONFIG, form, in_process, post, token
from tests.test_outbox_postpone import EMAIL, SUBMISSION

REFUSAL = {"statusCode": 422, "name": "validation_error", "message": "The `from` address is invalid."}
#: ``refusal_reason``'s reading of ``REFUSAL``, spelled out: the error class, the status, Resend's name and message.
REFUSAL_REASON = "ProviderRequestError 422 validation_error: The `from` address is invalid."


@dataclass
class Provider:
    """Answers each send with the next of ``answers`` (the last one repeats); keeps what it received."""

    answers: list[tuple[int, dict[str, Any]]]
    received: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        status, body = self.answers[min(len(self.received), len(self.answers)) - 1]
        return httpx.Response(status, json=body)

    @property
    def keys(self) -> list[str]:
        return [request.headers["Idempotency-Key"] for request in self.received]

    @property
    def api_keys(self) -> list[str]:
        return [request.headers["Authorization"].removeprefix("Bearer ") for request in self.received]

    def email(self, n: int = 0) -> dict[str, Any]:
        return dict(json.loads(self.received[n].content))


class WatchedOutbox(InMemoryOutbox):
    """The in-memory outbox, noting how much of the ambient deadline was left at each enqueue."""

    def __init__(self) -> None:
        super().__init__()
        self.left_at: list[float | None] = []

    def enqueue(self, queued: QueuedEmail, *, delay_seconds: int = 0) -> None:
        scope = deadlines.current()
        self.left_at.append(None if scope is None else round(scope.remaining(), 3))
        super().enqueue(queued, delay_seconds=delay_seconds)


class WatchedLot(InMemoryParkingLot):
    """The in-memory parking lot, noting the same at each park."""

    def __init__(self) -> None:
        super().__init__()
        self.left_at: list[float | None] = []

    def park(self, queued: QueuedEmail, *, reason: str) -> None:
        scope = deadlines.current()
        self.left_at.append(None if scope is None else round(scope.remaining(), 3))
        super().park(queued, reason=reason)


@dataclass
class Service:
    """The service in process, its provider, its clock, and the outbox and parking lot it keeps things in."""

    components: Components
    provider: Provider
    clock: ManualClock
    outbox: WatchedOutbox | None
    parking: WatchedLot | None

    @property
    def sink(self) -> ListSink:
        sink = self.components.api.sink
        assert isinstance(sink, ListSink)
        return sink

    @property
    def parameters(self) -> InMemoryParameterSource:
        source = self.components.parameter_source
        assert isinstance(source, InMemoryParameterSource)
        return source

    def post(self, **changes: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
        status, headers, body = post(self.components.api, form(**changes))
        assert body is not None
        return status, headers, body

    def state(self) -> RecordState:
        view = self.components.records.get(self.provider.keys[0])
        assert view is not None
        return view.state

    def history(self, key: str) -> list[dict[str, Any]]:
        """The record's moves, oldest first, as ``contact-sdk submissions show`` lists them."""
        records = self.components.records
        assert isinstance(records, InMemorySubmissionRecords)
        return records.history(key)

    def metrics(self) -> dict[str, float]:
        """The submission's counts (the token request's are left out)."""
        names = ("EmailsSent", "EmailsFailed", "EmailsQueued", "BudgetExhausted")
        return {name: value for name, value in self.sink.totals().items() if name in names}


@pytest.fixture
def service() -> Iterator[Callable[..., Service]]:
    built: list[Components] = []

    def build(*answers: tuple[int, dict[str, Any]], outbox: bool = True, parking: bool = True) -> Service:
        provider = Provider(list(answers))
        clock = ManualClock(start=1_800_000_000.0, advance_on_sleep=True)
        kept = WatchedOutbox() if outbox else None
        components = in_process(provider, outbox=kept, clock=clock)
        lot = WatchedLot() if parking else None
        components.delivery.parking = lot
        built.append(components)
        return Service(components, provider, clock, kept, lot)

    yield build
    for components in built:
        components.close()


def test_an_accepted_email_is_answered_sent_and_recorded(service: Callable[..., Service]) -> None:
    """The config is read inside the request's budget (4 s, nothing spent yet); the line names the key and the id."""
    s = service((200, {"id": "e-1"}))
    source = s.parameters
    left_at: list[tuple[str, float | None]] = []
    fetch = source.fetch

    def watched(name: str) -> str:
        scope = deadlines.current()
        left_at.append((name, None if scope is None else round(scope.remaining(), 3)))
        return fetch(name)

    source.fetch = watched  # type: ignore[method-assign]
    with printed(s.components.api.logger) as out:
        status, _, body = s.post()
    assert (status, body["status"]) == (200, "sent")
    assert body["nextToken"]
    assert s.state() == RecordState.SENT
    assert s.metrics() == {"EmailsSent": 1}
    assert ("/c", 4.0) in left_at
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (summary["outcome"], summary["email_id"], summary["record_state"]) == ("sent", "e-1", "sent")
    assert summary["idempotency_key"] == s.provider.keys[0]
    # The record holds the provider's id (what Resend's delivery webhooks are matched by) and who sent it.
    view = s.components.records.get(s.provider.keys[0])
    assert view is not None and view.email_id == "e-1"
    [*_, last] = s.history(s.provider.keys[0])
    assert (last["state"], last["requestId"]) == ("sent", "req-1")


def test_a_permanent_refusal_is_parked_once_with_its_reason_and_answered_queued(
    service: Callable[..., Service],
) -> None:
    """422: never retried; the email the provider refused is what the lot keeps, with the reason an operator reads."""
    s = service((422, REFUSAL))
    with printed(s.components.api.logger) as out:
        status, _, body = s.post()
    assert (status, body["status"]) == (202, "queued")
    assert body["nextToken"]  # the form can be used again at once
    # The summary line the dashboard's "Submissions by state per day" counts.
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (summary["outcome"], summary["record_state"], summary["parked_reason"]) == (
        "parked",
        "parked",
        REFUSAL_REASON,
    )
    assert s.parking is not None and s.parking.left_at == [4.4]  # no time spent: the 4 s budget and the 0.4 s allowance
    assert len(s.provider.received) == 1
    assert s.parking is not None and s.outbox is not None
    [(parked, reason)] = s.parking.parked
    assert reason == REFUSAL_REASON
    assert parked.email is not None and parked.email.to_json() == s.provider.email()
    assert parked.idempotency_key == s.provider.keys[0]
    assert s.outbox.messages == []
    assert s.state() == RecordState.PARKED
    assert s.metrics() == {"EmailsFailed": 1}
    # The record keeps the email and its key, so a release works after the dead-letter queue's copy is gone.
    view = s.components.records.get(s.provider.keys[0])
    assert view is not None and view.payload is not None
    assert json.loads(view.payload) == {"key": s.provider.keys[0], "email": s.provider.email()}
    assert view.reasons == (REFUSAL_REASON,)
    assert s.history(s.provider.keys[0])[-1]["requestId"] == "req-1"


def test_a_parked_submission_is_logged_at_error_with_what_the_operator_needs(
    service: Callable[..., Service],
) -> None:
    s = service((422, REFUSAL))
    with printed(s.components.api.logger) as out:
        s.post()
    [line] = out.lines("submission parked: the provider refused it permanently; fix the cause, then redrive it")
    assert line["level"] == "ERROR"
    keys = ("idempotency_key", "submission_request_id", "error", "status", "provider_error", "parked_reason")
    assert {k: line[k] for k in keys} == {
        "status": 422,
        "provider_error": "validation_error",
        "idempotency_key": s.provider.keys[0],
        "submission_request_id": "req-1",
        "error": "ProviderRequestError",
        "parked_reason": REFUSAL_REASON,
    }


def test_without_a_parking_lot_a_refusal_waits_in_the_outbox_with_its_reason(
    service: Callable[..., Service],
) -> None:
    s = service((422, REFUSAL), parking=False)
    with printed(s.components.api.logger) as out:
        status, _, body = s.post()
    [line] = out.lines("provider refused the submission permanently and it could not be parked; kept in the outbox")
    assert (line["level"], line["parking_problem"]) == (
        "ERROR",
        "no parking lot is configured (CONTACT_PARKED_QUEUE_URL)",
    )
    assert (status, body["status"]) == (202, "queued")
    assert s.outbox is not None
    [queued] = s.outbox.messages
    assert (queued.reason, queued.idempotency_key) == (REFUSAL_REASON, s.provider.keys[0])
    assert s.state() == RecordState.QUEUED
    assert s.metrics() == {"EmailsFailed": 1, "EmailsQueued": 1}
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (summary["outcome"], summary["queued_reason"], summary["record_state"]) == (
        "queued",
        REFUSAL_REASON,
        "queued",
    )
    assert s.outbox.left_at == [4.4]
    # A refusal names no wait: offered to the consumer at once (which tries to park it again), and said so.
    assert s.outbox.delays == [0]
    assert "first_try_in_s" not in summary


def test_an_unreachable_parking_lot_leaves_the_refusal_in_the_outbox(
    service: Callable[..., Service],
) -> None:
    s = service((422, REFUSAL))
    assert s.parking is not None and s.outbox is not None
    s.parking.fail = True
    with printed(s.components.api.logger) as out:
        status, _, _ = s.post()
    assert status == 202
    assert [m.reason for m in s.outbox.messages] == [REFUSAL_REASON]
    assert s.state() == RecordState.QUEUED
    [line] = out.lines("provider refused the submission permanently and it could not be parked; kept in the outbox")
    assert line["parking_problem"] == ("the parking lot is unavailable (the parking lot is unavailable (simulated))")
    assert (line["status"], line["provider_error"]) == (422, "validation_error")


def test_a_conflicting_idempotency_key_is_parked_as_a_conflict(service: Callable[..., Service]) -> None:
    """409 ``invalid_idempotent_request`` is no proof the email went out: parked, the reason says why."""
    conflict = {"statusCode": 409, "name": "invalid_idempotent_request", "message": "Same key, other payload."}
    s = service((409, conflict))
    status, _, _ = s.post()
    assert status == 202
    assert s.parking is not None
    [(_, reason)] = s.parking.parked
    assert (
        reason
        == "idempotency_conflict: IdempotencyConflictError 409 invalid_idempotent_request: Same key, other payload."
    )
    assert s.state() == RecordState.PARKED


def test_a_provider_that_keeps_failing_is_retried_within_the_budget_then_queued(
    service: Callable[..., Service],
) -> None:
    """500s: attempts at 0, 1 and 3 s under one key; the 4 s wait no longer fits 3.5 s: queued, BudgetExhausted."""
    s = service((500, {"statusCode": 500, "name": "internal_server_error", "message": "down"}))
    status, _, body = s.post()
    assert (status, body["status"]) == (202, "queued")
    assert s.clock.sleeps == [1.0, 2.0]
    assert len(set(s.provider.keys)) == 1 and len(s.provider.keys) == 3
    assert s.outbox is not None
    [queued] = s.outbox.messages
    assert queued.reason == "ProviderDeferredError"
    assert queued.email is not None and queued.email.to_json() == s.provider.email(2)
    assert s.state() == RecordState.QUEUED
    # The consumer notes its delivery on this life of the record, and replays the email composed with config 1.
    view = s.components.records.get(s.provider.keys[0])
    assert view is not None and (queued.cycle, queued.config_version) == (view.cycle, "1")
    assert s.metrics() == {"EmailsFailed": 1, "BudgetExhausted": 1, "EmailsQueued": 1}
    assert s.outbox.left_at == [1.4]  # 3 s slept of the 4 s budget, and the 0.4 s allowance to keep it
    [*_, last] = s.history(s.provider.keys[0])
    assert (last["state"], last["requestId"], last["reasons"]) == ("queued", "req-1", ["ProviderDeferredError"])


def test_retries_run_out_before_the_budget_without_budget_exhausted(service: Callable[..., Service]) -> None:
    """The same, with a 29 s budget: four attempts (waits 1, 2, 4 s), then queued as the provider's failure."""
    s = service((500, {"statusCode": 500, "name": "internal_server_error", "message": "down"}))
    s.components.api.response_budget_ms = 29_000
    status, _, _ = s.post()
    assert status == 202
    assert s.clock.sleeps == [1.0, 2.0, 4.0]
    assert s.outbox is not None and [m.reason for m in s.outbox.messages] == ["ProviderServerError"]
    assert s.metrics() == {"EmailsFailed": 1, "EmailsQueued": 1}


@pytest.mark.parametrize("outbox_down", [False, True], ids=["no outbox", "outbox unreachable"])
def test_with_nothing_durable_the_visitor_is_asked_to_retry_and_the_log_keeps_the_message(
    service: Callable[..., Service], outbox_down: bool
) -> None:
    """503 with Retry-After 30: nothing accepted, the visitor keeps the text; the ERROR line carries the submission."""
    s = service((500, {"statusCode": 500, "name": "internal_server_error", "message": "down"}), outbox=outbox_down)
    if s.outbox is not None:
        s.outbox.fail = True
    with printed(s.components.api.logger) as out:
        status, headers, body = s.post()
    assert (status, headers["Retry-After"], body["error"]["code"]) == (503, "30", "service_unavailable")
    assert body["error"]["message"] == "We could not send your message right now. Please try again in a minute."
    assert body["error"]["nextToken"]
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert summary["unavailable_reason"] == "ProviderDeferredError"
    [last] = out.lines("submission NOT accepted: provider and durable store unavailable; full submission follows")
    assert (last["level"], last["reason"]) == ("ERROR", "ProviderDeferredError")
    kept = json.loads(last["submission"])
    assert kept["email"] == s.provider.email()  # the email as composed and sent, to be recovered by hand
    assert kept["idempotency_key"] == s.provider.keys[0]
    assert s.state() == RecordState.RECEIVED
    if outbox_down:
        [down] = out.lines("the outbox is unavailable too")
        assert (down["level"], down["error"]) == ("ERROR", "the outbox is unavailable (simulated)")


def test_a_rotated_api_key_is_read_again_once_and_the_email_goes_out(service: Callable[..., Service]) -> None:
    """401 with the old key: the config is read again and the new key sent once more, under the same idempotency key."""
    refused = (401, {"statusCode": 401, "name": "restricted_api_key", "message": "no"})
    s = service((200, {"id": "e-1"}), refused, (200, {"id": "e-2"}))
    assert s.post()[0] == 200  # the config is read, and kept for an hour
    rotated = {**json.loads(CONFIG), "apiKey": "re_rotated_key_654321", "version": 2}
    s.parameters.values["/c"] = json.dumps(rotated)  # the operator rotates the key in Parameter Store
    status, _, body = s.post(message="A second message, after the key was rotated.")
    assert (status, body["status"]) == (200, "sent")
    assert s.provider.api_keys == ["re_test_key_123456", "re_test_key_123456", "re_rotated_key_654321"]
    assert s.provider.keys[1] == s.provider.keys[2] != s.provider.keys[0]


def test_a_refused_key_that_is_still_the_configured_one_is_parked(service: Callable[..., Service]) -> None:
    """401 and the config still holds the same key: nothing to retry with, parked as an auth refusal."""
    s = service((401, {"statusCode": 401, "name": "restricted_api_key", "message": "no"}))
    status, _, _ = s.post()
    assert status == 202
    assert s.provider.api_keys == ["re_test_key_123456"]
    assert s.parking is not None
    [(_, reason)] = s.parking.parked
    assert reason == "ProviderAuthError 401 restricted_api_key: no"


# -- the operator's release and redrive (contact-sdk submissions release, outbox redrive --recompose) ----------

KEY = idempotency_key(SUBMISSION)
#: The postpone tests' email as an older config composed it: another sender, the captcha mark on the subject.
MARKED = dataclasses.replace(
    EMAIL, sender="Contact Form <old-sender@example.com>", subject="[captcha unverified] Contact Form: Message from Ada"
)


def kept(s: Service, state: RecordState, *, email: OutgoingEmail | None = None) -> RecordView:
    """A record for ``SUBMISSION`` judged ``spam``, or ``received`` and moved to ``state`` (parked with ``email``)."""
    first = RecordState.SPAM if state == RecordState.SPAM else RecordState.RECEIVED
    draft = Draft.of(SUBMISSION, key=KEY, request_id="r-0", client_ip="203.0.113.9", state=first, now=s.clock())
    cycle = s.components.records.claim(draft).record.cycle
    if state not in (RecordState.SPAM, RecordState.RECEIVED):
        payload = None if email is None else payload_json(email.to_json(), key=KEY)
        s.components.records.move(KEY, state, cycle=cycle, now=s.clock(), reasons=("422",), payload=payload)
    view = s.components.records.get(KEY)
    assert view is not None
    return view


def test_a_released_spam_submission_goes_out_recomposed_under_the_next_key(service: Callable[..., Service]) -> None:
    """Today's config composes it, under ``<key>.r1``; the record says ``released`` and knows both keys."""
    s = service((200, {"id": "e-9"}))
    assert s.components.delivery.release(SUBMISSION, kept(s, RecordState.SPAM)) == "e-9"
    assert s.provider.keys == [KEY + ".r1"]
    email = s.provider.email()
    assert (email["from"], email["subject"]) == (
        "Contact Form <no-reply@example.com>",
        "Contact Form: Message from Ada",
    )
    view = s.components.records.get(KEY)
    assert view is not None
    assert (view.state, view.keys, view.email_id) == (RecordState.RELEASED, (KEY, KEY + ".r1"), "e-9")


def test_a_released_parked_submission_keeps_its_captcha_mark_and_is_sent(service: Callable[..., Service]) -> None:
    """The mark was the owner's only warning: a fixed sender does not verify the visitor."""
    s = service((200, {"id": "e-9"}))
    s.components.delivery.release(SUBMISSION, kept(s, RecordState.PARKED, email=MARKED))
    email = s.provider.email()
    assert email["from"] == "Contact Form <no-reply@example.com>"  # recomposed: the old sender is not reused
    assert email["subject"] == "[captcha unverified] Contact Form: Message from Ada"
    view = s.components.records.get(KEY)
    assert view is not None and (view.state, view.email_id) == (RecordState.SENT, "e-9")


def test_a_release_reads_the_config_the_operator_just_fixed(service: Callable[..., Service]) -> None:
    """The sender fixed in Parameter Store a minute ago is used, not the one cached for the hour."""
    s = service((200, {"id": "e-1"}), (200, {"id": "e-9"}))
    assert s.post(message="Another visitor's message, sent earlier.")[0] == 200  # the config is now cached
    s.parameters.values["/c"] = json.dumps({**json.loads(CONFIG), "fromEmail": "contact@example.com", "version": 2})
    s.components.delivery.release(SUBMISSION, kept(s, RecordState.SPAM))
    assert s.provider.email(1)["from"] == "Contact Form <contact@example.com>"


def test_a_release_is_bounded_by_the_deadline_it_is_given_and_noted_with_its_request(
    service: Callable[..., Service],
) -> None:
    """2 s left: every phase of the provider call gets 2 s, and so does Parameter Store's read of the config; the
    record's history names the recomposed request."""
    s = service((200, {"id": "e-9"}))
    view = kept(s, RecordState.SPAM)
    left_at: list[tuple[str, float | None]] = []
    fetch = s.parameters.fetch

    def watched(name: str) -> str:
        scope = deadlines.current()
        left_at.append((name, None if scope is None else round(scope.remaining(), 3)))
        return fetch(name)

    s.parameters.fetch = watched  # type: ignore[method-assign]
    s.components.delivery.release(SUBMISSION, view, deadline=Deadline.after(2.0, clock=s.clock.monotonic))
    assert left_at == [("/c", 2.0)]  # read fresh (a sender fixed a minute ago is used), and not for ever
    assert s.provider.received[0].extensions["timeout"] == {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}
    [*_, last] = s.history(KEY)
    assert (last["state"], last["requestId"], last["emailId"]) == (
        "released",
        f"recomposed:{view.submission_id}",
        "e-9",
    )


def test_a_release_whose_record_is_gone_says_so(
    service: Callable[..., Service],
) -> None:
    """Sent, but the record expired meanwhile: the email id is logged for the operator."""
    s = service((200, {"id": "e-9"}))
    gone = RecordView(submission_id=KEY[8:24], idempotency_key=KEY, state=RecordState.SPAM, cycle=1, keys=(KEY,))
    with printed(s.components.api.logger) as out:
        assert s.components.delivery.release(SUBMISSION, gone) == "e-9"
    [line] = out.lines("released, but the record could not note it")
    assert (line["level"], line["email_id"]) == ("WARNING", "e-9")
    [none] = out.lines("the submission has no record; its state was not recorded")
    assert (none["level"], none["idempotency_key"]) == ("WARNING", KEY)


@pytest.mark.parametrize("state", [RecordState.RECEIVED, RecordState.QUEUED, RecordState.SENT])
def test_only_spam_and_parked_submissions_can_be_released(service: Callable[..., Service], state: RecordState) -> None:
    s = service((200, {"id": "e-9"}))
    with pytest.raises(ValueError, match=f"^a {state} submission cannot be released$"):
        s.components.delivery.release(SUBMISSION, kept(s, state))
    assert s.provider.received == []


def test_a_release_the_provider_refuses_leaves_the_record_as_it_was(service: Callable[..., Service]) -> None:
    s = service((422, REFUSAL))
    with pytest.raises(ProviderRequestError):
        s.components.delivery.release(SUBMISSION, kept(s, RecordState.PARKED, email=MARKED))
    view = s.components.records.get(KEY)
    assert view is not None and (view.state, view.keys) == (RecordState.PARKED, (KEY,))


def test_a_redrive_puts_a_recomposed_message_in_the_outbox_and_the_record_notes_its_key(
    service: Callable[..., Service],
) -> None:
    """``outbox redrive --recompose``: nothing is sent now; the outbox holds ``<key>.r1`` and the record is queued."""
    s = service((200, {"id": "e-9"}))
    queued = s.components.delivery.requeue(
        SUBMISSION, kept(s, RecordState.PARKED, email=MARKED), reason="fixed the sender"
    )
    assert s.provider.received == []
    assert s.outbox is not None and s.outbox.messages == [queued]
    assert (queued.idempotency_key, queued.reason) == (KEY + ".r1", "fixed the sender")
    assert queued.email is not None and queued.email.subject.startswith("[captcha unverified] ")
    parked = s.components.records.get(KEY)
    assert parked is not None
    assert (queued.request_id, queued.queued_at) == (f"recomposed:{parked.submission_id}", s.clock())
    assert (queued.cycle, queued.config_version) == (parked.cycle, "1")
    view = s.components.records.get(KEY)
    assert view is not None and (view.state, view.keys) == (RecordState.QUEUED, (KEY, KEY + ".r1"))
    assert view.reasons == ("fixed the sender",)
    [*_, last] = s.history(KEY)
    assert (last["state"], last["requestId"]) == ("queued", f"recomposed:{parked.submission_id}")


def test_a_redrive_needs_an_outbox(service: Callable[..., Service]) -> None:
    s = service((200, {"id": "e-9"}), outbox=False)
    with pytest.raises(ValueError, match=r"^no outbox to put it in$"):
        s.components.delivery.requeue(SUBMISSION, kept(s, RecordState.PARKED, email=MARKED), reason="again")
    view = s.components.records.get(KEY)
    assert view is not None and view.state == RecordState.PARKED


class UnreachableRecords:
    """The table's records while DynamoDB is down: every call raises :class:`RecordUnavailable`."""

    def claim(self, draft: Draft, *, deadline: Any = None) -> Any:
        raise RecordUnavailable("record store unreachable (simulated)")

    def get(self, key: str, *, deadline: Any = None) -> Any:
        raise RecordUnavailable("record store unreachable (simulated)")

    def move(self, key: str, to: RecordState, **_: Any) -> Any:
        raise RecordUnavailable("record store unreachable (simulated)")


@pytest.mark.parametrize(
    ("answer", "outcome", "answered"),
    [
        ((200, {"id": "e-1"}), "sent", (200, "sent")),
        (
            (409, {"statusCode": 409, "name": "invalid_idempotent_request", "message": "Other payload."}),
            "parked",
            (202, "queued"),
        ),
        ((500, {"statusCode": 500, "name": "internal_server_error", "message": "down"}), "queued", (202, "queued")),
    ],
    ids=["sent", "conflict parked", "failure queued"],
)
def test_with_the_records_down_a_submission_is_sent_or_kept_and_the_gap_counted_once(
    service: Callable[..., Service], answer: tuple[int, dict[str, Any]], outcome: str, answered: tuple[int, str]
) -> None:
    """The claim could not be written: the submission is sent or kept all the same, and no later move is tried
    (there is no record to move): one ArchiveWriteFailed, and the summary line names the state that could not be
    written."""
    s = service(answer)
    down = UnreachableRecords()
    admission = s.components.intake.admission
    assert isinstance(admission, SeparateAdmission)  # no table: the claim is its own write
    admission.records = down
    s.components.delivery.records = down
    with printed(s.components.api.logger) as out:
        status, _, body = s.post()
    assert (status, body["status"]) == answered
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (summary["outcome"], summary["record_gap"]) == (outcome, "received")
    assert "record_state" not in summary
    [gap] = out.lines("the submission's record could not be written; it goes ahead without it")
    assert gap["error"] == "record store unreachable (simulated)"
    assert s.sink.totals()["ArchiveWriteFailed"] == 1


def test_with_the_config_unreadable_the_submission_is_queued_uncomposed(service: Callable[..., Service]) -> None:
    """Parameter Store down after the token was issued: nothing is sent or composed; the outbox keeps the form's
    fields, and the consumer composes it once the config can be read (docs/guarantees.md)."""
    s = service((200, {"id": "e-1"}))
    token(s.components.api)  # the CSRF secret is read (and cached for the hour); the Resend config is not
    s.parameters.fail = True
    status, _, body = s.post()
    assert (status, body["status"]) == (202, "queued")
    assert s.provider.received == []
    assert s.outbox is not None
    [queued] = s.outbox.messages
    assert queued.email is None and queued.submission is not None
    assert (queued.submission.name, queued.submission.email) == ("Ada", "ada@example.org")
    assert queued.reason == "config: parameter /c: Parameter Store unreachable (simulated)"
    assert (queued.request_id, queued.queued_at, queued.subject_prefix) == ("req-1", s.clock(), "")
    assert s.outbox.left_at == [4.4]  # nothing spent of the 4 s budget, and the 0.4 s allowance to keep it
    assert s.outbox.delays == [0]  # Parameter Store names no wait: the consumer's growing hide paces the retries
    view = s.components.records.get(queued.idempotency_key)
    assert view is not None and queued.cycle == view.cycle and view.state == RecordState.QUEUED
    assert body["nextToken"]  # the form can be used again at once


def test_a_release_from_a_stale_view_leaves_the_submissions_next_life_alone(service: Callable[..., Service]) -> None:
    """The same message judged spam again a day later is a new life of the record (a new cycle). An operator
    releasing what an old listing showed sends it, but the move names the old life: the new one stays spam."""
    s = service((200, {"id": "e-9"}))
    old = kept(s, RecordState.SPAM)
    s.clock.advance(CYCLE_SECONDS)
    draft = Draft.of(
        SUBMISSION, key=KEY, request_id="r-1", client_ip="203.0.113.9", state=RecordState.SPAM, now=s.clock()
    )
    new = s.components.records.claim(draft).record
    assert new.cycle != old.cycle
    with printed(s.components.api.logger) as out:
        s.components.delivery.release(SUBMISSION, old)
    [refused] = out.lines("the record refused the move; it keeps its state")
    assert (refused["level"], refused["idempotency_key"]) == ("WARNING", KEY)
    assert (refused["record_state"], refused["refused_state"]) == ("spam", "released")
    view = s.components.records.get(KEY)
    assert view is not None and (view.cycle, view.state, view.keys) == (new.cycle, RecordState.SPAM, (KEY,))


class HangingMoves:
    """The records with DynamoDB hanging after the claim: every move takes all the time the scope in force allows,
    then is cut; the claim and reads answer. Notes how long each move had."""

    def __init__(self, inner: Any, clock: ManualClock) -> None:
        self.inner = inner
        self.clock = clock
        self.had: list[float] = []

    def claim(self, draft: Draft, *, deadline: Any = None) -> Any:
        return self.inner.claim(draft, deadline=deadline)

    def get(self, key: str, *, deadline: Any = None) -> Any:
        return self.inner.get(key, deadline=deadline)

    def move(self, key: str, to: RecordState, **_: Any) -> Any:
        scope = deadlines.current()
        assert scope is not None, "a move runs inside the request's deadline"
        self.had.append(round(scope.remaining(), 3))
        self.clock.advance(scope.remaining())
        raise RecordUnavailable("cut at the deadline (simulated)")


def test_a_record_hanging_after_the_send_holds_the_answer_no_longer_than_the_allowance(
    service: Callable[..., Service],
) -> None:
    """Sent at once, then the record's move hangs: it may use the 4 s budget and the 0.4 s allowance past it, no
    more, and the visitor gets 200 sent at 4.4 s (inside the contract's budget + 500 ms), the gap counted."""
    s = service((200, {"id": "e-1"}))
    hanging = HangingMoves(s.components.delivery.records, s.clock)
    s.components.delivery.records = hanging
    started = s.clock()
    with printed(s.components.api.logger) as out:
        status, _, body = s.post()
    assert (status, body["status"]) == (200, "sent")
    assert hanging.had == [4.4]
    assert s.clock() - started == pytest.approx(4.4)
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (summary["outcome"], summary["email_id"], summary["record_gap"]) == ("sent", "e-1", "sent")
    assert s.sink.totals()["ArchiveWriteFailed"] == 1


def unverified(s: Service) -> Accepted:
    """``SUBMISSION`` as the intake hands it over when siteverify could not be asked: claimed, to be marked."""
    draft = Draft.of(
        SUBMISSION, key=KEY, request_id="req-9", client_ip="203.0.113.9", state=RecordState.RECEIVED, now=s.clock()
    )
    return Accepted(
        submission=SUBMISSION,
        key=KEY,
        request_id="req-9",
        next_token="next",
        deadline=Deadline.after(4.0, clock=s.clock),
        captcha_unverified=True,
        record=s.components.records.claim(draft).record,
    )


def test_an_unverified_captcha_marks_the_subject_the_owner_reads(service: Callable[..., Service]) -> None:
    """Turnstile could not be asked: the email goes out, its subject starting with the mark (and only once)."""
    s = service((200, {"id": "e-1"}))
    outcome = s.components.delivery.deliver(unverified(s))
    assert outcome.status == 200
    subject = str(s.provider.email(0)["subject"])
    assert subject.startswith("[captcha unverified] ")
    assert not subject.removeprefix("[captcha unverified] ").startswith("[captcha")
    assert SUBMISSION.name in subject


def test_an_unverified_captcha_is_kept_with_its_mark_when_the_config_cannot_be_read(
    service: Callable[..., Service],
) -> None:
    """Queued uncomposed (Parameter Store down): the outbox message keeps the mark for the consumer to apply."""
    s = service((200, {"id": "e-1"}))
    s.parameters.fail = True
    outcome = s.components.delivery.deliver(unverified(s))
    assert (outcome.status, outcome.body["status"]) == (202, "queued")
    assert s.outbox is not None
    [queued] = s.outbox.messages
    assert (queued.email, queued.subject_prefix) == (None, "[captcha unverified] ")


FAILING = (500, {"statusCode": 500, "name": "internal_server_error", "message": "down"})


@pytest.mark.parametrize(
    ("answers", "first", "again"),
    [
        ([(200, {"id": "e-1"})], (200, "sent"), (200, "sent", "duplicate_sent", "sent")),
        ([FAILING], (202, "queued"), (202, "queued", "duplicate_queued", "queued")),
    ],
    ids=["sent", "queued"],
)
def test_the_same_submission_again_is_answered_as_its_record_says_and_nothing_is_sent_again(
    service: Callable[..., Service],
    answers: list[tuple[int, dict[str, Any]]],
    first: tuple[int, str],
    again: tuple[int, str, str, str],
) -> None:
    """A double click: the second answer is the record's (sent, or still queued), with a next token, and the
    provider is not asked again."""
    s = service(*answers)
    status, _, body = s.post()
    assert (status, body["status"]) == first
    asked = len(s.provider.received)
    with printed(s.components.api.logger) as out:
        status, _, body = s.post()
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (status, body["status"], summary["outcome"], summary["record_state"]) == again
    assert summary["idempotency_key"] == s.provider.keys[0]
    assert body["nextToken"]
    assert len(s.provider.received) == asked


def test_a_submission_again_after_its_spam_verdict_was_released_is_answered_sent(
    service: Callable[..., Service],
) -> None:
    """Judged spam (the honeypot), released by the operator, then sent again by the visitor: answered ``sent`` from
    the released record, and the owner gets the one email the release sent."""
    s = service((200, {"id": "e-1"}))
    status, _, body = s.post(website="https://spam.example")
    assert (status, body["status"]) == (200, "sent") and s.provider.received == []
    submission, _ = parse_submission(json.loads(form()))
    assert submission is not None
    key = idempotency_key(submission)
    view = s.components.records.get(key)
    assert view is not None and view.state == RecordState.SPAM
    s.components.delivery.release(submission, view)
    with printed(s.components.api.logger) as out:
        status, _, body = s.post()
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (status, body["status"], summary["outcome"], summary["record_state"]) == (
        200,
        "sent",
        "duplicate_sent",
        "released",
    )
    assert len(s.provider.received) == 1
