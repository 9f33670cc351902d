"""``loadtests/run_local.py``'s provider-fault modes: the run time, the fault settings, the drain accounting."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from contact_sdk.devtools.sandbox import ResendSandbox

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
