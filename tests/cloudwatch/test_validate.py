"""Tests for contact_sdk.ops.cloudwatch.validate: the shipped definitions pass, and each rule catches a break."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contact_sdk.ops.cloudwatch import validate
from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)
from contact_sdk.ops.cloudwatch.validate import (
    RULES,
    ValidationIssue,
    validate_alarms,
    validate_dashboard,
    validate_deployment,
    validate_metric_filters,
)

Mutation = Callable[[Any], None]
CONSISTENCY_RULES = {
    "emitted-metric",
    "emitted-dimensions",
    "aws-metric",
    "metric-coverage",
    "log-source",
    "function-alarms",  # tests/cloudwatch/test_function_alarms.py
}


def put(path: tuple[Any, ...], value: Any) -> Mutation:
    """A mutation setting the value at ``path``."""

    def mutate(document: Any) -> None:
        for key in path[:-1]:
            document = document[key]
        document[path[-1]] = copy.deepcopy(value)

    return mutate


def drop(path: tuple[Any, ...]) -> Mutation:
    """A mutation deleting the value at ``path``."""

    def mutate(document: Any) -> None:
        for key in path[:-1]:
            document = document[key]
        del document[path[-1]]

    return mutate


def _log_query(value: str) -> Mutation:
    def mutate(body: Any) -> None:
        log_widget = next(w for w in body["widgets"] if w["type"] == "log")  # the first of the log widgets
        log_widget["properties"]["query"] = value

    return mutate


def _duplicate_name(alarms: Any) -> None:
    alarms[1]["AlarmName"] = alarms[0]["AlarmName"]


def _both_metric_stat_and_expression(alarms: Any) -> None:
    alarms[0]["Metrics"][2]["MetricStat"] = copy.deepcopy(alarms[0]["Metrics"][0]["MetricStat"])


W = "widgets"
P = "properties"
M = "metrics"

# (rule, which definition, how to break it). Widget 0 is the header text, 1 the success rate
# (an expression over ids sent/failed), 2 response time (x 6, width 12), 3 provider resilience
# (x 18, width 6). Alarm 0 is the error rate (metric math), 1 the p95 (ExtendedStatistic),
# 2 failed sends (Statistic), 4 the Parameter Store anomaly band.
CASES: list[Any] = [
    pytest.param("dashboard-body", "dashboard", drop((W,)), id="no-widgets"),
    pytest.param("dashboard-body", "dashboard", put(("periodOverride",), "sometimes"), id="period-override"),
    pytest.param("widget-shape", "dashboard", put((W, 1, "colour"), "red"), id="unknown-widget-key"),
    pytest.param("widget-shape", "dashboard", drop((W, 1, "y")), id="x-without-y"),
    pytest.param("widget-type", "dashboard", put((W, 1, "type"), "graph"), id="widget-type"),
    pytest.param("widget-position", "dashboard", put((W, 3, "x"), 24), id="x-out-of-range"),
    pytest.param("widget-position", "dashboard", put((W, 3, "y"), -1), id="y-negative"),
    pytest.param("widget-position", "dashboard", put((W, 3, "x"), 20), id="wider-than-grid"),
    pytest.param("widget-size", "dashboard", put((W, 1, "width"), 25), id="width"),
    pytest.param("widget-size", "dashboard", put((W, 1, "height"), 0), id="height"),
    pytest.param("widget-overlap", "dashboard", put((W, 2, "x"), 0), id="overlap"),
    pytest.param("metric-widget", "dashboard", drop((W, 1, P, "region")), id="no-region"),
    pytest.param("metric-widget", "dashboard", put((W, 1, P, "view"), "line"), id="view"),
    pytest.param("text-widget", "dashboard", put((W, 0, P, "markdown"), ""), id="empty-markdown"),
    pytest.param("log-widget", "dashboard", _log_query("fields @message"), id="query-without-source"),
    pytest.param("annotations", "dashboard", put((W, 2, P, "annotations", "horizontal", 0, "value"), "5s"), id="ann"),
    pytest.param(
        "metric-array",
        "dashboard",
        put((W, 2, P, M, 0), ["Portfolio/EmailService", "ResponseTime", "Environment", {"stat": "p50"}]),
        id="odd-dimension",
    ),
    pytest.param("metric-array", "dashboard", put((W, 3, P, M, 0, 0), "."), id="dot-without-row-above"),
    pytest.param("metric-array", "dashboard", put((W, 3, P, M, 1), [".", ".", ".", ".", ".", "."]), id="dot-too-far"),
    pytest.param(
        "metric-array",
        "dashboard",
        put((W, 3, P, M, 0), ["Portfolio/EmailService", {"label": "x"}, "ProviderRetries"]),
        id="object-not-last",
    ),
    pytest.param(
        "metric-array", "dashboard", put((W, 1, P, M, 0), ["AWS/Lambda", {"expression": "sent", "id": "e"}]), id="expr"
    ),
    pytest.param("metric-array", "dashboard", put((W, 3, P, M, 0), [7, "x"]), id="number-in-row"),
    pytest.param("rendering-properties", "dashboard", put((W, 3, P, M, 0, -1, "colour"), "#ff0000"), id="key"),
    pytest.param("rendering-properties", "dashboard", put((W, 3, P, M, 1, -1, "color"), "red"), id="color"),
    pytest.param("stat", "dashboard", put((W, 3, P, "stat"), "Avg"), id="widget-stat"),
    pytest.param("stat", "dashboard", put((W, 2, P, M, 1, -1, "stat"), "p95.x"), id="row-stat"),
    pytest.param("period", "dashboard", put((W, 3, P, "period"), 90), id="widget-period"),
    pytest.param("period", "dashboard", put((W, 3, P, M, 0, -1, "period"), 30), id="row-period"),
    pytest.param("metric-math-id", "dashboard", put((W, 1, P, M, 1, -1, "id"), "Sent"), id="uppercase-id"),
    pytest.param("metric-math-id", "dashboard", put((W, 1, P, M, 2, -1, "id"), "sent"), id="duplicate-id"),
    pytest.param("metric-math-id", "dashboard", drop((W, 1, P, M, 0, 0, "id")), id="expression-without-id"),
    pytest.param(
        "metric-math-reference", "dashboard", put((W, 1, P, M, 0, 0, "expression"), "100 * sent / total"), id="ref"
    ),
    pytest.param("alarm-shape", "alarms", put((2, "Extra"), 1), id="unknown-key"),
    pytest.param("alarm-shape", "alarms", drop((2, "AlarmDescription")), id="no-description"),
    pytest.param("alarm-shape", "alarms", put((2, "EvaluationPeriods"), 0), id="zero-periods"),
    pytest.param("alarm-actions", "alarms", put((2, "AlarmActions"), [f"arn:{i}" for i in range(6)]), id="actions"),
    pytest.param("alarm-statistic", "alarms", put((1, "Statistic"), "Average"), id="both-statistics"),
    pytest.param("alarm-statistic", "alarms", drop((2, "Statistic")), id="no-statistic"),
    pytest.param("alarm-statistic", "alarms", put((1, "ExtendedStatistic"), "p95x"), id="bad-extended"),
    pytest.param("alarm-statistic", "alarms", put((2, "Statistic"), "p95"), id="percentile-as-statistic"),
    pytest.param("alarm-single-metric-form", "alarms", drop((2, "Period")), id="single-form-without-period"),
    pytest.param("alarm-metrics-form", "alarms", put((0, "Period"), 300), id="metrics-with-period"),
    pytest.param("alarm-metrics-form", "alarms", put((0, "Namespace"), "Portfolio/EmailService"), id="ns"),
    pytest.param("alarm-metrics-form", "alarms", put((0, "Statistic"), "Sum"), id="metrics-with-statistic"),
    pytest.param("metric-data-query", "alarms", _both_metric_stat_and_expression, id="stat-and-expression"),
    pytest.param("metric-data-query", "alarms", drop((0, "Metrics", 0, "MetricStat", "Stat")), id="no-stat"),
    pytest.param("comparison-operator", "alarms", put((2, "ComparisonOperator"), "GreaterThan"), id="operator"),
    pytest.param("treat-missing-data", "alarms", put((2, "TreatMissingData"), "zero"), id="treat-missing"),
    pytest.param("one-returned-series", "alarms", put((0, "Metrics", 2, "ReturnData"), False), id="none-returned"),
    pytest.param("one-returned-series", "alarms", drop((0, "Metrics", 0, "ReturnData")), id="two-returned"),
    pytest.param("threshold-form", "alarms", put((4, "Threshold"), 3), id="band-with-threshold"),
    pytest.param("threshold-form", "alarms", put((4, "ComparisonOperator"), "GreaterThanThreshold"), id="band-op"),
    pytest.param("threshold-form", "alarms", put((4, "ThresholdMetricId"), "fetches"), id="band-id-not-band"),
    pytest.param("threshold-form", "alarms", put((2, "ComparisonOperator"), "GreaterThanUpperThreshold"), id="op"),
    pytest.param("threshold-form", "alarms", drop((2, "Threshold")), id="no-threshold"),
    pytest.param("evaluation-range", "alarms", put((2, "DatapointsToAlarm"), 2), id="datapoints"),
    pytest.param("evaluation-range", "alarms", put((4, "EvaluationPeriods"), 200), id="longer-than-7-days"),
    pytest.param("alarm-names-unique", "alarms", _duplicate_name, id="duplicate-name"),
    pytest.param("period", "alarms", put((2, "Period"), 90), id="alarm-period"),
    pytest.param("period", "alarms", put((0, "Metrics", 0, "MetricStat", "Period"), 30), id="metric-stat-period"),
    pytest.param("stat", "alarms", put((0, "Metrics", 0, "MetricStat", "Stat"), "Avg"), id="metric-stat-stat"),
    pytest.param("metric-math-id", "alarms", put((0, "Metrics", 0, "Id"), "Sent"), id="alarm-uppercase-id"),
    pytest.param("metric-math-id", "alarms", put((0, "Metrics", 1, "Id"), "sent"), id="alarm-duplicate-id"),
    pytest.param(
        "metric-math-reference", "alarms", put((0, "Metrics", 2, "Expression"), "100 * failed / total"), id="alarm-ref"
    ),
    pytest.param("metric-filter", "filters", put((0, "metricTransformations"), []), id="no-transformation"),
    pytest.param("metric-filter", "filters", put((0, "filterName"), "a:b"), id="filter-name"),
    pytest.param("metric-filter", "filters", put((0, "metricTransformations", 0, "metricName"), "a$b"), id="name"),
    pytest.param("metric-filter", "filters", drop((1, "filterPattern")), id="no-pattern"),
]

_VALIDATORS: dict[str, Callable[[Any], list[ValidationIssue]]] = {
    "dashboard": validate_dashboard,
    "alarms": validate_alarms,
    "filters": validate_metric_filters,
}


def _render(target: str, params: DeploymentParameters) -> Any:
    if target == "dashboard":
        return render_dashboard(params)
    if target == "alarms":
        return render_alarms(params)
    return render_metric_filters(params)


def test_shipped_definitions_are_valid(params: DeploymentParameters, full_params: DeploymentParameters) -> None:
    """The dashboard, alarms and filters as shipped break no rule, with and without the optional parts."""
    assert validate_deployment(params) == []
    assert validate_deployment(full_params) == []
    assert validate_deployment(dataclasses.replace(params, alarm_topic_arn=None)) == []


def test_token_valued_dashboard_and_alarms_are_valid() -> None:
    """CloudFormation tokens as values do not break the dashboard or alarm rules (the CDK app renders those)."""
    params = DeploymentParameters(
        region="${Token[AWS.Region.4]}",
        function_name="${Token[TOKEN.1]}",
        api_name="${Token[TOKEN.2]}",
        stage="${Token[TOKEN.3]}",
        environment="${Token[TOKEN.4]}",
        alarm_topic_arn="${Token[TOKEN.5]}",
    )
    assert validate_dashboard(render_dashboard(params)) == []
    assert validate_alarms(render_alarms(params)) == []


def test_schemas_are_valid_draft_2020_12() -> None:
    """Each schema file is itself a valid JSON Schema and names a known rule on every x-rule."""
    for name in ("dashboard-body.schema.json", "metric-alarm.schema.json", "metric-filter.schema.json"):
        schema = validate._validator(name).schema
        Draft202012Validator.check_schema(schema)
        rules: set[str] = set()

        def collect(node: Any, into: set[str]) -> None:
            if isinstance(node, dict):
                if "x-rule" in node:
                    into.add(node["x-rule"])
                for value in node.values():
                    collect(value, into)
            elif isinstance(node, list):
                for value in node:
                    collect(value, into)

        collect(schema, rules)
        assert rules <= RULES.keys(), rules - RULES.keys()


@pytest.mark.parametrize(("rule", "target", "mutate"), CASES)
def test_a_broken_definition_is_caught(
    full_params: DeploymentParameters, rule: str, target: str, mutate: Mutation
) -> None:
    """Breaking one rule in a valid definition makes the validator name that rule."""
    document = _render(target, full_params)
    assert _VALIDATORS[target](document) == []
    mutate(document)
    issues = _VALIDATORS[target](document)
    assert rule in {issue.rule for issue in issues}, issues


def test_every_rule_has_a_breaking_case() -> None:
    """Each rule in RULES is shown to catch something, here or in the consistency tests."""
    covered = {case.values[0] for case in CASES} | CONSISTENCY_RULES
    assert covered == set(RULES)


def test_issues_say_where_and_what(params: DeploymentParameters) -> None:
    """An issue carries the JSON path, a sentence, and the rule name."""
    body = render_dashboard(params)
    body["widgets"][3]["properties"]["period"] = 90
    (issue,) = validate_dashboard(body)
    assert issue == ValidationIssue(
        "period", "$.widgets[3].properties.period", "period 90 is not a multiple of 60 seconds"
    )
    assert str(issue) == "$.widgets[3].properties.period: period 90 is not a multiple of 60 seconds [period]"


def test_dot_repeats_the_metric_row_above(params: DeploymentParameters) -> None:
    """'.' takes the value of the nearest metric row above, skipping expression rows."""
    body = {
        "widgets": [
            {
                "type": "metric",
                "x": 0,
                "y": 0,
                "width": 6,
                "height": 6,
                "properties": {
                    "region": "eu-west-1",
                    "metrics": [
                        ["AWS/Lambda", "Errors", "FunctionName", "f", {"id": "e"}],
                        [{"expression": "e * 2", "id": "d"}],
                        [".", "Throttles", ".", "."],
                    ],
                },
            }
        ]
    }
    assert validate_dashboard(body) == []
    references = validate.dashboard_metric_references(body)
    assert [(r.namespace, r.name, r.dimensions) for r in references] == [
        ("AWS/Lambda", "Errors", (("FunctionName", "f"),)),
        ("AWS/Lambda", "Throttles", (("FunctionName", "f"),)),
    ]


def test_expression_ids_ignore_functions_numbers_and_strings() -> None:
    """Function names, numbers and quoted search terms are not taken for ids."""
    assert validate._referenced_ids("100 * FILL(sent, 0) / (sent + 1e3)") == {"sent"}
    assert validate._referenced_ids("SEARCH('{AWS/Lambda} foo', 'Sum')") == set()
