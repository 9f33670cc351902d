"""File arguments of the operator commands: checked before any work, refused in one line (exit status 2).

A command that writes ``--output`` or reads ``--file`` asks here first, so a mistyped directory or a folder
given as a file name stops the command before it scans a table or renders a dashboard, with the path and the
reason, not a traceback. Writing is done here too, so a failure halfway (the disk full) is one line as well.

Example::

    try:
        path = writable_output(args.output)          # before the work
        ...
        write_output(path, text)                     # after it
    except FileArgumentError as exc:
        print(f"contact-sdk submissions export: error: {exc}", file=sys.stderr)
        return exc.exit_status
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from contact_sdk.errors import ContactSdkError

__all__ = [
    "FileArgumentError",
    "read_input",
    "readable_input",
    "replaced_on_success",
    "writable_output",
    "write_output",
]


class FileArgumentError(ContactSdkError):
    """A file argument cannot be used; the message names the option, the path and why.

    ``exit_status`` is 2 for an argument refused before any work, 1 for a file that failed while being written
    or read (the argument looked right; the system said no).
    """

    def __init__(self, message: str, *, exit_status: int = 2) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def writable_output(path: str, *, option: str = "--output") -> Path:
    """``path`` as a file this process can create or replace; :class:`FileArgumentError` otherwise."""
    if not path.strip():
        raise FileArgumentError(f"{option}: the file name is empty")
    target = Path(path)
    if target.is_dir():
        raise FileArgumentError(f"{option} {path}: is a directory; give the name of a file to write")
    folder = target.parent
    if not folder.exists():
        raise FileArgumentError(f"{option} {path}: the directory {folder} does not exist")
    if not folder.is_dir():
        raise FileArgumentError(f"{option} {path}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise FileArgumentError(f"{option} {path}: permission denied")
    return target


def write_output(path: Path, text: str, *, option: str = "--output") -> None:
    """Write ``text`` to ``path`` (UTF-8, newlines as given); a system refusal is :class:`FileArgumentError` (1)."""
    try:
        with path.open("w", encoding="utf-8", newline="") as stream:
            stream.write(text)
    except OSError as exc:
        raise FileArgumentError(f"{option} {path}: cannot be written: {_reason(exc)}", exit_status=1) from None


@contextlib.contextmanager
def replaced_on_success(path: Path, *, option: str = "--output") -> Iterator[TextIO]:
    """A stream to a file beside ``path`` that becomes ``path`` when the block succeeds and is removed when it
    fails: output written as it is produced (an export of any size) never leaves a file that looks complete
    when cut short (AWS refused half-way, Ctrl-C). A system refusal is :class:`FileArgumentError` (1)."""
    try:
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as exc:
        raise FileArgumentError(f"{option} {path}: cannot be written: {_reason(exc)}", exit_status=1) from None
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(name, path)
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        raise FileArgumentError(f"{option} {path}: cannot be written: {_reason(exc)}", exit_status=1) from None
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def readable_input(path: str, *, option: str = "--file") -> str:
    """``path`` if it is ``-`` (standard input) or a readable file; :class:`FileArgumentError` otherwise."""
    if path == "-":
        return path
    target = Path(path)
    if not target.exists():
        raise FileArgumentError(f"{option} {path}: no such file")
    if target.is_dir():
        raise FileArgumentError(f"{option} {path}: is a directory; give the file that holds it")
    if not os.access(target, os.R_OK):
        raise FileArgumentError(f"{option} {path}: permission denied")
    return path


def read_input(path: str, *, option: str = "--file") -> str:
    """The text of ``path`` (``-``: standard input), UTF-8; any failure is :class:`FileArgumentError`."""
    readable_input(path, option=option)
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FileArgumentError(f"{option} {path}: is not UTF-8 text") from None
    except OSError as exc:
        raise FileArgumentError(f"{option} {path}: cannot be read: {_reason(exc)}", exit_status=1) from None
