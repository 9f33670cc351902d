"""The service's one delivery path, built for an operator's command (``submissions release``, ``outbox redrive``).

Both commands send (or queue) an email on the operator's machine exactly as the service does: the Resend
config read from Parameter Store, the runtime's :class:`~contact_sdk.resend.ResendClient`, the submission
records in the table and, for a redrive, the outbox queue. This module adds their shared arguments and
builds that :class:`~contact_sdk.delivery.Delivery`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from contact_sdk.record import DEFAULT_ARCHIVE_DAYS
from contact_sdk.settings import ENVIRONMENT_VARIABLES

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from contact_sdk.delivery import Delivery

__all__ = ["add_sending_arguments", "operator_delivery"]


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {value!r}") from None
    if days <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {days}")
    return days


def add_sending_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config-parameter``, ``--resend-api-url`` and ``--archive-days``, defaulting to the service's variables."""
    config = ENVIRONMENT_VARIABLES["config_parameter"]
    parser.add_argument(
        "--config-parameter",
        default=os.environ.get(config.name) or config.default,
        help=f"SSM name of the Resend config (default: {config.name} or {config.default})",
    )
    api = ENVIRONMENT_VARIABLES["resend_api_url"]
    parser.add_argument(
        "--resend-api-url",
        default=(os.environ.get(api.name) or api.default or "").rstrip("/"),
        help=f"Resend base URL (default: {api.name} or {api.default})",
    )
    parser.add_argument(
        "--archive-days",
        type=_days,
        default=os.environ.get("CONTACT_ARCHIVE_DAYS") or str(DEFAULT_ARCHIVE_DAYS),
        help="days a submission's record is kept after this change (default: CONTACT_ARCHIVE_DAYS or 30)",
    )


def operator_delivery(
    args: argparse.Namespace, dynamodb: DynamoDBClient, *, outbox_url: str | None = None
) -> tuple[Delivery, Callable[[], None]]:
    """The delivery path for ``args.table``, and the function that closes its connections.

    ``outbox_url``: where a redrive puts the recomposed message (``None``: nothing can be queued).
    """
    import boto3  # noqa: PLC0415 - only the command that runs pays for boto3

    from contact_sdk.config import ParameterCache, ServiceConfig, SsmParameterSource  # noqa: PLC0415
    from contact_sdk.delivery import Delivery  # noqa: PLC0415
    from contact_sdk.outbox import SqsOutbox  # noqa: PLC0415
    from contact_sdk.record import DynamoDBSubmissionRecords  # noqa: PLC0415
    from contact_sdk.resend import ResendClient  # noqa: PLC0415

    cache = ParameterCache(SsmParameterSource(boto3.client("ssm", region_name=args.region)), ttl_seconds=300)
    config = ServiceConfig(
        cache,
        config_parameter=args.config_parameter,
        csrf_secret_parameter=ENVIRONMENT_VARIABLES["csrf_secret_parameter"].default or "",
    )
    client = ResendClient(api_key=lambda: config.resend().api_key, base_url=args.resend_api_url)
    records = DynamoDBSubmissionRecords(dynamodb, args.table, days=args.archive_days)
    outbox = None
    if outbox_url is not None:
        outbox = SqsOutbox(outbox_url, client=boto3.client("sqs", region_name=args.region))
    delivery = Delivery(config=config, client=client, records=records, outbox=outbox, parking=None)
    return delivery, client.close
