"""The Lambda artifact from tools/build_lambda.py, unpacked: what is in it, what is not, and how it is zipped."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.infra.conftest import BUILD_TOOL, BuiltArtifact


def find_python313() -> str | None:
    """The build tool's own search for a CPython 3.13 interpreter."""
    spec = importlib.util.spec_from_file_location("build_lambda", BUILD_TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_lambda", module)  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    found = module.find_python313()
    return str(found) if found is not None else None


#: Distributions of the dev, load and infra extras that must never reach Lambda.
DEV_ONLY = (
    "pytest",
    "_pytest",
    "pytest_cov",
    "pytest_benchmark",
    "hypothesis",
    "moto",
    "mypy",
    "mypy_boto3_ssm",
    "boto3_stubs",
    "ruff",
    "resend",
    "locust",
    "aws_cdk",
    "jsii",
    "constructs",
    "cfnlint",
    "coverage",
)
RUNTIME = ("aws_lambda_powertools", "boto3", "httpx", "pybreaker", "tenacity", "pydantic", "aws_embedded_metrics")
ELF_MACHINE_AARCH64 = 183


def load_build_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_lambda", BUILD_TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_lambda", module)  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def top_level(artifact: BuiltArtifact) -> set[str]:
    return {name.split("/", 1)[0] for name in artifact.names}


def test_artifact_holds_the_handler_and_the_package(lambda_artifact: BuiltArtifact) -> None:
    """handler.py sits at the zip's root beside the contact_sdk package (with py.typed and its templates)."""
    names = set(lambda_artifact.names)
    assert "handler.py" in names
    assert "contact_sdk/__init__.py" in names
    assert "contact_sdk/py.typed" in names
    handler = ast.parse((lambda_artifact.unpacked / "handler.py").read_text(encoding="utf-8"))
    defined = {node.name for node in handler.body if isinstance(node, ast.FunctionDef)}
    assert {"lambda_handler", "outbox_handler"} <= defined


def test_artifact_holds_every_runtime_dependency_at_the_tested_version(lambda_artifact: BuiltArtifact) -> None:
    """Each runtime dependency is present, pinned to the version installed where the tests ran."""
    tops = top_level(lambda_artifact)
    for package in RUNTIME:
        assert package in tops, package
    for dist_info in (name for name in tops if name.endswith(".dist-info")):
        name, version = dist_info.removesuffix(".dist-info").rsplit("-", 1)
        assert importlib.metadata.version(name) == version, dist_info


def test_artifact_has_no_tests_sandbox_foreign_bytecode_or_scripts(lambda_artifact: BuiltArtifact) -> None:
    """No tests, no Resend sandbox or local stack, no bytecode but CPython 3.13's, no console scripts."""
    for name in lambda_artifact.names:
        parts = name.split("/")
        assert parts[0] not in {"tests", "bin"}, name
        if name.endswith(".pyc"):
            assert parts[-2] == "__pycache__", name
            assert ".cpython-313." in parts[-1], name
        assert not name.startswith(("contact_sdk/devtools/sandbox/", "contact_sdk/devtools/local/")), name
        assert not re.search(r"(^|/)(tests?|conftest\.py)(/|$)", name), name


#: Our modules that only operators or developers run (read off the tree by hand, not from the build tool).
NOT_RUNTIME = (
    "contact_sdk/ops/cli.py",
    "contact_sdk/ops/",
    "contact_sdk/ops/config/parameters.py",
    "contact_sdk/ops/outbox/queue.py",
    "contact_sdk/ops/dns/records.py",
    "contact_sdk/ops/cloudwatch/",
    "contact_sdk/devtools/sandbox/",
    "contact_sdk/devtools/local/",
)
#: aiohttp and the distributions only it needs (aws-embedded-metrics' EC2 probe; the runtime never loads it).
AIOHTTP_FAMILY = ("aiohttp", "aiosignal", "aiohappyeyeballs", "frozenlist", "multidict", "propcache", "yarl")


def test_artifact_ships_the_runtime_alone(lambda_artifact: BuiltArtifact) -> None:
    """No operator tool, no development tool, no aiohttp family: the function ships what it runs."""
    for name in lambda_artifact.names:
        assert not name.startswith(NOT_RUNTIME), name
    tops = {name.lower() for name in top_level(lambda_artifact)}
    for distribution in AIOHTTP_FAMILY:
        assert distribution not in tops
        assert not any(top.startswith(f"{distribution}-") and top.endswith(".dist-info") for top in tops), distribution


def test_artifact_is_at_most_16_mib_zipped(lambda_artifact: BuiltArtifact) -> None:
    """The runtime-only zip stays under 16 MiB (it was 28.6 MiB with every botocore model and aiohttp)."""
    assert lambda_artifact.path.stat().st_size <= 16 * 1024 * 1024


def test_botocore_keeps_exactly_the_models_the_runtime_calls(lambda_artifact: BuiltArtifact) -> None:
    """The AWS services named by boto3 client calls in the shipped code are the models botocore keeps."""
    called: set[str] = set()
    for source in (lambda_artifact.unpacked / "contact_sdk").rglob("*.py"):
        called |= set(
            re.findall(r"""(?:aws_client|boto3\.client)\(\s*["']([a-z0-9-]+)["']""", source.read_text("utf-8"))
        )
    data = lambda_artifact.unpacked / "botocore" / "data"
    kept = {entry.name for entry in data.iterdir() if entry.is_dir()}
    assert called == {"codedeploy", "dynamodb", "lambda", "sqs", "ssm"}
    assert kept == called
    assert (data / "endpoints.json").is_file()


def test_nothing_in_the_artifact_imports_the_sandbox(lambda_artifact: BuiltArtifact) -> None:
    """Leaving the sandbox and the local stack out is safe: no shipped module of ours imports them."""
    sources = [lambda_artifact.unpacked / "handler.py", *(lambda_artifact.unpacked / "contact_sdk").rglob("*.py")]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                imported = [node.module or ""]
            elif isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            else:
                continue
            assert not any(
                name.startswith(("contact_sdk.devtools.sandbox", "contact_sdk.devtools.local"))
                or name in {"sandbox", "local"}
                for name in imported
            ), source


@pytest.mark.parametrize("package", DEV_ONLY)
def test_artifact_has_no_dev_dependency(lambda_artifact: BuiltArtifact, package: str) -> None:
    """Test, lint, typing, load-test and CDK tooling stays out of the function."""
    tops = {name.lower().replace("-", "_") for name in top_level(lambda_artifact)}
    assert package not in tops
    assert not any(name.startswith(f"{package}-") and name.endswith(".dist-info") for name in tops)


def test_native_extensions_are_built_for_arm64(lambda_artifact: BuiltArtifact) -> None:
    """Every .so is an AArch64 ELF for CPython 3.13 (pydantic-core among them)."""
    shared = [name for name in lambda_artifact.names if name.endswith(".so")]
    assert any(name.startswith("pydantic_core/") for name in shared)
    for name in shared:
        header = (lambda_artifact.unpacked / name).read_bytes()[:20]
        assert header[:4] == b"\x7fELF", name
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64, name
        if ".cpython-" in name:
            assert ".cpython-313-aarch64-linux-gnu" in name, name


def test_zip_is_reproducible(lambda_artifact: BuiltArtifact, tmp_path: Path) -> None:
    """Sorted entries, fixed dates and 0644 permissions: zipping the same tree again gives the same bytes."""
    with zipfile.ZipFile(lambda_artifact.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    again = tmp_path / "again.zip"
    load_build_tool().write_zip(lambda_artifact.unpacked, again)
    assert again.read_bytes() == lambda_artifact.path.read_bytes()


def test_report_matches_the_artifact_and_fits_lambda(lambda_artifact: BuiltArtifact) -> None:
    """The size report is the zip's real size and file count, within Lambda's 50 MB / 250 MB limits."""
    report = lambda_artifact.report
    assert report["zippedBytes"] == lambda_artifact.path.stat().st_size
    assert report["files"] == len(lambda_artifact.names)
    assert report["zippedBytes"] < 50 * 1024 * 1024
    assert report["unzippedBytes"] < 250 * 1024 * 1024
    assert len(report["sha256"]) == 64


@pytest.mark.skipif(find_python313() is None, reason="no CPython 3.13 on this machine: the build ships no bytecode")
def test_every_shipped_module_has_reproducible_313_bytecode(lambda_artifact: BuiltArtifact) -> None:
    """With Python 3.13 at hand, each module ships its .pyc: hash-based (no timestamps), paths under /var/task."""
    names = set(lambda_artifact.names)
    for source in ("handler.py", "contact_sdk/intake.py", "botocore/client.py", "pydantic/main.py"):
        directory, _, module = source.rpartition("/")
        compiled = f"{directory + '/' if directory else ''}__pycache__/{module[:-3]}.cpython-313.pyc"
        assert compiled in names, compiled
    header = (lambda_artifact.unpacked / "__pycache__" / "handler.cpython-313.pyc").read_bytes()[:16]
    assert int.from_bytes(header[4:8], "little") == 0b01  # PEP 552: hash-based, unchecked (no timestamp)
    body = (lambda_artifact.unpacked / "__pycache__" / "handler.cpython-313.pyc").read_bytes()
    assert b"/var/task/handler.py" in body
    assert str(lambda_artifact.unpacked).encode() not in body
