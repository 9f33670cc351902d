"""The issue's fault table, measured: answer times of ``POST /contact`` under each provider fault.

Builds the real service (:func:`contact_sdk.bootstrap.build_components`, default settings: the 4 s
response budget, the real clock, real sleeps) against a Resend sandbox on loopback, with an
in-memory outbox so a queued submission is a ``202``. For each fault it sends ``--count``
legitimate submissions one after another (each with a fresh CSRF token, from its own source IP)
and prints the statuses, the longest and the p95 answer time. Loopback only, bounded.

Usage::

    python loadtests/fault_table.py --count 20
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from contact_sdk.bootstrap import build_components  # noqa: E402 - after the path fix above
from contact_sdk.config import InMemoryParameterSource  # noqa: E402
from contact_sdk.devtools.sandbox import ResendSandbox  # noqa: E402
from contact_sdk.metrics import ListSink  # noqa: E402
from contact_sdk.outbox import InMemoryOutbox  # noqa: E402
from contact_sdk.settings import Settings  # noqa: E402

ORIGIN = "https://www.example.com"
API_KEY = "re_fault_table_key"
#: The issue's table: provider behaviour -> sandbox fault settings.
FAULTS: dict[str, dict[str, Any]] = {
    "every call 8 s slow": {"latency_ms": [8000, 8000]},
    "every call 500": {"failure_rate": 1.0, "failure_status": 500, "failure_name": "internal_server_error"},
    "calls hang": {"timeout_rate": 1.0, "timeout_seconds": 60},
    "429 with Retry-After: 30": {"script": [{"status": 429, "name": "rate_limit_exceeded", "retry_after": "30"}]},
}


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def event(method: str, path: str, *, body: str | None, headers: dict[str, str], ip: str) -> dict[str, Any]:
    """An API Gateway REST proxy event."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": {"requestId": str(uuid.uuid4()), "identity": {"sourceIp": ip}},
        "body": body,
        "isBase64Encoded": False,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every fault; print one line per fault."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20, help="submissions per fault (default 20)")
    parser.add_argument("--only", choices=sorted(FAULTS), help="measure one fault only")
    args = parser.parse_args(argv)
    config = {
        "apiKey": API_KEY,
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "owner@example.com",
        "version": 1,
        "rotatedAt": "2026-11-01T10:00:00Z",
    }
    source = InMemoryParameterSource(
        {
            "/portfolio/prod/resend/api-key": json.dumps(config),
            "/portfolio/prod/contact/csrf-secret": "a-fault-table-csrf-secret-that-is-long-enough-0123",
        }
    )
    for name, faults in FAULTS.items():
        if args.only and name != args.only:
            continue
        with ResendSandbox(api_key=API_KEY) as sandbox:
            # The script posts the instant its token is issued: with the fill-time rule on, every
            # submission would be judged spam and answered at once, measuring nothing of the provider.
            settings = Settings.from_env(
                environ={},
                allowed_origins=(ORIGIN,),
                resend_api_url=sandbox.url,
                submit_limit=1000,
                min_fill_seconds=0,
            )
            outbox = InMemoryOutbox()
            components = build_components(
                settings, sink=ListSink(), parameter_source=source, outbox=outbox, log_level="ERROR"
            )
            api = components.api
            durations: list[float] = []
            statuses: dict[int, int] = {}
            for number in range(args.count):
                sandbox.clear_faults()
                sandbox.set_faults(faults)
                ip = f"198.51.100.{number + 1}"
                token_answer = api.handle(event("GET", "/contact/token", body=None, headers={"Origin": ORIGIN}, ip=ip))
                token = json.loads(token_answer["body"])["token"]
                payload = {
                    "name": "Ada Lovelace",
                    "email": "ada@example.org",
                    "message": f"Fault table message number {number} about {name}.",
                    "consent": True,
                    "formStartedAt": int(time.time() * 1000) - 10_000,
                }
                headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token}
                started = time.perf_counter()
                answer = api.handle(event("POST", "/contact", body=json.dumps(payload), headers=headers, ip=ip))
                durations.append(time.perf_counter() - started)
                statuses[answer["statusCode"]] = statuses.get(answer["statusCode"], 0) + 1
            components.client.close()
            print(
                f"{name:28s} n={len(durations)} statuses={dict(sorted(statuses.items()))} "
                f"queued={len(outbox.drain())} max={max(durations):.2f}s p95={p95(durations):.2f}s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
