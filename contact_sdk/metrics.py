"""CloudWatch metrics in Embedded Metric Format (EMF): what we emit, how a document is built, where it goes.

:data:`METRICS` is the single source of truth for names and units; the dashboard and alarm
checks read it. Building a document is pure (:func:`build_emf_document`); writing it is a
:class:`MetricsSink`'s job, so tests read the real documents.

Example::

    recorder = MetricsRecorder(environment="prod", sink=StdoutSink())
    recorder.count(Metric.EMAILS_SENT)
    recorder.timing(Metric.RESPONSE_TIME, 182.4)
    recorder.flush()          # prints one EMF JSON line
"""

from __future__ import annotations

import contextvars
import enum
import importlib
import importlib.util
import json
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "DIMENSION_SETS",
    "METRICS",
    "NAMESPACE",
    "ListSink",
    "Metric",
    "MetricDefinition",
    "MetricsRecorder",
    "MetricsSink",
    "StdoutSink",
    "build_emf_document",
    "build_emf_lines",
    "record",
    "record_timing",
    "recording",
]

NAMESPACE = "Portfolio/EmailService"
#: The one dimension set every metric is published with.
DIMENSION_SETS: tuple[tuple[str, ...], ...] = (("Environment",),)


class Metric(enum.StrEnum):
    """Every metric the service emits (the contract's table, section 10)."""

    EMAILS_SENT = "EmailsSent"
    EMAILS_FAILED = "EmailsFailed"
    EMAILS_QUEUED = "EmailsQueued"
    SPAM_BLOCKED = "SpamBlocked"
    VALIDATION_ERRORS = "ValidationErrors"
    RATE_LIMITED = "RateLimited"
    CSRF_REJECTED = "CsrfRejected"
    RESPONSE_TIME = "ResponseTime"
    PARAMETER_ACCESS = "ParameterAccess"
    PROVIDER_RETRIES = "ProviderRetries"
    CIRCUIT_OPENED = "CircuitOpened"
    EMAILS_DELIVERED = "EmailsDelivered"
    EMAILS_BOUNCED = "EmailsBounced"
    EMAILS_COMPLAINED = "EmailsComplained"
    EMAILS_DELAYED = "EmailsDelayed"
    ARCHIVE_WRITE_FAILED = "ArchiveWriteFailed"
    SUBMISSIONS_RELEASED = "SubmissionsReleased"
    CAPTCHA_REJECTED = "CaptchaRejected"
    CAPTCHA_UNAVAILABLE = "CaptchaUnavailable"
    PROVIDER_LATENCY = "ProviderLatency"
    BUDGET_EXHAUSTED = "BudgetExhausted"
    DEPENDENCY_DEGRADED = "DependencyDegraded"


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """A metric's name, CloudWatch unit and meaning."""

    metric: Metric
    unit: str
    description: str


METRICS: dict[Metric, MetricDefinition] = {
    d.metric: d
    for d in (
        MetricDefinition(Metric.EMAILS_SENT, "Count", "the provider accepted an email"),
        MetricDefinition(Metric.EMAILS_FAILED, "Count", "a send attempt sequence ended without acceptance"),
        MetricDefinition(Metric.EMAILS_QUEUED, "Count", "a submission went to the durable outbox"),
        MetricDefinition(Metric.SPAM_BLOCKED, "Count", "a submission was judged spam"),
        MetricDefinition(Metric.VALIDATION_ERRORS, "Count", "a 400/413/415"),
        MetricDefinition(Metric.RATE_LIMITED, "Count", "a 429"),
        MetricDefinition(Metric.CSRF_REJECTED, "Count", "a 403 csrf_* or origin_not_allowed"),
        MetricDefinition(Metric.RESPONSE_TIME, "Milliseconds", "every request, end to end inside the function"),
        MetricDefinition(Metric.PARAMETER_ACCESS, "Count", "an actual Parameter Store fetch"),
        MetricDefinition(Metric.PROVIDER_RETRIES, "Count", "each retry of a provider call"),
        MetricDefinition(Metric.CIRCUIT_OPENED, "Count", "the breaker moved to open"),
        MetricDefinition(Metric.EMAILS_DELIVERED, "Count", "a verified email.delivered webhook"),
        MetricDefinition(Metric.EMAILS_BOUNCED, "Count", "a verified email.bounced webhook"),
        MetricDefinition(Metric.EMAILS_COMPLAINED, "Count", "a verified email.complained webhook"),
        MetricDefinition(Metric.EMAILS_DELAYED, "Count", "a verified email.delivery_delayed webhook"),
        MetricDefinition(Metric.ARCHIVE_WRITE_FAILED, "Count", "a submission went ahead without its archive record"),
        MetricDefinition(
            Metric.SUBMISSIONS_RELEASED, "Count", "an operator released a spam-judged submission (the CLI sends it)"
        ),
        MetricDefinition(Metric.CAPTCHA_REJECTED, "Count", "a 403 captcha_invalid (Turnstile on)"),
        MetricDefinition(
            Metric.CAPTCHA_UNAVAILABLE, "Count", "Turnstile siteverify could not be asked; the policy decided"
        ),
        MetricDefinition(Metric.PROVIDER_LATENCY, "Milliseconds", "each provider attempt, from start to outcome"),
        MetricDefinition(Metric.BUDGET_EXHAUSTED, "Count", "a submission queued because the response budget ran out"),
        MetricDefinition(
            Metric.DEPENDENCY_DEGRADED,
            "Count",
            "a request skipped or cut short a call to DynamoDB, SQS or Parameter Store (the log names which)",
        ),
    )
}


#: The modules of aws-embedded-metrics we load, and what we use of each. They are not the library's public
#: face (its ``__init__`` is), so the supported versions are bounded in pyproject.toml and a test fails loudly
#: when an upgrade moves them.
EMF_MODULES = {
    "aws_embedded_metrics.logger.metrics_context": "MetricsContext",
    "aws_embedded_metrics.serializers.log_serializer": "LogSerializer",
}
_emf_lock = threading.Lock()
_emf_core: tuple[Any, Any] | None = None


def _load_emf_core() -> tuple[Any, Any]:
    """Import aws-embedded-metrics' ``MetricsContext`` and ``LogSerializer`` without its package ``__init__``.

    Why: the package ``__init__`` imports ``metric_scope``, whose environment detection imports
    aiohttp to probe EC2 metadata — about 100 ms on every Lambda cold start, for a probe we never
    need (in Lambda, EMF goes to stdout), and aiohttp is left out of the Lambda artifact. The two
    modules we use are pure. We register a bare package object just long enough to import them,
    then remove it, so a later ``import aws_embedded_metrics`` elsewhere in the process still runs
    the real ``__init__``. Callers hold ``_emf_lock``: two first uses at once must not see each
    other's transient package object.
    """
    package_name = "aws_embedded_metrics"
    stub: types.ModuleType | None = None
    if package_name not in sys.modules:  # not imported for real elsewhere: avoid its __init__
        spec = importlib.util.find_spec(package_name)
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("aws-embedded-metrics is not installed: it is a runtime dependency of contact-sdk")
        stub = types.ModuleType(package_name)
        stub.__path__ = list(spec.submodule_search_locations)
        stub.__spec__ = spec
        sys.modules[package_name] = stub
    try:
        loaded = [getattr(importlib.import_module(module), name) for module, name in EMF_MODULES.items()]
    except (ImportError, AttributeError) as exc:
        raise ImportError(
            f"aws-embedded-metrics {_installed_version(package_name)} no longer has "
            f"{', '.join(f'{m}.{n}' for m, n in EMF_MODULES.items())}: contact_sdk.metrics supports the versions "
            "pyproject.toml allows"
        ) from exc
    finally:
        if stub is not None and sys.modules.get(package_name) is stub:
            del sys.modules[package_name]
    context_cls, serializer_cls = loaded
    return context_cls, serializer_cls


def _installed_version(distribution: str) -> str:
    # Only the error above needs the version: importlib.metadata costs ~15 ms of every cold start at module level.
    import importlib.metadata  # noqa: PLC0415

    try:
        return importlib.metadata.version(distribution.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        return "(unknown version)"


def _emf() -> tuple[Any, Any]:
    """The two classes, loaded once per process; the first use is safe from any number of threads."""
    global _emf_core  # noqa: PLW0603 - a process-wide, load-once cache
    core = _emf_core
    if core is None:
        with _emf_lock:
            core = _emf_core
            if core is None:
                core = _emf_core = _load_emf_core()
    return core


def build_emf_document(
    *,
    environment: str,
    values: dict[Metric, list[float]],
    properties: dict[str, Any] | None = None,
    timestamp_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Build the EMF documents (usually one) for a set of metric values. Pure: no I/O.

    Uses aws-embedded-metrics' own ``MetricsContext`` and ``LogSerializer`` so the documents have
    exactly the shape CloudWatch extracts (namespace, the ``[["Environment"]]`` dimension set,
    units, the 100-metrics-per-document split).
    """
    lines = build_emf_lines(environment=environment, values=values, properties=properties, timestamp_ms=timestamp_ms)
    return [json.loads(line) for line in lines]


def build_emf_lines(
    *,
    environment: str,
    values: dict[Metric, list[float]],
    properties: dict[str, Any] | None = None,
    timestamp_ms: int | None = None,
) -> list[str]:
    """The same documents as :func:`build_emf_document`, already serialized (one JSON line each)."""
    metrics_context_cls, serializer_cls = _emf()
    context = metrics_context_cls.empty()
    context.namespace = NAMESPACE
    context.set_dimensions([{"Environment": environment}])
    if timestamp_ms is not None:
        context.meta["Timestamp"] = timestamp_ms
    for key, value in (properties or {}).items():
        context.set_property(key, value)
    for metric, samples in values.items():
        unit = METRICS[metric].unit
        for sample in samples:
            context.put_metric(metric.value, float(sample), unit)
    return list(serializer_cls.serialize(context))


class MetricsSink(Protocol):
    """Where finished EMF documents go."""

    def write(self, document: dict[str, Any]) -> None:
        """Write one EMF document."""


class StdoutSink:
    """Prints each document as one JSON line: in Lambda, CloudWatch Logs extracts the metrics.

    Without ``write``, each line goes to ``sys.stdout`` as it is at that moment (as ``print`` does) and is flushed
    at once, so a document never waits in a pipe's buffer behind the request it counts.
    """

    def __init__(self, write: Callable[[str], Any] | None = None) -> None:
        self._write = write
        self._lock = threading.Lock()

    def write(self, document: dict[str, Any]) -> None:
        """Print one document on its own line."""
        self.write_line(json.dumps(document, separators=(",", ":")))

    def write_line(self, line: str) -> None:
        """Print one already-serialized document (the recorder's fast path: no parse and re-dump)."""
        with self._lock:
            if self._write is not None:
                self._write(line + "\n")
                return
            stream = sys.stdout
            stream.write(line + "\n")
            stream.flush()


class ListSink:
    """Keeps documents in memory (tests, local tools). Thread-safe."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def write(self, document: dict[str, Any]) -> None:
        """Keep one document."""
        with self._lock:
            self.documents.append(document)

    def totals(self) -> dict[str, float]:
        """Sum of every metric over every kept document, by metric name."""
        sums: dict[str, float] = {}
        for name, value in self.values():
            sums[name] = sums.get(name, 0.0) + value
        return sums

    def values(self) -> Iterator[tuple[str, float]]:
        """Every (metric name, value) pair in the kept documents, in order."""
        with self._lock:
            documents = list(self.documents)
        for document in documents:
            for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
                for definition in directive["Metrics"]:
                    name = definition["Name"]
                    raw = document[name]
                    for value in raw if isinstance(raw, list) else [raw]:
                        yield name, float(value)

    def clear(self) -> None:
        """Forget every kept document."""
        with self._lock:
            self.documents.clear()


class MetricsRecorder:
    """Collects metric values for one unit of work and flushes them as EMF documents.

    A recorder is cheap; the service makes one per invocation. Thread-safe, because a
    breaker listener may record from whichever thread tripped it.
    """

    def __init__(
        self,
        *,
        environment: str,
        sink: MetricsSink,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.environment = environment
        self._sink = sink
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._values: dict[Metric, list[float]] = {}
        self._properties: dict[str, Any] = {}
        self._lock = threading.Lock()

    def count(self, metric: Metric, value: float = 1) -> None:
        """Add ``value`` to a Count metric."""
        self._put(metric, value)

    def timing(self, metric: Metric, milliseconds: float) -> None:
        """Record one duration in milliseconds."""
        self._put(metric, milliseconds)

    def set_property(self, key: str, value: Any) -> None:
        """Attach a searchable, non-metric property (e.g. the request id) to the documents."""
        with self._lock:
            self._properties[key] = value

    def _put(self, metric: Metric, value: float) -> None:
        with self._lock:
            self._values.setdefault(metric, []).append(value)

    def flush(self) -> None:
        """Write what was recorded as EMF documents and start afresh. Writes nothing when empty."""
        with self._lock:
            values, self._values = self._values, {}
            properties = dict(self._properties)
        if not values:
            return
        aggregated: dict[Metric, list[float]] = {}
        for metric, samples in values.items():
            # Counts are summed into one value per flush; durations keep every sample
            # so percentiles stay right.
            aggregated[metric] = [sum(samples)] if METRICS[metric].unit == "Count" else samples
        lines = build_emf_lines(
            environment=self.environment, values=aggregated, properties=properties, timestamp_ms=self._clock_ms()
        )
        write_line = getattr(self._sink, "write_line", None)
        for line in lines:
            if write_line is not None:
                write_line(line)
            else:
                self._sink.write(json.loads(line))


_current: contextvars.ContextVar[MetricsRecorder | None] = contextvars.ContextVar("contact_sdk_metrics", default=None)


def record(metric: Metric, value: float = 1) -> None:
    """Count ``metric`` on the recorder of the request this thread is serving (no-op outside one).

    Collaborators built once per execution environment (the breaker, the config cache, the
    retry hook) use this, so their events land in the document of the request that caused them.
    """
    recorder = _current.get()
    if recorder is not None:
        recorder.count(metric, value)


def record_timing(metric: Metric, milliseconds: float) -> None:
    """Record one duration of ``metric`` on the current request's recorder (no-op outside one)."""
    recorder = _current.get()
    if recorder is not None:
        recorder.timing(metric, milliseconds)


class recording:  # noqa: N801 - used as a context manager, reads like a function
    """Make ``recorder`` the current one for this thread/context while the block runs."""

    def __init__(self, recorder: MetricsRecorder) -> None:
        self._recorder = recorder
        self._token: contextvars.Token[MetricsRecorder | None] | None = None

    def __enter__(self) -> MetricsRecorder:
        self._token = _current.set(self._recorder)
        return self._recorder

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
