"""``contact-sdk outbox``: look at the durable outbox and its dead-letter queue, and redrive.

Usage::

    contact-sdk outbox stats --queue-url "$OUTBOX_URL" --dlq-url "$OUTBOX_DLQ_URL"
    contact-sdk outbox peek --queue-url "$OUTBOX_DLQ_URL" --max 20
    contact-sdk outbox redrive --from "$OUTBOX_DLQ_URL" --to "$OUTBOX_URL" --max 50 --dry-run
    contact-sdk outbox redrive --from "$OUTBOX_DLQ_URL" --to "$OUTBOX_URL" --max 50
    contact-sdk outbox parked --queue-url "$OUTBOX_DLQ_URL"          # permanently refused, with reasons
    contact-sdk outbox redrive --from "$OUTBOX_DLQ_URL" --to "$OUTBOX_URL" --parked-only
    contact-sdk outbox redrive --from "$OUTBOX_DLQ_URL" --to "$OUTBOX_URL" --json   # for scripts

``peek`` never prints a message's text or the sender's full address. ``redrive`` sends a copy to
the outbox queue and then deletes the original, at most ``--max`` messages per run; a replayed
submission keeps its idempotency key, so it can never become a second email.

Exit status: 0 done, 1 AWS refused or could not be reached, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from contact_sdk.ops.outbox import queue
from contact_sdk.ops.sending import add_sending_arguments

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["register"]

#: The most messages one peek or redrive handles (SQS hands out 10 per receive).
MAX_MESSAGES = 1000


def _sqs(args: argparse.Namespace) -> SQSClient:
    import boto3  # noqa: PLC0415 - only the command that runs pays for boto3
    from botocore.config import Config  # noqa: PLC0415

    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("sqs", region_name=args.region, config=config)


def _queue_url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("https://", "http://")) or value.count("/") < 4:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a queue URL (expected https://sqs.<region>.amazonaws.com/<account>/<queue>)"
        )
    return value


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if not 1 <= number <= MAX_MESSAGES:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_MESSAGES}, got {number}")
    return number


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def _stats(args: argparse.Namespace) -> int:
    sqs = _sqs(args)
    depths = [queue.queue_depth(sqs, args.queue_url)]
    if args.dlq_url:
        depths.append(queue.queue_depth(sqs, args.dlq_url))
    if args.json:
        _print_json(
            [{"queueUrl": d.url, "visible": d.visible, "inFlight": d.in_flight, "delayed": d.delayed} for d in depths]
        )
        return 0
    for label, depth in zip(("outbox", "dead-letter"), depths, strict=False):
        sys.stdout.write(
            f"{label}: {depth.total} message(s) — {depth.visible} visible, {depth.in_flight} in flight, "
            f"{depth.delayed} delayed ({depth.url})\n"
        )
    if args.dlq_url and depths[1].total:
        sys.stdout.write("dead-letter queue is not empty: inspect with `contact-sdk outbox peek`, then redrive\n")
    return 0


def _peek(args: argparse.Namespace) -> int:
    parked_only = bool(getattr(args, "parked_only", False))
    messages = queue.peek(_sqs(args), args.queue_url, max_messages=args.max, parked_only=parked_only)
    if args.json:
        _print_json([m.to_json() for m in messages])
        return 0
    if not messages:
        sys.stdout.write("no parked submissions\n" if parked_only else "no visible messages\n")
        return 0
    for m in messages:
        if m.unreadable is not None:
            sys.stdout.write(f"{m.message_id}  receives={m.receive_count}  UNREADABLE: {m.unreadable}\n")
            continue
        parked = f"  PARKED: {m.parked_reason}" if m.parked_reason is not None else ""
        sys.stdout.write(
            f"{m.message_id}  receives={m.receive_count}  queued_at={m.queued_at}  request_id={m.request_id}  "
            f"reason={m.reason}  sender={m.sender}  key={m.idempotency_key}{parked}\n"
        )
    sys.stdout.write(f"{len(messages)} message(s) shown and left on the queue\n")
    return 0


def _redrive(args: argparse.Namespace) -> int:
    if args.source == args.target:
        sys.stderr.write("error: --from and --to are the same queue\n")
        return 2
    if args.recompose and not args.table:
        sys.stderr.write("error: --recompose needs the submissions' table: --table or CONTACT_TABLE_NAME\n")
        return 2
    recomposed: list[dict[str, str]] = []

    def note_recomposed(identifier: str, key: str) -> None:
        # Said as it happens: a later failure stops the run, and these have already moved.
        if args.json:
            recomposed.append({"submissionId": identifier, "idempotencyKey": key})
        else:
            sys.stdout.write(f"recomposed {identifier} under {key}\n")

    if not args.recompose or args.dry_run:
        result = queue.redrive(
            _sqs(args),
            source=args.source,
            target=args.target,
            max_messages=args.max,
            dry_run=args.dry_run,
            parked_only=args.parked_only,
        )
    else:
        from contact_sdk.errors import ConfigurationError  # noqa: PLC0415
        from contact_sdk.outbox import OutboxUnavailable  # noqa: PLC0415

        def stopped(error: str) -> int:
            sys.stderr.write(f"error: {error}\n")
            if args.json:
                _print_json({"recomposed": recomposed, "error": error})
            return 1

        try:
            result = _redrive_recomposed(args, note_recomposed)
        except ConfigurationError as exc:
            return stopped(f"the Resend config could not be read: {exc}; nothing moved after that")
        except OutboxUnavailable as exc:
            return stopped(f"{exc}; the message stays on {args.source}")
    if args.json:
        _print_json(
            {
                "dryRun": result.dry_run,
                "moved": result.moved,
                "left": [{"messageId": message_id, "reason": reason} for message_id, reason in result.skipped],
                "recomposed": recomposed,
            }
        )
        return 0
    verb = "would move" if result.dry_run else "moved"
    for message_id in result.moved:
        sys.stdout.write(f"{verb} {message_id}\n")
    for message_id, reason in result.skipped:
        sys.stdout.write(f"left {message_id} ({reason})\n")
    sys.stdout.write(f"{verb} {len(result.moved)} message(s); left {len(result.skipped)}\n")
    return 0


def _redrive_recomposed(args: argparse.Namespace, recomposed: Callable[[str, str], None]) -> queue.RedriveResult:
    """``--recompose``: each message's submission composed again from today's config, under a derived key; each
    one is reported to ``recomposed`` (its submission id and new key) as it is queued."""
    import time  # noqa: PLC0415

    from contact_sdk.ops.sending import operator_delivery  # noqa: PLC0415 - only --recompose sends
    from contact_sdk.ops.submissions import records  # noqa: PLC0415
    from contact_sdk.ops.submissions.command import dynamodb_client  # noqa: PLC0415
    from contact_sdk.record import submission_id  # noqa: PLC0415

    dynamodb = dynamodb_client(args.region)
    delivery, close = operator_delivery(args, dynamodb, outbox_url=args.target)

    def requeue(message: queue.PeekedMessage) -> str | None:
        if message.idempotency_key is None:
            return "no idempotency key to find its record by"
        identifier = submission_id(message.idempotency_key)
        try:
            _, key = records.requeue_submission(dynamodb, args.table, identifier, delivery=delivery, now=time.time())
        except records.RequeueRefused as exc:
            return str(exc)
        recomposed(identifier, key)
        return None

    try:
        return queue.redrive(
            _sqs(args),
            source=args.source,
            target=args.target,
            max_messages=args.max,
            parked_only=args.parked_only,
            requeue=requeue,
        )
    finally:
        close()


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``command``; AWS failures become one line on stderr and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - see _sqs

        try:
            return int(command(args))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            sys.stderr.write(f"error: SQS refused: {error.get('Code', 'unknown')}: {error.get('Message', '')}\n")
            return 1
        except BotoCoreError as exc:
            sys.stderr.write(f"error: could not reach SQS: {exc}\n")
            return 1

    return run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``outbox`` command group to the CLI."""
    group = subparsers.add_parser("outbox", help="inspect the durable outbox and its dead-letter queue, and redrive")
    commands = group.add_subparsers(dest="command", metavar="<command>")
    commands.required = True

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="AWS region (default: the AWS CLI's configuration)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    stats = commands.add_parser("stats", parents=[common], help="message counts of the outbox and dead-letter queue")
    stats.add_argument("--queue-url", required=True, type=_queue_url, help="the outbox queue")
    stats.add_argument("--dlq-url", type=_queue_url, help="its dead-letter queue")
    stats.set_defaults(handler=_guarded(_stats))

    peek = commands.add_parser(
        "peek", parents=[common], help="show messages (request id, when, why, key; sender masked) and leave them"
    )
    peek.add_argument("--queue-url", required=True, type=_queue_url, help="usually the dead-letter queue")
    peek.add_argument("--max", type=_count, default=10, help="most messages to show (default 10)")
    peek.set_defaults(handler=_guarded(_peek))

    parked = commands.add_parser(
        "parked",
        parents=[common],
        help="list submissions the provider refused for good, with the reason (parked on the dead-letter queue)",
    )
    parked.add_argument("--queue-url", required=True, type=_queue_url, help="the dead-letter queue")
    parked.add_argument("--max", type=_count, default=10, help="most messages to look at (default 10)")
    parked.set_defaults(handler=_guarded(_peek), parked_only=True)

    redrive = commands.add_parser(
        "redrive", parents=[common], help="move messages from the dead-letter queue back to the outbox"
    )
    redrive.add_argument("--from", dest="source", required=True, type=_queue_url, help="the dead-letter queue")
    redrive.add_argument("--to", dest="target", required=True, type=_queue_url, help="the outbox queue")
    redrive.add_argument("--max", type=_count, default=10, help="most messages to move (default 10)")
    redrive.add_argument("--dry-run", action="store_true", help="only say what would move")
    redrive.add_argument(
        "--parked-only", action="store_true", help="move only parked submissions (after fixing their cause)"
    )
    redrive.add_argument(
        "--recompose",
        action="store_true",
        help="compose each email again from today's Resend config, under a key derived from its first "
        "(after fixing fromEmail or the domain); needs the table",
    )
    redrive.add_argument(
        "--table", default=os.environ.get("CONTACT_TABLE_NAME"), help="with --recompose: the submissions' table"
    )
    add_sending_arguments(redrive)
    redrive.set_defaults(handler=_guarded(_redrive))
