"""Tests for ``Settings.from_env``: explicit argument, then environment variable, then default."""

from __future__ import annotations

import dataclasses
from dataclasses import fields

import pytest

from contact_sdk.errors import ConfigurationError
from contact_sdk.settings import DEFAULT_RESEND_API_URL, ENVIRONMENT_VARIABLES, Settings

INT_VARIABLES = [
    var.name for name, var in ENVIRONMENT_VARIABLES.items() if name.endswith(("_limit", "_seconds", "_ms"))
]


def test_defaults_with_an_empty_environment() -> None:
    """With no variables set, every field takes its documented default."""
    settings = Settings.from_env(environ={})
    assert settings == Settings()
    assert settings.resend_api_url == DEFAULT_RESEND_API_URL
    assert settings.allowed_origins == ()
    assert settings.table_name is None


def test_every_field_has_exactly_one_variable() -> None:
    """Each Settings field is read from one documented variable, and the defaults agree with the dataclass."""
    assert set(ENVIRONMENT_VARIABLES) == {f.name for f in fields(Settings)}
    defaults = Settings.from_env(environ={})
    for f in fields(Settings):
        assert getattr(defaults, f.name) == f.default


def test_environment_values_are_parsed() -> None:
    """Variables override defaults: origins split on commas, integers parsed, the URL's trailing slash dropped."""
    settings = Settings.from_env(
        environ={
            "CONTACT_ALLOWED_ORIGINS": " https://example.com/ , http://localhost:3000,, ",
            "CONTACT_RATE_LIMIT": " 7 ",
            "CONTACT_ENVIRONMENT": "staging",
            "CONTACT_TABLE_NAME": "contact-staging",
            "RESEND_API_URL": "http://127.0.0.1:8025/",
            "CONTACT_DEADLINE_MARGIN_MS": "2500",
        }
    )
    assert settings.allowed_origins == ("https://example.com", "http://localhost:3000")
    assert settings.submit_limit == 7
    assert settings.environment == "staging"
    assert settings.table_name == "contact-staging"
    assert settings.resend_api_url == "http://127.0.0.1:8025"
    assert settings.deadline_margin_ms == 2500


def test_explicit_arguments_win_over_the_environment() -> None:
    """An explicit argument is used as given, even when the variable is set."""
    settings = Settings.from_env(environ={"CONTACT_RATE_LIMIT": "7"}, submit_limit=9, allowed_origins=("https://a.b",))
    assert settings.submit_limit == 9
    assert settings.allowed_origins == ("https://a.b",)


def test_blank_variables_mean_unset() -> None:
    """A variable set to whitespace falls back to the default instead of failing to parse."""
    assert Settings.from_env(environ={"CONTACT_RATE_LIMIT": "  ", "CONTACT_TABLE_NAME": ""}) == Settings()


def test_os_environ_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``environ``, the process environment is read (at call time, not import time)."""
    monkeypatch.setenv("CONTACT_ENVIRONMENT", "dev")
    assert Settings.from_env().environment == "dev"


#: The contract: ``CONTACT_MIN_FILL_SECONDS`` ``0`` turns the fill-time rule off; every other zero is a mistake.
ZERO_MEANS_OFF = {"CONTACT_MIN_FILL_SECONDS"}


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        (variable, raw)
        for variable in INT_VARIABLES
        for raw in ["ten", "1.5", "0x10", "0", "-3"]
        if not (raw == "0" and variable in ZERO_MEANS_OFF)
    ],
)
def test_bad_integers_name_the_variable(variable: str, raw: str) -> None:
    """A non-integer, zero or negative value raises ConfigurationError naming the variable."""
    with pytest.raises(ConfigurationError, match=f"^{variable}:"):
        Settings.from_env(environ={variable: raw})


def test_zero_min_fill_seconds_turns_the_rule_off() -> None:
    """``CONTACT_MIN_FILL_SECONDS=0`` is accepted (the rule is off); a negative value still names the variable."""
    assert Settings.from_env(environ={"CONTACT_MIN_FILL_SECONDS": "0"}).min_fill_seconds == 0
    with pytest.raises(ConfigurationError, match=r"^CONTACT_MIN_FILL_SECONDS: must be zero or more, got -1"):
        Settings.from_env(environ={"CONTACT_MIN_FILL_SECONDS": "-1"})


@pytest.mark.parametrize("raw", ["*", "https://example.com,*", "example.com", "https://ok.example, localhost:3000"])
def test_bad_origins_name_the_variable(raw: str) -> None:
    """A ``*`` or a value without a scheme in the origin list raises ConfigurationError naming the variable."""
    with pytest.raises(ConfigurationError, match=r"^CONTACT_ALLOWED_ORIGINS:"):
        Settings.from_env(environ={"CONTACT_ALLOWED_ORIGINS": raw})


def test_unknown_overrides_are_refused() -> None:
    """A misspelt explicit setting is a TypeError, not silently ignored."""
    with pytest.raises(TypeError, match="submit_limt"):
        Settings.from_env(environ={}, submit_limt=3)


def test_settings_are_frozen() -> None:
    """Settings is an immutable value object."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().environment = "dev"  # type: ignore[misc]
