"""``contact-sdk breaker`` against moto: the fleet breaker's item shown, and reset for every instance."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from contact_sdk.breaker import ProviderBreaker
from contact_sdk.breaker_store import DynamoDBBreakerStore
from contact_sdk.errors import ProviderServerError
from contact_sdk.ops.cli import main
from tests.conftest import aws_client

pytestmark = pytest.mark.integration


def opened_breaker(aws: str, table: str) -> ProviderBreaker:
    """A service instance's breaker over the table, opened by five 500s just now."""
    breaker = ProviderBreaker(store=DynamoDBBreakerStore(aws_client(aws, "dynamodb"), table))
    for _ in range(5):
        breaker.record(breaker.admit(), ProviderServerError("down", status=500))
    return breaker


def test_show_an_open_breaker_as_json(aws: str, contact_table: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Opened a moment ago: open, about 60 s to the trial, the opening's UTC time, one opening so far."""
    before = time.time()
    opened_breaker(aws, contact_table)
    assert main(["breaker", "show", "--table", contact_table, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["state"], shown["openings"], shown["consecutiveFailures"]) == ("open", 1, 0)
    assert 55 <= shown["secondsUntilTrial"] <= 60
    assert shown["trialInFlight"] is False
    opened_at = datetime.fromisoformat(shown["openedAt"]).timestamp()
    assert int(before) <= opened_at <= time.time()


def test_show_a_never_used_breaker_as_text(
    aws: str, contact_table: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No item yet reads as closed with no failures; the table comes from CONTACT_TABLE_NAME."""
    monkeypatch.setenv("CONTACT_TABLE_NAME", contact_table)
    assert main(["breaker", "show"]) == 0
    assert capsys.readouterr().out.splitlines() == ["state: closed", "consecutiveFailures: 0", "openings: 0"]


def test_reset_closes_it_for_the_instances(aws: str, contact_table: str, capsys: pytest.CaptureFixture[str]) -> None:
    """After a reset the item is closed with no failures and a fresh instance admits calls."""
    opened_breaker(aws, contact_table)
    assert main(["breaker", "reset", "--table", contact_table]) == 0
    assert "closed" in capsys.readouterr().out
    item = aws_client(aws, "dynamodb").get_item(TableName=contact_table, Key={"pk": {"S": "breaker#resend"}})["Item"]
    assert (item["phase"], item["failures"]) == ({"S": "closed"}, {"N": "0"})
    fresh = ProviderBreaker(store=DynamoDBBreakerStore(aws_client(aws, "dynamodb"), contact_table))
    assert fresh.admit().trial is False


def test_no_table_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Neither --table nor CONTACT_TABLE_NAME: exit 2 and say what to give."""
    monkeypatch.delenv("CONTACT_TABLE_NAME", raising=False)
    assert main(["breaker", "show"]) == 2
    assert "give --table or set CONTACT_TABLE_NAME" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["show", "reset"])
def test_a_missing_table_is_reported_not_raised(aws: str, action: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A table that does not exist: exit 1 with DynamoDB's error code, no traceback."""
    assert main(["breaker", action, "--table", "no-such-table"]) == 1
    assert "ResourceNotFoundException" in capsys.readouterr().err
