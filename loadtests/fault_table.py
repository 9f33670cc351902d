"""The issue's fault tables, measured: answer times of the real service under each provider and dependency fault.

**Provider rows** (issue 12): ``POST /contact`` against a Resend sandbox on loopback under each provider
fault, with an in-memory outbox so a queued submission is a ``202``.

**Dependency rows** (issue 20): one dependency at a time behind a brownout proxy
(:mod:`contact_sdk.devtools.brownout`) that answers every call ``--slow-seconds`` late (10 s: the call
reaches moto at once) or never (``hang``): DynamoDB, SQS (with the provider failing, so the outbox is
needed), Parameter Store, and Cloudflare's siteverify (Turnstile on, the local stand-in). The AWS emulator
is moto's server in its own process, seeded as the local stack seeds it, reset before every row; the
service is built by :func:`contact_sdk.bootstrap.build_components` with nothing injected, so its boto3
clients are production's and reach the proxy through ``AWS_ENDPOINT_URL_<SERVICE>``. *Warm*: one
instance serves a token and a submission with everything healthy, the tokens for the row are fetched,
then the brownout begins and every measured request meets it. *Cold*: every measured request is the
first of a freshly built instance (its token issued by another one). ``GET /contact/token`` is measured
where it depends on the dependency (DynamoDB's limiter, Parameter Store's CSRF secret).

For each row it sends ``--count`` legitimate requests one after another (each submission with a fresh CSRF
token, from its own source IP) and prints the statuses, p95 and the longest answer against the response
budget plus 0.5 s (the contract's limit). Loopback only, bounded by ``--count``.

Usage::

    python loadtests/fault_table.py --count 20                      # every row
    python loadtests/fault_table.py --only provider --count 20      # the provider rows
    python loadtests/fault_table.py --only dynamodb warm --count 3  # rows whose name has every word given
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import secrets
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from contact_sdk.bootstrap import Components, build_components  # noqa: E402 - after the path fix above
from contact_sdk.devtools.arguments import positive_seconds  # noqa: E402
from contact_sdk.devtools.brownout import ENDPOINT_VARIABLES, BrownoutProxy, Mode  # noqa: E402
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource  # noqa: E402
from contact_sdk.devtools.local.emulator import (  # noqa: E402
    FAKE_CREDENTIALS,
    REGION,
    ResourceNames,
    SeededResources,
    aws_client,
    running_emulator,
    seed,
)
from contact_sdk.devtools.local.turnstile import (  # noqa: E402
    DUMMY_TOKEN,
    PASS_SECRET,
    SITEVERIFY_PATH,
    SiteverifyStandIn,
)
from contact_sdk.devtools.sandbox import ResendSandbox  # noqa: E402
from contact_sdk.metrics import ListSink  # noqa: E402
from contact_sdk.settings import Settings  # noqa: E402

ORIGIN = "https://www.example.com"
API_KEY = "re_fault_table_key"
SUBMIT, TOKEN = "POST /contact", "GET /contact/token"
#: The issue's provider table: provider behaviour -> sandbox fault settings.
FAULTS: dict[str, dict[str, Any]] = {
    "every call 8 s slow": {"latency_ms": [8000, 8000]},
    "every call 500": {"failure_rate": 1.0, "failure_status": 500, "failure_name": "internal_server_error"},
    "calls hang": {"timeout_rate": 1.0, "timeout_seconds": 60},
    "429 with Retry-After: 30": {"script": [{"status": 429, "name": "rate_limit_exceeded", "retry_after": "30"}]},
}
#: What each dependency row is called in the table.
DEPENDENCY_NAMES = {
    "dynamodb": "DynamoDB",
    "sqs": "SQS, provider failing",
    "ssm": "Parameter Store",
    "siteverify": "siteverify",
}
TURNSTILE_PARAMETER = "/portfolio/local/contact/turnstile-secret"


@dataclass(frozen=True, slots=True)
class DependencyRow:
    """One dependency row: which dependency, slow or hanging, warm or cold, which route."""

    dependency: str
    mode: str
    temperature: str
    route: str

    @property
    def name(self) -> str:
        """``dynamodb slow warm POST /contact``: the words ``--only`` matches."""
        return f"{self.dependency} {self.mode} {self.temperature} {self.route}"


def dependency_rows() -> list[DependencyRow]:
    """Every dependency x slow/hang x warm/cold, for POST /contact, and for the token route where it matters."""
    rows = []
    for dependency in DEPENDENCY_NAMES:
        routes = (SUBMIT, TOKEN) if dependency in ("dynamodb", "ssm") else (SUBMIT,)
        for route in routes:
            for mode in ("slow", "hang"):
                for temperature in ("warm", "cold"):
                    rows.append(DependencyRow(dependency, mode, temperature, route))
    return rows


def provider_row_name(fault: str) -> str:
    """``provider: every call 500``."""
    return f"provider: {fault}"


def every_row_name() -> list[str]:
    """Every row's name, in the order they are measured."""
    return [provider_row_name(fault) for fault in FAULTS] + [row.name for row in dependency_rows()]


def selected(name: str, words: Sequence[str] | None) -> bool:
    """Whether ``--only`` picks this row: its name holds every word (case-insensitive)."""
    return not words or all(word.lower() in name.lower() for word in words)


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


def token_event(ip: str) -> dict[str, Any]:
    """GET /contact/token from the page's origin."""
    return event("GET", "/contact/token", body=None, headers={"Origin": ORIGIN}, ip=ip)


def submit_event(token: str, ip: str, text: str, *, turnstile: bool = False) -> dict[str, Any]:
    """A legitimate POST /contact."""
    payload: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "message": f"Fault table message: {text}.",
        "consent": True,
        "formStartedAt": int(time.time() * 1000) - 10_000,
    }
    if turnstile:
        payload["turnstileToken"] = DUMMY_TOKEN
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token}
    return event("POST", "/contact", body=json.dumps(payload), headers=headers, ip=ip)


def token_of(components: Components, ip: str) -> str:
    """A CSRF token from ``components`` (which must be healthy)."""
    answer = components.api.handle(token_event(ip))
    if answer["statusCode"] != 200:
        raise RuntimeError(f"no token from a healthy instance: {answer['statusCode']} {answer['body']}")
    return str(json.loads(answer["body"])["token"])


@dataclass
class Measured:
    """One row's answers."""

    durations: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, seconds: float, status: int) -> None:
        """Count one answer."""
        self.durations.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def line(self, name: str, budget_ms: int, extra: str = "") -> str:
        """The row as printed: statuses, p95, max, and whether the max is within budget + 0.5 s."""
        limit = budget_ms / 1000 + 0.5
        longest = max(self.durations)
        verdict = "within" if longest <= limit else "OVER"
        return (
            f"{name:48s} n={len(self.durations)} statuses={dict(sorted(self.statuses.items()))} "
            f"p95={p95(self.durations):.2f}s max={longest:.2f}s {verdict} budget+0.5s={limit:.1f}s{extra}"
        )


def timed(components: Components, request: dict[str, Any]) -> tuple[float, int]:
    """(seconds, status) of one request handled by ``components``."""
    started = time.perf_counter()
    answer = components.api.handle(request)
    return time.perf_counter() - started, int(answer["statusCode"])


# -- the provider rows (issue 12) ------------------------------------------------------------------


def measure_provider(fault: str, *, count: int) -> str:
    """One provider row: the real service, default settings, an in-memory outbox."""
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
            dataclasses.replace(settings, log_level="ERROR"), sink=ListSink(), parameters=source, outbox=outbox
        )
        measured = Measured()
        try:
            for number in range(count):
                sandbox.clear_faults()
                sandbox.set_faults(FAULTS[fault])
                ip = f"198.51.100.{number + 1}"
                token = token_of(components, ip)
                measured.add(*timed(components, submit_event(token, ip, f"{number} {fault}")))
        finally:
            components.client.close()
        return measured.line(provider_row_name(fault), settings.response_budget_ms, f" queued={len(outbox.drain())}")


# -- the dependency rows (issue 20) ----------------------------------------------------------------


@contextlib.contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (``None``: remove) process environment variables for the block: boto3 reads its endpoints there."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class DependencyBench:
    """The emulator, the sandbox and the siteverify stand-in, shared by the dependency rows."""

    def __init__(self, aws: str, sandbox: ResendSandbox, standin: SiteverifyStandIn, *, budget_ms: int) -> None:
        self.aws = aws
        self.sandbox = sandbox
        self.standin = standin
        self.budget_ms = budget_ms

    def fresh(self) -> SeededResources:
        """An emptied emulator, seeded as the local stack seeds it (the breaker's shared state included)."""
        import httpx  # noqa: PLC0415 - only the dependency rows need it

        httpx.post(f"{self.aws}/moto-api/reset", timeout=30).raise_for_status()
        resources = seed(
            self.aws,
            names=ResourceNames(),
            resend_config={
                "apiKey": API_KEY,
                "domain": "example.com",
                "fromEmail": "no-reply@example.com",
                "toEmail": "owner@example.com",
                "version": 1,
                "rotatedAt": "2026-11-01T10:00:00Z",
            },
            csrf_secret=secrets.token_urlsafe(48),
            webhook_secret="whsec_" + secrets.token_hex(24),
        )
        ssm = aws_client(self.aws, "ssm")
        try:
            ssm.put_parameter(Name=TURNSTILE_PARAMETER, Value=PASS_SECRET, Type="SecureString", KeyId=resources.key_id)
        finally:
            ssm.close()
        return resources

    def settings(self, row: DependencyRow, resources: SeededResources, proxy: BrownoutProxy) -> Settings:
        """The service's settings for ``row``: the seeded names, the budget, the proxy where the row puts it."""
        environ = {
            "CONTACT_CONFIG_PARAMETER": resources.config_parameter,
            "CONTACT_CSRF_SECRET_PARAMETER": resources.csrf_secret_parameter,
            "CONTACT_WEBHOOK_SECRET_PARAMETER": resources.webhook_secret_parameter,
            "CONTACT_ALLOWED_ORIGINS": ORIGIN,
            "CONTACT_ENVIRONMENT": "fault-table",
            "CONTACT_TABLE_NAME": resources.table_name,
            "CONTACT_OUTBOX_QUEUE_URL": resources.queue_url,
            "CONTACT_PARKED_QUEUE_URL": resources.dead_letter_queue_url,
            "RESEND_API_URL": self.sandbox.url,
            "CONTACT_RATE_LIMIT": "1000",
            "CONTACT_TOKEN_RATE_LIMIT": "1000",
            "CONTACT_MIN_FILL_SECONDS": "0",
            "CONTACT_RESPONSE_BUDGET_MS": str(self.budget_ms),
        }
        if row.dependency == "siteverify":
            environ["CONTACT_TURNSTILE_SECRET_PARAMETER"] = TURNSTILE_PARAMETER
            environ["CONTACT_TURNSTILE_SITEVERIFY_URL"] = proxy.url + SITEVERIFY_PATH
        return Settings.from_env(environ=environ)

    def measure(self, row: DependencyRow, *, count: int, slow_seconds: float) -> str:
        """One dependency row."""
        resources = self.fresh()
        self.sandbox.reset()
        self.sandbox.set_rate_limit(None)
        if row.dependency == "sqs":
            self.sandbox.set_faults(failure_rate=1.0, failure_status=500, failure_name="internal_server_error")
        upstream = self.standin.origin if row.dependency == "siteverify" else self.aws
        degraded = Mode.slow(slow_seconds) if row.mode == "slow" else Mode.hang()
        built: list[Components] = []
        measured = Measured()
        with BrownoutProxy(upstream) as proxy:
            variables = {ENDPOINT_VARIABLES[row.dependency]: proxy.url} if row.dependency in ENDPOINT_VARIABLES else {}
            with environment(variables):
                settings = self.settings(row, resources, proxy)

                def instance() -> Components:
                    components = build_components(dataclasses.replace(settings, log_level="CRITICAL"), sink=ListSink())
                    built.append(components)
                    return components

                turnstile = row.dependency == "siteverify"
                try:
                    if row.temperature == "warm":
                        warm = instance()
                        warm_ip = "198.51.100.250"
                        warm_up = submit_event(token_of(warm, warm_ip), warm_ip, "warm-up", turnstile=turnstile)
                        warm.api.handle(warm_up)
                        ips = [f"198.51.100.{number + 1}" for number in range(count)]
                        tokens = [token_of(warm, ip) for ip in ips] if row.route == SUBMIT else []
                        proxy.set_mode(degraded)
                        for number, ip in enumerate(ips):
                            if row.route == SUBMIT:
                                request = submit_event(tokens[number], ip, f"{number} {row.name}", turnstile=turnstile)
                            else:
                                request = token_event(ip)
                            measured.add(*timed(warm, request))
                    else:
                        for number in range(count):
                            ip = f"198.51.100.{number + 1}"
                            proxy.set_mode(Mode.healthy())
                            token = token_of(instance(), ip) if row.route == SUBMIT else ""
                            proxy.set_mode(degraded)
                            cold = instance()
                            if row.route == SUBMIT:
                                request = submit_event(token, ip, f"{number} {row.name}", turnstile=turnstile)
                            else:
                                request = token_event(ip)
                            measured.add(*timed(cold, request))
                finally:
                    proxy.set_mode(Mode.healthy())
                    for components in built:
                        components.client.close()
                        if components.captcha is not None:
                            components.captcha.close()
        label = f"{DEPENDENCY_NAMES[row.dependency]} {row.mode} {row.temperature} {row.route}"
        return measured.line(label, self.budget_ms)


def measure_dependencies(rows: Sequence[DependencyRow], *, count: int, budget_ms: int, slow_seconds: float) -> None:
    """Start what the dependency rows share, then measure each; one line per row."""
    fake_aws = {
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    with (
        running_emulator() as aws,
        environment({**fake_aws, "AWS_ENDPOINT_URL": aws}),
        ResendSandbox(api_key=API_KEY, rate_limit_per_second=None) as sandbox,
        SiteverifyStandIn(("127.0.0.1", 0), hostname="www.example.com", action="contact") as standin,
    ):
        bench = DependencyBench(aws, sandbox, standin, budget_ms=budget_ms)
        for row in rows:
            print(bench.measure(row, count=count, slow_seconds=slow_seconds), flush=True)


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above zero, got {raw!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python loadtests/fault_table.py", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=_positive_int, default=20, help="requests per row (default 20)")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="WORD",
        help="measure the rows whose name holds every WORD (e.g. provider; dynamodb warm; ssm cold token)",
    )
    parser.add_argument(
        "--budget-ms",
        type=_positive_int,
        default=4000,
        help="the dependency rows' CONTACT_RESPONSE_BUDGET_MS (default 4000; the provider rows use the default)",
    )
    parser.add_argument(
        "--slow-seconds", type=positive_seconds, default=10.0, help="how late a slow dependency answers (default 10)"
    )
    parser.add_argument("--list", action="store_true", help="print the rows' names and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the selected rows; print one line per row."""
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [name for name in every_row_name() if selected(name, args.only)]
    if args.list:
        print("\n".join(names))
        return 0
    if not names:
        parser.error(f"--only {' '.join(args.only)} matches no row; the rows are:\n  " + "\n  ".join(every_row_name()))
    for fault in FAULTS:
        if selected(provider_row_name(fault), args.only):
            print(measure_provider(fault, count=args.count), flush=True)
    rows = [row for row in dependency_rows() if selected(row.name, args.only)]
    if rows:
        measure_dependencies(rows, count=args.count, budget_ms=args.budget_ms, slow_seconds=args.slow_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
