"""``contact-sdk submissions`` against moto and the Resend sandbox: list, show, export, release, erase.

Records are written by the runtime's record store (the code under test here is the reader and the
commands); expectations are written out by hand, CSV is parsed back with the ``csv`` module, and erasure
is judged by scanning the whole table.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.models import ContactSubmission
from contact_sdk.ops.cli import main
from contact_sdk.record import Draft, DynamoDBSubmissionRecords, RecordState
from contact_sdk.webhooks.store import DynamoDBWebhookStore
from contact_sdk.webhooks.verifier import parse_event
from tests.conftest import aws_client
from tests.scripted_server import ScriptedServer

pytestmark = pytest.mark.integration

DAY = 86400
API_KEY = "re_release_test_key"
CONFIG_PARAMETER = "/portfolio/test/resend/api-key"


def form(
    email: str = "ada@example.org", message: str = "Hello, I would like to talk about the engine.", **changes: Any
) -> ContactSubmission:
    """A validated submission."""
    fields: dict[str, Any] = {"name": "Ada Lovelace", "email": email, "message": message, "consent": True}
    fields.update(changes)
    return ContactSubmission.model_validate(fields)


def key(number: int) -> str:
    """An idempotency key whose archive id is ``number`` in 16 hex digits."""
    return f"contact-{number:016x}" + "0" * 48


#: How the service brings a record to each state: the claim, then the moves.
PATHS = {
    RecordState.SPAM: (RecordState.SPAM,),
    RecordState.SENT: (RecordState.RECEIVED, RecordState.SENT),
    RecordState.QUEUED: (RecordState.RECEIVED, RecordState.QUEUED),
    RecordState.PARKED: (RecordState.RECEIVED, RecordState.PARKED),
    RecordState.RELEASED: (RecordState.SPAM, RecordState.RELEASED),
}


def seed(
    dynamodb: Any,
    table: str,
    number: int,
    state: RecordState,
    *,
    submission: ContactSubmission | None = None,
    at: float | None = None,
    reasons: tuple[str, ...] = (),
    email_id: str | None = None,
    client_ip: str = "203.0.113.7",
    payload: str | None = None,
) -> str:
    """Record one submission in ``state`` as the service does (the claim, then its moves); its id."""
    when = time.time() if at is None else at
    records = DynamoDBSubmissionRecords(dynamodb, table)
    first, *moves = PATHS[state]
    draft = Draft.of(
        submission or form(),
        key=key(number),
        request_id=f"req-{number}",
        client_ip=client_ip,
        state=first,
        now=when,
        reasons=reasons if not moves else (),
    )
    cycle = records.claim(draft).record.cycle
    for to in moves:
        records.move(key(number), to, cycle=cycle, now=when, reasons=reasons, email_id=email_id, payload=payload)
    return f"{number:016x}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI; (exit status, stdout, stderr). argparse's own exits are caught."""
    try:
        status = main(["submissions", *argv])
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def dynamodb(aws: str) -> Any:
    """A DynamoDB client on the emulator."""
    return aws_client(aws, "dynamodb")


@pytest.fixture
def table(contact_table: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The service's table; CONTACT_TABLE_NAME names it, as on an operator's shell."""
    monkeypatch.setenv("CONTACT_TABLE_NAME", contact_table)
    return contact_table


# --- list ---------------------------------------------------------------------------------------


def test_an_empty_archive_lists_nothing_and_succeeds(table: str, capsys: Any) -> None:
    """No items: exit 0, a note on stderr, and ``[]`` with --json."""
    assert run(capsys, "list") == (0, "", "no archived submissions match\n")
    status, out, _ = run(capsys, "list", "--json")
    assert (status, json.loads(out)) == (0, [])


def test_a_table_without_archive_items_lists_nothing(table: str, dynamodb: Any, capsys: Any) -> None:
    """Ledger items from before the records, and delivery events alone, are not submissions: an empty list."""
    _legacy_ledger(dynamodb, table, key(1), "em-1")
    body = json.dumps({"type": "email.delivered", "created_at": "2026-11-30T10:00:00Z", "data": {"email_id": "em-1"}})
    DynamoDBWebhookStore(dynamodb, table).record(
        parse_event("msg_1", body.encode(), fallback_created_at=0), now=time.time()
    )
    status, out, _ = run(capsys, "list", "--json")
    assert (status, json.loads(out)) == (0, [])


def test_list_masks_by_default_and_reveals_on_request(table: str, dynamodb: Any, capsys: Any) -> None:
    """The table shows id, state, source and a masked address; --reveal shows the address; newest first."""
    now = time.time()
    seed(dynamodb, table, 1, RecordState.SENT, at=now - 60, email_id="em-1")
    seed(dynamodb, table, 2, RecordState.SPAM, reasons=("honeypot_filled",), client_ip="2001:db8:1:2:3:4:5:6")
    status, out, _ = run(capsys, "list")
    assert status == 0
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["0000000000000002", "spam"]
    assert "2001:db8:1:2::/64" in lines[1] and "honeypot_filled" in lines[1]
    assert lines[2].split()[:2] == ["0000000000000001", "sent"]
    assert "a***@e***.org" in out
    assert "ada@example.org" not in out and "Lovelace" not in out
    assert lines[-1] == "2 submission(s)"
    status, out, _ = run(capsys, "list", "--reveal")
    assert "ada@example.org" in out


def test_list_json_masks_the_message_name_and_subject(table: str, dynamodb: Any, capsys: Any) -> None:
    """--json carries the same masking: the message becomes its length, the name its first letter."""
    seed(dynamodb, table, 1, RecordState.SENT, submission=form(subject="About the engine"))
    status, out, _ = run(capsys, "list", "--json")
    [entry] = json.loads(out)
    assert status == 0
    assert entry["email"] == "a***@e***.org"
    assert entry["name"] == "A*** [12]"
    assert entry["subject"] == "A*** [16]"
    assert entry["message"] == "[45 characters]"
    assert entry["idempotencyKey"] == key(1)
    assert entry["requestId"] == "req-1"


def test_list_filters_by_state_and_since(table: str, dynamodb: Any, capsys: Any) -> None:
    """--state keeps one state; --since keeps what was received after the given time (relative or ISO)."""
    now = time.time()
    seed(dynamodb, table, 1, RecordState.SENT, at=now - 10 * DAY)
    seed(dynamodb, table, 2, RecordState.SPAM, at=now - 2 * DAY)
    seed(dynamodb, table, 3, RecordState.QUEUED, at=now - 60)

    def ids(*argv: str) -> list[str]:
        status, out, _ = run(capsys, "list", "--json", *argv)
        assert status == 0
        return [entry["id"] for entry in json.loads(out)]

    assert ids("--state", "spam") == ["0000000000000002"]
    assert ids("--since", "3d") == ["0000000000000003", "0000000000000002"]
    assert ids("--since", "1h") == ["0000000000000003"]
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5 * DAY))
    assert ids("--since", iso) == ["0000000000000003", "0000000000000002"]
    assert ids("--state", "sent", "--since", "3d") == []


def test_until_ends_the_range_and_may_lie_in_the_future(table: str, dynamodb: Any, capsys: Any) -> None:
    """--until keeps what was received before it (relative or ISO, a future date too), with or without --since."""
    now = time.time()
    seed(dynamodb, table, 1, RecordState.SENT, at=now - 10 * DAY)
    seed(dynamodb, table, 2, RecordState.SPAM, at=now - 2 * DAY)
    seed(dynamodb, table, 3, RecordState.QUEUED, at=now - 60)

    def ids(*argv: str) -> list[str]:
        status, out, _ = run(capsys, "list", "--json", *argv)
        assert status == 0
        return [entry["id"] for entry in json.loads(out)]

    assert ids("--until", "1d") == ["0000000000000002", "0000000000000001"]
    assert ids("--since", "3d", "--until", "1h") == ["0000000000000002"]
    assert ids("--until", "2999-01-01") == ["0000000000000003", "0000000000000002", "0000000000000001"]
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5 * DAY))
    assert ids("--until", iso) == ["0000000000000001"]
    status, out, _ = run(capsys, "export", "--format", "jsonl", "--since", "3d", "--until", "1h")
    assert (status, [json.loads(line)["id"] for line in out.splitlines()]) == (0, ["0000000000000002"])


@pytest.mark.parametrize("command", [("list",), ("export", "--format", "csv")])
@pytest.mark.parametrize(("since", "until"), [("1d", "2d"), ("2020-01-01", "2020-01-01"), ("7d", "2020-01-01")])
def test_a_range_that_ends_before_it_starts_is_a_usage_error(
    table: str, capsys: Any, command: tuple[str, ...], since: str, until: str
) -> None:
    """--since at or after --until: exit 2 naming both, nothing listed."""
    status, out, err = run(capsys, *command, "--since", since, "--until", until)
    assert (status, out) == (2, "")
    assert "--since" in err and "must be before --until" in err


@pytest.mark.parametrize("until", ["tomorrow", "3y", "2026-02-30", ""])
def test_a_bad_until_is_a_usage_error(table: str, until: str, capsys: Any) -> None:
    """An unreadable --until exits 2 naming the accepted forms."""
    status, _, err = run(capsys, "list", f"--until={until}")
    assert status == 2
    assert "--until" in err and "expected e.g. 24h" in err


@pytest.mark.parametrize("since", ["yesterday", "7x", "-3d", "2026-13-01", "2999-01-01"])
def test_a_bad_since_is_a_usage_error(table: str, since: str, capsys: Any) -> None:
    """Unreadable, negative or future --since values exit 2 naming the accepted forms."""
    status, _, err = run(capsys, "list", f"--since={since}")
    assert status == 2
    assert "--since" in err
    assert "expected e.g. 24h" in err or "in the future" in err


def test_an_unknown_state_is_a_usage_error(table: str, capsys: Any) -> None:
    """--state accepts only the archive's states."""
    status, _, err = run(capsys, "list", "--state", "lost")
    assert status == 2
    assert "invalid choice" in err


def test_without_a_table_the_command_says_how_to_name_it(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """No --table and no CONTACT_TABLE_NAME: exit 2."""
    monkeypatch.delenv("CONTACT_TABLE_NAME", raising=False)
    assert run(capsys, "list") == (2, "", "error: give --table or set CONTACT_TABLE_NAME\n")


def test_a_missing_table_is_reported_not_raised(aws: str, capsys: Any) -> None:
    """A table that does not exist: exit 1 with DynamoDB's error code."""
    status, _, err = run(capsys, "list", "--table", "no-such-table")
    assert status == 1
    assert "ResourceNotFoundException" in err


def test_expired_items_not_yet_deleted_are_not_listed(table: str, dynamodb: Any, capsys: Any) -> None:
    """DynamoDB deletes lazily: an item past its TTL is not shown."""
    seed(dynamodb, table, 1, RecordState.SPAM, at=time.time() - 8 * DAY)  # 7-day spam retention
    status, out, _ = run(capsys, "list", "--json")
    assert (status, json.loads(out)) == (0, [])


# --- show ---------------------------------------------------------------------------------------


def test_show_prints_one_submission_with_its_history(table: str, dynamodb: Any, capsys: Any) -> None:
    """Fields masked, history in order, and the full idempotency key works as an id too."""
    now = time.time()
    seed(dynamodb, table, 5, RecordState.QUEUED, at=now - 120, reasons=("CircuitOpenError",))
    DynamoDBSubmissionRecords(dynamodb, table).move(key(5), RecordState.SENT, cycle=None, now=now, email_id="em-5")
    status, out, _ = run(capsys, "show", "0000000000000005")
    assert status == 0
    assert "state: sent" in out
    assert "email: a***@e***.org" in out
    assert "message: [45 characters]" in out
    history = out.split("history:\n")[1].splitlines()
    assert [line.split()[2] for line in history] == ["received", "queued", "sent"]
    assert "CircuitOpenError" in history[1]
    status, out, _ = run(capsys, "show", key(5), "--json", "--reveal")
    document = json.loads(out)
    assert status == 0
    assert document["email"] == "ada@example.org"
    assert document["message"] == "Hello, I would like to talk about the engine."
    assert [h["state"] for h in document["history"]] == ["received", "queued", "sent"]
    assert document["emailId"] == "em-5"


def test_show_and_erase_take_the_table_from_the_option(
    table: str, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """No CONTACT_TABLE_NAME in the shell: ``show`` and ``erase`` read and erase in the table ``--table`` names;
    without it they stop before asking AWS."""
    monkeypatch.delenv("CONTACT_TABLE_NAME")
    seed(dynamodb, table, 6, RecordState.SENT, email_id="em-6")
    assert run(capsys, "show", "0000000000000006")[0] == 2
    status, out, _ = run(capsys, "show", "0000000000000006", "--table", table)
    assert status == 0 and "state: sent" in out
    assert run(capsys, "erase", "--email", "ada@example.org")[0] == 2
    status, out, _ = run(capsys, "erase", "--email", "ada@example.org", "--table", table)
    assert status == 0 and out.splitlines()[-1].startswith("erased ")
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "archive#0000000000000006"}})


def test_show_an_unknown_id_fails(table: str, capsys: Any) -> None:
    """An id that is not archived: exit 1."""
    status, _, err = run(capsys, "show", "00000000000000ff")
    assert status == 1
    assert "no submission 00000000000000ff" in err


@pytest.mark.parametrize("bad", ["123", "zzzzzzzzzzzzzzzz", "contact-1234", "00000000000000001"])
def test_show_a_malformed_id_is_a_usage_error(table: str, bad: str, capsys: Any) -> None:
    """Not 16 hex characters nor an idempotency key: exit 2 saying what an id looks like."""
    status, _, err = run(capsys, "show", bad)
    assert status == 2
    assert "is not a submission id" in err


# --- export -------------------------------------------------------------------------------------

HOSTILE_MESSAGE = 'First line, with "quotes", commas\nsecond line\r\n=1+1 on the third'


def test_a_hostile_csv_export_parses_back_and_no_cell_is_a_formula(table: str, dynamodb: Any, capsys: Any) -> None:
    """Commas, quotes, newlines and leading = + - @ survive as text; formula triggers get a leading quote."""
    hostile = form(
        name='=HYPERLINK("http://evil.example","x")',
        email="bob@example.org",
        subject="+1 call me, please",
        message=HOSTILE_MESSAGE,
    )
    seed(dynamodb, table, 1, RecordState.SPAM, submission=hostile, reasons=("@mention", "-minus"))
    seed(dynamodb, table, 2, RecordState.SENT, submission=form(name="Ada, Countess of Lovelace"))
    status, out, err = run(capsys, "export", "--format", "csv", "--reveal")
    assert status == 0
    assert err == "exported 2 submission(s) as csv\n"
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [row["id"] for row in rows] == ["0000000000000001", "0000000000000002"]
    first, second = rows
    assert first["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert first["subject"] == "'+1 call me, please"
    assert first["message"] == HOSTILE_MESSAGE  # starts with "F": kept as written, newlines included
    assert first["reasons"] == "'@mention; -minus"
    assert first["email"] == "bob@example.org"
    assert second["name"] == "Ada, Countess of Lovelace"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_a_message_starting_with_a_formula_trigger_is_neutralised(table: str, dynamodb: Any, capsys: Any) -> None:
    """A message beginning with '-' or '@' (after trimming) is quoted too."""
    seed(dynamodb, table, 1, RecordState.SENT, submission=form(message="-- signature first, then the text"))
    seed(dynamodb, table, 2, RecordState.SENT, submission=form(message="@everyone please read this"))
    _, out, _ = run(capsys, "export", "--format", "csv", "--reveal")
    messages = sorted(row["message"] for row in csv.DictReader(io.StringIO(out, newline="")))
    assert messages == ["'-- signature first, then the text", "'@everyone please read this"]


def test_export_is_masked_unless_revealed_and_can_write_a_file(
    table: str, dynamodb: Any, capsys: Any, tmp_path: Any
) -> None:
    """Without --reveal the CSV holds masked values; --output writes the file instead of stdout."""
    seed(dynamodb, table, 1, RecordState.SENT)
    target = tmp_path / "out.csv"
    status, out, _ = run(capsys, "export", "--format", "csv", "--output", str(target))
    assert (status, out) == (0, "")
    [row] = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    assert row["email"] == "a***@e***.org"
    assert row["message"] == "[45 characters]"


def test_jsonl_export_has_one_object_per_line_with_history(table: str, dynamodb: Any, capsys: Any) -> None:
    """JSON Lines: each line parses alone; --since applies; oldest first."""
    now = time.time()
    seed(dynamodb, table, 1, RecordState.SENT, at=now - 10 * DAY, submission=form(message=HOSTILE_MESSAGE))
    seed(dynamodb, table, 2, RecordState.SPAM, at=now - DAY, submission=form(message=HOSTILE_MESSAGE))
    seed(dynamodb, table, 3, RecordState.QUEUED, at=now - 60, submission=form(message=HOSTILE_MESSAGE))
    status, out, _ = run(capsys, "export", "--format", "jsonl", "--since", "2d", "--reveal")
    assert status == 0
    lines = out.splitlines()
    documents = [json.loads(line) for line in lines]
    assert [d["id"] for d in documents] == ["0000000000000002", "0000000000000003"]
    assert all(d["message"] == HOSTILE_MESSAGE for d in documents)
    assert [h["state"] for h in documents[0]["history"]] == ["spam"]


def test_an_export_that_fails_leaves_no_file_behind(
    aws: str, dynamodb: Any, capsys: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS refuses (no such table): exit 1, and neither the output file nor a partial one exists afterwards; an
    existing file of that name is left as it was."""
    target = tmp_path / "out.csv"
    status, _, err = run(capsys, "export", "--format", "csv", "--table", "no-such-table", "--output", str(target))
    assert status == 1
    assert "ResourceNotFoundException" in err
    assert list(tmp_path.iterdir()) == []
    target.write_text("yesterday's export\n", encoding="utf-8")
    assert run(capsys, "export", "--format", "csv", "--table", "no-such-table", "--output", str(target))[0] == 1
    assert [path.name for path in tmp_path.iterdir()] == ["out.csv"]
    assert target.read_text(encoding="utf-8") == "yesterday's export\n"


def test_a_table_without_the_indexes_is_named_as_the_cause(aws: str, dynamodb: Any, capsys: Any) -> None:
    """A table from before the indexes: list and export exit 1 and point at the upgrade in docs/deploy.md."""
    dynamodb.create_table(
        TableName="contact-old",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for command in (("list",), ("export", "--format", "jsonl")):
        status, _, err = run(capsys, *command, "--table", "contact-old")
        assert status == 1
        assert "archive-by-state" in err
        assert "Upgrading a stack deployed before the archive indexes" in err


def test_export_needs_a_known_format(table: str, capsys: Any) -> None:
    """--format is required and only csv or jsonl."""
    assert run(capsys, "export")[0] == 2
    status, _, err = run(capsys, "export", "--format", "xlsx")
    assert status == 2
    assert "invalid choice" in err


def test_an_empty_export_is_a_header_only_csv(table: str, capsys: Any) -> None:
    """Nothing archived: the header row alone, exit 0."""
    status, out, err = run(capsys, "export", "--format", "csv")
    assert status == 0
    [header] = list(csv.reader(io.StringIO(out, newline="")))
    assert header[:3] == ["id", "state", "reasons"]
    assert err == "exported 0 submission(s) as csv\n"


# --- release ------------------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[ResendSandbox]:
    """The Resend sandbox on loopback."""
    with ResendSandbox(api_key=API_KEY) as running:
        yield running


@pytest.fixture
def release_env(aws: str, table: str, sandbox: ResendSandbox, monkeypatch: pytest.MonkeyPatch) -> ResendSandbox:
    """The Resend config as a SecureString in moto, and the variables the command reads."""
    kms_key = aws_client(aws, "kms").create_key(Description="release-test")["KeyMetadata"]["KeyId"]
    config = {
        "apiKey": API_KEY,
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "owner@example.com",
        "version": 1,
        "rotatedAt": "2026-11-01T10:00:00Z",
    }
    aws_client(aws, "ssm").put_parameter(
        Name=CONFIG_PARAMETER, Value=json.dumps(config), Type="SecureString", KeyId=kms_key
    )
    monkeypatch.setenv("CONTACT_CONFIG_PARAMETER", CONFIG_PARAMETER)
    monkeypatch.setenv("RESEND_API_URL", sandbox.url)
    return sandbox


def test_release_sends_a_spam_submission_once_and_records_it(
    release_env: ResendSandbox, table: str, dynamodb: Any, capsys: Any
) -> None:
    """The email goes out recomposed, under a key derived from the submission's (.r1), the visitor as Reply-To; the
    record notes both keys; a second release is refused."""
    seed(dynamodb, table, 7, RecordState.SPAM, reasons=("submitted_too_fast",))
    status, out, err = run(capsys, "release", "0000000000000007")
    assert status == 0, err
    [email] = release_env.emails()
    assert out == f"released 0000000000000007: sent as email {email['id']}\n"
    assert email["headers"]["idempotency-key"] == key(7) + ".r1"
    assert email["body"]["reply_to"] == ["ada@example.org"]
    assert email["body"]["to"] == ["owner@example.com"]
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "archive#0000000000000007"}})["Item"]
    assert item["state"]["S"] == "released"
    assert item["emailId"]["S"] == email["id"]
    assert [k["S"] for k in item["keys"]["L"]] == [key(7), key(7) + ".r1"]
    assert [h["M"]["state"]["S"] for h in item["history"]["L"]] == ["spam", "released"]
    assert item["expiresAt"]["N"] > str(int(time.time()) + 29 * DAY)  # released: the normal retention
    assert "releaseClaimedAt" not in item
    status, _, err = run(capsys, "release", "0000000000000007")
    assert status == 1
    assert "already released" in err
    assert len(release_env.emails()) == 1


def released_counts(dynamodb: Any, environment: str) -> list[float]:
    """The SubmissionsReleased sums CloudWatch (moto) holds for ``environment`` in the last and next ten minutes."""
    statistics = aws_client(dynamodb.meta.endpoint_url, "cloudwatch").get_metric_statistics(
        Namespace="Portfolio/EmailService",
        MetricName="SubmissionsReleased",
        Dimensions=[{"Name": "Environment", "Value": environment}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 600,
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return [point["Sum"] for point in statistics]


def test_a_release_is_counted_for_the_dashboard(
    release_env: ResendSandbox, table: str, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """One SubmissionsReleased in Portfolio/EmailService with the Environment dimension (read back from moto)."""
    monkeypatch.setenv("CONTACT_ENVIRONMENT", "staging")
    seed(dynamodb, table, 13, RecordState.SPAM)
    assert run(capsys, "release", "000000000000000d")[0] == 0
    assert released_counts(dynamodb, "staging") == [1.0]


def test_release_takes_its_settings_from_the_options_alone(
    release_env: ResendSandbox, table: str, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """An operator's shell without the function's variables: ``--table``, ``--config-parameter``,
    ``--resend-api-url``, ``--archive-days 3`` and ``--environment staging`` are what the release uses. The email
    reaches the sandbox, the record is kept three days from now (not the default 30), and the count is in staging."""
    for name in ("CONTACT_TABLE_NAME", "CONTACT_CONFIG_PARAMETER", "RESEND_API_URL", "CONTACT_ARCHIVE_DAYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CONTACT_ENVIRONMENT", raising=False)
    seed(dynamodb, table, 16, RecordState.SPAM)
    before = time.time()
    options = ["--table", table, "--config-parameter", CONFIG_PARAMETER, "--resend-api-url", release_env.url]
    options += ["--archive-days", "3", "--environment", "staging"]
    status, _, err = run(capsys, "release", "0000000000000010", *options)
    assert status == 0, err
    assert len(release_env.emails()) == 1
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "archive#0000000000000010"}})["Item"]
    assert before + 3 * DAY - 1 <= float(item["expiresAt"]["N"]) <= time.time() + 3 * DAY + 1
    assert released_counts(dynamodb, "staging") == [1.0]


def test_a_failed_count_does_not_undo_the_release(
    release_env: ResendSandbox, table: str, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """CloudWatch unreachable: the release stands (exit 0, recorded) and a warning says the dashboard missed it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9")
    seed(dynamodb, table, 14, RecordState.SPAM)
    status, out, err = run(capsys, "release", "000000000000000e")
    assert status == 0
    assert out.startswith("released 000000000000000e")
    assert "SubmissionsReleased was not counted" in err
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "archive#000000000000000e"}})["Item"]
    assert item["state"]["S"] == "released"


def test_a_count_cloudwatch_refuses_is_not_sent_twice(
    release_env: ResendSandbox, table: str, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """CloudWatch answering 503: one try only (a retried put whose first answer was lost would count twice)."""
    with ScriptedServer(lambda *_: (503, {"Content-Type": "text/plain"}, b"Service Unavailable")) as cloudwatch:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", cloudwatch.url)
        seed(dynamodb, table, 15, RecordState.SPAM)
        status, _, err = run(capsys, "release", "000000000000000f")
    assert status == 0
    assert len(cloudwatch.requests) == 1
    assert "SubmissionsReleased was not counted on the dashboard" in err


def test_release_refuses_what_was_not_held_back_and_unknown_ids(
    release_env: ResendSandbox, table: str, dynamodb: Any, capsys: Any
) -> None:
    """A sent submission is not released again; an unknown id is an error; nothing is emailed."""
    seed(dynamodb, table, 8, RecordState.SENT, email_id="em-8")
    status, _, err = run(capsys, "release", "0000000000000008")
    assert (status, err) == (
        1,
        "error: submission 0000000000000008 is sent, not spam or parked: it was not held back\n",
    )
    status, _, err = run(capsys, "release", "00000000000000aa")
    assert status == 1
    assert "no submission 00000000000000aa" in err
    assert run(capsys, "release", "not-an-id")[0] == 2
    assert release_env.emails() == []


def test_a_submission_sent_before_and_judged_spam_when_it_came_again_is_not_released(
    release_env: ResendSandbox, table: str, dynamodb: Any, capsys: Any
) -> None:
    """Sent, then the same text again with the honeypot filled: the record stays sent, nothing to release."""
    seed(dynamodb, table, 12, RecordState.SENT, email_id="em-12")
    records = DynamoDBSubmissionRecords(dynamodb, table)
    spam_copy = Draft.of(
        form(), key=key(12), request_id="r", client_ip="203.0.113.7", state=RecordState.SPAM, now=time.time()
    )
    assert not records.claim(spam_copy).created
    status, _, err = run(capsys, "release", "000000000000000c")
    assert (status, err) == (
        1,
        "error: submission 000000000000000c is sent, not spam or parked: it was not held back\n",
    )
    assert release_env.emails() == []


def test_a_parked_submission_is_released_recomposed_from_todays_config(
    release_env: ResendSandbox, aws: str, table: str, dynamodb: Any, capsys: Any
) -> None:
    """Parked (an unverified sender), the operator fixes fromEmail, releases it: one email with the new sender,
    under .r1; the record moves parked -> sent and keeps both keys."""
    seed(dynamodb, table, 15, RecordState.PARKED, reasons=("ProviderRequestError 403 validation_error: domain",))
    fixed = json.loads(
        aws_client(aws, "ssm").get_parameter(Name=CONFIG_PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    )
    fixed["fromEmail"] = "verified@example.com"
    aws_client(aws, "ssm").put_parameter(
        Name=CONFIG_PARAMETER, Value=json.dumps(fixed), Type="SecureString", Overwrite=True
    )
    status, _, err = run(capsys, "release", "000000000000000f")
    assert status == 0, err
    [email] = release_env.emails()
    assert email["body"]["from"] == "Contact Form <verified@example.com>"
    assert email["headers"]["idempotency-key"] == key(15) + ".r1"
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "archive#000000000000000f"}})["Item"]
    assert (item["state"]["S"], item["emailId"]["S"]) == ("sent", email["id"])
    assert [h["M"]["state"]["S"] for h in item["history"]["L"]] == ["received", "parked", "sent"]
    assert "payload" not in item
    assert run(capsys, "release", "000000000000000f")[0] == 1
    assert len(release_env.emails()) == 1


def test_a_refused_release_leaves_the_submission_releasable(
    release_env: ResendSandbox, table: str, dynamodb: Any, capsys: Any
) -> None:
    """Resend refuses (422): exit 1, nothing recorded, the claim removed; the next release succeeds."""
    seed(dynamodb, table, 9, RecordState.SPAM, reasons=("too_many_links",))
    release_env.script(["422:validation_error"])
    status, _, err = run(capsys, "release", "0000000000000009")
    assert status == 1
    assert "Resend did not take the email" in err
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "archive#0000000000000009"}})["Item"]
    assert item["state"]["S"] == "spam"
    assert "releaseClaimedAt" not in item
    assert run(capsys, "release", "0000000000000009")[0] == 0
    assert len(release_env.emails()) == 1


def test_a_claimed_release_is_not_sent_twice(
    release_env: ResendSandbox, table: str, dynamodb: Any, capsys: Any
) -> None:
    """Another run holds the claim (or crashed after sending): this run refuses and sends nothing."""
    seed(dynamodb, table, 10, RecordState.SPAM)
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "archive#000000000000000a"}},
        UpdateExpression="SET releaseClaimedAt = :t",
        ExpressionAttributeValues={":t": {"N": str(time.time())}},
    )
    status, _, err = run(capsys, "release", "000000000000000a")
    assert status == 1
    assert "already being released" in err
    assert release_env.emails() == []


def test_release_without_the_resend_config_fails_cleanly(
    aws: str, table: str, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The config parameter is missing: exit 1 naming the problem, the submission stays releasable."""
    monkeypatch.setenv("CONTACT_CONFIG_PARAMETER", "/portfolio/test/missing")
    seed(dynamodb, table, 11, RecordState.SPAM)
    status, _, err = run(capsys, "release", "000000000000000b")
    assert status == 1
    assert "the Resend config could not be read" in err
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "archive#000000000000000b"}})["Item"]
    assert "releaseClaimedAt" not in item


# --- erase --------------------------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    """Every string anywhere in a DynamoDB item (all attribute types, nested)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def _webhook(dynamodb: Any, table: str, svix_id: str, email_id: str) -> None:
    body = json.dumps({"type": "email.delivered", "created_at": "2026-11-30T10:00:00Z", "data": {"email_id": email_id}})
    DynamoDBWebhookStore(dynamodb, table).record(
        parse_event(svix_id, body.encode(), fallback_created_at=0), now=time.time()
    )


def _legacy_ledger(dynamodb: Any, table: str, idempotency_key: str, email_id: str) -> None:
    """An item of the submission ledger the records replaced (still in a table for a day after the upgrade)."""
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"submission#{idempotency_key}"},
            "status": {"S": "sent"},
            "emailId": {"S": email_id},
            "expiresAt": {"N": str(int(time.time()) + DAY)},
        },
    )


def test_erase_removes_every_item_of_the_address_and_nothing_else(table: str, dynamodb: Any, capsys: Any) -> None:
    """Records (any case of the address), ledger items left from before the records, delivery records and webhook
    markers go; a whole-table scan afterwards finds neither the address nor its email ids; another visitor's stay."""
    seed(dynamodb, table, 1, RecordState.SENT, submission=form(email="Ada@Example.org"), email_id="em-ada-1")
    _legacy_ledger(dynamodb, table, key(1), "em-ada-1")
    _webhook(dynamodb, table, "msg_a1", "em-ada-1")
    seed(dynamodb, table, 2, RecordState.SPAM, submission=form(email="ada@example.org", message="A second try."))
    seed(dynamodb, table, 3, RecordState.QUEUED, submission=form(email="ada@example.org", message="A third one."))
    DynamoDBSubmissionRecords(dynamodb, table).move(
        key(3), RecordState.SENT, cycle=None, now=time.time(), email_id="em-ada-3"
    )
    _legacy_ledger(dynamodb, table, key(3), "em-ada-3")
    _webhook(dynamodb, table, "msg_a3", "em-ada-3")
    seed(dynamodb, table, 4, RecordState.SENT, submission=form(email="bob@example.org"), email_id="em-bob")
    _legacy_ledger(dynamodb, table, key(4), "em-bob")
    _webhook(dynamodb, table, "msg_b", "em-bob")

    status, out, _ = run(capsys, "erase", "--email", "ADA@example.org")
    assert status == 0
    assert out.splitlines()[-1] == "erased 9 item(s) of A***@e***.org"
    assert "erased archived submission archive#0000000000000002" in out
    assert "erased delivery record delivery#em-ada-3" in out
    assert "erased webhook marker webhook#msg_a1" in out
    assert f"erased ledger record submission#{key(1)}" in out

    remaining = dynamodb.scan(TableName=table)["Items"]
    for item in remaining:
        strings = [s.lower() for s in _strings(item)]
        assert not any("ada@example.org" in s for s in strings), item
        assert not any(s in ("em-ada-1", "em-ada-3") or s.endswith(("em-ada-1", "em-ada-3")) for s in strings), item
    assert sorted(item["pk"]["S"] for item in remaining) == sorted(
        ["archive#0000000000000004", f"submission#{key(4)}", "delivery#em-bob", "webhook#msg_b"]
    )

    status, out, _ = run(capsys, "erase", "--email", "ada@example.org")
    assert (status, out) == (0, "nothing stored for a***@e***.org: nothing to erase\n")


def test_erase_json_lists_what_went(table: str, dynamodb: Any, capsys: Any) -> None:
    """--json names the erased keys by kind."""
    seed(dynamodb, table, 1, RecordState.SPAM)
    status, out, _ = run(capsys, "erase", "--email", "ada@example.org", "--json")
    assert status == 0
    assert json.loads(out) == {
        "archive": ["archive#0000000000000001"],
        "ledger": [],
        "deliveries": [],
        "webhookMarkers": [],
    }


@pytest.mark.parametrize(
    "bad", ["ada", "ada@", "@example.org", "ada example.org", "a@b@c.org", "", "ada@example.org\n"]
)
def test_erase_a_malformed_address_is_a_usage_error(table: str, bad: str, capsys: Any) -> None:
    """Not an address: exit 2, nothing touched."""
    status, _, err = run(capsys, "erase", "--email", bad)
    assert status == 2
    assert "is not an email address" in err
