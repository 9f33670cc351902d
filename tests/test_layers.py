"""The layers of the tree: imports point from the tools to the runtime, never back (docs/architecture.md).

* runtime: ``handler.py`` and ``contact_sdk`` outside ``ops`` and ``devtools`` (what the Lambda imports);
* operator tools: ``contact_sdk.ops`` (the ``contact-sdk`` CLI), may import the runtime;
* development tools: ``contact_sdk.devtools`` (the Resend sandbox, the local stack, the in-memory fakes with
  their failure switches), may import the runtime.

Nothing in the tree imports the test suite (``tests``): a fake or a failure switch lives in ``devtools`` or
under ``tests/``, never in what the Lambda imports.

Every ``import`` statement counts, including the deferred ones inside functions; the rule is read from the
source, so a new module is covered the day it is added.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "contact_sdk"

#: Third-party packages only the tools use: the runtime must run without them (they are not in the artifact).
TOOL_ONLY_DISTRIBUTIONS = (
    "jsonschema",
    "dns",
    "moto",
    "locust",
    "pytest",
    "hypothesis",
    "aws_cdk",
    "aiohttp",
    "resend",
)


def layer_of(path: Path) -> str:
    """``runtime``, ``ops`` or ``devtools`` for a source file, by where it sits in the tree."""
    parts = path.relative_to(ROOT).parts
    if parts[:2] == ("contact_sdk", "ops"):
        return "ops"
    if parts[:2] == ("contact_sdk", "devtools"):
        return "devtools"
    return "runtime"


def imported_names(path: Path, root: Path = ROOT) -> list[str]:
    """Every absolute module name imported in ``path`` (relative imports resolved against its package)."""
    module_parts = list(path.relative_to(root).with_suffix("").parts)
    package = module_parts[:-1]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def layer_of_module(name: str) -> str | None:
    """The layer an imported module belongs to, or ``None`` when it is not ours."""
    if name == "tests" or name.startswith("tests."):
        return "tests"
    if name == "contact_sdk.ops" or name.startswith("contact_sdk.ops."):
        return "ops"
    if name == "contact_sdk.devtools" or name.startswith("contact_sdk.devtools."):
        return "devtools"
    if name in ("contact_sdk", "handler") or name.startswith("contact_sdk."):
        return "runtime"
    return None


SOURCES = sorted([ROOT / "handler.py", *PACKAGE.rglob("*.py")])
#: Which layers each layer may import.
ALLOWED = {"runtime": {"runtime"}, "ops": {"runtime", "ops"}, "devtools": {"runtime", "devtools"}}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_from_tools_to_the_runtime_only(source: Path) -> None:
    """The runtime imports neither tool layer; the operator and development tools do not import each other."""
    here = layer_of(source)
    for name in imported_names(source):
        there = layer_of_module(name)
        assert there is None or there in ALLOWED[here], f"{source.relative_to(ROOT)} ({here}) imports {name} ({there})"


@pytest.mark.parametrize(
    "source", [s for s in SOURCES if layer_of(s) == "runtime"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_runtime_does_not_need_tool_only_libraries(source: Path) -> None:
    """Libraries only the tools use (schema validation, DNS, emulators, test and CDK tooling) stay out of it."""
    for name in imported_names(source):
        assert name.split(".")[0] not in TOOL_ONLY_DISTRIBUTIONS, f"{source.relative_to(ROOT)} imports {name}"


def test_the_rule_sees_a_deferred_relative_import_of_a_tool(tmp_path: Path) -> None:
    """The reading is not blind: a runtime module importing the sandbox lazily and relatively is caught."""
    probe = tmp_path / "contact_sdk" / "service.py"
    probe.parent.mkdir()
    probe.write_text("def send():\n    from .devtools.sandbox import ResendSandbox\n", encoding="utf-8")
    layers = {layer_of_module(name) for name in imported_names(probe, root=tmp_path)}
    assert "devtools" in layers
    assert not layers <= ALLOWED["runtime"]


def test_every_layer_exists() -> None:
    """The three layers are there to be seen: the tree has sources in each."""
    assert {layer_of(source) for source in SOURCES} == {"runtime", "ops", "devtools"}


def test_the_rule_sees_the_runtime_reaching_for_a_fake_or_the_test_suite(tmp_path: Path) -> None:
    """A runtime module importing an in-memory fake (devtools) or anything of the test suite is caught."""
    probe = tmp_path / "contact_sdk" / "bootstrap.py"
    probe.parent.mkdir()
    probe.write_text(
        "from contact_sdk.devtools.fakes import InMemoryOutbox\nfrom tests.clocks import ManualClock\n",
        encoding="utf-8",
    )
    layers = {layer_of_module(name) for name in imported_names(probe, root=tmp_path)}
    assert {"devtools", "tests"} <= layers
    assert not layers <= ALLOWED["runtime"]


def test_no_runtime_module_keeps_a_failure_switch() -> None:
    """The test seams are gone from what the Lambda imports: no class there has a ``fail`` switch to flip."""
    switches = []
    for source in SOURCES:
        if layer_of(source) != "runtime":
            continue
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "fail" and isinstance(node.ctx, ast.Store):
                switches.append(f"{source.relative_to(ROOT)}:{node.lineno}")
    assert switches == []
