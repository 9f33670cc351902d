"""``loadtests/run_local.py``'s provider-fault modes: the run time, the fault settings, the drain accounting."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

import httpx
import pytest

from contact_sdk.devtools.brownout import BrownoutProxy, Mode
from contact_sdk.devtools.sandbox import ResendSandbox
from tests.clocks import ManualClock

RUN_LOCAL = Path(__file__).resolve().parents[2] / "loadtests" / "run_local.py"
API_KEY = "re_run_local_modes"


@pytest.fixture(scope="module")
def run_local() -> ModuleType:
    """The script as a module (it is not a package member)."""
    spec = importlib.util.spec_from_file_location("run_local_under_test", RUN_LOCAL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("raw", "seconds"), [("45s", 45), ("2m", 120), ("1h30m", 5400), ("90", 90)])
def test_locust_run_times_are_read_in_seconds(run_local: ModuleType, raw: str, seconds: int) -> None:
    """Locust's run-time syntax becomes seconds (the outage window must outlast the run)."""
    assert run_local.run_seconds(raw) == seconds


@pytest.mark.parametrize("raw", ["", "soon", "10x", "5m later"])
def test_a_bad_run_time_is_refused(run_local: ModuleType, raw: str) -> None:
    """Anything else is an argument error naming the value."""
    with pytest.raises(argparse.ArgumentTypeError, match="not a Locust run time"):
        run_local.run_seconds(raw)


def test_the_fault_modes_are_the_local_stacks(run_local: ModuleType) -> None:
    """``--provider-fault`` offers the local stack's three faults, and the stack is what holds them."""
    for name in ("slow", "down", "flaky"):
        assert run_local.build_parser().parse_args(["--provider-fault", name]).provider_fault == name
    with pytest.raises(SystemExit):
        run_local.build_parser().parse_args(["--provider-fault", "outage"])


def test_every_option_reaches_the_stack_or_the_locust_run(run_local: ModuleType, tmp_path: Path) -> None:
    """Each option away from its default: the stack gets the sandbox's latency and limit, the service's rate limit
    and response budget, the fault and the brownout; Locust gets the users, spawn rate, run time, the target's
    rate limit (so the abuser expects its 429 where the stack gives it), the report paths and whatever follows
    ``--``."""
    argv = ["--users", "7", "--spawn-rate", "3", "--run-time", "2m", "--latency-ms", "10-20"]
    argv += ["--provider-fault", "flaky", "--brownout", "dynamodb:slow:2", "--response-budget-ms", "2500"]
    argv += ["--rate-limit", "9", "--provider-rate-limit", "4", "--name", "mine", "--reports", str(tmp_path)]
    argv += ["--", "--p95-limit-ms", "1234"]
    args = run_local.build_parser().parse_args(argv)
    options = run_local.stack_options(args)
    assert (options.sandbox_latency_ms, options.sandbox_rate_limit, options.rate_limit) == ((10, 20), 4, 9)
    assert (options.provider_fault, options.response_budget_ms) == ("flaky", 2500)
    assert options.brownout is not None and options.brownout[0] == "dynamodb"
    assert options.brownout[1] == Mode.slow(2)
    command = run_local.locust_command(
        args, api_url="http://127.0.0.1:1", page_url="http://127.0.0.1:2", reports=tmp_path
    )
    flags = {token: command[i + 1] for i, token in enumerate(command[:-1]) if token.startswith("--")}
    assert (flags["--users"], flags["--spawn-rate"], flags["--run-time"]) == ("7", "3.0", "2m")
    assert (flags["--target-rate-limit"], flags["--p95-limit-ms"]) == ("9", "1234")
    assert (flags["--host"], flags["--site-origin"]) == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert flags["--csv"] == str(tmp_path / "mine")
    assert flags["--summary-file"] == str(tmp_path / "mine.json")


@pytest.mark.integration
def test_the_drain_check_counts_emails_and_duplicate_contents_in_the_sandbox(run_local: ModuleType) -> None:
    """Emails are counted from the sandbox's inbox; the same message stored under two keys is a duplicate."""
    with ResendSandbox(api_key=API_KEY) as sandbox:
        assert run_local.count_emails(sandbox.url) == (0, 0)
        with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            for key, text in (("k1", "hello"), ("k2", "hello"), ("k3", "another")):
                body = {"from": "a@example.com", "to": ["b@example.com"], "subject": "s", "text": text}
                assert client.post("/emails", json=body, headers={"Idempotency-Key": key}).status_code == 200
        assert run_local.count_emails(sandbox.url) == (3, 1)
        started = time.monotonic()
        assert run_local.await_drain(sandbox.url, 3, timeout=30)[:2] == (3, 1)
        assert time.monotonic() - started < 5  # already there: no wait


def test_a_siteverify_brownout_is_refused_since_the_scenarios_send_no_turnstile_token(
    run_local: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 before anything starts, pointing at the fault table instead."""
    with pytest.raises(SystemExit) as exited:
        run_local.main(["--brownout", "siteverify:hang"])
    assert exited.value.code == 2
    assert "loadtests/fault_table.py --only siteverify" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--provider-failure-rate", "1.5"], "argument --provider-failure-rate: expected a share from 0 to 1"),
        (["--provider-failure-rate", "-0.1"], "argument --provider-failure-rate: expected a share from 0 to 1"),
        (["--provider-failure-rate", "nan"], "argument --provider-failure-rate: expected a share from 0 to 1"),
        (["--provider-failure-rate", "often"], "argument --provider-failure-rate: expected a share from 0 to 1"),
        (["--drain-timeout", "-1"], "argument --drain-timeout: expected seconds, 0 or more, got '-1'"),
        (["--drain-timeout", "inf"], "argument --drain-timeout: expected seconds, 0 or more, got 'inf'"),
        (["--drain-timeout", "soon"], "argument --drain-timeout: expected seconds, got 'soon'"),
    ],
)
def test_a_failure_rate_outside_0_to_1_or_a_negative_drain_timeout_is_refused(
    run_local: ModuleType, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 from the command line, before any stack starts, naming the option and why (a rate of 1.5 would
    otherwise reach the sandbox only once the stack is up, and a negative timeout would silently skip the drain
    check's wait)."""
    with pytest.raises(SystemExit) as exited:
        run_local.build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def _send(sandbox: ResendSandbox) -> int:
    body = {"from": "a@example.com", "to": ["b@example.com"], "subject": "s", "text": "t"}
    return httpx.post(f"{sandbox.url}/emails", json=body, headers={"Authorization": f"Bearer {API_KEY}"}).status_code


@pytest.mark.integration
def test_provider_failure_rate_is_the_share_of_sends_the_sandbox_answers_500(run_local: ModuleType) -> None:
    """Without the option the stack's sandbox is left as it was; ``--provider-failure-rate 0.25`` has it fail a
    quarter of sends with a 500, beside the fault it already holds (the stack's ``--provider-fault``); at ``1``
    every send is a 500."""
    parse = run_local.build_parser().parse_args
    with ResendSandbox(api_key=API_KEY, rate_limit_per_second=None) as sandbox:
        sandbox.set_faults(latency_ms=[1, 2])  # what the stack holds from the start
        run_local.hold_provider_failures(parse([]), sandbox.url)
        assert (sandbox.faults()["failure_rate"], _send(sandbox)) == (0.0, 200)
        run_local.hold_provider_failures(parse(["--provider-failure-rate", "0.25"]), sandbox.url)
        faults = httpx.get(f"{sandbox.url}/_sandbox/faults").json()
        assert (faults["failure_rate"], faults["failure_status"], faults["latency_ms"]) == (0.25, 500, [1.0, 2.0])
        run_local.hold_provider_failures(parse(["--provider-failure-rate", "1"]), sandbox.url)
        assert [_send(sandbox) for _ in range(3)] == [500, 500, 500]


REF_A, REF_B, REF_C, REF_D = (f"{n:08d}-0000-4000-8000-000000000000" for n in (1, 2, 3, 4))


@dataclass(frozen=True)
class AfterBrownout:
    """What Locust counted, what the sandbox holds, and the verdict expected."""

    accepted: tuple[int, int]  # (sent, queued) answers
    references: list[str]  # accepted references in the summary
    emailed: list[str]  # one email per entry, carrying that reference
    lost: int
    twice: int
    passed: bool


@pytest.mark.integration
@pytest.mark.parametrize(
    "case",
    [
        AfterBrownout((1, 1), [REF_A, REF_B], [REF_A, REF_B], lost=0, twice=0, passed=True),
        AfterBrownout((2, 1), [REF_A, REF_B, REF_C], [REF_A, REF_B, REF_D], lost=1, twice=0, passed=False),
        AfterBrownout((2, 0), [REF_A, REF_B], [REF_A, REF_B, REF_B], lost=0, twice=1, passed=False),
        AfterBrownout((2, 1), [REF_A, REF_B], [REF_A, REF_B], lost=0, twice=0, passed=False),
    ],
    ids=["all-delivered", "one-lost-behind-an-unanswered-one", "one-twice", "an-answer-without-reference"],
)
def test_after_a_brownout_every_accepted_submission_is_in_exactly_one_email(
    run_local: ModuleType, tmp_path: Path, case: AfterBrownout
) -> None:
    """The proxy turns healthy; each accepted reference from Locust's summary must be in one sandbox email."""
    summary = tmp_path / "run.json"
    counted = {"accepted_sent": case.accepted[0], "accepted_queued": case.accepted[1]}
    summary.write_text(json.dumps({**counted, "accepted_references": case.references}), encoding="utf-8")
    with ResendSandbox(api_key=API_KEY) as sandbox, BrownoutProxy(sandbox.url) as proxy:
        with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            for number, reference in enumerate(case.emailed):
                text = f"Hello! Reference {reference}. Thanks."
                body = {"from": "a@example.com", "to": ["b@example.com"], "subject": "s", "text": text}
                assert client.post("/emails", json=body, headers={"Idempotency-Key": f"k{number}"}).status_code == 200
        proxy.set_mode(Mode.hang())
        status = run_local._after_the_brownout(proxy, sandbox.url, summary, 0)
        assert proxy.mode == Mode.healthy()
    assert status == (0 if case.passed else 1)
    written = json.loads(summary.read_text(encoding="utf-8"))["after_brownout"]
    assert (written["accepted"], written["lost"], written["emailed_twice"], written["passed"]) == (
        sum(case.accepted),
        case.lost,
        case.twice,
        case.passed,
    )
    assert (written["emails"], written["calls"]) == (len(case.emailed), 0)


@pytest.mark.integration
@pytest.mark.parametrize(
    "fault", [["--provider-fault", "down"], ["--brownout", "sqs:hang"]], ids=["outage", "brownout"]
)
def test_drain_timeout_is_how_long_the_check_waits_for_the_outbox(
    run_local: ModuleType, tmp_path: Path, fault: list[str]
) -> None:
    """``--drain-timeout 12``: two accepted submissions never reach the sandbox; after the outage as after the
    brownout, the check looks every 5 s until 12 s have passed on the run's clock (three waits, not the default
    600 s's 120), then fails the run and says how long it waited."""
    summary = tmp_path / "run.json"
    accepted = {"accepted_sent": 0, "accepted_queued": 2, "accepted_references": [REF_A, REF_B]}
    summary.write_text(json.dumps(accepted), encoding="utf-8")
    args = run_local.build_parser().parse_args([*fault, "--drain-timeout", "12"])
    clock = ManualClock(advance_on_sleep=True)
    with ResendSandbox(api_key=API_KEY) as sandbox, BrownoutProxy(sandbox.url) as proxy:
        stack = SimpleNamespace(sandbox_url=sandbox.url, brownout=proxy if args.brownout is not None else None)
        assert run_local.after_the_run(args, stack, summary, clock=clock) == 1
    assert clock.sleeps == [5, 5, 5]
    written = json.loads(summary.read_text(encoding="utf-8"))
    [check] = [written[key] for key in ("after_outage", "after_brownout") if key in written]
    assert (check["drain_seconds"], check["passed"]) == (15.0, False)


def test_throughput_is_requests_per_core_and_per_cpu_second(run_local: ModuleType) -> None:
    """1,200 requests at 20 req/s on 2 cores, using 30 + 20 + 10 CPU seconds: 10 req/s per core on the wall clock,
    20 requests per CPU second for the stack and 40 for the API alone, at a p95 under 1 s."""
    cpu = run_local.CpuSeconds(api=30.0, stack_children=20.0, locust=10.0)
    figures = run_local.throughput({"all_requests": 1200, "all_rps": 20.0, "p95_ms": 640}, cpu, cores=2)
    assert figures["rps_per_core_wall_clock"] == 10.0
    assert figures["requests_per_cpu_second"] == 20.0
    assert figures["api_requests_per_cpu_second"] == 40.0
    assert figures["cpu_seconds"] == {"api": 30.0, "emulator_and_sandbox": 20.0, "locust": 10.0}
    assert figures["p95_under_1_s"] is True
    report = run_local.report_throughput(figures)
    assert "10.0 req/s per core" in report and "round 1: 18 req/s per core" in report
    assert "20.0 requests per CPU second" in report and "p95 640 ms: under 1 s" in report


def test_a_run_past_saturation_says_its_figures_do_not_count(run_local: ModuleType) -> None:
    """A p95 of 1,800 ms is not under 1 s: the report says the figures are past saturation."""
    cpu = run_local.CpuSeconds(api=10.0, stack_children=5.0, locust=5.0)
    figures = run_local.throughput({"all_requests": 600, "all_rps": 10.0, "p95_ms": 1800}, cpu, cores=2)
    assert figures["p95_under_1_s"] is False
    assert "NOT under 1 s" in run_local.report_throughput(figures)


def test_a_run_that_used_no_cpu_has_no_per_cpu_figure(run_local: ModuleType) -> None:
    """No CPU measured (no request served) gives no per-CPU-second figure rather than a division by zero."""
    figures = run_local.throughput({"all_requests": 0, "all_rps": 0.0}, run_local.CpuSeconds(0.0, 0.0, 0.0), cores=2)
    assert figures["requests_per_cpu_second"] is None and figures["api_requests_per_cpu_second"] is None
    assert figures["p95_under_1_s"] is False
