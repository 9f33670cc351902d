"""The ``contact-sdk`` examples of the README and ``docs/``, read out of their code blocks, and a shell to run them.

A code block is an example when one of its commands runs ``contact-sdk``. In a block with ``$`` prompts
(```` ```console ````) the prompted lines are the commands, lines ending in ``\\`` continue them, and the lines
after a command are the output the doc shows for it. In a block without prompts every line is a command
(continuations and heredocs joined). A command runs ``contact-sdk`` when one of its pipeline's commands is
``contact-sdk`` or a path to it, after any ``NAME=value`` assignments.

:func:`run_block` runs a block's commands in order in one ``bash``, so what one sets (``export``, ``KEY=``, a
file a heredoc wrote) the next one sees, and returns each command's exit status and output (stdout and stderr
together, as a terminal shows them).

Example::

    for block in documented_blocks(ROOT):
        print(block.key, [command.text for command in block.commands])
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Command", "DocBlock", "Outcome", "documented_blocks", "normalize", "run_block"]

_FENCE = re.compile(r"^\s*```")
_HEREDOC = re.compile(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Command:
    """One shell command of a block, and the output the doc shows after it (prompted blocks only)."""

    text: str
    shown: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The command on one line, whitespace collapsed: how the tests name it."""
        return " ".join(self.text.replace("\\\n", " ").split())

    @property
    def runs_contact_sdk(self) -> bool:
        """True when a command of its pipeline is ``contact-sdk``."""
        return any(_invokes(segment) for segment in re.split(r"\|\||&&|[|;]", self.text.replace("\\\n", " ")))


@dataclass(frozen=True)
class DocBlock:
    """One code block with a ``contact-sdk`` command: where it is and its commands."""

    path: str
    line: int
    commands: tuple[Command, ...] = field(default=())

    @property
    def key(self) -> str:
        """``file: first contact-sdk command``, stable while the block keeps its first example."""
        first = next(command for command in self.commands if command.runs_contact_sdk)
        return f"{self.path}: {first.key}"


@dataclass(frozen=True)
class Outcome:
    """What one command did."""

    status: int
    output: str


def _invokes(segment: str) -> bool:
    try:
        words = shlex.split(segment, comments=True)
    except ValueError:
        return False
    while words and (_ASSIGNMENT.match(words[0]) or words[0] in ("export", "env")):
        words = words[1:]
    return bool(words) and os.path.basename(words[0]) == "contact-sdk"


def _commands(lines: Sequence[str]) -> list[Command]:
    prompted = any(line.startswith("$ ") for line in lines)
    commands: list[Command] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if prompted and not line.startswith("$ "):
            index += 1  # output of no command (before the first prompt)
            continue
        text = line[2:] if prompted else line
        if not prompted and (not text.strip() or text.lstrip().startswith("#")):
            index += 1
            continue
        while text.rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            text += "\n" + lines[index]
        heredoc = _HEREDOC.search(text)
        if heredoc is not None:
            while index + 1 < len(lines):
                index += 1
                text += "\n" + lines[index]
                if lines[index].strip() == heredoc.group(1):
                    break
        index += 1
        shown: list[str] = []
        while prompted and index < len(lines) and not lines[index].startswith("$ "):
            shown.append(lines[index])
            index += 1
        commands.append(Command(text, tuple(shown)))
    return commands


def documented_blocks(root: Path) -> list[DocBlock]:
    """Every code block of ``README.md`` and ``docs/*.md`` with a ``contact-sdk`` command, in file order."""
    blocks: list[DocBlock] = []
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        lines = path.read_text(encoding="utf-8").splitlines()
        inside, start, body = False, 0, []
        for number, line in enumerate(lines, start=1):
            if _FENCE.match(line):
                if inside:
                    commands = _commands(body)
                    if any(command.runs_contact_sdk for command in commands):
                        blocks.append(DocBlock(str(path.relative_to(root)), start, tuple(commands)))
                inside, start, body = not inside, number, []
            elif inside:
                body.append(line)
    return blocks


def run_block(commands: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 120) -> list[Outcome]:
    """Run ``commands`` in order in one bash (not stopping at a failure); each one's status and output."""
    script = ["set +e", "exec 2>&1"]
    for index, text in enumerate(commands):
        script += [f"printf '@@@begin {index}\\n'", text, f"status=$?; printf '\\n@@@end {index} %d\\n' $status"]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    combined = done.stdout + done.stderr
    outcomes: list[Outcome] = []
    for index in range(len(commands)):
        match = re.search(rf"@@@begin {index}\n(.*?)\n@@@end {index} (\d+)\n", combined, re.DOTALL)
        assert match is not None, f"command {index} did not finish: {combined[-2000:]}\n{done.stderr[-2000:]}"
        outcomes.append(Outcome(int(match.group(2)), match.group(1)))
    return outcomes


#: What differs from run to run, and what it becomes in :func:`normalize`.
_VOLATILE = (
    (re.compile(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?Z?\b"), "<time>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b[a-z0-9]{32}(?=\._domainkey|\.dkim\.amazonses\.com)"), "<token>"),
)


def normalize(text: str) -> str:
    """``text`` with times, UUIDs and DKIM tokens replaced by placeholders and trailing blanks dropped."""
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())
