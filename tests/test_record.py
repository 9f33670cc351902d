"""The submission record: its state machine, cycles and retention, in memory and against moto (DynamoDB on
loopback), the retention the service's settings give a deployment without a table, and the pure parts around it
(source reduction, ids, --since, CSV cells).

The allowed moves below are written out by hand from the issue ("no state ever moves backwards: sent and
delivered are final; spam can't overwrite sent; a late queued can't hide a sent") and the drawing in the
module docstring, never read from ``MOVES``: a wrong entry there fails these tests.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from contact_sdk.deadline import Deadline, current
from contact_sdk.devtools.tables import create_table
from contact_sdk.models import ContactSubmission
from contact_sdk.ops.submissions.records import neutralise_cell, normalise_id, parse_since
from contact_sdk.record import (
    Draft,
    DynamoDBSubmissionRecords,
    InMemorySubmissionRecords,
    RecordState,
    RecordUnavailable,
    RecordView,
    SubmissionRecords,
    payload_json,
    source_prefix,
    view_of,
)
from tests.clocks import ManualClock
from tests.conftest import aws_client
from tests.test_api import form, in_process, post

NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z
KEY = "contact-" + "0123456789abcdef" + "f" * 48


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:0db8:0000:0042:0000:8a2e:0370:7334", "2001:db8:0:42::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::1", "::/64"),
        ("not an address", "unknown"),
        ("203.0.113.9, 10.0.0.1", "unknown"),
        ("", "unknown"),
    ],
)
def test_the_source_is_reduced_to_what_the_rate_limit_counts(address: str, expected: str) -> None:
    """IPv4 as is, IPv6 to its /64 (hand-computed), IPv4-mapped to IPv4, anything else to 'unknown'."""
    assert source_prefix(address) == expected


@pytest.mark.parametrize(
    ("address", "prefix", "expected"),
    [
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 48, "2001:db8:1::/48"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 128, "2001:db8:1:2:aaaa:bbbb:cccc:dddd/128"),
        ("2001:db8:ffff:2::1", 33, "2001:db8:8000::/33"),
        ("::ffff:192.0.2.1", 48, "192.0.2.1"),
        ("203.0.113.9", 48, "203.0.113.9"),
        ("garbage", 48, "unknown"),
    ],
)
def test_the_source_follows_the_limits_ipv6_prefix(address: str, prefix: int, expected: str) -> None:
    """The prefix CONTACT_RATE_LIMIT_IPV6_PREFIX sets, hand-computed; IPv4 and non-addresses as with the default."""
    assert source_prefix(address, ipv6_prefix=prefix) == expected


def test_a_prefix_outside_1_to_128_is_refused() -> None:
    """A prefix no IPv6 network has is a programming error, not a silently different source."""
    for prefix in (0, 129):
        with pytest.raises(ValueError, match="1-128"):
            source_prefix("2001:db8::1", ipv6_prefix=prefix)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0123456789abcdef", "0123456789abcdef"),
        (" 0123456789ABCDEF ", "0123456789abcdef"),
        (KEY, "0123456789abcdef"),
    ],
)
def test_an_id_is_16_hex_or_the_whole_key(typed: str, expected: str) -> None:
    """The id as listed, in any case, or the idempotency key it comes from."""
    assert normalise_id(typed) == expected


@pytest.mark.parametrize("typed", ["", "0123", "0123456789abcdeg", "contact-0123", "0123456789abcdef0"])
def test_anything_else_is_not_an_id(typed: str) -> None:
    """Short, long, non-hex or truncated keys are refused with the expected form."""
    with pytest.raises(ValueError, match="16 hex characters"):
        normalise_id(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("30m", NOW - 1800),
        ("24h", NOW - 86400),
        ("7d", NOW - 604800),
        ("2w", NOW - 1209600),
        ("2025-11-01", dt.datetime(2025, 11, 1, tzinfo=dt.UTC).timestamp()),
        ("2025-11-01T10:00:00Z", dt.datetime(2025, 11, 1, 10, tzinfo=dt.UTC).timestamp()),
        ("2025-11-01T10:00:00+02:00", dt.datetime(2025, 11, 1, 8, tzinfo=dt.UTC).timestamp()),
    ],
)
def test_since_reads_relative_and_iso_times(typed: str, expected: float) -> None:
    """Relative spans count back from now; an ISO time without a zone is UTC."""
    assert parse_since(typed, now=NOW) == expected


@pytest.mark.parametrize("typed", ["yesterday", "7", "7y", "-1d", "2025-02-30", "2026-01-01"])
def test_since_refuses_what_it_cannot_read_and_the_future(typed: str) -> None:
    """Unknown units, bad dates and times after now are errors."""
    with pytest.raises(ValueError, match=r"expected e\.g\. 24h|in the future"):
        parse_since(typed, now=NOW)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("Ada = engine", "Ada = engine"),
        ("", ""),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_gets_a_leading_quote(cell: str, expected: str) -> None:
    """OWASP's CSV-injection triggers at the start of a cell; the same characters elsewhere are fine."""
    assert neutralise_cell(cell) == expected


def test_retention_must_be_positive() -> None:
    """Zero or negative days are a programming error, refused at construction; one day is the shortest kept."""
    for days, spam_days in ((0, 7), (30, 0), (-1, 7), (30, -1)):
        with pytest.raises(ValueError, match=r"^retention must be at least one day$"):
            DynamoDBSubmissionRecords(object(), "t", days=days, spam_days=spam_days)  # type: ignore[arg-type]
    shortest = DynamoDBSubmissionRecords(object(), "t", days=1, spam_days=1)  # type: ignore[arg-type]
    assert (shortest.days, shortest.spam_days) == (1, 1)


def test_a_record_is_claimed_as_received_or_spam_only() -> None:
    """Every later state is reached by a move, so a draft in one is a programming error, named."""
    for state in (S.SENT, S.QUEUED, S.PARKED, S.RELEASED):
        with pytest.raises(ValueError, match=f"^a record is claimed as received or spam, not {state}$"):
            draft(state)


# -- the state machine, in both stores ---------------------------------------------------------------

SUBMISSION = ContactSubmission.model_validate(
    {"name": "Ada", "email": "ada@example.org", "message": "Hello there, engine.", "consent": True}
)
S = RecordState
#: Every move the record allows, from the issue's rules (hand-written; the module's MOVES must agree).
ALLOWED = {
    (S.RECEIVED, S.SENT),
    (S.RECEIVED, S.QUEUED),
    (S.RECEIVED, S.PARKED),
    (S.QUEUED, S.QUEUED),
    (S.QUEUED, S.SENT),
    (S.QUEUED, S.PARKED),
    (S.PARKED, S.PARKED),
    (S.PARKED, S.QUEUED),
    (S.PARKED, S.SENT),
    (S.SPAM, S.SPAM),
    (S.SPAM, S.RECEIVED),
    (S.SPAM, S.RELEASED),
}
#: How to bring a fresh record to each state, by allowed moves only.
PATHS: dict[RecordState, tuple[RecordState, ...]] = {
    S.RECEIVED: (S.RECEIVED,),
    S.SENT: (S.RECEIVED, S.SENT),
    S.QUEUED: (S.RECEIVED, S.QUEUED),
    S.PARKED: (S.RECEIVED, S.PARKED),
    S.SPAM: (S.SPAM,),
    S.RELEASED: (S.SPAM, S.RELEASED),
}


def draft(
    state: RecordState = S.RECEIVED,
    *,
    now: float = NOW,
    request_id: str = "r1",
    reasons: tuple[str, ...] = ("why",),
    subject: str | None = None,
) -> Draft:
    submission = SUBMISSION if subject is None else SUBMISSION.model_copy(update={"subject": subject})
    return Draft.of(
        submission, key=KEY, request_id=request_id, client_ip="203.0.113.9", state=state, now=now, reasons=reasons
    )


@pytest.fixture(params=["memory", "dynamodb"])
def records(request: pytest.FixtureRequest) -> SubmissionRecords:
    """The record store, in memory and on moto's DynamoDB (both must behave the same)."""
    if request.param == "memory":
        return InMemorySubmissionRecords()
    aws = request.getfixturevalue("aws")
    table = request.getfixturevalue("contact_table")
    return DynamoDBSubmissionRecords(aws_client(aws, "dynamodb"), table)


def bring(records: SubmissionRecords, state: RecordState) -> int:
    """A fresh record walked to ``state``; its cycle."""
    first, *rest = PATHS[state]
    cycle = records.claim(draft(first)).record.cycle
    for step in rest:
        moved = records.move(KEY, step, cycle=cycle, now=NOW + 1, email_id="em-1" if step != S.QUEUED else None)
        assert moved is not None and moved.state == step
    return cycle


@pytest.mark.parametrize("verdict", [S.RECEIVED, S.SPAM])
def test_a_first_claim_creates_the_record_in_its_verdicts_state(
    records: SubmissionRecords, verdict: RecordState
) -> None:
    """Nothing there: the claim is this request's, in the state the intake judged, in a cycle starting now."""
    claim = records.claim(draft(verdict))
    assert claim.created
    assert (claim.record.state, claim.record.cycle, claim.record.submission_id, claim.record.reasons) == (
        verdict,
        int(NOW),
        "0123456789abcdef",
        ("why",),
    )
    assert records.get(KEY) == claim.record


@pytest.mark.parametrize("state", [S.RECEIVED, S.SENT, S.QUEUED, S.PARKED, S.RELEASED])
@pytest.mark.parametrize("verdict", [S.RECEIVED, S.SPAM])
def test_a_repeat_within_24_hours_finds_the_record_and_changes_nothing(
    records: SubmissionRecords, state: RecordState, verdict: RecordState
) -> None:
    """The same submission again (a double click, a bot's spam copy) an hour later: not created, as it was."""
    bring(records, state)
    again = records.claim(draft(verdict, now=NOW + 3600, request_id="r2"))
    assert again.created is False
    assert again.record.state == state
    assert records.get(KEY) == again.record


def test_a_legitimate_repeat_takes_over_a_spam_verdict(records: SubmissionRecords) -> None:
    """Judged spam (the fill-time rule fired), then sent again properly: received, ready to deliver."""
    bring(records, S.SPAM)
    again = records.claim(draft(S.RECEIVED, now=NOW + 60, request_id="r2"))
    assert again.created and again.record.state == S.RECEIVED


def test_after_24_hours_the_same_submission_starts_a_new_cycle(records: SubmissionRecords) -> None:
    """Sent yesterday, the same text today is a new message: a new cycle, received again."""
    first = bring(records, S.SENT)
    again = records.claim(draft(S.RECEIVED, now=NOW + 24 * 3600, request_id="r2"))
    assert again.created
    assert (again.record.state, again.record.cycle) == (S.RECEIVED, first + 24 * 3600)
    late = records.move(KEY, S.SENT, cycle=first, now=NOW + 24 * 3600 + 1, email_id="em-old")
    assert late is not None and late.state == S.RECEIVED  # a write of the old cycle does not move the new one


@pytest.mark.parametrize(("start", "to"), sorted(ALLOWED))
def test_every_allowed_move_is_written(records: SubmissionRecords, start: RecordState, to: RecordState) -> None:
    """Each move of the drawing, from its state, lands."""
    cycle = bring(records, start)
    moved = records.move(KEY, to, cycle=cycle, now=NOW + 10, reasons=("because",), email_id="em-2")
    assert moved is not None and moved.state == to
    assert records.get(KEY) == moved


FORBIDDEN = sorted(set(itertools.product(PATHS, S)) - ALLOWED - {(s, S.RECEIVED) for s in S} - {(s, S.SPAM) for s in S})


@pytest.mark.parametrize(("start", "to"), FORBIDDEN)
def test_every_forbidden_move_changes_nothing(records: SubmissionRecords, start: RecordState, to: RecordState) -> None:
    """Backwards, out of a final state, spam over anything: refused; the record keeps its state."""
    cycle = bring(records, start)
    before = records.get(KEY)
    answer = records.move(KEY, to, cycle=cycle, now=NOW + 10, email_id="em-2")
    assert answer == before
    assert records.get(KEY) == before


@pytest.mark.parametrize("start", list(S))
def test_no_move_writes_received_or_spam(records: SubmissionRecords, start: RecordState) -> None:
    """Only a claim sets received or spam (spam to spam included): a move never does."""
    cycle = bring(records, start)
    for to in (S.RECEIVED, S.SPAM):
        if (start, to) in ALLOWED:
            continue
        assert records.move(KEY, to, cycle=cycle, now=NOW + 10) == records.get(KEY)


def test_a_parked_record_keeps_its_email_until_it_moves_on(records: SubmissionRecords) -> None:
    """The email is kept with the parked record (the dead-letter queue's copy may expire) and dropped when sent."""
    cycle = bring(records, S.RECEIVED)
    parked = records.move(KEY, S.PARKED, cycle=cycle, now=NOW + 1, payload='{"key": "k", "email": {}}')
    assert parked is not None and parked.payload == '{"key": "k", "email": {}}'
    sent = records.move(KEY, S.SENT, cycle=cycle, now=NOW + 2, email_id="em", new_key=KEY + ".r1")
    assert sent is not None
    assert (sent.payload, sent.email_id, sent.keys) == (None, "em", (KEY, KEY + ".r1"))


def test_a_move_keeps_the_email_id_it_does_not_replace_and_no_email_it_does_not_park(
    records: SubmissionRecords,
) -> None:
    """Parked with the id Resend gave before refusing a resend, then queued by the operator's redrive without one:
    the id stays; an email handed to a move that does not park is not kept."""
    cycle = bring(records, S.RECEIVED)
    records.move(KEY, S.PARKED, cycle=cycle, now=NOW + 1, email_id="em-first", payload='{"key":"k"}')
    queued = records.move(KEY, S.QUEUED, cycle=cycle, now=NOW + 2, payload='{"key":"not kept"}')
    assert queued is not None and (queued.email_id, queued.payload) == ("em-first", None)
    assert records.get(KEY) == queued


def test_a_record_that_does_not_exist_cannot_be_moved(records: SubmissionRecords) -> None:
    """No record (the claim could not be written): a move is None, and creates nothing."""
    assert records.move(KEY, S.SENT, cycle=None, now=NOW, email_id="em") is None
    assert records.get(KEY) is None


DAY = 86400


def test_in_memory_a_record_is_forgotten_at_the_end_of_its_retention() -> None:
    """The store without a table keeps a record as long as the table would (spam 7 days, parked at least 14, the
    rest the configured days, from the last change), then forgets it: the next claim starts a new history."""
    for later, history in ((7 * DAY - 1, ["spam", "received"]), (7 * DAY, ["received"])):
        records = InMemorySubmissionRecords(days=10, spam_days=7)
        records.claim(draft(S.SPAM, now=NOW - 60))
        records.claim(draft(S.SPAM, request_id="r-bot"))  # a bot's repeat: not a new entry, kept 7 days from it
        assert [h["state"] for h in records.history(KEY)] == ["spam"]
        taken = records.claim(draft(S.RECEIVED, now=NOW + later, request_id="r2")).record
        assert [h["state"] for h in records.history(KEY)] == history
    parked_at = NOW + 7 * DAY
    assert records.move(KEY, S.PARKED, cycle=taken.cycle, now=parked_at) is not None
    assert records.move(KEY, S.PARKED, cycle=taken.cycle, now=parked_at + 13 * DAY) is not None  # 14, not 10
    assert records.move(KEY, S.QUEUED, cycle=taken.cycle, now=parked_at + 20 * DAY) is not None  # from the last
    assert records.move(KEY, S.SENT, cycle=taken.cycle, now=parked_at + 30 * DAY) is None  # queued: 10 days
    assert records.history(KEY) == []
    again = records.claim(draft(S.RECEIVED, now=parked_at + 30 * DAY, request_id="r3"))
    assert again.created
    assert [h["state"] for h in records.history(KEY)] == ["received"]


@pytest.mark.parametrize(
    ("settings", "later", "first", "states"),
    [
        ({}, 3 * DAY, {"website": "http://spam.example"}, ["spam", "received", "sent"]),
        ({"archive_spam_days": 3}, 3 * DAY, {"website": "http://spam.example"}, ["received", "sent"]),
        ({}, 3 * DAY, {}, ["received", "sent", "received", "sent"]),
        ({"archive_days": 3}, 3 * DAY, {}, ["received", "sent"]),
    ],
    ids=["spam, default 7 days", "CONTACT_ARCHIVE_SPAM_DAYS=3", "sent, default 30 days", "CONTACT_ARCHIVE_DAYS=3"],
)
def test_without_a_table_the_service_keeps_its_records_as_long_as_the_archive_settings_say(
    settings: dict[str, int], later: float, first: dict[str, str], states: list[str]
) -> None:
    """No ``CONTACT_TABLE_NAME``: the instance's own records follow the archive settings as the table's items do.
    A message is judged spam (or sent), and three days later the same message is sent: its history still holds
    the first verdict under the defaults (7 and 30 days), and starts afresh when the setting is three days. The
    record is found by the ``Idempotency-Key`` the provider received."""
    keys: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(200, json={"id": f"e-{len(keys)}"})

    clock = ManualClock(start=NOW)
    components = in_process(provider, outbox=None, clock=clock, **settings)
    try:
        assert post(components.api, form(**first))[0] == 200
        clock.advance(later)
        assert post(components.api, form())[0] == 200
        records = components.records
        assert isinstance(records, InMemorySubmissionRecords)
        assert [entry["state"] for entry in records.history(keys[-1])] == states
    finally:
        components.close()


def test_in_memory_each_history_entry_holds_what_its_change_had() -> None:
    """What the local tools show of a record: the claim's state, time, reasons and request; each move's."""
    records = InMemorySubmissionRecords()
    cycle = records.claim(draft(now=NOW + 0.5)).record.cycle
    records.move(KEY, S.QUEUED, cycle=cycle, now=NOW + 1)
    records.move(KEY, S.SENT, cycle=cycle, now=NOW + 2, email_id="em-1", request_id="r-outbox")
    assert records.history(KEY) == [
        {"state": "received", "at": NOW + 0.5, "reasons": ["why"], "requestId": "r1"},
        {"state": "queued", "at": NOW + 1},
        {"state": "sent", "at": NOW + 2, "requestId": "r-outbox", "emailId": "em-1"},
    ]


# -- DynamoDB specifics: the item, its retention, its errors ------------------------------------


@pytest.fixture(params=["in process", pytest.param("loopback", marks=pytest.mark.integration)])
def dynamodb(request: pytest.FixtureRequest) -> Iterator[tuple[Any, str]]:
    """The table on moto's DynamoDB: in process (``mock_aws``, the fast tier: what mutation testing judges by) and
    on the loopback server (the integration tier), the same item either way."""
    if request.param == "loopback":
        yield aws_client(request.getfixturevalue("aws"), "dynamodb"), request.getfixturevalue("contact_table")
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(client, "contact-records")
        yield client, "contact-records"


def item_of(dynamodb: tuple[Any, str]) -> dict[str, Any]:
    client, table = dynamodb
    found: dict[str, Any] = client.get_item(TableName=table, Key={"pk": {"S": "archive#0123456789abcdef"}})["Item"]
    return found


def test_retention_follows_the_state(dynamodb: tuple[Any, str]) -> None:
    """Spam 7 days, parked at least 14 (the dead-letter queue's), the rest the configured 10; from the last change."""
    client, table = dynamodb
    records = DynamoDBSubmissionRecords(client, table, days=10, spam_days=7)
    records.claim(draft(S.SPAM))
    assert item_of(dynamodb)["expiresAt"]["N"] == str(int(NOW) + 7 * 86400)
    records.claim(draft(S.RECEIVED, now=NOW + 50))
    assert item_of(dynamodb)["expiresAt"]["N"] == str(int(NOW) + 50 + 10 * 86400)
    records.move(
        KEY,
        S.PARKED,
        cycle=int(NOW + 50),
        now=NOW + 100,
        reasons=("validation_error: invalid `to`",),
        request_id="r-outbox",
    )
    parked = item_of(dynamodb)
    assert parked["expiresAt"]["N"] == str(int(NOW) + 100 + 14 * 86400)
    assert parked["updatedAt"]["N"] == str(int(NOW) + 100)
    assert [r["S"] for r in parked["reasons"]["L"]] == ["validation_error: invalid `to`"]
    assert [h["M"]["state"]["S"] for h in parked["history"]["L"]] == ["spam", "received", "parked"]
    last = parked["history"]["L"][-1]["M"]
    assert [r["S"] for r in last["reasons"]["L"]] == ["validation_error: invalid `to`"]
    assert last["requestId"]["S"] == "r-outbox"  # the request that parked it, for the operator's trace
    records.move(KEY, S.SENT, cycle=int(NOW + 50), now=NOW + 200, email_id="em-released", request_id="r-release")
    sent = item_of(dynamodb)["history"]["L"][-1]["M"]
    assert (sent["state"]["S"], sent["emailId"]["S"], sent["requestId"]["S"]) == ("sent", "em-released", "r-release")
    assert parked["receivedAt"]["N"] == str(int(NOW))
    assert "subject" not in parked


def test_a_bot_repeating_its_spam_does_not_grow_the_history(dynamodb: tuple[Any, str]) -> None:
    """The same spam 60 times: one history entry, the claims counted, the last request id kept."""
    client, table = dynamodb
    records = DynamoDBSubmissionRecords(client, table)
    for attempt in range(60):
        records.claim(draft(S.SPAM, now=NOW + attempt, request_id=f"r{attempt}"))
    item = item_of(dynamodb)
    assert len(item["history"]["L"]) == 1
    assert (item["claims"]["N"], item["requestId"]["S"], item["state"]["S"]) == ("60", "r59", "spam")


def numbers(item: dict[str, Any], *names: str) -> tuple[str, ...]:
    return tuple(item[name]["N"] for name in names)


def strings(item: dict[str, Any], *names: str) -> tuple[str, ...]:
    return tuple(item[name]["S"] for name in names)


def test_a_claim_writes_the_whole_submission(dynamodb: tuple[Any, str]) -> None:
    """What the owner's ``submissions show`` and ``export`` read, and what the indexes find records by: every field
    of the submission, its key, its times (a claim at a quarter past the second keeps the quarter in its times,
    starts its cycle at the second and is kept until the next whole second after its retention)."""
    client, table = dynamodb
    submission = ContactSubmission.model_validate(
        {
            "name": "Ada",
            "email": "Ada@Example.ORG",
            "subject": "Engines",
            "message": "Hello there, engine.",
            "consent": True,
        }
    )
    now = NOW + 0.25
    claim = Draft.of(
        submission,
        key=KEY,
        request_id="req-1",
        client_ip="2001:db8:1:2:aaaa:bbbb:cccc:dddd",
        state=S.RECEIVED,
        now=now,
        reasons=("a first reason",),
    )
    DynamoDBSubmissionRecords(client, table, days=10).claim(claim)
    item = item_of(dynamodb)
    assert strings(item, "pk", "submissionId", "idempotencyKey", "requestId", "state") == (
        "archive#0123456789abcdef",
        "0123456789abcdef",
        KEY,
        "req-1",
        "received",
    )
    assert [entry["S"] for entry in item["keys"]["L"]] == [KEY]
    # The local part keeps its case where the reply goes; the address index holds it lower-cased, so an erasure
    # asked for "ada@example.org" finds it.
    assert strings(item, "email", "emailNormalized") == ("Ada@example.org", "ada@example.org")
    assert strings(item, "name", "subject", "message", "source") == (
        "Ada",
        "Engines",
        "Hello there, engine.",
        "2001:db8:1:2::/64",
    )
    assert numbers(item, "receivedAt", "updatedAt", "cycleStartedAt", "expiresAt", "claims") == (
        "1764000000.25",
        "1764000000.25",
        "1764000000",
        "1764864001",  # 1,764,000,000.25 + 10 days, to the next whole second
        "1",
    )
    assert [reason["S"] for reason in item["reasons"]["L"]] == ["a first reason"]
    assert item["history"]["L"] == [
        {
            "M": {
                "state": {"S": "received"},
                "at": {"N": "1764000000.25"},
                "reasons": {"L": [{"S": "a first reason"}]},
                "requestId": {"S": "req-1"},
            }
        }
    ]
    assert not {"payload", "emailId"} & item.keys()


def test_a_new_cycle_keeps_the_first_receipt_and_clears_what_the_last_one_left(dynamodb: tuple[Any, str]) -> None:
    """Parked yesterday (its email, its reason, a recomposed key, a subject), the same message today without a
    subject: a new life with none of the old one's leftovers, the first receipt's time and the whole history kept."""
    client, table = dynamodb
    records = DynamoDBSubmissionRecords(client, table)
    first = records.claim(draft(S.RECEIVED, subject="Old subject")).record.cycle
    records.move(KEY, S.PARKED, cycle=first, now=NOW + 5, reasons=("provider refused",), payload='{"key":"k"}')
    records.move(KEY, S.PARKED, cycle=first, now=NOW + 6, new_key=KEY + ".r1", payload='{"key":"k.r1"}')
    sent = records.move(KEY, S.SENT, cycle=first, now=NOW + 7, email_id="em-old", new_key=KEY + ".r2")
    assert sent is not None and (sent.email_id, sent.keys) == ("em-old", (KEY, KEY + ".r1", KEY + ".r2"))
    assert item_of(dynamodb)["subject"]["S"] == "Old subject"

    later = NOW + 24 * 3600 + 30
    again = records.claim(draft(S.RECEIVED, now=later, request_id="r-today", reasons=()))
    assert again.created
    item = item_of(dynamodb)
    assert not {"payload", "emailId", "reasons", "subject"} & item.keys()
    assert [entry["S"] for entry in item["keys"]["L"]] == [KEY]
    assert numbers(item, "receivedAt", "cycleStartedAt", "updatedAt", "claims") == (
        str(int(NOW)),
        str(int(later)),
        str(int(later)),
        "2",
    )
    assert item["requestId"]["S"] == "r-today"
    assert [(h["M"]["state"]["S"], h["M"]["at"]["N"]) for h in item["history"]["L"]] == [
        ("received", str(int(NOW))),
        ("parked", str(int(NOW) + 5)),
        ("parked", str(int(NOW) + 6)),
        ("sent", str(int(NOW) + 7)),
        ("received", str(int(later))),
    ]
    assert records.get(KEY) == again.record
    assert (again.record.email_id, again.record.keys, again.record.payload) == (None, (KEY,), None)


def test_a_history_entry_holds_only_what_its_move_had(dynamodb: tuple[Any, str]) -> None:
    """A move by the outbox (no request id) with no reason writes just the state and time; the sent move writes
    its email id; a reason longer than 300 characters is cut to 300, in the history and on the record."""
    client, table = dynamodb
    records = DynamoDBSubmissionRecords(client, table)
    cycle = records.claim(draft(reasons=())).record.cycle
    records.move(KEY, S.QUEUED, cycle=cycle, now=NOW + 1)
    records.move(KEY, S.PARKED, cycle=cycle, now=NOW + 2, reasons=("x" * 301,))
    assert [reason["S"] for reason in item_of(dynamodb)["reasons"]["L"]] == ["x" * 300]
    records.move(KEY, S.SENT, cycle=cycle, now=NOW + 3, email_id="em-9")
    history = [entry["M"] for entry in item_of(dynamodb)["history"]["L"]]
    assert history[0] == {"state": {"S": "received"}, "at": {"N": str(int(NOW))}, "requestId": {"S": "r1"}}
    assert history[1] == {"state": {"S": "queued"}, "at": {"N": str(int(NOW) + 1)}}
    assert history[2] == {
        "state": {"S": "parked"},
        "at": {"N": str(int(NOW) + 2)},
        "reasons": {"L": [{"S": "x" * 300}]},
    }
    assert history[3] == {"state": {"S": "sent"}, "at": {"N": str(int(NOW) + 3)}, "emailId": {"S": "em-9"}}


@pytest.mark.parametrize(("changed", "restarted"), [(NOW - 24 * 3600 + 1, False), (NOW - 24 * 3600, True)])
def test_an_item_from_before_cycles_restarts_24_hours_after_its_last_change(
    dynamodb: tuple[Any, str], changed: float, restarted: bool
) -> None:
    """A record the archive wrote before cycles were kept (no ``cycleStartedAt``; sent, its receipt long ago but
    changed since): the same submission is answered from it until a day after that change, then starts afresh."""
    client, table = dynamodb
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": "archive#0123456789abcdef"},
            "state": {"S": "sent"},
            "idempotencyKey": {"S": KEY},
            "receivedAt": {"N": str(int(NOW) - 40 * 86400)},
            "updatedAt": {"N": str(int(changed))},
            "emailId": {"S": "em-legacy"},
        },
    )
    claim = DynamoDBSubmissionRecords(client, table).claim(draft(now=NOW, request_id="r-now"))
    assert claim.created is restarted
    assert claim.record.state == (S.RECEIVED if restarted else S.SENT)
    assert claim.record.email_id == (None if restarted else "em-legacy")
    assert item_of(dynamodb)["receivedAt"]["N"] == str(int(NOW) - 40 * 86400)  # the first receipt, either way


def test_a_new_cycle_drops_a_parked_lifes_email(dynamodb: tuple[Any, str]) -> None:
    """Parked yesterday with its email kept for the operator, sent again by the visitor today: the new life has no
    parked email, so an operator's release can only ever send what today's submission became."""
    client, table = dynamodb
    records = DynamoDBSubmissionRecords(client, table)
    first = records.claim(draft()).record.cycle
    records.move(KEY, S.PARKED, cycle=first, now=NOW + 5, payload='{"key":"old"}', email_id="em-old")
    assert item_of(dynamodb)["payload"]["S"] == '{"key":"old"}'
    again = records.claim(draft(now=NOW + 24 * 3600, request_id="r2"))
    assert again.created and again.record.payload is None
    assert not {"payload", "emailId"} & item_of(dynamodb).keys()


def test_a_refused_claim_on_an_item_that_is_not_a_record_says_so(dynamodb: tuple[Any, str]) -> None:
    """Something else under the record's key (written by hand, or half-written): the claim cannot take it and
    cannot read it, and says which record."""
    client, table = dynamodb
    client.put_item(TableName=table, Item={"pk": {"S": "archive#0123456789abcdef"}, "note": {"S": "by hand"}})
    with pytest.raises(RecordUnavailable, match=r"^record 0123456789abcdef refused the claim and is not readable$"):
        DynamoDBSubmissionRecords(client, table).claim(draft())


def test_each_call_runs_inside_the_deadline_it_is_given_and_reads_are_strongly_consistent(
    dynamodb: tuple[Any, str],
) -> None:
    """The store bounds its own calls by the caller's deadline (the service's transport ends every socket
    operation by the innermost scope), and a read sees the write just made (a repeat right after a claim)."""
    client, table = dynamodb
    scopes: list[Deadline | None] = []
    reads: list[dict[str, Any]] = []
    client.meta.events.register("before-call.dynamodb.*", lambda **_: scopes.append(current()))
    client.meta.events.register("before-parameter-build.dynamodb.GetItem", lambda params, **_: reads.append(params))
    records = DynamoDBSubmissionRecords(client, table)
    deadline = Deadline.after(2.0, clock=lambda: 100.0)
    records.claim(draft(), deadline=deadline)
    records.get(KEY, deadline=deadline)
    records.move(KEY, S.SENT, cycle=None, now=NOW, deadline=deadline)
    assert scopes == [deadline, deadline, deadline]
    assert [read.get("ConsistentRead") for read in reads] == [True]


def every_call(records: DynamoDBSubmissionRecords) -> list[Callable[[], object]]:
    """A claim, a read and a move: each of the store's calls to DynamoDB."""
    return [
        lambda: records.claim(draft()),
        lambda: records.get(KEY),
        lambda: records.move(KEY, S.SENT, cycle=None, now=NOW),
    ]


def test_a_missing_table_is_record_unavailable(dynamodb: tuple[Any, str]) -> None:
    """Each call translates DynamoDB's refusal into RecordUnavailable, naming the table and DynamoDB's error code
    (what the operator's warning line shows)."""
    client, _ = dynamodb
    records = DynamoDBSubmissionRecords(client, "no-such-table")
    for call in every_call(records):
        with pytest.raises(RecordUnavailable, match=r"no-such-table.*ResourceNotFoundException"):
            call()


def test_an_unreachable_endpoint_is_record_unavailable() -> None:
    """Nothing listening: a connection error becomes RecordUnavailable too, for every call, naming the table and
    the error."""
    from botocore.config import Config

    client = boto3.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",
        region_name="eu-west-1",
        config=Config(connect_timeout=0.5, retries={"total_max_attempts": 1}),
    )
    records = DynamoDBSubmissionRecords(client, "contact-records")
    for call in every_call(records):
        with pytest.raises(RecordUnavailable, match=r"\(contact-records\) unrea(?:ch|d)able: EndpointConnectionError"):
            call()


# -- reading an item back: what the operator's commands and a repeat see --------------------------------

KEY_B = "contact-" + "fedcba9876543210" + "0" * 48


@pytest.mark.parametrize(
    "item",
    [
        {},
        {"state": {"S": "sent"}},  # no key
        {"idempotencyKey": {"S": KEY_B}},  # no state
        {"state": {"S": "delivered"}, "idempotencyKey": {"S": KEY_B}},  # a state the record does not have
        {"state": "sent", "idempotencyKey": {"S": KEY_B}},  # not a DynamoDB attribute
        {"state": {"S": "sent"}, "idempotencyKey": KEY_B},
        {"state": {"N": "1"}, "idempotencyKey": {"S": KEY_B}},
    ],
)
def test_an_item_that_is_not_a_whole_record_reads_as_none(item: dict[str, Any]) -> None:
    """A rate-limit counter, a nonce, a half-written or foreign item under a record's key: not a record."""
    assert view_of(item) is None


def test_the_oldest_record_item_reads_with_defaults() -> None:
    """An item with only a state and a key (the archive's, before cycles and keys were kept): its id from the key,
    the key its only key, cycle 0 (so any claim may restart it), nothing else."""
    view = view_of({"state": {"S": "sent"}, "idempotencyKey": {"S": KEY_B}})
    assert view == RecordView(
        submission_id="fedcba9876543210", idempotency_key=KEY_B, state=S.SENT, cycle=0, keys=(KEY_B,)
    )  # and no email id, payload or reasons


@pytest.mark.parametrize(
    ("times", "cycle"),
    [
        ({"cycleStartedAt": "1764000000", "receivedAt": "1700000000", "updatedAt": "1764000500.5"}, 1764000000),
        ({"receivedAt": "1700000000.9", "updatedAt": "1764000500.5"}, 1700000000),  # before cycles: the receipt
        ({"updatedAt": "1764000500.5"}, 1764000500),  # before receipts were kept: the last change
    ],
)
def test_a_records_cycle_is_its_start_else_its_receipt_else_its_last_change(times: dict[str, str], cycle: int) -> None:
    """Items written before cycles were kept still answer a repeat: their cycle is the first time they have."""
    item = {"state": {"S": "queued"}, "idempotencyKey": {"S": KEY_B}} | {k: {"N": v} for k, v in times.items()}
    view = view_of(item)
    assert view is not None and view.cycle == cycle


def test_a_full_item_reads_back_every_field_the_record_keeps() -> None:
    """The email id, every key it went out under, the parked email and the reasons; entries that are not text
    (a list written by hand in the console) are skipped."""
    item = {
        "state": {"S": "parked"},
        "idempotencyKey": {"S": KEY_B},
        "submissionId": {"S": "fedcba9876543210"},
        "cycleStartedAt": {"N": "1764000000"},
        "emailId": {"S": "em-1"},
        "keys": {"L": [{"S": KEY_B}, {"N": "7"}, {"S": KEY_B + ".r1"}]},
        "payload": {"S": '{"key":"k","email":{}}'},
        "reasons": {"L": [{"S": "validation_error: invalid `to`"}, {"NULL": True}, {"S": "second"}]},
    }
    assert view_of(item) == RecordView(
        submission_id="fedcba9876543210",
        idempotency_key=KEY_B,
        state=S.PARKED,
        cycle=1764000000,
        email_id="em-1",
        keys=(KEY_B, KEY_B + ".r1"),
        payload='{"key":"k","email":{}}',
        reasons=("validation_error: invalid `to`", "second"),
    )


def test_an_empty_keys_list_reads_as_the_records_own_key() -> None:
    """A record always went out under at least its own key."""
    view = view_of({"state": {"S": "sent"}, "idempotencyKey": {"S": KEY_B}, "keys": {"L": []}})
    assert view is not None and view.keys == (KEY_B,)


def test_a_parked_email_is_kept_as_compact_utf8_json() -> None:
    """The parked record's copy of the email: no spaces, and a message in any script stored as its own characters
    (a 5,000-character Cyrillic message is ~10 KB of the item's 400 KB, not the ~30 KB of ``\\u`` escapes)."""
    email = {"subject": "Zoë", "text": "Привет"}
    assert payload_json(email, key="contact-k") == '{"key":"contact-k","email":{"subject":"Zoë","text":"Привет"}}'
