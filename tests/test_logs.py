"""The service's logger: JSON lines, one handler for the service and the ``contact_sdk`` modules, its level."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contact_sdk.logs import build_logger, correlation
from tests.log_lines import printed

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _restore_levels() -> Iterator[None]:
    """The loggers are process-wide: put their levels back for the next test."""
    names = ("contact-form", "contact_sdk")
    saved = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_a_second_build_logs_at_its_own_level_not_the_first_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that builds a quiet service first (the local stack) and a chatty one later gets the later level."""
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL", raising=False)
    build_logger(level="ERROR")
    logger = build_logger(level="DEBUG")
    assert logging.getLogger("contact-form").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("contact_sdk").getEffectiveLevel() == logging.DEBUG
    assert logger.log_level == logging.DEBUG


def test_no_level_means_info_or_powertools_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a level: INFO, or what POWERTOOLS_LOG_LEVEL says, whatever an earlier build chose."""
    monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL", raising=False)
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    build_logger(level="ERROR")
    build_logger()
    assert logging.getLogger("contact-form").getEffectiveLevel() == logging.INFO
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    build_logger()
    assert logging.getLogger("contact_sdk").getEffectiveLevel() == logging.WARNING


def test_module_lines_carry_the_correlation_id_as_json() -> None:
    """A ``contact_sdk.*`` module's line goes through the service's JSON handler with the request's id."""
    logger = build_logger(level="INFO")
    with printed(logger) as out, correlation(logger, "req-123"):
        logging.getLogger("contact_sdk.intake").info("submission sent\nforged line")
    lines = out.stream.getvalue().splitlines()
    assert len(lines) == 1, "the newline in the message is escaped, not a second line"
    record = json.loads(lines[0])
    assert (record["message"], record["correlation_id"], record["service"]) == (
        "submission sent\nforged line",
        "req-123",
        "contact-form",
    )


def test_a_root_handler_added_later_prints_no_second_plain_copy() -> None:
    """Each record is one JSON line, whatever handlers the embedding application gives the root logger afterwards.

    Powertools keeps the service's records off the root logger's handlers with a filter it adds to the handlers
    there *when the Logger is built*; an application that calls ``logging.basicConfig`` later (a local server,
    a test harness) would otherwise print every line a second time, as plain text without its fields.
    """
    logger = build_logger(level="INFO")
    late = io.StringIO()
    root_handler = logging.StreamHandler(late)
    logging.getLogger().addHandler(root_handler)
    try:
        with printed(logger) as out, correlation(logger, "req-9"):
            logger.info("request handled", extra={"status": 200})
            logging.getLogger("contact_sdk.delivery").warning("provider slow")
    finally:
        logging.getLogger().removeHandler(root_handler)
    assert [line["message"] for line in out.all()] == ["request handled", "provider slow"]
    assert late.getvalue() == "", "a record reached the root logger's handlers too"


def test_the_first_build_in_a_process_wires_every_logger_to_the_stream_given() -> None:
    """In a fresh interpreter (as in a cold Lambda), the first build decides where everything goes: the service's
    lines and the modules' go to the stream given, as JSON, and none reaches a handler an embedder put on the
    package's logger before it or on the root logger after it."""
    code = (
        "import io, json, logging, sys\n"
        "from contact_sdk.logs import build_logger\n"
        "logging.getLogger('contact_sdk').addHandler(logging.StreamHandler(sys.stderr))  # there before the build\n"
        "out = io.StringIO()\n"
        "logger = build_logger(level='INFO', stream=out)\n"
        "logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)  # an embedder's root handler, added later\n"
        "logger.info('service line')\n"
        "logging.getLogger('contact_sdk.delivery').warning('module line')\n"
        "print(json.dumps([json.loads(line)['message'] for line in out.getvalue().splitlines()]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["service line", "module line"]
    assert result.stderr == ""


def test_each_record_is_one_compact_line_and_its_message_the_text_written() -> None:
    """What Logs Insights and the local stack's readers parse: one record per line, even with ``POWERTOOLS_DEV``
    set (Powertools would indent it over several lines), its message the text the code wrote (Powertools would
    parse one that looks like JSON into an object), values it cannot encode written as text, non-ASCII as is.

    A fresh interpreter: Powertools builds the service's formatter once per process, at the first build.
    """
    code = (
        "import datetime, io\n"
        "from contact_sdk.logs import build_logger\n"
        "out = io.StringIO()\n"
        "logger = build_logger(level='INFO', stream=out)\n"
        "logger.info('{\"status\": \"sent\"}', extra={'at': datetime.date(2026, 12, 8), 'sender': 'Zoë'})\n"
        "logger.info('[1, 2]')\n"
        "print(out.getvalue(), end='')\n"
    )
    env = {**os.environ, "POWERTOOLS_DEV": "1"}
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == '{"status": "sent"}'
    assert (first["at"], first["sender"]) == ("2026-12-08", "Zoë")
    assert '"sender":"Zoë"' in lines[0], "compact separators, non-ASCII written as is"
    assert second["message"] == "[1, 2]"
