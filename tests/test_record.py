"""The submission record: its state machine, cycles and retention, in memory and against moto (DynamoDB on
loopback), and the pure parts around it (source reduction, ids, --since, CSV cells).

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
import pytest
from moto import mock_aws

from contact_sdk.devtools.tables import create_table
from contact_sdk.models import ContactSubmission
from contact_sdk.ops.submissions.records import neutralise_cell, normalise_id, parse_since
from contact_sdk.record import (
    Draft,
    DynamoDBSubmissionRecords,
    InMemorySubmissionRecords,
    RecordState,
    RecordUnavailable,
    SubmissionRecords,
    source_prefix,
)
from tests.conftest import aws_client

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
    """Zero or negative days are a programming error, refused at construction."""
    with pytest.raises(ValueError, match="at least one day"):
        DynamoDBSubmissionRecords(object(), "t", days=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one day"):
        DynamoDBSubmissionRecords(object(), "t", spam_days=-1)  # type: ignore[arg-type]


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


def draft(state: RecordState = S.RECEIVED, *, now: float = NOW, request_id: str = "r1") -> Draft:
    return Draft.of(
        SUBMISSION, key=KEY, request_id=request_id, client_ip="203.0.113.9", state=state, now=now, reasons=("why",)
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
    assert (claim.record.state, claim.record.cycle, claim.record.submission_id) == (
        verdict,
        int(NOW),
        "0123456789abcdef",
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
    assert not again.created
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


def test_a_record_that_does_not_exist_cannot_be_moved(records: SubmissionRecords) -> None:
    """No record (the claim could not be written): a move is None, and creates nothing."""
    assert records.move(KEY, S.SENT, cycle=None, now=NOW, email_id="em") is None
    assert records.get(KEY) is None


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
