"""Tests for contact_sdk.ops.cloudwatch.command: `contact-sdk dashboard|alarms render|deploy`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.ops.cli import main
from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)
from tests.cloudwatch.conftest import TOPIC_ARN, create_referenced_resources, edit_json
from tests.conftest import aws_client

ARGS = [
    "--region",
    "eu-west-1",
    "--function-name",
    "prod-contact-form-handler",
    "--api-name",
    "prod-portfolio-api",
    "--stage",
    "prod",
    "--environment",
    "prod",
]
ENVIRONMENT_VARIABLES = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "CONTACT_FUNCTION_NAME",
    "CONTACT_API_NAME",
    "CONTACT_STAGE",
    "CONTACT_ENVIRONMENT",
    "CONTACT_ALARM_TOPIC_ARN",
    "CONTACT_LOG_GROUP_NAME",
    "CONTACT_DASHBOARD_NAME",
    "CONTACT_OUTBOX_QUEUE_NAME",
    "CONTACT_DEAD_LETTER_QUEUE_NAME",
    "CONTACT_CONSUMER_FUNCTION_NAME",
    "CONTACT_CONSUMER_LOG_GROUP_NAME",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: no parameter leaks in from the shell (the region stays, as conftest sets it)."""
    for variable in ENVIRONMENT_VARIABLES[2:]:
        monkeypatch.delenv(variable, raising=False)


def test_dashboard_render_prints_the_body(params: DeploymentParameters, capsys: pytest.CaptureFixture[str]) -> None:
    """`dashboard render` prints the validated DashboardBody as JSON."""
    assert main(["dashboard", "render", *ARGS]) == 0
    assert json.loads(capsys.readouterr().out) == render_dashboard(params)


def test_dashboard_render_to_a_file(
    params: DeploymentParameters, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--output` writes the JSON to a file instead of stdout."""
    target = tmp_path / "dashboard.json"
    assert main(["dashboard", "render", *ARGS, "--output", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == render_dashboard(params)
    assert capsys.readouterr().out == ""


def test_dashboard_render_reads_the_consumers_log_group_when_named(capsys: pytest.CaptureFixture[str]) -> None:
    """`dashboard render --consumer-function-name` adds the consumer's log group to the submissions-by-state query."""
    assert main(["dashboard", "render", *ARGS, "--consumer-function-name", "prod-contact-outbox-consumer"]) == 0
    queries = [w["properties"]["query"] for w in json.loads(capsys.readouterr().out)["widgets"] if w["type"] == "log"]
    assert [q for q in queries if "SOURCE '/aws/lambda/prod-contact-outbox-consumer'" in q] == [
        q for q in queries if "record_state" in q
    ]
    assert len([q for q in queries if "record_state" in q]) == 1


def dimension_values(node: Any, name: str) -> set[str]:
    """Every value the rendered JSON gives dimension ``name``: in a dashboard's metric arrays (``[namespace, metric,
    name, value, ...]``) and in an alarm's ``{"Name": name, "Value": value}``."""
    found: set[str] = set()
    if isinstance(node, dict):
        if node.get("Name") == name and isinstance(node.get("Value"), str):
            found.add(node["Value"])
        for value in node.values():
            found |= dimension_values(value, name)
    elif isinstance(node, list):
        for i, item in enumerate(node[:-1]):
            if item == name and isinstance(node[i + 1], str):
                found.add(node[i + 1])
        for item in node:
            found |= dimension_values(item, name)
    return found


def rendered(capsys: pytest.CaptureFixture[str], command: str, *options: str) -> Any:
    """``<command> render`` with ARGS then ``options`` (a later option wins), parsed."""
    assert main([command, "render", *ARGS, *options]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("command", ["dashboard", "alarms"])
def test_the_environment_option_is_the_dimension_every_custom_metric_is_read_in(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--environment staging``: every ``Environment`` dimension in the output says staging, none prod (the
    service's metrics for that stage are counted under staging; a prod dimension would read another stage)."""
    assert dimension_values(rendered(capsys, command, "--environment", "staging"), "Environment") == {"staging"}


def test_the_region_option_is_every_widgets_region(capsys: pytest.CaptureFixture[str]) -> None:
    """``--region us-east-1``: every widget reads that region (a widget left in another one shows nothing)."""
    widgets = rendered(capsys, "dashboard", "--region", "us-east-1")["widgets"]
    assert {w["properties"]["region"] for w in widgets if "region" in w["properties"]} == {"us-east-1"}


def test_the_log_group_options_are_what_the_queries_and_filters_read(capsys: pytest.CaptureFixture[str]) -> None:
    """``--log-group-name`` and ``--consumer-log-group-name`` (log groups not named after their functions): the
    dashboard's queries and the alarms' metric filters read those groups and no /aws/lambda/ default."""
    options = ("--log-group-name", "/custom/handler", "--consumer-function-name", "prod-contact-outbox-consumer")
    options += ("--consumer-log-group-name", "/custom/consumer")
    widgets = rendered(capsys, "dashboard", *options)["widgets"]
    sources = {
        source
        for w in widgets
        if w["type"] == "log"
        for source in re.findall(r"SOURCE '([^']+)'", w["properties"]["query"])
    }
    assert sources == {"/custom/handler", "/custom/consumer"}
    filters = rendered(capsys, "alarms", *options)["metricFilters"]
    assert {f["logGroupName"] for f in filters} == {"/custom/handler", "/custom/consumer"}


@pytest.mark.parametrize("command", ["dashboard", "alarms"])
def test_the_dead_letter_queue_option_is_the_queue_watched(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``--dead-letter-queue-name``: the dashboard's widget and the dead-letter and parked alarms watch that queue
    (without it there is none)."""
    assert dimension_values(rendered(capsys, command), "QueueName") == set()
    assert dimension_values(rendered(capsys, command, "--dead-letter-queue-name", "q-dlq"), "QueueName") == {"q-dlq"}


def test_alarms_render_prints_alarms_and_filters(
    params: DeploymentParameters, capsys: pytest.CaptureFixture[str]
) -> None:
    """`alarms render` prints the PutMetricAlarm and PutMetricFilter arguments."""
    assert main(["alarms", "render", *ARGS, "--alarm-topic-arn", TOPIC_ARN]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"alarms": render_alarms(params), "metricFilters": render_metric_filters(params)}


def test_alarms_render_without_topic_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """Rendering without a topic is allowed, with a note that the alarms notify no one."""
    assert main(["alarms", "render", *ARGS]) == 0
    captured = capsys.readouterr()
    assert "no actions" in captured.err
    assert all("AlarmActions" not in a for a in json.loads(captured.out)["alarms"])


def test_parameters_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every parameter can be an environment variable; the environment defaults to prod."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("CONTACT_FUNCTION_NAME", "fn")
    monkeypatch.setenv("CONTACT_API_NAME", "api")
    monkeypatch.setenv("CONTACT_STAGE", "live")
    monkeypatch.setenv("CONTACT_OUTBOX_QUEUE_NAME", "outbox")
    assert main(["dashboard", "render"]) == 0
    expected = DeploymentParameters(
        region="us-east-1",
        function_name="fn",
        api_name="api",
        stage="live",
        environment="prod",
        outbox_queue_name="outbox",
    )
    assert json.loads(capsys.readouterr().out) == render_dashboard(expected)


def test_an_option_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, params: DeploymentParameters, capsys: pytest.CaptureFixture[str]
) -> None:
    """An explicit option is used before the environment variable."""
    monkeypatch.setenv("CONTACT_FUNCTION_NAME", "from-env")
    assert main(["dashboard", "render", *ARGS]) == 0
    assert "from-env" not in capsys.readouterr().out


def test_a_missing_parameter_is_exit_2_and_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing parameter names its option and its environment variable."""
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert main(["dashboard", "render", "--function-name", "fn", "--api-name", "api"]) == 2
    err = capsys.readouterr().err
    assert "missing parameter(s): --region (or AWS_REGION / AWS_DEFAULT_REGION), --stage (or CONTACT_STAGE)" in err


def test_alarms_deploy_needs_a_topic(capsys: pytest.CaptureFixture[str]) -> None:
    """Deploying alarms that notify no one is refused."""
    assert main(["alarms", "deploy", *ARGS]) == 2
    assert "--alarm-topic-arn (or CONTACT_ALARM_TOPIC_ARN)" in capsys.readouterr().err


@pytest.mark.parametrize("region", ["eu-west-9", "EU-WEST-1", "moon"])
def test_a_bad_region_is_exit_2(region: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A region AWS does not have is refused before anything is rendered."""
    args = [*ARGS]
    args[1] = region
    assert main(["dashboard", "render", *args]) == 2
    captured = capsys.readouterr()
    assert f"{region!r} is not an AWS region" in captured.err
    assert captured.out == ""


def test_a_bad_topic_arn_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A topic that is not an SNS ARN is refused."""
    assert main(["alarms", "render", *ARGS, "--alarm-topic-arn", "prod-portfolio-email-alarms"]) == 2
    assert "is not an SNS topic ARN" in capsys.readouterr().err


def test_invalid_templates_are_exit_1(template_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Render refuses definitions that break a rule, listing every problem."""

    def drift(alarms: Any) -> None:
        alarms[2]["MetricName"] = "EmailFailed"

    edit_json(template_copy / "alarms" / "email-service.json", drift)
    assert main(["dashboard", "render", *ARGS]) == 1
    captured = capsys.readouterr()
    assert "'EmailFailed' is not a metric the code emits [emitted-metric]" in captured.err
    assert captured.out == ""


@pytest.mark.integration
def test_dashboard_deploy_and_dry_run(
    aws: str, params: DeploymentParameters, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dashboard deploy --dry-run` changes nothing; `deploy` puts the dashboard (what it names exists)."""
    create_referenced_resources(aws, params)
    cloudwatch = aws_client(aws, "cloudwatch")
    assert main(["dashboard", "deploy", *ARGS, "--dry-run"]) == 0
    assert "dashboard prod-portfolio-email-dashboard: create\ndry run: nothing was changed" in capsys.readouterr().out
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []
    assert main(["dashboard", "deploy", *ARGS]) == 0
    assert capsys.readouterr().out.endswith("applied\n")
    assert cloudwatch.get_dashboard(DashboardName="prod-portfolio-email-dashboard")["DashboardBody"]


def test_the_dashboard_name_option_is_the_dashboard_deployed(
    aws: str, params: DeploymentParameters, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--dashboard-name ops-email``: the dry run and the deploy name that dashboard, and the default one is not
    created beside it."""
    create_referenced_resources(aws, params)
    assert main(["dashboard", "deploy", *ARGS, "--dashboard-name", "ops-email", "--dry-run"]) == 0
    assert "dashboard ops-email: create" in capsys.readouterr().out
    assert main(["dashboard", "deploy", *ARGS, "--dashboard-name", "ops-email"]) == 0
    entries = aws_client(aws, "cloudwatch").list_dashboards()["DashboardEntries"]
    assert [entry["DashboardName"] for entry in entries] == ["ops-email"]


@pytest.mark.integration
def test_alarms_deploy_and_dry_run(aws: str, params: DeploymentParameters, capsys: pytest.CaptureFixture[str]) -> None:
    """`alarms deploy --dry-run` changes nothing; `deploy` puts every alarm and filter."""
    create_referenced_resources(aws, params)
    cloudwatch = aws_client(aws, "cloudwatch")
    args = ["alarms", "deploy", *ARGS, "--alarm-topic-arn", TOPIC_ARN]
    assert main([*args, "--dry-run"]) == 0
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "alarm prod-portfolio-email-error-rate: create" in out
    assert len(cloudwatch.describe_alarms()["MetricAlarms"]) == len(render_alarms(params))


@pytest.mark.integration
def test_alarms_deploy_without_log_group_is_exit_1(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    """With --no-verify, a missing log group is still a clear failure of the filters, not a traceback."""
    assert main(["alarms", "deploy", *ARGS, "--alarm-topic-arn", TOPIC_ARN, "--no-verify"]) == 1
    assert "log group /aws/lambda/prod-contact-form-handler does not exist" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.parametrize("group", ["dashboard", "alarms"])
def test_deploy_refuses_definitions_of_resources_that_do_not_exist(
    aws: str, group: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: a function that does not exist is named, with everything else missing, and nothing is put."""
    extra = ["--alarm-topic-arn", TOPIC_ARN] if group == "alarms" else []
    args = [*ARGS, *extra, "--outbox-queue-name", "prod-contact-outbox"]
    assert main([group, "deploy", *args]) == 1
    err = capsys.readouterr().err
    assert "the definitions name resources that do not exist" in err
    for missing in (
        "Lambda function prod-contact-form-handler does not exist in eu-west-1",
        "SQS queue prod-contact-outbox does not exist in eu-west-1",
        "log group /aws/lambda/prod-contact-form-handler does not exist in eu-west-1",
        "REST API prod-portfolio-api does not exist in eu-west-1",
    ):
        assert f"  - {missing}" in err
    assert "Traceback" not in err
    assert aws_client(aws, "cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert aws_client(aws, "cloudwatch").list_dashboards()["DashboardEntries"] == []


@pytest.mark.integration
def test_a_missing_stage_and_consumer_are_named(aws: str, params: DeploymentParameters, capsys: Any) -> None:
    """The API exists but not its stage, and the consumer named does not exist: both are listed."""
    create_referenced_resources(aws, params)
    args = [*ARGS[:-4], "--stage", "v2", "--environment", "prod", "--alarm-topic-arn", TOPIC_ARN]
    assert main(["alarms", "deploy", *args, "--consumer-function-name", "prod-contact-outbox-consumer"]) == 1
    err = capsys.readouterr().err
    assert "  - stage v2 of REST API prod-portfolio-api does not exist in eu-west-1" in err
    assert "  - Lambda function prod-contact-outbox-consumer does not exist in eu-west-1" in err


@pytest.mark.integration
def test_no_verify_deploys_for_resources_still_to_come(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--no-verify puts the dashboard for a function not created yet, and says it did not check."""
    assert main(["dashboard", "deploy", *ARGS, "--no-verify"]) == 0
    assert "--no-verify: the functions, log groups, queues and API stage were not checked" in capsys.readouterr().err
    assert aws_client(aws, "cloudwatch").list_dashboards()["DashboardEntries"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--function-name", "bad name!", "--function-name 'bad name!' is not a Lambda function name"),
        ("--function-name", "arn:aws:lambda:eu-west-1:123456789012:function:f", "is not a Lambda function name"),
        ("--outbox-queue-name", "https://sqs.eu-west-1.amazonaws.com/1/q", "is not an SQS queue name (not its URL)"),
        ("--stage", "prod stage", "--stage 'prod stage' is not an API Gateway stage name"),
        ("--environment", "prod\nx", "--environment 'prod\\nx' is not letters, digits"),
        ("--log-group-name", "/aws/lambda/a b", "is not a log group name"),
    ],
)
@pytest.mark.parametrize("command", [["dashboard", "render"], ["alarms", "deploy"]])
def test_an_invalid_name_is_refused_before_anything(
    command: list[str], option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name CloudWatch would take but no resource can have is exit 2, the option named, on render and deploy."""
    args = [*ARGS, "--alarm-topic-arn", TOPIC_ARN] if command[0] == "alarms" else list(ARGS)
    status = main([*command, *args, option, value])
    assert status == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.integration
def test_the_stack_outputs_supply_every_name(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--stack reads the CDK stack's outputs: the real names, deployed and verified, without typing them."""
    names = {
        "ApiFunctionName": "prod-contact-form-handler",
        "ApiName": "prod-portfolio-api",
        "StageName": "prod",
        "Environment": "prod",
        "AlarmTopicArn": TOPIC_ARN,
        "OutboxQueueName": "contact-prod-OutboxQueue-1A2B3C",
        "DeadLetterQueueName": "contact-prod-OutboxDeadLetterQueue-4D5E6F",
        "ConsumerFunctionName": "prod-contact-outbox-consumer",
        "DashboardName": "prod-portfolio-email-dashboard",
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in names.items()},
    }
    aws_client(aws, "cloudformation").create_stack(StackName="contact-prod", TemplateBody=json.dumps(template))
    create_referenced_resources(
        aws,
        DeploymentParameters(
            region="eu-west-1",
            function_name=names["ApiFunctionName"],
            api_name=names["ApiName"],
            stage="prod",
            environment="prod",
            outbox_queue_name=names["OutboxQueueName"],
            dead_letter_queue_name=names["DeadLetterQueueName"],
            consumer_function_name=names["ConsumerFunctionName"],
        ),
    )
    assert main(["alarms", "deploy", "--region", "eu-west-1", "--stack", "contact-prod"]) == 0
    out = capsys.readouterr().out
    assert "alarm prod-portfolio-email-consumer-function-errors: create" in out
    assert "alarm prod-portfolio-email-dead-letter-queue: create" in out
    stored = aws_client(aws, "cloudwatch").describe_alarms(AlarmNames=["prod-portfolio-email-api-function-errors"])
    (alarm,) = stored["MetricAlarms"]
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "prod-contact-form-handler"}]
    assert alarm["AlarmActions"] == [TOPIC_ARN]


@pytest.mark.integration
def test_an_unknown_stack_is_one_line(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A stack that does not exist: exit 1, its name and CloudFormation's reason."""
    assert main(["dashboard", "render", "--region", "eu-west-1", "--stack", "contact-nope"]) == 1
    err = capsys.readouterr().err
    assert (
        "cannot read stack contact-nope in eu-west-1: ValidationError: Stack with id contact-nope does not exist" in err
    )


def test_the_console_command_runs_in_a_subprocess(params: DeploymentParameters, tmp_path: Path) -> None:
    """`python -m contact_sdk.ops.cli dashboard render` works as a separate process, and a bad region exits 2."""
    ok = subprocess.run(
        [sys.executable, "-m", "contact_sdk.ops.cli", "dashboard", "render", *ARGS],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == render_dashboard(params)
    bad = subprocess.run(
        [sys.executable, "-m", "contact_sdk.ops.cli", "alarms", "render", *ARGS[:-2], "--region", "nowhere-1"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "'nowhere-1' is not an AWS region" in bad.stderr
