"""The dashboard and alarms read exactly the metrics the code emits (contact_sdk.metrics), and show all of them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from contact_sdk.metrics import DIMENSION_SETS, METRICS, NAMESPACE, build_emf_document
from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)
from contact_sdk.ops.cloudwatch.validate import (
    MetricReference,
    alarm_metric_references,
    check_consistency,
    dashboard_metric_references,
)


def _references(params: DeploymentParameters) -> list[MetricReference]:
    references = dashboard_metric_references(render_dashboard(params))
    for alarm in render_alarms(params):
        references += alarm_metric_references(alarm)
    return references


def test_every_service_metric_referenced_is_emitted(full_params: DeploymentParameters) -> None:
    """Each metric in the service namespace is in METRICS, with the emitted dimension set and this environment."""
    emitted_names = {metric.value for metric in METRICS}
    emitted_dimension_sets = {tuple(sorted(dimension_set)) for dimension_set in DIMENSION_SETS}
    service = [r for r in _references(full_params) if r.namespace == NAMESPACE]
    assert service
    for reference in service:
        assert reference.name in emitted_names, reference
        assert reference.dimension_names in emitted_dimension_sets, reference
        assert dict(reference.dimensions)["Environment"] == full_params.environment, reference


def test_every_emitted_metric_is_on_the_dashboard(params: DeploymentParameters) -> None:
    """No metric the code emits is missing from the dashboard."""
    on_dashboard = {r.name for r in dashboard_metric_references(render_dashboard(params)) if r.namespace == NAMESPACE}
    assert {metric.value for metric in METRICS} <= on_dashboard


def test_references_match_a_real_emf_document(params: DeploymentParameters) -> None:
    """The namespace and dimensions referenced are the ones in a document the SDK actually builds."""
    (document,) = build_emf_document(
        environment=params.environment, values={metric: [1.0] for metric in METRICS}, timestamp_ms=0
    )
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    emitted = {
        MetricReference(
            directive["Namespace"],
            definition["Name"],
            tuple(sorted((name, document[name]) for name in directive["Dimensions"][0])),
        )
        for definition in directive["Metrics"]
    }
    referenced = {dataclasses.replace(r, where="") for r in _references(params) if r.namespace == NAMESPACE}
    assert referenced <= emitted
    assert {r.name for r in emitted} <= {r.name for r in dashboard_metric_references(render_dashboard(params))}


def test_other_metrics_are_aws_metrics_or_from_the_shipped_filters(full_params: DeploymentParameters) -> None:
    """Everything outside the service namespace is an AWS metric of this deployment or a metric-filter metric."""
    filter_metrics = {
        (t["metricNamespace"], t["metricName"])
        for f in render_metric_filters(full_params)
        for t in f["metricTransformations"]
    }
    expected_dimensions: dict[str, set[tuple[str, str | None]]] = {
        "AWS/Lambda": {
            ("FunctionName", full_params.function_name),
            ("FunctionName", full_params.consumer_function_name),
        },
        "AWS/ApiGateway": {("ApiName", full_params.api_name), ("Stage", full_params.stage)},
        "AWS/SQS": {("QueueName", full_params.outbox_queue_name), ("QueueName", full_params.dead_letter_queue_name)},
    }
    for reference in _references(full_params):
        if reference.namespace == NAMESPACE:
            continue
        if (reference.namespace, reference.name) in filter_metrics:
            assert reference.dimensions == ()
            continue
        assert reference.namespace in expected_dimensions, reference
        assert set(reference.dimensions) <= expected_dimensions[reference.namespace], reference


def test_the_shipped_definitions_are_consistent(full_params: DeploymentParameters) -> None:
    """check_consistency, which the CLI runs before every render and deploy, finds nothing."""
    assert (
        check_consistency(
            render_dashboard(full_params),
            render_alarms(full_params),
            render_metric_filters(full_params),
            full_params,
        )
        == []
    )


def _rules(params: DeploymentParameters, dashboard: Any, alarms: Any, filters: Any | None = None) -> set[str]:
    filters = render_metric_filters(params) if filters is None else filters
    return {issue.rule for issue in check_consistency(dashboard, alarms, filters, params)}


def test_a_drifted_metric_name_is_caught(params: DeploymentParameters) -> None:
    """An alarm on a name the code does not emit (a typo, a rename) is reported."""
    alarms = render_alarms(params)
    alarms[2]["MetricName"] = "EmailFailed"
    assert "emitted-metric" in _rules(params, render_dashboard(params), alarms)


@pytest.mark.parametrize(
    "dimensions",
    [
        [{"Name": "Environment", "Value": "prod"}, {"Name": "FunctionName", "Value": "prod-contact-form-handler"}],
        [],
        [{"Name": "Environment", "Value": "staging"}],
    ],
    ids=["extra-dimension", "no-dimension", "other-environment"],
)
def test_a_drifted_dimension_set_is_caught(params: DeploymentParameters, dimensions: list[dict[str, str]]) -> None:
    """An alarm whose dimensions differ from what the code emits would see no data: reported."""
    alarms = render_alarms(params)
    alarms[2]["Dimensions"] = dimensions
    assert "emitted-dimensions" in _rules(params, render_dashboard(params), alarms)


def test_a_filter_metric_with_dimensions_is_caught(params: DeploymentParameters) -> None:
    """The timeout metric comes from a filter without dimensions; an alarm adding one is reported."""
    alarms = render_alarms(params)
    (timeouts,) = [a for a in alarms if a["AlarmName"].endswith("lambda-timeouts")]
    timeouts["Dimensions"] = [{"Name": "Environment", "Value": "prod"}]
    assert "emitted-dimensions" in _rules(params, render_dashboard(params), alarms)


@pytest.mark.parametrize(
    ("namespace", "dimensions"),
    [
        ("AWS/ApiGateway", [{"Name": "ApiName", "Value": "prod-portfolio-api"}]),
        ("AWS/ApiGateway", [{"Name": "ApiName", "Value": "other-api"}, {"Name": "Stage", "Value": "prod"}]),
        ("Custom/Elsewhere", [{"Name": "ApiName", "Value": "prod-portfolio-api"}]),
    ],
    ids=["missing-stage", "other-api", "unknown-namespace"],
)
def test_a_wrong_aws_metric_is_caught(
    params: DeploymentParameters, namespace: str, dimensions: list[dict[str, str]]
) -> None:
    """An AWS metric with the wrong dimensions or resource names, or an unknown namespace, is reported."""
    alarms = render_alarms(params)
    (api_alarm,) = [a for a in alarms if a.get("Namespace") == "AWS/ApiGateway"]
    api_alarm["Namespace"] = namespace
    api_alarm["Dimensions"] = dimensions
    assert "aws-metric" in _rules(params, render_dashboard(params), alarms)


def test_an_emitted_metric_missing_from_the_dashboard_is_caught(params: DeploymentParameters) -> None:
    """Removing the delivery funnel leaves webhook metrics off the dashboard: reported."""
    body = render_dashboard(params)
    body["widgets"] = [w for w in body["widgets"] if "funnel" not in w["properties"].get("title", "")]
    body["widgets"] = [w for w in body["widgets"] if "Bounce" not in w["properties"].get("title", "")]
    assert "metric-coverage" in _rules(params, body, render_alarms(params))


def test_a_log_widget_on_another_log_group_is_caught(params: DeploymentParameters) -> None:
    """The Logs Insights widget and the metric filters must read this deployment's log group."""
    body = render_dashboard(params)
    log_widget = next(w for w in body["widgets"] if w["type"] == "log")  # the first of the log widgets
    log_widget["properties"]["query"] = "SOURCE '/aws/lambda/other' | stats count(*)"
    assert "log-source" in _rules(params, body, render_alarms(params))
    filters = render_metric_filters(params)
    filters[0]["logGroupName"] = "/aws/lambda/other"
    assert "log-source" in _rules(params, render_dashboard(params), render_alarms(params), filters)
