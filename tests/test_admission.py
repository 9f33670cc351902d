"""The checks' shared state in one DynamoDB transaction, fast tier: what a visitor is answered, and what is spent.

The service runs in process with its table on moto's DynamoDB *in process* (``mock_aws``: the same emulator and
condition expressions as the loopback suite, no server), so :class:`~contact_sdk.admission.TransactionalAdmission`
is the admission in force, as in production. Every answer is read the way a visitor's browser reads it (status,
``Retry-After``, the error code), and what was spent through what a later request can do: a ``429`` leaves its
token usable, a replayed token still counts against the client, a repeat is answered from its record and sends
nothing twice. The rule's figures are the contract's (5 submissions per 900 s by default; 3 here), by hand.

A table that cannot be asked, or that cancels the transaction for a reason it does not name a part for, is a
stand-in around the moto client (:class:`Table`): the service then decides store by store
(:class:`~contact_sdk.admission.SeparateAdmission`), as docs/guarantees.md says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from contact_sdk.admission import TransactionalAdmission
from contact_sdk.bootstrap import Components
from contact_sdk.devtools.fakes import InMemoryOutbox
from contact_sdk.metrics import ListSink
from contact_sdk.record import RECORD_PREFIX, submission_id
from contact_sdk.security.turnstile import TurnstileVerifier
from tests.clocks import ManualClock
from tests.conftest import IN_PROCESS_TABLE as TABLE
from tests.log_lines import printed
from tests.test_api import ORIGIN, answer, event, form, in_process
from tests.test_captcha_intake import GOOD, Siteverify
from tests.test_captcha_intake import SECRET as SITEVERIFY_SECRET

#: A moment inside a rate-limit window (not on its boundary), on the service's clock.
START = 1_800_000_100.0


@dataclass
class Provider:
    """Resend accepting every email; keeps the idempotency key of each request."""

    keys: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(200, json={"id": f"e-{len(self.keys)}"})


class Table:
    """The moto client, with ``transact_write_items`` (and, when ``down``, every call) answered by ``fault``."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.down = False
        self.cancel_with: list[dict[str, Any]] | None = None
        self.without_old_items = False
        self.erase_on_cancel: str | None = None
        self.get_fails = False
        #: Run once with the cancelled transaction's items before the cancellation is raised: another request
        #: writing in between (its token spent, its visitor's limit filled).
        self.meanwhile: Callable[[list[dict[str, Any]]], None] | None = None
        #: Reads of a submission's record.
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        if name == "meta":
            # Not a botocore client to the service (no event hooks): its calls are used as they are, and the
            # module's moto client is left without the service's hooks for the next test.
            raise AttributeError(name)
        attribute = getattr(self._client, name)
        if self.down and callable(attribute) and name != "close":

            def refused(*_: Any, **__: Any) -> Any:
                raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")

            return refused
        return attribute

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.down:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")
        if self.cancel_with is not None:
            raise _cancelled(self.cancel_with)
        try:
            return self._client.transact_write_items(**kwargs)
        except ClientError as exc:
            reasons: list[dict[str, Any]] = [dict(reason) for reason in exc.response.get("CancellationReasons") or []]
            if self.without_old_items:
                reasons = [{k: v for k, v in reason.items() if k != "Item"} for reason in reasons]
            if self.erase_on_cancel is not None:
                self._client.delete_item(TableName=TABLE, Key={"pk": {"S": self.erase_on_cancel}})
            meanwhile, self.meanwhile = self.meanwhile, None
            if meanwhile is not None:
                meanwhile(list(kwargs["TransactItems"]))
            raise _cancelled(reasons) from exc

    def get_item(self, **kwargs: Any) -> Any:
        if str(kwargs["Key"]["pk"]["S"]).startswith(RECORD_PREFIX):
            self.reads += 1
        if self.get_fails:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")
        return self._client.get_item(**kwargs)


def _cancelled(reasons: list[dict[str, Any]]) -> ClientError:
    response: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
        "CancellationReasons": reasons,
    }
    return ClientError(response, "TransactWriteItems")


@dataclass
class Service:
    """The service in process on its table, the provider it sends to, its clock and the table's stand-in."""

    components: Components
    provider: Provider
    clock: ManualClock
    table: Table

    def token(self, ip: str) -> str:
        status, _, body = answer(
            self.components.api, event("GET", "/contact/token", headers={"Origin": ORIGIN}, request_id=f"t-{ip}")
        )
        assert status == 200 and body is not None
        return str(body["token"])

    def post(
        self, token: str, ip: str, *, request_id: str = "req-1", **changes: Any
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token}
        raw = event("POST", "/contact", headers=headers, body=form(**changes), request_id=request_id)
        raw["requestContext"]["identity"]["sourceIp"] = ip
        status, response_headers, body = answer(self.components.api, raw)
        assert body is not None
        return status, response_headers, body

    def record_state(self, message: str) -> str | None:
        """The state of the record whose submission carries ``message``, or ``None`` without one."""
        items = self.table._client.scan(TableName=TABLE)["Items"]
        states = [item["state"]["S"] for item in items if message in json.dumps(item)]
        assert len(states) <= 1
        return states[0] if states else None


@pytest.fixture
def service(moto_dynamodb: Any, moto_table: str) -> Iterator[Callable[..., Service]]:
    built: list[Components] = []

    def build(*, captcha: bool = False, **settings: Any) -> Service:
        clock = ManualClock(start=START, advance_on_sleep=True)
        provider = Provider()
        table = Table(moto_dynamodb)
        components = in_process(
            provider,
            outbox=InMemoryOutbox(),
            clock=clock,
            aws={"dynamodb": table},
            more_parameters={"/t": SITEVERIFY_SECRET},
            table_name=TABLE,
            submit_limit=3,
            turnstile_secret_parameter="/t" if captcha else None,
            **settings,
        )
        assert isinstance(components.intake.admission, TransactionalAdmission)
        if captcha:
            built_verifier = components.intake.captcha
            assert isinstance(built_verifier, TurnstileVerifier)
            components.intake.captcha = TurnstileVerifier(
                secret=lambda: SITEVERIFY_SECRET,
                hostnames=built_verifier.hostnames,
                action=built_verifier.action,
                http=httpx.Client(transport=httpx.MockTransport(Siteverify())),
                clock=clock,
            )
        built.append(components)
        return Service(components, provider, clock, table)

    yield build
    for components in built:
        components.close()


def message(n: int) -> str:
    return f"Message number {n} about the analytical engine."


def test_the_fourth_submission_in_the_window_waits_and_spends_neither_its_token_nor_a_record(
    service: Callable[[], Service],
) -> None:
    """3 per 900 s, all at one moment: the 4th is 429 with ``Retry-After: 900`` (until the latest hit is a window
    old); its token is still good after the wait and nothing of its message was recorded or sent in between."""
    s = service()
    ip = "198.51.100.1"
    for n in range(3):
        status, _, body = s.post(s.token(ip), ip, message=message(n))
        assert (status, body["status"]) == (200, "sent")
    refused_token = s.token(ip)
    status, headers, body = s.post(refused_token, ip, message=message(3))
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    assert headers["Retry-After"] == "900"
    assert body["error"]["message"] == "Too many messages from your address. Please try again in 900 seconds."
    sink = s.components.api.sink
    assert isinstance(sink, ListSink) and sink.totals()["RateLimited"] == 1
    assert s.record_state(message(3)) is None and len(s.provider.keys) == 3
    other = "198.51.100.2"
    assert s.post(s.token(other), other, message=message(4))[0] == 200  # another visitor is not held back
    s.clock.advance(900)
    status, _, body = s.post(refused_token, ip, message=message(3))
    assert (status, body["status"]) == (200, "sent")
    assert s.record_state(message(3)) == "sent"


def test_the_record_keeps_the_sender_as_the_limit_counts_it_with_a_configured_prefix(
    service: Callable[..., Service],
) -> None:
    """CONTACT_RATE_LIMIT_IPV6_PREFIX=48: two /64s of one /48 share the 3 per window, and each record's source is
    that /48 (hand-written), not the /64 the limit never used."""
    s = service(rate_limit_ipv6_prefix=48)
    senders = ["2001:db8:aa:1::7", "2001:db8:aa:2::7", "2001:db8:aa:3::7"]
    for n, ip in enumerate(senders):
        assert s.post(s.token(ip), ip, message=message(n))[0] == 200
    assert s.post(s.token("2001:db8:aa:4::7"), "2001:db8:aa:4::7", message=message(3))[0] == 429
    items = s.table._client.scan(TableName=TABLE)["Items"]
    sources = [item["source"]["S"] for item in items if item["pk"]["S"].startswith(RECORD_PREFIX)]
    assert sources == ["2001:db8:aa::/48"] * 3


def test_a_replayed_token_is_refused_and_still_counts_against_the_client(service: Callable[[], Service]) -> None:
    """The same token twice: the second is 403 ``csrf_invalid``, sends and records nothing, and counts: after one
    more submission the client's 3 per window are used up."""
    s = service()
    ip = "198.51.100.3"
    token = s.token(ip)
    assert s.post(token, ip, message=message(0))[0] == 200
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(token, ip, message=message(1))
    assert (status, body["error"]["code"]) == (403, "csrf_invalid")
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert summary["csrf_reason"] == "replayed"
    # Decided from the transaction's own answer, not by falling back store by store.
    assert out.lines("admission transaction cancelled") == out.lines("admission transaction refused") == []
    assert s.record_state(message(1)) is None and len(s.provider.keys) == 1
    assert s.post(s.token(ip), ip, message=message(2))[0] == 200
    assert s.post(s.token(ip), ip, message=message(3))[0] == 429


def test_the_same_submission_again_is_answered_from_its_record_spends_its_token_and_counts(
    service: Callable[[], Service],
) -> None:
    """A double click (same fields, a fresh token each): the second is answered ``sent`` from the record, nothing
    is sent again; its token is spent (replaying it is 403) and the request counted (the next one is the 3rd)."""
    s = service()
    ip = "198.51.100.4"
    assert s.post(s.token(ip), ip, message=message(0))[0] == 200
    second = s.token(ip)
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(second, ip, message=message(0))
    assert (status, body["status"]) == (200, "sent")
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (summary["outcome"], summary["record_state"]) == ("duplicate_sent", "sent")
    assert len(s.provider.keys) == 1
    assert s.table.reads == 0  # the record came back with the cancellation: no read to find it
    assert s.post(second, ip, message=message(1))[0] == 403
    # Three counted (the submission, its repeat, the replay): the window is full.
    assert s.post(s.token(ip), ip, message=message(2))[0] == 429


def test_a_repeat_whose_old_record_was_not_returned_is_read_and_answered_from_it(
    service: Callable[[], Service],
) -> None:
    """The cancellation carries no item (``ReturnValuesOnConditionCheckFailure`` not honoured): the record is read
    with one more call, and the repeat is still answered from it, nothing sent twice."""
    s = service()
    ip = "198.51.100.5"
    assert s.post(s.token(ip), ip, message=message(0))[0] == 200
    s.table.without_old_items = True
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(s.token(ip), ip, message=message(0))
    assert (status, body["status"]) == (200, "sent")
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert summary["outcome"] == "duplicate_sent"
    assert len(s.provider.keys) == 1
    assert s.table.reads == 1  # the one more call


def test_a_repeat_whose_record_was_erased_meanwhile_is_claimed_anew_and_sent_under_its_key(
    service: Callable[[], Service],
) -> None:
    """The record refused the claim, then was erased before it could be read (an operator's erasure): the claim is
    made anew and the submission goes out again under the same idempotency key (Resend makes it one email)."""
    s = service()
    ip = "198.51.100.6"
    assert s.post(s.token(ip), ip, message=message(0))[0] == 200
    s.table.without_old_items = True
    s.table.erase_on_cancel = RECORD_PREFIX + submission_id(s.provider.keys[0])
    status, _, body = s.post(s.token(ip), ip, message=message(0))
    assert (status, body["status"]) == (200, "sent")
    assert len(s.provider.keys) == 2 and s.provider.keys[0] == s.provider.keys[1]
    assert s.record_state(message(0)) == "sent"


def test_a_repeat_whose_record_cannot_be_read_goes_ahead_with_the_gap_counted(
    service: Callable[[], Service],
) -> None:
    """No item with the cancellation and the read fails: the repeat is delivered under its key (one email at
    Resend), the summary line names the gap and ``ArchiveWriteFailed`` counts it."""
    s = service()
    ip = "198.51.100.7"
    assert s.post(s.token(ip), ip, message=message(0))[0] == 200
    s.table.without_old_items = True
    s.table.get_fails = True
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(s.token(ip), ip, message=message(0))
    assert (status, body["status"]) == (200, "sent")
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert summary["record_gap"] == "received"
    [gap] = out.lines("the submission's record could not be written; it goes ahead without it")
    assert gap["error"] == f"record store ({TABLE}) unreadable: EndpointConnectionError"
    assert s.provider.keys[0] == s.provider.keys[1] == gap["idempotency_key"]  # the key to look the email up by
    sink = s.components.api.sink
    assert isinstance(sink, ListSink) and sink.totals()["ArchiveWriteFailed"] == 1


def test_with_the_table_down_the_limit_and_the_single_use_hold_in_this_instance(
    service: Callable[[], Service],
) -> None:
    """DynamoDB unreachable: each check falls back to this instance's memory with a warning; the 4th submission is
    still 429 and a replayed token still 403, and the email still goes out."""
    s = service()
    ip = "198.51.100.8"
    tokens = [s.token(ip) for _ in range(4)]
    s.table.down = True
    with printed(s.components.api.logger) as out:
        answers = [s.post(token, ip, message=message(n))[0] for n, token in enumerate(tokens[:3])]
        replayed = s.post(tokens[0], ip, message=message(5))[0]
    assert answers == [200, 200, 200]
    assert replayed == 429  # the replay is the 4th request of the window: the limit answers first
    assert [line["error"] for line in out.lines("admission transaction unavailable")] == ["EndpointConnectionError"] * 4
    assert len(s.provider.keys) == 3


def test_a_replayed_token_with_the_table_down_is_refused_from_memory(service: Callable[[], Service]) -> None:
    """The same token twice while DynamoDB is unreachable: this instance remembers it (403, nothing sent)."""
    s = service()
    ip = "198.51.100.9"
    token = s.token(ip)
    s.table.down = True
    assert s.post(token, ip, message=message(0))[0] == 200
    status, _, body = s.post(token, ip, message=message(1))
    assert (status, body["error"]["code"]) == (403, "csrf_invalid")
    assert len(s.provider.keys) == 1


@pytest.mark.parametrize(
    ("reasons", "warning", "fields"),
    [
        (
            [{"Code": "None"}, {"Code": "TransactionConflict"}, {"Code": "None"}],
            "admission transaction refused",
            {
                "error": "An error occurred (TransactionCanceledException) when calling the TransactWriteItems "
                "operation: Transaction cancelled"
            },
        ),
        (
            [{"Code": "None"}, {"Code": "None"}, {"Code": "None"}, {"Code": "ConditionalCheckFailed"}],
            "admission transaction cancelled",
            {"reasons": ["None", "None", "None", "ConditionalCheckFailed"]},
        ),
    ],
    ids=["a conflict, no condition", "a condition on no known part"],
)
def test_a_transaction_cancelled_for_no_known_part_is_decided_store_by_store(
    service: Callable[[], Service], reasons: list[dict[str, Any]], warning: str, fields: dict[str, Any]
) -> None:
    """Cancelled, but not by the limit, the token or the claim: each store is asked in turn (on the table), the
    submission is sent and recorded, and the warning says why."""
    s = service()
    ip = "198.51.100.10"
    token = s.token(ip)
    s.table.cancel_with = reasons
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(token, ip, message=message(0))
    assert (status, body["status"]) == (200, "sent")
    [line] = out.lines(warning)
    assert {name: line[name] for name in fields} == fields
    assert s.record_state(message(0)) == "sent"
    s.table.cancel_with = None
    assert s.post(token, ip, message=message(1))[0] == 403  # the token was spent in the table all the same


def test_a_repeat_whose_token_was_spent_meanwhile_is_refused_and_sends_nothing(service: Callable[[], Service]) -> None:
    """A double click whose token another request spent between the transaction and its retry without the claim:
    ``403 csrf_invalid``, as a replay is, and nothing is sent again."""
    s = service()
    ip = "198.51.100.11"
    assert s.post(s.token(ip), ip, message=message(0))[0] == 200
    s.table.meanwhile = lambda items: s.table._client.transact_write_items(TransactItems=[items[1]])
    status, _, body = s.post(s.token(ip), ip, message=message(0))
    assert (status, body["error"]["code"]) == (403, "csrf_invalid")
    assert len(s.provider.keys) == 1


def test_a_repeat_whose_visitor_reached_the_limit_meanwhile_is_refused_with_the_wait(
    service: Callable[[], Service],
) -> None:
    """A double click while the same visitor's other tabs fill the window between the transaction and its retry:
    ``429`` with ``Retry-After: 900`` (every hit at one moment: until the latest is a window old)."""
    s = service()
    ip = "198.51.100.12"
    assert s.post(s.token(ip), ip, message=message(0))[0] == 200

    def fill(items: list[dict[str, Any]]) -> None:
        for _ in range(2):  # the 2nd and 3rd of 3 per window
            s.table._client.transact_write_items(TransactItems=[items[0]])

    s.table.meanwhile = fill
    status, headers, body = s.post(s.token(ip), ip, message=message(0))
    assert (status, body["error"]["code"], headers["Retry-After"]) == (429, "rate_limited", "900")
    assert len(s.provider.keys) == 1


def test_a_submission_judged_spam_is_recorded_as_spam_in_the_table(service: Callable[[], Service]) -> None:
    """The honeypot filled: answered like a send, nothing sent, and the record the owner reviews says ``spam``."""
    s = service()
    ip = "198.51.100.13"
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(s.token(ip), ip, message=message(0), website="https://spam.example")
    assert (status, body["status"]) == (200, "sent")
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (summary["outcome"], summary["record_state"]) == ("spam", "spam")
    assert s.record_state(message(0)) == "spam" and s.provider.keys == []
    [item] = [item for item in s.table._client.scan(TableName=TABLE)["Items"] if message(0) in json.dumps(item)]
    assert item["reasons"] == {"L": [{"S": "honeypot_filled"}]}  # docs/records.md: the spam rules that fired


def test_spam_with_the_table_down_is_answered_as_sent_and_the_gap_named(service: Callable[[], Service]) -> None:
    """The record cannot be written: the visitor still reads ``200 sent``, nothing is sent, and the summary line
    says which state was not recorded (``record_gap``), not a ``record_state`` the table does not hold."""
    s = service()
    s.table.down = True
    ip = "198.51.100.14"
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(s.token(ip), ip, message=message(0), website="https://spam.example")
    assert (status, body["status"]) == (200, "sent")
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (summary["outcome"], summary["record_gap"]) == ("spam", "spam")
    assert "record_state" not in summary
    assert s.provider.keys == []


def test_a_sent_message_repeated_as_spam_is_not_recorded_as_spam(service: Callable[[], Service]) -> None:
    """A message sent, then the same one again with the honeypot filled: answered like a send, nothing sent
    twice, and its record still says ``sent``; the summary line names no ``record_state``, so the dashboard's
    submissions by state do not count a ``spam`` the table does not hold."""
    s = service()
    ip = "198.51.100.15"
    assert s.post(s.token(ip), ip, message=message(0))[0] == 200
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(s.token(ip), ip, message=message(0), website="https://spam.example")
    assert (status, body["status"]) == (200, "sent")
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert summary["outcome"] == "spam" and "record_state" not in summary
    assert s.record_state(message(0)) == "sent" and len(s.provider.keys) == 1


def test_requests_refused_before_their_token_still_count_against_the_client(service: Callable[[], Service]) -> None:
    """Three posts refused on their own (a form sent as text: ``415``) use up the window of 3 in the table: the
    client's fourth request, a valid one, is ``429`` (the contract's order: the rate limit before the rest)."""
    s = service()
    ip = "198.51.100.14"
    for n in range(3):
        headers = {"Origin": ORIGIN, "Content-Type": "text/plain", "X-CSRF-Token": s.token(ip)}
        raw = event("POST", "/contact", headers=headers, body=form(message=message(n)))
        raw["requestContext"]["identity"]["sourceIp"] = ip
        status, _, body = answer(s.components.api, raw)
        assert status == 415 and body is not None and body["error"]["code"] == "unsupported_media_type"
    assert s.post(s.token(ip), ip, message=message(3))[0] == 429


def test_with_turnstile_on_the_record_is_claimed_after_the_check_and_a_repeat_sends_nothing(
    service: Callable[..., Service],
) -> None:
    """Turnstile on: the token is spent first, siteverify asked, then the record claimed on its own; the same
    submission again is answered from that record (``duplicate_sent``), one email in all."""
    s = service(captcha=True)
    ip = "198.51.100.15"
    status, _, body = s.post(s.token(ip), ip, message=message(0), turnstileToken=GOOD)
    assert (status, body["status"]) == (200, "sent")
    assert s.record_state(message(0)) == "sent"
    with printed(s.components.api.logger) as out:
        status, _, body = s.post(s.token(ip), ip, message=message(0), turnstileToken=GOOD)
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert (status, summary["outcome"], summary["record_state"]) == (200, "duplicate_sent", "sent")
    assert len(s.provider.keys) == 1
