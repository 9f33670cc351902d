"""Every error the SDK raises, in one tree.

    ContactSdkError
    ├── ConfigurationError              config missing, malformed, or unreachable
    │   ├── ConfigUnavailableError      Parameter Store unreachable and nothing cached
    │   ├── WebhookSecretError          the whsec_ signing secret is malformed      (webhooks.verifier)
    │   └── TemplateError               a dashboard/alarm template cannot be filled  (cloudwatch.render)
    ├── CsrfError                       the request's CSRF token is refused (403)    (security.csrf)
    │   ├── CsrfMissing                     no token
    │   └── CsrfInvalid                     malformed, forged, other origin, expired, replayed
    ├── NonceStoreUnavailable           shared stores unreachable: the service degrades to
    ├── RateLimitStoreUnavailable           per-instance memory (security.fallback)
    ├── RecordUnavailable               a submission's record unreachable (record)
    ├── OutboxUnavailable               the outbox queue did not take a message (outbox)
    ├── WebhookError                    a webhook delivery is refused              (webhooks.verifier)
    │   ├── WebhookSignatureError           missing/invalid signature, stale timestamp (401)
    │   └── WebhookPayloadError             authentic body that is not a Resend event (400)
    ├── WebhookStoreUnavailableError    webhook events cannot be recorded (503)    (webhooks.store)
    ├── DefinitionInvalidError, DeployError, EvaluationError                      (cloudwatch)
    ├── DnsInputError, ResolverUnavailableError                                   (dns)
    └── ProviderError                   anything that went wrong talking to Resend
        ├── TransientProviderError      worth retrying: the same request may succeed later
        │   ├── ProviderTimeoutError        connect/read/write/pool timeout
        │   ├── ProviderConnectionError     refused, reset, DNS, TLS
        │   ├── ProviderServerError         5xx (including non-JSON proxy pages)
        │   ├── ProviderRateLimitedError    429 rate_limit_exceeded
        │   └── ConcurrentIdempotentRequestError   409 concurrent_idempotent_requests
        ├── PermanentProviderError      retrying the same request cannot help
        │   ├── ProviderAuthError           401/403 key missing, invalid, restricted, suspended
        │   ├── ProviderQuotaError          daily/monthly quota, email_above_quota
        │   ├── ProviderRequestError        400/404/405/422 and other client errors
        │   └── IdempotencyConflictError    409 invalid_idempotent_request
        ├── CircuitOpenError            the breaker refused the call; the network was not touched
        └── ProviderDeferredError       the deadline leaves no room for another attempt

The errors outside the provider branch are defined beside the code that raises them (module in
brackets) and all derive from :class:`ContactSdkError`. Transient vs permanent is one
``isinstance``. Errors from the provider are translated where they enter
(:func:`contact_sdk.resend.translate_response`) from the table :data:`ERROR_TABLE`, and chained
with ``raise ... from``.

"Unavailable now" — the condition under which a submission is kept for later instead of
being refused — is :data:`PROVIDER_UNAVAILABLE`: transient errors after the last retry,
an open breaker, the deadline, and exhausted quota.
"""

from __future__ import annotations

__all__ = [
    "ERROR_TABLE",
    "PROVIDER_UNAVAILABLE",
    "CircuitOpenError",
    "ConcurrentIdempotentRequestError",
    "ConfigUnavailableError",
    "ConfigurationError",
    "ContactSdkError",
    "IdempotencyConflictError",
    "PermanentProviderError",
    "ProviderAuthError",
    "ProviderConnectionError",
    "ProviderDeferredError",
    "ProviderError",
    "ProviderQuotaError",
    "ProviderRateLimitedError",
    "ProviderRequestError",
    "ProviderServerError",
    "ProviderTimeoutError",
    "TransientProviderError",
    "error_class_for",
]


class ContactSdkError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(ContactSdkError):
    """Configuration is missing or malformed. The message names the parameter and field, never a value."""


class ConfigUnavailableError(ConfigurationError):
    """Parameter Store could not be read and no earlier value is cached."""


class ProviderError(ContactSdkError):
    """Resend did not accept a request.

    Attributes mirror Resend's error body ``{"statusCode", "name", "message"}``; ``status`` is
    ``None`` when no HTTP response arrived (timeouts, connection errors). ``retry_after`` is the
    provider's requested wait in seconds, when it gave one.
    """

    #: Whether this failure says something about the provider's health (feeds the breaker).
    counts_against_provider: bool = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        name: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.name = name
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.name:
            parts.append(f"name={self.name}")
        return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


class TransientProviderError(ProviderError):
    """The same request may succeed if tried again later."""


class ProviderTimeoutError(TransientProviderError):
    """No response in time. The provider may or may not have accepted the email."""


class ProviderConnectionError(TransientProviderError):
    """The connection could not be made or broke before a response."""


class ProviderServerError(TransientProviderError):
    """A 5xx answer, including non-JSON pages from a proxy in front of the provider."""


class ProviderRateLimitedError(TransientProviderError):
    """429 ``rate_limit_exceeded``: too many requests per second."""


class ConcurrentIdempotentRequestError(TransientProviderError):
    """409 ``concurrent_idempotent_requests``: the same key is still in flight."""

    counts_against_provider = False


class PermanentProviderError(ProviderError):
    """Retrying the same request cannot succeed."""

    counts_against_provider = False


class ProviderAuthError(PermanentProviderError):
    """401/403: the API key is missing, invalid, restricted or suspended.

    Counts against the provider: a rotated key makes every send fail until config refreshes.
    """

    counts_against_provider = True


class ProviderQuotaError(PermanentProviderError):
    """The account's daily or monthly quota is exhausted (retrying now cannot help)."""

    counts_against_provider = True


class ProviderRequestError(PermanentProviderError):
    """The request itself was refused: validation, unknown route, wrong method."""


class IdempotencyConflictError(PermanentProviderError):
    """409 ``invalid_idempotent_request``: the key was already used with a different body."""


class CircuitOpenError(ProviderError):
    """The circuit breaker is open; the call was refused without touching the network."""

    counts_against_provider = False


class ProviderDeferredError(ProviderError):
    """The deadline leaves no room for the next attempt; keep the message for later."""

    counts_against_provider = False


#: Errors meaning "the provider cannot take this now": store the submission for later delivery.
PROVIDER_UNAVAILABLE: tuple[type[ProviderError], ...] = (
    TransientProviderError,
    CircuitOpenError,
    ProviderDeferredError,
    ProviderQuotaError,
)

#: Every documented Resend error, as (HTTP status, Resend ``name``) -> exception class.
ERROR_TABLE: dict[tuple[int, str], type[ProviderError]] = {
    (400, "validation_error"): ProviderRequestError,
    (400, "invalid_idempotency_key"): ProviderRequestError,
    (401, "missing_api_key"): ProviderAuthError,
    (401, "restricted_api_key"): ProviderAuthError,
    (401, "validation_error"): ProviderAuthError,
    (403, "invalid_api_key"): ProviderAuthError,
    (403, "restricted_api_key"): ProviderAuthError,
    (403, "suspended_api_key"): ProviderAuthError,
    (403, "invalid_permission"): ProviderAuthError,
    (403, "email_above_quota"): ProviderQuotaError,
    (403, "validation_error"): ProviderAuthError,
    (404, "not_found"): ProviderRequestError,
    (405, "method_not_allowed"): ProviderRequestError,
    (409, "invalid_idempotent_request"): IdempotencyConflictError,
    (409, "concurrent_idempotent_requests"): ConcurrentIdempotentRequestError,
    (422, "validation_error"): ProviderRequestError,
    (422, "missing_required_field"): ProviderRequestError,
    (422, "invalid_parameter"): ProviderRequestError,
    (422, "invalid_attachment"): ProviderRequestError,
    (422, "invalid_from_address"): ProviderRequestError,
    (429, "rate_limit_exceeded"): ProviderRateLimitedError,
    (429, "daily_quota_exceeded"): ProviderQuotaError,
    (429, "monthly_quota_exceeded"): ProviderQuotaError,
    (500, "application_error"): ProviderServerError,
    (500, "internal_server_error"): ProviderServerError,
    (503, "service_unavailable"): ProviderServerError,
}


def error_class_for(status: int, name: str | None) -> type[ProviderError]:
    """Return the exception class for a provider answer; unknown names fall back by status class.

    >>> error_class_for(429, "daily_quota_exceeded").__name__
    'ProviderQuotaError'
    >>> error_class_for(502, None).__name__
    'ProviderServerError'
    """
    if name is not None and (status, name) in ERROR_TABLE:
        return ERROR_TABLE[(status, name)]
    if status >= 500:
        return ProviderServerError
    if status in (401, 403):
        return ProviderAuthError
    if status == 429:
        return ProviderRateLimitedError
    if status == 409:  # concurrent_idempotent_requests is in the table: any other 409 is a conflict
        return IdempotencyConflictError
    return ProviderRequestError
