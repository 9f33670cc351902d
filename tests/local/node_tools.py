"""The Node tools the browser tests use, installed from the lock file in ``tests/local/node``.

``axe-core`` is injected into the pages the browser drives (0 accessibility violations is a test);
``terser`` minifies the snippet exactly as ``docs/browser-snippet.md`` says, to hold its size. Both are
pinned by ``package-lock.json`` and installed with ``npm ci`` once, when ``node_modules`` is missing or
holds other versions. Without ``node``/``npm`` the tests that need them are skipped, with the reason.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["NODE_DIR", "axe_source", "node_tools", "terser"]

NODE_DIR = Path(__file__).resolve().parent / "node"
_PINNED: dict[str, str] = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]


def _installed(name: str) -> str | None:
    manifest = NODE_DIR / "node_modules" / name / "package.json"
    return str(json.loads(manifest.read_text())["version"]) if manifest.exists() else None


def node_tools() -> Path:
    """``tests/local/node/node_modules`` with the pinned versions in it; skips without node and npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for axe-core and terser (CI has them)")
    # Under pytest-xdist two workers may get here at once; two npm ci runs in one folder corrupt it.
    with (NODE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if any(_installed(name) != version for name, version in _PINNED.items()):
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
    return NODE_DIR / "node_modules"


def axe_source() -> str:
    """The text of ``axe.min.js``, to evaluate in a page."""
    return (node_tools() / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


def terser(path: Path) -> bytes:
    """``terser <path> -c -m``: the file minified as the docs measure it (the file first: ``-m`` takes options)."""
    binary = node_tools() / ".bin" / "terser"
    done = subprocess.run([str(binary), str(path), "-c", "-m"], capture_output=True, timeout=120, check=True)
    return done.stdout
