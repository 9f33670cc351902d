"""``--region`` on each command group that asks AWS, against moto on loopback.

The emulator keeps each region's resources apart, as AWS does: a table, queue or parameter made in us-west-2 is
not found from eu-west-1 (the region the test environment's shell has). So each command is run twice against a
resource made in us-west-2: without ``--region`` it must fail to find it (proof the resource is really elsewhere),
with ``--region us-west-2`` it must succeed (proof the option reached the client that looked).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from contact_sdk.devtools.tables import create_table
from contact_sdk.ops.cli import main

pytestmark = pytest.mark.integration

OTHER = "us-west-2"
TABLE = "contact-elsewhere"
PARAMETER = "/portfolio/elsewhere/resend/api-key"
DOCUMENT = {
    "apiKey": "re_live_0123456789abcdefWXYZ",
    "domain": "example.com",
    "fromEmail": "no-reply@example.com",
    "toEmail": "owner@example.org",
    "version": 1,
    "rotatedAt": "2026-12-01T10:00:00Z",
}


def elsewhere(aws: str, service: str) -> Any:
    """A client of the emulator in the other region."""
    return boto3.client(service, endpoint_url=aws, region_name=OTHER)  # type: ignore[call-overload]


def a_table(aws: str) -> list[str]:
    create_table(elsewhere(aws, "dynamodb"), TABLE)
    return ["--table", TABLE]


def a_queue(aws: str) -> list[str]:
    return ["--queue-url", elsewhere(aws, "sqs").create_queue(QueueName="outbox-elsewhere")["QueueUrl"]]


def a_parameter(aws: str) -> list[str]:
    key = elsewhere(aws, "kms").create_key()["KeyMetadata"]["KeyId"]
    elsewhere(aws, "ssm").put_parameter(Name=PARAMETER, Value=json.dumps(DOCUMENT), Type="SecureString", KeyId=key)
    return ["--parameter", PARAMETER]


#: What each command says when the resource is not in the region it asked (moto's words, as AWS's).
NOT_FOUND = ("does not exist", "NonExistentQueue", "ResourceNotFoundException")


@pytest.mark.parametrize(
    "case",
    [
        (["config", "show"], a_parameter, 0),
        (["outbox", "stats"], a_queue, 0),
        (["breaker", "show"], a_table, 0),
        (["submissions", "list"], a_table, 0),
        (["status"], a_table, 1),  # the table is found, and empty: "no delivery events recorded", exit 1
    ],
    ids=["config show", "outbox stats", "breaker show", "submissions list", "status"],
)
def test_the_region_option_is_where_the_command_looks(
    aws: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[list[str], Callable[[str], list[str]], int],
) -> None:
    """Without the option: exit 1, one line saying the resource was not found, no traceback. With it: found."""
    command, resource, found = case
    monkeypatch.delenv("CONTACT_TABLE_NAME", raising=False)
    where = resource(aws)
    assert main([*command, *where]) == 1
    missed = capsys.readouterr().err
    assert len(missed.splitlines()) == 1 and any(words in missed for words in NOT_FOUND), missed
    assert main([*command, *where, "--region", OTHER]) == found
    answered = capsys.readouterr().err
    assert not any(words in answered for words in NOT_FOUND), answered
