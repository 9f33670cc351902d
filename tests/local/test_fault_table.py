"""``loadtests/fault_table.py``: which rows it has, how it picks them, what it refuses, and one row end to end."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from contact_sdk.devtools.brownout import Mode
from contact_sdk.settings import Settings

FAULT_TABLE = Path(__file__).resolve().parents[2] / "loadtests" / "fault_table.py"


@pytest.fixture(scope="module")
def fault_table() -> ModuleType:
    """The script as a module (it is not a package member)."""
    spec = importlib.util.spec_from_file_location("fault_table_under_test", FAULT_TABLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_dependency_is_measured_slow_and_hanging_warm_and_cold(
    fault_table: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's rows: 4 provider faults kept; 4 dependencies x 2 modes x 2 temperatures for the submission,
    and the token route for the two dependencies it has (DynamoDB's limiter, Parameter Store's CSRF secret)."""
    assert fault_table.main(["--list"]) == 0
    names = capsys.readouterr().out.splitlines()
    assert names[:4] == [
        "provider: every call 8 s slow",
        "provider: every call 500",
        "provider: calls hang",
        "provider: 429 with Retry-After: 30",
    ]
    submit = {name for name in names if name.endswith("POST /contact")}
    token = {name for name in names if name.endswith("GET /contact/token")}
    assert len(names) == 4 + 16 + 8
    for dependency in ("dynamodb", "sqs", "ssm", "siteverify"):
        for mode in ("slow", "hang"):
            for temperature in ("warm", "cold"):
                assert f"{dependency} {mode} {temperature} POST /contact" in submit
                if dependency in ("dynamodb", "ssm"):
                    assert f"{dependency} {mode} {temperature} GET /contact/token" in token
    assert len(token) == 8


def test_only_picks_the_rows_that_hold_every_word(fault_table: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    """``--only dynamodb cold token`` is two rows; ``--only provider`` the four provider rows."""
    fault_table.main(["--list", "--only", "dynamodb", "cold", "token"])
    assert capsys.readouterr().out.splitlines() == [
        "dynamodb slow cold GET /contact/token",
        "dynamodb hang cold GET /contact/token",
    ]
    fault_table.main(["--list", "--only", "PROVIDER"])
    assert len(capsys.readouterr().out.splitlines()) == 4


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--only", "kinesis"], "--only kinesis matches no row; the rows are:"),
        (["--count", "0"], "above zero"),
        (["--count", "many"], "whole number"),
        (["--slow-seconds", "-1"], "argument --slow-seconds: expected seconds above zero, got '-1'"),
        (["--slow-seconds", "inf"], "argument --slow-seconds: expected seconds above zero"),
        (["--slow-seconds", "soon"], "argument --slow-seconds: expected seconds, got 'soon'"),
        (["--budget-ms", "0"], "above zero"),
    ],
)
def test_bad_arguments_are_refused_with_their_reason(
    fault_table: ModuleType, argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2, nothing measured, and a line that says what is wrong."""
    with pytest.raises(SystemExit) as exited:
        fault_table.main(argv)
    assert exited.value.code == 2
    assert reason in capsys.readouterr().err


class _Beside:
    """Stands in for the sandbox or the siteverify stand-in the dependency rows start beside the emulator."""

    url = origin = "http://127.0.0.1:9"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> _Beside:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def reset(self) -> None:
        pass

    def set_rate_limit(self, limit: int | None) -> None:
        pass

    def set_faults(self, *args: Any, **kwargs: Any) -> None:
        pass


def test_slow_seconds_is_how_late_the_brownout_answers(
    fault_table: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--slow-seconds 3.5``: while a slow row is measured, the proxy in front of the dependency holds every answer
    3.5 s (not the default 10), and is healthy again afterwards. Everything but the command line and the row's
    steps stands in: no emulator, no service, only the proxy's modes are watched."""
    modes: list[Mode] = []

    class Proxy:
        url = "http://127.0.0.1:8"

        def __init__(self, upstream: str) -> None:
            pass

        def __enter__(self) -> Proxy:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def set_mode(self, mode: Mode) -> None:
            modes.append(mode)

    @contextlib.contextmanager
    def emulator() -> Iterator[str]:
        yield "http://127.0.0.1:7"

    token = {"statusCode": 200, "body": json.dumps({"token": "a-token"})}
    service = SimpleNamespace(
        api=SimpleNamespace(handle=lambda request: token), client=SimpleNamespace(close=lambda: None), captcha=None
    )
    monkeypatch.setattr(fault_table, "running_emulator", emulator)
    monkeypatch.setattr(fault_table, "ResendSandbox", _Beside)
    monkeypatch.setattr(fault_table, "SiteverifyStandIn", _Beside)
    monkeypatch.setattr(fault_table, "BrownoutProxy", Proxy)
    monkeypatch.setattr(fault_table, "build_components", lambda settings, sink: service)
    monkeypatch.setattr(fault_table.DependencyBench, "fresh", lambda bench: None)
    monkeypatch.setattr(fault_table.DependencyBench, "settings", lambda bench, *_: Settings.from_env(environ={}))
    argv = ["--only", "dynamodb", "slow", "warm", "POST", "--count", "2", "--slow-seconds", "3.5"]
    assert fault_table.main(argv) == 0
    assert capsys.readouterr().out.startswith("DynamoDB slow warm POST /contact")
    assert modes == [Mode.slow(3.5), Mode.healthy()]


def test_p95_is_the_nearest_rank(fault_table: ModuleType) -> None:
    """Of 1..20 the 19th value; of one value, that value; order does not matter."""
    assert fault_table.p95([float(n) for n in range(20, 0, -1)]) == 19.0
    assert fault_table.p95([0.5]) == 0.5
    assert fault_table.p95([3.0, 1.0, 2.0]) == 3.0


@pytest.mark.integration
def test_a_dependency_row_runs_end_to_end() -> None:
    """One row as a user runs it, against the real emulator, proxy and service: the count and the statuses, and
    the limit the row is held to from ``--budget-ms 2000`` (not the default 4000)."""
    result = subprocess.run(
        [
            sys.executable,
            str(FAULT_TABLE),
            "--only",
            "ssm",
            "slow",
            "warm",
            "token",
            "--count",
            "2",
            "--budget-ms",
            "2000",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [line] = result.stdout.splitlines()
    assert line.startswith("Parameter Store slow warm GET /contact/token")
    assert "n=2 statuses={200: 2}" in line
    assert "budget+0.5s=2.5s" in line
