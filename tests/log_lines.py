"""The JSON lines the service prints, read as the Lambda runtime collects them (not through pytest's caplog).

The service logs through one Powertools handler, shared by its Logger and every ``contact_sdk.*`` module logger;
:func:`printed` points that handler at a buffer for the duration of a block, so a test reads exactly the lines
CloudWatch would get, fields and correlation id included.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools import Logger


class Printed:
    """What was printed, line by line."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def all(self) -> list[dict[str, Any]]:
        """Every JSON line, in order."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.startswith("{")]

    def lines(self, message: str) -> list[dict[str, Any]]:
        """The lines printed with ``message``."""
        return [line for line in self.all() if line.get("message") == message]


@contextlib.contextmanager
def printed(logger: Logger) -> Iterator[Printed]:
    """Collect what ``logger``'s handler prints while the block runs."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    out = Printed()
    # Swapped, not setStream(): that flushes the stream it replaces, which may be an earlier test's capture,
    # closed by now (Powertools keeps the stream of the first Logger built for the service in the process).
    with handler.lock or contextlib.nullcontext():
        previous, handler.stream = handler.stream, out.stream
    try:
        yield out
    finally:
        with handler.lock or contextlib.nullcontext():
            handler.stream = previous
