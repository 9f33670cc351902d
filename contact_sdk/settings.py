"""Service settings: one frozen value object, each field resolved in one place.

Resolution order for every field: explicit argument, then environment variable, then default.
Nothing here runs at import time; :meth:`Settings.from_env` is called by the handler once per
execution environment.

Example::

    settings = Settings.from_env()                       # Lambda
    settings = Settings.from_env(environ={}, allowed_origins=("https://example.com",))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from contact_sdk.errors import ConfigurationError

__all__ = ["ENVIRONMENT_VARIABLES", "Settings"]

DEFAULT_RESEND_API_URL = "https://api.resend.com"


@dataclass(frozen=True, slots=True)
class _Var:
    name: str
    default: str | None
    meaning: str


#: Every environment variable the service reads: field name -> (variable, default, meaning).
ENVIRONMENT_VARIABLES: dict[str, _Var] = {
    "config_parameter": _Var(
        "CONTACT_CONFIG_PARAMETER", "/portfolio/prod/resend/api-key", "SSM name of the Resend config"
    ),
    "csrf_secret_parameter": _Var(
        "CONTACT_CSRF_SECRET_PARAMETER", "/portfolio/prod/contact/csrf-secret", "SSM name of the CSRF secret"
    ),
    "webhook_secret_parameter": _Var(
        "CONTACT_WEBHOOK_SECRET_PARAMETER",
        "/portfolio/prod/resend/webhook-secret",
        "SSM name of the Resend webhook signing secret",
    ),
    "allowed_origins": _Var("CONTACT_ALLOWED_ORIGINS", "", "allowed origins, comma-separated"),
    "environment": _Var("CONTACT_ENVIRONMENT", "prod", "the Environment metric dimension"),
    "table_name": _Var("CONTACT_TABLE_NAME", None, "DynamoDB table for rate limits, CSRF nonces, idempotency"),
    "outbox_queue_url": _Var("CONTACT_OUTBOX_QUEUE_URL", None, "SQS queue of the durable outbox"),
    "resend_api_url": _Var("RESEND_API_URL", DEFAULT_RESEND_API_URL, "Resend base URL"),
    "submit_limit": _Var("CONTACT_RATE_LIMIT", "5", "submissions per source IP per window"),
    "submit_window_seconds": _Var("CONTACT_RATE_LIMIT_WINDOW_SECONDS", "900", "submission rate-limit window"),
    "token_limit": _Var("CONTACT_TOKEN_RATE_LIMIT", "30", "token requests per source IP per window"),
    "token_window_seconds": _Var("CONTACT_TOKEN_RATE_LIMIT_WINDOW_SECONDS", "900", "token rate-limit window"),
    "config_ttl_seconds": _Var("CONTACT_CONFIG_TTL_SECONDS", "3600", "Parameter Store cache TTL"),
    "deadline_margin_ms": _Var(
        "CONTACT_DEADLINE_MARGIN_MS", "3000", "time kept back from the Lambda deadline for queueing and answering"
    ),
    "min_fill_seconds": _Var(
        "CONTACT_MIN_FILL_SECONDS",
        "3",
        "a form submitted faster than this after its token was issued or its formStartedAt is spam; 0 turns it off",
    ),
    "rate_limit_ipv6_prefix": _Var(
        "CONTACT_RATE_LIMIT_IPV6_PREFIX", "64", "IPv6 clients are rate-limited by this network prefix (1-128)"
    ),
    "turnstile_secret_parameter": _Var(
        "CONTACT_TURNSTILE_SECRET_PARAMETER",
        None,
        "SSM name of the Cloudflare Turnstile secret key; set, POST /contact needs turnstileToken",
    ),
    "turnstile_siteverify_url": _Var(
        "CONTACT_TURNSTILE_SITEVERIFY_URL",
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        "Turnstile siteverify endpoint (the local stand-in's in the local stack)",
    ),
    "turnstile_action": _Var(
        "CONTACT_TURNSTILE_ACTION", "contact", "the widget's data-action that siteverify must report"
    ),
    "turnstile_timeout_ms": _Var(
        "CONTACT_TURNSTILE_TIMEOUT_MS",
        "2000",
        "longest wait for siteverify, retry included (the deadline bounds it too)",
    ),
    "turnstile_strict": _Var(
        "CONTACT_TURNSTILE_STRICT",
        "false",
        "siteverify unreachable: false delivers with the subject marked, true refuses with 503",
    ),
}

#: Boolean fields: ``true``/``false`` (also ``1``/``0``, ``yes``/``no``), any case.
_BOOLEANS = frozenset({"turnstile_strict"})
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

#: Integer fields with a range other than "greater than zero": field -> (lowest, highest or None).
_INT_RANGES: dict[str, tuple[int, int | None]] = {
    "min_fill_seconds": (0, None),
    "rate_limit_ipv6_prefix": (1, 128),
}


def _parse_origins(raw: str) -> tuple[str, ...]:
    origins = []
    for item in raw.split(","):
        origin = item.strip().rstrip("/")
        if not origin:
            continue
        if origin == "*" or "://" not in origin:
            raise ConfigurationError(
                f"CONTACT_ALLOWED_ORIGINS: {origin!r} is not an origin (expected scheme://host[:port], never '*')"
            )
        origins.append(origin)
    return tuple(origins)


def _parse_int_in_range(variable: str, raw: str, lowest: int, highest: int | None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{variable}: expected a whole number, got {raw!r}") from None
    if value < lowest or (highest is not None and value > highest):
        bounds = f"between {lowest} and {highest}" if highest is not None else f"at least {lowest}"
        raise ConfigurationError(f"{variable}: must be {bounds}, got {value}")
    return value


def _parse_bool(variable: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{variable}: expected true or false, got {raw!r}")


def _parse_positive_int(variable: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{variable}: expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{variable}: must be greater than zero, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service needs that is not a secret. Secrets come from Parameter Store."""

    config_parameter: str = "/portfolio/prod/resend/api-key"
    csrf_secret_parameter: str = "/portfolio/prod/contact/csrf-secret"  # noqa: S105 - a parameter name, not a secret
    webhook_secret_parameter: str = "/portfolio/prod/resend/webhook-secret"  # noqa: S105 - a parameter name
    allowed_origins: tuple[str, ...] = ()
    environment: str = "prod"
    table_name: str | None = None
    outbox_queue_url: str | None = None
    resend_api_url: str = DEFAULT_RESEND_API_URL
    submit_limit: int = 5
    submit_window_seconds: int = 900
    token_limit: int = 30
    token_window_seconds: int = 900
    config_ttl_seconds: int = 3600
    deadline_margin_ms: int = 3000
    min_fill_seconds: int = 3
    rate_limit_ipv6_prefix: int = 64
    turnstile_secret_parameter: str | None = None
    turnstile_siteverify_url: str = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    turnstile_action: str = "contact"
    turnstile_timeout_ms: int = 2000
    turnstile_strict: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Resolve every field: explicit ``overrides``, then ``environ`` (default ``os.environ``), then default.

        Raises :class:`ConfigurationError` naming the variable when a value is malformed.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in overrides:
                values[f.name] = overrides.pop(f.name)
                continue
            var = ENVIRONMENT_VARIABLES[f.name]
            raw = env.get(var.name)
            if raw is None or raw.strip() == "":
                if var.default is None:
                    values[f.name] = None
                    continue
                raw = var.default
            raw = raw.strip()
            if f.name == "allowed_origins":
                values[f.name] = _parse_origins(raw)
            elif f.name in _BOOLEANS:
                values[f.name] = _parse_bool(var.name, raw)
            elif f.name in _INT_RANGES:
                values[f.name] = _parse_int_in_range(var.name, raw, *_INT_RANGES[f.name])
            elif f.type in ("int", int):
                values[f.name] = _parse_positive_int(var.name, raw)
            elif f.name == "resend_api_url":
                values[f.name] = raw.rstrip("/")
            else:
                values[f.name] = raw
        if overrides:
            raise TypeError(f"unknown settings: {', '.join(sorted(overrides))}")
        return cls(**values)
