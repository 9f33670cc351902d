"""Pure parts of the service module."""

from __future__ import annotations

from typing import Any

from contact_sdk.service import lambda_deadline


class Context:
    """A Lambda context reporting ``remaining`` milliseconds."""

    def __init__(self, remaining: Any) -> None:
        self.remaining = remaining

    def get_remaining_time_in_millis(self) -> Any:
        return self.remaining


def test_the_deadline_is_the_remaining_time_minus_the_margin_on_the_clients_clock() -> None:
    """30 s left and a 3 s margin: provider work must stop 27 s from now on the given clock."""
    deadline = lambda_deadline(Context(30_000), margin_ms=3000, clock=lambda: 100.0)
    assert deadline is not None
    assert (deadline.at, deadline.remaining()) == (127.0, 27.0)


def test_a_nearly_spent_lambda_gives_a_deadline_of_now_not_in_the_past() -> None:
    """Less time left than the margin: the deadline is now, so no attempt starts."""
    deadline = lambda_deadline(Context(1_000), margin_ms=3000, clock=lambda: 100.0)
    assert deadline is not None
    assert (deadline.at, deadline.expired()) == (100.0, True)


def test_without_a_usable_context_there_is_no_deadline() -> None:
    """No context, or one whose remaining time is not a number: None (the client's own limits apply)."""
    assert lambda_deadline(None, margin_ms=3000, clock=lambda: 0.0) is None
    assert lambda_deadline(Context("soon"), margin_ms=3000, clock=lambda: 0.0) is None
