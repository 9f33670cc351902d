"""``python -m contact_sdk.devtools.local``'s command line: values reach the stack, bad ones stop it with a reason."""

from __future__ import annotations

import pytest

from contact_sdk.devtools.brownout import Mode
from contact_sdk.devtools.local.__main__ import build_parser, main, stack_options


def test_the_response_budget_comes_from_the_flag_or_the_environment() -> None:
    """``--response-budget-ms`` wins; without it ``CONTACT_RESPONSE_BUDGET_MS``; without both, 4000 as in production."""
    assert build_parser({}).parse_args(["--response-budget-ms", "1500"]).response_budget_ms == 1500
    assert build_parser({"CONTACT_RESPONSE_BUDGET_MS": "2500"}).parse_args([]).response_budget_ms == 2500
    assert build_parser({}).parse_args([]).response_budget_ms == 4000


def test_the_aws_call_timeout_comes_from_the_flag_or_the_environment() -> None:
    """``--aws-call-timeout-ms`` wins; without it ``CONTACT_AWS_CALL_TIMEOUT_MS``; without both, production's 1500;
    the stack hands it to the service; 0 or more than 29000 is refused."""
    assert build_parser({}).parse_args(["--aws-call-timeout-ms", "4000"]).aws_call_timeout_ms == 4000
    assert build_parser({"CONTACT_AWS_CALL_TIMEOUT_MS": "2500"}).parse_args([]).aws_call_timeout_ms == 2500
    assert stack_options(build_parser({}).parse_args([])).aws_call_timeout_ms == 1500
    for bad in ("0", "30000", "soon"):
        with pytest.raises(SystemExit):
            build_parser({}).parse_args(["--aws-call-timeout-ms", bad])


def test_the_parsed_values_are_what_the_stack_runs_with() -> None:
    """Every flag lands in the stack's options (and from there in the API's environment)."""
    argv = ["--response-budget-ms", "1500", "--min-fill-seconds", "0", "--rate-limit", "7", "--quiet"]
    argv += ["--rate-limit-window-seconds", "60", "--token-rate-limit", "9", "--sandbox-latency-ms", "5-10"]
    argv += ["--sandbox-rate-limit", "2", "--turnstile", "fail", "--verbose", "--api-port", "0"]
    argv += ["--host", "127.0.0.2", "--sandbox-port", "0", "--aws-port", "0", "--aws-call-timeout-ms", "4000"]
    options = stack_options(build_parser({}).parse_args(argv))
    assert (options.response_budget_ms, options.min_fill_seconds, options.rate_limit) == (1500, 0, 7)
    assert (options.rate_limit_window_seconds, options.token_rate_limit) == (60, 9)
    assert (options.sandbox_latency_ms, options.sandbox_rate_limit, options.turnstile) == ((5, 10), 2, "fail")
    assert (options.access_log, options.service_log_level, options.ports.api) == (False, "INFO", 0)
    assert (options.host, options.ports.sandbox, options.ports.aws, options.aws_call_timeout_ms) == (
        "127.0.0.2",
        0,
        0,
        4000,
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0", "above zero"),
        ("-5", "above zero"),
        ("1.5", "whole number"),
        ("soon", "whole number"),
        ("29001", "at most 29000 (API Gateway's integration timeout)"),
    ],
)
def test_a_bad_response_budget_is_refused_with_its_reason(
    raw: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 and a line naming the flag and why, from the flag or from the environment alike."""
    with pytest.raises(SystemExit) as exited:
        build_parser({}).parse_args(["--response-budget-ms", raw])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--response-budget-ms" in error and reason in error
    with pytest.raises(SystemExit):
        build_parser({"CONTACT_RESPONSE_BUDGET_MS": raw}).parse_args([])


def test_the_largest_budget_api_gateway_allows_is_accepted() -> None:
    """29 s, API Gateway's integration timeout, is the edge: allowed."""
    assert build_parser({}).parse_args(["--response-budget-ms", "29000"]).response_budget_ms == 29000


def test_allowed_origins_come_from_the_flags_or_the_environment() -> None:
    """``--allowed-origin`` repeats and replaces ``CONTACT_ALLOWED_ORIGINS``; each in its canonical form."""
    assert build_parser({}).parse_args([]).allowed_origins == ()
    from_env = build_parser({"CONTACT_ALLOWED_ORIGINS": "http://LocalHost:3000, https://site.example/"})
    assert from_env.parse_args([]).allowed_origins == ("http://localhost:3000", "https://site.example")
    flags = ["--allowed-origin", "http://localhost:5173", "--allowed-origin", "https://site.example:443"]
    assert from_env.parse_args(flags).allowed_origins == ("http://localhost:5173", "https://site.example")
    options = stack_options(build_parser({}).parse_args(flags))
    assert options.allowed_origins == ("http://localhost:5173", "https://site.example")


def test_the_provider_fault_comes_from_the_flag_or_the_environment() -> None:
    """``--provider-fault`` wins; without it ``CONTACT_LOCAL_PROVIDER_FAULT``; without both, none."""
    assert build_parser({}).parse_args([]).provider_fault is None
    assert build_parser({"CONTACT_LOCAL_PROVIDER_FAULT": "flaky"}).parse_args([]).provider_fault == "flaky"
    chosen = build_parser({"CONTACT_LOCAL_PROVIDER_FAULT": "flaky"}).parse_args(["--provider-fault", "slow"])
    assert stack_options(chosen).provider_fault == "slow"


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["--allowed-origin", "http://localhost:3000/contact"], {}, "'http://localhost:3000/contact' is not an origin"),
        (["--allowed-origin", "*"], {}, "'*' is not an origin"),
        ([], {"CONTACT_ALLOWED_ORIGINS": "http://ok.example,ftp://files.example"}, "'ftp://files.example'"),
        (["--provider-fault", "outage"], {}, "expected one of slow, down, flaky, got 'outage'"),
        ([], {"CONTACT_LOCAL_PROVIDER_FAULT": "SLOW"}, "got 'SLOW'"),
    ],
)
def test_a_bad_origin_or_fault_is_refused_with_one_clear_line(
    argv: list[str], environ: dict[str, str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 and a line naming the flag, its variable, and what was wrong with the value."""
    with pytest.raises(SystemExit) as exited:
        build_parser(environ).parse_args(argv)
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert expected in error
    assert ("--allowed-origin" in error and "CONTACT_ALLOWED_ORIGINS" in error) or (
        "--provider-fault" in error and "CONTACT_LOCAL_PROVIDER_FAULT" in error
    )


def test_a_bad_turnstile_mode_from_the_environment_is_refused_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``CONTACT_LOCAL_TURNSTILE=maybe`` (argparse does not check a default's choices): exit 2 with the reason."""
    monkeypatch.setenv("CONTACT_LOCAL_TURNSTILE", "maybe")
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "--turnstile must be one of pass, fail, spent, not 'maybe'" in capsys.readouterr().err


def test_a_brownout_comes_from_the_flag_or_the_environment() -> None:
    """``--brownout dynamodb:slow:10`` (or ``CONTACT_LOCAL_BROWNOUT``) reaches the stack as (dependency, mode)."""
    options = stack_options(build_parser({}).parse_args(["--brownout", "dynamodb:slow:10"]))
    assert options.brownout == ("dynamodb", Mode.slow(10))
    from_environment = stack_options(build_parser({"CONTACT_LOCAL_BROWNOUT": "sqs:hang"}).parse_args([]))
    assert from_environment.brownout == ("sqs", Mode.hang())
    assert stack_options(build_parser({}).parse_args([])).brownout is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("dynamodb", "expected DEPENDENCY:MODE"),
        ("kinesis:hang", "expected DEPENDENCY:MODE with DEPENDENCY one of dynamodb, sqs, ssm, siteverify, resend"),
        ("sqs:down", "expected healthy, hang or slow:SECONDS"),
        ("ssm:slow:0", "above zero"),
        ("ssm:slow:later", "above zero"),
    ],
)
def test_a_bad_brownout_is_refused_with_its_reason(raw: str, reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 and a line naming the flag and what is wrong with the value."""
    with pytest.raises(SystemExit) as exited:
        build_parser({}).parse_args(["--brownout", raw])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--brownout" in error and reason in error
