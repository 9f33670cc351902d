"""``tools/mutation_report.py``: per-module scores from mutmut's results, judged-equivalent mutants set aside."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "mutation_report.py"

RESULTS = """\
    contact_sdk.models.x_parse_submission__mutmut_1: killed
    contact_sdk.models.x_parse_submission__mutmut_2: survived
    contact_sdk.models.xǁContactSubmissionǁ_trim__mutmut_1: killed
    contact_sdk.models.xǁContactSubmissionǁ_trim__mutmut_2: timeout
    contact_sdk.security.csrf.x_verify__mutmut_1: no tests
    contact_sdk.compose.x_compose_email__mutmut_1: killed
some other line mutmut prints
"""


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_report", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_report"] = module
    spec.loader.exec_module(module)
    return module


def test_module_names(tool: ModuleType) -> None:
    assert tool.module_of("contact_sdk.security.csrf.x_verify__mutmut_3") == "contact_sdk.security.csrf"
    assert tool.module_of("contact_sdk.models.xǁContactSubmissionǁ_trim__mutmut_1") == "contact_sdk.models"
    assert tool.module_of("not a mutant") is None


def test_scores_per_module_with_equivalents_set_aside(tool: ModuleType) -> None:
    results = tool.parse_results(RESULTS.splitlines())
    assert len(results) == 6
    equivalent = {"contact_sdk.models.x_parse_submission__mutmut_2"}
    models, csrf = tool.score(results, ["models", "security/csrf"], equivalent)
    assert (models.module, models.total, models.killed, models.equivalent, models.percent) == (
        "contact_sdk.models",
        4,
        3,
        1,
        100.0,
    )
    assert (csrf.total, csrf.killed, csrf.percent) == (1, 0, 0.0)
    assert csrf.surviving == ["contact_sdk.security.csrf.x_verify__mutmut_1: no tests"]
    (bare,) = tool.score(results, ["models"], set())
    assert bare.percent == 75.0


def test_an_equivalent_needs_a_reason(tool: ModuleType) -> None:
    assert tool.load_equivalent(["# header", "", "a__mutmut_1  # same behaviour"]) == {"a__mutmut_1"}
    with pytest.raises(ValueError, match="line 1: an equivalent mutant needs its reason"):
        tool.load_equivalent(["a__mutmut_1"])


def test_main_prints_the_table_and_fails_under_the_minimum(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.txt"
    results.write_text(RESULTS, encoding="utf-8")
    none = tmp_path / "none.txt"
    none.write_text("# nothing judged equivalent\n", encoding="utf-8")
    assert tool.main(["--results", str(results), "--equivalent", str(none), "compose"]) == 0
    assert "contact_sdk.compose" in capsys.readouterr().out
    assert tool.main(["--results", str(results), "--equivalent", str(none), "--min", "85", "models"]) == 1
    out = capsys.readouterr().out
    assert "75.0%" in out and "survived  contact_sdk.models.x_parse_submission__mutmut_2: survived" in out
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing here\n", encoding="utf-8")
    assert tool.main(["--results", str(empty), "models"]) == 2
    assert tool.main(["--results", str(tmp_path / "missing.txt"), "models"]) == 2
    capsys.readouterr()
    assert tool.main(["--results", str(results), "--equivalent", str(tmp_path / "typo.txt"), "models"]) == 2
    assert "typo.txt" in capsys.readouterr().err


def test_the_equivalents_file_given_is_the_one_set_aside(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--equivalent FILE`` naming the one survivor (with its reason): models no longer falls under ``--min 85``,
    and the survivor is counted as equivalent, not listed as surviving."""
    results = tmp_path / "results.txt"
    results.write_text(RESULTS, encoding="utf-8")
    judged = tmp_path / "judged.txt"
    judged.write_text("contact_sdk.models.x_parse_submission__mutmut_2  # same behaviour\n", encoding="utf-8")
    assert tool.main(["--results", str(results), "--equivalent", str(judged), "--min", "85", "models"]) == 0
    out = capsys.readouterr().out
    assert "survived  contact_sdk.models.x_parse_submission__mutmut_2" not in out


def model_mutants() -> ModuleType:
    """tools/model_mutants.py as a module."""
    spec = importlib.util.spec_from_file_location("model_mutants", TOOL.with_name("model_mutants.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["model_mutants"] = module
    spec.loader.exec_module(module)
    return module


def test_every_hand_written_model_mutant_still_applies_to_the_model() -> None:
    """tools/model_mutants.py: each mutant's text occurs exactly once in models.py (else the table is stale)."""
    module = model_mutants()
    assert module.main(["--list"]) == 0
    assert len(module.MUTANTS) >= 30
    assert all(mutant.old != mutant.new for mutant in module.MUTANTS)


def test_model_mutants_list_prints_the_mutants_and_runs_none(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tools/model_mutants.py --list``: one mutant per line, from the name's lengths to the consent validator, and
    nothing else; no mutant is applied or tested (each would be a pytest run in a copy of the tree)."""
    module = model_mutants()

    def tested(tree: Path) -> bool:
        raise AssertionError(f"--list tested a mutant in {tree}")

    monkeypatch.setattr(module, "_killed", tested)
    assert module.main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["name min_length 1 -> 0", "name max_length 100 -> 101", "name max_length 100 -> 99"]
    assert lines[-1] == "_consent_given not registered"
    assert len(lines) == len(set(lines)) >= 30
    assert not [line for line in lines if line.startswith(("killed", "SURVIVED")) or "mutants killed" in line]
