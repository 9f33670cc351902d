"""Check rendered dashboards, alarms and metric filters before they reach CloudWatch.

CloudWatch emulators accept almost anything, and the real service only complains at deploy time,
so the rules of the AWS API reference are checked here, in two layers:

- JSON schemas (``schemas/*.schema.json``) for shapes, enumerations and ranges: widget types,
  ``x``/``y``/``width``/``height``, rendering-object keys, ``stat`` values, periods (multiples of
  60), metric-math ids starting lowercase, ``Statistic`` xor ``ExtendedStatistic``, the ``Metrics``
  form omitting ``Namespace``/``Period``/``Statistic``, ``ComparisonOperator``, ``TreatMissingData``.
  Each constraint names its rule in an ``x-rule`` key.
- Checks in Python for what a schema cannot say: positional metric arrays and ``"."`` repetition,
  metric-math references, one returned series per alarm, anomaly-band thresholds, the evaluation
  range, overlapping widgets, unique alarm names.

:func:`check_consistency` then compares every metric the definitions reference with what the
code emits (:mod:`contact_sdk.metrics`). Every finding is a :class:`ValidationIssue` whose
``rule`` is a key of :data:`RULES`.

Example::

    issues = validate_deployment(params)
    if issues:
        raise DefinitionInvalidError(issues)
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from contact_sdk.errors import ContactSdkError
from contact_sdk.metrics import DIMENSION_SETS, METRICS, NAMESPACE
from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)

__all__ = [
    "RULES",
    "DefinitionInvalidError",
    "MetricReference",
    "ValidationIssue",
    "alarm_metric_references",
    "check_consistency",
    "dashboard_metric_references",
    "validate_alarm",
    "validate_alarms",
    "validate_dashboard",
    "validate_deployment",
    "validate_metric_filters",
]

#: Every rule a :class:`ValidationIssue` can name, with what it means.
RULES: dict[str, str] = {
    # Dashboard body (schema)
    "dashboard-body": "the body is an object with a widgets array (at most 500) and known top-level keys",
    "widget-shape": "a widget has type and properties and no unknown keys; x and y come together",
    "widget-type": "type is one of metric, text, log, alarm, explorer, custom",
    "widget-position": "x is 0-23, y is 0 or more, and the widget fits the 24-column grid (x + width <= 24)",
    "widget-size": "width is 1-24 and height is 1-1000",
    "widget-overlap": "no two widgets cover the same grid cell",
    "metric-widget": "a metric widget has metrics and region, and only known properties with valid values",
    "text-widget": "a text widget has non-empty markdown",
    "log-widget": "a log widget has region and a Logs Insights query starting with SOURCE '<log group>'",
    "annotations": "horizontal annotations have a numeric value; vertical ones a time",
    "metric-array": "each metrics row is [Namespace, MetricName, (DimensionName, DimensionValue)*, {rendering}?] "
    "or [{expression, id}], and '.' repeats a value that the metric row above has in that position",
    "rendering-properties": "a rendering object has only known keys (id, expression, label, stat, period, ...)",
    "stat": "a statistic is SampleCount, Average, Sum, Minimum, Maximum or a percentile/trimmed form (p95, tm90...)",
    "period": "a period is a whole number of minutes in seconds (60, 300, 3600...)",
    "metric-math-id": "a metric-math id starts with a lowercase letter, uses letters, digits and _, and is unique",
    "metric-math-reference": "every id an expression uses is defined in the same widget or alarm",
    # Alarms (schema)
    "alarm-shape": "PutMetricAlarm arguments: name, description, operator, evaluation periods, known keys only",
    "alarm-actions": "at most 5 distinct actions per state",
    "alarm-statistic": "a single-metric alarm has exactly one of Statistic and ExtendedStatistic, each valid",
    "alarm-single-metric-form": "without Metrics, Namespace, MetricName and Period are required",
    "alarm-metrics-form": "with Metrics, Namespace, MetricName, Dimensions, Period, Statistic, "
    "ExtendedStatistic and Unit are omitted",
    "metric-data-query": "each Metrics item has an Id and exactly one of MetricStat (Metric, Period, Stat) "
    "and Expression",
    "comparison-operator": "ComparisonOperator is one of the seven the API accepts",
    "treat-missing-data": "TreatMissingData is breaching, notBreaching, ignore or missing",
    # Alarms (checks)
    "one-returned-series": "exactly one Metrics item returns data (besides an anomaly band named by ThresholdMetricId)",
    "threshold-form": "a static Threshold with a plain operator, or ThresholdMetricId naming an "
    "ANOMALY_DETECTION_BAND expression with a band operator and no Threshold",
    "evaluation-range": "DatapointsToAlarm <= EvaluationPeriods and Period x EvaluationPeriods <= 7 days",
    "alarm-names-unique": "no two alarms share a name",
    # Metric filters
    "metric-filter": "PutMetricFilter arguments: log group, name, pattern, one metric transformation",
    # Consistency with the code
    "emitted-metric": "a metric in the service's namespace is one the code emits (contact_sdk.metrics.METRICS)",
    "emitted-dimensions": "a service metric uses the dimension set the code emits, with this deployment's values",
    "aws-metric": "an AWS metric uses its service's dimensions with this deployment's resource names",
    "metric-coverage": "every metric the code emits appears on the dashboard",
    "log-source": "log widgets and metric filters read this deployment's log group",
    "function-alarms": "each of the deployment's functions (the API function, the outbox consumer when named) has "
    "an AWS/Lambda Errors alarm, a Throttles alarm and a timeout alarm on a metric filter of its own log group",
}


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One broken rule: which rule, where in the definition, and what is wrong."""

    rule: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.rule}]"


class DefinitionInvalidError(ContactSdkError):
    """Rendered definitions break rules; ``issues`` lists every one."""

    def __init__(self, issues: Sequence[ValidationIssue]) -> None:
        self.issues = tuple(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} CloudWatch definition problem(s):\n{lines}")


@dataclass(frozen=True, slots=True, order=True)
class MetricReference:
    """One metric a definition reads: namespace, name and (sorted) dimensions; ``where`` is its path."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    where: str = field(default="", compare=False)

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """The dimension names, sorted."""
        return tuple(name for name, _ in self.dimensions)


# --- schemas -------------------------------------------------------------------------------------


@functools.cache
def _validator(schema_file: str) -> Draft202012Validator:
    text = resources.files("contact_sdk.ops.cloudwatch").joinpath("schemas", schema_file).read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _path(prefix: str, parts: Iterable[Any]) -> str:
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _schema_issues(schema_file: str, instance: Any, prefix: str) -> list[ValidationIssue]:
    issues = []
    for error in _validator(schema_file).iter_errors(instance):
        issues.extend(_issues_from_error(error, prefix))
    return issues


def _issues_from_error(error: ValidationError, prefix: str) -> list[ValidationIssue]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    rule = str(schema.get("x-rule", "schema"))
    message = error.message
    if error.validator == "not" and rule == "alarm-metrics-form":
        message = "with Metrics, omit Namespace, MetricName, Dimensions, Period, Statistic, ExtendedStatistic and Unit"
    elif error.validator == "oneOf" and rule == "alarm-statistic":
        message = "give exactly one of Statistic and ExtendedStatistic"
    elif error.validator == "oneOf" and rule == "metric-data-query":
        message = "give exactly one of MetricStat and Expression"
    elif error.validator == "pattern" and rule == "metric-math-id":
        message = f"{error.instance!r} is not a metric-math id (must start with a lowercase letter)"
    elif error.validator == "pattern" and rule in ("stat", "alarm-statistic"):
        message = (
            f"{error.instance!r} is not a CloudWatch statistic "
            "(SampleCount, Average, Sum, Minimum, Maximum, p95, p99.9, tm90, TM(10%:90%), IQR...)"
        )
    elif error.validator == "multipleOf" and rule == "period":
        message = f"period {error.instance!r} is not a multiple of 60 seconds"
    return [ValidationIssue(rule, _path(prefix, error.absolute_path), message)]


# --- metric arrays and expressions ---------------------------------------------------------------

_EXPRESSION_ID = re.compile(r"(?<![A-Za-z0-9_.])([a-z][A-Za-z0-9_]*)\b(?!\s*\()")
_STRING_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")


def _referenced_ids(expression: str) -> set[str]:
    """Ids a metric-math expression reads (functions are uppercase; string literals are skipped)."""
    return set(_EXPRESSION_ID.findall(_STRING_LITERAL.sub(" ", expression)))


@dataclass(slots=True)
class _MetricRows:
    references: list[MetricReference]
    issues: list[ValidationIssue]


def _resolve_metric_rows(rows: Any, where: str) -> _MetricRows:
    """Resolve a widget's ``metrics`` rows ('.' repetition included) and check their syntax and ids."""
    result = _MetricRows([], [])
    if not isinstance(rows, list):
        return result
    previous: list[str] | None = None
    ids: dict[str, str] = {}
    expressions: list[tuple[str, str]] = []
    for index, row in enumerate(rows):
        here = f"{where}[{index}]"
        if not isinstance(row, list) or not row:
            continue
        options: dict[str, Any] = row[-1] if isinstance(row[-1], dict) else {}
        positional = row[:-1] if options or isinstance(row[-1], dict) else row
        if any(not isinstance(item, str) for item in positional):
            result.issues.append(ValidationIssue("metric-array", here, "only the last item of a row may be an object"))
            continue
        row_id = options.get("id")
        if isinstance(row_id, str):
            if row_id in ids:
                result.issues.append(
                    ValidationIssue("metric-math-id", here, f"id {row_id!r} is already used at {ids[row_id]}")
                )
            ids[row_id] = here
        if "expression" in options:
            if positional:
                result.issues.append(
                    ValidationIssue("metric-array", here, "an expression row is [{expression, id}] with no metric")
                )
            if not isinstance(row_id, str):
                result.issues.append(ValidationIssue("metric-math-id", here, "an expression needs an id"))
            if isinstance(options["expression"], str):
                expressions.append((here, options["expression"]))
            continue
        if len(positional) < 2 or len(positional) % 2:
            result.issues.append(
                ValidationIssue(
                    "metric-array",
                    here,
                    "a metric row is [Namespace, MetricName, DimensionName, DimensionValue, ..., {options}]",
                )
            )
            continue
        resolved: list[str] = []
        broken = False
        for position, item in enumerate(positional):
            value = item
            if item == ".":
                if previous is None or position >= len(previous):
                    result.issues.append(
                        ValidationIssue(
                            "metric-array", f"{here}[{position}]", "'.' has no value in the metric row above to repeat"
                        )
                    )
                    broken = True
                    continue
                value = previous[position]
            resolved.append(value)
        if broken:
            continue
        previous = resolved
        names = resolved[2::2]
        if len(set(names)) != len(names):
            result.issues.append(ValidationIssue("metric-array", here, f"a dimension is repeated: {names}"))
        dimensions = tuple(sorted(zip(resolved[2::2], resolved[3::2], strict=True)))
        result.references.append(MetricReference(resolved[0], resolved[1], dimensions, here))
    for here, expression in expressions:
        for missing in sorted(_referenced_ids(expression) - ids.keys()):
            result.issues.append(
                ValidationIssue("metric-math-reference", here, f"expression uses {missing!r}, which no row defines")
            )
    return result


def _widgets(body: Any) -> list[tuple[int, dict[str, Any]]]:
    widgets = body.get("widgets") if isinstance(body, dict) else None
    if not isinstance(widgets, list):
        return []
    return [(i, w) for i, w in enumerate(widgets) if isinstance(w, dict)]


def _metric_rows(widget: dict[str, Any]) -> Any:
    properties = widget.get("properties")
    if widget.get("type") != "metric" or not isinstance(properties, dict):
        return None
    return properties.get("metrics")


# --- dashboards ----------------------------------------------------------------------------------


def validate_dashboard(body: Any) -> list[ValidationIssue]:
    """Every rule the dashboard body breaks (an empty list when it is valid)."""
    issues = _schema_issues("dashboard-body.schema.json", body, "$")
    cells: dict[tuple[int, int], int] = {}
    for index, widget in _widgets(body):
        here = f"$.widgets[{index}]"
        x, y = widget.get("x"), widget.get("y")
        width, height = widget.get("width", 6), widget.get("height", 6)
        if isinstance(x, int) and isinstance(y, int) and isinstance(width, int) and isinstance(height, int):
            if x + width > 24:
                issues.append(ValidationIssue("widget-position", here, f"x + width = {x + width} exceeds 24 columns"))
            overlaps = {
                cells[(col, row)] for col in range(x, x + width) for row in range(y, y + height) if (col, row) in cells
            }
            for other in sorted(overlaps):
                issues.append(ValidationIssue("widget-overlap", here, f"overlaps $.widgets[{other}]"))
            for col in range(x, min(x + width, 24)):
                for row in range(y, y + height):
                    cells.setdefault((col, row), index)
        rows = _metric_rows(widget)
        if rows is not None:
            issues.extend(_resolve_metric_rows(rows, f"{here}.properties.metrics").issues)
    return issues


def dashboard_metric_references(body: Any) -> list[MetricReference]:
    """Every metric the dashboard's metric widgets read, with '.' resolved."""
    references: list[MetricReference] = []
    for index, widget in _widgets(body):
        rows = _metric_rows(widget)
        if rows is not None:
            references.extend(_resolve_metric_rows(rows, f"$.widgets[{index}].properties.metrics").references)
    return references


# --- alarms --------------------------------------------------------------------------------------

_BAND_OPERATORS = frozenset(
    {"LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"}
)
_MAX_EVALUATION_SECONDS = 7 * 24 * 3600


def validate_alarm(alarm: Any, *, where: str = "$") -> list[ValidationIssue]:
    """Every rule one alarm (``PutMetricAlarm`` keyword arguments) breaks."""
    issues = _schema_issues("metric-alarm.schema.json", alarm, where)
    if not isinstance(alarm, dict):
        return issues
    queries = alarm.get("Metrics")
    threshold_id = alarm.get("ThresholdMetricId")
    operator = alarm.get("ComparisonOperator")
    periods: list[int] = []
    if isinstance(queries, list):
        by_id: dict[str, dict[str, Any]] = {}
        for index, query in enumerate(queries):
            if not isinstance(query, dict):
                continue
            query_id = query.get("Id")
            if isinstance(query_id, str):
                if query_id in by_id:
                    issues.append(
                        ValidationIssue("metric-math-id", f"{where}.Metrics[{index}]", f"Id {query_id!r} is repeated")
                    )
                by_id[query_id] = query
            stat = query.get("MetricStat")
            if isinstance(stat, dict) and isinstance(stat.get("Period"), int):
                periods.append(stat["Period"])
        for index, query in enumerate(queries):
            expression = query.get("Expression") if isinstance(query, dict) else None
            if isinstance(expression, str):
                for missing in sorted(_referenced_ids(expression) - by_id.keys()):
                    issues.append(
                        ValidationIssue(
                            "metric-math-reference",
                            f"{where}.Metrics[{index}]",
                            f"expression uses {missing!r}, which no Metrics item defines",
                        )
                    )
        returned = [
            query_id
            for query_id, query in by_id.items()
            if query.get("ReturnData", True) is not False and query_id != threshold_id
        ]
        if len(returned) != 1:
            issues.append(
                ValidationIssue(
                    "one-returned-series",
                    f"{where}.Metrics",
                    f"exactly one item must return data (ReturnData true); these do: {returned or 'none'}",
                )
            )
        if threshold_id is not None:
            band = by_id.get(str(threshold_id))
            if band is None or "ANOMALY_DETECTION_BAND(" not in str(band.get("Expression", "")):
                issues.append(
                    ValidationIssue(
                        "threshold-form",
                        f"{where}.ThresholdMetricId",
                        f"{threshold_id!r} must name an ANOMALY_DETECTION_BAND expression in Metrics",
                    )
                )
            elif band.get("ReturnData", True) is False:
                issues.append(
                    ValidationIssue("threshold-form", f"{where}.ThresholdMetricId", "the band must return data")
                )
    elif isinstance(alarm.get("Period"), int):
        periods.append(alarm["Period"])
    if threshold_id is not None:
        if operator not in _BAND_OPERATORS:
            issues.append(
                ValidationIssue(
                    "threshold-form", f"{where}.ComparisonOperator", f"{operator!r} cannot compare with a band"
                )
            )
        if "Threshold" in alarm:
            issues.append(
                ValidationIssue("threshold-form", f"{where}.Threshold", "omit Threshold with ThresholdMetricId")
            )
    else:
        if operator in _BAND_OPERATORS:
            issues.append(
                ValidationIssue(
                    "threshold-form", f"{where}.ComparisonOperator", f"{operator!r} needs ThresholdMetricId"
                )
            )
        if not isinstance(alarm.get("Threshold"), int | float):
            issues.append(ValidationIssue("threshold-form", f"{where}.Threshold", "a static Threshold is required"))
    evaluation_periods = alarm.get("EvaluationPeriods")
    datapoints = alarm.get("DatapointsToAlarm")
    if isinstance(evaluation_periods, int):
        if isinstance(datapoints, int) and datapoints > evaluation_periods:
            issues.append(
                ValidationIssue(
                    "evaluation-range",
                    f"{where}.DatapointsToAlarm",
                    f"DatapointsToAlarm {datapoints} exceeds EvaluationPeriods {evaluation_periods}",
                )
            )
        if periods and max(periods) * evaluation_periods > _MAX_EVALUATION_SECONDS:
            issues.append(
                ValidationIssue(
                    "evaluation-range",
                    f"{where}.EvaluationPeriods",
                    f"Period x EvaluationPeriods = {max(periods) * evaluation_periods} s exceeds 7 days",
                )
            )
    return issues


def validate_alarms(alarms: Sequence[Any]) -> list[ValidationIssue]:
    """Every rule the alarms break, one by one and together (unique names)."""
    issues: list[ValidationIssue] = []
    seen: dict[str, int] = {}
    for index, alarm in enumerate(alarms):
        issues.extend(validate_alarm(alarm, where=f"$[{index}]"))
        name = alarm.get("AlarmName") if isinstance(alarm, dict) else None
        if isinstance(name, str):
            if name in seen:
                issues.append(
                    ValidationIssue("alarm-names-unique", f"$[{index}].AlarmName", f"{name!r} is also $[{seen[name]}]")
                )
            seen.setdefault(name, index)
    return issues


def alarm_metric_references(alarm: dict[str, Any], *, where: str = "$") -> list[MetricReference]:
    """Every metric one alarm reads (single-metric form or each ``MetricStat``)."""

    def reference(metric: dict[str, Any], here: str) -> MetricReference:
        dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
        return MetricReference(metric["Namespace"], metric["MetricName"], dimensions, here)

    if "Metrics" not in alarm:
        return [reference(alarm, where)]
    return [
        reference(query["MetricStat"]["Metric"], f"{where}.Metrics[{index}]")
        for index, query in enumerate(alarm["Metrics"])
        if "MetricStat" in query
    ]


# --- metric filters ------------------------------------------------------------------------------


def validate_metric_filters(filters: Sequence[Any]) -> list[ValidationIssue]:
    """Every rule the metric filters (``PutMetricFilter`` keyword arguments) break."""
    issues: list[ValidationIssue] = []
    for index, metric_filter in enumerate(filters):
        issues.extend(_schema_issues("metric-filter.schema.json", metric_filter, f"$[{index}]"))
    return issues


# --- consistency with the code -------------------------------------------------------------------


def _expected_aws_dimensions(params: DeploymentParameters) -> dict[str, dict[str, set[str]]]:
    queues = {q for q in (params.outbox_queue_name, params.dead_letter_queue_name) if q is not None}
    functions = {f for f in (params.function_name, params.consumer_function_name) if f is not None}
    return {
        "AWS/Lambda": {"FunctionName": functions},
        "AWS/ApiGateway": {"ApiName": {params.api_name}, "Stage": {params.stage}},
        "AWS/SQS": {"QueueName": queues},
    }


def check_consistency(
    dashboard: dict[str, Any],
    alarms: Sequence[dict[str, Any]],
    metric_filters: Sequence[dict[str, Any]],
    params: DeploymentParameters,
) -> list[ValidationIssue]:
    """Every metric the definitions reference is one that exists for this deployment, and back.

    Service metrics must be in :data:`contact_sdk.metrics.METRICS`, with the dimension set of
    :data:`~contact_sdk.metrics.DIMENSION_SETS` and this environment's value; metrics of the shipped
    log metric filters must match a filter; AWS metrics must use their service's dimensions with
    this deployment's names; and every emitted metric must be on the dashboard.
    """
    issues: list[ValidationIssue] = []
    emitted = {metric.value for metric in METRICS}
    dimension_sets = {tuple(sorted(s)) for s in DIMENSION_SETS}
    from_filters = {
        (t["metricNamespace"], t["metricName"]) for f in metric_filters for t in f.get("metricTransformations", [])
    }
    aws_dimensions = _expected_aws_dimensions(params)
    references = [(r, "dashboard") for r in dashboard_metric_references(dashboard)]
    for index, alarm in enumerate(alarms):
        references += [(r, "alarms") for r in alarm_metric_references(alarm, where=f"$[{index}]")]
    for ref, source in references:
        where = f"{source}:{ref.where}"
        if ref.namespace == NAMESPACE:
            if ref.name not in emitted:
                issues.append(ValidationIssue("emitted-metric", where, f"{ref.name!r} is not a metric the code emits"))
            if ref.dimension_names not in dimension_sets:
                issues.append(
                    ValidationIssue(
                        "emitted-dimensions",
                        where,
                        f"{ref.name} is emitted with dimensions {sorted(dimension_sets)}, "
                        f"not {list(ref.dimension_names)}",
                    )
                )
            elif dict(ref.dimensions).get("Environment", params.environment) != params.environment:
                issues.append(
                    ValidationIssue(
                        "emitted-dimensions", where, f"Environment is {params.environment!r} for this deployment"
                    )
                )
        elif (ref.namespace, ref.name) in from_filters:
            if ref.dimensions:
                issues.append(
                    ValidationIssue(
                        "emitted-dimensions", where, f"{ref.name} comes from a metric filter: no dimensions"
                    )
                )
        elif ref.namespace in aws_dimensions:
            expected = aws_dimensions[ref.namespace]
            if set(ref.dimension_names) != set(expected):
                issues.append(
                    ValidationIssue(
                        "aws-metric", where, f"{ref.namespace} {ref.name} needs dimensions {sorted(expected)}"
                    )
                )
                continue
            for name, value in ref.dimensions:
                if value not in expected[name]:
                    issues.append(
                        ValidationIssue("aws-metric", where, f"{name}={value!r} is not this deployment's {name}")
                    )
        else:
            issues.append(
                ValidationIssue(
                    "aws-metric",
                    where,
                    f"{ref.namespace} {ref.name} is neither emitted, filtered nor a known AWS metric",
                )
            )
    on_dashboard = {ref.name for ref, source in references if source == "dashboard" and ref.namespace == NAMESPACE}
    for name in sorted(emitted - on_dashboard):
        issues.append(ValidationIssue("metric-coverage", "dashboard", f"{name} is emitted but not on the dashboard"))
    source = f"SOURCE '{params.resolved_log_group_name}'"
    for index, widget in _widgets(dashboard):
        query = widget.get("properties", {}).get("query") if widget.get("type") == "log" else None
        if isinstance(query, str) and not query.startswith(source):
            issues.append(
                ValidationIssue("log-source", f"dashboard:$.widgets[{index}]", f"the query must start with {source}")
            )
    log_groups = [g for g in (params.resolved_log_group_name, params.resolved_consumer_log_group_name) if g]
    for index, metric_filter in enumerate(metric_filters):
        if metric_filter.get("logGroupName") not in log_groups:
            issues.append(
                ValidationIssue(
                    "log-source", f"filters:$[{index}]", f"logGroupName must be one of {', '.join(log_groups)}"
                )
            )
    issues += _function_alarm_issues(alarms, metric_filters, params)
    return issues


def _function_alarm_issues(
    alarms: Sequence[dict[str, Any]], metric_filters: Sequence[dict[str, Any]], params: DeploymentParameters
) -> list[ValidationIssue]:
    """Each function of the deployment is watched for errors, throttles and timeouts (rule ``function-alarms``)."""
    functions = {params.function_name: params.resolved_log_group_name}
    if params.consumer_function_name is not None and params.resolved_consumer_log_group_name is not None:
        functions[params.consumer_function_name] = params.resolved_consumer_log_group_name
    single_metric = [
        (alarm.get("Namespace"), alarm.get("MetricName"), dict(alarm_metric_references(alarm)[0].dimensions))
        for alarm in alarms
        if "Metrics" not in alarm
    ]
    issues: list[ValidationIssue] = []
    for function, log_group in functions.items():
        for metric in ("Errors", "Throttles"):
            if ("AWS/Lambda", metric, {"FunctionName": function}) not in single_metric:
                issues.append(
                    ValidationIssue("function-alarms", "alarms", f"no AWS/Lambda {metric} alarm on {function}")
                )
        filtered = {
            (t["metricNamespace"], t["metricName"])
            for f in metric_filters
            if f.get("logGroupName") == log_group
            for t in f.get("metricTransformations", [])
        }
        if not any((namespace, name) in filtered for namespace, name, _ in single_metric):
            issues.append(
                ValidationIssue(
                    "function-alarms", "alarms", f"no alarm on a timeout metric filter of {function}'s log group"
                )
            )
    return issues


def validate_deployment(params: DeploymentParameters) -> list[ValidationIssue]:
    """Render everything for ``params`` and return every rule broken (empty when all is well)."""
    dashboard = render_dashboard(params)
    alarms = render_alarms(params)
    filters = render_metric_filters(params)
    issues = [*validate_dashboard(dashboard), *validate_alarms(alarms), *validate_metric_filters(filters)]
    if not issues:
        issues = check_consistency(dashboard, alarms, filters, params)
    return issues
