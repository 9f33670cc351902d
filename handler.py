"""AWS Lambda entry points. Thin: build the service once per execution environment, then delegate.

* ``lambda_handler`` — API Gateway REST API, Lambda proxy integration (payload 1.0).
* ``outbox_handler`` — SQS event source on the durable outbox (partial batch responses).

A canary deploy's pre-traffic hook (its own function, handler ``contact_sdk.deployment_check.pre_traffic_hook``)
invokes the new version of each function with a check event, which both handlers answer with the deployment
check instead (``contact_sdk.deployment_check``; docs/deploy.md, "Rollout and rollback").

Configuration comes from environment variables (see docs/configuration.md), secrets from SSM
Parameter Store. Nothing is built until the first invocation needs it.
"""

from __future__ import annotations

import gc

# Everything the imports below create lives as long as the process, so the cyclic garbage collector, which would
# walk those objects over and over while they load, is paused until they are in, and they are then frozen out of
# its way; contact_sdk.execution_environment.long_lived does the same for the build on the first invocation.
_collector_was_enabled = gc.isenabled()
gc.disable()
try:
    import json
    import uuid
    from typing import Any

    from contact_sdk.check_event import is_deployment_check
    from contact_sdk.errors import ConfigurationError
    from contact_sdk.execution_environment import ExecutionEnvironment
    from contact_sdk.logs import build_logger
    from contact_sdk.security.origin import SECURITY_HEADERS
    from contact_sdk.snapstart import SnapStartHooks, register
finally:
    gc.freeze()
    if _collector_was_enabled:
        gc.enable()

#: This execution environment's service, built on the first invocation (docs/architecture.md).
environment = ExecutionEnvironment()


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
    if is_deployment_check(event):
        from contact_sdk.deployment_check import answer_api_check  # noqa: PLC0415 - once per deploy, not per cold start

        return answer_api_check(event, environment.components)
    try:
        api = environment.api()
    except ConfigurationError as exc:
        return _misconfigured(event, exc)
    return api.handle(event, context)


def outbox_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Deliver a batch of queued submissions; returns ``{"batchItemFailures": [...]}``."""
    if is_deployment_check(event):
        from contact_sdk.deployment_check import answer_consumer_check  # noqa: PLC0415 - as above

        return answer_consumer_check(event, environment.components)
    return environment.components().consumer.handle(event, context)


# SnapStart: build before the snapshot, re-seed / reconnect / re-check config after each restore.
# A no-op where the runtime's snapshot_restore_py is absent (tests, local runs).
register(SnapStartHooks(environment.built, prime=environment.components))
