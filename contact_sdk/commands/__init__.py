"""Operator commands of the ``contact-sdk`` CLI, one module per command group.

Each module exposes ``register(subparsers)``, adding its sub-command(s) with a ``handler``
default: ``handler(args) -> int`` (the exit status). Modules are imported only when the CLI
runs, so none of this is on the Lambda cold path.
"""
