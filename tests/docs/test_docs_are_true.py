"""The docs users act on stay true to the code."""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

from contact_sdk.ops.cli import build_parser
from contact_sdk.settings import ENVIRONMENT_VARIABLES, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_documented_with_its_default() -> None:
    """docs/configuration.md lists every variable Settings reads, each with the default the code uses."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    for var in ENVIRONMENT_VARIABLES.values():
        rows = [line for line in text.splitlines() if line.startswith(f"| `{var.name}` |")]
        assert rows, f"{var.name} is not documented"
        if var.default:
            assert f"`{var.default}`" in rows[0], f"{var.name}: documented default differs from {var.default!r}"


def test_documented_defaults_are_the_settings_defaults() -> None:
    """Settings built from an empty environment equal the dataclass defaults the docs describe."""
    assert Settings.from_env({}) == Settings()


def test_the_readme_test_command_is_what_ci_runs() -> None:
    """.ci/run calls the README's test command."""
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci
    assert "make test" in readme


def test_the_sandbox_module_table_names_every_module() -> None:
    """docs/sandbox.md's source-layout table has one row per module of the sandbox package, and no other."""
    text = (ROOT / "docs" / "sandbox.md").read_text()
    rows = {
        line.split("`")[1]
        for line in text.splitlines()
        if line.startswith("| `") and line.split("`")[1].endswith(".py")
    }
    package = ROOT / "contact_sdk" / "devtools" / "sandbox"
    assert rows == {path.name for path in package.glob("*.py") if path.name != "__init__.py"}


def test_the_readme_names_every_operator_command_group_and_how_to_run_it() -> None:
    """The README's command row lists every group of ``contact-sdk --help``, at the path ``make install`` puts it."""
    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `.venv/bin/contact-sdk --help` |"))
    listed = set(re.findall(r"`([a-z]+)`", row.split("|")[2]))
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert listed == set(commands.choices)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["contact-sdk"] == "contact_sdk.ops.cli:main"
