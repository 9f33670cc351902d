"""``contact-sdk dashboard render|deploy`` and ``contact-sdk alarms render|deploy``.

Fill in the CloudWatch templates for one deployment, validate them, then print them (``render``,
for a hand import or IaC) or put them into CloudWatch (``deploy``; ``--dry-run`` only reads and
says what would change).

Every parameter is an option, an environment variable, or an output of the CDK stack named by ``--stack``
(``CONTACT_STACK_NAME``), in that order:

=========================  =================================  ==========================================
option                     environment variable               default
=========================  =================================  ==========================================
``--region``               ``AWS_REGION``, ``AWS_DEFAULT_REGION``  required
``--stack``                ``CONTACT_STACK_NAME``             unset: no stack outputs read
``--function-name``        ``CONTACT_FUNCTION_NAME``          required (stack output ``ApiFunctionName``)
``--api-name``             ``CONTACT_API_NAME``               required
``--stage``                ``CONTACT_STAGE``                  required
``--environment``          ``CONTACT_ENVIRONMENT``            ``prod`` (the handler's own default)
``--alarm-topic-arn``      ``CONTACT_ALARM_TOPIC_ARN``        required for ``alarms deploy``
``--log-group-name``       ``CONTACT_LOG_GROUP_NAME``         ``/aws/lambda/<function name>``
``--dashboard-name``       ``CONTACT_DASHBOARD_NAME``         ``<environment>-portfolio-email-dashboard``
``--outbox-queue-name``    ``CONTACT_OUTBOX_QUEUE_NAME``      unset: no outbox widget
``--dead-letter-queue-name``  ``CONTACT_DEAD_LETTER_QUEUE_NAME``  unset: no dead-letter widget or alarm
``--consumer-function-name``  ``CONTACT_CONSUMER_FUNCTION_NAME``  unset: no consumer alarms or log group
``--consumer-log-group-name``  ``CONTACT_CONSUMER_LOG_GROUP_NAME``  ``/aws/lambda/<consumer function name>``
=========================  =================================  ==========================================

Names are checked before anything is rendered (``'bad name!'`` is not a function name: exit 2). ``deploy`` then
checks, read-only, that the functions, log groups, queues and the API stage exist (:mod:`.verify`), since a
dashboard or alarm on a missing resource shows nothing and never fires; ``--no-verify`` skips that for an account
where they do not exist yet.

Exit status: 0 done, 1 invalid definitions, a referenced resource missing, or AWS refused, 2 a parameter or a
file argument missing or malformed.

Example::

    contact-sdk alarms deploy --region eu-west-1 --stack contact-prod --dry-run     # the stack's names
    contact-sdk dashboard render --region eu-west-1 --function-name prod-contact-form-handler \\
        --api-name prod-portfolio-api --stage prod --environment prod --output dashboard.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3

from contact_sdk.errors import ConfigurationError
from contact_sdk.ops.cloudwatch.deploy import DeployError, DeployReport, deploy_alarms, deploy_dashboard
from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    TemplateError,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)
from contact_sdk.ops.cloudwatch.validate import DefinitionInvalidError, validate_deployment
from contact_sdk.ops.cloudwatch.verify import AwsClients, missing_resources, name_problems
from contact_sdk.ops.files import FileArgumentError, writable_output, write_output

__all__ = ["ENVIRONMENT_VARIABLES", "register"]

#: Option destination -> environment variables read when the option is absent, in order.
ENVIRONMENT_VARIABLES: dict[str, tuple[str, ...]] = {
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "function_name": ("CONTACT_FUNCTION_NAME",),
    "api_name": ("CONTACT_API_NAME",),
    "stage": ("CONTACT_STAGE",),
    "environment": ("CONTACT_ENVIRONMENT",),
    "alarm_topic_arn": ("CONTACT_ALARM_TOPIC_ARN",),
    "log_group_name": ("CONTACT_LOG_GROUP_NAME",),
    "dashboard_name": ("CONTACT_DASHBOARD_NAME",),
    "outbox_queue_name": ("CONTACT_OUTBOX_QUEUE_NAME",),
    "dead_letter_queue_name": ("CONTACT_DEAD_LETTER_QUEUE_NAME",),
    "consumer_function_name": ("CONTACT_CONSUMER_FUNCTION_NAME",),
    "consumer_log_group_name": ("CONTACT_CONSUMER_LOG_GROUP_NAME",),
}
#: Option destination -> the CDK stack output (infra/contact_stack/stack.py) read when ``--stack`` is given.
STACK_OUTPUTS: dict[str, str] = {
    "function_name": "ApiFunctionName",
    "api_name": "ApiName",
    "stage": "StageName",
    "environment": "Environment",
    "alarm_topic_arn": "AlarmTopicArn",
    "dashboard_name": "DashboardName",
    "outbox_queue_name": "OutboxQueueName",
    "dead_letter_queue_name": "DeadLetterQueueName",
    "consumer_function_name": "ConsumerFunctionName",
}
_STACK_VARIABLE = "CONTACT_STACK_NAME"
_DEFAULTS = {"environment": "prod"}
_REQUIRED = ("region", "function_name", "api_name", "stage", "environment")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


class _UsageError(Exception):
    """A parameter is missing or malformed: exit status 2."""


def register(subparsers: Any) -> None:
    """Add the ``dashboard`` and ``alarms`` command groups to the ``contact-sdk`` parser."""
    for group, help_text, render, deploy in (
        ("dashboard", "the CloudWatch dashboard", _render_dashboard, _deploy_dashboard),
        ("alarms", "the CloudWatch alarms and the Lambda-timeout metric filters", _render_alarms, _deploy_alarms),
    ):
        parser = subparsers.add_parser(
            group, help=f"render or deploy {help_text}", description=f"Render or deploy {help_text}."
        )
        commands = parser.add_subparsers(dest="command", metavar="<command>")
        commands.required = True
        render_parser = commands.add_parser("render", help="print the validated JSON (for a hand import or IaC)")
        _add_parameters(render_parser, alarms=group == "alarms")
        render_parser.add_argument("--output", metavar="FILE", help="write the JSON to FILE instead of stdout")
        render_parser.set_defaults(handler=_guarded(render))
        deploy_parser = commands.add_parser("deploy", help="validate and put it into CloudWatch through boto3")
        _add_parameters(deploy_parser, alarms=group == "alarms")
        deploy_parser.add_argument("--dry-run", action="store_true", help="only read, and say what would change")
        deploy_parser.add_argument(
            "--no-verify",
            dest="verify",
            action="store_false",
            help="do not check that the functions, log groups, queues and API stage exist (they do not yet)",
        )
        deploy_parser.set_defaults(handler=_guarded(deploy))


def _add_parameters(parser: argparse.ArgumentParser, *, alarms: bool) -> None:
    def option(dest: str, help_text: str) -> None:
        variables = " or ".join(ENVIRONMENT_VARIABLES[dest])
        default = f"; default {_DEFAULTS[dest]}" if dest in _DEFAULTS else ""
        parser.add_argument(f"--{dest.replace('_', '-')}", dest=dest, help=f"{help_text} (env {variables}{default})")

    parser.add_argument(
        "--stack",
        help=f"read every parameter not given from this CDK stack's outputs, e.g. contact-prod (env {_STACK_VARIABLE})",
    )
    option("region", "AWS region, e.g. eu-west-1")
    option("function_name", "the Lambda function's name")
    option("api_name", "the API Gateway REST API's name")
    option("stage", "the API Gateway stage")
    option("environment", "the Environment metric dimension")
    if alarms:
        option("alarm_topic_arn", "SNS topic for alarm and OK notifications")
    option("log_group_name", "the function's log group (default /aws/lambda/<function name>)")
    if not alarms:
        option("dashboard_name", "the dashboard's name (default <environment>-portfolio-email-dashboard)")
    option("outbox_queue_name", "SQS outbox queue name: adds its depth widget")
    option("dead_letter_queue_name", "SQS dead-letter queue name: adds its widget and alarm")
    if alarms:
        option("consumer_function_name", "the outbox consumer function: adds its errors, throttles and timeouts alarms")
    else:
        option("consumer_function_name", "the outbox consumer function: its log group joins the submissions query")
    option("consumer_log_group_name", "the consumer's log group (default /aws/lambda/<consumer function name>)")


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the expected failures into a message on stderr and an exit status."""

    def run(args: argparse.Namespace) -> int:
        try:
            if getattr(args, "output", None) is not None:
                writable_output(args.output)  # before rendering: a bad path is the caller's to fix, exit 2
            return command(args)
        except FileArgumentError as exc:
            _error(str(exc))
            return exc.exit_status
        except (_UsageError, TemplateError) as exc:
            _error(f"{exc} (see --help for every parameter, its environment variable and stack output)")
            return 2
        except (DefinitionInvalidError, DeployError, ConfigurationError) as exc:
            _error(str(exc))
            return 1

    run.__doc__ = command.__doc__
    return run


def _error(message: str) -> None:
    sys.stderr.write(f"contact-sdk: error: {message}\n")


def _resolve(args: argparse.Namespace, dest: str, environ: Mapping[str, str]) -> str | None:
    value = getattr(args, dest, None)
    if value:
        return str(value)
    for variable in ENVIRONMENT_VARIABLES[dest]:
        if environ.get(variable):
            return environ[variable]
    return _DEFAULTS.get(dest)


def _known_regions() -> set[str]:
    session = boto3.session.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("cloudwatch", partition_name=partition))
    return regions


def _stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    """The outputs of the CloudFormation stack ``stack``, by key; :class:`DeployError` if it cannot be read."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - only with --stack

    if not region:
        raise _UsageError("--stack needs --region (or AWS_REGION): stacks are regional")
    try:
        described = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise DeployError(
            f"cannot read stack {stack} in {region}: {error.get('Code')}: {error.get('Message')}"
        ) from exc
    except BotoCoreError as exc:
        raise DeployError(f"cannot read stack {stack} in {region}: {exc}") from exc
    outputs = described["Stacks"][0].get("Outputs", [])
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in outputs if "OutputKey" in o and "OutputValue" in o}


def _parameters(args: argparse.Namespace, *, need_topic: bool = False) -> DeploymentParameters:
    environ = os.environ
    values = {dest: _resolve(args, dest, environ) for dest in ENVIRONMENT_VARIABLES}
    stack = getattr(args, "stack", None) or environ.get(_STACK_VARIABLE)
    if stack:
        outputs = _stack_outputs(stack, values["region"])
        for dest, key in STACK_OUTPUTS.items():
            if dest not in vars(args) and dest != "environment":
                continue  # an option this command does not take (the dashboard has no topic)
            explicit = getattr(args, dest, None) or any(environ.get(v) for v in ENVIRONMENT_VARIABLES[dest])
            if not explicit and outputs.get(key):
                values[dest] = outputs[key]
    missing = [dest for dest in _REQUIRED if not values[dest]]
    if need_topic and not values["alarm_topic_arn"]:
        missing.append("alarm_topic_arn")
    if missing:
        names = ", ".join(
            f"--{dest.replace('_', '-')} (or {' / '.join(ENVIRONMENT_VARIABLES[dest])})" for dest in missing
        )
        raise _UsageError(f"missing parameter(s): {names}")
    region = str(values["region"])
    known = _known_regions()
    if region not in known:
        raise _UsageError(
            f"{region!r} is not an AWS region this botocore knows (for example eu-west-1, us-east-1); "
            "check the spelling, or upgrade boto3 for a newer region"
        )
    topic = values["alarm_topic_arn"]
    if topic and not _SNS_ARN.match(topic):
        raise _UsageError(
            f"--alarm-topic-arn {topic!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)"
        )
    params = DeploymentParameters(**values)  # type: ignore[arg-type]
    problems = name_problems(params)
    if problems:
        raise _UsageError("; ".join(problems))
    return params


def _write(args: argparse.Namespace, document: Any) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if getattr(args, "output", None):
        write_output(Path(args.output), text)
        sys.stderr.write(f"wrote {args.output}\n")
    else:
        sys.stdout.write(text)


def _raise_for_issues(params: DeploymentParameters) -> None:
    issues = validate_deployment(params)
    if issues:
        raise DefinitionInvalidError(issues)


def _render_dashboard(args: argparse.Namespace) -> int:
    """Print the validated DashboardBody."""
    params = _parameters(args)
    _raise_for_issues(params)
    _write(args, render_dashboard(params))
    return 0


def _render_alarms(args: argparse.Namespace) -> int:
    """Print the validated alarms and metric filters as {"alarms": [...], "metricFilters": [...]}."""
    params = _parameters(args)
    _raise_for_issues(params)
    if params.alarm_topic_arn is None:
        sys.stderr.write("note: no --alarm-topic-arn: the alarms have no actions\n")
    _write(args, {"alarms": render_alarms(params), "metricFilters": render_metric_filters(params)})
    return 0


def _print_report(report: DeployReport) -> None:
    for change in report.changes:
        sys.stdout.write(f"{change}\n")
    for message in report.validation_messages:
        sys.stdout.write(f"CloudWatch dashboard validation: {message}\n")
    sys.stdout.write("applied\n" if report.applied else "dry run: nothing was changed\n")


def _verify(args: argparse.Namespace, params: DeploymentParameters) -> None:
    """Refuse to deploy definitions that name resources this region does not have (unless --no-verify)."""
    if not args.verify:
        sys.stderr.write("note: --no-verify: the functions, log groups, queues and API stage were not checked\n")
        return
    missing = missing_resources(params, clients=AwsClients.for_region(params.region))
    if missing:
        raise DeployError(
            "the definitions name resources that do not exist, so their widgets would stay empty and their alarms "
            "silent (pass --no-verify if they are about to be created):" + "".join(f"\n  - {m}" for m in missing)
        )


def _deploy_dashboard(args: argparse.Namespace) -> int:
    """Validate and PutDashboard (only read with --dry-run)."""
    params = _parameters(args)
    _verify(args, params)
    cloudwatch = boto3.client("cloudwatch", region_name=params.region)
    _print_report(deploy_dashboard(params, cloudwatch=cloudwatch, dry_run=args.dry_run))
    return 0


def _deploy_alarms(args: argparse.Namespace) -> int:
    """Validate, PutMetricFilter and PutMetricAlarm (only read with --dry-run)."""
    params = _parameters(args, need_topic=True)
    _verify(args, params)
    cloudwatch = boto3.client("cloudwatch", region_name=params.region)
    logs = boto3.client("logs", region_name=params.region)
    _print_report(deploy_alarms(params, cloudwatch=cloudwatch, logs=logs, dry_run=args.dry_run))
    return 0
