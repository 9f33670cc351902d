"""The ``contact-sdk`` command line: operator tools around the service.

Usage::

    contact-sdk --help
    contact-sdk <group> <command> [options]

Each command group lives in its own module under :mod:`contact_sdk.commands`; this file only
dispatches. Exit status: 0 success, 1 the command failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

#: Command-group modules, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = ()


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command group registered."""
    parser = argparse.ArgumentParser(prog="contact-sdk", description="Operator tools for the contact-form service.")
    subparsers = parser.add_subparsers(dest="group", metavar="<group>")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


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
