"""The docs name tests as proof (``tests/x.py::test_y``): every name they give must be a test that exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
#: ``tests/faults/test_outage.py::test_name`` with an optional ``[parameters]``; a later ``::test_other``
#: in the same cell (written ``, ::test_other``) belongs to the file named before it.
REFERENCE = re.compile(r"(?<![\w/.])(tests/[\w/]+\.py)((?:::\w+(?:\[[^\]`]*\])?)?)|(?<![\w/.])::(\w+)")


def _tests_in(path: Path) -> set[str]:
    """Every test function and test class name of a test module, read from its syntax tree."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    return {node.name for node in ast.walk(tree) if isinstance(node, kinds) and node.name.startswith(("test", "Test"))}


def _references(document: Path) -> list[tuple[int, str, str | None]]:
    """``(line, file, test)`` for each reference in ``document``; ``test`` is ``None`` for a bare file."""
    found: list[tuple[int, str, str | None]] = []
    for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), start=1):
        current: str | None = None
        for match in REFERENCE.finditer(line):
            file, suffix, continued = match.groups()
            if file is not None:
                current = file
                name = suffix[2:].split("[", 1)[0] if suffix else None
                found.append((number, file, name))
            elif current is not None:
                found.append((number, current, continued))
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_test_a_document_names_exists(document: Path) -> None:
    """A renamed or deleted test leaves no doc pointing at it as proof."""
    missing = []
    for line, file, name in _references(document):
        path = ROOT / file
        if not path.is_file():
            missing.append(f"{document.name}:{line}: {file} does not exist")
        elif name is not None and name not in _tests_in(path):
            missing.append(f"{document.name}:{line}: {file} has no {name}")
    assert missing == []


def test_a_wrong_reference_is_caught(tmp_path: Path) -> None:
    """The reader itself: a file that is not there and a test a file does not have are both reported."""
    document = tmp_path / "doc.md"
    document.write_text(
        "| `tests/test_api.py::test_nothing_like_this`, `::test_neither` | `tests/no_such_file.py` |\n",
        encoding="utf-8",
    )
    assert _references(document) == [
        (1, "tests/test_api.py", "test_nothing_like_this"),
        (1, "tests/test_api.py", "test_neither"),
        (1, "tests/no_such_file.py", None),
    ]
