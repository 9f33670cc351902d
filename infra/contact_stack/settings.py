"""What one deployment of the stack varies on, resolved from CDK context in one place.

Context comes from ``cdk.json``, then ``cdk deploy -c key=value`` (which wins). Everything that
changes what is *synthesized* (names, origins, the artifact, the custom domain) is context; the two
values an operator may change without a new synth (the alarm e-mail address and the reserved
concurrency) are CloudFormation parameters instead (see :mod:`contact_stack.stack`).

Example::

    settings = StackSettings.from_context({"environment": "prod", "allowedOrigins": "https://example.com"})
    settings.config_parameter   # '/portfolio/prod/resend/api-key'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["StackSettings"]

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_STAGE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _text(context: Mapping[str, Any], key: str, default: str) -> str:
    value = context.get(key)
    return default if value is None or str(value).strip() == "" else str(value).strip()


def _int(context: Mapping[str, Any], key: str, default: int, *, minimum: int) -> int:
    raw = context.get(key, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"context {key}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"context {key}: must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class StackSettings:
    """One environment's deployment settings (all plain values: nothing here is a CDK token)."""

    environment: str = "prod"
    stage: str = "prod"
    allowed_origins: tuple[str, ...] = ()
    artifact: str = "../dist/lambda-arm64.zip"
    config_parameter: str = "/portfolio/prod/resend/api-key"
    csrf_secret_parameter: str = "/portfolio/prod/contact/csrf-secret"  # noqa: S105 - a parameter name
    webhook_secret_parameter: str = "/portfolio/prod/resend/webhook-secret"  # noqa: S105 - a parameter name
    resend_api_url: str = "https://api.resend.com"
    log_level: str = "INFO"
    throttle_rate_limit: int = 1000
    throttle_burst_limit: int = 2000
    outbox_max_receive_count: int = 10
    manage_api_gateway_account: bool = True
    domain_name: str | None = None
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None

    @property
    def prefix(self) -> str:
        """The environment prefix of every physical name, e.g. ``prod``."""
        return self.environment

    @property
    def parameter_names(self) -> tuple[str, str, str]:
        """The three SecureString parameters the functions read, in a fixed order."""
        return (self.config_parameter, self.csrf_secret_parameter, self.webhook_secret_parameter)

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | Callable[[str], Any]) -> StackSettings:
        """Read the settings from CDK context (a mapping, or ``node.try_get_context``)."""
        get: Callable[[str], Any] = context.get if isinstance(context, Mapping) else context
        defaults = cls()
        values = {key: get(key) for key in _CONTEXT_KEYS if get(key) is not None}
        environment = _text(values, "environment", "prod")
        if not _NAME.match(environment):
            raise ValueError(f"context environment: {environment!r} must be lower-case letters, digits, '-' (<= 20)")
        stage = _text(values, "stage", environment)
        if not _STAGE.match(stage):
            raise ValueError(f"context stage: {stage!r} must be letters, digits or '_'")
        origins = tuple(o.strip().rstrip("/") for o in _text(values, "allowedOrigins", "").split(",") if o.strip())
        for origin in origins:
            if origin == "*" or not origin.startswith(("https://", "http://")):
                raise ValueError(f"context allowedOrigins: {origin!r} is not scheme://host[:port] (and never '*')")
        domain_name = _text(values, "domainName", "") or None
        certificate_arn = _text(values, "certificateArn", "") or None
        if bool(domain_name) != bool(certificate_arn):
            raise ValueError("context domainName and certificateArn go together (a regional ACM certificate)")
        hosted_zone_id = _text(values, "hostedZoneId", "") or None
        hosted_zone_name = _text(values, "hostedZoneName", "") or None
        if bool(hosted_zone_id) != bool(hosted_zone_name):
            raise ValueError("context hostedZoneId and hostedZoneName go together")
        if hosted_zone_id and not domain_name:
            raise ValueError("context hostedZoneId needs domainName")
        settings = cls(
            environment=environment,
            stage=stage,
            allowed_origins=origins,
            artifact=_text(values, "artifact", defaults.artifact),
            config_parameter=_text(values, "configParameter", f"/portfolio/{environment}/resend/api-key"),
            csrf_secret_parameter=_text(values, "csrfSecretParameter", f"/portfolio/{environment}/contact/csrf-secret"),
            webhook_secret_parameter=_text(
                values, "webhookSecretParameter", f"/portfolio/{environment}/resend/webhook-secret"
            ),
            resend_api_url=_text(values, "resendApiUrl", defaults.resend_api_url).rstrip("/"),
            log_level=_text(values, "logLevel", defaults.log_level).upper(),
            throttle_rate_limit=_int(values, "throttleRateLimit", defaults.throttle_rate_limit, minimum=1),
            throttle_burst_limit=_int(values, "throttleBurstLimit", defaults.throttle_burst_limit, minimum=1),
            outbox_max_receive_count=_int(
                values, "outboxMaxReceiveCount", defaults.outbox_max_receive_count, minimum=1
            ),
            manage_api_gateway_account=str(values.get("manageApiGatewayAccount", "true")).lower() != "false",
            domain_name=domain_name,
            certificate_arn=certificate_arn,
            hosted_zone_id=hosted_zone_id,
            hosted_zone_name=hosted_zone_name,
        )
        for name in settings.parameter_names:
            if not name.startswith("/"):
                raise ValueError(f"parameter name {name!r} must be a path starting with '/'")
        return settings


#: Every context key the stack reads (documented in docs/deploy.md).
_CONTEXT_KEYS = (
    "environment",
    "stage",
    "allowedOrigins",
    "artifact",
    "configParameter",
    "csrfSecretParameter",
    "webhookSecretParameter",
    "resendApiUrl",
    "logLevel",
    "throttleRateLimit",
    "throttleBurstLimit",
    "outboxMaxReceiveCount",
    "manageApiGatewayAccount",
    "domainName",
    "certificateArn",
    "hostedZoneId",
    "hostedZoneName",
)
