"""Before a dashboard or alarms go in: the names they reference are well formed, and the resources exist.

A dashboard of a function that does not exist shows nothing, and an alarm on it stays OK for ever: missing
data is "not breaching" (docs/dashboards.md). So ``contact-sdk dashboard deploy`` and ``alarms deploy`` ask
AWS, read-only, for everything the definitions name: the Lambda functions, their log groups, the queues, the
REST API and its stage. ``--no-verify`` skips the questions (an account where the stack is not deployed yet);
the names are checked either way, so ``'bad name!'`` never reaches CloudWatch.

The questions need ``lambda:GetFunction``, ``logs:DescribeLogGroups``, ``sqs:GetQueueUrl`` and
``apigateway:GET`` on the API, besides what the deploy itself needs.

Example::

    problems = name_problems(params)                    # [] or sentences naming the option
    missing = missing_resources(params, clients=AwsClients.for_region("eu-west-1"))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contact_sdk.ops.cloudwatch.deploy import DeployError
from contact_sdk.ops.cloudwatch.render import DeploymentParameters

__all__ = ["AwsClients", "missing_resources", "name_problems"]

_FUNCTION = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LOG_GROUP = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_QUEUE = re.compile(r"[A-Za-z0-9_-]{1,80}(\.fifo)?")
_STAGE = re.compile(r"[A-Za-z0-9_]{1,128}")
_ENVIRONMENT = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DASHBOARD = re.compile(r"[A-Za-z0-9_-]{1,255}")

#: Option -> (parameter field, rule, what a valid value looks like).
_RULES: dict[str, tuple[str, re.Pattern[str], str]] = {
    "--function-name": ("function_name", _FUNCTION, "a Lambda function name: letters, digits, - and _ (at most 64)"),
    "--consumer-function-name": ("consumer_function_name", _FUNCTION, "a Lambda function name (at most 64)"),
    "--log-group-name": ("log_group_name", _LOG_GROUP, "a log group name: letters, digits and . - _ / #"),
    "--consumer-log-group-name": ("consumer_log_group_name", _LOG_GROUP, "a log group name"),
    "--outbox-queue-name": ("outbox_queue_name", _QUEUE, "an SQS queue name (not its URL): letters, digits, - and _"),
    "--dead-letter-queue-name": ("dead_letter_queue_name", _QUEUE, "an SQS queue name (not its URL)"),
    "--stage": ("stage", _STAGE, "an API Gateway stage name: letters, digits and _"),
    "--environment": ("environment", _ENVIRONMENT, "letters, digits, . - and _ (at most 64)"),
    "--dashboard-name": ("dashboard_name", _DASHBOARD, "a dashboard name: letters, digits, - and _"),
}


def name_problems(params: DeploymentParameters) -> list[str]:
    """A sentence per malformed name (empty when every name is well formed); values are quoted, never trusted."""
    problems = []
    for option, (field, rule, expected) in _RULES.items():
        value = getattr(params, field)
        if value is not None and not rule.fullmatch(value):
            problems.append(f"{option} {value!r} is not {expected}")
    if not params.api_name.strip() or len(params.api_name) > 1024 or any(ord(c) < 32 for c in params.api_name):
        problems.append(f"--api-name {params.api_name!r} is not an API Gateway REST API name")
    return problems


@dataclass(frozen=True, slots=True)
class AwsClients:
    """The read-only clients the verification asks (tests pass ones pointed at the emulator)."""

    lambda_: Any
    logs: Any
    sqs: Any
    apigateway: Any

    @classmethod
    def for_region(cls, region: str, make: Callable[..., Any] | None = None) -> AwsClients:
        """Clients for ``region`` made with ``make`` (default ``boto3.client``)."""
        if make is None:
            import boto3  # noqa: PLC0415 - only the deploy commands ask AWS

            make = boto3.client
        return cls(
            lambda_=make("lambda", region_name=region),
            logs=make("logs", region_name=region),
            sqs=make("sqs", region_name=region),
            apigateway=make("apigateway", region_name=region),
        )


_NOT_FOUND = frozenset(
    {
        "ResourceNotFoundException",
        "NotFoundException",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    }
)


def missing_resources(params: DeploymentParameters, *, clients: AwsClients) -> list[str]:
    """A sentence per resource the definitions name that does not exist in the region (empty when all do).

    Raises :class:`DeployError` when AWS cannot be asked (no permission, no network): the caller then cannot
    tell, and says how to go on (``--no-verify``).
    """
    region = params.region
    missing = []
    functions = [params.function_name]
    if params.consumer_function_name is not None:
        functions.append(params.consumer_function_name)
    queues = [q for q in (params.outbox_queue_name, params.dead_letter_queue_name) if q is not None]
    checks: list[tuple[str, Callable[[], object]]] = [
        *((f"Lambda function {name}", _asker(clients.lambda_.get_function, FunctionName=name)) for name in functions),
        *((f"SQS queue {name}", _asker(clients.sqs.get_queue_url, QueueName=name)) for name in queues),
    ]
    for description, ask in checks:
        try:
            ask()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _NOT_FOUND:
                raise _cannot_ask(description, exc) from exc
            missing.append(f"{description} does not exist in {region}")
        except BotoCoreError as exc:
            raise _cannot_ask(description, exc) from exc
    log_groups = [params.resolved_log_group_name]
    if params.resolved_consumer_log_group_name is not None:
        log_groups.append(params.resolved_consumer_log_group_name)
    for group in log_groups:
        try:
            found = clients.logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
        except (ClientError, BotoCoreError) as exc:
            raise _cannot_ask(f"log group {group}", exc) from exc
        if not any(g.get("logGroupName") == group for g in found):
            missing.append(f"log group {group} does not exist in {region}")
    missing += _missing_api(params, clients)
    return missing


def _asker(call: Callable[..., object], **kwargs: str) -> Callable[[], object]:
    return lambda: call(**kwargs)


def _missing_api(params: DeploymentParameters, clients: AwsClients) -> list[str]:
    description = f"REST API {params.api_name}"
    try:
        api_ids = [
            api["id"]
            for page in clients.apigateway.get_paginator("get_rest_apis").paginate()
            for api in page.get("items", [])
            if api.get("name") == params.api_name
        ]
        if not api_ids:
            return [f"{description} does not exist in {params.region}"]
        for api_id in api_ids:
            try:
                clients.apigateway.get_stage(restApiId=api_id, stageName=params.stage)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in _NOT_FOUND:
                    raise
                continue
            return []
    except (ClientError, BotoCoreError) as exc:
        raise _cannot_ask(description, exc) from exc
    return [f"stage {params.stage} of {description} does not exist in {params.region}"]


def _cannot_ask(description: str, exc: Exception) -> DeployError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        said = f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    else:
        said = str(exc)
    return DeployError(
        f"cannot check that the {description} exists ({said}); grant the read permissions docs/dashboards.md "
        "lists, or pass --no-verify to deploy without checking"
    )
