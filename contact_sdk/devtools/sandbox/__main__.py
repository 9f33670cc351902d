"""``resend-sandbox`` / ``python -m contact_sdk.devtools.sandbox``: run the Resend sandbox from a shell.

Usage::

    resend-sandbox --port 8025 --api-key re_test_key
    resend-sandbox --latency-ms 100-300 --failure-rate 0.05 --rate-limit 0 --strict
    resend-sandbox --domain example.com --domain news.example.org:verified
    resend-sandbox --idempotency-on-refusal record --require-verified-domain --domain example.com:verified
    resend-sandbox --step 500 --step 500 --step 200 --webhook-url http://127.0.0.1:3000/contact/events \\
        --webhook-secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw

Exit status: 0 after Ctrl-C or SIGTERM, 2 on a bad argument or a port already in use.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from contact_sdk.devtools.arguments import seconds
from contact_sdk.devtools.sandbox.api import IDEMPOTENCY_ON_REFUSAL
from contact_sdk.devtools.sandbox.domains import DOMAIN_STATUSES
from contact_sdk.devtools.sandbox.faults import FaultSpecError
from contact_sdk.devtools.sandbox.server import DEFAULT_API_KEY, ResendSandbox
from contact_sdk.devtools.sandbox.store import DEFAULT_RATE_LIMIT

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command line's argument parser."""
    parser = argparse.ArgumentParser(
        prog="resend-sandbox",
        description="A local Resend API that never sends mail: for tests, the local stack and load runs.",
    )
    listen = parser.add_argument_group("listening")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    listen.add_argument("--port", type=int, default=8025, help="port to bind, 0 for any (default: %(default)s)")
    listen.add_argument(
        "--allow-non-loopback", action="store_true", help="allow a non-loopback --host (the admin API has no auth)"
    )
    listen.add_argument(
        "--api-key",
        default=os.environ.get("RESEND_SANDBOX_API_KEY", DEFAULT_API_KEY),
        help="the API key it starts with, full access (default: $RESEND_SANDBOX_API_KEY or %(default)s)",
    )
    listen.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=DEFAULT_RATE_LIMIT,
        metavar="N",
        help="requests per second before 429, 0 for no limit (default: %(default)s, Resend's default)",
    )
    listen.add_argument(
        "--strict", action="store_true", help="refuse unknown top-level fields in send bodies (Resend ignores them)"
    )
    listen.add_argument(
        "--domain",
        action="append",
        default=[],
        type=_domain,
        metavar="NAME[:STATUS]",
        help="serve this domain on GET /domains (repeatable); STATUS: " + ", ".join(DOMAIN_STATUSES),
    )
    listen.add_argument(
        "--idempotency-on-refusal",
        choices=IDEMPOTENCY_ON_REFUSAL,
        default="release",
        help="what a refused send (422, or 403 unverified domain) does to its Idempotency-Key: release it, or "
        "record it with that payload and refusal for 24 h (default: %(default)s; Resend does not document it)",
    )
    listen.add_argument(
        "--require-verified-domain",
        action="store_true",
        help="refuse (403) a `from` whose domain is not a verified --domain, as Resend does",
    )
    listen.add_argument("--log-requests", action="store_true", help="print one access-log line per request")

    faults = parser.add_argument_group("faults (all can be changed at run time: POST /_sandbox/faults)")
    faults.add_argument("--latency-ms", metavar="MIN-MAX", help="added latency, uniform in [MIN, MAX] ms")
    faults.add_argument("--failure-rate", type=float, default=0.0, metavar="P", help="chance 0..1 of an error")
    faults.add_argument("--failure-status", type=int, default=500, help="status of those errors (default: 500)")
    faults.add_argument("--failure-name", default="internal_server_error", help="their `name` field")
    faults.add_argument(
        "--failure-body", choices=("json", "html", "empty", "reset"), default="json", help="their body kind"
    )
    faults.add_argument("--timeout-rate", type=float, default=0.0, metavar="P", help="chance 0..1 of a hang")
    faults.add_argument("--timeout-seconds", type=float, default=30.0, help="hang length (default: 30)")
    faults.add_argument("--timeout-accept", action="store_true", help="store the email before hanging")
    faults.add_argument(
        "--step",
        action="append",
        default=[],
        metavar="STEP",
        help="append one script step (repeatable): 500, 429:daily_quota_exceeded;retry-after=7, timeout, "
        "timeout-accept, 502-html, empty-500, reset, 200",
    )
    faults.add_argument("--outage-seconds", type=float, default=0.0, help="answer 503 to everything for this long")
    faults.add_argument("--seed", type=int, help="seed the chance of faults, for repeatable runs")

    hooks = parser.add_argument_group("delivery webhooks")
    hooks.add_argument("--webhook-url", help="POST signed email.* events here after accepting an email")
    hooks.add_argument(
        "--webhook-secret",
        default=os.environ.get("RESEND_SANDBOX_WEBHOOK_SECRET"),
        help="whsec_<base64> signing secret (default: $RESEND_SANDBOX_WEBHOOK_SECRET)",
    )
    hooks.add_argument(
        "--webhook-delay", type=seconds, default=0.2, help="seconds between events, 0 or more (default: 0.2)"
    )
    return parser


def _rate_limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of requests per second (0: no limit)")
    return value


def _domain(text: str) -> tuple[str, str]:
    name, _, status = text.partition(":")
    status = status or "not_started"
    if status not in DOMAIN_STATUSES:
        raise argparse.ArgumentTypeError(f"{status!r} is not a domain status ({', '.join(DOMAIN_STATUSES)})")
    if "." not in name.strip(". ") or " " in name.strip():
        raise argparse.ArgumentTypeError(f"{name!r} is not a domain name like example.com")
    return name.strip(), status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        sandbox = ResendSandbox(
            api_key=args.api_key,
            host=args.host,
            port=args.port,
            rate_limit_per_second=args.rate_limit,
            latency_ms=args.latency_ms,
            failure_rate=args.failure_rate,
            failure_status=args.failure_status,
            failure_name=args.failure_name,
            faults={
                "failure_body": args.failure_body,
                "timeout_rate": args.timeout_rate,
                "timeout_seconds": args.timeout_seconds,
                "timeout_accept": args.timeout_accept,
                "script": args.step,
                "outage_seconds": args.outage_seconds,
            },
            seed=args.seed,
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret if args.webhook_url else None,
            webhook_delay_seconds=args.webhook_delay,
            allow_non_loopback=args.allow_non_loopback,
            strict=args.strict,
            idempotency_on_refusal=args.idempotency_on_refusal,
            require_verified_domain=args.require_verified_domain,
        )
        for name, status in args.domain:
            sandbox.add_domain(name, status=status)
    except (ValueError, FaultSpecError) as exc:
        parser.error(str(exc))
    try:
        sandbox.start()
    except OSError as exc:
        print(
            f"resend-sandbox: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    sandbox.log_requests = args.log_requests
    limit = f"{sandbox.rate_limit} requests/s" if sandbox.rate_limit else "no rate limit"
    print(
        f"Resend sandbox on {sandbox.url} (API key {sandbox.api_key!r}, {limit}); inbox at {sandbox.url}/ ; "
        f"point clients at it with RESEND_API_URL={sandbox.url}. Ctrl-C stops.",
        flush=True,
    )

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
