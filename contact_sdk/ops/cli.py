"""The ``contact-sdk`` command line: operator tools around the service.

Usage::

    contact-sdk --help
    contact-sdk <group> <command> [options]

Each command group lives in its own module under :mod:`contact_sdk.ops`; this file only
dispatches. Exit status: 0 success, 1 the command failed, 2 bad usage. A usage error is one line on
standard error (the command, what is wrong, where ``--help`` is), never a stack trace; every bad input
the docs list is run by ``tests/ops/test_bad_input.py`` (docs/cli.md).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

#: Command-group modules, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "contact_sdk.ops.config.command",
    "contact_sdk.ops.dns.command",
    "contact_sdk.ops.cloudwatch.command",
    "contact_sdk.ops.status.command",
    "contact_sdk.ops.outbox.command",
    "contact_sdk.ops.breaker.command",
    "contact_sdk.ops.submissions.command",
)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line: ``contact-sdk dns check: error: ... (see ... --help)``.

    Sub-command parsers are made with the same class (``add_subparsers`` uses the parent's type).
    """

    def error(self, message: str) -> NoReturn:
        """Print one line and exit 2 (argparse prints the whole usage block first)."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command group registered."""
    parser = _Parser(prog="contact-sdk", description="Operator tools for the contact-form service.")
    subparsers = parser.add_subparsers(dest="group", metavar="<group>")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            _register_unavailable(subparsers, module_name, exc)
            continue
        module.register(subparsers)
    return parser


#: Command groups a module registers, where they differ from the module's own name.
_GROUPS: dict[str, tuple[str, ...]] = {"contact_sdk.ops.cloudwatch.command": ("dashboard", "alarms")}


def _register_unavailable(subparsers: Any, module_name: str, exc: ModuleNotFoundError) -> None:
    """Command groups whose optional dependency is missing: each explains how to install it (exit 2)."""
    if exc.name is None or exc.name.split(".")[0] in ("contact_sdk", "handler"):
        raise exc
    for group in _GROUPS.get(module_name, (module_name.rsplit(".", 1)[-1],)):
        message = f"contact-sdk {group} needs the 'cli' extra ({exc.name} is missing): pip install 'contact-sdk[cli]'"

        def explain(args: argparse.Namespace, message: str = message) -> int:
            print(message, file=sys.stderr)
            return 2

        parser = subparsers.add_parser(group, help="(needs: pip install 'contact-sdk[cli]')", add_help=False)
        parser.add_argument("rest", nargs=argparse.REMAINDER)
        parser.set_defaults(handler=explain)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (also used by the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.error("choose a command")
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
