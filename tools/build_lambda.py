"""Build the Lambda deployment artifact: a reproducible zip for Python 3.13 on arm64 (Graviton).

Usage, from the repository root::

    .venv/bin/python tools/build_lambda.py                        # -> dist/lambda-arm64.zip + size report
    .venv/bin/python tools/build_lambda.py --output /tmp/fn.zip --wheel-cache .venv/lambda-wheels

What goes in:

* the runtime dependencies of ``pyproject.toml`` (``[project].dependencies``), resolved by pip for
  ``manylinux2014_aarch64`` / CPython 3.13 with ``--only-binary=:all:`` (never a local sdist build,
  which would compile for the build machine), each **pinned to the version installed in the build
  environment** so the artifact holds what the test suite ran against;
* ``handler.py`` and the ``contact_sdk`` package (``.py``, ``py.typed`` and the package's data files).

Bytecode: ``/var/task`` is read-only, so without ``.pyc`` files every cold start that is not restored
from a SnapStart snapshot recompiles everything it imports (measured: ``import handler`` 713 ms instead
of 167 ms, boto3 376 ms instead of 79 ms). So the build compiles the artifact with a CPython **3.13**
interpreter (``LAMBDA_PYTHON``, else ``python3.13`` on the PATH, else pyenv's), with
``--invalidation-mode unchecked-hash`` (no timestamps: reproducible) and the staging directory
replaced by ``/var/task`` in the embedded paths. Without a 3.13 interpreter it builds without
bytecode and the report says so.

What stays out: tests, bytecode of any other Python, console scripts (``bin/``), and
``contact_sdk/sandbox`` and ``contact_sdk/local`` -- the fake Resend API and the loopback stack (emulator,
local API and demo page servers) are development tools, nothing the handler imports needs them, and
shipping HTTP servers that imitate the provider and the API to production only adds attack surface.

Reproducible: entries sorted, every timestamp fixed (``SOURCE_DATE_EPOCH`` if set, else
1980-01-01, the zip format's epoch), permissions fixed (0644), one compression level. The same
inputs give a byte-identical zip; the report prints its SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PYTHON_VERSION = "3.13"
PLATFORMS = ("manylinux2014_aarch64",)
#: Lambda's limits for a zip deployment: 50 MB uploaded directly, 250 MB unzipped.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
#: The package's own files that belong in the artifact (mirrors pyproject's package-data).
PACKAGE_SUFFIXES = (".py", ".typed", ".json", ".html")
#: Sub-packages of contact_sdk left out of the artifact (see the module docstring).
EXCLUDED_SUBPACKAGES = ("sandbox", "local")
_EXCLUDED_DIRS = {"__pycache__", "tests", "test"}
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What was built: for the size report and for tests."""

    path: Path
    sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    by_top_level: dict[str, int]

    def render(self, top: int = 12) -> str:
        """A human-readable size report."""
        lines = [
            f"artifact  {self.path}",
            f"sha256    {self.sha256}",
            f"zipped    {_mb(self.zipped_bytes)}  (limit {_mb(MAX_ZIPPED_BYTES)} for a direct upload)",
            f"unzipped  {_mb(self.unzipped_bytes)}  (limit {_mb(MAX_UNZIPPED_BYTES)})",
            f"files     {self.files}",
            "largest top-level entries (unzipped):",
        ]
        ranked = sorted(self.by_top_level.items(), key=lambda item: (-item[1], item[0]))
        lines += [f"  {_mb(size):>10}  {name}" for name, size in ranked[:top]]
        return "\n".join(lines)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.2f} MB"


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The project's runtime dependencies, as written in ``pyproject.toml``."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return list(project.get("dependencies", []))


def environment_pins() -> list[str]:
    """``name==version`` for every distribution installed here: pip's constraints for the build."""
    pins = set()
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name and distribution.version and name.lower() != "contact-sdk":
            pins.add(f"{re.sub(r'[-_.]+', '-', name).lower()}=={distribution.version}")
    return sorted(pins)


def install_dependencies(target: Path, wheel_cache: Path, requirements: Sequence[str], pins: Sequence[str]) -> None:
    """Download the aarch64/cp313 wheels into ``wheel_cache`` (kept between builds), then install offline."""
    wheel_cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        platform_args = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
        common = [
            *platform_args,
            "--only-binary=:all:",
            "--python-version",
            PYTHON_VERSION,
            "--implementation",
            "cp",
            "--constraint",
            str(constraints),
            "--disable-pip-version-check",
            "--quiet",
        ]
        pip = [sys.executable, "-m", "pip"]
        if not _cache_satisfies(wheel_cache, requirements, common):
            _run([*pip, "download", *common, "--dest", str(wheel_cache), *requirements])
        _run(
            [
                *pip,
                "install",
                *common,
                "--no-index",
                "--find-links",
                str(wheel_cache),
                "--target",
                str(target),
                "--no-compile",
                "--no-user",
                *requirements,
            ]
        )


def _cache_satisfies(wheel_cache: Path, requirements: Sequence[str], common: Sequence[str]) -> bool:
    """Whether the cached wheels already resolve everything (then the build needs no network)."""
    if not any(wheel_cache.glob("*.whl")):
        return False
    with tempfile.TemporaryDirectory() as probe:
        result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                *common,
                "--no-index",
                "--find-links",
                str(wheel_cache),
                "--target",
                probe,
                "--dry-run",
                *requirements,
            ],
            capture_output=True,
            check=False,
        )
    return result.returncode == 0


def _run(command: Sequence[str]) -> None:
    result = subprocess.run(command, check=False)  # noqa: S603 - our own interpreter, fixed arguments
    if result.returncode != 0:
        raise SystemExit(f"build failed: {' '.join(command[:5])} ... exited with {result.returncode}")


def copy_project(target: Path, root: Path = ROOT) -> None:
    """Copy ``handler.py`` and the ``contact_sdk`` package (its shippable files only) into ``target``."""
    handler = root / "handler.py"
    if not handler.is_file():
        raise SystemExit(f"no {handler}: the Lambda entry point is missing")
    shutil.copy2(handler, target / "handler.py")
    package = root / "contact_sdk"
    for source in sorted(package.rglob("*")):
        relative = source.relative_to(package)
        if not source.is_file() or source.suffix not in PACKAGE_SUFFIXES:
            continue
        if relative.parts[0] in EXCLUDED_SUBPACKAGES or _EXCLUDED_DIRS & set(relative.parts):
            continue
        destination = target / "contact_sdk" / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def prune(target: Path) -> None:
    """Remove what the runtime never needs: console scripts, bytecode caches, packaged test suites."""
    shutil.rmtree(target / "bin", ignore_errors=True)
    for directory in sorted(target.rglob("*"), reverse=True):
        if directory.is_dir() and directory.name in _EXCLUDED_DIRS:
            shutil.rmtree(directory)
    for compiled in target.rglob("*.pyc"):
        compiled.unlink()


def find_python313() -> str | None:
    """A CPython 3.13 interpreter to compile the artifact's bytecode with, or ``None``."""
    candidates = [os.environ.get("LAMBDA_PYTHON"), shutil.which("python3.13")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))
    for candidate in candidates:
        if not candidate:
            continue
        try:
            version = subprocess.run(  # noqa: S603 - an interpreter we located ourselves
                [candidate, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            continue
        if version == ["cpython", "3", "13"]:
            return candidate
    return None


def compile_bytecode(target: Path, python: str) -> None:
    """Compile every module for CPython 3.13, reproducibly, with ``/var/task`` as the embedded path."""
    _run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(target),
            "-p",
            "/var/task",
            str(target),
        ]
    )


def _zip_date() -> tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return _ZIP_EPOCH
    moment = time.gmtime(max(int(epoch), 315532800))  # the zip format cannot hold dates before 1980
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, moment.tm_sec)


def write_zip(source: Path, output: Path) -> None:
    """Zip ``source``'s files reproducibly: sorted names, fixed dates and permissions, no directory entries."""
    files = sorted(
        (path for path in source.rglob("*") if path.is_file()), key=lambda p: p.relative_to(source).as_posix()
    )
    date = _zip_date()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(output.suffix + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=date)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the permission bits below are honoured
            info.external_attr = (0o100644 & 0xFFFF) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(output)


def report(output: Path) -> BuildReport:
    """Measure an artifact: hash, sizes, and unzipped size per top-level entry."""
    by_top_level: dict[str, int] = {}
    with zipfile.ZipFile(output) as archive:
        entries = archive.infolist()
        for entry in entries:
            top = entry.filename.split("/", 1)[0]
            by_top_level[top] = by_top_level.get(top, 0) + entry.file_size
    return BuildReport(
        path=output,
        sha256=hashlib.sha256(output.read_bytes()).hexdigest(),
        zipped_bytes=output.stat().st_size,
        unzipped_bytes=sum(by_top_level.values()),
        files=len(entries),
        by_top_level=by_top_level,
    )


def build(
    output: Path,
    *,
    wheel_cache: Path,
    requirements: Iterable[str] | None = None,
    pin_to_environment: bool = True,
    root: Path = ROOT,
) -> BuildReport:
    """Build the artifact at ``output`` and return its report. Fails if it exceeds Lambda's limits."""
    requirements = list(requirements if requirements is not None else runtime_requirements(root / "pyproject.toml"))
    pins = environment_pins() if pin_to_environment else []
    with tempfile.TemporaryDirectory(prefix="lambda-build-") as staging_dir:
        staging = Path(staging_dir)
        install_dependencies(staging, wheel_cache, requirements, pins)
        copy_project(staging, root)
        prune(staging)
        python313 = find_python313()
        if python313 is not None:
            compile_bytecode(staging, python313)
        else:
            print("build_lambda: no CPython 3.13 found (set LAMBDA_PYTHON); building without bytecode", file=sys.stderr)
        write_zip(staging, output)
    built = report(output)
    if built.zipped_bytes > MAX_ZIPPED_BYTES or built.unzipped_bytes > MAX_UNZIPPED_BYTES:
        raise SystemExit(f"artifact exceeds Lambda's limits:\n{built.render()}")
    return built


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: build, print the size report (and ``--json`` for machines)."""
    parser = argparse.ArgumentParser(description="Build the arm64 / Python 3.13 Lambda zip reproducibly.")
    parser.add_argument("--output", type=Path, default=ROOT / "dist" / "lambda-arm64.zip")
    parser.add_argument(
        "--wheel-cache",
        type=Path,
        default=ROOT / "build" / "lambda-wheels",
        help="downloaded aarch64 wheels, kept between builds (default: build/lambda-wheels)",
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="resolve the newest versions instead of this environment's"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    started = time.monotonic()
    built = build(args.output.resolve(), wheel_cache=args.wheel_cache.resolve(), pin_to_environment=not args.no_pin)
    if args.json:
        payload = {
            "path": str(built.path),
            "sha256": built.sha256,
            "zippedBytes": built.zipped_bytes,
            "unzippedBytes": built.unzipped_bytes,
            "files": built.files,
            "byTopLevel": dict(sorted(built.by_top_level.items())),
            "seconds": round(time.monotonic() - started, 1),
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(built.render() + f"\nbuilt in {time.monotonic() - started:.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
