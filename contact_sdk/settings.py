"""Service settings: one frozen value object, each field resolved in one place.

Resolution order for every field: explicit argument, then environment variable, then default.
Each field is declared once, with its variable, default, meaning and bounds (:func:`_setting`);
:data:`ENVIRONMENT_VARIABLES`, the docs check and the operator CLI read that one declaration.
Nothing here runs at import time; :meth:`Settings.from_env` is called by the handler once per
execution environment.

Example::

    settings = Settings.from_env()                       # Lambda
    settings = Settings.from_env(environ={}, allowed_origins=("https://example.com",))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from contact_sdk.errors import ConfigurationError

__all__ = ["ENVIRONMENT_VARIABLES", "Settings"]

DEFAULT_RESEND_API_URL = "https://api.resend.com"
DEFAULT_SITEVERIFY_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
#: API Gateway's REST integration timeout: an answer later than this never reaches the visitor.
MAX_RESPONSE_BUDGET_MS = 29_000

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True, slots=True)
class _Var:
    """One environment variable: its name, its default as it would be written, and what it means."""

    name: str
    default: str | None
    meaning: str


def _setting(
    variable: str, default: Any, meaning: str, *, minimum: int = 1, maximum: int | None = None, why_maximum: str = ""
) -> Any:
    """Declare a field: its environment variable, default, meaning, and (for whole numbers) its bounds."""
    metadata = {"variable": variable, "meaning": meaning, "minimum": minimum, "maximum": maximum, "why": why_maximum}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service needs that is not a secret. Secrets come from Parameter Store."""

    config_parameter: str = _setting(
        "CONTACT_CONFIG_PARAMETER", "/portfolio/prod/resend/api-key", "SSM name of the Resend config"
    )
    csrf_secret_parameter: str = _setting(
        "CONTACT_CSRF_SECRET_PARAMETER", "/portfolio/prod/contact/csrf-secret", "SSM name of the CSRF secret"
    )
    webhook_secret_parameter: str = _setting(
        "CONTACT_WEBHOOK_SECRET_PARAMETER",
        "/portfolio/prod/resend/webhook-secret",
        "SSM name of the Resend webhook signing secret",
    )
    allowed_origins: tuple[str, ...] = _setting("CONTACT_ALLOWED_ORIGINS", (), "allowed origins, comma-separated")
    environment: str = _setting("CONTACT_ENVIRONMENT", "prod", "the Environment metric dimension")
    table_name: str | None = _setting(
        "CONTACT_TABLE_NAME", None, "DynamoDB table for rate limits, CSRF nonces, the submission records"
    )
    outbox_queue_url: str | None = _setting("CONTACT_OUTBOX_QUEUE_URL", None, "SQS queue of the durable outbox")
    resend_api_url: str = _setting("RESEND_API_URL", DEFAULT_RESEND_API_URL, "Resend base URL")
    submit_limit: int = _setting("CONTACT_RATE_LIMIT", 5, "submissions per source IP per window")
    submit_window_seconds: int = _setting("CONTACT_RATE_LIMIT_WINDOW_SECONDS", 900, "submission rate-limit window")
    token_limit: int = _setting("CONTACT_TOKEN_RATE_LIMIT", 30, "token requests per source IP per window")
    token_window_seconds: int = _setting("CONTACT_TOKEN_RATE_LIMIT_WINDOW_SECONDS", 900, "token rate-limit window")
    config_ttl_seconds: int = _setting("CONTACT_CONFIG_TTL_SECONDS", 3600, "Parameter Store cache TTL")
    deadline_margin_ms: int = _setting(
        "CONTACT_DEADLINE_MARGIN_MS", 3000, "time kept back from the Lambda deadline for queueing and answering"
    )
    min_fill_seconds: int = _setting(
        "CONTACT_MIN_FILL_SECONDS",
        3,
        "a form submitted faster than this after its token was issued or its formStartedAt is spam; 0 turns it off",
        minimum=0,
    )
    archive_days: int = _setting(
        "CONTACT_ARCHIVE_DAYS", 30, "days a submission stays in the archive after its last change"
    )
    archive_spam_days: int = _setting(
        "CONTACT_ARCHIVE_SPAM_DAYS", 7, "days a submission judged spam stays in the archive"
    )
    rate_limit_ipv6_prefix: int = _setting(
        "CONTACT_RATE_LIMIT_IPV6_PREFIX",
        64,
        "IPv6 clients are rate-limited by this network prefix (1-128)",
        maximum=128,
    )
    turnstile_secret_parameter: str | None = _setting(
        "CONTACT_TURNSTILE_SECRET_PARAMETER",
        None,
        "SSM name of the Cloudflare Turnstile secret key; set, POST /contact needs turnstileToken",
    )
    turnstile_siteverify_url: str = _setting(
        "CONTACT_TURNSTILE_SITEVERIFY_URL",
        DEFAULT_SITEVERIFY_URL,
        "Turnstile siteverify endpoint (the local stand-in's in the local stack)",
    )
    turnstile_action: str = _setting(
        "CONTACT_TURNSTILE_ACTION", "contact", "the widget's data-action that siteverify must report"
    )
    turnstile_timeout_ms: int = _setting(
        "CONTACT_TURNSTILE_TIMEOUT_MS", 2000, "longest wait for siteverify, retry included (the deadline bounds it too)"
    )
    turnstile_strict: bool = _setting(
        "CONTACT_TURNSTILE_STRICT",
        False,
        "siteverify unreachable: false delivers with the subject marked, true refuses with 503",
    )
    response_budget_ms: int = _setting(
        "CONTACT_RESPONSE_BUDGET_MS",
        4000,
        "the longest the function spends on POST /contact before queueing",
        maximum=MAX_RESPONSE_BUDGET_MS,
        why_maximum="API Gateway's integration timeout",
    )
    aws_call_timeout_ms: int = _setting(
        "CONTACT_AWS_CALL_TIMEOUT_MS",
        1500,
        "the longest one call to DynamoDB, SQS or Parameter Store may take (the request's deadline cuts it sooner)",
        maximum=MAX_RESPONSE_BUDGET_MS,
        why_maximum="API Gateway's integration timeout",
    )
    parked_queue_url: str | None = _setting(
        "CONTACT_PARKED_QUEUE_URL", None, "SQS queue (the outbox's dead-letter queue) for permanently refused mail"
    )
    log_level: str = _setting("POWERTOOLS_LOG_LEVEL", "INFO", "log level of the structured logs")

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
            raw = env.get(f.metadata["variable"])
            if raw is not None and raw.strip():
                values[f.name] = _parse(f.name, f.default, f.metadata, raw.strip())
        if overrides:
            raise TypeError(f"unknown settings: {', '.join(sorted(overrides))}")
        return cls(**values)


def _parse(name: str, default: Any, metadata: Mapping[str, Any], raw: str) -> Any:
    """One variable's text as its field's type; the field's default says which type that is."""
    variable = metadata["variable"]
    if name == "allowed_origins":
        return _parse_origins(raw)
    if name == "resend_api_url":
        return _parse_url(variable, raw)
    if name in ("outbox_queue_url", "parked_queue_url"):
        return _parse_queue_url(variable, raw)
    if name == "log_level":
        return _parse_level(variable, raw)
    if isinstance(default, bool):
        return _parse_bool(variable, raw)
    if isinstance(default, int):
        return _parse_int(variable, raw, metadata["minimum"], metadata["maximum"], metadata["why"])
    return raw


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


def _http_path(raw: str) -> str | None:
    """The path of an http(s) URL with a host and nothing after the path; ``None`` for anything else."""
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return None
    return parts.path


def _parse_url(variable: str, raw: str) -> str:
    """An http(s) base URL with a host and nothing after the path (a request to anything else cannot succeed)."""
    if _http_path(raw) is None:
        raise ConfigurationError(f"{variable}: {raw!r} is not an http(s) base URL such as https://api.resend.com")
    return raw.rstrip("/")


def _parse_queue_url(variable: str, raw: str) -> str:
    """A standard SQS queue's URL, ``http(s)://host/<account>/<name>``: what ``SendMessage`` takes.

    Refused at start rather than at the first outage: an ARN or a bare name (every send would fail, and the
    outbox is only needed when the provider is down), and a FIFO queue (``.fifo``), which takes no per-message
    delay and needs message groups the service does not send.
    """
    path = _http_path(raw)
    segments = path.strip("/").split("/") if path is not None else []
    if len(segments) != 2 or not all(segments):
        raise ConfigurationError(
            f"{variable}: {raw!r} is not an SQS queue URL such as "
            "https://sqs.eu-west-1.amazonaws.com/123456789012/contact-outbox"
        )
    if segments[1].endswith(".fifo"):
        raise ConfigurationError(
            f"{variable}: {segments[1]!r} is a FIFO queue; the service needs a standard queue (it delays each "
            "message by the wait its failure named, which a FIFO queue does not take)"
        )
    return raw


def _parse_int(variable: str, raw: str, minimum: int, maximum: int | None, why_maximum: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{variable}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        bound = {0: "zero or more", 1: "greater than zero"}.get(minimum, f"at least {minimum}")
        raise ConfigurationError(f"{variable}: must be {bound}, got {value}")
    if maximum is not None and value > maximum:
        because = f" ({why_maximum})" if why_maximum else ""
        raise ConfigurationError(f"{variable}: at most {maximum}{because}, got {value}")
    return value


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _parse_level(variable: str, raw: str) -> str:
    level = raw.upper()
    if level not in _LEVELS:
        raise ConfigurationError(f"{variable} must be one of {', '.join(_LEVELS)}, got {raw!r}")
    return level


def _parse_bool(variable: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{variable}: expected true or false, got {raw!r}")


def _written(default: Any) -> str | None:
    """A default as it would be written in the environment (what the docs and ``config show`` print)."""
    if default is None:
        return None
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, tuple):
        return ",".join(default)
    return str(default)


#: Every environment variable the service reads: field name -> (variable, default as written, meaning).
#: Derived from the fields, so a default is written in exactly one place.
ENVIRONMENT_VARIABLES: dict[str, _Var] = {
    f.name: _Var(f.metadata["variable"], _written(f.default), f.metadata["meaning"]) for f in fields(Settings)
}
