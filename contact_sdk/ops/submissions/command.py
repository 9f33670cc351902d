"""``contact-sdk submissions``: review, export, release and erase the archived submissions.

Usage::

    contact-sdk submissions list [--state spam] [--since 7d] [--until 1d] [--json] [--reveal]
    contact-sdk submissions show 3f9a0c1b2d4e5f60 [--json] [--reveal]
    contact-sdk submissions export --format csv|jsonl [--since 2026-11-01] [--until 2026-12-01] [--reveal] [--output F]
    contact-sdk submissions release 3f9a0c1b2d4e5f60
    contact-sdk submissions erase --email ada@example.org

Reads the submission records the service keeps in its DynamoDB table (``--table``, else ``CONTACT_TABLE_NAME``);
see ``docs/records.md``. Names, addresses, subjects and messages are masked unless ``--reveal``.
``list`` and ``export`` read only the time range asked for (the table's ``archive-by-state`` index) and
write each submission as it arrives, so memory stays flat however many there are; ``erase`` reads only
that address's records (``archive-by-email``).
``release`` sends a submission judged spam, or a parked one, through the service's one delivery path,
recomposed with today's Resend config from Parameter Store (``--config-parameter``, else
``CONTACT_CONFIG_PARAMETER``) under a key derived from its first.

Exit status: 0 done, 1 not found, refused, or AWS/Resend failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from contact_sdk.addresses import InvalidAddressError, normalize_address
from contact_sdk.dynamo import EMAIL_INDEX, TIME_INDEX
from contact_sdk.errors import ConfigurationError, ProviderError
from contact_sdk.ops.files import FileArgumentError, replaced_on_success, writable_output
from contact_sdk.ops.outbox.queue import mask_email
from contact_sdk.ops.sending import add_sending_arguments, operator_delivery
from contact_sdk.ops.submissions import records
from contact_sdk.settings import ENVIRONMENT_VARIABLES

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


__all__ = ["register"]


def dynamodb_client(region: str | None) -> DynamoDBClient:
    """The operator's DynamoDB client: generous timeouts, a few retries (a person is waiting, not a visitor)."""
    import boto3  # noqa: PLC0415 - only the command that runs pays for boto3
    from botocore.config import Config  # noqa: PLC0415

    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("dynamodb", region_name=region, config=config)


def _dynamodb(args: argparse.Namespace) -> DynamoDBClient:
    return dynamodb_client(args.region)


def _submission_id(value: str) -> str:
    try:
        return records.normalise_id(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _since(value: str) -> float:
    try:
        return records.parse_since(value, now=time.time())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _until(value: str) -> float:
    try:
        return records.parse_until(value, now=time.time())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bad_range(args: argparse.Namespace) -> bool:
    """Say so on stderr when ``--since`` is not before ``--until``."""
    if args.since is not None and args.until is not None and args.since >= args.until:
        sys.stderr.write(f"error: --since ({_when(args.since)} UTC) must be before --until ({_when(args.until)} UTC)\n")
        return True
    return False


def _found(args: argparse.Namespace, *, newest_first: bool) -> Iterator[records.ArchivedSubmission]:
    return records.iter_submissions(
        _dynamodb(args),
        args.table,
        now=time.time(),
        state=args.state,
        since=args.since,
        until=args.until,
        newest_first=newest_first,
    )


def _address(value: str) -> str:
    # The one address rule, so the lookup key is spelled the way the form stored it (domain lower-cased, IDN in ASCII).
    try:
        return normalize_address(value)
    except InvalidAddressError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an email address (expected name@example.org): {exc}"
        ) from None


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def _list(args: argparse.Namespace) -> int:
    if _bad_range(args):
        return 2
    found = _found(args, newest_first=True)
    if args.json:
        records.write_json_array((s.to_json(reveal=args.reveal) for s in found), sys.stdout)
        return 0
    count = 0
    for s in found:
        if not count:
            sys.stdout.write(
                f"{'id':<16}  {'state':<10}  {'received (UTC)':<19}  {'source':<22}  {'from':<28}  reasons\n"
            )
        sender = s.email if args.reveal else mask_email(s.email)
        sys.stdout.write(
            f"{s.submission_id:<16}  {s.state:<10}  {_when(s.received_at):<19}  {s.source:<22}  "
            f"{sender:<28}  {', '.join(s.reasons)}\n"
        )
        count += 1
    if not count:
        sys.stderr.write("no archived submissions match\n")
        return 0
    sys.stdout.write(f"{count} submission(s)\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    submission = records.find_submission(_dynamodb(args), args.table, args.id, now=time.time())
    if submission is None:
        sys.stderr.write(f"error: no submission {args.id} in the archive (unknown, expired or erased)\n")
        return 1
    if args.json:
        _print_json(submission.to_json(reveal=args.reveal, history=True))
        return 0
    document = submission.to_json(reveal=args.reveal)
    for label, value in document.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        if label == "message" and args.reveal:
            sys.stdout.write("message:\n  " + str(shown).replace("\n", "\n  ") + "\n")
            continue
        sys.stdout.write(f"{label}: {'' if shown is None else shown}\n")
    sys.stdout.write("history:\n")
    for entry in submission.history:
        extra = ", ".join(entry.reasons) or entry.detail or ""
        sys.stdout.write(f"  {_when(entry.at)}  {entry.state:<10}  {extra}\n")
    return 0


def _export(args: argparse.Namespace) -> int:
    output = None if args.output is None else writable_output(args.output)  # before the query: exit 2 if unusable
    if _bad_range(args):
        return 2
    render = records.write_csv if args.format == "csv" else records.write_jsonl
    found = _found(args, newest_first=False)  # oldest first: the order a spreadsheet reader expects
    if output is None:
        count = render(found, sys.stdout, reveal=args.reveal)
    else:
        with replaced_on_success(output) as stream:
            count = render(found, stream, reveal=args.reveal)
    sys.stderr.write(f"exported {count} submission(s) as {args.format}\n")
    return 0


def _release(args: argparse.Namespace) -> int:
    dynamodb = _dynamodb(args)
    delivery, close = operator_delivery(args, dynamodb)
    try:
        result = records.release_submission(dynamodb, args.table, args.id, delivery=delivery, now=time.time())
    except records.ReleaseRefused as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except ConfigurationError as exc:
        sys.stderr.write(f"error: the Resend config could not be read: {exc}\n")
        return 1
    except ProviderError as exc:
        sys.stderr.write(f"error: Resend did not take the email ({type(exc).__name__}: {exc}); nothing recorded\n")
        return 1
    finally:
        close()
    sys.stdout.write(f"released {result.submission_id}: sent as email {result.email_id}\n")
    _count_release(args)
    return 0


def _count_release(args: argparse.Namespace) -> None:
    """Put one ``SubmissionsReleased`` on the dashboard's metric; a failure is a warning, the release stands."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from contact_sdk.metrics import METRICS, NAMESPACE, Metric  # noqa: PLC0415

    definition = METRICS[Metric.SUBMISSIONS_RELEASED]
    # One try (total_max_attempts; botocore reads max_attempts as retries): a retried put whose first answer was
    # lost would count the release twice.
    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 1})
    try:
        boto3.client("cloudwatch", region_name=args.region, config=config).put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": definition.metric.value,
                    "Dimensions": [{"Name": "Environment", "Value": args.environment}],
                    "Value": 1.0,
                    "Unit": definition.unit,  # type: ignore[typeddict-item]
                }
            ],
        )
    except (ClientError, BotoCoreError) as exc:
        sys.stderr.write(
            f"warning: the release is recorded, but {definition.metric.value} was not counted on the dashboard: {exc}\n"
        )


def _erase(args: argparse.Namespace) -> int:
    report = records.erase_address(_dynamodb(args), args.table, args.email)
    if args.json:
        _print_json(
            {
                "archive": list(report.archive),
                "ledger": list(report.ledger),
                "deliveries": list(report.deliveries),
                "webhookMarkers": list(report.webhook_markers),
            }
        )
        return 0
    if not report.total:
        sys.stdout.write(f"nothing stored for {mask_email(args.email)}: nothing to erase\n")
        return 0
    for kind, keys in (
        ("archived submission", report.archive),
        ("ledger record", report.ledger),
        ("delivery record", report.deliveries),
        ("webhook marker", report.webhook_markers),
    ):
        for key in keys:
            sys.stdout.write(f"erased {kind} {key}\n")
    sys.stdout.write(f"erased {report.total} item(s) of {mask_email(args.email)}\n")
    return 0


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Check ``--table``; AWS failures become one line on stderr and exit status 1, a bad ``--output`` exit 2."""

    def run(args: argparse.Namespace) -> int:
        if not args.table:
            sys.stderr.write("error: give --table or set CONTACT_TABLE_NAME\n")
            return 2
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - see _dynamodb

        try:
            return int(command(args))
        except FileArgumentError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return exc.exit_status
        except ClientError as exc:
            error = exc.response.get("Error", {})
            sys.stderr.write(f"error: AWS refused: {error.get('Code', 'unknown')}: {error.get('Message', '')}\n")
            if any(index in str(error.get("Message", "")) for index in (EMAIL_INDEX, TIME_INDEX)):
                sys.stderr.write(
                    f"the table needs its two indexes ({EMAIL_INDEX}, {TIME_INDEX}): see docs/deploy.md, "
                    "'Upgrading a stack deployed before the archive indexes'\n"
                )
            return 1
        except records.ArchiveUnreadable as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
        except BotoCoreError as exc:
            sys.stderr.write(f"error: could not reach AWS: {exc}\n")
            return 1

    return run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``submissions`` command group to the CLI."""
    group = subparsers.add_parser("submissions", help="review, export, release and erase archived submissions")
    commands = group.add_subparsers(dest="command", metavar="<command>")
    commands.required = True

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--table", default=os.environ.get("CONTACT_TABLE_NAME"), help="DynamoDB table name")
    common.add_argument("--region", help="AWS region (default: the AWS CLI's configuration)")
    shown = argparse.ArgumentParser(add_help=False)
    shown.add_argument("--reveal", action="store_true", help="show names, addresses and messages (masked otherwise)")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--state", choices=records.STATES, help="only submissions in this state")
    filters.add_argument("--since", type=_since, help="only those received since: 24h, 7d, 2w or an ISO date/time")
    filters.add_argument(
        "--until", type=_until, help="only those received before (not at): 24h, 7d, 2w ago or an ISO date/time"
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of a table")

    listing = commands.add_parser(
        "list", parents=[common, shown, filters, as_json], help="archived submissions, newest first"
    )
    listing.set_defaults(handler=_guarded(_list))

    show = commands.add_parser("show", parents=[common, shown, as_json], help="one submission with its history")
    show.add_argument("id", type=_submission_id, help="the submission id (16 hex characters)")
    show.set_defaults(handler=_guarded(_show))

    export = commands.add_parser(
        "export", parents=[common, shown, filters], help="every matching submission as CSV or JSON Lines"
    )
    export.add_argument("--format", choices=("csv", "jsonl"), required=True)
    export.add_argument("--output", help="write to this file (default: standard output)")
    export.set_defaults(handler=_guarded(_export))

    release = commands.add_parser("release", parents=[common], help="send a submission judged spam, once")
    release.add_argument("id", type=_submission_id, help="the submission id (16 hex characters)")
    add_sending_arguments(release)
    environment = ENVIRONMENT_VARIABLES["environment"]
    release.add_argument(
        "--environment",
        default=os.environ.get(environment.name) or environment.default,
        help=f"the Environment dimension of the SubmissionsReleased metric (default: {environment.name} or "
        f"{environment.default})",
    )
    release.set_defaults(handler=_guarded(_release))

    erase = commands.add_parser(
        "erase", parents=[common, as_json], help="delete everything stored about one address (idempotent)"
    )
    erase.add_argument("--email", required=True, type=_address, help="the visitor's address")
    erase.set_defaults(handler=_guarded(_erase))
