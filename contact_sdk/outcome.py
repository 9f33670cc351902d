"""What one request came to: the status and body the contract prescribes, and the facts for the logs and metrics.

The intake, the delivery and the webhook route each answer with an :class:`Outcome`; the API adapter
(:mod:`contact_sdk.api`) turns it into the API Gateway response, adds the contract's headers, counts its
metrics and writes its log fields on the request's summary line.

Example::

    Outcome.error(429, "rate_limited", "Too many messages from your address.", headers={"Retry-After": "60"})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from contact_sdk.metrics import Metric

__all__ = ["UNAVAILABLE_RETRY_AFTER", "Outcome", "unavailable", "with_next_token"]

#: What a client is told to wait when nothing can take its request.
UNAVAILABLE_RETRY_AFTER = 30


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one request: the response and the facts the logs and metrics need."""

    status: int
    body: dict[str, Any]
    outcome: str
    headers: Mapping[str, str] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()
    log_fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def error(
        cls,
        status: int,
        code: str,
        message: str,
        *,
        metrics: tuple[Metric, ...] = (),
        headers: Mapping[str, str] | None = None,
        fields: Mapping[str, str] | None = None,
        log_fields: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """An error outcome with the contract's body ``{"error": {"code", "message"[, "fields"]}}``."""
        error: dict[str, Any] = {"code": code, "message": message}
        if fields:
            error["fields"] = dict(fields)
        return cls(
            status=status,
            body={"error": error},
            outcome=code,
            headers=dict(headers or {}),
            metrics=metrics,
            log_fields=dict(log_fields or {}),
        )

    def logged(self, **fields: Any) -> Outcome:
        """The same outcome with more fields for the summary log line."""
        return replace(self, log_fields={**self.log_fields, **fields})


def unavailable(message: str, log_fields: Mapping[str, Any] | None = None) -> Outcome:
    """``503 service_unavailable`` with ``Retry-After``: nothing was accepted, the client keeps the message."""
    return Outcome.error(
        503,
        "service_unavailable",
        message,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        log_fields=log_fields,
    )


def with_next_token(outcome: Outcome, next_token: str) -> Outcome:
    """An answer given after the CSRF token was consumed: the page's next token rides along (in ``error``)."""
    if "error" in outcome.body:
        error = {**outcome.body["error"], "nextToken": next_token}
        return replace(outcome, body={**outcome.body, "error": error})
    return replace(outcome, body={**outcome.body, "nextToken": next_token})
