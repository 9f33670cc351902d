"""The contact-sdk CLI dispatcher."""

from __future__ import annotations

import subprocess
import sys

import pytest

from contact_sdk.ops.cli import main


def test_a_group_whose_extra_is_missing_explains_how_to_install_it() -> None:
    """Without jsonschema (the 'cli' extra), 'dashboard render' exits 2 naming the extra, instead of a traceback."""
    code = (
        "import sys; sys.modules['jsonschema'] = None\n"
        "from contact_sdk.ops.cli import main\n"
        "sys.exit(main(['dashboard', 'render', '--region', 'eu-west-1']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "pip install 'contact-sdk[cli]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_group_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command group exits 2 with argparse's usage message."""
    with pytest.raises(SystemExit) as exit_info:
        main(["nonsense"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_every_group_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--help lists every operator command group."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for group in ("config", "dns", "dashboard", "alarms"):
        assert group in out
