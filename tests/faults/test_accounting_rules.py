"""The fault suite's own oracle: the rule that no record moves backwards catches what it must."""

from __future__ import annotations

from tests.faults.conftest import backwards_moves


def test_forward_histories_pass() -> None:
    """A delivery after an outage, a parked-then-redriven one, and a spam verdict later released are all forward."""
    assert (
        backwards_moves(
            {
                "a": ["received", "queued", "queued", "sent"],
                "b": ["received", "parked", "queued", "sent"],
                "c": ["spam", "spam", "released"],
                "d": ["spam", "received", "sent"],
            }
        )
        == []
    )


def test_backwards_histories_are_named() -> None:
    """A late "queued" after "sent", spam over a delivered record, and a record born sent are each reported."""
    found = backwards_moves(
        {"late": ["received", "sent", "queued"], "spam": ["received", "sent", "spam"], "born": ["sent"]}
    )
    assert found == [
        "late: sent -> queued in ['received', 'sent', 'queued']",
        "spam: sent -> spam in ['received', 'sent', 'spam']",
        "born: starts at sent",
    ]
