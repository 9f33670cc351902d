"""A bounded, headless Locust run against a local stack started just for it (what ``make load`` runs).

The stack gets free ports, so this works beside a running ``make run``; it keeps the production rate
limit (5 per 15 minutes per source IP) and the sandbox adds ``--latency-ms`` to every Resend call.
``--provider-failure-rate`` makes the sandbox answer that share of sends with a 500. Reports land in
``reports/<name>_*.csv``, ``reports/<name>.html`` and ``reports/<name>.json``; the stack's own log in
``reports/<name>-stack.log``. The exit status is Locust's: 1 when a limit of the run was broken.

Usage::

    python loadtests/run_local.py                                   # 50 users, 60 s, 100-300 ms
    python loadtests/run_local.py --users 10 --run-time 20s --name smoke
    python loadtests/run_local.py --latency-ms 150 --provider-failure-rate 0.1 -- --p95-limit-ms 2000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from contact_sdk.devtools.local.__main__ import parse_latency  # noqa: E402 - after the path fix above
from contact_sdk.devtools.local.console import Console  # noqa: E402
from contact_sdk.devtools.local.stack import LocalStack, StackOptions, StackPorts, StackStartError  # noqa: E402

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python loadtests/run_local.py", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent users (default 50)")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second (default 10)")
    parser.add_argument("--run-time", default="60s", help="how long, Locust syntax: 30s, 2m (default 60s)")
    parser.add_argument("--latency-ms", type=parse_latency, default=(100, 300), help="sandbox latency MIN-MAX")
    parser.add_argument("--provider-failure-rate", type=float, default=0.0, help="share of sends answered 500")
    parser.add_argument("--rate-limit", type=int, default=5, help="the stack's CONTACT_RATE_LIMIT (default 5)")
    parser.add_argument(
        "--provider-rate-limit",
        type=int,
        default=0,
        help="Resend requests per second the sandbox allows before 429 (default 0: none; Resend's default is 5)",
    )
    parser.add_argument("--name", default="load", help="report name under reports/ (default load)")
    parser.add_argument("--reports", default=str(ROOT / "reports"), help="report directory")
    parser.add_argument("locust_args", nargs="*", help="after --: more Locust options (e.g. --p95-limit-ms 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Start the stack, run Locust against it, stop the stack; Locust's exit status."""
    args = build_parser().parse_args(argv)
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    stack_log = (reports / f"{args.name}-stack.log").open("w", encoding="utf-8")
    options = StackOptions(
        ports=StackPorts.any(),
        sandbox_latency_ms=args.latency_ms,
        sandbox_rate_limit=args.provider_rate_limit,
        rate_limit=args.rate_limit,
        access_log=False,
        service_log_level="ERROR",
    )
    stack = LocalStack(options, console=Console(stack_log))
    try:
        stack.start()
    except StackStartError as exc:
        print(f"cannot start the local stack: {exc} (see {stack_log.name})", file=sys.stderr)
        return 2
    try:
        if args.provider_failure_rate:
            request = urllib.request.Request(  # noqa: S310 - a loopback URL we just started
                f"{stack.sandbox_url}/_sandbox/faults",
                data=json.dumps({"failure_rate": args.provider_failure_rate, "failure_status": 500}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310
                pass
        low, high = args.latency_ms
        print(
            f"local stack up: API {stack.api_url}, page origin {stack.page_url}, sandbox {stack.sandbox_url} "
            f"({low}-{high} ms, provider failure rate {args.provider_failure_rate}); "
            f"{args.users} users for {args.run_time}",
            flush=True,
        )
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            stack.api_url,
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.spawn_rate),
            "--run-time",
            args.run_time,
            "--stop-timeout",
            "10",
            "--site-origin",
            stack.page_url,
            "--target-rate-limit",
            str(args.rate_limit),
            "--csv",
            str(reports / args.name),
            "--html",
            str(reports / f"{args.name}.html"),
            "--summary-file",
            str(reports / f"{args.name}.json"),
            *args.locust_args,
        ]
        return subprocess.call(command, cwd=ROOT)  # noqa: S603 - our interpreter, our locustfile
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()
        stack_log.close()


if __name__ == "__main__":
    sys.exit(main())
