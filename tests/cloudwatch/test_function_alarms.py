"""Errors, throttles and timeouts of both functions: rendered, validated, and offered by the CLI.

Expectations are written out by hand (names, dimensions, log groups), never read back from the templates.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from contact_sdk.ops.cli import main
from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    TemplateError,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)
from contact_sdk.ops.cloudwatch.validate import check_consistency, validate_deployment
from tests.cloudwatch.test_command import ARGS

CONSUMER = "prod-contact-outbox-consumer"


def _single_metric(alarms: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(namespace, metric, FunctionName or '') of every single-metric alarm."""
    found = set()
    for alarm in alarms:
        if "Metrics" in alarm:
            continue
        dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        found.add((alarm["Namespace"], alarm["MetricName"], dimensions.get("FunctionName", "")))
    return found


def _rules(params: DeploymentParameters, alarms: list[dict[str, Any]], filters: list[dict[str, Any]]) -> set[str]:
    return {issue.rule for issue in check_consistency(render_dashboard(params), alarms, filters, params)}


def test_the_api_function_always_has_errors_and_throttles_alarms(params: DeploymentParameters) -> None:
    """Without the consumer named, the API function is still watched for errors, throttles and timeouts."""
    alarms = render_alarms(params)
    found = _single_metric(alarms)
    assert ("AWS/Lambda", "Errors", "prod-contact-form-handler") in found
    assert ("AWS/Lambda", "Throttles", "prod-contact-form-handler") in found
    assert ("Portfolio/EmailService/Logs", "LambdaTimeouts-prod-contact-form-handler", "") in found
    assert not [a for a in alarms if CONSUMER in json.dumps(a)]
    names = {a["AlarmName"] for a in alarms}
    assert {"prod-portfolio-email-api-function-errors", "prod-portfolio-email-api-function-throttles"} <= names
    assert {f["logGroupName"] for f in render_metric_filters(params)} == {"/aws/lambda/prod-contact-form-handler"}


def test_the_consumer_gets_its_alarms_and_filters_when_named(params: DeploymentParameters) -> None:
    """Naming the consumer adds its Errors, Throttles and timeout alarms and two filters on its own log group."""
    named = dataclasses.replace(params, consumer_function_name=CONSUMER)
    added = {a["AlarmName"] for a in render_alarms(named)} - {a["AlarmName"] for a in render_alarms(params)}
    assert added == {
        "prod-portfolio-email-consumer-function-errors",
        "prod-portfolio-email-consumer-function-throttles",
        "prod-portfolio-email-consumer-timeouts",
    }
    found = _single_metric(render_alarms(named))
    assert {("AWS/Lambda", "Errors", CONSUMER), ("AWS/Lambda", "Throttles", CONSUMER)} <= found
    assert ("Portfolio/EmailService/Logs", f"LambdaTimeouts-{CONSUMER}", "") in found
    consumer_filters = [f for f in render_metric_filters(named) if f["logGroupName"] == f"/aws/lambda/{CONSUMER}"]
    assert sorted(f["filterName"] for f in consumer_filters) == [
        f"{CONSUMER}-timeouts-json",
        f"{CONSUMER}-timeouts-text",
    ]
    for metric_filter in consumer_filters:
        (transformation,) = metric_filter["metricTransformations"]
        assert transformation["metricName"] == f"LambdaTimeouts-{CONSUMER}"
    assert validate_deployment(named) == []


def test_every_new_alarm_fires_on_one_event_and_notifies_the_topic(full_params: DeploymentParameters) -> None:
    """A single error, throttle or timeout is enough (>= 1), and ALARM and OK go to the topic."""
    for alarm in render_alarms(full_params):
        if alarm.get("Namespace") == "AWS/Lambda" or "LambdaTimeouts" in str(alarm.get("MetricName")):
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", alarm["AlarmName"]
            assert alarm["Threshold"] == 1
            assert alarm["Statistic"] == "Sum"
            assert alarm["TreatMissingData"] == "notBreaching"
            assert alarm["AlarmActions"] == alarm["OKActions"] == [full_params.alarm_topic_arn]


def test_a_custom_consumer_log_group_is_used(params: DeploymentParameters) -> None:
    """``consumer_log_group_name`` moves the consumer's filters; the API function's stay."""
    custom = dataclasses.replace(params, consumer_function_name=CONSUMER, consumer_log_group_name="/custom/consumer")
    assert {f["logGroupName"] for f in render_metric_filters(custom)} == {
        "/aws/lambda/prod-contact-form-handler",
        "/custom/consumer",
    }
    assert validate_deployment(custom) == []


def test_a_consumer_log_group_without_the_consumer_is_refused(params: DeploymentParameters) -> None:
    """A log group for an unnamed consumer is a mistake, not something to ignore."""
    with pytest.raises(TemplateError, match="consumer_log_group_name needs consumer_function_name"):
        dataclasses.replace(params, consumer_log_group_name="/aws/lambda/x")
    with pytest.raises(TemplateError, match="consumer_function_name must be a non-empty string"):
        dataclasses.replace(params, consumer_function_name=" ")


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("api-function-errors", "no AWS/Lambda Errors alarm on prod-contact-form-handler"),
        ("api-function-throttles", "no AWS/Lambda Throttles alarm on prod-contact-form-handler"),
        ("lambda-timeouts", "no alarm on a timeout metric filter of prod-contact-form-handler's log group"),
        ("consumer-function-errors", f"no AWS/Lambda Errors alarm on {CONSUMER}"),
        ("consumer-function-throttles", f"no AWS/Lambda Throttles alarm on {CONSUMER}"),
        ("consumer-timeouts", f"no alarm on a timeout metric filter of {CONSUMER}'s log group"),
    ],
)
def test_a_missing_function_alarm_is_caught(full_params: DeploymentParameters, drop: str, message: str) -> None:
    """Deleting any of the six function alarms breaks the function-alarms rule, naming the function."""
    alarms = [a for a in render_alarms(full_params) if not a["AlarmName"].endswith(f"-{drop}")]
    assert len(alarms) == len(render_alarms(full_params)) - 1
    issues = check_consistency(render_dashboard(full_params), alarms, render_metric_filters(full_params), full_params)
    assert [(i.rule, i.message) for i in issues] == [("function-alarms", message)]


def test_a_consumer_timeout_filter_on_the_wrong_log_group_is_caught(full_params: DeploymentParameters) -> None:
    """The consumer's timeouts counted on another log group: a log-source issue, and the alarm counts nothing."""
    filters = render_metric_filters(full_params)
    for metric_filter in filters:
        if metric_filter["filterName"].startswith(CONSUMER):
            metric_filter["logGroupName"] = "/aws/lambda/other"
    assert _rules(full_params, render_alarms(full_params), filters) == {"log-source", "function-alarms"}


def test_an_alarm_on_another_function_is_caught(params: DeploymentParameters) -> None:
    """An AWS/Lambda alarm naming a function that is not this deployment's (a stale name) is reported."""
    alarms = render_alarms(params)
    (errors,) = [a for a in alarms if a["AlarmName"].endswith("-api-function-errors")]
    errors["Dimensions"] = [{"Name": "FunctionName", "Value": "prod-contact-form-handler-old"}]
    assert _rules(params, alarms, render_metric_filters(params)) == {"aws-metric", "function-alarms"}


def test_alarms_render_names_the_consumer_from_an_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`alarms render --consumer-function-name` (or CONTACT_CONSUMER_FUNCTION_NAME) adds the consumer's alarms."""
    for variable in ("CONTACT_CONSUMER_FUNCTION_NAME", "CONTACT_CONSUMER_LOG_GROUP_NAME"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["alarms", "render", *ARGS]) == 0
    without = json.loads(capsys.readouterr().out)
    assert main(["alarms", "render", *ARGS, "--consumer-function-name", CONSUMER]) == 0
    with_option = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("CONTACT_CONSUMER_FUNCTION_NAME", CONSUMER)
    monkeypatch.setenv("CONTACT_CONSUMER_LOG_GROUP_NAME", "/custom/consumer")
    assert main(["alarms", "render", *ARGS]) == 0
    from_environment = json.loads(capsys.readouterr().out)
    assert len(with_option["alarms"]) == len(without["alarms"]) + 3
    assert len(with_option["metricFilters"]) == len(without["metricFilters"]) + 2
    assert {f["logGroupName"] for f in from_environment["metricFilters"]} == {
        "/aws/lambda/prod-contact-form-handler",
        "/custom/consumer",
    }
