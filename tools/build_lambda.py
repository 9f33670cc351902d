"""Build the Lambda deployment artifact: a reproducible zip for Python 3.13 on arm64 (Graviton).

Usage, from the repository root::

    .venv/bin/python tools/build_lambda.py                        # -> dist/lambda-arm64.zip + size report
    .venv/bin/python tools/build_lambda.py --output /tmp/fn.zip --wheel-cache .venv/lambda-wheels

What goes in:

* the runtime dependencies of ``pyproject.toml`` (``[project].dependencies``), resolved by pip for
  ``manylinux2014_aarch64`` / CPython 3.13 with ``--only-binary=:all:`` (never a local sdist build,
  which would compile for the build machine), each **pinned to the version installed in the build
  environment** so the artifact holds what the test suite ran against;
* ``handler.py`` and the modules of the ``contact_sdk`` package that ``handler.py`` imports, directly or
  through each other (found by reading their ``import`` statements), with ``py.typed``.

Bytecode: ``/var/task`` is read-only, so without ``.pyc`` files every cold start that is not restored
from a SnapStart snapshot recompiles everything it imports (measured: ``import handler`` 713 ms instead
of 167 ms, boto3 376 ms instead of 79 ms). So the build compiles the artifact with a CPython **3.13**
interpreter (``LAMBDA_PYTHON``, else ``python3.13`` on the PATH, else pyenv's), with
``--invalidation-mode unchecked-hash`` (no timestamps: reproducible) and the staging directory
replaced by ``/var/task`` in the embedded paths. Without a 3.13 interpreter it builds without
bytecode and the report says so.

What stays out, so the function ships the runtime alone (measured: 28.6 MiB / 4156 files before, see
docs/performance.md for after):

* every module of ours the handler does not import: the operator tools (the CLI, its commands, DNS and
  CloudWatch authoring) and the development tools (the Resend sandbox, the local stack) -- nothing the
  function runs needs them, and shipping HTTP servers that imitate the provider and the API to production
  only adds attack surface;
* distributions reachable only through a dependency the runtime never imports (:data:`UNUSED_DEPENDENCIES`:
  aiohttp and its family, which aws-embedded-metrics needs only for an EC2 metadata probe);
* botocore's API models of every service but the ones the runtime calls (:data:`BOTOCORE_SERVICES`): the
  models are 28 MB of the 58 MB unzipped, and the functions talk to five services. Bundling a trimmed
  botocore rather than relying on the Lambda runtime's copy keeps the version the tests ran against;
* tests, bytecode of any other Python, console scripts (``bin/``).

``--target host`` builds the same tree for the machine running the build from the dependencies installed
in the build environment (copied, not downloaded: the versions the tests ran), so a test can serve
requests from the artifact in a fresh interpreter before anything is deployed.

Reproducible: entries sorted, every timestamp fixed (``SOURCE_DATE_EPOCH`` if set, else
1980-01-01, the zip format's epoch), permissions fixed (0644), one compression level. The same
inputs give a byte-identical zip; the report prints its SHA-256.
"""

from __future__ import annotations

import argparse
import ast
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

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent

PYTHON_VERSION = "3.13"
PLATFORMS = ("manylinux2014_aarch64",)
#: Lambda's limits for a zip deployment: 50 MB uploaded directly, 250 MB unzipped.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
#: The package's own files that belong in the artifact (mirrors pyproject's package-data).
PACKAGE_SUFFIXES = (".py", ".typed", ".json", ".html")
#: The entry point whose imports decide which of the package's modules ship.
ENTRY_POINT = "handler.py"
#: Dependencies the runtime never imports, with why; they and what only they need stay out.
UNUSED_DEPENDENCIES = {
    "aiohttp": "aws-embedded-metrics imports it only to probe EC2 metadata; contact_sdk.metrics loads its pure modules",
    "dnspython": "email-validator imports it only for deliverability checks, which contact_sdk.addresses turns off",
}
#: The AWS services the runtime calls (SSM Parameter Store, DynamoDB, SQS; Lambda and CodeDeploy from the canary
#: deploy's pre-traffic hook, contact_sdk.deployment_check): botocore keeps only their models.
BOTOCORE_SERVICES = ("codedeploy", "dynamodb", "lambda", "sqs", "ssm")
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


def copy_installed_dependencies(target: Path, requirements: Sequence[str]) -> None:
    """For a host build: copy the runtime dependencies as installed in this environment (what the tests run
    against), file by file from their ``RECORD``; no download, no resolver."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in importlib.metadata.distributions()}
    environment = marker_environment(host=True)
    copied: set[str] = set()
    pending = [Requirement(requirement) for requirement in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in copied or (requirement.marker is not None and not requirement.marker.evaluate(environment)):
            continue
        if name not in installed:
            raise SystemExit(f"{requirement.name} is a runtime dependency but is not installed here")
        copied.add(name)
        distribution = installed[name]
        for entry in distribution.files or []:
            if entry.parts[0] == ".." or "__pycache__" in entry.parts:
                continue  # console scripts and bytecode of this interpreter
            destination = target / entry
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(str(distribution.locate_file(entry))), destination)
        pending += [Requirement(dependency) for dependency in distribution.requires or []]


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


def runtime_modules(root: Path = ROOT) -> list[Path]:
    """The package's modules that ``handler.py`` imports, directly or through each other, with the
    ``__init__`` of every package on the way, relative to ``root``. Imports are read, not executed: a
    deferred import inside a function counts like one at the top of a module."""
    package_dir = root / "contact_sdk"
    found: set[Path] = set()
    pending = [root / ENTRY_POINT]
    while pending:
        source = pending.pop()
        if source in found:
            continue
        found.add(source)
        for module in _imported_modules(source, root):
            parts = module.split(".")
            if parts[0] != "contact_sdk":
                continue
            for depth in range(1, len(parts) + 1):
                base = root.joinpath(*parts[:depth])
                for candidate in (base / "__init__.py", base.with_suffix(".py")):
                    if candidate.is_file() and candidate not in found:
                        pending.append(candidate)
    if (package_dir / "__init__.py") not in found:
        raise SystemExit(f"{ENTRY_POINT} does not import contact_sdk: nothing of the package would ship")
    return sorted(path.relative_to(root) for path in found)


def _imported_modules(source: Path, root: Path) -> Iterable[str]:
    """Every module name an ``import`` statement in ``source`` names (relative imports resolved)."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    module = ".".join(source.relative_to(root).with_suffix("").parts)
    # The package relative imports start from: the module's parent, or the package an __init__ stands for.
    package = module.removesuffix(".__init__") if source.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def copy_project(target: Path, root: Path = ROOT) -> None:
    """Copy ``handler.py`` and the package modules it imports (with ``py.typed``) into ``target``."""
    handler = root / ENTRY_POINT
    if not handler.is_file():
        raise SystemExit(f"no {handler}: the Lambda entry point is missing")
    for relative in [*runtime_modules(root), Path("contact_sdk/py.typed")]:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, destination)


def prune_unused_distributions(
    target: Path, unused: Iterable[str], requirements: Sequence[str], marker_environment: dict[str, str]
) -> list[str]:
    """Remove the distributions installed in ``target`` that only ``unused`` dependencies need.

    Walks the ``Requires-Dist`` graph from ``requirements`` (markers evaluated for the target; extras not
    followed), never entering an unused dependency; what the walk does not reach is deleted file by file from
    its ``RECORD``. Returns the removed distributions' names.
    """
    installed: dict[str, importlib.metadata.Distribution] = {
        canonicalize_name(d.metadata["Name"]): d for d in importlib.metadata.distributions(path=[str(target)])
    }
    skipped: set[str] = {canonicalize_name(name) for name in unused}
    reached: set[str] = set()
    pending = [Requirement(requirement) for requirement in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in reached or name in skipped or name not in installed:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({**marker_environment, "extra": ""}):
            continue
        reached.add(name)
        pending += [Requirement(dependency) for dependency in installed[name].requires or []]
    removed: list[str] = sorted(other for other in installed if other not in reached)
    for unreached in removed:
        distribution = installed[unreached]
        for entry in distribution.files or []:
            path = Path(str(distribution.locate_file(entry)))
            if path.is_file():
                path.unlink()
    for directory in sorted(p for p in target.iterdir() if p.is_dir()):
        if not any(f.is_file() for f in directory.rglob("*")):
            shutil.rmtree(directory)
    return removed


def marker_environment(*, host: bool) -> dict[str, str]:
    """Environment markers of the interpreter the artifact runs on: this one, or Lambda's arm64 CPython 3.13."""
    environment = {key: str(value) for key, value in default_environment().items()}
    if not host:
        environment.update(
            python_version=PYTHON_VERSION,
            python_full_version=f"{PYTHON_VERSION}.0",
            implementation_name="cpython",
            platform_python_implementation="CPython",
            sys_platform="linux",
            platform_system="Linux",
            platform_machine="aarch64",
            os_name="posix",
        )
    return environment


def trim_botocore(target: Path, services: Sequence[str] = BOTOCORE_SERVICES) -> None:
    """Keep botocore's shared data files and the API models of ``services`` only."""
    data = target / "botocore" / "data"
    if not data.is_dir():
        raise SystemExit(f"no botocore data at {data}: is boto3 still a runtime dependency?")
    missing = [service for service in services if not (data / service).is_dir()]
    if missing:
        raise SystemExit(f"botocore has no model for {missing}: check BOTOCORE_SERVICES")
    for entry in data.iterdir():
        if entry.is_dir() and entry.name not in services:
            shutil.rmtree(entry)


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
    host: bool = False,
) -> BuildReport:
    """Build the artifact at ``output`` and return its report. Fails if it exceeds Lambda's limits.

    ``host`` builds for this machine's platform and Python instead of Lambda's (for tests that run it here).
    """
    requirements = list(requirements if requirements is not None else runtime_requirements(root / "pyproject.toml"))
    pins = environment_pins() if pin_to_environment else []
    with tempfile.TemporaryDirectory(prefix="lambda-build-") as staging_dir:
        staging = Path(staging_dir)
        if host:
            copy_installed_dependencies(staging, requirements)
        else:
            install_dependencies(staging, wheel_cache, requirements, pins)
        prune_unused_distributions(staging, UNUSED_DEPENDENCIES, requirements, marker_environment(host=host))
        trim_botocore(staging)
        copy_project(staging, root)
        prune(staging)
        python = sys.executable if host else find_python313()
        if python is not None:
            compile_bytecode(staging, python)
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
    parser.add_argument(
        "--target",
        choices=("lambda", "host"),
        default="lambda",
        help="lambda: arm64 / CPython 3.13 (default); host: this machine's platform and Python, for local tests",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.wheel_cache.exists() and not args.wheel_cache.is_dir():
        parser.error(f"--wheel-cache {args.wheel_cache}: not a directory")
    started = time.monotonic()
    built = build(
        args.output.resolve(),
        wheel_cache=args.wheel_cache.resolve(),
        pin_to_environment=not args.no_pin,
        host=args.target == "host",
    )
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
