"""A small model of CloudWatch alarm evaluation, so a test can show which alarms an incident trips.

It turns EMF documents (what the handler prints) and log lines (through the shipped metric
filters) into datapoints, then evaluates rendered ``PutMetricAlarm`` definitions over a time range
the way CloudWatch does, in outline:

- datapoints are grouped into periods aligned to the epoch; a period with no datapoint is missing;
- statistics: ``SampleCount``, ``Sum``, ``Average``, ``Minimum``, ``Maximum``, ``pNN`` (nearest rank);
- metric math: ``+ - * /``, parentheses, numbers, ids, ``FILL(x, value)``; a period where every
  metric is missing has no datapoint, division by zero gives none;
- ``ANOMALY_DETECTION_BAND(m, k)``: a stand-in for CloudWatch's trained model, the mean of ``m``'s
  earlier periods plus/minus ``k`` standard deviations (at least 1, or 10 % of the mean); with fewer
  than 3 earlier periods the band is missing, like an untrained model;
- at the end of each period the last ``EvaluationPeriods`` periods are judged: ``DatapointsToAlarm``
  breaching ones mean ALARM; missing periods follow ``TreatMissingData``.

It is a model for drills, not a replica: CloudWatch's own evaluation adds look-back for missing
data and a real trained band.

Example::

    points = datapoints_from_emf(sink.documents)
    timelines = evaluate_alarms(render_alarms(params), points, start_ms=t0, end_ms=t0 + 3_600_000)
    assert timelines["prod-portfolio-email-spam-wave"].entered(AlarmState.ALARM)
"""

from __future__ import annotations

import ast
import enum
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contact_sdk.errors import ContactSdkError

__all__ = [
    "AlarmState",
    "AlarmTimeline",
    "Datapoint",
    "EvaluationError",
    "datapoints_from_emf",
    "datapoints_from_logs",
    "evaluate_alarm",
    "evaluate_alarms",
    "filter_pattern_matches",
]

_MIN_TRAINING_PERIODS = 3


class EvaluationError(ContactSdkError):
    """The definition uses something this model does not evaluate."""


class AlarmState(enum.StrEnum):
    """The three states of a CloudWatch alarm."""

    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True, slots=True)
class Datapoint:
    """One published value of one metric (namespace, name, sorted dimensions) at a time."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    timestamp_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class AlarmTimeline:
    """An alarm's state after each evaluation: ``(evaluation time in ms, state)``, oldest first."""

    alarm_name: str
    states: tuple[tuple[int, AlarmState], ...]

    @property
    def final_state(self) -> AlarmState:
        """The state after the last evaluation (``INSUFFICIENT_DATA`` if never evaluated)."""
        return self.states[-1][1] if self.states else AlarmState.INSUFFICIENT_DATA

    def entered(self, state: AlarmState) -> bool:
        """Whether the alarm was in ``state`` after any evaluation."""
        return any(s == state for _, s in self.states)


# --- sources of datapoints -----------------------------------------------------------------------


def datapoints_from_emf(documents: Iterable[Mapping[str, Any]]) -> list[Datapoint]:
    """The datapoints CloudWatch would extract from EMF documents (every dimension set, every value)."""
    points: list[Datapoint] = []
    for document in documents:
        meta = document["_aws"]
        timestamp = int(meta["Timestamp"])
        for directive in meta["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = tuple(sorted((name, str(document[name])) for name in dimension_set))
                for definition in directive["Metrics"]:
                    raw = document[definition["Name"]]
                    for value in raw if isinstance(raw, list) else [raw]:
                        points.append(
                            Datapoint(directive["Namespace"], definition["Name"], dimensions, timestamp, float(value))
                        )
    return points


def filter_pattern_matches(pattern: str, message: str) -> bool:
    """Whether a CloudWatch Logs filter pattern matches one log event.

    Supports the two forms the shipped filters use: terms (``"a phrase"``, ``word``, ``-excluded``,
    ``?either ?or``) and JSON patterns joined by ``&&`` (``{ $.a.b = "x" && $.c != "y" }``).
    """
    pattern = pattern.strip()
    if pattern.startswith("{") and pattern.endswith("}"):
        return _json_pattern_matches(pattern[1:-1], message)
    terms = _split_terms(pattern)
    optional = [t[1:] for t in terms if t.startswith("?")]
    if optional:
        if len(optional) != len(terms):
            raise EvaluationError(f"mixing ?terms with other terms is not modelled: {pattern!r}")
        return any(term in message for term in optional)
    return all((term[1:] not in message) if term.startswith("-") else (term in message) for term in terms)


def _split_terms(pattern: str) -> list[str]:
    terms: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern[index].isspace():
            index += 1
            continue
        prefix = ""
        if pattern[index] in "?-":
            prefix, index = pattern[index], index + 1
        if index < len(pattern) and pattern[index] == '"':
            end = pattern.index('"', index + 1)
            terms.append(prefix + pattern[index + 1 : end])
            index = end + 1
        else:
            end = index
            while end < len(pattern) and not pattern[end].isspace():
                end += 1
            terms.append(prefix + pattern[index:end])
            index = end
    return terms


def _json_pattern_matches(body: str, message: str) -> bool:
    try:
        event = json.loads(message)
    except json.JSONDecodeError:
        return False
    for clause in body.split("&&"):
        operator = "!=" if "!=" in clause else "="
        selector, _, expected = clause.partition(operator)
        selector, expected = selector.strip(), expected.strip()
        if not selector.startswith("$.") or "||" in clause:
            raise EvaluationError(f"JSON filter clause not modelled: {clause.strip()!r}")
        value: Any = event
        for key in selector[2:].split("."):
            value = value.get(key) if isinstance(value, dict) else None
        wanted: Any = json.loads(expected) if expected.startswith('"') else _number(expected)
        if (value == wanted) != (operator == "="):
            return False
    return True


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise EvaluationError(f"JSON filter value not modelled: {text!r}") from None


def datapoints_from_logs(
    events: Iterable[tuple[int, str]], metric_filters: Sequence[Mapping[str, Any]]
) -> list[Datapoint]:
    """The datapoints the metric filters would publish for ``(timestamp_ms, message)`` log events."""
    points: list[Datapoint] = []
    for timestamp, message in events:
        for metric_filter in metric_filters:
            if not filter_pattern_matches(metric_filter["filterPattern"], message):
                continue
            for transformation in metric_filter["metricTransformations"]:
                value = _number(transformation["metricValue"])
                points.append(
                    Datapoint(transformation["metricNamespace"], transformation["metricName"], (), timestamp, value)
                )
    return points


# --- statistics and metric math ------------------------------------------------------------------


def _statistic(name: str, values: Sequence[float]) -> float:
    if name == "Sum":
        return math.fsum(values)
    if name == "SampleCount":
        return float(len(values))
    if name == "Average":
        return math.fsum(values) / len(values)
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    if name.startswith("p"):
        try:
            percentile = float(name[1:])
        except ValueError:
            raise EvaluationError(f"statistic {name!r} is not modelled") from None
        ordered = sorted(values)
        rank = max(1, math.ceil(percentile / 100 * len(ordered)))
        return ordered[rank - 1]
    raise EvaluationError(f"statistic {name!r} is not modelled")


def _evaluate_math(node: ast.AST, values: Mapping[str, float | None]) -> float | None:
    if isinstance(node, ast.Expression):
        return _evaluate_math(node.body, values)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise EvaluationError(f"expression uses unknown id {node.id!r}")
        return values[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _evaluate_math(node.operand, values)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        left, right = _evaluate_math(node.left, values), _evaluate_math(node.right, values)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return None if right == 0 else left / right
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "FILL"
        and len(node.args) == 2
    ):
        value = _evaluate_math(node.args[0], values)
        return _evaluate_math(node.args[1], values) if value is None else value
    raise EvaluationError(f"metric math not modelled: {ast.unparse(node)!r}")


def _parse_band(expression: str) -> tuple[str, float]:
    tree = ast.parse(expression, mode="eval").body
    if (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and tree.func.id == "ANOMALY_DETECTION_BAND"
        and isinstance(tree.args[0], ast.Name)
    ):
        width = 2.0
        if (
            len(tree.args) > 1
            and isinstance(tree.args[1], ast.Constant)
            and isinstance(tree.args[1].value, int | float)
        ):
            width = float(tree.args[1].value)
        return tree.args[0].id, width
    raise EvaluationError(f"threshold expression not modelled: {expression!r}")


# --- evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MetricQuery:
    key: tuple[str, str, tuple[tuple[str, str], ...]]
    stat: str


class _Series:
    """Per-period values of an alarm's queries, computed on demand."""

    def __init__(self, alarm: Mapping[str, Any], index: Mapping[Any, list[tuple[int, float]]]) -> None:
        self._index = index
        self.metrics: dict[str, _MetricQuery] = {}
        self.expressions: dict[str, ast.Expression] = {}
        self.band: tuple[str, float] | None = None
        threshold_id = alarm.get("ThresholdMetricId")
        if "Metrics" in alarm:
            periods = set()
            for query in alarm["Metrics"]:
                if "MetricStat" in query:
                    stat = query["MetricStat"]
                    self.metrics[query["Id"]] = _MetricQuery(_key(stat["Metric"]), stat["Stat"])
                    periods.add(int(stat["Period"]))
                elif query["Id"] == threshold_id:
                    self.band = _parse_band(query["Expression"])
                else:
                    self.expressions[query["Id"]] = ast.parse(query["Expression"], mode="eval")
            if len(periods) != 1:
                raise EvaluationError(f"alarm {alarm['AlarmName']!r}: every MetricStat must share one Period")
            self.period_ms = periods.pop() * 1000
            returned = [
                q["Id"] for q in alarm["Metrics"] if q.get("ReturnData", True) is not False and q["Id"] != threshold_id
            ]
            self.returned = returned[0]
        else:
            stat = alarm.get("Statistic") or alarm["ExtendedStatistic"]
            self.metrics["m"] = _MetricQuery(_key(alarm), stat)
            self.period_ms = int(alarm["Period"]) * 1000
            self.returned = "m"

    def metric_value(self, query: _MetricQuery, start: int) -> float | None:
        values = [v for t, v in self._index.get(query.key, []) if start <= t < start + self.period_ms]
        return _statistic(query.stat, values) if values else None

    def value(self, start: int) -> float | None:
        values: dict[str, float | None] = {i: self.metric_value(q, start) for i, q in self.metrics.items()}
        if all(v is None for v in values.values()):
            return None
        pending = dict(self.expressions)
        while pending:
            progressed = False
            for expression_id, tree in list(pending.items()):
                try:
                    values[expression_id] = _evaluate_math(tree, values)
                except EvaluationError:
                    continue
                del pending[expression_id]
                progressed = True
            if not progressed:
                expression_id, tree = next(iter(pending.items()))
                _evaluate_math(tree, values)  # raises the real reason
        return values[self.returned]

    def band_at(self, window_start: int) -> tuple[float, float] | None:
        if self.band is None:
            return None
        metric_id, width = self.band
        query = self.metrics[metric_id]
        times = [t for t, _ in self._index.get(query.key, []) if t < window_start]
        if not times:
            return None
        first = min(times) // self.period_ms * self.period_ms
        history = [
            v
            for start in range(first, window_start, self.period_ms)
            if (v := self.metric_value(query, start)) is not None
        ]
        if len(history) < _MIN_TRAINING_PERIODS:
            return None
        mean = statistics.fmean(history)
        spread = max(statistics.pstdev(history), 1.0, 0.1 * abs(mean))
        return mean - width * spread, mean + width * spread


def _key(metric: Mapping[str, Any]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
    return metric["Namespace"], metric["MetricName"], dimensions


def _breaches(operator: str, value: float, threshold: float | None, band: tuple[float, float] | None) -> bool:
    if band is not None:
        low, high = band
        return {
            "GreaterThanUpperThreshold": value > high,
            "LessThanLowerThreshold": value < low,
            "LessThanLowerOrGreaterThanUpperThreshold": value < low or value > high,
        }[operator]
    if threshold is None:
        raise EvaluationError("a static alarm needs a Threshold")
    return {
        "GreaterThanThreshold": value > threshold,
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }[operator]


def evaluate_alarm(
    alarm: Mapping[str, Any], datapoints: Iterable[Datapoint], *, start_ms: int, end_ms: int
) -> AlarmTimeline:
    """Evaluate one alarm at the end of every one of its periods in ``(start_ms, end_ms]``.

    Datapoints before ``start_ms`` still count: they fill the first windows and train the band.
    """
    index: dict[Any, list[tuple[int, float]]] = defaultdict(list)
    for point in datapoints:
        index[(point.namespace, point.name, point.dimensions)].append((point.timestamp_ms, point.value))
    series = _Series(alarm, index)
    period = series.period_ms
    evaluation_periods = int(alarm["EvaluationPeriods"])
    required = int(alarm.get("DatapointsToAlarm", evaluation_periods))
    treat_missing = alarm.get("TreatMissingData", "missing")
    operator = alarm["ComparisonOperator"]
    threshold = alarm.get("Threshold")
    state = AlarmState.INSUFFICIENT_DATA
    states: list[tuple[int, AlarmState]] = []
    at = (start_ms // period + 1) * period
    while at <= end_ms:
        window_start = at - evaluation_periods * period
        band = series.band_at(window_start)
        verdicts: list[bool | None] = []
        for start in range(window_start, at, period):
            value = series.value(start)
            if value is None or (series.band is not None and band is None):
                verdicts.append(None)
            else:
                verdicts.append(_breaches(operator, value, threshold, band))
        missing = verdicts.count(None)
        breaching = verdicts.count(True) + (missing if treat_missing == "breaching" else 0)
        if missing == len(verdicts) and treat_missing in ("missing", "ignore"):
            state = AlarmState.INSUFFICIENT_DATA if treat_missing == "missing" else state
        else:
            state = AlarmState.ALARM if breaching >= required else AlarmState.OK
        states.append((at, state))
        at += period
    return AlarmTimeline(str(alarm["AlarmName"]), tuple(states))


def evaluate_alarms(
    alarms: Iterable[Mapping[str, Any]], datapoints: Iterable[Datapoint], *, start_ms: int, end_ms: int
) -> dict[str, AlarmTimeline]:
    """Evaluate every alarm over the same datapoints; keyed by alarm name."""
    points = list(datapoints)
    return {
        str(alarm["AlarmName"]): evaluate_alarm(alarm, points, start_ms=start_ms, end_ms=end_ms) for alarm in alarms
    }
