"""``tools/build_lambda.py``'s options that shape what pip is asked: where the wheels are kept, and whether the
versions are this environment's. pip itself is not run: the build stops at the offline install, before anything is
downloaded or installed (the real build is tests/infra's)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

import pytest

from tools import build_lambda


class _StoppedError(Exception):
    """Raised in place of pip's install: the build goes no further."""


def pip_runs(monkeypatch: pytest.MonkeyPatch, argv: Sequence[str]) -> list[tuple[list[str], str]]:
    """The pip commands ``build_lambda.main(argv)`` runs, each with the text of the constraints file it names, up to
    and including the offline install."""
    runs: list[tuple[list[str], str]] = []

    def run(command: Sequence[str]) -> None:
        constraints = Path(command[list(command).index("--constraint") + 1]).read_text(encoding="utf-8")
        runs.append((list(command), constraints))
        if "install" in command:
            raise _StoppedError

    monkeypatch.setattr(build_lambda, "_run", run)
    with pytest.raises(_StoppedError):
        build_lambda.main(argv)
    return runs


def value(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_wheel_cache_is_where_the_wheels_are_downloaded_and_installed_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--wheel-cache DIR`` (not build/lambda-wheels): DIR is made, pip downloads the aarch64 wheels into it, then
    installs from it alone, offline."""
    cache = tmp_path / "kept" / "wheels"
    (download, _), (install, _) = pip_runs(
        monkeypatch, ["--wheel-cache", str(cache), "--output", str(tmp_path / "fn.zip")]
    )
    assert download[3] == "download" and value(download, "--dest") == str(cache)
    assert install[3] == "install" and value(install, "--find-links") == str(cache) and "--no-index" in install
    assert cache.is_dir()


def test_no_pin_lets_pip_pick_the_newest_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """By default every distribution installed here constrains pip (boto3 at the version the tests run against);
    with ``--no-pin`` the constraints file is empty, for both the download and the install."""
    argv = ["--wheel-cache", str(tmp_path), "--output", str(tmp_path / "fn.zip")]
    pinned = pip_runs(monkeypatch, argv)
    assert all(f"boto3=={importlib.metadata.version('boto3')}" in text.splitlines() for _, text in pinned)
    unpinned = pip_runs(monkeypatch, [*argv, "--no-pin"])
    assert len(unpinned) == 2
    assert all(text.strip() == "" for _, text in unpinned)


def test_a_wheel_cache_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 before anything is built, naming the option (pip would otherwise fail deep in the build)."""
    taken = tmp_path / "wheels"
    taken.write_text("not a directory", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        build_lambda.main(["--wheel-cache", str(taken), "--output", str(tmp_path / "fn.zip")])
    assert exited.value.code == 2
    assert f"--wheel-cache {taken}: not a directory" in capsys.readouterr().err
