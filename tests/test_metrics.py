"""Tests for EMF building and recording (``contact_sdk.metrics``): pure documents, a sink that keeps them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contact_sdk import metrics
from contact_sdk.metrics import (
    DIMENSION_SETS,
    METRICS,
    NAMESPACE,
    ListSink,
    Metric,
    MetricsRecorder,
    StdoutSink,
    build_emf_document,
    record,
    recording,
)


def directive(document: dict[str, Any]) -> dict[str, Any]:
    """The single CloudWatchMetrics directive of an EMF document."""
    (only,) = document["_aws"]["CloudWatchMetrics"]
    return only  # type: ignore[no-any-return]


@pytest.fixture
def sink() -> ListSink:
    """An in-memory sink."""
    return ListSink()


@pytest.fixture
def recorder(sink: ListSink) -> MetricsRecorder:
    """A recorder for environment ``test`` writing to ``sink`` with a fixed timestamp."""
    return MetricsRecorder(environment="test", sink=sink, clock_ms=lambda: 1_700_000_000_000)


def test_every_metric_has_a_definition_with_a_cloudwatch_unit() -> None:
    """METRICS defines each Metric once, with unit Count or Milliseconds and a description."""
    assert set(METRICS) == set(Metric)
    for metric, definition in METRICS.items():
        assert definition.metric is metric
        assert definition.unit in {"Count", "Milliseconds"}
        assert definition.description


def test_only_response_time_and_provider_latency_are_durations() -> None:
    """ResponseTime and ProviderLatency are in Milliseconds (the contract's table); every other metric is a Count."""
    durations = {m.value for m, d in METRICS.items() if d.unit == "Milliseconds"}
    assert durations == {"ResponseTime", "ProviderLatency"}


def test_document_shape() -> None:
    """A document has the namespace, the ``[["Environment"]]`` dimension set, units, timestamp and values."""
    (document,) = build_emf_document(
        environment="prod",
        values={Metric.EMAILS_SENT: [2], Metric.RESPONSE_TIME: [1.5, 3.0]},
        properties={"requestId": "req-1"},
        timestamp_ms=1_700_000_000_000,
    )
    assert NAMESPACE == "Portfolio/EmailService"
    assert DIMENSION_SETS == (("Environment",),)
    assert document["_aws"]["Timestamp"] == 1_700_000_000_000
    assert directive(document) == {
        "Namespace": "Portfolio/EmailService",
        "Dimensions": [["Environment"]],
        "Metrics": [{"Name": "EmailsSent", "Unit": "Count"}, {"Name": "ResponseTime", "Unit": "Milliseconds"}],
    }
    assert document["Environment"] == "prod"
    assert document["requestId"] == "req-1"
    assert document["EmailsSent"] == 2
    assert document["ResponseTime"] == [1.5, 3.0]


def test_document_building_is_pure() -> None:
    """The same input builds the same documents, and the input is left untouched."""
    values = {Metric.EMAILS_QUEUED: [1.0]}
    first = build_emf_document(environment="dev", values=values, timestamp_ms=1)
    assert build_emf_document(environment="dev", values=values, timestamp_ms=1) == first
    assert values == {Metric.EMAILS_QUEUED: [1.0]}


def test_more_than_100_samples_are_split_across_documents() -> None:
    """CloudWatch takes at most 100 values per metric per document; every sample still lands in one."""
    documents = build_emf_document(environment="prod", values={Metric.RESPONSE_TIME: list(range(150))}, timestamp_ms=1)
    assert len(documents) == 2
    samples = [
        v
        for d in documents
        for v in (d["ResponseTime"] if isinstance(d["ResponseTime"], list) else [d["ResponseTime"]])
    ]
    assert sorted(samples) == list(range(150))
    assert all(directive(d)["Dimensions"] == [["Environment"]] for d in documents)


def test_counts_are_summed_and_durations_kept(recorder: MetricsRecorder, sink: ListSink) -> None:
    """Within one flush, a Count becomes one summed value and every duration sample is kept as a list."""
    recorder.count(Metric.EMAILS_SENT)
    recorder.count(Metric.EMAILS_SENT, 2)
    recorder.timing(Metric.RESPONSE_TIME, 10)
    recorder.timing(Metric.RESPONSE_TIME, 20)
    recorder.flush()
    (document,) = sink.documents
    assert document["EmailsSent"] == 3
    assert document["ResponseTime"] == [10, 20]
    assert document["Environment"] == "test"
    assert document["_aws"]["Timestamp"] == 1_700_000_000_000
    assert sink.totals() == {"EmailsSent": 3, "ResponseTime": 30}


def test_flush_starts_afresh_and_writes_nothing_when_empty(recorder: MetricsRecorder, sink: ListSink) -> None:
    """A flush empties the recorder; flushing with nothing recorded writes no document."""
    recorder.flush()
    assert sink.documents == []
    recorder.count(Metric.SPAM_BLOCKED)
    recorder.flush()
    recorder.flush()
    assert len(sink.documents) == 1


def test_properties_ride_along(recorder: MetricsRecorder, sink: ListSink) -> None:
    """A property set on the recorder appears in the document but is not a metric."""
    recorder.set_property("requestId", "abc")
    recorder.count(Metric.CSRF_REJECTED)
    recorder.flush()
    assert sink.documents[0]["requestId"] == "abc"
    assert [m["Name"] for m in directive(sink.documents[0])["Metrics"]] == ["CsrfRejected"]


def test_recorder_is_thread_safe(recorder: MetricsRecorder, sink: ListSink) -> None:
    """Counts from many threads all land in the flushed total."""

    def work() -> None:
        for _ in range(250):
            recorder.count(Metric.PROVIDER_RETRIES)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.flush()
    assert sink.totals() == {"ProviderRetries": 2000}


def test_record_goes_to_the_current_recorder_only(recorder: MetricsRecorder, sink: ListSink) -> None:
    """``record`` counts on the recorder made current by ``recording`` and is a no-op outside one."""
    record(Metric.CIRCUIT_OPENED)
    with recording(recorder) as current:
        assert current is recorder
        record(Metric.CIRCUIT_OPENED)
        record(Metric.PARAMETER_ACCESS, 2)
    record(Metric.CIRCUIT_OPENED)
    recorder.flush()
    assert sink.totals() == {"CircuitOpened": 1, "ParameterAccess": 2}


def test_recording_nests_and_restores(sink: ListSink) -> None:
    """An inner ``recording`` wins inside its block and the outer one is current again after it."""
    outer = MetricsRecorder(environment="outer", sink=sink)
    inner = MetricsRecorder(environment="inner", sink=sink)
    with recording(outer):
        with recording(inner):
            record(Metric.EMAILS_SENT)
        record(Metric.EMAILS_FAILED)
    inner.flush()
    outer.flush()
    assert [(d["Environment"], list(d)[-1]) for d in sink.documents] == [
        ("inner", "EmailsSent"),
        ("outer", "EmailsFailed"),
    ]


def test_recording_does_not_leak_into_other_threads(recorder: MetricsRecorder, sink: ListSink) -> None:
    """A thread serving another request does not see this thread's current recorder."""
    with recording(recorder):
        thread = threading.Thread(target=record, args=(Metric.EMAILS_SENT,))
        thread.start()
        thread.join()
    recorder.flush()
    assert sink.documents == []


def test_stdout_sink_writes_one_compact_json_line() -> None:
    """StdoutSink prints each document as one compact JSON line."""
    lines: list[str] = []
    StdoutSink(write=lines.append).write({"a": 1, "b": [1, 2]})
    assert lines == ['{"a":1,"b":[1,2]}\n']


class WatchedStdout:
    """A stand-in for ``sys.stdout`` (a pipe, as on a container host): what was written, and each flush."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def write(self, text: str) -> int:
        self.events.append(text)
        return len(text)

    def flush(self) -> None:
        self.events.append("<flush>")


def test_stdout_sink_flushes_each_line_to_stdout_as_it_is_then(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each document is written and flushed at once, to the ``sys.stdout`` of that moment (a sink built before a
    redirection follows it, as ``print`` does), so no line waits in a buffer behind the request it counts."""
    sink = StdoutSink()
    first, second = WatchedStdout(), WatchedStdout()
    monkeypatch.setattr(sys, "stdout", first)
    sink.write({"a": 1})
    monkeypatch.setattr(sys, "stdout", second)
    sink.write_line('{"b":2}')
    assert (first.events, second.events) == (['{"a":1}\n', "<flush>"], ['{"b":2}\n', "<flush>"])


def test_a_stdout_sink_with_its_own_writer_never_touches_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``write`` given, the lines go there only: nothing is written to, or flushed on, ``sys.stdout``."""
    watched, lines = WatchedStdout(), []
    monkeypatch.setattr(sys, "stdout", watched)
    StdoutSink(write=lines.append).write_line("{}")
    assert (lines, watched.events) == (["{}\n"], [])


def test_a_list_sink_reads_no_metric_from_a_document_that_is_not_emf(sink: ListSink) -> None:
    """A tool's reader over mixed documents: one without ``_aws``, or without metrics in it, adds nothing."""
    for document in ({"message": "a log line"}, {"_aws": {"Timestamp": 1}}, {"_aws": {"CloudWatchMetrics": []}}):
        sink.write(document)
    assert (list(sink.values()), sink.totals()) == ([], {})


def test_the_recorders_own_clock_stamps_documents_in_epoch_milliseconds(sink: ListSink) -> None:
    """Without a clock of its own a recorder stamps each document with the wall clock in milliseconds, as CloudWatch
    reads ``_aws.Timestamp``: between the times read just before and just after the flush."""
    recorder = MetricsRecorder(environment="test", sink=sink)
    recorder.count(Metric.EMAILS_SENT)
    before = time.time() * 1000
    recorder.flush()
    after = time.time() * 1000
    (document,) = sink.documents
    stamp = document["_aws"]["Timestamp"]
    assert isinstance(stamp, int) and int(before) <= stamp <= after


def test_a_recorder_hands_a_stdout_sink_each_line_as_serialized() -> None:
    """Through a sink that takes lines (the service's), each document goes out as aws-embedded-metrics wrote it,
    not parsed and written again."""
    lines: list[str] = []
    recorder = MetricsRecorder(environment="test", sink=StdoutSink(write=lines.append), clock_ms=lambda: 1)
    recorder.count(Metric.EMAILS_SENT)
    recorder.flush()
    expected = metrics.build_emf_lines(environment="test", values={Metric.EMAILS_SENT: [1]}, timestamp_ms=1)
    assert lines == [line + "\n" for line in expected]


def test_list_sink_clear_forgets(sink: ListSink) -> None:
    """``clear`` drops every kept document."""
    sink.write({"_aws": {"CloudWatchMetrics": []}})
    sink.clear()
    assert sink.documents == []
    assert sink.totals() == {}


def test_building_a_document_does_not_import_aiohttp() -> None:
    """Building EMF keeps aiohttp out of ``sys.modules``, and a later ``import aws_embedded_metrics`` still works."""
    script = textwrap.dedent(
        """
        import json, sys
        import contact_sdk.metrics as m
        documents = m.build_emf_document(environment="prod", values={m.Metric.EMAILS_SENT: [1]}, timestamp_ms=1)
        result = {
            "aiohttp_after_build": "aiohttp" in sys.modules,
            "package_left_registered": "aws_embedded_metrics" in sys.modules,
            "namespace": documents[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        }
        import aws_embedded_metrics
        from aws_embedded_metrics import metric_scope
        result["real_package"] = callable(metric_scope) and hasattr(aws_embedded_metrics, "__file__")
        again = m.build_emf_document(environment="prod", values={m.Metric.EMAILS_SENT: [1]}, timestamp_ms=1)
        result["same_after_real_import"] = again == documents
        result["aiohttp_after_real_import"] = "aiohttp" in sys.modules
        print(json.dumps(result))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(completed.stdout) == {
        "aiohttp_after_build": False,
        "package_left_registered": False,
        "namespace": "Portfolio/EmailService",
        "real_package": True,
        "same_after_real_import": True,
        "aiohttp_after_real_import": True,  # proves the check above would have seen it
    }


def test_first_use_from_many_threads_at_once_loads_emf_once_and_cleanly() -> None:
    """Sixteen threads building their first document together all get it; no transient package is left behind."""
    script = textwrap.dedent(
        """
        import json, sys, threading
        import contact_sdk.metrics as m
        calls = []
        real = m._load_emf_core
        def counted():
            calls.append(1)
            return real()
        m._load_emf_core = counted
        start = threading.Barrier(16)
        results, errors = [], []
        def build():
            start.wait()
            try:
                values = {m.Metric.EMAILS_SENT: [1]}
                results.append(m.build_emf_lines(environment="prod", values=values, timestamp_ms=1))
            except Exception as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=build) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps({
            "errors": errors, "loads": len(calls), "documents": len(results),
            "distinct": len({json.dumps(r) for r in results}),
            "package_left_registered": "aws_embedded_metrics" in sys.modules,
        }))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(completed.stdout) == {
        "errors": [],
        "loads": 1,
        "documents": 16,
        "distinct": 1,
        "package_left_registered": False,
    }


def test_the_emf_modules_we_load_are_where_we_load_them_from() -> None:
    """The installed aws-embedded-metrics has the modules and calls we use: an upgrade that moves them fails here."""
    import importlib
    import importlib.util

    for module_name, class_name in {
        "aws_embedded_metrics.logger.metrics_context": "MetricsContext",
        "aws_embedded_metrics.serializers.log_serializer": "LogSerializer",
    }.items():
        assert importlib.util.find_spec(module_name) is not None, f"{module_name} moved"
        cls = getattr(importlib.import_module(module_name), class_name)
        for method in {
            "MetricsContext": ("empty", "set_dimensions", "set_property", "put_metric"),
            "LogSerializer": ("serialize",),
        }[class_name]:
            assert callable(getattr(cls, method, None)), f"{class_name}.{method} is gone"


def test_installed_aws_embedded_metrics_is_inside_the_supported_range() -> None:
    """The tests ran against a version pyproject.toml allows, and that range has an upper bound."""
    import importlib.metadata
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    (requirement,) = [
        Requirement(r) for r in pyproject["project"]["dependencies"] if r.startswith("aws-embedded-metrics")
    ]
    assert any(spec.operator == "<" for spec in requirement.specifier), "no upper bound"
    assert importlib.metadata.version("aws-embedded-metrics") in requirement.specifier


EMF = "aws_embedded_metrics"


@pytest.fixture
def emf_unloaded() -> Iterator[None]:
    """No module of aws-embedded-metrics loaded while the test runs (as in a fresh Lambda instance); the process's
    own modules put back afterwards, exactly as they were."""
    kept = {name: module for name, module in sys.modules.items() if name == EMF or name.startswith(EMF + ".")}
    for name in kept:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [name for name in sys.modules if name == EMF or name.startswith(EMF + ".")]:
            del sys.modules[name]
        sys.modules.update(kept)


def test_the_emf_classes_load_without_the_packages_init_and_leave_no_stand_in(emf_unloaded: None) -> None:
    """In a fresh process: the two classes from their own modules, the package's ``__init__`` never run (it would
    import ``metric_scope`` and aiohttp), and no stand-in package left for a later real ``import``."""
    context_cls, serializer_cls = metrics._load_emf_core()
    loaded = [(cls.__module__, cls.__name__) for cls in (context_cls, serializer_cls)]
    assert loaded == [
        (f"{EMF}.logger.metrics_context", "MetricsContext"),
        (f"{EMF}.serializers.log_serializer", "LogSerializer"),
    ]
    assert context_cls is sys.modules[f"{EMF}.logger.metrics_context"].MetricsContext
    assert EMF not in sys.modules and f"{EMF}.metric_scope" not in sys.modules


def test_the_emf_classes_load_beside_a_real_import_of_the_package(emf_unloaded: None) -> None:
    """Imported for real elsewhere first: its classes are the ones used, and the package is left as it was."""
    import aws_embedded_metrics

    assert metrics._load_emf_core()[0] is aws_embedded_metrics.MetricsContext
    assert sys.modules[EMF] is aws_embedded_metrics


def test_without_aws_embedded_metrics_installed_the_error_says_so(
    emf_unloaded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an interpreter that cannot find the package (a Lambda artifact built without it): the dependency named."""
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if not (Path(entry) / EMF).is_dir()])
    with pytest.raises(ImportError) as raised:
        metrics._load_emf_core()
    assert str(raised.value) == "aws-embedded-metrics is not installed: it is a runtime dependency of contact-sdk"
    assert EMF not in sys.modules


def test_a_moved_emf_module_is_a_clear_import_error(emf_unloaded: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """If an upgrade renames a module we load, the error names the installed version (as pip reports it), every
    name we load and where the supported versions are; no stand-in package is left behind."""
    import importlib.metadata

    monkeypatch.setitem(metrics.EMF_MODULES, f"{EMF}.logger.metrics_context_moved", "MetricsContext")
    with pytest.raises(ImportError) as raised:
        metrics._load_emf_core()
    version = importlib.metadata.version("aws-embedded-metrics")
    assert str(raised.value) == (
        f"aws-embedded-metrics {version} no longer has {EMF}.logger.metrics_context.MetricsContext, "
        f"{EMF}.serializers.log_serializer.LogSerializer, {EMF}.logger.metrics_context_moved.MetricsContext: "
        "contact_sdk.metrics supports the versions pyproject.toml allows"
    )
    assert EMF not in sys.modules


def test_a_distribution_that_is_not_installed_has_an_unknown_version() -> None:
    """The moved-module error's version, for a distribution pip does not know."""
    assert metrics._installed_version("no_such_distribution") == "(unknown version)"


def test_the_emf_classes_are_loaded_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first document loads them; every later one, from any thread, reuses them. Sixteen threads starting
    together each get the same document, from one load."""
    loads: list[int] = []
    real = metrics._load_emf_core

    def counted() -> tuple[Any, Any]:
        loads.append(1)
        time.sleep(0.05)  # keeps the first load going while the other threads arrive
        return real()

    monkeypatch.setattr(metrics, "_emf_core", None)
    monkeypatch.setattr(metrics, "_load_emf_core", counted)
    start = threading.Barrier(16)
    documents: list[list[dict[str, Any]]] = []

    def build() -> None:
        start.wait()
        documents.append(build_emf_document(environment="prod", values={Metric.EMAILS_SENT: [1]}, timestamp_ms=1))

    threads = [threading.Thread(target=build) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(documents) == 16 and all(d == documents[0] for d in documents)
    build_emf_document(environment="prod", values={Metric.EMAILS_SENT: [1]})
    assert len(loads) == 1
