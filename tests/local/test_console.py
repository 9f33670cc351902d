"""The stack's console: readable, tagged lines from access records and the service's JSON logs."""

from __future__ import annotations

import io
import json

from contact_sdk.devtools.local.api_server import AccessRecord
from contact_sdk.devtools.local.console import Console, ConsoleStream, render


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(out, clock=lambda: 0.0), out


def test_access_record_is_one_line_with_status_outcome_and_source() -> None:
    """An API request is shown as method, path, status, outcome, duration, source address and short request id."""
    console, out = _console()
    console.access(AccessRecord("POST", "/contact", 429, 8.6, "127.0.0.2", "5c1f0e22-aaaa-bbbb", "rate_limited"))
    line = out.getvalue()
    assert line.endswith("api      POST /contact 429 rate_limited 9ms from 127.0.0.2 [5c1f0e22]\n")


def test_service_json_log_is_rendered_readably_with_its_correlation_id() -> None:
    """A Powertools JSON document becomes ``LEVEL message key=value [request id]``; nothing is dropped."""
    document = {
        "level": "WARNING",
        "location": "retry:12",
        "message": "provider call failed; retrying",
        "timestamp": "2026-11-27 18:00:00,000+0000",
        "service": "contact-form",
        "wait_seconds": 1.0,
        "error": "ProviderServerError",
        "correlation_id": "0b9e41aa-1111-2222",
    }
    assert render(document) == (
        "WARNING provider call failed; retrying wait_seconds=1.0 error=ProviderServerError [0b9e41aa]"
    )


def test_console_stream_renders_json_lines_and_passes_other_text_through() -> None:
    """Written text is split into lines; JSON lines are rendered, plain ones kept, partial lines buffered."""
    console, out = _console()
    stream = ConsoleStream(console, "service")
    stream.write(json.dumps({"level": "ERROR", "message": "boom"}) + "\nplain ")
    stream.write("text\n")
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("service  ERROR boom")
    assert lines[1].endswith("service  plain text")
