"""What one deployment of the stack varies on, resolved from CDK context in one place.

Context comes from ``cdk.json``, then ``cdk deploy -c key=value`` (which wins). Everything that
changes what is *synthesized* (names, origins, the artifact, the custom domain, the stage throttle,
the optional WAF) is context; the two values an operator may change without a new synth (the alarm
e-mail address and the reserved concurrency) are CloudFormation parameters instead (see
:mod:`contact_stack.stack`). The reserved concurrency's default comes from context
(``reservedConcurrency``), because the stage throttle is derived from it (:func:`derived_stage_throttle`).

Every value that becomes one of the functions' environment variables is parsed by the runtime's own
parser (:class:`contact_sdk.settings.Settings`, :class:`contact_sdk.security.origin.OriginPolicy`,
Powertools' log level), so the synth refuses exactly what the deployed function would refuse, with the
runtime's own message, instead of deploying a stack whose every request answers ``500``.

Example::

    settings = StackSettings.from_context({"environment": "prod", "allowedOrigins": "https://example.com"})
    settings.config_parameter   # '/portfolio/prod/resend/api-key'
"""

from __future__ import annotations

import io
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from contact_sdk.errors import ConfigurationError
from contact_sdk.security.origin import OriginPolicy
from contact_sdk.settings import Settings

__all__ = [
    "DEFAULT_DEPLOYMENT_CONFIG",
    "DEFAULT_P95_DURATION_MS",
    "DEFAULT_THROTTLE_HEADROOM",
    "DEPLOYMENT_CONFIGS",
    "StackSettings",
    "check_function_environment",
    "deployment_config_name",
    "derived_stage_throttle",
]

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


def _float(context: Mapping[str, Any], key: str, default: float, *, low: float, high: float) -> float:
    raw = context.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"context {key}: expected a number, got {raw!r}") from None
    if not low < value <= high:  # also refuses nan; inf fails the upper bound
        raise ValueError(f"context {key}: must be more than {low:g} and at most {high:g}, got {raw!r}")
    return value


def _bool(context: Mapping[str, Any], key: str, default: bool) -> bool:
    """A context flag: JSON true/false (cdk.json) or the text "true"/"false" (``-c key=value``), nothing else."""
    raw = context.get(key, default)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ValueError(f"context {key}: expected true or false, got {raw!r}")


#: The p95 duration of a warm ``POST /contact`` to plan the stage throttle for, in milliseconds: the Locust
#: run's p95 (340-380 ms with a provider answering in 150 ms, README "Load testing"), rounded up.
DEFAULT_P95_DURATION_MS = 400
#: The share of the reserved concurrency the stage may fill at that duration (the rest absorbs cold starts,
#: CORS preflights and a provider slower than the measurement). docs/deploy.md has the arithmetic.
DEFAULT_THROTTLE_HEADROOM = 0.5
#: The longest a function invocation may run (the Lambda timeout): a p95 above it is a typo.
_MAX_DURATION_MS = 30_000


#: CodeDeploy's predefined Lambda deployment configs (context ``deploymentConfig``), without their prefix.
DEPLOYMENT_CONFIGS = (
    "AllAtOnce",
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
)
#: Ten minutes at 10 %: the rollback alarms judge 5-minute periods, so a canary of ten minutes holds at least one
#: whole period of the new version's traffic (docs/deploy.md, "Rollout and rollback").
DEFAULT_DEPLOYMENT_CONFIG = "Canary10Percent10Minutes"


def deployment_config_name(name: str) -> str:
    """CodeDeploy's name for a context value: ``CodeDeployDefault.LambdaCanary10Percent10Minutes``."""
    if name not in DEPLOYMENT_CONFIGS:
        raise ValueError(f"context deploymentConfig: {name!r} is not one of {', '.join(DEPLOYMENT_CONFIGS)}")
    return f"CodeDeployDefault.Lambda{name}"


#: Context key -> the environment variable its value becomes (what the runtime parses it as).
_RUNTIME_VARIABLES = {
    "allowedOrigins": "CONTACT_ALLOWED_ORIGINS",
    "resendApiUrl": "RESEND_API_URL",
    "configParameter": "CONTACT_CONFIG_PARAMETER",
    "csrfSecretParameter": "CONTACT_CSRF_SECRET_PARAMETER",
    "webhookSecretParameter": "CONTACT_WEBHOOK_SECRET_PARAMETER",
    "environment": "CONTACT_ENVIRONMENT",
}


def check_function_environment(environment: Mapping[str, str]) -> Settings:
    """Parse the functions' environment the way the deployed function does; raise what it would raise.

    ``Settings.from_env`` reads every variable, the origin allow-list is built as the service builds it
    (:class:`OriginPolicy`), and the log level goes through Powertools' own resolution, which raises for a
    level it does not know (the function would fail every invocation). Raises :class:`ConfigurationError`
    carrying the runtime's message; returns the parsed settings.
    """
    settings = Settings.from_env(environment)
    OriginPolicy(settings.allowed_origins)
    level = environment.get("POWERTOOLS_LOG_LEVEL")
    if level is not None:
        try:
            # A name of its own each time: Powertools configures a service's logger once per process and ignores
            # the level of a later Logger for the same service, so a reused name would approve anything.
            Logger(service=f"contact-stack-synth-check-{uuid.uuid4().hex}", level=level, stream=io.StringIO())
        except ValueError as exc:
            raise ConfigurationError(f"POWERTOOLS_LOG_LEVEL: {exc}") from None
    return settings


def _runtime_value(key: str, variable: str, value: str) -> None:
    """Parse one context value as the runtime parses the variable it becomes; name the key when it refuses."""
    try:
        check_function_environment({variable: value})
    except ConfigurationError as exc:
        raise ValueError(f"context {key}: {value!r} would be refused by the function: {exc}") from None


def derived_stage_throttle(reserved_concurrency: int, p95_duration_ms: float, headroom: float) -> tuple[int, int]:
    """``(rate, burst)`` for the stage: rate = reserved x headroom / p95 seconds (at least 1), burst = reserved.

    By Little's law the concurrency a steady rate needs is rate x duration, so at the planned p95 the
    stage admits no more than ``headroom`` of the function's reserved slots.
    """
    rate = max(1, math.floor(reserved_concurrency * headroom / (p95_duration_ms / 1000)))
    return rate, reserved_concurrency


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
    throttle_rate_limit: int = 25
    throttle_burst_limit: int = 20
    #: Receives before SQS dead-letters an outbox message. The consumer hides a failed message 30 s doubling
    #: per receive up to 5 min, so 450 receives last at least 37 h: a 24 h outage dead-letters nothing
    #: (docs/guarantees.md has the arithmetic).
    outbox_max_receive_count: int = 450
    manage_api_gateway_account: bool = True
    domain_name: str | None = None
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    reserved_concurrency: int = 20
    p95_duration_ms: float = DEFAULT_P95_DURATION_MS
    throttle_headroom: float = DEFAULT_THROTTLE_HEADROOM
    waf: bool = False
    waf_rate_limit: int = 300
    waf_managed_rules: bool = True
    #: How CodeDeploy shifts ``live`` to a new version (one of :data:`DEPLOYMENT_CONFIGS`).
    deployment_config: str = DEFAULT_DEPLOYMENT_CONFIG
    #: How many of the table's two archive indexes to define, in order (archive-by-email, then archive-by-state).
    #: DynamoDB adds one index per table update, so a stack whose table predates them deploys with 1, then 2.
    archive_indexes: int = 2

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
        raw_origins = _text(values, "allowedOrigins", "")
        if not any(o.strip() for o in raw_origins.split(",")):
            raise ValueError(
                "context allowedOrigins is required: the comma-separated origins of the pages that show the form, "
                "e.g. -c allowedOrigins=https://example.com,https://www.example.com (without it the function "
                "refuses every browser)"
            )
        _runtime_value("allowedOrigins", _RUNTIME_VARIABLES["allowedOrigins"], raw_origins)
        origins = Settings.from_env({_RUNTIME_VARIABLES["allowedOrigins"]: raw_origins}).allowed_origins
        log_level = _text(values, "logLevel", defaults.log_level).upper()
        try:
            check_function_environment({"POWERTOOLS_LOG_LEVEL": log_level})
        except ConfigurationError as exc:
            raise ValueError(f"context logLevel: {log_level!r} would be refused by the function: {exc}") from None
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
        reserved_concurrency = _int(values, "reservedConcurrency", defaults.reserved_concurrency, minimum=1)
        p95_duration_ms = _float(values, "p95DurationMs", defaults.p95_duration_ms, low=0, high=_MAX_DURATION_MS)
        headroom = _float(values, "throttleHeadroom", defaults.throttle_headroom, low=0, high=1)
        rate, burst = derived_stage_throttle(reserved_concurrency, p95_duration_ms, headroom)
        waf_rate_limit = _int(values, "wafRateLimit", defaults.waf_rate_limit, minimum=10)
        if waf_rate_limit > 2_000_000_000:
            raise ValueError(
                f"context wafRateLimit: must be at most 2000000000 (AWS WAF's limit), got {waf_rate_limit}"
            )
        archive_indexes = _int(values, "archiveIndexes", defaults.archive_indexes, minimum=0)
        if archive_indexes > 2:
            raise ValueError(f"context archiveIndexes: the table has two indexes (0, 1 or 2), got {archive_indexes}")
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
            log_level=log_level,
            throttle_rate_limit=_int(values, "throttleRateLimit", rate, minimum=1),
            throttle_burst_limit=_int(values, "throttleBurstLimit", burst, minimum=1),
            outbox_max_receive_count=_int(
                values, "outboxMaxReceiveCount", defaults.outbox_max_receive_count, minimum=1
            ),
            manage_api_gateway_account=_bool(values, "manageApiGatewayAccount", True),
            domain_name=domain_name,
            certificate_arn=certificate_arn,
            hosted_zone_id=hosted_zone_id,
            hosted_zone_name=hosted_zone_name,
            reserved_concurrency=reserved_concurrency,
            p95_duration_ms=p95_duration_ms,
            throttle_headroom=headroom,
            waf=_bool(values, "waf", defaults.waf),
            waf_rate_limit=waf_rate_limit,
            waf_managed_rules=_bool(values, "wafManagedRules", defaults.waf_managed_rules),
            deployment_config=_text(values, "deploymentConfig", defaults.deployment_config),
            archive_indexes=archive_indexes,
        )
        deployment_config_name(settings.deployment_config)
        for name in settings.parameter_names:
            if not name.startswith("/"):
                raise ValueError(f"parameter name {name!r} must be a path starting with '/'")
        for key, variable in _RUNTIME_VARIABLES.items():
            if key != "allowedOrigins":
                _runtime_value(key, variable, str(getattr(settings, _FIELDS[key])))
        return settings

    def function_environment(self) -> dict[str, str]:
        """The functions' environment variables this settings object decides (the stack adds the resources').

        The same mapping :func:`check_function_environment` approved when the settings were read.
        """
        return {
            "CONTACT_CONFIG_PARAMETER": self.config_parameter,
            "CONTACT_CSRF_SECRET_PARAMETER": self.csrf_secret_parameter,
            "CONTACT_WEBHOOK_SECRET_PARAMETER": self.webhook_secret_parameter,
            "CONTACT_ALLOWED_ORIGINS": ",".join(self.allowed_origins),
            "CONTACT_ENVIRONMENT": self.environment,
            "RESEND_API_URL": self.resend_api_url,
            "POWERTOOLS_SERVICE_NAME": "contact-form",
            "POWERTOOLS_LOG_LEVEL": self.log_level,
        }


#: Context key -> the StackSettings field that holds its value.
_FIELDS = {
    "resendApiUrl": "resend_api_url",
    "configParameter": "config_parameter",
    "csrfSecretParameter": "csrf_secret_parameter",
    "webhookSecretParameter": "webhook_secret_parameter",
    "environment": "environment",
}

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
    "reservedConcurrency",
    "p95DurationMs",
    "throttleHeadroom",
    "waf",
    "wafRateLimit",
    "wafManagedRules",
    "deploymentConfig",
    "archiveIndexes",
)
