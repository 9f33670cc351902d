"""The docs users act on stay true to the code."""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

import pytest

from contact_sdk.ops.cli import build_parser
from contact_sdk.settings import ENVIRONMENT_VARIABLES, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_documented_with_its_default() -> None:
    """docs/configuration.md lists every variable Settings reads, each with the default the code uses in its last
    column (exactly: a meaning that mentions both ``true`` and ``false`` must not hide a wrong default), or says
    there is none."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    for var in ENVIRONMENT_VARIABLES.values():
        rows = [line for line in text.splitlines() if line.startswith(f"| `{var.name}` |")]
        assert rows, f"{var.name} is not documented"
        default_cell = rows[0].rstrip().removesuffix("|").rsplit("|", 1)[1].strip()
        if var.default:
            assert default_cell == f"`{var.default}`", f"{var.name}: documented {default_cell}, code {var.default!r}"
        else:
            assert default_cell.startswith(("unset", "none")), f"{var.name}: documented {default_cell}, the code none"


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


def _drawing(text: str, opening: str) -> str:
    """The indented drawing that follows ``opening`` in ``text``, up to its first unindented line."""
    lines = text.split(opening, 1)[1].splitlines()
    drawing = []
    for line in lines:
        if line and not line.startswith("    "):
            break
        drawing.append(line)
    return "\n".join(drawing).strip("\n")


def _text_blocks(markdown: str) -> list[str]:
    """The contents of every ```text fenced block of ``markdown``."""
    return [block.split("```", 1)[0].strip("\n") for block in markdown.split("```text\n")[1:]]


@pytest.mark.parametrize("document", ["records.md", "architecture.md"])
def test_the_docs_draw_the_record_states_exactly_as_the_record_module_does(document: str) -> None:
    """The doc draws the record's states exactly as contact_sdk/record.py's docstring does, character for character."""
    import contact_sdk.record

    in_code = _drawing(contact_sdk.record.__doc__ or "", "moves backwards::\n")
    assert "(no record) ──claim──► received" in in_code
    assert in_code in _text_blocks((ROOT / "docs" / document).read_text(encoding="utf-8"))


def test_records_md_lists_the_moves_the_record_allows() -> None:
    """The table of allowed moves in docs/records.md is MOVES: each state's row names exactly its targets."""
    from contact_sdk.record import MOVES

    docs = (ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    table = docs.split("| from | may move to |", 1)[1].split("\n\n", 1)[0]
    documented: dict[str, set[str]] = {}
    for row in table.splitlines()[2:]:
        sources, targets = row.split("|")[1:3]
        for source in re.findall(r"`([a-z]+)`", sources):
            documented[source] = set(re.findall(r"`([a-z]+)`", targets))
    # The row of the claim, "(no record)", names no state in backticks on its left; every other row is MOVES.
    assert documented == {state.value: {target.value for target in targets} for state, targets in MOVES.items()}
