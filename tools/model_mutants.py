"""Hand-written mutants of the form model's declarations, which mutmut 3 cannot mutate.

mutmut switches mutants at run time through a trampoline in each *function*, so it never touches a
class attribute (``Field(max_length=100)``) or a decorator (``@field_validator("name", ...)``): the
contract's length limits and which validator runs on which field. This tool applies each mutant
below to a copy of the tree and runs the fast-tier model tests against it; every mutant must make
them fail.

Usage, from the repository root (``make mutation`` runs it when MODULES includes ``models``)::

    .venv/bin/python tools/model_mutants.py            # all; exit 1 if one survives
    .venv/bin/python tools/model_mutants.py --list     # the mutants only

Exit status: 0 when every mutant is killed, 1 when one survives, 2 when a mutant no longer applies
(the model changed: update the table).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MUTANTS", "Mutant", "main"]

ROOT = Path(__file__).resolve().parents[1]
MODEL = Path("contact_sdk/models.py")
TESTS = ("tests/test_models.py",)

_NAME = "name: str = Field(min_length=1, max_length=100)"
_MESSAGE = "message: str = Field(min_length=10, max_length=5000)"
_TRIM = '@field_validator("name", "message", "subject", "email", mode="before")'
_ONE_LINE = '@field_validator("name", "subject", "email", mode="before")'


@dataclass(frozen=True)
class Mutant:
    """Replace ``old`` (which must occur exactly once) with ``new`` in the model."""

    label: str
    old: str
    new: str


def _undecorated(decorator: str, method: str) -> Mutant:
    return Mutant(
        f"{method} not registered",
        f"    {decorator}\n    @classmethod\n    def {method}(",
        f"    @classmethod\n    def {method}(",
    )


def _without(decorator: str, field: str) -> Mutant:
    fields = decorator.removeprefix("@field_validator(").removesuffix(', mode="before")')
    return Mutant(f"{field} dropped from {fields}", decorator, decorator.replace(f'"{field}", ', ""))


MUTANTS: tuple[Mutant, ...] = (
    Mutant("name min_length 1 -> 0", _NAME, _NAME.replace("min_length=1", "min_length=0")),
    Mutant("name max_length 100 -> 101", _NAME, _NAME.replace("100", "101")),
    Mutant("name max_length 100 -> 99", _NAME, _NAME.replace("100", "99")),
    Mutant("email max_length deleted", "Field(max_length=MAX_EMAIL_LENGTH)", "Field()"),
    Mutant("email max_length 254 -> 255", "Field(max_length=MAX_EMAIL_LENGTH)", "Field(max_length=255)"),
    Mutant("subject max_length 150 -> 151", "default=None, max_length=150)", "default=None, max_length=151)"),
    Mutant("subject max_length 150 -> 149", "default=None, max_length=150)", "default=None, max_length=149)"),
    Mutant("message min_length 10 -> 9", _MESSAGE, _MESSAGE.replace("min_length=10", "min_length=9")),
    Mutant("message min_length 10 -> 11", _MESSAGE, _MESSAGE.replace("min_length=10", "min_length=11")),
    Mutant("message max_length 5000 -> 5001", _MESSAGE, _MESSAGE.replace("5000", "5001")),
    Mutant("message max_length 5000 -> 4999", _MESSAGE, _MESSAGE.replace("5000", "4999")),
    # The honeypot takes any JSON value: a type or a length rule on it would be a 400 telling a bot it is read.
    Mutant("website typed as text", "website: Any = None", "website: str | None = None"),
    Mutant("website given a max_length", "website: Any = None", "website: Any = Field(default=None, max_length=1000)"),
    Mutant("formStartedAt ge=0 deleted", 'alias="formStartedAt", ge=0)', 'alias="formStartedAt")'),
    Mutant("formStartedAt ge 0 -> 1", 'alias="formStartedAt", ge=0)', 'alias="formStartedAt", ge=1)'),
    Mutant("extra forbid -> ignore", 'extra="forbid"', 'extra="ignore"'),
    Mutant("strict True -> False", "strict=True", "strict=False"),
    Mutant("frozen True -> False", "frozen=True)", "frozen=False)"),
    _undecorated(_TRIM, "_trim"),
    *(_without(_TRIM, field) for field in ("name", "message", "subject")),
    # The honeypot is never trimmed: whitespace in it is a bot's answer too (the spam rule's input).
    Mutant("website added to the trim validator", _TRIM, _TRIM.replace('"subject", ', '"subject", "website", ')),
    Mutant(
        "turnstileToken max_length 2048 -> 2049",
        'alias="turnstileToken", max_length=2048)',
        'alias="turnstileToken", max_length=2049)',
    ),
    Mutant("email dropped from the trim validator", _TRIM, _TRIM.replace(', "email"', "")),
    _undecorated(_ONE_LINE, "_one_line_as_sent"),
    *(_without(_ONE_LINE, field) for field in ("name", "subject")),
    Mutant("email dropped from the one-line validator", _ONE_LINE, _ONE_LINE.replace(', "email"', "")),
    _undecorated('@field_validator("subject")', "_empty_subject_is_none"),
    _undecorated('@field_validator("message")', "_message_has_no_odd_controls"),
    _undecorated('@field_validator("email")', "_email_is_valid"),
    _undecorated('@field_validator("form_started_at", mode="before")', "_whole_number_floats_are_whole"),
    _undecorated('@field_validator("consent")', "_consent_given"),
)


def _killed(tree: Path) -> bool:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS]
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, check=False).returncode != 0  # noqa: S603


def main(argv: Sequence[str] | None = None) -> int:
    """Run every mutant (or list them); see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    args = parser.parse_args(argv)
    original = (ROOT / MODEL).read_text("utf-8")
    stale = [m.label for m in MUTANTS if original.count(m.old) != 1]
    if stale:
        print(f"model_mutants: no longer applies to {MODEL}: {', '.join(stale)}", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join(m.label for m in MUTANTS))
        return 0
    survivors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="model-mutants-") as scratch:
        tree = Path(scratch)
        for part in ("contact_sdk", "tests"):
            shutil.copytree(ROOT / part, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
        for part in ("handler.py", "pyproject.toml"):
            shutil.copy2(ROOT / part, tree / part)
        for mutant in MUTANTS:
            (tree / MODEL).write_text(original.replace(mutant.old, mutant.new), "utf-8")
            killed = _killed(tree)
            print(f"{'killed  ' if killed else 'SURVIVED'}  {mutant.label}")
            if not killed:
                survivors.append(mutant.label)
    print(f"{len(MUTANTS) - len(survivors)}/{len(MUTANTS)} hand-written model mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main())
