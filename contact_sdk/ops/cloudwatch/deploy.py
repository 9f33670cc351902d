"""Put the rendered dashboard, alarms and timeout metric filters into CloudWatch, or say what would change.

Every function takes boto3 clients (``cloudwatch``, ``logs``) so tests and tools pass one pointed
at an emulator; nothing here builds a client or reads the environment. Each deploy renders,
validates (:func:`contact_sdk.ops.cloudwatch.validate.validate_deployment`) and plans first; a dry run
stops after the plan, having made only read calls.

Example::

    cloudwatch = boto3.client("cloudwatch", region_name=params.region)
    report = deploy_dashboard(params, cloudwatch=cloudwatch, dry_run=True)
    for change in report.changes:
        print(change)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contact_sdk.errors import ContactSdkError
from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)
from contact_sdk.ops.cloudwatch.validate import DefinitionInvalidError, validate_deployment

__all__ = ["Change", "DeployError", "DeployReport", "deploy_alarms", "deploy_dashboard"]

_ACTION_LISTS = ("AlarmActions", "OKActions", "InsufficientDataActions")


class DeployError(ContactSdkError):
    """CloudWatch refused a change, or something it needs (the log group) is missing.

    ``validation_messages`` carries CloudWatch's ``DashboardValidationMessages`` when it had any.
    """

    def __init__(self, message: str, validation_messages: Sequence[str] = ()) -> None:
        self.validation_messages = tuple(validation_messages)
        details = "".join(f"\n  - {m}" for m in self.validation_messages)
        super().__init__(message + details)


@dataclass(frozen=True, slots=True)
class Change:
    """One planned call: what (``dashboard``, ``alarm``, ``metric-filter``), its name, and the effect."""

    kind: str
    name: str
    action: str  # "create", "update" or "unchanged"

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.action}"


@dataclass(frozen=True, slots=True)
class DeployReport:
    """What a deploy planned, whether it applied it, and CloudWatch's dashboard validation messages."""

    changes: tuple[Change, ...]
    applied: bool
    validation_messages: tuple[str, ...] = ()


def _validated(params: DeploymentParameters) -> None:
    issues = validate_deployment(params)
    if issues:
        raise DefinitionInvalidError(issues)


def _format_validation_messages(messages: Any) -> list[str]:
    out = []
    for message in messages or []:
        if isinstance(message, Mapping):
            path = message.get("DataPath") or message.get("dataPath") or "$"
            out.append(f"{path}: {message.get('Message') or message.get('message')}")
        else:
            out.append(str(message))
    return out


def _aws_error(action: str, exc: Exception) -> DeployError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return DeployError(f"{action} failed: {error.get('Code', 'Error')}: {error.get('Message', exc)}")
    return DeployError(f"{action} failed: {exc}")


def deploy_dashboard(params: DeploymentParameters, *, cloudwatch: Any, dry_run: bool = False) -> DeployReport:
    """Validate and ``PutDashboard`` the rendered body (only ``GetDashboard`` on a dry run).

    Raises :class:`DefinitionInvalidError` before any call when the definitions break a rule, and
    :class:`DeployError` when CloudWatch refuses the body (with its validation messages).
    """
    _validated(params)
    name = params.resolved_dashboard_name
    body = render_dashboard(params)
    try:
        existing: Any = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("ResourceNotFound", "ResourceNotFoundException"):
            raise _aws_error("GetDashboard", exc) from exc
        existing = None
    except BotoCoreError as exc:
        raise _aws_error("GetDashboard", exc) from exc
    action = "create" if existing is None else ("unchanged" if existing == body else "update")
    changes = (Change("dashboard", name, action),)
    if dry_run:
        return DeployReport(changes, applied=False)
    try:
        response = cloudwatch.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    except ClientError as exc:
        # Where botocore puts the modeled error field depends on the protocol: look in both places.
        places = (exc.response, exc.response.get("Error", {}))
        found = [p.get(k) for p in places for k in ("dashboardValidationMessages", "DashboardValidationMessages")]
        messages = _format_validation_messages(next((f for f in found if f), None))
        error = exc.response.get("Error", {})
        raise DeployError(
            f"PutDashboard refused {name}: {error.get('Code', 'Error')}: {error.get('Message', exc)}", messages
        ) from exc
    except BotoCoreError as exc:
        raise _aws_error("PutDashboard", exc) from exc
    messages = _format_validation_messages(response.get("DashboardValidationMessages"))
    return DeployReport(changes, applied=True, validation_messages=tuple(messages))


def _normalise(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"Name", "Value"}:
            return (value["Name"], value["Value"])
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normalise(v) for v in value]
        return sorted(items) if all(isinstance(i, tuple) for i in items) else items
    return value


def _alarm_action(desired: Mapping[str, Any], existing: Mapping[str, Any] | None) -> str:
    if existing is None:
        return "create"
    for key, value in desired.items():
        if _normalise(existing.get(key)) != _normalise(value):
            return "update"
    for key in _ACTION_LISTS:
        if key not in desired and existing.get(key):
            return "update"
    return "unchanged"


def _filter_action(desired: Mapping[str, Any], existing: Mapping[str, Any] | None) -> str:
    if existing is None:
        return "create"
    same = existing.get("filterPattern") == desired["filterPattern"] and _normalise(
        existing.get("metricTransformations")
    ) == _normalise(desired["metricTransformations"])
    return "unchanged" if same else "update"


def deploy_alarms(params: DeploymentParameters, *, cloudwatch: Any, logs: Any, dry_run: bool = False) -> DeployReport:
    """Validate, then ``PutMetricFilter`` the timeout filters and ``PutMetricAlarm`` every alarm.

    The Lambda log groups the filters read (the API function's, and the outbox consumer's when it
    is named) must already exist (the function's first run or the stack creates them, with their
    retention); otherwise :class:`DeployError` before any change. A dry run only describes what exists.
    """
    _validated(params)
    alarms = render_alarms(params)
    filters = render_metric_filters(params)
    log_groups = list(dict.fromkeys(str(f["logGroupName"]) for f in filters))
    try:
        existing_filters: dict[str, Any] = {}
        for log_group in log_groups:
            groups = logs.describe_log_groups(logGroupNamePrefix=log_group).get("logGroups", [])
            if not any(g.get("logGroupName") == log_group for g in groups):
                raise DeployError(
                    f"log group {log_group} does not exist: invoke the function once or deploy the stack that "
                    "creates it (with its retention), then deploy the alarms again"
                )
            described = logs.describe_metric_filters(logGroupName=log_group).get("metricFilters", [])
            existing_filters.update({f["filterName"]: f for f in described})
        names = [a["AlarmName"] for a in alarms]
        existing_alarms: dict[str, Any] = {}
        for offset in range(0, len(names), 100):
            response = cloudwatch.describe_alarms(AlarmNames=names[offset : offset + 100], AlarmTypes=["MetricAlarm"])
            existing_alarms.update({a["AlarmName"]: a for a in response.get("MetricAlarms", [])})
    except (ClientError, BotoCoreError) as exc:
        raise _aws_error("reading the current alarms and filters", exc) from exc
    changes = [
        Change("metric-filter", f["filterName"], _filter_action(f, existing_filters.get(f["filterName"])))
        for f in filters
    ] + [Change("alarm", a["AlarmName"], _alarm_action(a, existing_alarms.get(a["AlarmName"]))) for a in alarms]
    if dry_run:
        return DeployReport(tuple(changes), applied=False)
    for metric_filter in filters:
        try:
            logs.put_metric_filter(**metric_filter)
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(f"PutMetricFilter {metric_filter['filterName']}", exc) from exc
    for alarm in alarms:
        try:
            cloudwatch.put_metric_alarm(**alarm)
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(f"PutMetricAlarm {alarm['AlarmName']}", exc) from exc
    return DeployReport(tuple(changes), applied=True)
