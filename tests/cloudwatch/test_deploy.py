"""Tests for contact_sdk.ops.cloudwatch.deploy against moto's server: the calls carry the rendered definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from contact_sdk.ops.cloudwatch.deploy import Change, DeployError, deploy_alarms, deploy_dashboard
from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)
from contact_sdk.ops.cloudwatch.validate import DefinitionInvalidError
from tests.cloudwatch.conftest import edit_json
from tests.conftest import aws_client

pytestmark = pytest.mark.integration


def _no_dashboards(cloudwatch: Any) -> bool:
    return not cloudwatch.list_dashboards()["DashboardEntries"]


def test_deploy_dashboard_puts_the_rendered_body(aws: str, params: DeploymentParameters) -> None:
    """PutDashboard receives the rendered body under the resolved name; a second deploy is unchanged."""
    cloudwatch = aws_client(aws, "cloudwatch")
    report = deploy_dashboard(params, cloudwatch=cloudwatch)
    assert report.applied
    assert report.changes == (Change("dashboard", "prod-portfolio-email-dashboard", "create"),)
    assert report.validation_messages == ()
    stored = cloudwatch.get_dashboard(DashboardName="prod-portfolio-email-dashboard")
    assert json.loads(stored["DashboardBody"]) == render_dashboard(params)
    again = deploy_dashboard(params, cloudwatch=cloudwatch)
    assert again.changes == (Change("dashboard", "prod-portfolio-email-dashboard", "unchanged"),)


def test_dashboard_dry_run_changes_nothing(aws: str, params: DeploymentParameters) -> None:
    """A dry run reports the creation it would make and leaves CloudWatch empty."""
    cloudwatch = aws_client(aws, "cloudwatch")
    report = deploy_dashboard(params, cloudwatch=cloudwatch, dry_run=True)
    assert not report.applied
    assert report.changes == (Change("dashboard", "prod-portfolio-email-dashboard", "create"),)
    assert _no_dashboards(cloudwatch)


def test_dashboard_update_is_planned(aws: str, params: DeploymentParameters, full_params: DeploymentParameters) -> None:
    """Adding the queues to a deployed dashboard is an update."""
    cloudwatch = aws_client(aws, "cloudwatch")
    deploy_dashboard(params, cloudwatch=cloudwatch)
    report = deploy_dashboard(full_params, cloudwatch=cloudwatch, dry_run=True)
    assert report.changes[0].action == "update"


def test_deploy_alarms_puts_filters_and_alarms(aws: str, full_params: DeploymentParameters) -> None:
    """Every rendered alarm and metric filter reads back from CloudWatch as rendered (both functions' log groups)."""
    cloudwatch, logs = aws_client(aws, "cloudwatch"), aws_client(aws, "logs")
    logs.create_log_group(logGroupName=full_params.resolved_log_group_name)
    logs.create_log_group(logGroupName="/aws/lambda/prod-contact-outbox-consumer")
    report = deploy_alarms(full_params, cloudwatch=cloudwatch, logs=logs)
    assert report.applied
    assert {c.action for c in report.changes} == {"create"}
    rendered = {a["AlarmName"]: a for a in render_alarms(full_params)}
    stored = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=list(rendered))["MetricAlarms"]}
    assert stored.keys() == rendered.keys()
    for name, alarm in rendered.items():
        for key in ("AlarmDescription", "ComparisonOperator", "EvaluationPeriods", "TreatMissingData", "AlarmActions"):
            assert stored[name][key] == alarm[key], (name, key)
        if "Metrics" in alarm:
            assert stored[name]["Metrics"] == alarm["Metrics"]
        else:
            assert stored[name]["MetricName"] == alarm["MetricName"]
            assert stored[name]["Threshold"] == alarm["Threshold"]
    filters = [
        f
        for group in (full_params.resolved_log_group_name, "/aws/lambda/prod-contact-outbox-consumer")
        for f in logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    ]
    assert {f["logGroupName"] for f in filters} == {
        "/aws/lambda/prod-contact-form-handler",
        "/aws/lambda/prod-contact-outbox-consumer",
    }
    expected_filters = render_metric_filters(full_params)
    assert sorted((f["filterName"], f["filterPattern"]) for f in filters) == sorted(
        (f["filterName"], f["filterPattern"]) for f in expected_filters
    )
    again = deploy_alarms(full_params, cloudwatch=cloudwatch, logs=logs, dry_run=True)
    assert {c.action for c in again.changes} == {"unchanged"}


def test_a_missing_consumer_log_group_stops_the_deploy_before_any_change(
    aws: str, full_params: DeploymentParameters
) -> None:
    """With the API function's log group but not the consumer's, nothing is put and the message names it."""
    cloudwatch, logs = aws_client(aws, "cloudwatch"), aws_client(aws, "logs")
    logs.create_log_group(logGroupName=full_params.resolved_log_group_name)
    with pytest.raises(DeployError, match="/aws/lambda/prod-contact-outbox-consumer does not exist"):
        deploy_alarms(full_params, cloudwatch=cloudwatch, logs=logs)
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert logs.describe_metric_filters(logGroupName=full_params.resolved_log_group_name)["metricFilters"] == []


def test_alarms_dry_run_changes_nothing(aws: str, params: DeploymentParameters) -> None:
    """A dry run plans every alarm and filter and creates none."""
    cloudwatch, logs = aws_client(aws, "cloudwatch"), aws_client(aws, "logs")
    logs.create_log_group(logGroupName=params.resolved_log_group_name)
    report = deploy_alarms(params, cloudwatch=cloudwatch, logs=logs, dry_run=True)
    assert not report.applied
    assert len(report.changes) == len(render_alarms(params)) + len(render_metric_filters(params))
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert logs.describe_metric_filters(logGroupName=params.resolved_log_group_name)["metricFilters"] == []


def test_a_changed_threshold_is_an_update(aws: str, params: DeploymentParameters, template_copy: Path) -> None:
    """Editing a template's threshold shows as an update of that alarm only."""
    cloudwatch, logs = aws_client(aws, "cloudwatch"), aws_client(aws, "logs")
    logs.create_log_group(logGroupName=params.resolved_log_group_name)
    deploy_alarms(params, cloudwatch=cloudwatch, logs=logs)

    def raise_threshold(alarms: Any) -> None:
        alarms[2]["Threshold"] = 10

    edit_json(template_copy / "alarms" / "email-service.json", raise_threshold)
    report = deploy_alarms(params, cloudwatch=cloudwatch, logs=logs, dry_run=True)
    assert [c.name for c in report.changes if c.action == "update"] == ["prod-portfolio-email-failed-sends"]


def test_missing_log_group_stops_before_any_change(aws: str, params: DeploymentParameters) -> None:
    """Real CloudWatch refuses a filter on a missing log group, so the deploy checks first and changes nothing."""
    cloudwatch, logs = aws_client(aws, "cloudwatch"), aws_client(aws, "logs")
    with pytest.raises(DeployError, match="log group /aws/lambda/prod-contact-form-handler does not exist"):
        deploy_alarms(params, cloudwatch=cloudwatch, logs=logs)
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []


def test_invalid_definitions_stop_before_any_call(params: DeploymentParameters, template_copy: Path) -> None:
    """A template that breaks a rule is refused before CloudWatch is called at all."""

    def bad_period(body: Any) -> None:
        body["widgets"][1]["properties"]["period"] = 90

    edit_json(template_copy / "dashboards" / "email-service.json", bad_period)
    cloudwatch = aws_client("http://127.0.0.1:9", "cloudwatch")  # nothing listens: a call would fail loudly
    with pytest.raises(DefinitionInvalidError, match=r"period 90 is not a multiple of 60 seconds \[period\]"):
        deploy_dashboard(params, cloudwatch=cloudwatch)


def test_dashboard_validation_messages_are_reported(params: DeploymentParameters) -> None:
    """Warnings CloudWatch returns with a successful PutDashboard reach the report."""
    cloudwatch = aws_client("http://127.0.0.1:9", "cloudwatch")
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("get_dashboard", "ResourceNotFound", "Dashboard does not exist", 404)
        stub.add_response(
            "put_dashboard",
            {"DashboardValidationMessages": [{"DataPath": "/widgets/15", "Message": "Log group not found"}]},
        )
        report = deploy_dashboard(params, cloudwatch=cloudwatch)
    assert report.validation_messages == ("/widgets/15: Log group not found",)


def test_a_refused_dashboard_raises_with_cloudwatch_messages(params: DeploymentParameters) -> None:
    """When CloudWatch refuses the body, the error carries its validation messages."""
    cloudwatch = aws_client("http://127.0.0.1:9", "cloudwatch")
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("get_dashboard", "ResourceNotFound", "Dashboard does not exist", 404)
        stub.add_client_error(
            "put_dashboard",
            "InvalidParameterInput",
            "The field DashboardBody must be a valid JSON object",
            400,
            response_meta={},
            modeled_fields={
                "dashboardValidationMessages": [{"DataPath": "/widgets/0/type", "Message": "Invalid widget type"}]
            },
        )
        with pytest.raises(DeployError, match="InvalidParameterInput") as caught:
            deploy_dashboard(params, cloudwatch=cloudwatch)
    assert caught.value.validation_messages == ("/widgets/0/type: Invalid widget type",)


def test_aws_errors_are_translated(params: DeploymentParameters) -> None:
    """Any other AWS error while reading becomes a DeployError naming the call."""
    cloudwatch = aws_client("http://127.0.0.1:9", "cloudwatch")
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("get_dashboard", "AccessDenied", "not allowed", 403)
        with pytest.raises(DeployError, match="GetDashboard failed: AccessDenied"):
            deploy_dashboard(params, cloudwatch=cloudwatch)
