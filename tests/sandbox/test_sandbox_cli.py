"""The ``resend-sandbox`` command line: starts on a chosen port, refuses bad arguments and taken ports."""

from __future__ import annotations

import base64
import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contact_sdk.devtools.sandbox.__main__ import build_parser, main

pytestmark = pytest.mark.integration


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_taken_port_exits_2_with_a_clear_message(taken_port: int, capsys: pytest.CaptureFixture[str]):
    """A port already in use ends the command with status 2 and says which address failed."""
    assert main(["--port", str(taken_port)]) == 2
    error = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{taken_port}" in error
    assert "in use" in error


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--host", "192.0.2.1"], "non-loopback"),
        (["--latency-ms", "300-100"], "latency_ms"),
        (["--step", "teapot"], "teapot"),
        (["--failure-rate", "2"], "failure_rate"),
        (["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", "nope"], "whsec_"),
        (["--port", "eighty"], "invalid int"),
        (["--idempotency-on-refusal", "forget"], "invalid choice: 'forget'"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]):
    """A bad argument ends the command with status 2 and names the problem."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("-0.5", "expected seconds, 0 or more, got '-0.5'"),
        ("nan", "expected seconds, 0 or more, got 'nan'"),
        ("inf", "expected seconds, 0 or more, got 'inf'"),
        ("soon", "expected seconds, got 'soon'"),
    ],
)
def test_a_webhook_delay_that_is_not_seconds_is_refused(
    raw: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 from the command line, naming the option (a negative delay used to be taken, with or without
    webhooks)."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--webhook-delay", raw])
    assert exited.value.code == 2
    assert f"argument --webhook-delay: {said}" in capsys.readouterr().err


def test_command_serves_until_sigterm():
    """``python -m contact_sdk.devtools.sandbox`` prints its URL, serves start-up faults and settings, and exits 0
    on SIGTERM."""
    command = [
        sys.executable,
        "-m",
        "contact_sdk.devtools.sandbox",
        "--port",
        "0",
        "--api-key",
        "re_cli",
        "--step",
        "503",
        "--idempotency-on-refusal",
        "record",
        "--require-verified-domain",
        "--domain",
        "example.com:verified",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            banner = process.stdout.readline() if process.stdout else ""
            url = banner.split(" on ", 1)[1].split(" ", 1)[0]
            headers = {"Authorization": "Bearer re_cli"}
            body = {"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"}
            assert httpx.post(f"{url}/emails", json=body, headers=headers).status_code == 503
            assert httpx.post(f"{url}/emails", json=body, headers=headers).status_code == 200
            settings = httpx.get(f"{url}/_sandbox/settings").json()
            assert (settings["idempotency_on_refusal"], settings["require_verified_domain"]) == ("record", True)
            elsewhere = {**body, "from": "a@example.org"}
            assert httpx.post(f"{url}/emails", json=elsewhere, headers=headers).status_code == 403
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=5)
    assert process.returncode == 0


@contextlib.contextmanager
def running(*argv: str) -> Iterator[tuple[str, list[str]]]:
    """``python -m contact_sdk.devtools.sandbox --port 0 *argv``: its URL (from the banner) while it runs, and a
    list that holds what it printed (both streams) once it has stopped."""
    command = [sys.executable, "-m", "contact_sdk.devtools.sandbox", "--port", "0", *argv]
    printed: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            banner = process.stdout.readline() if process.stdout else ""
            yield banner.split(" on ", 1)[1].split(" ", 1)[0], printed
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=5)
            printed.extend((out + err).splitlines())


def test_every_fault_and_setting_option_is_what_the_sandbox_runs_with() -> None:
    """Each option given a value other than its default is what ``GET /_sandbox/faults`` and ``/settings``
    report; ``--outage-seconds`` answers 503 at once, and ``--log-requests`` prints one line per request."""
    options = ["--rate-limit", "7", "--strict", "--latency-ms", "1-2", "--failure-rate", "0.25"]
    options += ["--failure-status", "502", "--failure-name", "bad_gateway", "--failure-body", "html"]
    options += ["--timeout-rate", "0.1", "--timeout-seconds", "4", "--timeout-accept", "--outage-seconds", "600"]
    options += ["--log-requests"]
    with running(*options) as (url, printed):
        faults = httpx.get(f"{url}/_sandbox/faults").json()
        settings = httpx.get(f"{url}/_sandbox/settings").json()
        body = {"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"}
        outage = httpx.post(f"{url}/emails", json=body, headers={"Authorization": "Bearer re_test_key"})
    assert faults["latency_ms"] == [1.0, 2.0]
    assert (faults["failure_rate"], faults["failure_status"], faults["failure_name"]) == (0.25, 502, "bad_gateway")
    assert faults["failure_body"] == "html"
    assert (faults["timeout_rate"], faults["timeout_seconds"], faults["timeout_accept"]) == (0.1, 4.0, True)
    assert 0 < faults["outage_remaining_seconds"] <= 600
    assert (settings["rate_limit_per_second"], settings["strict"]) == (7, True)
    assert outage.status_code == 503
    assert sum("GET /_sandbox/" in line for line in printed) == 2


def test_host_is_where_the_sandbox_listens() -> None:
    """``--host 127.0.0.2`` (a loopback address, not the default 127.0.0.1): the banner's URL is on it, and the
    sandbox answers there."""
    with running("--host", "127.0.0.2") as (url, _):
        assert url.startswith("http://127.0.0.2:")
        assert httpx.get(f"{url}/_sandbox/health").json() == {"status": "ok"}


def test_webhook_delay_is_how_far_apart_the_sandbox_sends_events() -> None:
    """``--webhook-delay 0.05`` (not the default 0.2) is the pace ``GET /_sandbox/settings`` reports for the
    webhooks to ``--webhook-url``."""
    secret = "whsec_" + base64.b64encode(b"sandbox-cli-webhook-secret-32-by").decode()
    hooks = ["--webhook-url", "http://127.0.0.1:9/contact/events", "--webhook-secret", secret]
    with running(*hooks, "--webhook-delay", "0.05") as (url, _):
        settings = httpx.get(f"{url}/_sandbox/settings").json()
    assert settings["webhook_delay_seconds"] == 0.05


def test_the_same_seed_fails_the_same_sends() -> None:
    """``--seed 42 --failure-rate 0.5``, twice: the same twenty sends fail in the same places (a run a developer can
    repeat); ``--seed 7`` fails others."""

    def statuses(seed: str) -> list[int]:
        with running("--seed", seed, "--failure-rate", "0.5", "--rate-limit", "0") as (url, _):
            body = {"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"}
            headers = {"Authorization": "Bearer re_test_key"}
            return [httpx.post(f"{url}/emails", json=body, headers=headers).status_code for _ in range(20)]

    first = statuses("42")
    assert set(first) == {200, 500}
    assert statuses("42") == first
    assert statuses("7") != first


def test_console_script_is_installed():
    """The ``resend-sandbox`` console script declared in pyproject runs and shows its help."""
    script = Path(sys.executable).parent / "resend-sandbox"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 0
    assert "--allow-non-loopback" in result.stdout
