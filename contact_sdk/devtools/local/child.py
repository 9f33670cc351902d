"""Runs a module as a child of the stack that stops when the stack goes away, however it went.

``python -m contact_sdk.devtools.local.child MODULE [ARGS...]`` runs ``python -m MODULE ARGS...`` in this
process, and watches standard input, which the stack holds as a pipe and never writes to. When the
pipe closes — the stack stopped, crashed or was killed with SIGKILL — the child sends itself SIGTERM,
which the emulator and the sandbox answer by shutting down cleanly. No orphan keeps a port taken.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading

__all__ = ["main"]


def _watch_parent() -> None:
    # os.read on the raw descriptor: a buffered reader's lock held by a daemon thread aborts shutdown.
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    """Run ``sys.argv[1]`` as ``__main__`` with the remaining arguments, tied to standard input."""
    if len(sys.argv) < 2:
        print("usage: python -m contact_sdk.devtools.local.child MODULE [ARGS...]", file=sys.stderr)
        sys.exit(2)
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    threading.Thread(target=_watch_parent, name="parent-watch", daemon=True).start()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
