"""``contact-sdk status``: what became of recently sent emails, from Resend's delivery webhooks.

Usage::

    contact-sdk status --table contact-prod                 # the 20 most recently updated emails
    contact-sdk status --table contact-prod --email-id 4ef9a417-...   # every event of one email
    contact-sdk status --table contact-prod --format json

Reads the delivery records the webhook route (``POST /contact/events``) keeps through its store
(:mod:`contact_sdk.webhooks.store`) in the service's DynamoDB table (``CONTACT_TABLE_NAME`` when
``--table`` is omitted). Exit status: 0 found, 1 nothing found or
DynamoDB refused, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from contact_sdk.webhooks.store import DeliveryStatus, DynamoDBWebhookStore, WebhookStoreUnavailableError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``status`` command."""
    parser = subparsers.add_parser("status", help="delivery status of recent emails (from Resend webhooks)")
    parser.add_argument("--table", default=os.environ.get("CONTACT_TABLE_NAME"), help="DynamoDB table name")
    parser.add_argument("--email-id", help="show every event of this provider email id")
    parser.add_argument("--limit", type=int, default=20, help="how many recent emails (1-500, default 20)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
    parser.set_defaults(handler=run)


def _as_json(status: DeliveryStatus) -> dict[str, Any]:
    return {
        "emailId": status.email_id,
        "status": status.last_status,
        "updatedAt": status.updated_at,
        "events": [
            {"type": e.type, "createdAt": e.created_at.isoformat(), "detail": e.detail, "svixId": e.svix_id}
            for e in status.events
        ],
    }


def _table(statuses: list[DeliveryStatus], *, detailed: bool) -> str:
    lines = [f"{'email id':<38} {'status':<24} {'last event (UTC)':<20} detail"]
    for status in statuses:
        events = status.events if detailed else (status.last_event,)
        for event in events:
            when = event.created_at.strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{status.email_id:<38} {event.type:<24} {when:<20} {event.detail or ''}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the statuses; see the module docstring for exit statuses."""
    if not args.table:
        print("contact-sdk status: give --table or set CONTACT_TABLE_NAME", file=sys.stderr)
        return 2
    if not 1 <= args.limit <= 500:
        print("contact-sdk status: --limit must be between 1 and 500", file=sys.stderr)
        return 2
    import boto3  # noqa: PLC0415 - only this command needs it

    store = DynamoDBWebhookStore(boto3.client("dynamodb", region_name=args.region), args.table)
    now = time.time()
    try:
        if args.email_id:
            found = store.status(args.email_id, now=now)
            statuses = [found] if found is not None else []
        else:
            statuses = store.recent(now=now, limit=args.limit)
    except WebhookStoreUnavailableError as exc:
        print(f"contact-sdk status: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps([_as_json(s) for s in statuses], indent=2))
    elif statuses:
        print(_table(statuses, detailed=bool(args.email_id)))
    if not statuses:
        what = f"email {args.email_id}" if args.email_id else "any email"
        print(f"no delivery events recorded for {what} (events are kept 30 days)", file=sys.stderr)
        return 1
    return 0
