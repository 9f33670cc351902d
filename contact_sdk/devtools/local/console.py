"""The stack's console: one readable line per event, each tagged with the part of the stack it came from.

::

    17:58:02 api      POST /contact 200 sent 184ms from 127.0.0.1 [3f0c9a1e]
    17:58:02 service  WARNING provider call failed; retrying wait_seconds=1.0 [3f0c9a1e]
    17:58:02 sandbox  ...

The service logs JSON (Powertools) because CloudWatch reads it. The stack points the service's log
handler at a :class:`ConsoleStream`, which renders each JSON document as ``LEVEL message key=value
... [request id]``: every field is kept, only the layout changes. Lines written from many threads
never interleave.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from contact_sdk.devtools.local.api_server import AccessRecord

__all__ = ["Console", "ConsoleStream", "DiscardingSink", "render"]

_SKIPPED_KEYS = frozenset(
    {"level", "location", "message", "timestamp", "service", "correlation_id", "xray_trace_id", "sampling_rate"}
)


class Console:
    """Writes tagged, timestamped lines to ``stream`` (default: standard output), one at a time."""

    def __init__(self, stream: IO[str] | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._stream = stream or sys.stdout
        self._clock = clock
        self._lock = threading.Lock()

    def line(self, source: str, text: str) -> None:
        """Write ``HH:MM:SS source  text``."""
        stamp = time.strftime("%H:%M:%S", time.localtime(self._clock()))
        with self._lock:
            try:
                self._stream.write(f"{stamp} {source:<8} {text}\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # the terminal went away; the stack keeps serving

    def access(self, record: AccessRecord) -> None:
        """The API's line for one request."""
        self.line(
            "api",
            f"{record.method} {record.path} {record.status} {record.outcome} {record.duration_ms:.0f}ms "
            f"from {record.source_ip} [{record.request_id[:8]}]",
        )

    def pump(self, source: str, stream: IO[str], *, observe: Callable[[str], None] | None = None) -> threading.Thread:
        """Copy a child process's output here, line by line, from a daemon thread.

        ``observe``, when given, sees each non-empty line first (the stack reads a child's "listening on" line).
        """

        def copy() -> None:
            try:
                for raw in stream:
                    text = raw.rstrip()
                    if text:
                        if observe is not None:
                            observe(text)
                        self.line(source, text)
            except (OSError, ValueError):
                pass

        thread = threading.Thread(target=copy, name=f"pump-{source}", daemon=True)
        thread.start()
        return thread


def render(document: dict[str, Any]) -> str:
    """One Powertools JSON log document as ``LEVEL message key=value ... [request id]``."""
    parts = [str(document.get("level", "INFO")), str(document.get("message", ""))]
    for key, value in document.items():
        if key in _SKIPPED_KEYS:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={text}")
    correlation_id = document.get("correlation_id")
    if isinstance(correlation_id, str):
        parts.append(f"[{correlation_id[:8]}]")
    return " ".join(parts)


def _readable(line: str) -> str:
    if not line.startswith("{"):
        return line
    try:
        document = json.loads(line)
    except json.JSONDecodeError:
        return line
    return render(document) if isinstance(document, dict) else line


class DiscardingSink:
    """An EMF sink that drops the documents (the local stack shows readable lines instead)."""

    def write(self, document: dict[str, Any]) -> None:
        """Drop one document."""


class ConsoleStream:
    """A file-like object that forwards each written line to a :class:`Console` under ``source``.

    A line that is a JSON object (a Powertools log document) is shown through :func:`render`.
    """

    def __init__(self, console: Console, source: str) -> None:
        self._console = console
        self._source = source
        self._buffer = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        """Buffer ``text`` and emit every complete line."""
        with self._lock:
            self._buffer += text
            *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                self._console.line(self._source, _readable(line.rstrip()))
        return len(text)

    def flush(self) -> None:
        """Lines are emitted as they complete; nothing to do."""
