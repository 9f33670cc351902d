"""``contact-sdk dashboard render|deploy`` and ``contact-sdk alarms render|deploy``.

Fill in the CloudWatch templates for one deployment, validate them, then print them (``render``,
for a hand import or IaC) or put them into CloudWatch (``deploy``; ``--dry-run`` only reads and
says what would change).

Every parameter is an option or an environment variable (option first):

=========================  =================================  ==========================================
option                     environment variable               default
=========================  =================================  ==========================================
``--region``               ``AWS_REGION``, ``AWS_DEFAULT_REGION``  required
``--function-name``        ``CONTACT_FUNCTION_NAME``          required
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

Exit status: 0 done, 1 invalid definitions or AWS refused, 2 a parameter missing or malformed.

Example::

    contact-sdk dashboard render --region eu-west-1 --function-name contact-form-handler \\
        --api-name prod-portfolio-api --stage prod --environment prod --output dashboard.json
    contact-sdk alarms deploy --dry-run --region eu-west-1 ... --alarm-topic-arn arn:aws:sns:...
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
        deploy_parser.set_defaults(handler=_guarded(deploy))


def _add_parameters(parser: argparse.ArgumentParser, *, alarms: bool) -> None:
    def option(dest: str, help_text: str) -> None:
        variables = " or ".join(ENVIRONMENT_VARIABLES[dest])
        default = f"; default {_DEFAULTS[dest]}" if dest in _DEFAULTS else ""
        parser.add_argument(f"--{dest.replace('_', '-')}", dest=dest, help=f"{help_text} (env {variables}{default})")

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
            return command(args)
        except (_UsageError, TemplateError) as exc:
            _error(f"{exc}\n(run with --help for every parameter and its environment variable)")
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


def _parameters(args: argparse.Namespace, *, need_topic: bool = False) -> DeploymentParameters:
    environ = os.environ
    values = {dest: _resolve(args, dest, environ) for dest in ENVIRONMENT_VARIABLES}
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
    return DeploymentParameters(**values)  # type: ignore[arg-type]


def _write(args: argparse.Namespace, document: Any) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if getattr(args, "output", None):
        Path(args.output).write_text(text, encoding="utf-8")
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


def _deploy_dashboard(args: argparse.Namespace) -> int:
    """Validate and PutDashboard (only read with --dry-run)."""
    params = _parameters(args)
    cloudwatch = boto3.client("cloudwatch", region_name=params.region)
    _print_report(deploy_dashboard(params, cloudwatch=cloudwatch, dry_run=args.dry_run))
    return 0


def _deploy_alarms(args: argparse.Namespace) -> int:
    """Validate, PutMetricFilter and PutMetricAlarm (only read with --dry-run)."""
    params = _parameters(args, need_topic=True)
    cloudwatch = boto3.client("cloudwatch", region_name=params.region)
    logs = boto3.client("logs", region_name=params.region)
    _print_report(deploy_alarms(params, cloudwatch=cloudwatch, logs=logs, dry_run=args.dry_run))
    return 0
