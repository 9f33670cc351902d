"""cfn-lint on the synthesized templates: no errors, no warnings (skipped rules are listed, with reasons, in
infra/.cfnlintrc.yaml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import INFRA, Synthesized


@pytest.mark.parametrize("variant", ["synthesized", "synthesized_with_domain", "synthesized_with_waf"])
def test_cfn_lint_finds_nothing(variant: str, request: pytest.FixtureRequest) -> None:
    """cfn-lint exits 0 for the production stack, the custom-domain variant and the WAF variant."""
    synthesized: Synthesized = request.getfixturevalue(variant)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--config-file",
            str(INFRA / ".cfnlintrc.yaml"),
            "--",
            str(synthesized.template_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_skipped_rule_has_a_reason() -> None:
    """Each ignore_checks entry in the cfn-lint config is preceded by a comment saying why."""
    lines = (INFRA / ".cfnlintrc.yaml").read_text(encoding="utf-8").splitlines()
    start = lines.index("ignore_checks:")
    for number, line in enumerate(lines[start + 1 :], start=start + 1):
        if line.strip().startswith("- "):
            assert lines[number - 1].strip().startswith("#"), f"no reason given for {line.strip()}"
