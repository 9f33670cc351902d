"""The dashboard, alarms and metric filters, from the JSON templates in ``dashboards/`` and ``alarms/``.

There is one source of truth: :mod:`contact_sdk.ops.cloudwatch.render` turns the templates into the
payloads of CloudWatch's own API (``PutDashboard``'s body, ``PutMetricAlarm``'s and
``PutMetricFilter``'s keyword arguments). This module only maps those payloads onto CloudFormation
resources; it adds, drops or invents nothing. A key it does not know fails the synth, so a new
template field cannot be silently lost.

``PutMetricAlarm`` arguments and ``AWS::CloudWatch::Alarm`` properties share names and shapes
(``Dimensions``, ``Metrics`` with ``MetricStat``/``Expression``, ``Tags``), so alarms map one to one.
``PutMetricFilter`` uses camelCase and a ``{name: value}`` dimension map, so filters are translated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnResource, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)

__all__ = ["ALARM_PROPERTIES", "Monitoring", "alarm_properties", "metric_filter_properties"]

#: ``PutMetricAlarm`` keyword arguments that ``AWS::CloudWatch::Alarm`` accepts under the same name.
ALARM_PROPERTIES = frozenset(
    {
        "AlarmName",
        "AlarmDescription",
        "ActionsEnabled",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
        "Metrics",
        "Tags",
        "ThresholdMetricId",
    }
)

_FILTER_KEYS = {
    "logGroupName": "LogGroupName",
    "filterName": "FilterName",
    "filterPattern": "FilterPattern",
    "applyOnTransformedLogs": "ApplyOnTransformedLogs",
}
_TRANSFORMATION_KEYS = {
    "metricName": "MetricName",
    "metricNamespace": "MetricNamespace",
    "metricValue": "MetricValue",
    "defaultValue": "DefaultValue",
    "unit": "Unit",
}


def alarm_properties(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``AWS::CloudWatch::Alarm`` properties for one set of ``PutMetricAlarm`` arguments (identity on names)."""
    unknown = sorted(set(kwargs) - ALARM_PROPERTIES)
    if unknown:
        raise ValueError(f"alarm {kwargs.get('AlarmName')!r}: no CloudFormation property for {', '.join(unknown)}")
    return {key: value for key, value in kwargs.items() if value is not None}


def metric_filter_properties(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``AWS::Logs::MetricFilter`` properties for one set of ``PutMetricFilter`` arguments."""
    unknown = sorted(set(kwargs) - set(_FILTER_KEYS) - {"metricTransformations"})
    if unknown:
        raise ValueError(f"metric filter {kwargs.get('filterName')!r}: cannot map {', '.join(unknown)}")
    properties = {_FILTER_KEYS[key]: value for key, value in kwargs.items() if key in _FILTER_KEYS}
    transformations = []
    for transformation in kwargs.get("metricTransformations", []):
        extra = sorted(set(transformation) - set(_TRANSFORMATION_KEYS) - {"dimensions"})
        if extra:
            raise ValueError(f"metric filter {kwargs.get('filterName')!r}: cannot map {', '.join(extra)}")
        mapped = {_TRANSFORMATION_KEYS[k]: v for k, v in transformation.items() if k in _TRANSFORMATION_KEYS}
        if transformation.get("dimensions"):
            mapped["Dimensions"] = [{"Key": k, "Value": v} for k, v in transformation["dimensions"].items()]
        transformations.append(mapped)
    properties["MetricTransformations"] = transformations
    return properties


def _logical_id(prefix: str, name: str) -> str:
    if Token.is_unresolved(name):
        raise ValueError(f"{prefix} names must be plain strings (they make the logical ids), got a token: {name}")
    return prefix + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


@dataclass(frozen=True, slots=True)
class Monitoring:
    """The CloudFormation resources made from one rendering (kept for tests and outputs)."""

    dashboard: cloudwatch.CfnDashboard
    alarms: Sequence[CfnResource]
    metric_filters: Sequence[CfnResource]
    #: The alarms' names, in the order of :attr:`alarms` (plain strings: the key policy lists their ARNs).
    alarm_names: Sequence[str] = ()

    @classmethod
    def add(cls, scope: Construct, params: DeploymentParameters, *, depends_on: Sequence[Any] = ()) -> Monitoring:
        """Render the templates for ``params`` and add the dashboard, alarms and filters to ``scope``.

        Logical ids come from the alarm and filter names, so adding a template does not replace the others.
        ``depends_on`` (the log groups) is created first: a metric filter needs its log group.
        """
        stack = Stack.of(scope)
        dashboard = cloudwatch.CfnDashboard(
            scope,
            "Dashboard",
            dashboard_name=params.dashboard_name,
            dashboard_body=stack.to_json_string(render_dashboard(params)),
        )
        rendered = render_alarms(params)
        alarms = [
            CfnResource(
                scope,
                _logical_id("Alarm", str(kwargs["AlarmName"])),
                type="AWS::CloudWatch::Alarm",
                properties=alarm_properties(kwargs),
            )
            for kwargs in rendered
        ]
        filters = []
        for kwargs in render_metric_filters(params):
            resource = CfnResource(
                scope,
                _logical_id("MetricFilter", str(kwargs["filterName"])),
                type="AWS::Logs::MetricFilter",
                properties=metric_filter_properties(kwargs),
            )
            for dependency in depends_on:
                resource.node.add_dependency(dependency)
            filters.append(resource)
        names = [str(kwargs["AlarmName"]) for kwargs in rendered]  # plain strings: _logical_id refused tokens
        return cls(dashboard=dashboard, alarms=alarms, metric_filters=filters, alarm_names=names)
