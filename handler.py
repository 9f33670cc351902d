"""AWS Lambda entry points. Thin: build the service once per execution environment, then delegate.

* ``lambda_handler`` — API Gateway REST API, Lambda proxy integration (payload 1.0).
* ``outbox_handler`` — SQS event source on the durable outbox (partial batch responses).

Configuration comes from environment variables (see docs/configuration.md), secrets from SSM
Parameter Store. Nothing is built until the first invocation needs it.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from contact_sdk.api import ContactApi
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.errors import ConfigurationError
from contact_sdk.logs import build_logger
from contact_sdk.security.origin import SECURITY_HEADERS
from contact_sdk.settings import Settings
from contact_sdk.snapstart import SnapStartHooks, register

_lock = threading.Lock()
_components: Components | None = None
_api: ContactApi | None = None


def use_components(components: Components | None) -> None:
    """Install already-built components (the local stack, tests), or ``None`` to build from the environment."""
    global _components, _api  # noqa: PLW0603 - one service per execution environment is the point
    with _lock:
        _components = components
        _api = components.api if components is not None else None


def use_api(api: ContactApi | None) -> None:
    """Install an already-built API adapter only (``lambda_handler`` then uses it)."""
    global _api  # noqa: PLW0603 - one service per execution environment is the point
    with _lock:
        _api = api


def current_components() -> Components:
    """The components of this execution environment, built from the environment on first use."""
    global _components  # noqa: PLW0603 - one service per execution environment is the point
    with _lock:
        if _components is None:
            _components = build_components(Settings.from_env())
        return _components


def _misconfigured(event: Any, exc: ConfigurationError) -> dict[str, Any]:
    # A deployment mistake (a malformed environment variable): say so in the log, never to the client.
    build_logger().error("the service is misconfigured", extra={"error": str(exc)})
    context = event.get("requestContext") if isinstance(event, dict) else None
    request_id = str((context or {}).get("requestId") or uuid.uuid4())
    return {
        "statusCode": 500,
        "headers": {"Content-Type": "application/json", **SECURITY_HEADERS, "X-Request-Id": request_id},
        "body": json.dumps(
            {"error": {"code": "internal_error", "message": "The service is misconfigured."}, "requestId": request_id}
        ),
        "isBase64Encoded": False,
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway REST proxy event (``POST /contact``, ``GET /contact/token``, ...)."""
    try:
        api = _api if _api is not None else current_components().api
    except ConfigurationError as exc:
        return _misconfigured(event, exc)
    return api.handle(event, context)


def outbox_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Deliver a batch of queued submissions; returns ``{"batchItemFailures": [...]}``."""
    return current_components().consumer.handle(event, context)


# SnapStart: build before the snapshot, re-seed / reconnect / re-check config after each restore.
# A no-op where the runtime's snapshot_restore_py is absent (tests, local runs).
register(SnapStartHooks(lambda: _components, prime=current_components))
