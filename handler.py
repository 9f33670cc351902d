"""AWS Lambda entry points. Thin: build the service once per execution environment, then delegate.

* ``lambda_handler`` — API Gateway REST API, Lambda proxy integration (payload 1.0).

Configuration comes from environment variables (see the README's "Configuration"), secrets
from SSM Parameter Store. Nothing is built until the first invocation needs it.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from contact_sdk.api import ContactApi
from contact_sdk.bootstrap import build_api
from contact_sdk.errors import ConfigurationError
from contact_sdk.logs import build_logger
from contact_sdk.security.origin import SECURITY_HEADERS
from contact_sdk.settings import Settings

_lock = threading.Lock()
_api: ContactApi | None = None


def use_api(api: ContactApi | None) -> None:
    """Install an already-built API (the local stack, tests), or ``None`` to build from the environment again."""
    global _api  # noqa: PLW0603 - one service per execution environment is the point
    with _lock:
        _api = api


def _current_api() -> ContactApi:
    global _api  # noqa: PLW0603 - one service per execution environment is the point
    with _lock:
        if _api is None:
            _api = build_api(Settings.from_env())
        return _api


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway REST proxy event (``POST /contact``, ``GET /contact/token``, ...)."""
    try:
        api = _current_api()
    except ConfigurationError as exc:
        # A deployment mistake (a malformed environment variable): say so in the log, never to the client.
        build_logger().error("the service is misconfigured", extra={"error": str(exc)})
        request_id = str((event or {}).get("requestContext", {}).get("requestId") or uuid.uuid4())
        return {
            "statusCode": 500,
            "headers": {"Content-Type": "application/json", **SECURITY_HEADERS, "X-Request-Id": request_id},
            "body": json.dumps(
                {
                    "error": {"code": "internal_error", "message": "The service is misconfigured."},
                    "requestId": request_id,
                }
            ),
            "isBase64Encoded": False,
        }
    return api.handle(event, context)
