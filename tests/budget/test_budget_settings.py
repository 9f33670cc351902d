"""The response budget and the parked queue are read from the environment like every other setting."""

from __future__ import annotations

import pytest

from contact_sdk.errors import ConfigurationError
from contact_sdk.settings import Settings


def test_the_budget_defaults_to_four_seconds() -> None:
    """Unset, the budget is 4000 ms, the contract's default, and nothing is parked anywhere."""
    settings = Settings.from_env(environ={})
    assert settings.response_budget_ms == 4000
    assert settings.parked_queue_url is None


def test_the_budget_and_the_parked_queue_are_read() -> None:
    """Both variables are taken from the environment, stripped."""
    settings = Settings.from_env(
        environ={"CONTACT_RESPONSE_BUDGET_MS": " 2500 ", "CONTACT_PARKED_QUEUE_URL": "http://127.0.0.1:5000/q/dlq"}
    )
    assert settings.response_budget_ms == 2500
    assert settings.parked_queue_url == "http://127.0.0.1:5000/q/dlq"


@pytest.mark.parametrize("raw", ["four seconds", "4000.0", "0", "-1"])
def test_a_malformed_budget_is_refused_naming_the_variable(raw: str) -> None:
    """A budget that is not a positive whole number of milliseconds is a configuration error."""
    with pytest.raises(ConfigurationError, match=r"^CONTACT_RESPONSE_BUDGET_MS:"):
        Settings.from_env(environ={"CONTACT_RESPONSE_BUDGET_MS": raw})


def test_a_budget_longer_than_api_gateway_waits_is_refused() -> None:
    """API Gateway gives up after 29 s, so a 30 s budget could never be kept: refused with the reason."""
    assert Settings.from_env(environ={"CONTACT_RESPONSE_BUDGET_MS": "29000"}).response_budget_ms == 29000
    with pytest.raises(ConfigurationError, match=r"CONTACT_RESPONSE_BUDGET_MS: at most 29000 .*got 30000"):
        Settings.from_env(environ={"CONTACT_RESPONSE_BUDGET_MS": "30000"})
