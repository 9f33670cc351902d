"""The ``resend-sandbox`` command line: starts on a chosen port, refuses bad arguments and taken ports."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contact_sdk.devtools.sandbox.__main__ import main

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


def test_console_script_is_installed():
    """The ``resend-sandbox`` console script declared in pyproject runs and shows its help."""
    script = Path(sys.executable).parent / "resend-sandbox"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 0
    assert "--allow-non-loopback" in result.stdout
