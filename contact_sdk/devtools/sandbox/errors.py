"""Resend's error answers: one exception carrying ``{"statusCode", "name", "message"}``.

Every refusal the sandbox makes on the Resend API surface is an :class:`ApiError`; the server
turns it into exactly the body Resend sends. The messages follow Resend's error reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "ApiError",
    "concurrent_idempotent_requests",
    "internal_server_error",
    "invalid_api_key",
    "invalid_idempotency_key",
    "invalid_idempotent_request",
    "invalid_region",
    "method_not_allowed",
    "missing_api_key",
    "missing_user_agent",
    "not_found",
    "rate_limit_exceeded",
    "service_unavailable",
]


@dataclass(slots=True)
class ApiError(Exception):
    """One Resend error answer: HTTP status, machine ``name``, human ``message``, extra headers."""

    status: int
    name: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        """The JSON body Resend sends for this error, key for key."""
        return {"statusCode": self.status, "name": self.name, "message": self.message}


def missing_api_key() -> ApiError:
    """401: no ``Authorization`` header at all."""
    return ApiError(401, "missing_api_key", "Missing API key in the authorization header.")


def invalid_api_key() -> ApiError:
    """403: a key was sent but it is not the configured one."""
    return ApiError(403, "invalid_api_key", "API key is invalid.")


def missing_user_agent() -> ApiError:
    """403: Resend refuses requests without a ``User-Agent`` header."""
    return ApiError(
        403, "validation_error", "The request is missing the `User-Agent` header; API requests must include one."
    )


def not_found(message: str = "The requested endpoint does not exist.") -> ApiError:
    """404: unknown path or unknown email id."""
    return ApiError(404, "not_found", message)


def method_not_allowed() -> ApiError:
    """405: the path exists but not with this method."""
    return ApiError(405, "method_not_allowed", "Method is not allowed for the requested path.")


def invalid_idempotency_key() -> ApiError:
    """400: ``Idempotency-Key`` empty or longer than 256 characters."""
    return ApiError(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")


def invalid_idempotent_request() -> ApiError:
    """409: the key was already used with a different request payload."""
    return ApiError(409, "invalid_idempotent_request", "Same idempotency key used with a different request payload.")


def concurrent_idempotent_requests() -> ApiError:
    """409: the key is in use by a request that has not finished yet."""
    return ApiError(
        409,
        "concurrent_idempotent_requests",
        "Same idempotency key used while original request is still in progress.",
    )


def invalid_region(regions: Sequence[str]) -> ApiError:
    """422: a domain's ``region`` is not one of ``regions``, the ones Resend sends from."""
    return ApiError(422, "invalid_region", "Region must be " + " | ".join(f'"{region}"' for region in regions))


def rate_limit_exceeded(retry_after: str) -> ApiError:
    """429: more requests per second than the configured limit."""
    return ApiError(
        429,
        "rate_limit_exceeded",
        "Too many requests. Please limit the number of requests per second.",
        {"retry-after": retry_after},
    )


def service_unavailable() -> ApiError:
    """503: the injected outage window is open."""
    return ApiError(503, "service_unavailable", "The service is temporarily unavailable. Please try again later.")


def internal_server_error() -> ApiError:
    """500: the generic failure Resend answers when something breaks on its side."""
    return ApiError(500, "internal_server_error", "An unexpected error occurred.")
