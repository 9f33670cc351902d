"""Tests for contact_sdk.ops.cloudwatch.render: placeholders, optional parts, the fixed interface."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from pathlib import Path

import pytest

from contact_sdk.ops.cloudwatch.render import (
    PLACEHOLDERS,
    DeploymentParameters,
    TemplateError,
    fill_placeholders,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)
from tests.cloudwatch.conftest import TOPIC_ARN, edit_json

_ANY_PLACEHOLDER = re.compile(r"\$\{(" + "|".join(PLACEHOLDERS) + r")\}")


def _text(document: object) -> str:
    return json.dumps(document)


def test_interface_is_the_agreed_one() -> None:
    """The CDK app relies on these exact names, fields and signatures."""
    fields = [(f.name, f.default) for f in dataclasses.fields(DeploymentParameters)]
    assert fields == [
        ("region", dataclasses.MISSING),
        ("function_name", dataclasses.MISSING),
        ("api_name", dataclasses.MISSING),
        ("stage", dataclasses.MISSING),
        ("environment", dataclasses.MISSING),
        ("alarm_topic_arn", None),
        ("log_group_name", None),
        ("dashboard_name", None),
        ("outbox_queue_name", None),
        ("dead_letter_queue_name", None),
        ("consumer_function_name", None),
        ("consumer_log_group_name", None),
    ]
    for function in (render_dashboard, render_alarms, render_metric_filters):
        assert list(inspect.signature(function).parameters) == ["params"]


def test_every_placeholder_is_filled(full_params: DeploymentParameters) -> None:
    """No ${Name} is left in anything rendered with every parameter set."""
    for document in (render_dashboard(full_params), render_alarms(full_params), render_metric_filters(full_params)):
        assert not _ANY_PLACEHOLDER.search(_text(document))


def test_values_are_inserted_verbatim_even_cloudformation_tokens() -> None:
    """A CloudFormation token is plain text: inserted as is, never parsed nor substituted again."""
    params = DeploymentParameters(
        region="${Token[AWS.Region.4]}",
        function_name="${Token[TOKEN.123]}",
        api_name="${Token[TOKEN.124]}",
        stage="${Token[TOKEN.125]}",
        environment="${Environment}",
        alarm_topic_arn="${Token[TOKEN.126]}",
    )
    body = render_dashboard(params)
    metric_widgets = [w for w in body["widgets"] if w["type"] in ("metric", "log")]
    assert {w["properties"]["region"] for w in metric_widgets} == {"${Token[AWS.Region.4]}"}
    alarms = render_alarms(params)
    assert alarms[0]["AlarmName"] == "${Environment}-portfolio-email-error-rate"
    assert {a["AlarmActions"][0] for a in alarms} == {"${Token[TOKEN.126]}"}
    assert render_metric_filters(params)[0]["logGroupName"] == "/aws/lambda/${Token[TOKEN.123]}"


def test_alarm_actions_go_to_the_topic(params: DeploymentParameters) -> None:
    """Every alarm notifies the topic on ALARM and on OK."""
    for alarm in render_alarms(params):
        assert alarm["AlarmActions"] == [TOPIC_ARN]
        assert alarm["OKActions"] == [TOPIC_ARN]


def test_without_a_topic_the_alarms_have_no_actions(params: DeploymentParameters) -> None:
    """An unset topic drops the action lists instead of leaving a placeholder."""
    alarms = render_alarms(dataclasses.replace(params, alarm_topic_arn=None))
    assert alarms
    for alarm in alarms:
        assert "AlarmActions" not in alarm
        assert "OKActions" not in alarm


def test_the_outbox_widget_counts_every_message_the_queue_holds(full_params: DeploymentParameters) -> None:
    """Ready, in flight or hidden until the next try (most of them during an outage), and held back by a delay.

    A queue's "visible" count alone reads near zero through an outage: the consumer hides each message it
    could not deliver, and a message queued behind a ``Retry-After`` starts out delayed.
    """
    body = render_dashboard(full_params)
    [widget] = [
        w
        for w in body["widgets"]
        if "AWS/SQS" in _text(w) and w["properties"]["metrics"][0][3] == full_params.outbox_queue_name
    ]
    names = {row[1] for row in widget["properties"]["metrics"] if row[1] != "."}
    assert {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    } <= names
    for row in widget["properties"]["metrics"]:
        assert row[-1]["stat"] == "Maximum"


def test_queue_widgets_and_dead_letter_alarm_only_when_named(
    params: DeploymentParameters, full_params: DeploymentParameters
) -> None:
    """The SQS widgets and the outbox / dead-letter alarms appear exactly when their queue names are given."""
    assert "AWS/SQS" not in _text(render_dashboard(params))
    assert not [a for a in render_alarms(params) if a.get("Namespace") == "AWS/SQS"]
    body = render_dashboard(full_params)
    sqs = [w for w in body["widgets"] if "AWS/SQS" in _text(w)]
    assert len(sqs) == 2
    bottom = max(w["y"] + w["height"] for w in body["widgets"] if w not in sqs)
    assert all(w["y"] == bottom for w in sqs)
    queue_alarms = {
        (a["MetricName"], a["Dimensions"][0]["Value"]): a
        for a in render_alarms(full_params)
        if a.get("Namespace") == "AWS/SQS"
    }
    assert set(queue_alarms) == {
        ("ApproximateNumberOfMessagesVisible", "prod-contact-outbox-dlq"),
        ("ApproximateAgeOfOldestMessage", "prod-contact-outbox"),
        ("ApproximateAgeOfOldestMessage", "prod-contact-outbox-dlq"),
        ("NumberOfMessagesSent", "prod-contact-outbox-dlq"),
    }
    queue_alarms = {
        "ApproximateNumberOfMessagesVisible": queue_alarms[
            ("ApproximateNumberOfMessagesVisible", "prod-contact-outbox-dlq")
        ],
        "NumberOfMessagesSent": queue_alarms[("NumberOfMessagesSent", "prod-contact-outbox-dlq")],
        "ApproximateAgeOfOldestMessage": queue_alarms[("ApproximateAgeOfOldestMessage", "prod-contact-outbox")],
    }
    dlq_alarm = queue_alarms["ApproximateNumberOfMessagesVisible"]
    assert dlq_alarm["Dimensions"] == [{"Name": "QueueName", "Value": "prod-contact-outbox-dlq"}]
    parked_alarm = queue_alarms["NumberOfMessagesSent"]  # only parking sends to the DLQ; SQS's moves do not count
    assert parked_alarm["Dimensions"] == [{"Name": "QueueName", "Value": "prod-contact-outbox-dlq"}]
    assert (parked_alarm["Statistic"], parked_alarm["Threshold"]) == ("Sum", 1)
    outbox_alarm = queue_alarms["ApproximateAgeOfOldestMessage"]
    assert outbox_alarm["Dimensions"] == [{"Name": "QueueName", "Value": "prod-contact-outbox"}]


def test_only_the_dead_letter_queue_named(params: DeploymentParameters) -> None:
    """With only the dead-letter queue named, only its widget and alarm are added."""
    only_dlq = dataclasses.replace(params, dead_letter_queue_name="dlq")
    text = _text(render_dashboard(only_dlq))
    assert '"QueueName", "dlq"' in text
    assert "Outbox queue depth" not in text
    ages = [a for a in render_alarms(only_dlq) if a.get("MetricName") == "ApproximateAgeOfOldestMessage"]
    assert [a["Dimensions"] for a in ages] == [
        [{"Name": "QueueName", "Value": "dlq"}]
    ]  # the parked age, not the outbox


def test_defaults_for_log_group_and_dashboard_name(params: DeploymentParameters) -> None:
    """The log group and dashboard name default from the function name and the environment."""
    assert params.resolved_log_group_name == "/aws/lambda/prod-contact-form-handler"
    assert params.resolved_dashboard_name == "prod-portfolio-email-dashboard"
    assert "SOURCE '/aws/lambda/prod-contact-form-handler'" in _text(render_dashboard(params))
    custom = dataclasses.replace(params, log_group_name="/custom/logs", dashboard_name="mine")
    assert custom.resolved_dashboard_name == "mine"
    assert {f["logGroupName"] for f in render_metric_filters(custom)} == {"/custom/logs"}


def _state_query(body: dict[str, object]) -> str:
    widgets = body["widgets"]
    assert isinstance(widgets, list)
    [query] = [w["properties"]["query"] for w in widgets if "Submissions by state" in w["properties"].get("title", "")]
    return str(query)


def test_the_state_widget_reads_the_consumer_log_group_only_when_it_is_named(
    params: DeploymentParameters, full_params: DeploymentParameters
) -> None:
    """With the consumer named, its log group is the query's second SOURCE; without, the clause is gone."""
    assert _state_query(render_dashboard(full_params)).startswith(
        "SOURCE '/aws/lambda/prod-contact-form-handler' | SOURCE '/aws/lambda/prod-contact-outbox-consumer'\n| filter "
    )
    assert _state_query(render_dashboard(params)).startswith(
        "SOURCE '/aws/lambda/prod-contact-form-handler'\n| filter "
    )


def test_an_unset_extra_source_is_dropped_but_a_set_one_kept() -> None:
    """Only a `| SOURCE '${Name}'` clause whose parameter is unset disappears; the rest of the text stays."""
    template = {"q": "SOURCE '${LogGroupName}' | SOURCE '${ConsumerLogGroupName}' | filter a = 1"}
    values: dict[str, str | None] = {"LogGroupName": "/api", "ConsumerLogGroupName": None}
    assert fill_placeholders(template, values) == {"q": "SOURCE '/api' | filter a = 1"}
    values["ConsumerLogGroupName"] = "/consumer"
    assert fill_placeholders(template, values) == {"q": "SOURCE '/api' | SOURCE '/consumer' | filter a = 1"}


def test_parameters_are_rendered_where_they_belong(params: DeploymentParameters) -> None:
    """Function, API, stage and environment end up in the metric dimensions, not hard-coded values."""
    text = _text(render_dashboard(params)) + _text(render_alarms(params))
    assert '"FunctionName", "prod-contact-form-handler"' in text
    assert '"ApiName", "prod-portfolio-api", "Stage", "prod"' in text
    assert '"Environment", "prod"' in text
    assert '"Name": "Environment", "Value": "prod"' in text


def test_each_render_is_a_fresh_copy(params: DeploymentParameters) -> None:
    """Changing one rendered body does not leak into the next render."""
    body = render_dashboard(params)
    body["widgets"].clear()
    assert render_dashboard(params)["widgets"]


@pytest.mark.parametrize("field", ["region", "function_name", "api_name", "stage", "environment"])
def test_a_required_parameter_cannot_be_empty(params: DeploymentParameters, field: str) -> None:
    """An empty required parameter is refused by name."""
    with pytest.raises(TemplateError, match=field):
        dataclasses.replace(params, **{field: " "})


def test_an_optional_parameter_cannot_be_empty(params: DeploymentParameters) -> None:
    """An optional parameter is either a value or None, never an empty string."""
    with pytest.raises(TemplateError, match="alarm_topic_arn"):
        dataclasses.replace(params, alarm_topic_arn="")


def test_unknown_placeholder_is_an_error() -> None:
    """A typo in a template's placeholder is reported with where it is."""
    with pytest.raises(TemplateError, match=r"unknown placeholder \$\{Regoin\} at \$\.a\[0\]"):
        fill_placeholders({"a": ["x ${Regoin}"]}, {"Region": "eu-west-1"})


def test_unset_placeholder_inside_text_is_an_error() -> None:
    """An unset optional parameter may only be dropped as a whole list item, not used inside text."""
    with pytest.raises(TemplateError, match="alarm_topic_arn"):
        fill_placeholders({"a": "topic ${AlarmTopicArn}"}, {"AlarmTopicArn": None})


def test_a_template_typo_surfaces_at_render(template_copy: Path, params: DeploymentParameters) -> None:
    """render_dashboard reads the templates each time and reports a bad placeholder in them."""

    def typo(body: dict[str, object]) -> None:
        body["start"] = "${Regoin}"

    edit_json(template_copy / "dashboards" / "email-service.json", typo)
    with pytest.raises(TemplateError, match="Regoin"):
        render_dashboard(params)
