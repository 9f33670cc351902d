"""Per-module mutation scores from ``mutmut results --all true``, with the judged-equivalent mutants set aside.

Usage, from the repository root (``make mutation`` runs it after ``mutmut run``)::

    .venv/bin/mutmut results --all true | .venv/bin/python tools/mutation_report.py models compose config
    .venv/bin/python tools/mutation_report.py --results results.txt security/csrf --min 85

A module is named as in ``make mutation MODULES=...``: ``models``, ``security/csrf``. The score is
``killed / (mutants - judged equivalent)``, where *killed* counts mutants the fast tier failed on
(or timed out on) and *judged equivalent* are the mutants listed, each with its reason, in
``tools/mutation-equivalent.txt`` (one ``mutant-name  # why no test can tell it apart`` per line).

Exit status: 0, or 1 when ``--min`` is given and a module scores below it, 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ModuleScore", "load_equivalent", "main", "module_of", "parse_results", "score"]

EQUIVALENT_FILE = Path(__file__).with_name("mutation-equivalent.txt")
_LINE = re.compile(r"^\s*(?P<name>[\w.ǁ]+__mutmut_\d+):\s*(?P<status>[\w ]+?)\s*$")
_MODULE = re.compile(r"^(?P<module>[\w.]+?)\.x[_ǁ]")
_KILLED = frozenset({"killed", "timeout", "caught by type check"})


@dataclass
class ModuleScore:
    """The mutants of one module by verdict."""

    module: str
    total: int = 0
    killed: int = 0
    equivalent: int = 0
    surviving: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        """Killed mutants as a share of the non-equivalent ones (100 when there are none)."""
        judged = self.total - self.equivalent
        return 100.0 if judged == 0 else 100.0 * self.killed / judged


def module_of(mutant: str) -> str | None:
    """``contact_sdk.security.csrf`` for ``contact_sdk.security.csrf.x_verify__mutmut_3``."""
    match = _MODULE.match(mutant)
    return match.group("module") if match else None


def parse_results(lines: Iterable[str]) -> dict[str, str]:
    """Mutant name → status, from ``mutmut results --all true``."""
    found: dict[str, str] = {}
    for line in lines:
        match = _LINE.match(line)
        if match:
            found[match.group("name")] = match.group("status")
    return found


def load_equivalent(lines: Iterable[str]) -> set[str]:
    """Mutant names from the equivalents file; a line without a ``# reason`` is refused."""
    names: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition("#")
        if not reason.strip():
            raise ValueError(f"line {number}: an equivalent mutant needs its reason after '#'")
        names.add(name.strip())
    return names


def score(results: dict[str, str], modules: Sequence[str], equivalent: set[str]) -> list[ModuleScore]:
    """One score per requested module (``models`` or ``contact_sdk.models``), in the order asked."""
    wanted = {_dotted(name): ModuleScore(_dotted(name)) for name in modules}
    for mutant, status in sorted(results.items()):
        entry = wanted.get(module_of(mutant) or "")
        if entry is None:
            continue
        entry.total += 1
        if status in _KILLED:
            entry.killed += 1
        elif mutant in equivalent:
            entry.equivalent += 1
        else:
            entry.surviving.append(f"{mutant}: {status}")
    return list(wanted.values())


def _dotted(module: str) -> str:
    name = module.removesuffix(".py").replace("/", ".")
    return name if name.startswith("contact_sdk.") else f"contact_sdk.{name}"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table (and the surviving mutants); see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="+", help="modules as in MODULES=: models, security/csrf")
    parser.add_argument("--results", type=Path, help="a saved `mutmut results --all true` (default: stdin)")
    parser.add_argument(
        "--equivalent",
        type=Path,
        default=None,
        help=f"the mutants judged equivalent, each with its reason (default: {EQUIVALENT_FILE.name} beside this tool)",
    )
    parser.add_argument("--min", type=float, default=None, help="fail when a module scores below this percent")
    args = parser.parse_args(argv)
    try:
        text = args.results.read_text("utf-8") if args.results else sys.stdin.read()
        # A file named on the command line must be there: a mistyped path would silently count every judged
        # mutant as surviving. The repository's own list is read when it exists.
        if args.equivalent is not None:
            listed = args.equivalent.read_text("utf-8").splitlines()
        else:
            listed = EQUIVALENT_FILE.read_text("utf-8").splitlines() if EQUIVALENT_FILE.exists() else []
        equivalent = load_equivalent(listed)
    except (OSError, ValueError) as exc:
        print(f"mutation_report: {exc}", file=sys.stderr)
        return 2
    results = parse_results(text.splitlines())
    if not results:
        print("mutation_report: no mutant results in the input (did `mutmut run` run?)", file=sys.stderr)
        return 2
    scores = score(results, args.modules, equivalent)
    print(f"{'module':<34} {'mutants':>7} {'killed':>6} {'equiv.':>6} {'score':>6}")
    for entry in scores:
        print(f"{entry.module:<34} {entry.total:>7} {entry.killed:>6} {entry.equivalent:>6} {entry.percent:>5.1f}%")
    for entry in scores:
        for line in entry.surviving:
            print(f"  survived  {line}")
    if args.min is not None and any(entry.total and entry.percent < args.min for entry in scores):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
