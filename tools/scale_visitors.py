"""Per-visitor state at scale: items, bytes and what the TTL keeps, for synthetic visitors against moto.

Usage, from the repository root::

    .venv/bin/python tools/scale_visitors.py                       # 10,000 visitors over 4 simulated hours
    .venv/bin/python tools/scale_visitors.py --visitors 30000 --hours 8 --json out.json

Starts moto's server on loopback in a process of its own and creates the service's table. Then n synthetic
visitors arrive evenly over ``--hours`` of *simulated* time (the stores take the time as an argument or a clock,
so no one waits): each fetches a CSRF token (a hit on the token route's limiter, 30 per 900 s), and seven in ten
send the form 30 s later (a hit on the submit route's limiter, 5 per 900 s, and the token's nonce used up), as
the service does it: ``RateLimiter`` over ``DynamoDBRateLimitStore`` and ``CsrfTokens`` over
``DynamoDBNonceStore``. Four visitors in five come from an IPv4 address of their own, one in five from an IPv6
/64 of its own. Submission records are not written here: they are per submission, not per visitor, and kept for
30 days on purpose (``tools/scale_records.py``).

At the end it reads the whole table back with a ``Scan`` (its own reading, not the stores') and reports: items
and bytes by kind (``contact_sdk.devtools.capacity``: DynamoDB's item-size rules; stored bytes add 100 per item),
per visitor, and how many are live at the end of the simulated time (``expiresAt`` later than it) against how many
a table without TTL would hold. moto never deletes expired items, so the second figure is measured; the first is
what DynamoDB's TTL leaves once it has caught up (it deletes expired items within about two days).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ipaddress
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's package, not an installed one
    sys.path.insert(0, str(ROOT))

from contact_sdk.devtools.capacity import STORAGE_OVERHEAD, item_size  # noqa: E402
from contact_sdk.devtools.local.emulator import aws_client, running_emulator  # noqa: E402
from contact_sdk.devtools.tables import create_table  # noqa: E402
from contact_sdk.security.csrf import CsrfTokens, DynamoDBNonceStore  # noqa: E402
from contact_sdk.security.ratelimit import DynamoDBRateLimitStore, RateLimiter  # noqa: E402

__all__ = ["Projection", "Report", "main", "project", "simulate"]

TABLE = "contact-visitors"
START = 1_764_547_200.0  # a window boundary (a multiple of 900 s): 2025-12-01T00:00:00Z
WINDOW = 900
SECRET = b"a-csrf-secret-for-the-simulation"
ORIGIN = "https://www.example.com"
SEND_SHARE = 0.7
SEND_DELAY = 30.0
#: Seconds one page of the final Scan may take: moto sorts the whole table for every page (DynamoDB does not).
SCAN_READ_TIMEOUT = 600


@dataclass
class Report:
    """What n visitors left in the table."""

    visitors: int
    senders: int
    hours: float
    seconds: float
    items: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    live_items: dict[str, int] = field(default_factory=dict)
    live_bytes: dict[str, int] = field(default_factory=dict)
    visitors_last_hour: int = 0
    scan_seconds: float = 0.0


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _address(index: int) -> str:
    if index % 5 == 4:  # one visitor in five: an IPv6 /64 of its own
        return str(ipaddress.IPv6Address((0x20010DB8 << 96) | (index << 64) | 0x1234))
    return str(ipaddress.IPv4Address(0x0A000000 + index))  # 10.0.0.0/8: an address each


def _visit(endpoint: str, indexes: range, total: int, hours: float) -> int:
    """The visitors ``indexes`` (of ``total``), one after another through their own client; how many sent."""
    client = aws_client(endpoint, "dynamodb")
    store = DynamoDBRateLimitStore(client, TABLE)
    clock = _Clock(START)
    token_route = RateLimiter(store, scope="token", limit=30, window_seconds=WINDOW, clock=clock)
    submit_route = RateLimiter(store, scope="submit", limit=5, window_seconds=WINDOW, clock=clock)
    tokens = CsrfTokens(nonces=DynamoDBNonceStore(client, TABLE, clock=clock), clock=clock)
    senders = 0
    for index in indexes:
        # Sub-second times, as time.time() gives them (a counter's lastHit is 16-17 significant digits, not 10).
        clock.now = START + index * hours * 3600 / total + (index * 7919 % 1_000_000) / 1_000_000
        address = _address(index)
        if not token_route.check(address).allowed:
            raise RuntimeError(f"visitor {index} was refused a token")
        token = tokens.issue(SECRET, ORIGIN)
        if (index * 7) % 10 < 7:  # seven in ten, spread evenly
            clock.now += SEND_DELAY
            if not submit_route.check(address).allowed:
                raise RuntimeError(f"visitor {index} was refused the form")
            tokens.verify_and_consume(SECRET, ORIGIN, token)
            senders += 1
    return senders


def simulate(endpoint: str, visitors: int, hours: float, *, threads: int = 4) -> Report:
    """Run ``visitors`` over ``hours`` of simulated time, then read the table back."""
    client = aws_client(endpoint, "dynamodb")
    create_table(client, TABLE)
    started = time.perf_counter()
    shares = [range(start, visitors, threads) for start in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        senders = sum(pool.map(lambda share: _visit(endpoint, share, visitors, hours), shares))
    seconds = time.perf_counter() - started
    end = START + hours * 3600 + SEND_DELAY
    report = Report(visitors=visitors, senders=senders, hours=hours, seconds=seconds)
    report.visitors_last_hour = sum(
        1 for index in range(visitors) if START + index * hours * 3600 / visitors >= end - 3600
    )
    items: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    live: Counter[str] = Counter()
    live_sizes: Counter[str] = Counter()
    scan_started = time.perf_counter()
    reader = aws_client(endpoint, "dynamodb", read_timeout=SCAN_READ_TIMEOUT)
    for page in reader.get_paginator("scan").paginate(TableName=TABLE):
        for item in page["Items"]:
            kind = "nonce" if item["pk"]["S"].startswith("csrf#") else item["pk"]["S"].split("#")[1] + " counter"
            size = item_size(item)
            items[kind] += 1
            sizes[kind] += size
            if float(item["expiresAt"]["N"]) > end:
                live[kind] += 1
                live_sizes[kind] += size
    report.scan_seconds = time.perf_counter() - scan_started
    report.items, report.bytes = dict(items), dict(sizes)
    report.live_items, report.live_bytes = dict(live), dict(live_sizes)
    return report


@dataclass(frozen=True)
class Projection:
    """The sample's per-visitor figures scaled to ``visitors`` distinct visitors of the same mix."""

    visitors: int
    items: int
    bytes: int
    stored_bytes: int


def project(report: Report, visitors: int = 1_000_000) -> Projection:
    """What ``visitors`` distinct visitors write, at the sample's items and bytes per visitor (each visitor's items
    are keyed by its own address or nonce, so nothing is shared between visitors and the figures scale linearly)."""
    items = sum(report.items.values())
    size = sum(report.bytes.values())
    scale = visitors / report.visitors
    return Projection(
        visitors=visitors,
        items=round(items * scale),
        bytes=round(size * scale),
        stored_bytes=round((size + items * STORAGE_OVERHEAD) * scale),
    )


def markdown(report: Report) -> str:
    """The table for docs/performance.md."""
    lines = [
        f"{report.visitors:,} visitors over {report.hours:g} simulated hours ({report.senders:,} sent the form), "
        f"written in {report.seconds:.0f} s ({report.visitors / report.seconds:,.0f} visitors/s on moto); "
        f"read back in {report.scan_seconds:.0f} s.",
        "",
        "| kind | items written | bytes | bytes per item | stored per item | live at the end | live bytes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in sorted(report.items):
        count, size = report.items[kind], report.bytes[kind]
        lines.append(
            f"| {kind} | {count:,} | {size:,} | {size / count:.1f} | {size / count + STORAGE_OVERHEAD:.1f} | "
            f"{report.live_items.get(kind, 0):,} | {report.live_bytes.get(kind, 0):,} |"
        )
    total_items, total_bytes = sum(report.items.values()), sum(report.bytes.values())
    live_items, live_bytes = sum(report.live_items.values()), sum(report.live_bytes.values())
    lines += [
        f"| all | {total_items:,} | {total_bytes:,} | {total_bytes / total_items:.1f} | "
        f"{total_bytes / total_items + STORAGE_OVERHEAD:.1f} | {live_items:,} | {live_bytes:,} |",
        "",
        f"Per visitor: {total_items / report.visitors:.2f} items, {total_bytes / report.visitors:.0f} bytes "
        f"({(total_bytes + total_items * STORAGE_OVERHEAD) / report.visitors:.0f} stored). Live at the end: "
        f"{live_items:,} items for the {report.visitors_last_hour:,} visitors of the last hour "
        f"({live_items / max(report.visitors_last_hour, 1):.2f} per visitor of the last hour).",
    ]
    million = project(report)
    lines.append(
        f"At {million.visitors:,} distinct visitors of the same mix: {million.items:,} items, "
        f"{million.bytes / 1e6:,.1f} MB ({million.stored_bytes / 1e6:,.1f} MB stored), every one with a TTL."
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Simulate, print the table, write the JSON when asked."""
    parser = argparse.ArgumentParser(prog="tools/scale_visitors.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=4.0, help="simulated hours the visitors arrive over")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.visitors < 10 or not 1 <= args.hours <= 48 or not 1 <= args.threads <= 16:
        parser.error("--visitors at least 10, --hours 1 to 48, --threads 1 to 16")
    with running_emulator() as endpoint:
        report = simulate(endpoint, args.visitors, args.hours, threads=args.threads)
    print(markdown(report))
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(report), indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
