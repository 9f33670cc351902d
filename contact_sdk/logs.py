"""Structured JSON logs through Powertools Logger, for the service and every ``contact_sdk`` module.

The correlation id (the API Gateway request id) is kept with Powertools' thread-safe keys, so
concurrent requests in one process (the local API server) never mix their ids. Values are
JSON-encoded, so a newline in user input cannot forge a log line: each record is one compact line, whatever
``POWERTOOLS_DEV`` says (Powertools would indent it over several), and its message is the text written, never
parsed (Powertools would try ``json.loads`` on every message and turn one that happened to be JSON into an object).
One encoder, built once, writes every line (Powertools' default builds one per record).

Example::

    logger = build_logger()
    with correlation(logger, request_id):
        logger.info("request handled", extra={"outcome": "sent", "status": 200})
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from aws_lambda_powertools import Logger

__all__ = ["SERVICE_NAME", "build_logger", "correlation"]

SERVICE_NAME = "contact-form"

#: Powertools' own serialization (``default=str``, compact separators, non-ASCII as is), encoder built once.
_LINE_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False)


def _message_as_written(message: Any) -> Any:
    """The record's message as the code wrote it (Powertools' ``json_deserializer`` hook: no parsing)."""
    return message


def build_logger(*, level: str | None = None, stream: IO[str] | None = None) -> Logger:
    """A Powertools Logger whose JSON handler also serves the ``contact_sdk.*`` module loggers.

    Neither passes records on to the root logger: each record is printed once, as JSON. Powertools keeps the
    service's records away from the root logger's handlers by a filter it adds to those present when the
    Logger is built; a handler added later (``logging.basicConfig`` in an embedding application) would print
    every line a second time, as plain text.

    ``level`` holds on every call: Powertools configures a service's logger once per process and leaves the
    level of a later ``Logger`` for the same service as it was, so a second build (an embedder, or a test
    process building several services) would otherwise log at whatever level the first one chose.
    """
    logger = Logger(
        service=SERVICE_NAME,
        level=level,
        stream=stream,
        json_serializer=_LINE_ENCODER.encode,
        json_deserializer=_message_as_written,
    )
    logger.setLevel(level)  # Powertools' own rules: the level given, else POWERTOOLS_LOG_LEVEL, else INFO
    package_logger = logging.getLogger("contact_sdk")
    handler = logger.registered_handler
    if handler not in package_logger.handlers:
        for old in list(package_logger.handlers):
            package_logger.removeHandler(old)
        package_logger.addHandler(handler)
    package_logger.setLevel(logger.log_level)
    package_logger.propagate = False
    logging.getLogger(SERVICE_NAME).propagate = False  # the Powertools Logger's own std logger
    return logger


@contextmanager
def correlation(logger: Logger, request_id: str) -> Iterator[None]:
    """Tag every log line of this thread with ``correlation_id`` for the duration of the block."""
    logger.thread_safe_append_keys(correlation_id=request_id)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(["correlation_id"])
