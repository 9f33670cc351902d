"""``contact-sdk outbox`` against moto: depths, a masked peek that leaves messages in place, bounded redrive."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from contact_sdk.models import parse_submission
from contact_sdk.ops.cli import main
from contact_sdk.ops.outbox.queue import mask_email
from contact_sdk.outbox import QueuedEmail, read_message
from tests.conftest import aws_client, create_outbox_queues
from tests.queued import queued_email

pytestmark = pytest.mark.integration

MESSAGE_TEXT = "Please call me back about the analytical engine."


@pytest.fixture
def queues(aws: str) -> dict[str, str]:
    """An outbox queue and its dead-letter queue in moto."""
    return create_outbox_queues(aws, max_receive_count=3)


def queued(number: int) -> QueuedEmail:
    """A queued email as the service writes it."""
    submission, errors = parse_submission(
        {"name": "Ada Lovelace", "email": f"ada{number}@example.org", "message": MESSAGE_TEXT, "consent": True}
    )
    assert submission is not None, errors
    return queued_email(
        submission,
        now=time.time(),
        reason="CircuitOpenError",
        idempotency_key=f"contact-{number:064d}",
        request_id=f"req-{number}",
    )


def put(aws: str, queue_url: str, *items: QueuedEmail | str) -> None:
    """Send messages the way the outbox does (the key as a message attribute too)."""
    sqs = aws_client(aws, "sqs")
    for item in items:
        if isinstance(item, str):
            sqs.send_message(QueueUrl=queue_url, MessageBody=item)
            continue
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=item.to_json(),
            MessageAttributes={"idempotencyKey": {"DataType": "String", "StringValue": item.idempotency_key}},
        )


def depth(aws: str, queue_url: str) -> tuple[int, int]:
    """(visible, in flight)."""
    attributes = aws_client(aws, "sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI; (exit status, stdout, stderr). argparse's own exits are caught."""
    try:
        status = main(["outbox", *argv])
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def test_stats_prints_the_depth_of_both_queues(aws: str, queues: dict[str, str], capsys: Any) -> None:
    """Counts for the outbox and the dead-letter queue, and a hint when the DLQ is not empty."""
    put(aws, queues["url"], queued(1), queued(2))
    put(aws, queues["dlq"], queued(3))
    status, out, _ = run(capsys, "stats", "--queue-url", queues["url"], "--dlq-url", queues["dlq"])
    assert status == 0
    assert "outbox: 2 message(s) — 2 visible" in out
    assert "dead-letter: 1 message(s)" in out
    assert "contact-sdk outbox peek" in out
    status, out, _ = run(capsys, "stats", "--queue-url", queues["url"], "--json")
    assert status == 0
    assert json.loads(out) == [{"queueUrl": queues["url"], "visible": 2, "inFlight": 0, "delayed": 0}]


def test_peek_shows_what_an_operator_needs_and_never_the_text(aws: str, queues: dict[str, str], capsys: Any) -> None:
    """Request id, queued_at, reason and key; the sender masked; no message text; messages left visible."""
    put(aws, queues["dlq"], queued(1), queued(2), "{not ours")
    status, out, _ = run(capsys, "peek", "--queue-url", queues["dlq"])
    assert status == 0
    assert "request_id=req-1" in out and "request_id=req-2" in out
    assert "reason=CircuitOpenError" in out
    assert f"key=contact-{1:064d}" in out
    assert "queued_at=20" in out
    assert "sender=a***@e***.org" in out
    assert "UNREADABLE" in out
    assert MESSAGE_TEXT not in out
    assert "ada1@example.org" not in out
    assert depth(aws, queues["dlq"]) == (3, 0)  # visible again at once


def test_peek_is_bounded_by_max(aws: str, queues: dict[str, str], capsys: Any) -> None:
    """``--max`` limits how many messages are shown."""
    put(aws, queues["dlq"], *(queued(n) for n in range(15)))
    status, out, _ = run(capsys, "peek", "--queue-url", queues["dlq"], "--max", "12", "--json")
    assert status == 0
    shown = json.loads(out)
    assert len(shown) == 12
    assert all(item["sender"].endswith("@e***.org") for item in shown)
    assert depth(aws, queues["dlq"]) == (15, 0)


def test_redrive_moves_a_bounded_number_and_keeps_the_key(aws: str, queues: dict[str, str], capsys: Any) -> None:
    """Send to the outbox, then delete from the DLQ; at most ``--max``; body and key attribute unchanged."""
    originals = [queued(n) for n in range(4)]
    put(aws, queues["dlq"], *originals)
    status, out, _ = run(capsys, "redrive", "--from", queues["dlq"], "--to", queues["url"], "--max", "3")
    assert status == 0
    assert "moved 3 message(s)" in out
    assert depth(aws, queues["dlq"]) == (1, 0)
    sqs = aws_client(aws, "sqs")
    moved = sqs.receive_message(QueueUrl=queues["url"], MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert len(moved) == 3
    by_key = {q.idempotency_key: q for q in originals}
    for message in moved:
        body = read_message(message["Body"])
        assert body == by_key[body.idempotency_key]
        assert message["MessageAttributes"]["idempotencyKey"]["StringValue"] == body.idempotency_key


def test_redrive_dry_run_moves_nothing(aws: str, queues: dict[str, str], capsys: Any) -> None:
    """``--dry-run`` lists what would move and leaves both queues as they were."""
    put(aws, queues["dlq"], queued(1), queued(2))
    status, out, _ = run(capsys, "redrive", "--from", queues["dlq"], "--to", queues["url"], "--dry-run")
    assert status == 0
    assert "would move 2 message(s)" in out
    assert depth(aws, queues["dlq"]) == (2, 0)
    assert depth(aws, queues["url"]) == (0, 0)


def test_redrive_leaves_messages_that_are_not_submissions(aws: str, queues: dict[str, str], capsys: Any) -> None:
    """A corrupted message would only fail again: it stays in the DLQ and is reported."""
    put(aws, queues["dlq"], "{not ours", queued(1))
    status, out, _ = run(capsys, "redrive", "--from", queues["dlq"], "--to", queues["url"])
    assert status == 0
    assert "moved 1 message(s); left 1" in out
    assert "not a queued submission" in out
    assert depth(aws, queues["dlq"]) == (1, 0)
    assert depth(aws, queues["url"]) == (1, 0)


def put_parked(aws: str, queue_url: str, item: QueuedEmail, reason: str) -> None:
    """A submission the consumer parked: the message as queued, with the ``parkedReason`` attribute."""
    aws_client(aws, "sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=item.to_json(),
        MessageAttributes={
            "idempotencyKey": {"DataType": "String", "StringValue": item.idempotency_key},
            "parkedReason": {"DataType": "String", "StringValue": reason},
        },
    )


def test_redrive_parked_only_moves_the_parked_and_leaves_the_rest(
    aws: str, queues: dict[str, str], capsys: Any
) -> None:
    """``--parked-only`` after fixing what the provider refused: the parked submission goes back to the outbox;
    one dead-lettered for another reason (it ran out of receives) stays, reported ``not parked``."""
    put_parked(aws, queues["dlq"], queued(1), "ProviderRequestError 422 validation_error: bad from")
    put(aws, queues["dlq"], queued(2))
    status, out, _ = run(capsys, "redrive", "--from", queues["dlq"], "--to", queues["url"], "--parked-only")
    assert status == 0
    assert "moved 1 message(s); left 1" in out
    assert "(not parked)" in out
    sqs = aws_client(aws, "sqs")
    [moved] = sqs.receive_message(QueueUrl=queues["url"], MaxNumberOfMessages=10)["Messages"]
    assert read_message(moved["Body"]).idempotency_key == f"contact-{1:064d}"
    [left] = sqs.receive_message(QueueUrl=queues["dlq"], MaxNumberOfMessages=10)["Messages"]
    assert read_message(left["Body"]).idempotency_key == f"contact-{2:064d}"


def test_parked_lists_only_the_parked_with_their_reason_as_json_up_to_max(
    aws: str, queues: dict[str, str], capsys: Any
) -> None:
    """Twelve parked submissions and one dead-lettered for running out of receives: ``parked --max 13 --json``
    looks at all thirteen and lists the twelve, each with why the provider refused it (the default ``--max`` of
    ten could not), and not the other; all stay on the queue."""
    for n in range(12):
        put_parked(aws, queues["dlq"], queued(n), f"ProviderRequestError 422 validation_error: refusal {n}")
    put(aws, queues["dlq"], queued(99))
    status, out, _ = run(capsys, "parked", "--queue-url", queues["dlq"], "--max", "13", "--json")
    assert status == 0
    listed = json.loads(out)
    assert sorted(item["parkedReason"] for item in listed) == sorted(
        f"ProviderRequestError 422 validation_error: refusal {n}" for n in range(12)
    )
    assert depth(aws, queues["dlq"]) == (13, 0)


def test_redrive_json_says_what_moved_and_what_stayed_and_why(aws: str, queues: dict[str, str], capsys: Any) -> None:
    """``--json`` for scripts: one object with the moved message ids, the ones left with their reason and whether
    it was a dry run; nothing else on standard output. The dry run's figures match what the real run then does."""
    put(aws, queues["dlq"], "{not ours", queued(1), queued(2))
    sqs = aws_client(aws, "sqs")
    received = sqs.receive_message(QueueUrl=queues["dlq"], MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    unreadable = next(m["MessageId"] for m in received if m["Body"] == "{not ours")
    submissions = sorted(m["MessageId"] for m in received if m["Body"] != "{not ours")
    argv = ("redrive", "--from", queues["dlq"], "--to", queues["url"], "--json")
    for dry_run in (True, False):
        status, out, err = run(capsys, *argv, *(("--dry-run",) if dry_run else ()))
        assert (status, err) == (0, "")
        answer = json.loads(out)
        assert answer["dryRun"] is dry_run
        assert sorted(answer["moved"]) == submissions
        [left] = answer["left"]
        assert left["messageId"] == unreadable
        assert left["reason"].startswith("not a queued submission")
        assert answer["recomposed"] == []
    assert depth(aws, queues["url"]) == (2, 0)
    assert depth(aws, queues["dlq"]) == (1, 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stats"], "--queue-url"),
        (["stats", "--queue-url", "not-a-url"], "is not a queue URL"),
        (["peek", "--queue-url", "https://sqs.eu-west-1.amazonaws.com/1/q", "--max", "0"], "between 1 and 1000"),
        (["peek", "--queue-url", "https://sqs.eu-west-1.amazonaws.com/1/q", "--max", "ten"], "whole number"),
        (["redrive", "--from", "https://sqs.eu-west-1.amazonaws.com/1/q"], "--to"),
        (
            [
                "redrive",
                "--from",
                "https://sqs.eu-west-1.amazonaws.com/1/q",
                "--to",
                "https://sqs.eu-west-1.amazonaws.com/1/q",
            ],
            "the same queue",
        ),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(argv: list[str], message: str, capsys: Any) -> None:
    """Usage mistakes: exit status 2 and a message saying what is wrong."""
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert message in err


def test_aws_errors_exit_1(aws: str, queues: dict[str, str], capsys: Any) -> None:
    """A queue that does not exist: exit status 1 and SQS's reason on stderr, no traceback."""
    missing = queues["url"].rsplit("/", 1)[0] + "/no-such-queue"
    status, _, err = run(capsys, "stats", "--queue-url", missing)
    assert status == 1
    assert err.startswith("error: SQS refused:")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("address", "masked"),
    [("ada@example.org", "a***@e***.org"), ("x@localhost", "x***@l***"), ("broken", "***")],
)
def test_mask_email(address: str, masked: str) -> None:
    """Enough of an address to recognise it, not enough to read it."""
    assert mask_email(address) == masked
