"""Short headless Locust runs against a local stack, side by side: the scenarios pass; an impossible limit fails."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contact_sdk.devtools.local.console import Console
from contact_sdk.devtools.local.stack import LocalStack, StackOptions, StackPorts
from tests.conftest import LOOPBACK_AWS_CALL_TIMEOUT_MS

pytestmark = pytest.mark.integration

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"
#: The stack's fill-time rule, and how long the run's visitors take (above it, as a person's would be): shorter
#: than production's 3 s and Locust's 3.5 s, so a few seconds of run hold several rounds of every scenario.
MIN_FILL_SECONDS = 1
VISITOR_FILL_SECONDS = 1.5


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """A stack with the production rate limit, a 1 s fill-time rule and a little provider latency."""
    options = StackOptions(
        aws_call_timeout_ms=LOOPBACK_AWS_CALL_TIMEOUT_MS,
        ports=StackPorts.any(),
        min_fill_seconds=MIN_FILL_SECONDS,
        sandbox_latency_ms=(20, 60),
        access_log=False,
        service_log_level="ERROR",
    )
    with LocalStack(options, console=Console(io.StringIO())) as running:
        yield running


class LocustRun:
    """One headless Locust run against the stack, started now and awaited by :meth:`result`."""

    def __init__(self, stack: LocalStack, reports: Path, *extra: str, seconds: int) -> None:
        self.summary = reports / "summary.json"
        self.output = reports / "output.txt"
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "--host",
            stack.api_url,
            "--users",
            "8",
            "--spawn-rate",
            "8",
            "--run-time",
            f"{seconds}s",
            "--stop-timeout",
            "5",
            "--site-origin",
            stack.page_url,
            "--fill-seconds",
            str(VISITOR_FILL_SECONDS),
            "--csv",
            str(reports / "smoke"),
            "--html",
            str(reports / "smoke.html"),
            "--summary-file",
            str(self.summary),
            *extra,
        ]
        with self.output.open("w") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, text=True)

    def result(self) -> tuple[int, dict[str, object], str]:
        """Its exit status, the summary file and its output (killed after 60 s)."""
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        return code, json.loads(self.summary.read_text()), self.output.read_text()


@pytest.fixture(scope="module")
def runs(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LocustRun]]:
    """Both runs at once (each visitor has its own loopback address, so they do not share a rate limit)."""
    started = {
        "smoke": LocustRun(stack, tmp_path_factory.mktemp("smoke"), seconds=7),
        "impossible": LocustRun(stack, tmp_path_factory.mktemp("impossible"), "--p95-limit-ms", "1", seconds=4),
    }
    yield started
    for run in started.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()


def test_smoke_run_passes_with_every_scenario_judged(runs: dict[str, LocustRun]) -> None:
    """Every scenario's expected answers count as successes, the abuser meets its 429, and reports are written."""
    run = runs["smoke"]
    code, summary, output = run.result()
    assert code == 0, output[-3000:]
    assert summary["passed"] is True
    assert summary["failure_ratio"] == 0, output[-3000:]
    assert isinstance(summary["legitimate_submissions"], int) and summary["legitimate_submissions"] > 0
    reports = run.summary.parent
    stats = (reports / "smoke_stats.csv").read_text()
    for name in (
        "POST /contact [legitimate]",
        "POST /contact [abuser]",
        "POST /contact [cross-origin]",
        "burst abuser is rate limited",
    ):
        assert name in stats
    assert (reports / "smoke.html").stat().st_size > 0
    assert "load check: PASSED" in output


def test_an_impossible_p95_limit_fails_the_run(runs: dict[str, LocustRun]) -> None:
    """``--p95-limit-ms 1`` makes the run exit 1 and say why."""
    code, summary, output = runs["impossible"].result()
    assert code == 1, output[-3000:]
    assert summary["passed"] is False
    assert "load check: FAILED: p95 of legitimate submissions" in output


def _run_with_loadtests(program: str) -> str:
    """Run ``program`` in a fresh interpreter with ``loadtests/`` importable (Locust patches the stdlib on import)."""
    code = f"import sys; sys.path.insert(0, {str(LOCUSTFILE.parent)!r})\n{program}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("", "FAILED: failure ratio 0.0300 is above the limit 0.01"),
        ("--max-failure-ratio 0.05", "PASSED"),
        ("--max-failure-ratio 0.05 --p95-limit-ms 150", "FAILED: p95 of legitimate submissions 200 ms reached the"),
    ],
    ids=["the default 1 %", "--max-failure-ratio 0.05", "and --p95-limit-ms 150"],
)
def test_the_run_is_judged_by_the_limits_given(options: str, expected: str) -> None:
    """100 requests, 3 of them failed (3 %), the legitimate submissions' p95 200 ms: the default limit of 1 % of
    failures fails the run; ``--max-failure-ratio 0.05`` lets it pass; a p95 limit under 200 ms fails it again.
    The options are parsed by Locust's own parser, the stats are Locust's, and the verdict is the one the run
    prints when it quits."""
    program = f"""
import locust.argument_parser as arguments
from locust.env import Environment
import locustfile
options = arguments.get_parser().parse_args(["-f", locustfile.__file__, *{options.split()!r}])
environment = Environment(parsed_options=options)
stats = environment.stats
for i in range(80):
    stats.log_request("POST", locustfile.LEGITIMATE_SUBMISSION, 100 if i < 70 else 200, 40)
for i in range(20):
    stats.log_request("GET", "GET /contact/token", 20, 80)
for i in range(3):
    stats.log_error("GET", "GET /contact/token", "500 from the target")
passed, figures = locustfile.verdict(environment)
print("PASSED" if passed else "FAILED: " + "; ".join(figures["reasons"]))
"""
    assert _run_with_loadtests(program).startswith(expected)


def test_legitimate_payloads_are_never_judged_spam() -> None:
    """The visitors' submissions pass the service's spam rules, so the measured ones really reach the provider."""
    program = """
import random, time
from locustfile import legitimate_submission
from contact_sdk.security.spam import judge
rng = random.Random(7)
spam = 0
for _ in range(1000):
    p = legitimate_submission(rng)
    verdict = judge(honeypot=p["website"], form_started_at_ms=p["formStartedAt"], message=p["message"],
                    name=p["name"], subject=p.get("subject"), now_ms=int(time.time() * 1000))
    spam += verdict.is_spam
print(spam)
"""
    assert _run_with_loadtests(program) == "0"


def test_staging_shape_ramps_holds_soaks_and_stops() -> None:
    """The shape climbs linearly to the peak, holds it, drops to the soak level, then ends the run."""
    program = """
from staging_shape import users_at
kw = dict(peak=100, ramp=100, hold=50, soak_users=40, soak=50)
print([users_at(t, **kw) for t in (0, 50, 99, 100, 149, 150, 199, 200)])
"""
    assert _run_with_loadtests(program) == "[1, 50, 99, 100, 100, 40, 40, None]"


def test_the_staging_shape_follows_its_options() -> None:
    """``--peak-users 10 --ramp-seconds 20 --peak-seconds 30 --soak-users 4 --soak-seconds 40 --shape-spawn-rate 2``,
    parsed by Locust's parser: 9 s in, 5 users (half-way up the 20 s ramp; the defaults would want 3); 35 s in, the
    peak of 10; 70 s in, the soak's 4; after 90 s, the end. Worked out by hand from the options."""
    program = """
import time
from types import SimpleNamespace
import locust.argument_parser as arguments
import staging_shape
argv = "--peak-users 10 --ramp-seconds 20 --peak-seconds 30 --soak-users 4 --soak-seconds 40 --shape-spawn-rate 2"
options = arguments.get_parser().parse_args(["-f", staging_shape.__file__, *argv.split()])
shape = staging_shape.StagingShape()
shape.runner = SimpleNamespace(environment=SimpleNamespace(parsed_options=options))
ticks = []
for elapsed in (9, 35, 70, 95):
    shape.start_time = time.perf_counter() - elapsed
    ticks.append(shape.tick())
print(ticks)
"""
    assert _run_with_loadtests(program) == "[(5, 2.0), (10, 2.0), (4, 2.0), None]"


def test_the_scenarios_read_the_targets_identity_from_their_options() -> None:
    """The options parsed by Locust's parser reach every simulated user when it starts: the site's origin, the
    attacker's, the target's rate limit (the abuser's burst is that plus 3), the visitors' fill time, and whether
    each visitor gets its own loopback address (``off``: one for all, as against a remote target)."""
    program = """
import locust.argument_parser as arguments
from locust.env import Environment
import locustfile
argv = ["--site-origin", "https://www.example.com/", "--attacker-origin", "https://evil.example"]
argv += ["--target-rate-limit", "9", "--fill-seconds", "4.5", "--source-addresses", "off", "--host", "http://127.0.0.1:9"]
options = arguments.get_parser().parse_args(["-f", locustfile.__file__, *argv])
environment = Environment(user_classes=[locustfile.BurstAbuser], parsed_options=options, host=options.host)
locustfile.BurstAbuser.host = options.host  # what the runner does with --host before it starts users
user = locustfile.BurstAbuser(environment)
user.on_start()
print(user.site_origin, user.attacker_origin, user.rate_limit, user.fill_seconds, user.own_addresses)
"""
    assert _run_with_loadtests(program).splitlines()[-1] == "https://www.example.com https://evil.example 9 4.5 False"
