"""The regression compare (``tools/bench_compare.py``): it passes a steady run and fails a deliberately slowed one."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "bench_compare.py"

#: Two benchmarks; BENCH_SLOW_MS slows only ``test_path_b``, the way a regression would.
BENCH_MODULE = """
import os, time

def work(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

def test_path_a(benchmark):
    benchmark(work, 1.0)

def test_path_b(benchmark):
    benchmark(work, 1.0 + float(os.environ.get("BENCH_SLOW_MS", "0")))
"""


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_compare", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_compare", module)
    spec.loader.exec_module(module)
    return module


def _run(payload: dict[str, float], extra: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    return {
        "benchmarks": [
            {
                "name": name,
                "stats": {"median": median, "min": median, "max": median, "mean": median},
                "extra_info": (extra or {}).get(name, {}),
            }
            for name, median in payload.items()
        ]
    }


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=60, check=False)


def test_a_run_within_the_threshold_passes(tmp_path: Path) -> None:
    """10 % slower with a 25 % threshold is noise, not a regression: exit 0."""
    base = _write(tmp_path / "base.json", _run({"test_warm_submit_mock": 0.001}))
    new = _write(tmp_path / "new.json", _run({"test_warm_submit_mock": 0.0011}))
    result = _compare("compare", str(base), str(new), "--threshold", "25")
    assert result.returncode == 0, result.stdout
    assert "+10.0%" in result.stdout


def test_the_threshold_and_the_statistic_are_the_ones_given(tmp_path: Path) -> None:
    """30 % slower at the median: a regression at the default 25 %, not at ``--threshold 50``. With ``--stat min``
    the same runs are compared by their minimum, which did not move: no regression at any threshold."""

    def run(median: float, minimum: float) -> dict[str, Any]:
        stats = {"median": median, "min": minimum, "max": median, "mean": median}
        return {"benchmarks": [{"name": "test_warm_submit_mock", "stats": stats, "extra_info": {}}]}

    base = _write(tmp_path / "base.json", run(0.001, 0.0009))
    new = _write(tmp_path / "new.json", run(0.0013, 0.0009))
    assert _compare("compare", str(base), str(new)).returncode == 1
    assert _compare("compare", str(base), str(new), "--threshold", "50").returncode == 0
    assert _compare("compare", str(base), str(new), "--stat", "min", "--threshold", "1").returncode == 0


def test_report_check_fails_only_when_a_target_is_missed(tmp_path: Path) -> None:
    """``report`` prints the ratios and exits 0 either way; ``report --check`` exits 1 when one is missed (here the
    MockTransport ratio, 3x against issue 7's 2x) and 0 when every target present is met."""
    missed = _write(tmp_path / "missed.json", _run({"test_warm_submit_mock": 0.003, "test_floor_mock": 0.001}))
    met = _write(tmp_path / "met.json", _run({"test_warm_submit_mock": 0.0015, "test_floor_mock": 0.001}))
    assert _compare("report", str(missed)).returncode == 0
    assert _compare("report", str(missed), "--check").returncode == 1
    assert _compare("report", str(met), "--check").returncode == 0


def test_a_missing_benchmark_is_reported_not_failed(tmp_path: Path) -> None:
    """A benchmark absent from the new run is listed; it is not counted as a regression."""
    base = _write(tmp_path / "base.json", _run({"test_a": 0.001, "test_b": 0.001}))
    new = _write(tmp_path / "new.json", _run({"test_a": 0.001}))
    result = _compare("compare", str(base), str(new))
    assert result.returncode == 0
    assert "test_b  missing from the new run" in result.stdout


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    """A file that is not pytest-benchmark JSON is a usage error, not a pass."""
    bad = _write(tmp_path / "bad.json", {"not": "benchmarks"})
    assert _compare("compare", str(bad), str(bad)).returncode == 2


def test_report_computes_the_ratios_against_the_floors() -> None:
    """The report divides each path by its floor from the same run (the cold first answer by the floor child's
    import + token + POST), holds each to its issue's limit, and checks RSS against 150 MB."""
    tool = _tool()
    data = _run(
        {
            "test_warm_submit_mock": 0.003,
            "test_floor_mock": 0.002,
            "test_import_handler": 0.5,
            "test_import_floor": 0.4,
            "test_cold_first_request": 1.0,
            "test_cold_first_answer": 1.2,
        },
        {
            "test_import_handler": {"import_ms": 260.0},
            "test_import_floor": {"import_ms": 200.0},
            "test_cold_first_request": {"maxrss_mb": 160.0},
            "test_cold_first_answer": {
                "import_ms": 190.0,
                "request_ms": 250.0,
                "floor_import_ms": 210.0,
                "floor_request_ms": 190.0,
            },
        },
    )
    targets = {t.label: t for t in tool.ratios({b["name"]: b for b in data["benchmarks"]})}
    assert targets["warm submit / floor, httpx.MockTransport (interleaved)"].value == pytest.approx(1.5)
    assert targets["import handler / import floor (in-interpreter, interleaved)"].value == pytest.approx(1.3)
    assert targets["import handler / import floor (in-interpreter, interleaved)"].met is False  # issue 24: <= 1.00
    first_answer = targets["cold first answer / floor: import + token + POST (interleaved)"]
    assert first_answer.value == pytest.approx(1.1)  # (190 + 250) / (210 + 190) = 440 / 400
    assert first_answer.met is True
    assert targets["peak RSS after the first request"].met is False
    assert targets["warm submit / floor, sandbox on loopback (interleaved)"].met is None


def test_report_prints_the_outbox_consumers_figures_in_milliseconds(tmp_path: Path) -> None:
    """The consumer's paths have no floor and no target: the report prints the warm batch's median and the cold
    child's own import and first-batch times, in ms, with the figures."""
    data = _run(
        {"test_warm_outbox_batch": 0.0032, "test_cold_outbox_first_batch": 0.46},
        {"test_cold_outbox_first_batch": {"import_ms": 134.2, "request_ms": 264.6}},
    )
    result = _compare("report", str(_write(tmp_path / "run.json", data)))
    assert result.returncode == 0
    lines = {line[:58].strip(): line.split()[-2:] for line in result.stdout.splitlines()}
    assert lines["warm outbox consumer, a batch of ten emails"] == ["3.2", "ms"]
    assert lines["cold outbox consumer: import handler"] == ["134.2", "ms"]
    assert lines["cold outbox consumer: the first batch (one email)"] == ["264.6", "ms"]


def test_compare_fails_on_a_deliberately_slowed_path(tmp_path: Path) -> None:
    """Two real pytest-benchmark runs, the second with one path slowed 3x: compare exits 1 and names only it."""
    (tmp_path / "test_paths.py").write_text(BENCH_MODULE, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")

    def bench(name: str, slow_ms: float) -> Path:
        out = tmp_path / f"{name}.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-c",
                str(tmp_path / "pytest.ini"),
                "--rootdir",
                str(tmp_path),
                str(tmp_path / "test_paths.py"),
                "--benchmark-enable",
                "--benchmark-min-rounds=15",
                "--benchmark-max-time=0.05",
                "--benchmark-warmup=off",
                f"--benchmark-json={out}",
            ],
            # A fresh pytest of its own: not an xdist worker's (pytest-benchmark stays off under xdist).
            env={**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}, "BENCH_SLOW_MS": str(slow_ms)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return out

    baseline, slowed = bench("baseline", 0), bench("slowed", 2.0)
    result = _compare("compare", str(baseline), str(slowed), "--threshold", "50")
    assert result.returncode == 1, result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("test_")}
    assert "REGRESSION" in lines["test_path_b"]
    assert "REGRESSION" not in lines["test_path_a"]
