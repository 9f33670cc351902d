"""What makes an invocation a canary deploy's check: a question cheap enough to ask of every event.

Both Lambda entry points ask it first (``handler.py``). The check itself, :mod:`contact_sdk.deployment_check`,
loads only when a check event arrives, once per deploy, so no cold start pays for its import.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CHECK_EVENT_KEY", "is_deployment_check"]

#: The one key of a check event. API Gateway and SQS events never have it (nor have only it).
CHECK_EVENT_KEY = "contactSdkDeploymentCheck"


def is_deployment_check(event: object) -> bool:
    """Whether ``event`` is a check event: a mapping whose only key is :data:`CHECK_EVENT_KEY`."""
    return isinstance(event, Mapping) and set(event) == {CHECK_EVENT_KEY}
