"""Every row of docs/cli.md's "Bad input" table, run as an operator runs it: one line, the documented status.

Each row is a real ``contact-sdk`` process (the console script in this virtual environment), with no ``CONTACT_*``
variable and AWS pointed at nowhere reachable, so a row that would ask AWS before refusing shows up as a
failure here rather than as a slow test.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = ROOT / "docs" / "cli.md"
CONTACT_SDK = Path(sys.executable).with_name("contact-sdk")


def bad_input_rows() -> list[tuple[str, int, str]]:
    """``(command, exit status, the line it prints)`` for each row of the table under "## Bad input"."""
    text = CLI_DOC.read_text(encoding="utf-8").split("## Bad input", 1)[1]
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) != 4 or not cells[0].startswith("`contact-sdk"):
            continue
        command, _, status, printed = cells
        rows.append((_code(command), int(status), _code(printed)))
    return rows


def _code(cell: str) -> str:
    """The text inside a Markdown code span (single or double backticks)."""
    match = re.fullmatch(r"(`+)\s?(.*?)\s?\1", cell)
    assert match, f"not a code span: {cell}"
    return match.group(2)


def test_the_table_is_there() -> None:
    """The table exists and covers every file argument the commands take."""
    commands = [command for command, _, _ in bad_input_rows()]
    assert len(commands) >= 20
    for needle in ("submissions export", "dashboard render", "alarms render", "config put --", "put-webhook-secret"):
        assert any(needle in command for command in commands), needle


@pytest.mark.parametrize(("command", "status", "printed"), bad_input_rows(), ids=lambda value: str(value)[:60])
def test_each_bad_input_is_one_line_and_its_status(command: str, status: int, printed: str, tmp_path: Path) -> None:
    """The command exits with the documented status, prints that one line on stderr and nothing else."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CONTACT_", "RESEND_"))}
    environment.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_DEFAULT_REGION="eu-west-1", AWS_MAX_ATTEMPTS="1")
    argv = shlex.split(command)
    done = subprocess.run(
        [str(CONTACT_SDK), *argv[1:]],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert done.stderr == printed + "\n"
    assert done.returncode == status
    assert list(tmp_path.iterdir()) == [], "a refused command writes nothing"
