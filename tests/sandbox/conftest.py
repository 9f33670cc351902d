"""Fixtures for the Resend sandbox tests: a manual clock, a running sandbox, and clients for it."""

from __future__ import annotations

import fcntl
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.sandbox import ResendSandbox

API_KEY = "re_test_key"
START = 1_700_000_000.0
# Building an httpx.Client loads the CA bundle (~40 ms) even for http:// URLs; one context serves every test.
_TLS = ssl.create_default_context()


class ManualClock:
    """A clock that only moves when told to: epoch seconds, thread-safe."""

    def __init__(self, now: float = START) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self._now += seconds


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock starting at a fixed epoch."""
    return ManualClock()


@pytest.fixture
def make_sandbox(clock: ManualClock) -> Iterator[Callable[..., ResendSandbox]]:
    """Start sandboxes with the manual clock, the test key and no rate limit; all stopped at teardown."""
    started: list[ResendSandbox] = []

    def make(**kwargs: Any) -> ResendSandbox:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("clock", clock)
        # The manual clock never leaves its first one-second window, so Resend's default rate limit
        # would refuse every request past the fifth; tests of the limit pass rate_limit_per_second.
        kwargs.setdefault("rate_limit_per_second", None)
        sandbox = ResendSandbox(**kwargs).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., ResendSandbox]) -> ResendSandbox:
    """A running sandbox with no faults, the manual clock and the test key."""
    return make_sandbox()


@pytest.fixture
def client(sandbox: ResendSandbox) -> Iterator[httpx.Client]:
    """An httpx client for the sandbox, authorized with the test key."""
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5, verify=_TLS
    ) as http:
        yield http


def _email(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "from": "Contact form <noreply@example.com>",
        "to": ["delivered@resend.dev"],
        "subject": "Hello",
        "html": "<p>Hi</p>",
        "text": "Hi",
    }
    body.update(overrides)
    return body


@pytest.fixture
def email() -> Callable[..., dict[str, object]]:
    """Builds a valid ``POST /emails`` body: ``email(subject="Other")``."""
    return _email


# -- the official Node SDK ----------------------------------------------------------------------

NODE_DIR = Path(__file__).parent / "node"
SDK_VERSION = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["resend"]


@pytest.fixture(scope="module")
def node_sdk() -> Path:
    """The Node SDK installed from the lock file; skips without node/npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to drive the Resend Node SDK (CI has them)")
    installed = NODE_DIR / "node_modules" / "resend" / "package.json"
    # Under pytest-xdist both workers may get here at once; two npm ci runs in one folder leave a
    # half-written node_modules (seen: a truncated module, "Unexpected end of input"). One at a time.
    with (NODE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists() or json.loads(installed.read_text())["version"] != SDK_VERSION:
            _npm_ci(npm)
    return Path(node)


def _npm_ci(npm: str) -> None:
    """Install the locked Node SDK into the test's own folder."""
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci in {NODE_DIR} failed ({done.returncode}): {done.stderr[-2000:]}")
