"""Permanent refusals are parked on the dead-letter queue with their reason, not retried; an operator redrives them.

Real pieces throughout: the sandbox refuses, moto's SQS holds the outbox and its dead-letter queue,
and the operator commands run against the same queues. What the queues hold is read with boto3.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from contact_sdk.devtools.fakes import InMemoryParkingLot
from contact_sdk.models import ContactSubmission
from contact_sdk.ops.cli import main as cli_main
from contact_sdk.ops.outbox import queue
from contact_sdk.outbox import read_message
from contact_sdk.parking import PARKED_REASON_ATTRIBUTE
from tests.conftest import aws_client
from tests.entrypoint.conftest import CONFIG_PARAMETER, resend_config, submission
from tests.faults.conftest import FaultStack, account, sqs_event
from tests.queued import queued_email

pytestmark = pytest.mark.integration


def dead_letters(stack: FaultStack) -> list[dict[str, Any]]:
    """Every message on the dead-letter queue with its attributes, made visible again afterwards."""
    sqs = aws_client(stack.aws, "sqs")
    messages = sqs.receive_message(
        QueueUrl=stack.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
    ).get("Messages", [])
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=stack.dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return messages


def email_requests(stack: FaultStack) -> list[dict[str, Any]]:
    """The sandbox's log of ``POST /emails`` requests."""
    return [r for r in stack.sandbox.requests() if r["path"] == "/emails"]


@pytest.fixture
def parking_stack(build_stack: Callable[..., FaultStack], fault_queues: dict[str, str]) -> FaultStack:
    """The fault stack with the dead-letter queue as its parking lot, as the CDK stack deploys it."""
    return build_stack(settings={"parked_queue_url": fault_queues["dlq"]})


@pytest.mark.parametrize(
    ("step", "status", "name"),
    [("422:invalid_from_address", "422", "invalid_from_address"), ("400:validation_error", "400", "validation_error")],
)
def test_a_permanent_refusal_is_parked_with_its_reason_and_answered_queued(
    parking_stack: FaultStack, step: str, status: str, name: str
) -> None:
    """One attempt, no retry, no wait; 202 queued; the DLQ holds it with the reason; EmailsFailed and an ERROR line."""
    stack = parking_stack
    stack.sandbox.script([step])
    response = stack.submit(submission(message="Please keep this message safe while parked."))
    assert response["statusCode"] == 202
    assert json.loads(response["body"])["status"] == "queued"
    assert len(email_requests(stack)) == 1
    assert stack.sleeps == []
    [parked] = dead_letters(stack)
    reason = parked["MessageAttributes"][PARKED_REASON_ATTRIBUTE]["StringValue"]
    assert reason.startswith(f"ProviderRequestError {status} {name}:")
    body = json.loads(parked["Body"])
    assert "Please keep this message safe while parked." in body["email"]["text"]  # the email itself is kept
    assert body["reason"] == reason
    assert sqs_event(stack.aws, stack.queue_url)["Records"] == []  # not in the outbox: nothing will retry it
    totals = stack.sink.totals()
    assert totals["EmailsFailed"] == 1
    assert "EmailsQueued" not in totals
    assert "ProviderRetries" not in totals
    [error] = [line for line in stack.log_lines() if line["level"] == "ERROR"]
    assert error["message"].startswith("submission parked")
    assert error["parked_reason"] == reason
    assert stack.summary()["outcome"] == "parked"
    assert stack.components.client.breaker.fail_counter == 0


def test_a_refused_key_is_parked_after_the_one_config_refresh(parking_stack: FaultStack) -> None:
    """403 invalid_api_key twice (before and after re-reading Parameter Store): parked, the breaker untouched."""
    stack = parking_stack
    stack.sandbox.script(["403:invalid_api_key"])
    stack.components.client.breaker.record(stack.components.client.breaker.admit(), _server_error())
    response = stack.submit(submission())
    assert response["statusCode"] == 202
    assert len(email_requests(stack)) == 1  # the refreshed config holds the same key: no second try
    [parked] = dead_letters(stack)
    assert "403 invalid_api_key" in parked["MessageAttributes"][PARKED_REASON_ATTRIBUTE]["StringValue"]
    assert stack.components.client.breaker.fail_counter == 1  # neither counted nor reset


def _server_error() -> Exception:
    from contact_sdk.errors import ProviderServerError

    return ProviderServerError("boom", status=500)


def test_the_consumer_parks_a_queued_submission_the_provider_now_refuses(parking_stack: FaultStack) -> None:
    """Queued during an outage, refused with 422 on replay: parked, deleted from the outbox, not retried."""
    stack = parking_stack
    stack.sandbox.script(["503", "503", "503"])
    assert stack.submit(submission())["statusCode"] == 202
    assert dead_letters(stack) == []
    stack.sandbox.script(["422:invalid_parameter"])
    assert stack.drain() == [{"batchItemFailures": []}]
    assert sqs_event(stack.aws, stack.queue_url)["Records"] == []
    [parked] = dead_letters(stack)
    assert "422 invalid_parameter" in parked["MessageAttributes"][PARKED_REASON_ATTRIBUTE]["StringValue"]
    assert len(email_requests(stack)) == 4  # three in the request's budget, one replay, no retry of the 422
    assert stack.sandbox.emails() == []


def test_without_a_parking_lot_the_refusal_waits_in_the_outbox(build_stack: Callable[..., FaultStack]) -> None:
    """No CONTACT_PARKED_QUEUE_URL: the submission is still kept (the outbox), still 202, the ERROR line says why."""
    stack = build_stack()
    stack.sandbox.script(["422:validation_error"])
    response = stack.submit(submission())
    assert response["statusCode"] == 202
    [queued] = stack.queued_messages()
    assert queued.reason.startswith("ProviderRequestError 422 validation_error")
    assert dead_letters(stack) == []
    [error] = [line for line in stack.log_lines() if line["level"] == "ERROR"]
    assert error["message"].startswith("provider refused the submission permanently and it could not be parked")
    assert "CONTACT_PARKED_QUEUE_URL" in error["parking_problem"]
    assert stack.sink.totals()["EmailsFailed"] == 1
    # The consumer meets the same refusal: with nowhere to park it, the message stays (hidden) in the outbox.
    stack.sandbox.script(["422:validation_error"])
    event = sqs_event(stack.aws, stack.queue_url)
    result = stack.drain_once(event)
    assert len(result["batchItemFailures"]) == 1
    assert stack.sink.totals()["EmailsFailed"] == 2  # once per refusal, not twice for one
    stack.make_visible(event)
    assert len(stack.queued_messages()) == 1


def test_operators_list_parked_submissions_and_redrive_them_once_fixed(
    parking_stack: FaultStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """``outbox parked`` shows reason and masked sender; ``redrive --parked-only`` moves them back; one email."""
    stack = parking_stack
    stack.sandbox.script(["422:invalid_from_address"])
    assert stack.submit(submission(email="grace.hopper@example.net"))["statusCode"] == 202
    sqs = aws_client(stack.aws, "sqs")
    sqs.send_message(QueueUrl=stack.dlq_url, MessageBody="not a submission")  # dead-lettered, not parked

    assert cli_main(["outbox", "parked", "--queue-url", stack.dlq_url]) == 0
    listing = capsys.readouterr().out
    assert "PARKED: ProviderRequestError 422 invalid_from_address" in listing
    assert "g***@e***.net" in listing
    assert "grace.hopper" not in listing
    assert "not a submission" not in listing
    assert "1 message(s) shown" in listing

    [described] = queue.peek(sqs, stack.dlq_url, parked_only=True)
    assert described.parked_reason is not None

    # The operator fixes the sender domain; the provider accepts again.
    stack.sandbox.clear_faults()
    args = ["outbox", "redrive", "--from", stack.dlq_url, "--to", stack.queue_url, "--parked-only"]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "moved 1 message(s); left 1" in out
    event = sqs_event(stack.aws, stack.queue_url)
    [record] = event["Records"]
    assert read_message(record["body"]).visitor == "grace.hopper@example.net"
    stack.make_visible(event)
    assert stack.drain() == [{"batchItemFailures": []}]
    [email] = stack.sandbox.emails()
    assert email["body"]["reply_to"] == ["grace.hopper@example.net"]  # type: ignore[index]
    [left] = dead_letters(stack)
    assert left["Body"] == "not a submission"


def test_an_unreachable_parking_lot_falls_back_to_the_outbox(build_stack: Callable[..., FaultStack]) -> None:
    """The parking lot refuses: the refusal still ends in the outbox (202), with the lot's error in the ERROR line."""
    lot = InMemoryParkingLot()
    lot.fail = True
    stack = build_stack(parking=lot)
    stack.sandbox.script(["422:invalid_from_address"])
    assert stack.submit(submission())["statusCode"] == 202
    assert lot.parked == []
    [queued] = stack.queued_messages()
    assert "422 invalid_from_address" in queued.reason
    [error] = [line for line in stack.log_lines() if line["level"] == "ERROR"]
    assert "unavailable" in error["parking_problem"]


def test_parking_and_outbox_both_down_is_503_and_nothing_accepted(parking_stack: FaultStack) -> None:
    """SQS unreachable (the DLQ and the outbox alike): 503 with Retry-After, the full submission logged once."""
    stack = parking_stack
    stack.sandbox.script(["422:invalid_from_address"])
    token = stack.token()
    assert stack.sqs is not None
    stack.sqs.down = True
    response = stack.submit(submission(message="Keep me in the log, please."), token=token)
    assert response["statusCode"] == 503
    assert int(response["headers"]["Retry-After"]) > 0
    [kept] = [line for line in stack.log_lines() if line["level"] == "ERROR" and "submission" in line]
    assert "Keep me in the log, please." in kept["submission"]
    assert stack.sink.totals()["EmailsFailed"] == 1
    stack.sqs.down = False
    assert dead_letters(stack) == []


def test_the_in_memory_lot_keeps_what_it_parks() -> None:
    """The local stack's lot keeps the submission with its reason, in order."""
    lot = InMemoryParkingLot()
    first = queued_email(
        ContactSubmission.model_validate(
            {"name": "Ada", "email": "ada@example.org", "message": "Hello there, engine fan.", "consent": True}
        ),
        now=0.0,
    )
    lot.park(first, reason="ProviderRequestError 422 validation_error: bad")
    assert lot.parked == [(first, "ProviderRequestError 422 validation_error: bad")]


def test_an_unreadable_outbox_message_is_parked_as_it_came(
    parking_stack: FaultStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a submission at all: parked at once with the parse error (not left to 450 receives); never redriven."""
    stack = parking_stack
    sqs = aws_client(stack.aws, "sqs")
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody="{not ours")
    assert stack.drain() == [{"batchItemFailures": []}]
    assert sqs_event(stack.aws, stack.queue_url)["Records"] == []
    [parked] = dead_letters(stack)
    assert parked["Body"] == "{not ours"
    assert parked["MessageAttributes"][PARKED_REASON_ATTRIBUTE]["StringValue"].startswith("unreadable: ")
    assert cli_main(["outbox", "parked", "--queue-url", stack.dlq_url]) == 0
    assert "UNREADABLE" in capsys.readouterr().out
    args = ["outbox", "redrive", "--from", stack.dlq_url, "--to", stack.queue_url, "--parked-only"]
    assert cli_main(args) == 0
    assert "moved 0 message(s); left 1" in capsys.readouterr().out


def test_an_unreachable_lot_leaves_an_unreadable_message_to_sqs(build_stack: Callable[..., FaultStack]) -> None:
    """The lot refuses the unreadable message too: it is reported failed, for SQS's maxReceiveCount to handle."""
    lot = InMemoryParkingLot()
    lot.fail = True
    stack = build_stack(parking=lot)
    aws_client(stack.aws, "sqs").send_message(QueueUrl=stack.queue_url, MessageBody="[1, 2]")
    [result] = stack.drain(rounds=1)
    assert len(result["batchItemFailures"]) == 1
    assert lot.unreadable == []
    lot.fail = False
    lot.park_unreadable("[1, 2]", reason="unreadable: test")
    assert lot.unreadable == [("[1, 2]", "unreadable: test")]


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_recomposed_redrive_sends_the_fixed_email_once_under_a_derived_key(
    parking_stack: FaultStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, output: str
) -> None:
    """Parked for its sender; the operator fixes fromEmail and runs ``redrive --recompose``: one email, from the
    new sender, under ``<key>.r1``; the record notes both keys; the old message, put back, sends nothing. The
    operator's shell has none of the function's variables: the table, the config parameter and Resend's URL
    come from the options alone, and ``--archive-days 3`` is how long the requeued record is kept. With ``--json``
    the same is said in one object."""
    stack = parking_stack
    stack.sandbox.script(["422:invalid_from_address"])
    assert stack.submit(submission(email="grace.hopper@example.net"))["statusCode"] == 202
    [parked] = dead_letters(stack)
    first_key = read_message(parked["Body"]).idempotency_key
    identifier = first_key.removeprefix("contact-")[:16]
    assert account(stack, {first_key}, label="parked, before the recomposed redrive").parked == 1

    fixed = json.loads(resend_config())
    fixed["fromEmail"] = "verified@example.com"
    aws_client(stack.aws, "ssm").put_parameter(
        Name=CONFIG_PARAMETER, Value=json.dumps(fixed), Type="SecureString", Overwrite=True
    )
    stack.sandbox.clear_faults()
    args = ["outbox", "redrive", "--from", stack.dlq_url, "--to", stack.queue_url, "--recompose"]
    args += ["--table", stack.table, "--config-parameter", CONFIG_PARAMETER, "--resend-api-url", stack.sandbox.url]
    args += ["--archive-days", "3", *(["--json"] if output == "json" else [])]
    capsys.readouterr()  # what the accounting above printed
    before = time.time()
    with monkeypatch.context() as shell:
        for name in ("CONTACT_TABLE_NAME", "CONTACT_CONFIG_PARAMETER", "RESEND_API_URL"):
            shell.delenv(name)
        assert cli_main(args) == 0
    out = capsys.readouterr().out
    if output == "json":
        answer = json.loads(out)
        assert answer["recomposed"] == [{"submissionId": identifier, "idempotencyKey": f"{first_key}.r1"}]
        assert (len(answer["moved"]), answer["left"], answer["dryRun"]) == (1, [], False)
    else:
        assert f"recomposed {identifier} under {first_key}.r1\n" in out
        assert "moved 1 message(s); left 0" in out
    assert dead_letters(stack) == []
    requeued = aws_client(stack.aws, "dynamodb").get_item(
        TableName=stack.table, Key={"pk": {"S": f"archive#{identifier}"}}
    )["Item"]
    # --archive-days 3: the record, queued again by the operator, is kept three days from now (not the default 30).
    assert before + 3 * 86400 - 1 <= float(requeued["expiresAt"]["N"]) <= time.time() + 3 * 86400 + 1

    # A copy under the first key is still around (say, a plain redrive an operator ran from an old listing).
    aws_client(stack.aws, "sqs").send_message(QueueUrl=stack.queue_url, MessageBody=parked["Body"])
    stack.drain()
    [email] = stack.sandbox.emails()
    assert email["body"]["from"] == "Contact Form <verified@example.com>"  # type: ignore[index]
    assert email["body"]["reply_to"] == ["grace.hopper@example.net"]  # type: ignore[index]
    assert email["headers"]["idempotency-key"] == first_key + ".r1"  # type: ignore[index]
    keys_sent = [r["idempotency_key"] for r in email_requests(stack)]
    assert first_key not in keys_sent[1:], keys_sent  # only the refused first attempt went under the first key
    item = aws_client(stack.aws, "dynamodb").get_item(
        TableName=stack.table, Key={"pk": {"S": f"archive#{identifier}"}}
    )["Item"]
    assert item["state"]["S"] == "sent"
    assert [entry["S"] for entry in item["keys"]["L"]] == [first_key, first_key + ".r1"]
    assert [h["M"]["state"]["S"] for h in item["history"]["L"]] == ["received", "parked", "queued", "sent"]
    assert account(stack, {first_key}, label="parked, then redriven recomposed").delivered == 1


def test_a_recomposed_redrive_leaves_what_it_cannot_redrive(
    parking_stack: FaultStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """A message whose record is gone, or whose submission was delivered, stays on the queue with the reason."""
    stack = parking_stack
    unknown = queued_email(
        ContactSubmission.model_validate(
            {"name": "Ada", "email": "ada@example.org", "message": "A message nobody recorded.", "consent": True}
        ),
        now=0.0,
        reason="ProviderRequestError",
        idempotency_key="contact-" + "e" * 64,
        request_id="req-unknown",
    )
    aws_client(stack.aws, "sqs").send_message(QueueUrl=stack.dlq_url, MessageBody=unknown.to_json())
    args = ["outbox", "redrive", "--from", stack.dlq_url, "--to", stack.queue_url, "--recompose"]
    args += ["--table", stack.table, "--config-parameter", CONFIG_PARAMETER, "--resend-api-url", stack.sandbox.url]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "(no record of submission eeeeeeeeeeeeeeee (expired or erased): redrive it without --recompose)" in out
    assert "moved 0 message(s); left 1" in out
    assert len(dead_letters(stack)) == 1
    assert stack.sandbox.emails() == []


def parked_for_its_sender(stack: FaultStack) -> int:
    """One submission refused for its sender and parked, the provider healthy again; the sends made so far."""
    stack.sandbox.script(["422:invalid_from_address"])
    assert stack.submit(submission())["statusCode"] == 202
    stack.sandbox.clear_faults()
    return len(email_requests(stack))


def stopped_redrive(capsys: pytest.CaptureFixture[str], args: list[str], output: str) -> str:
    """Run a redrive that must stop: exit 1, one error line on stderr (returned), no traceback; standard output
    empty, or with ``--json`` one object saying nothing was recomposed and the same error."""
    capsys.readouterr()
    assert cli_main([*args, *(["--json"] if output == "json" else [])]) == 1
    out, err = capsys.readouterr()
    [line] = err.splitlines()
    assert line.startswith("error: ") and "Traceback" not in err
    if output == "json":
        assert json.loads(out) == {"recomposed": [], "error": line.removeprefix("error: ")}
    else:
        assert out == ""
    return line


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_recomposed_redrive_whose_config_cannot_be_read_stops_and_moves_nothing(
    parking_stack: FaultStack, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    """``--config-parameter`` names a parameter that does not exist: exit 1 with one line saying so, no traceback,
    the parked message still on the dead-letter queue and nothing sent; with ``--json`` standard output says the
    same in one object (nothing recomposed, the error)."""
    stack = parking_stack
    sent_before = parked_for_its_sender(stack)
    args = ["outbox", "redrive", "--from", stack.dlq_url, "--to", stack.queue_url, "--recompose"]
    args += ["--table", stack.table, "--config-parameter", "/portfolio/test/resend/missing"]
    args += ["--resend-api-url", stack.sandbox.url]
    line = stopped_redrive(capsys, args, output)
    assert line.startswith("error: the Resend config could not be read: ")
    assert "/portfolio/test/resend/missing" in line and line.endswith("; nothing moved after that")
    assert len(dead_letters(stack)) == 1
    assert len(email_requests(stack)) == sent_before


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_recomposed_redrive_to_an_outbox_that_refuses_stops_and_keeps_the_message(
    parking_stack: FaultStack, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    """``--to`` names a queue SQS does not have: the recomposed email cannot be queued, so the run stops with one
    line naming the queue it stays on (exit 1, no traceback), the parked message is still there and nothing was
    sent; with ``--json`` the object says the same. Run again with the right outbox, it is sent, once."""
    stack = parking_stack
    sent_before = parked_for_its_sender(stack)
    missing = stack.queue_url.rsplit("/", 1)[0] + "/no-such-outbox"
    args = ["outbox", "redrive", "--from", stack.dlq_url, "--to", missing, "--recompose", "--table", stack.table]
    args += ["--config-parameter", CONFIG_PARAMETER, "--resend-api-url", stack.sandbox.url]
    line = stopped_redrive(capsys, args, output)
    assert line.endswith(f"; the message stays on {stack.dlq_url}")
    assert len(dead_letters(stack)) == 1
    assert len(email_requests(stack)) == sent_before

    args[args.index(missing)] = stack.queue_url
    assert cli_main(args) == 0
    assert dead_letters(stack) == []
    stack.drain()
    assert len(stack.sandbox.emails()) == 1


def test_recompose_without_a_table_is_refused_before_anything_moves(
    parking_stack: FaultStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``--table`` and no ``CONTACT_TABLE_NAME``: exit 2 with the reason, the queues untouched."""
    monkeypatch.delenv("CONTACT_TABLE_NAME", raising=False)
    stack = parking_stack
    stack.sandbox.script(["422:invalid_from_address"])
    assert stack.submit(submission())["statusCode"] == 202
    args = ["outbox", "redrive", "--from", stack.dlq_url, "--to", stack.queue_url, "--recompose"]
    assert cli_main(args) == 2
    assert "--recompose needs the submissions' table" in capsys.readouterr().err
    assert len(dead_letters(stack)) == 1
