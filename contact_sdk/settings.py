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
    "min_fill_seconds": _Var("CONTACT_MIN_FILL_SECONDS", "3", "a form submitted faster than this is spam"),
    "archive_days": _Var("CONTACT_ARCHIVE_DAYS", "30", "days a submission stays in the archive after its last change"),
    "archive_spam_days": _Var("CONTACT_ARCHIVE_SPAM_DAYS", "7", "days a submission judged spam stays in the archive"),
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


#: Whole-number settings for which ``0`` means "off" (the contract: ``CONTACT_MIN_FILL_SECONDS=0``).
_ZERO_MEANS_OFF = frozenset({"min_fill_seconds"})


def _parse_positive_int(variable: str, raw: str, *, allow_zero: bool = False) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{variable}: expected a whole number, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "greater than zero"
        raise ConfigurationError(f"{variable}: must be {bound}, got {value}")
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
    archive_days: int = 30
    archive_spam_days: int = 7

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
            elif f.type in ("int", int):
                values[f.name] = _parse_positive_int(var.name, raw, allow_zero=f.name in _ZERO_MEANS_OFF)
            elif f.name == "resend_api_url":
                values[f.name] = raw.rstrip("/")
            else:
                values[f.name] = raw
        if overrides:
            raise TypeError(f"unknown settings: {', '.join(sorted(overrides))}")
        return cls(**values)
