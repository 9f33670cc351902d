"""``contact-sdk breaker``: the fleet-wide circuit breaker in front of Resend, shown or reset.

Usage::

    contact-sdk breaker show --table contact-prod            # state, failures, time to the next trial
    contact-sdk breaker show --table contact-prod --format json
    contact-sdk breaker reset --table contact-prod           # close it for every instance

Reads (and, for ``reset``, writes) the item ``breaker#resend`` the service keeps in its DynamoDB table
(``CONTACT_TABLE_NAME`` when ``--table`` is omitted; see ``docs/guarantees.md``, "The breaker across
the fleet"). Instances see a reset within about a second. Reset only once Resend is healthy again:
an open breaker half-opens on its own after 60 s. Exit status: 0 done, 1 DynamoDB refused or
unreachable, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from contact_sdk.breaker_store import OPEN, BreakerStoreUnavailable, DynamoDBBreakerStore, SharedBreakerState

__all__ = ["register"]

#: How long an opening lasts when the item does not say (an item written by hand).
DEFAULT_RESET_TIMEOUT_SECONDS = 60.0


def register(subparsers: Any) -> None:
    """Add the ``breaker`` command group."""
    parser = subparsers.add_parser("breaker", help="show or reset the fleet-wide circuit breaker in front of Resend")
    actions = parser.add_subparsers(dest="action", metavar="<action>")
    actions.required = True
    for name, help_text in (("show", "state, failures and time to the next trial"), ("reset", "close it")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--table", default=os.environ.get("CONTACT_TABLE_NAME"), help="DynamoDB table name")
        action.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
        if name == "show":
            action.add_argument("--format", choices=("text", "json"), default="text")
        action.set_defaults(handler=run)


def describe(state: SharedBreakerState, now: float) -> dict[str, Any]:
    """What an operator needs from the item, at ``now`` (epoch seconds)."""
    described: dict[str, Any] = {"state": "closed", "consecutiveFailures": state.failures, "openings": state.generation}
    if state.phase == OPEN:
        next_trial = state.opened_at + (state.reset_timeout or DEFAULT_RESET_TIMEOUT_SECONDS)
        described.update(
            state="half-open" if now >= next_trial else "open",
            openedAt=datetime.fromtimestamp(state.opened_at, UTC).isoformat(timespec="seconds"),
            secondsUntilTrial=round(max(0.0, next_trial - now), 1),
            successfulTrials=state.successes,
            trialInFlight=state.lease_token is not None and state.lease_until > now,
        )
    return described


def run(args: argparse.Namespace) -> int:
    """Show or reset the breaker; see the module docstring for exit statuses."""
    if not args.table:
        print(f"contact-sdk breaker {args.action}: give --table or set CONTACT_TABLE_NAME", file=sys.stderr)
        return 2
    import boto3  # noqa: PLC0415 - only this command needs it

    store = DynamoDBBreakerStore(boto3.client("dynamodb", region_name=args.region), args.table)
    now = time.time()
    try:
        if args.action == "reset":
            store.reset(now)
            print(f"breaker reset: closed with no failures in {args.table}; instances see it within about a second")
            return 0
        described = describe(store.read(), now)
    except BreakerStoreUnavailable as exc:
        print(f"contact-sdk breaker {args.action}: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(described, indent=2))
    else:
        print("\n".join(f"{key}: {value}" for key, value in described.items()))
    return 0
