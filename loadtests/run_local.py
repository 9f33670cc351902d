"""A bounded, headless Locust run against a local stack started just for it (what ``make load`` runs).

The stack gets free ports, so this works beside a running ``make run``; it keeps the production rate
limit (5 per 15 minutes per source IP) and the sandbox adds ``--latency-ms`` to every Resend call.
``--provider-failure-rate`` makes the sandbox answer that share of sends with a 500;
``--provider-fault`` has the stack hold one of the issue's provider faults for the whole run, as the
local stack's own ``--provider-fault`` does (``slow``: every call 8 s; ``down``: every call 503, after
which the outbox must drain into exactly one email per accepted submission; ``flaky``: 10 % of calls
500). ``--brownout DEPENDENCY:MODE`` puts a brownout proxy in front of one dependency for the whole run
(``dynamodb:slow:10``: every DynamoDB call answered 10 s late; ``sqs:hang``; ``ssm``, ``resend``);
afterwards the proxy turns healthy and, as after ``down``, the outbox must drain into exactly one email
per accepted submission. Reports land in
``reports/<name>_*.csv``, ``reports/<name>.html`` and ``reports/<name>.json``; the stack's own log in
``reports/<name>-stack.log``. The exit status is Locust's: 1 when a limit of the run was broken.

Throughput per core: after the run, the CPU seconds each part of the stack used (the local API in this
process, the AWS emulator and the sandbox in its children, Locust in its own) are printed beside Locust's
requests per second, and the requests served per CPU second: what one core serves at saturation, a figure
that does not move when other processes share the machine (wall-clock requests per second per core does).
Both go into ``reports/<name>.json`` under ``throughput``, with whether the legitimate p95 was under 1 s.

Usage::

    python loadtests/run_local.py                                   # 50 users, 60 s, 100-300 ms
    python loadtests/run_local.py --latency-ms 150                  # what make load runs
    python loadtests/run_local.py --users 10 --run-time 20s --name smoke
    python loadtests/run_local.py --latency-ms 150 --provider-failure-rate 0.1 -- --p95-limit-ms 2000
    python loadtests/run_local.py --provider-fault down --users 20 --run-time 45s --name down
    python loadtests/run_local.py --brownout dynamodb:slow:10 --users 20 --run-time 60s --name dynamodb-slow
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from contact_sdk.clock import SYSTEM_CLOCK, Clock  # noqa: E402 - after the path fix above
from contact_sdk.devtools.arguments import seconds  # noqa: E402
from contact_sdk.devtools.brownout import BrownoutProxy, Mode  # noqa: E402
from contact_sdk.devtools.local.__main__ import parse_brownout, parse_latency  # noqa: E402
from contact_sdk.devtools.local.console import Console  # noqa: E402
from contact_sdk.devtools.local.provider_faults import PROVIDER_FAULTS  # noqa: E402
from contact_sdk.devtools.local.stack import LocalStack, StackOptions, StackPorts, StackStartError  # noqa: E402

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
#: Round 1's figure (issue 24): 36 requests/s in total at CPU saturation on 2 cores.
ROUND_1_RPS_PER_CORE = 18.0
#: The p95 of legitimate submissions under which a throughput figure counts (issue 24).
THROUGHPUT_P95_LIMIT_MS = 1000.0
#: The reference the locustfile writes into every legitimate message.
_REFERENCE = re.compile(r"Reference ([0-9a-f-]{36})")


@dataclass(frozen=True, slots=True)
class CpuSeconds:
    """CPU seconds (user + system) used by each part of a load run."""

    api: float
    stack_children: float
    locust: float

    @property
    def total(self) -> float:
        """Everything the run used on this machine."""
        return self.api + self.stack_children + self.locust


def cores() -> int:
    """The cores this process may run on (its affinity), which the stack, the emulator and Locust share."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def stack_cpu_seconds() -> tuple[float, float]:
    """(this process: the local API; its live children: the AWS emulator and the sandbox), in CPU seconds."""
    me = psutil.Process()
    own = me.cpu_times()
    children = 0.0
    for child in me.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:  # gone between the listing and the read
            continue
        children += times.user + times.system
    return own.user + own.system, children


def reaped_children_cpu_seconds() -> float:
    """CPU seconds of the children this process has waited for (Locust, once ``subprocess.call`` returns)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def throughput(summary: dict[str, Any], cpu: CpuSeconds, *, cores: int) -> dict[str, Any]:
    """Requests per second per core, wall clock and per CPU second, from Locust's summary and the CPU used."""
    requests = float(summary.get("all_requests") or 0)
    rps = float(summary.get("all_rps") or 0)
    p95 = summary.get("p95_ms")
    return {
        "cores": cores,
        "all_rps": rps,
        "rps_per_core_wall_clock": round(rps / cores, 2),
        "cpu_seconds": {
            "api": round(cpu.api, 2),
            "emulator_and_sandbox": round(cpu.stack_children, 2),
            "locust": round(cpu.locust, 2),
        },
        "requests_per_cpu_second": round(requests / cpu.total, 2) if cpu.total > 0 else None,
        "api_requests_per_cpu_second": round(requests / cpu.api, 2) if cpu.api > 0 else None,
        "p95_ms": p95,
        "p95_under_1_s": isinstance(p95, int | float) and p95 < THROUGHPUT_P95_LIMIT_MS,
        "round_1_rps_per_core": ROUND_1_RPS_PER_CORE,
    }


def report_throughput(figures: dict[str, Any]) -> str:
    """The lines ``make load`` prints about throughput."""
    cpu = figures["cpu_seconds"]
    p95 = figures["p95_ms"]
    verdict = "under 1 s" if figures["p95_under_1_s"] else "NOT under 1 s: the figures are past saturation"
    return (
        f"throughput: {figures['all_rps']} req/s on {figures['cores']} cores = "
        f"{figures['rps_per_core_wall_clock']} req/s per core (wall clock; round 1: "
        f"{figures['round_1_rps_per_core']:g} req/s per core, 36 req/s on 2 cores at saturation)\n"
        f"CPU used: API {cpu['api']} s, AWS emulator + sandbox {cpu['emulator_and_sandbox']} s, "
        f"Locust {cpu['locust']} s"
        f" -> {figures['requests_per_cpu_second']} requests per CPU second for the whole stack (one core's"
        f" throughput at saturation), {figures['api_requests_per_cpu_second']} for the API alone\n"
        f"legitimate p95 {p95} ms: {verdict}"
    )


def run_seconds(run_time: str) -> int:
    """Locust's ``--run-time`` (``45s``, ``2m``, ``1h30m``) in seconds."""
    parts = re.findall(r"(\d+)\s*([hms]?)", run_time)
    if not parts or "".join(n + u for n, u in parts) != run_time.replace(" ", ""):
        raise argparse.ArgumentTypeError(f"not a Locust run time: {run_time!r}")
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1, "": 1}[u] for n, u in parts)


def _sandbox(url: str, path: str, *, method: str = "GET", body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - a loopback URL we just started
        f"{url}{path}", data=data, headers={"Content-Type": "application/json"}, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        raw = answer.read()
    return json.loads(raw) if raw else None


def count_emails(sandbox_url: str) -> tuple[int, int]:
    """(emails the sandbox holds, duplicates: emails beyond the first with the same content).

    By content, not by idempotency key: the sandbox, like Resend, never stores two emails under one
    key, so a duplicate would show as the same message under two keys. Every load-test submission's
    text is unique.
    """
    emails = _sandbox(sandbox_url, "/_sandbox/emails")
    assert isinstance(emails, list)  # noqa: S101 - the sandbox's documented answer
    contents = [json.dumps(e.get("body"), sort_keys=True) for e in emails]
    return len(contents), len(contents) - len(set(contents))


def await_drain(
    sandbox_url: str, accepted: int, *, timeout: float, clock: Clock = SYSTEM_CLOCK
) -> tuple[int, int, float]:
    """Wait until the sandbox holds ``accepted`` emails (the outbox drained) or ``timeout``; (emails, dups, s)."""
    started = clock.monotonic()
    emails, duplicates = count_emails(sandbox_url)
    while emails < accepted and clock.monotonic() - started < timeout:
        clock.sleep(5)
        emails, duplicates = count_emails(sandbox_url)
    return emails, duplicates, clock.monotonic() - started


def _share(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {raw!r}") from None
    if not 0 <= value <= 1:  # NaN too
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1 (0.1: one send in ten), got {raw!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python loadtests/run_local.py", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent users (default 50)")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second (default 10)")
    parser.add_argument("--run-time", default="60s", help="how long, Locust syntax: 30s, 2m (default 60s)")
    parser.add_argument("--latency-ms", type=parse_latency, default=(100, 300), help="sandbox latency MIN-MAX")
    parser.add_argument(
        "--provider-failure-rate", type=_share, default=0.0, help="share of sends answered 500, 0 to 1 (default 0)"
    )
    parser.add_argument(
        "--provider-fault",
        choices=sorted(PROVIDER_FAULTS),
        help="slow: every call 8 s; down: every call 503, then the outbox must drain; flaky: 10 %% of calls 500",
    )
    parser.add_argument(
        "--brownout",
        type=parse_brownout,
        metavar="DEPENDENCY:MODE",
        help="a proxy in front of one dependency for the whole run: dynamodb, sqs, ssm or resend, each call "
        "answered slow:SECONDS late or hanging (e.g. dynamodb:slow:10); then the outbox must drain",
    )
    parser.add_argument(
        "--response-budget-ms", type=int, default=4000, help="the stack's CONTACT_RESPONSE_BUDGET_MS (default 4000)"
    )
    parser.add_argument(
        "--drain-timeout",
        type=seconds,
        default=600.0,
        help="with --provider-fault down or --brownout: seconds to wait for the drain (default 600)",
    )
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


def stack_options(args: argparse.Namespace) -> StackOptions:
    """The local stack the run measures: free ports, the sandbox's latency and limits, the faults asked for."""
    return StackOptions(
        ports=StackPorts.any(),
        sandbox_latency_ms=args.latency_ms,
        sandbox_rate_limit=args.provider_rate_limit,
        rate_limit=args.rate_limit,
        provider_fault=args.provider_fault,
        access_log=False,
        service_log_level="ERROR",
        brownout=args.brownout,
        response_budget_ms=args.response_budget_ms,
    )


def locust_command(args: argparse.Namespace, *, api_url: str, page_url: str, reports: Path) -> list[str]:
    """The headless Locust run against the stack at ``api_url`` (its page at ``page_url``), reports in ``reports``."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        api_url,
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        args.run_time,
        "--stop-timeout",
        "10",
        "--site-origin",
        page_url,
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


def hold_provider_failures(args: argparse.Namespace, sandbox_url: str) -> None:
    """With ``--provider-failure-rate``: the sandbox at ``sandbox_url`` answers that share of sends with a 500 from
    now on (merged into the faults it holds, such as ``--provider-fault``'s); without it, nothing changes."""
    if args.provider_failure_rate:
        _sandbox(
            sandbox_url,
            "/_sandbox/faults",
            method="POST",
            body={"failure_rate": args.provider_failure_rate, "failure_status": 500},
        )


def after_the_run(
    args: argparse.Namespace, stack: LocalStack, summary_path: Path, *, clock: Clock = SYSTEM_CLOCK
) -> int:
    """The checks once Locust has stopped: after ``--provider-fault down`` the outage's, with ``--brownout`` the
    brownout's, each waiting up to ``--drain-timeout`` seconds for the outbox to drain; 1 when one fails."""
    status = 0
    if args.provider_fault == "down":
        status = max(status, _after_the_outage(stack.sandbox_url, summary_path, args.drain_timeout, clock=clock))
    if stack.brownout is not None:
        status = max(
            status,
            _after_the_brownout(stack.brownout, stack.sandbox_url, summary_path, args.drain_timeout, clock=clock),
        )
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Start the stack, run Locust against it, stop the stack; Locust's exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        run_seconds(args.run_time)  # a bad run time stops here, before a stack starts
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.brownout is not None and args.brownout[0] == "siteverify":
        parser.error(
            "--brownout siteverify: the Locust scenarios send no Turnstile token; "
            "measure it with loadtests/fault_table.py --only siteverify"
        )
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    stack_log = (reports / f"{args.name}-stack.log").open("w", encoding="utf-8")
    stack = LocalStack(stack_options(args), console=Console(stack_log))
    try:
        stack.start()
    except StackStartError as exc:
        print(f"cannot start the local stack: {exc} (see {stack_log.name})", file=sys.stderr)
        return 2
    try:
        hold_provider_failures(args, stack.sandbox_url)
        low, high = args.latency_ms
        print(
            f"local stack up: API {stack.api_url}, page origin {stack.page_url}, sandbox {stack.sandbox_url} "
            f"({low}-{high} ms, provider failure rate {args.provider_failure_rate}, "
            f"provider fault {args.provider_fault or 'none'}, "
            f"brownout {stack.brownout.url + ' ' + str(stack.brownout.mode) if stack.brownout else 'none'}); "
            f"{args.users} users for {args.run_time}",
            flush=True,
        )
        command = locust_command(args, api_url=stack.api_url, page_url=stack.page_url, reports=reports)
        api_before, children_before = stack_cpu_seconds()
        reaped_before = reaped_children_cpu_seconds()
        status = subprocess.call(command, cwd=ROOT)  # noqa: S603 - our interpreter, our locustfile
        api_after, children_after = stack_cpu_seconds()
        cpu = CpuSeconds(
            api=api_after - api_before,
            stack_children=children_after - children_before,
            locust=reaped_children_cpu_seconds() - reaped_before,
        )
        _record_throughput(reports / f"{args.name}.json", cpu)
        return max(status, after_the_run(args, stack, reports / f"{args.name}.json"))
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()
        stack_log.close()


def _record_throughput(summary_path: Path, cpu: CpuSeconds) -> None:
    """Print the throughput figures and add them to the run's summary (nothing when Locust wrote none)."""
    if not summary_path.is_file():
        return
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    summary["throughput"] = throughput(summary, cpu, cores=cores())
    summary_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(report_throughput(summary["throughput"]), flush=True)


def _after_the_outage(sandbox_url: str, summary_path: Path, timeout: float, *, clock: Clock = SYSTEM_CLOCK) -> int:
    """The provider comes back; the outbox must deliver exactly one email per accepted submission."""
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    accepted = int(summary.get("accepted_sent", 0)) + int(summary.get("accepted_queued", 0))
    during, _ = count_emails(sandbox_url)
    _sandbox(sandbox_url, "/_sandbox/faults", method="DELETE")
    emails, duplicates, waited = await_drain(sandbox_url, accepted, timeout=timeout, clock=clock)
    ok = emails == accepted and duplicates == 0
    summary["after_outage"] = {
        "accepted": accepted,
        "emails_during_outage": during,
        "emails": emails,
        "duplicates": duplicates,
        "drain_seconds": round(waited, 1),
        "passed": ok,
    }
    summary_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(
        f"after the outage: accepted={accepted} emails={emails} duplicates={duplicates} "
        f"(drained in {waited:.0f} s; {during} sent during the outage) -> {'PASSED' if ok else 'FAILED'}",
        flush=True,
    )
    return 0 if ok else 1


def emails_by_reference(sandbox_url: str) -> dict[str, int]:
    """How many of the sandbox's emails carry each ``Reference <uuid>`` (the locustfile puts one in every message)."""
    emails = _sandbox(sandbox_url, "/_sandbox/emails")
    assert isinstance(emails, list)  # noqa: S101 - the sandbox's documented answer
    counts: dict[str, int] = {}
    for email in emails:
        for reference in set(_REFERENCE.findall(json.dumps(email.get("body")))):
            counts[reference] = counts.get(reference, 0) + 1
    return counts


def await_references(
    sandbox_url: str, references: list[str], *, timeout: float, clock: Clock = SYSTEM_CLOCK
) -> tuple[dict[str, int], float]:
    """Wait until every reference is in an email (the outbox drained) or ``timeout``; (counts, seconds waited)."""
    started = clock.monotonic()
    counts = emails_by_reference(sandbox_url)
    while any(counts.get(r, 0) == 0 for r in references) and clock.monotonic() - started < timeout:
        clock.sleep(5)
        counts = emails_by_reference(sandbox_url)
    return counts, clock.monotonic() - started


def _after_the_brownout(
    proxy: BrownoutProxy, sandbox_url: str, summary_path: Path, timeout: float, *, clock: Clock = SYSTEM_CLOCK
) -> int:
    """The dependency recovers: what the proxy saw, then every accepted submission in exactly one email.

    Matched by each message's reference, not by totals: a submission whose answer Locust stopped waiting for at
    the end of the run may still be sent, and must not hide an accepted one that was lost.
    """
    exchanges = proxy.exchanges()
    calls = {
        "calls": len(exchanges),
        "answered": sum(e.answered is not None for e in exchanges),
        "given_up_by_the_service": sum(e.gave_up is not None for e in exchanges),
        "still_held": sum(e.pending for e in exchanges),
    }
    print(
        f"the brownout proxy ({proxy.mode}) saw {calls['calls']} calls: {calls['answered']} answered, "
        f"{calls['given_up_by_the_service']} given up by the service, {calls['still_held']} still held",
        flush=True,
    )
    proxy.set_mode(Mode.healthy())
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    references = [str(r) for r in summary.get("accepted_references", [])]
    accepted = int(summary.get("accepted_sent", 0)) + int(summary.get("accepted_queued", 0))
    counts, waited = await_references(sandbox_url, references, timeout=timeout, clock=clock)
    lost = sum(counts.get(r, 0) == 0 for r in references)
    twice = sum(counts.get(r, 0) > 1 for r in references)
    # Every accepted answer must be accounted for by a reference, or the check would judge fewer than were accepted.
    ok = len(references) == accepted and lost == 0 and twice == 0
    summary["after_brownout"] = {
        **calls,
        "accepted": accepted,
        "accepted_with_reference": len(references),
        "lost": lost,
        "emailed_twice": twice,
        "emails": sum(counts.values()),
        "drain_seconds": round(waited, 1),
        "passed": ok,
    }
    summary_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(
        f"after the brownout: accepted={accepted} lost={lost} emailed twice={twice} emails={sum(counts.values())} "
        f"(drained in {waited:.0f} s) -> {'PASSED' if ok else 'FAILED'}",
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
