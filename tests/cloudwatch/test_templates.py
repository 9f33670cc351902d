"""Tests for contact_sdk.ops.cloudwatch.templates: finding the one copy of the templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_sdk.errors import ConfigurationError
from contact_sdk.ops.cloudwatch.templates import (
    DASHBOARD_FILE,
    TEMPLATES_DIR_VARIABLE,
    load_template,
    templates_root,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def test_the_repository_root_is_found_from_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a checkout or editable install the top-level dashboards/ and alarms/ are used, no copy."""
    monkeypatch.delenv(TEMPLATES_DIR_VARIABLE, raising=False)
    assert templates_root() == REPOSITORY_ROOT
    assert load_template(DASHBOARD_FILE)["widgets"]


def test_the_environment_variable_selects_another_directory(template_copy: Path) -> None:
    """CONTACT_SDK_TEMPLATES_DIR points the loader at another copy (a wheel install, a fork)."""
    assert templates_root() == template_copy


def test_an_explicit_directory_wins(template_copy: Path) -> None:
    """An explicit directory is used before the environment variable."""
    assert templates_root(REPOSITORY_ROOT) == REPOSITORY_ROOT


def test_missing_templates_name_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without templates the error says where it looked and how to point at them."""
    monkeypatch.setenv(TEMPLATES_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(ConfigurationError, match=TEMPLATES_DIR_VARIABLE):
        templates_root()


def test_invalid_json_is_reported_with_the_file(template_copy: Path) -> None:
    """A template that is not JSON names its path."""
    (template_copy / "alarms" / "email-service.json").write_text("[{", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"email-service\.json is not valid JSON"):
        load_template("alarms/email-service.json")


def test_a_missing_template_file_is_reported(template_copy: Path) -> None:
    """A template file that is gone is named."""
    (template_copy / "alarms" / "dead-letter-queue.json").unlink()
    with pytest.raises(ConfigurationError, match="template missing"):
        load_template("alarms/dead-letter-queue.json")
