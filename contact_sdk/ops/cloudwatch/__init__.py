"""CloudWatch dashboard, alarms and log metric filters for the email service, and the tools around them.

The definitions are JSON templates at the repository root (``dashboards/``, ``alarms/``), the form
``PutDashboard`` / ``PutMetricAlarm`` / ``PutMetricFilter`` take, with ``${Placeholder}`` parameters.

- :mod:`~contact_sdk.ops.cloudwatch.templates` finds and loads the template files.
- :mod:`~contact_sdk.ops.cloudwatch.render` fills in a :class:`DeploymentParameters` (pure).
- :mod:`~contact_sdk.ops.cloudwatch.validate` checks rendered definitions against the AWS API rules
  (JSON schemas in ``schemas/`` plus checks) and against the metrics the code emits.
- :mod:`~contact_sdk.ops.cloudwatch.deploy` plans and applies them through boto3 clients.
- :mod:`~contact_sdk.ops.cloudwatch.evaluate` is a small alarm evaluator for EMF documents (fire drills).

Example::

    from contact_sdk.ops.cloudwatch import DeploymentParameters, render_dashboard

    params = DeploymentParameters(region="eu-west-1", function_name="prod-contact-form-handler",
                                  api_name="prod-portfolio-api", stage="prod", environment="prod")
    body = render_dashboard(params)      # json.dumps(body) is the DashboardBody
"""

from __future__ import annotations

from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    TemplateError,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)

__all__ = [
    "DeploymentParameters",
    "TemplateError",
    "render_alarms",
    "render_dashboard",
    "render_metric_filters",
]
