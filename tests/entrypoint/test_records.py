"""The submission record through ``lambda_handler``: every state a submission reaches is in the table, once.

The oracle is the raw table, read with boto3, and what the Resend sandbox received; never the record's
own reader.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

import handler
from contact_sdk.devtools.local.event_source import sqs_event
from tests.conftest import aws_client, create_outbox_queues
from tests.entrypoint.conftest import FakeLambdaContext, Stack, submission
from tests.entrypoint.test_webhooks import SECRET, WEBHOOK_PARAMETER, delivery, signed_event

pytestmark = pytest.mark.integration

DAY = 86400


def archive_items(stack: Stack) -> list[dict[str, Any]]:
    """Every item whose key starts with ``archive#``, read straight from the table."""
    items = aws_client(stack.aws, "dynamodb").scan(TableName=stack.table)["Items"]
    return [item for item in items if item["pk"]["S"].startswith("archive#")]


def only_archive_item(stack: Stack) -> dict[str, Any]:
    """The one archive item there must be."""
    [item] = archive_items(stack)
    return item


def history_states(item: dict[str, Any]) -> list[str]:
    """The states of the item's history, oldest first."""
    return [entry["M"]["state"]["S"] for entry in item["history"]["L"]]


def test_a_sent_submission_is_archived_with_its_email_id_and_30_days(stack: Stack) -> None:
    """State sent, the provider's email id and the key it received, the request id, the IPv4 source, 30 days."""
    before = time.time()
    response = stack.submit(submission(), source_ip="198.51.100.23")
    assert response["statusCode"] == 200
    [email] = stack.sandbox.emails()
    item = only_archive_item(stack)
    key = email["headers"]["idempotency-key"]
    assert item["pk"]["S"] == "archive#" + key.removeprefix("contact-")[:16]
    assert item["state"]["S"] == "sent"
    assert item["emailId"]["S"] == email["id"]
    assert item["idempotencyKey"]["S"] == key
    assert item["requestId"]["S"] == json.loads(response["body"])["requestId"]
    assert item["source"]["S"] == "198.51.100.23"
    assert item["email"]["S"] == "ada@example.org"
    assert item["subject"]["S"] == "Analytical engine"
    assert history_states(item) == ["received", "sent"]
    expires = int(item["expiresAt"]["N"])
    assert before + 30 * DAY <= expires <= time.time() + 30 * DAY + 1


def test_spam_is_archived_with_its_reasons_for_7_days_and_an_ipv6_source_as_its_64(stack: Stack) -> None:
    """The honeypot filled: answered sent, nothing emailed, archived as spam with the reason and a /64."""
    before = time.time()
    response = stack.submit(submission(website="http://spam.example"), source_ip="2001:db8:aa:bb:1:2:3:4")
    assert json.loads(response["body"])["status"] == "sent"
    assert stack.sandbox.emails() == []
    item = only_archive_item(stack)
    assert item["state"]["S"] == "spam"
    assert [r["S"] for r in item["reasons"]["L"]] == ["honeypot_filled"]
    assert item["source"]["S"] == "2001:db8:aa:bb::/64"
    assert "emailId" not in item
    expires = int(item["expiresAt"]["N"])
    assert before + 7 * DAY <= expires <= time.time() + 7 * DAY + 1


def test_the_source_keeps_no_more_of_an_ipv6_address_than_the_configured_limit_counts(
    make_stack: Callable[..., Stack],
) -> None:
    """With CONTACT_RATE_LIMIT_IPV6_PREFIX=48 the record keeps the sender's /48, not a /64 the limit never used."""
    stack = make_stack(rate_limit_ipv6_prefix=48)
    assert stack.submit(submission(), source_ip="2001:db8:aa:bb:1:2:3:4")["statusCode"] == 200
    assert only_archive_item(stack)["source"]["S"] == "2001:db8:aa::/48"
    # An IPv4 sender is kept as its address, whatever the IPv6 prefix.
    stack.submit(submission(message="A second message, from an IPv4 address."), source_ip="198.51.100.23")
    assert sorted(item["source"]["S"] for item in archive_items(stack)) == ["198.51.100.23", "2001:db8:aa::/48"]


def test_retention_follows_the_two_settings(make_stack: Callable[..., Stack]) -> None:
    """CONTACT_ARCHIVE_DAYS=90 and CONTACT_ARCHIVE_SPAM_DAYS=2 set the TTL of sent and spam items."""
    stack = make_stack(archive_days=90, archive_spam_days=2)
    before = time.time()
    stack.submit(submission())
    stack.submit(submission(message="Another one, judged spam by the honeypot.", website="x"))
    expiry = {item["state"]["S"]: int(item["expiresAt"]["N"]) for item in archive_items(stack)}
    assert before + 90 * DAY <= expiry["sent"] <= time.time() + 90 * DAY + 1
    assert before + 2 * DAY <= expiry["spam"] <= time.time() + 2 * DAY + 1


def test_a_double_click_is_one_record(stack: Stack) -> None:
    """The same submission twice within the day: one email, one record, its history one cycle long."""
    first, second = stack.submit(submission()), stack.submit(submission())
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert len(stack.sandbox.emails()) == 1
    assert history_states(only_archive_item(stack)) == ["received", "sent"]
    assert stack_lines(stack, "request handled")[-1]["outcome"] == "duplicate_sent"


def test_a_spam_copy_of_a_delivered_submission_leaves_it_delivered(stack: Stack) -> None:
    """Sent, then the same text again with the honeypot filled: answered like sent, the record stays sent (30 days),
    its history unchanged: spam never overwrites what was delivered."""
    stack.submit(submission())
    before = only_archive_item(stack)
    response = stack.submit(submission(website="http://spam.example"))
    assert json.loads(response["body"])["status"] == "sent"
    after = only_archive_item(stack)
    assert (after["state"]["S"], after["expiresAt"], history_states(after)) == (
        "sent",
        before["expiresAt"],
        ["received", "sent"],
    )
    assert len(stack.sandbox.emails()) == 1


def test_a_record_that_cannot_be_written_still_sends_and_is_counted(make_stack: Callable[..., Stack]) -> None:
    """The service's table is gone: the visitor still gets 200 sent, the email goes out, ArchiveWriteFailed = 1."""
    stack = make_stack(table_name="no-such-table")
    response = stack.submit(submission())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "sent"
    assert len(stack.sandbox.emails()) == 1
    assert stack.sink.totals()["ArchiveWriteFailed"] == 1
    gaps = stack_lines(stack, "the submission's record could not be written; it goes ahead without it")
    assert gaps and "no-such-table" in gaps[0]["error"]
    assert stack_lines(stack, "request handled")[-1]["record_gap"] == "received"
    assert archive_items(stack) == []


def test_without_a_table_records_are_kept_in_the_instance_and_it_says_so(
    make_stack: Callable[..., Stack], monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No CONTACT_TABLE_NAME: one warning at build time, and a double click is still one email in this instance."""
    monkeypatch.delenv("CONTACT_TABLE_NAME")
    with caplog.at_level(logging.WARNING, logger="contact-form"):
        stack = make_stack()
    warnings = [r for r in caplog.records if "submissions are recorded in this instance only" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert stack.submit(submission())["statusCode"] == 200
    assert stack.submit(submission())["statusCode"] == 200
    assert len(stack.sandbox.emails()) == 1
    assert stack_lines(stack, "request handled")[-1]["outcome"] == "duplicate_sent"


def stack_lines(stack: Stack, message: str) -> list[dict[str, Any]]:
    """The captured log lines with this message."""
    return [line for line in stack.log_lines() if line.get("message") == message]


def test_queued_then_delivered_by_the_outbox_consumer(make_stack: Callable[..., Stack], aws: str) -> None:
    """Provider down: archived queued with the reason; the consumer's delivery moves it to sent with an email id."""
    queues = create_outbox_queues(aws, max_receive_count=3)
    stack = make_stack(outbox_queue_url=queues["url"])
    handler.environment.use_components(stack.components)
    stack.sandbox.script(["500", "500", "500", "500"])
    assert stack.submit(submission())["statusCode"] == 202
    item = only_archive_item(stack)
    assert item["state"]["S"] == "queued"
    # Three 500s used the 4 s response budget (waits of 1 and 2 s); the next wait did not fit.
    assert [r["S"] for r in item["reasons"]["L"]] == ["ProviderDeferredError"]
    sqs = aws_client(aws, "sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queues["url"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    result = handler.outbox_handler(
        sqs_event(sqs, queues["url"], queue_arn=arn, region="eu-west-1"), FakeLambdaContext()
    )
    assert result == {"batchItemFailures": []}
    [email] = stack.sandbox.emails()
    item = only_archive_item(stack)
    assert item["state"]["S"] == "sent"
    assert item["emailId"]["S"] == email["id"]
    assert "reasons" not in item
    assert history_states(item) == ["received", "queued", "sent"]


def test_a_permanent_refusal_is_archived_as_parked_with_its_reason(make_stack: Callable[..., Stack], aws: str) -> None:
    """A 422 on the request path: parked on the DLQ and archived ``parked`` with the refusal as its reason."""
    queues = create_outbox_queues(aws, max_receive_count=3)
    stack = make_stack(outbox_queue_url=queues["url"], parked_queue_url=queues["dlq"])
    handler.environment.use_components(stack.components)
    stack.sandbox.script(["422"])
    response = stack.submit(submission())
    assert response["statusCode"] == 202
    assert json.loads(response["body"])["status"] == "queued"
    item = only_archive_item(stack)
    assert item["state"]["S"] == "parked"
    [reason] = [r["S"] for r in item["reasons"]["L"]]
    assert "422 validation_error" in reason
    parked = aws_client(aws, "sqs").receive_message(QueueUrl=queues["dlq"], MessageAttributeNames=["All"])
    assert len(parked["Messages"]) == 1  # the record's word agrees with the parking lot's
    kept = json.loads(item["payload"]["S"])  # the record keeps the email itself, beyond the queue's 14 days
    assert kept["email"] == json.loads(parked["Messages"][0]["Body"])["email"]
    assert kept["key"] == item["idempotencyKey"]["S"]
    assert int(item["expiresAt"]["N"]) >= time.time() + 30 * DAY - 5
    assert stack.sandbox.emails() == []


def test_a_queued_submission_refused_by_the_provider_later_is_archived_parked(
    make_stack: Callable[..., Stack], aws: str
) -> None:
    """Queued by a 500 storm, then refused for good when the consumer tries: its archive record moves to parked."""
    queues = create_outbox_queues(aws, max_receive_count=3)
    stack = make_stack(outbox_queue_url=queues["url"], parked_queue_url=queues["dlq"])
    handler.environment.use_components(stack.components)
    stack.sandbox.script(["500", "500", "500", "422"])
    assert stack.submit(submission())["statusCode"] == 202
    assert only_archive_item(stack)["state"]["S"] == "queued"
    sqs = aws_client(aws, "sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queues["url"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    result = handler.outbox_handler(
        sqs_event(sqs, queues["url"], queue_arn=arn, region="eu-west-1"), FakeLambdaContext()
    )
    assert result == {"batchItemFailures": []}  # parked, so the message leaves the outbox
    item = only_archive_item(stack)
    assert item["state"]["S"] == "parked"
    assert history_states(item) == ["received", "queued", "parked"]
    assert stack.sandbox.emails() == []


def test_a_delivery_webhook_for_the_email_shows_in_the_archive(stack: Stack, capsys: Any) -> None:
    """The webhook about the sent email's id is what `submissions show` reports as the state."""
    from contact_sdk.ops.cli import main

    stack.put_parameter(WEBHOOK_PARAMETER, SECRET)
    stack.submit(submission())
    [email] = stack.sandbox.emails()
    for later, event_type, expected in ((5, "email.delivered", "delivered"), (10, "email.bounced", "bounced")):
        body = json.loads(delivery(event_type, email_id=str(email["id"])))
        body["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + later))
        assert stack.call(signed_event(json.dumps(body).encode()))["statusCode"] == 200
        identifier = only_archive_item(stack)["submissionId"]["S"]
        assert main(["submissions", "show", identifier, "--table", stack.table, "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["state"] == expected
        assert shown["history"][-1]["state"] == expected


def test_dynamodb_unreachable_the_visitor_is_answered_and_the_gap_counted(
    make_stack: Callable[..., Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens where DynamoDB should be: guards fall back, the email goes out, ArchiveWriteFailed = 1."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    stack = make_stack()
    response = stack.submit(submission())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "sent"
    assert len(stack.sandbox.emails()) == 1
    assert stack.sink.totals()["ArchiveWriteFailed"] == 1
