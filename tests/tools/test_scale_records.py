"""``tools/scale_records.py``: the accounting of what a command read, the expected row counts, the table and the plot.

The measuring itself (moto, a fresh interpreter per command) is exercised by running the tool; these tests pin the
parts that turn what was seen into figures, each against numbers worked out by hand.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import boto3
import pytest

from tests.scripted_server import ScriptedServer
from tools.scale_records import (
    Measurement,
    SeedStats,
    _Calls,
    _expected_rows,
    _moto_client,
    _state_of,
    main,
    markdown,
    person_indexes,
    svg,
)

NONCE = {"pk": {"S": "csrf#abc"}, "expiresAt": {"N": "1764550834"}}  # 25 bytes (tests/devtools/test_capacity.py)


def record(calls: _Calls, operation: str, parsed: dict[str, object]) -> None:
    calls.record(model=SimpleNamespace(name=operation), parsed=parsed)


def test_each_operation_is_counted_as_dynamodb_bills_it() -> None:
    """GetItem: one strongly consistent unit per item found; BatchGetItem: half a unit per item; Query: the index
    entries it scanned, the bytes it returned summed per request; Scan: every scanned item at the mean size."""
    calls = _Calls(mean_item_bytes=381.0)
    record(calls, "GetItem", {"Item": NONCE})
    record(calls, "GetItem", {})  # nothing there: DynamoDB still bills a unit
    record(calls, "BatchGetItem", {"Responses": {"t": [NONCE, NONCE, NONCE]}})
    record(calls, "Query", {"ScannedCount": 3, "Items": [NONCE, NONCE, NONCE]})
    record(calls, "Scan", {"ScannedCount": 1000, "Items": []})  # 381,000 bytes: 94 units of 4 KB, halved
    record(calls, "DeleteItem", {"Attributes": NONCE})
    record(calls, "DeleteItem", {})  # nothing was there: nothing written
    assert calls.requests == {"GetItem": 2, "BatchGetItem": 1, "Query": 1, "Scan": 1, "DeleteItem": 2}
    assert calls.items_read == 1 + 3 + 3 + 1000
    assert calls.read_units == 1.0 + 1.0 + 3 * 0.5 + 0.5 + 47.0
    assert (calls.items_written, calls.write_units) == (1, 1)


def test_the_rows_expected_over_a_day_are_the_records_of_that_day() -> None:
    """1,000 records over 30 days are 2,592 s apart, the first 1,296 s old: 33 of them are within the last day."""
    now = 1_764_547_200.0  # 2025-12-01T00:00:00Z
    assert _expected_rows(1000, now=now, since="2025-11-30T00:00:00Z") == 33
    assert _expected_rows(1000, now=now, since=None) == 1000


@pytest.mark.parametrize("size", [300, 1000, 10_000, 100_000])
def test_adas_three_records_are_one_sent_one_spam_one_queued(size: int) -> None:
    """Her records are distinct, inside the table, and have the state the mix gives their position, so the mix
    keeps its shares and her erase finds the sent one's delivery record and two markers: 6 items."""
    person = person_indexes(size)
    assert sorted(person.values()) == ["queued", "sent", "spam"]
    assert len(person) == 3
    assert all(0 <= index < size for index in person)
    assert all(_state_of(index) == state for index, state in person.items())


def test_the_state_mix_is_70_20_5_3_2() -> None:
    """Every hundred records: 70 sent, 20 spam, 5 queued, 3 parked, 2 released."""
    shares = [_state_of(index) for index in range(100)]
    assert {state: shares.count(state) for state in set(shares)} == {
        "sent": 70,
        "spam": 20,
        "queued": 5,
        "parked": 3,
        "released": 2,
    }


def measurement(size: int, command: str, variant: str, seconds: float, items: int) -> Measurement:
    return Measurement(
        size=size,
        command=command,
        variant=variant,
        seconds=seconds,
        peak_rss_mb=70.83,
        requests={"Query": 1, "GetItem": 6, "DeleteItem": 6},
        items_read=items,
        read_units=7.5,
    )


def test_the_table_puts_the_scan_of_before_above_each_indexed_read() -> None:
    """Rows by size, then command in the tool's order, the Scan first; the seeding line with its own arithmetic."""
    rows = [
        measurement(10_000, "erase", "indexed", 0.61, 7),
        measurement(1000, "erase", "indexed", 0.514, 7),
        measurement(1000, "erase", "before (Scan)", 2.3249, 6320),
        measurement(1000, "show", "indexed", 0.4, 2),
    ]
    seeds = {1000: SeedStats(records=1000, items=3160, bytes=1_204_960, seconds=1.43)}
    assert markdown(seeds, rows).splitlines() == [
        "| n | command | reads through | time (s) | peak RSS (MB) | requests | items read | read units |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
        "| 1,000 | show | indexes | 0.40 | 71 | 13 | 2 | 7.5 |",
        "| 1,000 | erase | Scan (before) | 2.32 | 71 | 13 | 6,320 | 7.5 |",
        "| 1,000 | erase | indexes | 0.51 | 71 | 13 | 7 | 7.5 |",
        "| 10,000 | erase | indexes | 0.61 | 71 | 13 | 7 | 7.5 |",
        "",
        "- n = 1,000: 3,160 items, 1.2 MB (mean 381 bytes), seeded in 1 s (2,210 items/s)",
    ]


def _points(polyline: ElementTree.Element) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (pair.split(",") for pair in polyline.attrib["points"].split())]


def test_the_plot_draws_each_series_on_log_axes() -> None:
    """One line per command and variant, dashed for the Scan of before; values ten times apart at sizes ten times
    apart lie on a straight line with equal steps, and a larger value is drawn higher."""
    rows = [
        measurement(n, "erase", variant, seconds=n / 1000, items=items)
        for n in (1000, 10_000, 100_000)
        for variant, items in (("indexed", 7), ("before (Scan)", 6 * n))
    ]
    document = ElementTree.fromstring(svg(rows))  # noqa: S314 - our own output
    lines = document.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 4  # two panels, two variants
    dashed = [line for line in lines if "stroke-dasharray" in line.attrib]
    assert len(dashed) == 2
    time_indexed = _points(lines[0])  # series are drawn in sorted order: ("erase", "before (Scan)") first
    for line in lines:
        points = _points(line)
        assert [x for x, _ in points] == sorted(x for x, _ in points)
        steps = [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(points)]
        assert math.isclose(steps[0][0], steps[1][0], abs_tol=0.2)  # drawn to 0.1 px
        assert math.isclose(steps[0][1], steps[1][1], abs_tol=0.2)
    assert time_indexed[2][1] < time_indexed[0][1]  # 100 s above 1 s (SVG's y grows downwards)
    flat = _points(lines[3])  # items read through the indexes: 7 at every size
    assert len({y for _, y in flat}) == 1


def test_reports_merge_several_runs_and_bad_files_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--from-json twice: one table of both runs, and the plot written; a file --json did not write exits 2."""
    for size in (1000, 10_000):
        (tmp_path / f"{size}.json").write_text(
            json.dumps(
                {
                    "seeds": {str(size): {"records": size, "items": 3 * size, "bytes": 400 * size, "seconds": 2.0}},
                    "measurements": [vars(measurement(size, "erase", "indexed", 0.5, 7))],
                }
            ),
            encoding="utf-8",
        )
    plot = tmp_path / "plot.svg"
    assert main(["--from-json", str(tmp_path / "1000.json"), "--from-json", str(tmp_path / "10000.json"),
                 "--svg", str(plot)]) == 0  # fmt: skip
    table = capsys.readouterr().out
    assert "| 1,000 | erase | indexes |" in table and "| 10,000 | erase | indexes |" in table
    assert "- n = 10,000: 30,000 items" in table
    ElementTree.fromstring(plot.read_text(encoding="utf-8"))  # noqa: S314 - our own output: it parses
    (tmp_path / "bad.json").write_text('{"seeds": []}', encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        main(["--from-json", str(tmp_path / "bad.json")])
    assert stopped.value.code == 2
    assert "not a file this tool wrote with --json" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sizes", "1000,lots"], "--sizes: expected comma-separated whole numbers"),
        (["--sizes", "100"], "--sizes: each size must be at least 300"),
        (["--sizes", ","], "--sizes: each size must be at least 300"),
        (["--commands", "erase,list everything"], "--commands: list everything: not among show, list 1 day,"),
        (["--commands", " , "], "--commands: none given: not among"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A size that is not a number or too small for Ada's records to spread over, or a command the tool does not
    measure, exits 2 with the reason."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.integration
def test_a_measured_call_is_made_once_whatever_it_meets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The measured client never retries: a call that failed once and was tried again would be counted twice."""
    with ScriptedServer(lambda *_: (500, {"Content-Type": "application/x-amz-json-1.0"}, b"{}")) as dynamodb:
        monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb.url)
        client = _moto_client(boto3.session.Session(), "eu-west-1")
        with pytest.raises(client.exceptions.ClientError):
            client.describe_table(TableName="contact-scale")
    assert len(dynamodb.requests) == 1


# -- a run, with the emulator and each size's measuring stood in for ----------------------------------------------


class Run:
    """What ``main`` measured: each size with the Scan-based commands it was to measure, on a clock each size moves
    by a third of a second per record (300 records: 100 s)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, stop_at: int | None = None) -> None:
        self.now = 0.0
        self.sizes: list[tuple[int, tuple[str, ...]]] = []
        self.stop_at = stop_at

        @contextlib.contextmanager
        def emulator() -> Iterator[str]:
            yield "http://127.0.0.1:9"

        monkeypatch.setattr("contact_sdk.devtools.local.emulator.running_emulator", emulator)
        monkeypatch.setattr("tools.scale_records.run_size", self.run_size)

    def clock(self) -> float:
        return self.now

    def run_size(
        self, endpoint: str, size: int, *, before: Sequence[str], report: Callable[[str], None], commands: Sequence[str]
    ) -> tuple[SeedStats, list[Measurement]]:
        if size == self.stop_at:
            raise KeyboardInterrupt
        self.sizes.append((size, tuple(before)))
        self.now += size / 3
        found = [measurement(size, "erase", "indexed", 0.5, 7)]
        found += [measurement(size, "erase", "before (Scan)", 2.0, 6 * size)] if "erase" in before else []
        return SeedStats(records=size, items=3 * size, bytes=400 * size, seconds=1.0), found

    def main(self, *argv: str) -> int:
        return main(list(argv), clock=self.clock)


def test_json_keeps_every_size_measured_and_reads_back_as_the_same_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--json FILE``: the measurements of every size, which ``--from-json FILE`` prints as the table the run
    printed; written after each size, so a run stopped at its third size keeps its first two."""
    out = tmp_path / "run.json"
    assert Run(monkeypatch).main("--sizes", "300,600", "--json", str(out)) == 0
    measured = capsys.readouterr().out
    data = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(data["seeds"]) == ["300", "600"]
    assert [(m["size"], m["variant"]) for m in data["measurements"]] == [
        (300, "indexed"),
        (300, "before (Scan)"),
        (600, "indexed"),
        (600, "before (Scan)"),
    ]
    assert main(["--from-json", str(out)]) == 0
    assert capsys.readouterr().out == measured
    stopped = tmp_path / "stopped.json"
    with pytest.raises(KeyboardInterrupt):
        Run(monkeypatch, stop_at=1200).main("--sizes", "300,600,1200", "--json", str(stopped))
    assert sorted(json.loads(stopped.read_text(encoding="utf-8"))["seeds"]) == ["300", "600"]


def test_no_before_measures_the_indexed_commands_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """By default every size also runs the Scan-based commands of before (all six up to 10,000 records, then the
    two that stay affordable); ``--no-before``, none at any size, and the table has no Scan row."""
    run = Run(monkeypatch)
    assert run.main("--sizes", "300,20000") == 0
    assert run.sizes == [
        (300, ("show", "list 1 day", "export 1 day", "list all", "export all", "erase")),
        (20000, ("list 1 day", "erase")),
    ]
    assert "Scan (before)" in capsys.readouterr().out
    run = Run(monkeypatch)
    assert run.main("--sizes", "300,20000", "--no-before") == 0
    assert run.sizes == [(300, ()), (20000, ())]
    assert "Scan (before)" not in capsys.readouterr().out


@pytest.mark.parametrize(("budget", "measured"), [("500", [300, 600]), ("1000", [300, 600, 1200])])
def test_budget_skips_a_size_whose_projected_time_would_not_fit(
    budget: str, measured: list[int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """300 records take 100 s and 600 take 200 s: 1,200 are projected at 1.5 x 200 x 2 = 600 s, after 300 s spent.
    ``--budget 500`` skips them, saying so; ``--budget 1000`` has room (the default, three hours, too)."""
    run = Run(monkeypatch)
    assert run.main("--sizes", "300,600,1200", "--budget", budget, "--no-before") == 0
    assert [size for size, _ in run.sizes] == measured
    skipped = "n=1,200: skipped, projected 600 s past the budget"
    assert (skipped in capsys.readouterr().err) is (1200 not in measured)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "argument --budget: expected seconds above zero, got '0'"),
        ("-60", "argument --budget: expected seconds above zero, got '-60'"),
        ("nan", "argument --budget: expected seconds above zero, got 'nan'"),
        ("an hour", "argument --budget: expected seconds, got 'an hour'"),
    ],
)
def test_a_budget_that_is_not_seconds_above_zero_is_refused(
    raw: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 naming the option, nothing measured (a budget of 0 or less used to run the first size and skip every
    other one)."""
    run = Run(monkeypatch)
    with pytest.raises(SystemExit) as stopped:
        run.main("--sizes", "300,600", "--budget", raw)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert run.sizes == []
