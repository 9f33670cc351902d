"""Fill the dashboard, alarm and metric-filter templates with one deployment's parameters. Pure: no AWS calls.

Templates use ``${Name}`` placeholders (see :data:`PLACEHOLDERS`). Substitution is a single pass
of plain string replacement inside JSON string values, so a value may itself be an opaque
CloudFormation token such as ``${Token[AWS.Region.4]}``: it is inserted as is and never parsed or
substituted again. Checking a value (a real region, an ARN) is the deploy layer's job.

An optional parameter that is unset (the alarm topic, the queues) is handled where the templates
use it: a list item that is exactly such a placeholder is dropped (so an alarm without a topic has
no actions), and the queue widgets and the dead-letter alarm come from their own template files,
rendered only when the queue name is given; so do the outbox consumer's alarms and timeout filters, rendered
only when ``consumer_function_name`` is given. A Logs Insights query may read a second log group,
``| SOURCE '${ConsumerLogGroupName}'`` after its first ``SOURCE``: that clause is dropped when its parameter
is unset (the query then reads the API function's log group alone). Any other use of an unset parameter is
an error.

Example::

    params = DeploymentParameters(region="eu-west-1", function_name="prod-contact-form-handler",
                                  api_name="prod-portfolio-api", stage="prod", environment="prod",
                                  alarm_topic_arn="arn:aws:sns:eu-west-1:123456789012:prod-portfolio-email-alarms")
    cloudwatch.put_dashboard(DashboardName=params.resolved_dashboard_name,
                             DashboardBody=json.dumps(render_dashboard(params)))
    for alarm in render_alarms(params):
        cloudwatch.put_metric_alarm(**alarm)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from contact_sdk.errors import ConfigurationError
from contact_sdk.ops.cloudwatch.templates import (
    ALARMS_FILE,
    CONSUMER_ALARMS_FILE,
    CONSUMER_METRIC_FILTERS_FILE,
    DASHBOARD_FILE,
    DEAD_LETTER_QUEUE_ALARMS_FILE,
    DEAD_LETTER_QUEUE_WIDGETS_FILE,
    FUNCTION_ALARMS_FILE,
    METRIC_FILTERS_FILE,
    OUTBOX_ALARMS_FILE,
    OUTBOX_WIDGETS_FILE,
    load_template,
)

__all__ = [
    "PLACEHOLDERS",
    "ROLLBACK_ALARMS",
    "DeploymentParameters",
    "TemplateError",
    "fill_placeholders",
    "render_alarms",
    "render_dashboard",
    "render_metric_filters",
    "rollback_alarm_names",
]

#: Placeholder name in the templates -> the :class:`DeploymentParameters` value it stands for.
PLACEHOLDERS: dict[str, str] = {
    "Region": "region",
    "FunctionName": "function_name",
    "ApiName": "api_name",
    "Stage": "stage",
    "Environment": "environment",
    "AlarmTopicArn": "alarm_topic_arn",
    "LogGroupName": "resolved_log_group_name",
    "DashboardName": "resolved_dashboard_name",
    "OutboxQueueName": "outbox_queue_name",
    "DeadLetterQueueName": "dead_letter_queue_name",
    "ConsumerFunctionName": "consumer_function_name",
    "ConsumerLogGroupName": "resolved_consumer_log_group_name",
}

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")
#: A further log group of a Logs Insights query (``| SOURCE '${Name}'``), dropped when its parameter is unset.
_EXTRA_SOURCE = re.compile(r"\s*\|\s*SOURCE '\$\{([A-Za-z][A-Za-z0-9]*)\}'")
_REQUIRED = ("region", "function_name", "api_name", "stage", "environment")


class TemplateError(ConfigurationError):
    """A template cannot be rendered: an unknown placeholder, or a parameter missing or empty."""


@dataclass(frozen=True, slots=True)
class DeploymentParameters:
    """Everything that differs between two deployments of the dashboard and alarms.

    Values may be CloudFormation tokens; they are inserted verbatim.
    """

    region: str
    function_name: str
    api_name: str
    stage: str
    environment: str
    alarm_topic_arn: str | None = None
    log_group_name: str | None = None
    dashboard_name: str | None = None
    outbox_queue_name: str | None = None
    dead_letter_queue_name: str | None = None
    consumer_function_name: str | None = None
    consumer_log_group_name: str | None = None

    def __post_init__(self) -> None:
        for name in _REQUIRED:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise TemplateError(f"deployment parameter {name} is required and must be a non-empty string")
        for name in (
            "alarm_topic_arn",
            "log_group_name",
            "dashboard_name",
            "outbox_queue_name",
            "dead_letter_queue_name",
            "consumer_function_name",
            "consumer_log_group_name",
        ):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise TemplateError(f"deployment parameter {name} must be a non-empty string or None")
        if self.consumer_log_group_name is not None and self.consumer_function_name is None:
            raise TemplateError("deployment parameter consumer_log_group_name needs consumer_function_name")

    @property
    def resolved_log_group_name(self) -> str:
        """The Lambda function's log group: ``log_group_name`` or ``/aws/lambda/<function_name>``."""
        return self.log_group_name or f"/aws/lambda/{self.function_name}"

    @property
    def resolved_consumer_log_group_name(self) -> str | None:
        """The outbox consumer's log group (``/aws/lambda/<consumer_function_name>`` by default); None without it."""
        if self.consumer_function_name is None:
            return None
        return self.consumer_log_group_name or f"/aws/lambda/{self.consumer_function_name}"

    @property
    def resolved_dashboard_name(self) -> str:
        """The dashboard's name: ``dashboard_name`` or ``<environment>-portfolio-email-dashboard``."""
        return self.dashboard_name or f"{self.environment}-portfolio-email-dashboard"

    def placeholder_values(self) -> dict[str, str | None]:
        """Every placeholder name with its value (``None`` for an unset optional parameter)."""
        return {placeholder: getattr(self, attribute) for placeholder, attribute in PLACEHOLDERS.items()}


def fill_placeholders(template: Any, values: dict[str, str | None], *, source: str = "template") -> Any:
    """A copy of ``template`` with every ``${Name}`` in its strings replaced by ``values[Name]``.

    A list item that is exactly a placeholder whose value is ``None`` is dropped, and a list
    emptied that way is removed from its object; so is a ``| SOURCE '${Name}'`` clause of a query
    whose ``Name`` is ``None``. Raises :class:`TemplateError` for an unknown
    placeholder or any other use of an unset one.
    """

    def fill_string(text: str, where: str) -> str:
        def drop_unset(match: re.Match[str]) -> str:
            name = match.group(1)
            return "" if name in values and values[name] is None else match.group()

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise TemplateError(f"{source}: unknown placeholder ${{{name}}} at {where}")
            value = values[name]
            if value is None:
                raise TemplateError(
                    f"{source}: ${{{name}}} is used at {where} but its parameter "
                    f"({PLACEHOLDERS.get(name, name)}) is not set"
                )
            return value

        return _PLACEHOLDER.sub(replace, _EXTRA_SOURCE.sub(drop_unset, text))

    def is_unset(item: Any) -> bool:
        if not isinstance(item, str):
            return False
        match = _PLACEHOLDER.fullmatch(item)
        return match is not None and match.group(1) in values and values[match.group(1)] is None

    def fill(node: Any, where: str) -> Any:
        if isinstance(node, str):
            return fill_string(node, where)
        if isinstance(node, list):
            return [fill(item, f"{where}[{i}]") for i, item in enumerate(node) if not is_unset(item)]
        if isinstance(node, dict):
            filled: dict[str, Any] = {}
            for key, value in node.items():
                new_value = fill(value, f"{where}.{key}")
                if isinstance(value, list) and value and not new_value:
                    continue
                filled[key] = new_value
            return filled
        return node

    return fill(template, "$")


def render_dashboard(params: DeploymentParameters) -> dict[str, Any]:
    """The ``DashboardBody`` object for ``params`` (``json.dumps`` it for ``PutDashboard``).

    The outbox and dead-letter queue widgets are appended below the rest only when their
    queue names are set.
    """
    values = params.placeholder_values()
    body: dict[str, Any] = fill_placeholders(load_template(DASHBOARD_FILE), values, source=DASHBOARD_FILE)
    extras: list[dict[str, Any]] = []
    if params.outbox_queue_name is not None:
        extras += fill_placeholders(load_template(OUTBOX_WIDGETS_FILE), values, source=OUTBOX_WIDGETS_FILE)["widgets"]
    if params.dead_letter_queue_name is not None:
        fragment = load_template(DEAD_LETTER_QUEUE_WIDGETS_FILE)
        extras += fill_placeholders(fragment, values, source=DEAD_LETTER_QUEUE_WIDGETS_FILE)["widgets"]
    if extras:
        bottom = max((w.get("y", 0) + w.get("height", 6) for w in body["widgets"]), default=0)
        for widget in extras:
            if "y" in widget:
                widget["y"] += bottom
        body["widgets"].extend(extras)
    return body


def render_alarms(params: DeploymentParameters) -> list[dict[str, Any]]:
    """Every alarm for ``params``, each a dict of ``PutMetricAlarm`` keyword arguments.

    Without ``alarm_topic_arn`` the alarms have no actions. The API function's ``Errors`` and
    ``Throttles`` alarms are always included; the outbox and dead-letter queue alarms only when
    ``outbox_queue_name`` / ``dead_letter_queue_name`` is set, the outbox consumer's errors,
    throttles and timeouts only when ``consumer_function_name`` is.
    """
    values = params.placeholder_values()
    alarms: list[dict[str, Any]] = fill_placeholders(load_template(ALARMS_FILE), values, source=ALARMS_FILE)
    alarms += fill_placeholders(load_template(FUNCTION_ALARMS_FILE), values, source=FUNCTION_ALARMS_FILE)
    if params.outbox_queue_name is not None:
        alarms += fill_placeholders(load_template(OUTBOX_ALARMS_FILE), values, source=OUTBOX_ALARMS_FILE)
    if params.dead_letter_queue_name is not None:
        fragment = load_template(DEAD_LETTER_QUEUE_ALARMS_FILE)
        alarms += fill_placeholders(fragment, values, source=DEAD_LETTER_QUEUE_ALARMS_FILE)
    if params.consumer_function_name is not None:
        alarms += fill_placeholders(load_template(CONSUMER_ALARMS_FILE), values, source=CONSUMER_ALARMS_FILE)
    return alarms


def render_metric_filters(params: DeploymentParameters) -> list[dict[str, Any]]:
    """The log metric filters (``PutMetricFilter`` keyword arguments) that count Lambda timeouts.

    The API function's always; the outbox consumer's (on its own log group) when ``consumer_function_name`` is set.
    """
    values = params.placeholder_values()
    filters: list[dict[str, Any]] = fill_placeholders(
        load_template(METRIC_FILTERS_FILE), values, source=METRIC_FILTERS_FILE
    )
    if params.consumer_function_name is not None:
        fragment = load_template(CONSUMER_METRIC_FILTERS_FILE)
        filters += fill_placeholders(fragment, values, source=CONSUMER_METRIC_FILTERS_FILE)
    return filters


#: The alarms that mean "the new version is worse", per function (alarm names after ``<environment>-portfolio-email-``).
#: A canary deploy of that function stops and rolls back when one of them is in ALARM (docs/deploy.md, "Rollout and
#: rollback"): its errors, the API's 5XX and p95 latency, failed sends, degraded AWS dependencies.
ROLLBACK_ALARMS: dict[str, tuple[str, ...]] = {
    "api": ("api-function-errors", "api-5xx", "response-time-p95", "failed-sends", "dependency-degraded"),
    "consumer": ("consumer-function-errors", "failed-sends", "dependency-degraded"),
}


def rollback_alarm_names(params: DeploymentParameters, function: str) -> list[str]:
    """The rendered names of ``function``'s rollback alarms; :class:`TemplateError` if one is not rendered."""
    rendered = {str(alarm["AlarmName"]) for alarm in render_alarms(params)}
    names = [f"{params.environment}-portfolio-email-{suffix}" for suffix in ROLLBACK_ALARMS[function]]
    missing = [name for name in names if name not in rendered]
    if missing:
        raise TemplateError(f"rollback alarm(s) of the {function} function not rendered: {', '.join(missing)}")
    return names
