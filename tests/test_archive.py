"""The archive's writer against moto, and its pure parts (source reduction, ids, --since, CSV cells)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from contact_sdk.archive import ArchiveState, ArchiveUnavailable, DynamoDBSubmissionArchive, source_prefix
from contact_sdk.models import ContactSubmission
from contact_sdk.ops.submissions.records import neutralise_cell, normalise_id, parse_since
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
        DynamoDBSubmissionArchive(object(), "t", days=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one day"):
        DynamoDBSubmissionArchive(object(), "t", spam_days=-1)  # type: ignore[arg-type]


@pytest.mark.integration
def test_record_state_never_creates_an_item(contact_table: str, aws: str) -> None:
    """Moving a submission that is not archived returns False and writes nothing."""
    dynamodb = aws_client(aws, "dynamodb")
    archive = DynamoDBSubmissionArchive(dynamodb, contact_table, clock=lambda: NOW)
    assert archive.record_state(KEY, "parked", reason="validation_error") is False
    assert dynamodb.scan(TableName=contact_table)["Items"] == []


@pytest.mark.integration
def test_parked_with_a_reason_and_the_ttl_of_each_state(contact_table: str, aws: str) -> None:
    """record then record_state(parked, reason): state, reasons, history, and the TTL recomputed by hand."""
    dynamodb = aws_client(aws, "dynamodb")
    clock = [NOW]
    archive = DynamoDBSubmissionArchive(dynamodb, contact_table, days=30, spam_days=7, clock=lambda: clock[0])
    submission = ContactSubmission.model_validate(
        {"name": "Ada", "email": "ada@example.org", "message": "Hello there, engine.", "consent": True}
    )
    identifier = archive.record(
        submission, key=KEY, request_id="r1", client_ip="203.0.113.9", state=ArchiveState.SPAM, reasons=("honeypot",)
    )
    assert identifier == "0123456789abcdef"

    def item() -> dict[str, Any]:
        found: dict[str, Any] = dynamodb.get_item(
            TableName=contact_table, Key={"pk": {"S": "archive#0123456789abcdef"}}
        )["Item"]
        return found

    assert item()["expiresAt"]["N"] == str(int(NOW) + 7 * 86400)
    assert "subject" not in item()
    clock[0] = NOW + 100
    assert archive.record_state(KEY, "parked", reason="validation_error: invalid `to`") is True
    parked = item()
    assert parked["state"]["S"] == "parked"
    assert [r["S"] for r in parked["reasons"]["L"]] == ["validation_error: invalid `to`"]
    assert parked["expiresAt"]["N"] == str(int(NOW) + 100 + 30 * 86400)
    assert parked["receivedAt"]["N"] == str(NOW)
    assert [h["M"]["state"]["S"] for h in parked["history"]["L"]] == ["spam", "parked"]


@pytest.mark.integration
def test_a_missing_table_is_archive_unavailable(aws: str) -> None:
    """Both writes translate DynamoDB's refusal into ArchiveUnavailable, naming the table and the code."""
    archive = DynamoDBSubmissionArchive(aws_client(aws, "dynamodb"), "no-such-table", clock=lambda: NOW)
    with pytest.raises(ArchiveUnavailable, match=r"no-such-table.*ResourceNotFoundException"):
        archive.record_state(KEY, ArchiveState.SENT, email_id="em")
    submission = ContactSubmission.model_validate(
        {"name": "Ada", "email": "ada@example.org", "message": "Hello there, engine.", "consent": True}
    )
    with pytest.raises(ArchiveUnavailable):
        archive.record(submission, key=KEY, request_id="r", client_ip="::1", state=ArchiveState.SENT)


@pytest.mark.integration
def test_an_unreachable_endpoint_is_archive_unavailable(contact_table: str) -> None:
    """Nothing listening: a connection error becomes ArchiveUnavailable too."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",
        region_name="eu-west-1",
        config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
    )
    archive = DynamoDBSubmissionArchive(client, contact_table, clock=lambda: NOW)
    with pytest.raises(ArchiveUnavailable, match="unreachable"):
        archive.record_state(KEY, ArchiveState.SENT)


@pytest.mark.integration
def test_the_history_stops_growing_at_fifty_entries_but_the_state_still_moves(contact_table: str, aws: str) -> None:
    """The same text posted 52 times (a bot): 50 history entries, yet the 52nd state, time and TTL are recorded."""
    dynamodb = aws_client(aws, "dynamodb")
    clock = [NOW]
    archive = DynamoDBSubmissionArchive(dynamodb, contact_table, clock=lambda: clock[0])
    submission = ContactSubmission.model_validate(
        {"name": "Bot", "email": "bot@example.org", "message": "Buy cheap things now, now, now.", "consent": True}
    )
    for attempt in range(52):
        clock[0] = NOW + attempt
        archive.record(submission, key=KEY, request_id=f"r{attempt}", client_ip="203.0.113.9", state=ArchiveState.SPAM)
    clock[0] = NOW + 100
    assert archive.record_state(KEY, "released", email_id="em-1") is True
    item = dynamodb.get_item(TableName=contact_table, Key={"pk": {"S": "archive#0123456789abcdef"}})["Item"]
    assert len(item["history"]["L"]) == 50
    assert item["history"]["L"][-1]["M"]["requestId"]["S"] == "r49"
    assert (item["state"]["S"], item["emailId"]["S"]) == ("released", "em-1")
    assert item["updatedAt"]["N"] == str(NOW + 100)
    assert item["expiresAt"]["N"] == str(int(NOW) + 100 + 30 * 86400)
    assert item["requestId"]["S"] == "r0"
