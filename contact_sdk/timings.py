"""Where one request's time went: milliseconds spent with each dependency, for the summary log line.

The API adapter opens a :class:`spending` block per request; the Resend client, the Parameter
Store cache and the DynamoDB client add what each call took with :func:`add`. Outside a block
(the outbox consumer's tools, tests) :func:`add` does nothing. The tally is per request even with
many requests on many threads: it lives in a context variable.

Example::

    with spending() as spent:
        with measuring(PROVIDER):
            client.send(...)
    spent.as_log_fields()      # {"provider_ms": 182.4}
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DYNAMODB", "PARAMETER_STORE", "PROVIDER", "Tally", "add", "first_degradation", "measuring", "spending"]

PROVIDER = "provider"
PARAMETER_STORE = "parameter_store"
DYNAMODB = "dynamodb"


class Tally:
    """Milliseconds per dependency for one request. Thread-safe."""

    def __init__(self) -> None:
        self._ms: dict[str, float] = {}
        self._degraded: set[str] = set()
        self._lock = threading.Lock()

    def note_degraded(self, dependency: str) -> bool:
        """Note that the request skipped or cut a call to ``dependency``; whether it is the first such note."""
        with self._lock:
            first = dependency not in self._degraded
            self._degraded.add(dependency)
            return first

    def add(self, dependency: str, milliseconds: float) -> None:
        """Count ``milliseconds`` more against ``dependency``."""
        with self._lock:
            self._ms[dependency] = self._ms.get(dependency, 0.0) + milliseconds

    def milliseconds(self, dependency: str) -> float:
        """What ``dependency`` took so far (0 when it was not called)."""
        with self._lock:
            return self._ms.get(dependency, 0.0)

    def as_log_fields(self) -> dict[str, Any]:
        """``{"<dependency>_ms": ms, ...}`` for every dependency that was called, rounded to 0.01 ms, and
        ``degraded``: the dependencies the request skipped or cut short, if any."""
        with self._lock:
            fields: dict[str, Any] = {f"{name}_ms": round(ms, 2) for name, ms in sorted(self._ms.items())}
            if self._degraded:
                fields["degraded"] = sorted(self._degraded)
            return fields


_current: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("contact_sdk_timings", default=None)


@contextmanager
def spending() -> Iterator[Tally]:
    """A fresh tally for the block (one request)."""
    tally = Tally()
    token = _current.set(tally)
    try:
        yield tally
    finally:
        _current.reset(token)


def first_degradation(dependency: str) -> bool:
    """Note a skipped or cut call to ``dependency`` on the current request's tally; whether to count it.

    ``True`` the first time in a request (``DependencyDegraded`` counts requests, not calls), and always
    outside a request (the outbox consumer counts each).
    """
    tally = _current.get()
    return True if tally is None else tally.note_degraded(dependency)


def add(dependency: str, milliseconds: float) -> None:
    """Count ``milliseconds`` against ``dependency`` on the current request's tally, if any."""
    tally = _current.get()
    if tally is not None:
        tally.add(dependency, milliseconds)


@contextmanager
def measuring(dependency: str, *, timer: Callable[[], float] = time.perf_counter) -> Iterator[None]:
    """Count the block's duration against ``dependency``, also when it raises."""
    started = timer()
    try:
        yield
    finally:
        add(dependency, (timer() - started) * 1000)
