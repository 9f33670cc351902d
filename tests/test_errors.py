"""Tests for the exception tree, the (status, name) table and its fallbacks (``contact_sdk.errors``)."""

from __future__ import annotations

import pickle

import pytest

from contact_sdk.errors import (
    ERROR_TABLE,
    PROVIDER_UNAVAILABLE,
    CircuitOpenError,
    ConcurrentIdempotentRequestError,
    ConfigUnavailableError,
    ConfigurationError,
    ContactSdkError,
    IdempotencyConflictError,
    PermanentProviderError,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderDeferredError,
    ProviderError,
    ProviderQuotaError,
    ProviderRateLimitedError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
    TransientProviderError,
    error_class_for,
)

#: Every error Resend documents, written out from the issue independently of ``ERROR_TABLE``.
DOCUMENTED: dict[tuple[int, str], type[ProviderError]] = {
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

#: The only documented errors worth retrying (issue 2, "Retry policy").
RETRIED = {(429, "rate_limit_exceeded"), (409, "concurrent_idempotent_requests")}


def test_table_covers_exactly_the_documented_errors() -> None:
    """``ERROR_TABLE`` has one row per documented (status, name), no more and no fewer."""
    assert set(ERROR_TABLE) == set(DOCUMENTED)


@pytest.mark.parametrize(("status", "name"), sorted(DOCUMENTED))
def test_every_documented_error_maps_to_its_class(status: int, name: str) -> None:
    """Each documented (status, name) translates to the class the issue assigns it."""
    assert ERROR_TABLE[(status, name)] is DOCUMENTED[(status, name)]
    assert error_class_for(status, name) is DOCUMENTED[(status, name)]


@pytest.mark.parametrize(("status", "name"), sorted(DOCUMENTED))
def test_only_rate_limits_concurrent_requests_and_5xx_are_transient(status: int, name: str) -> None:
    """A documented error is transient exactly when it is 5xx, rate_limit_exceeded or concurrent_idempotent_requests."""
    transient = status >= 500 or (status, name) in RETRIED
    assert issubclass(error_class_for(status, name), TransientProviderError) is transient
    assert issubclass(error_class_for(status, name), PermanentProviderError) is not transient


@pytest.mark.parametrize(
    ("status", "name", "expected"),
    [
        (500, "some_new_error", ProviderServerError),
        (502, None, ProviderServerError),
        (502, "bad_gateway", ProviderServerError),
        (503, None, ProviderServerError),
        (504, "gateway_timeout", ProviderServerError),
        (599, None, ProviderServerError),
        (401, None, ProviderAuthError),
        (401, "brand_new_auth_error", ProviderAuthError),
        (403, None, ProviderAuthError),
        (403, "some_forbidden_thing", ProviderAuthError),
        (429, None, ProviderRateLimitedError),
        (429, "some_new_limit", ProviderRateLimitedError),
        (409, None, IdempotencyConflictError),
        (409, "some_conflict", IdempotencyConflictError),
        (400, None, ProviderRequestError),
        (400, "unknown", ProviderRequestError),
        (404, None, ProviderRequestError),
        (405, None, ProviderRequestError),
        (413, None, ProviderRequestError),
        (418, "teapot", ProviderRequestError),
        (422, "brand_new_validation", ProviderRequestError),
        (451, "security_error", ProviderRequestError),
    ],
)
def test_unknown_names_fall_back_by_status_class(status: int, name: str | None, expected: type[ProviderError]) -> None:
    """An undocumented or missing name falls back to the class of its HTTP status."""
    assert error_class_for(status, name) is expected


def test_a_documented_name_under_another_status_falls_back_by_status() -> None:
    """The table is keyed on (status, name): a quota name under a 5xx status is still a server error."""
    assert error_class_for(500, "daily_quota_exceeded") is ProviderServerError
    assert error_class_for(400, "missing_api_key") is ProviderRequestError


@pytest.mark.parametrize(
    "cls",
    [
        ProviderTimeoutError,
        ProviderConnectionError,
        ProviderServerError,
        ProviderRateLimitedError,
        ConcurrentIdempotentRequestError,
    ],
)
def test_transient_errors_are_one_isinstance(cls: type[ProviderError]) -> None:
    """Every retryable error is a TransientProviderError and never a PermanentProviderError."""
    error = cls("x")
    assert isinstance(error, TransientProviderError)
    assert not isinstance(error, PermanentProviderError)


@pytest.mark.parametrize("cls", [ProviderAuthError, ProviderQuotaError, ProviderRequestError, IdempotencyConflictError])
def test_permanent_errors_are_one_isinstance(cls: type[ProviderError]) -> None:
    """Every non-retryable provider answer is a PermanentProviderError and never transient."""
    error = cls("x")
    assert isinstance(error, PermanentProviderError)
    assert not isinstance(error, TransientProviderError)


@pytest.mark.parametrize("cls", [CircuitOpenError, ProviderDeferredError])
def test_breaker_and_deadline_refusals_are_neither_transient_nor_permanent(cls: type[ProviderError]) -> None:
    """An open breaker and a deadline stop are their own kinds of ProviderError, so they are never retried."""
    error = cls("x")
    assert isinstance(error, ProviderError)
    assert not isinstance(error, TransientProviderError | PermanentProviderError)


def test_every_error_descends_from_contact_sdk_error() -> None:
    """One except clause, ``except ContactSdkError``, catches everything the SDK raises on purpose."""
    assert issubclass(ConfigUnavailableError, ConfigurationError)
    assert issubclass(ConfigurationError, ContactSdkError)
    assert issubclass(ProviderError, ContactSdkError)
    assert not issubclass(ConfigurationError, ProviderError)


@pytest.mark.parametrize(
    ("cls", "counts"),
    [
        (ProviderTimeoutError, True),
        (ProviderConnectionError, True),
        (ProviderServerError, True),
        (ProviderRateLimitedError, True),
        (ConcurrentIdempotentRequestError, False),
        (ProviderAuthError, True),
        (ProviderQuotaError, True),
        (ProviderRequestError, False),
        (IdempotencyConflictError, False),
        (CircuitOpenError, False),
        (ProviderDeferredError, False),
    ],
)
def test_which_errors_count_against_the_provider(cls: type[ProviderError], counts: bool) -> None:
    """Outages, auth and quota failures feed the breaker; validation, conflicts and our own refusals do not."""
    assert cls("x").counts_against_provider is counts


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (ProviderServerError("x"), True),
        (ProviderTimeoutError("x"), True),
        (ProviderRateLimitedError("x"), True),
        (CircuitOpenError("x"), True),
        (ProviderDeferredError("x"), True),
        (ProviderQuotaError("x"), True),
        (ProviderAuthError("x"), False),
        (ProviderRequestError("x"), False),
        (IdempotencyConflictError("x"), False),
    ],
)
def test_provider_unavailable_means_keep_for_later(error: ProviderError, unavailable: bool) -> None:
    """PROVIDER_UNAVAILABLE matches transient errors, an open breaker, the deadline and quota, nothing else."""
    assert isinstance(error, PROVIDER_UNAVAILABLE) is unavailable


def test_provider_error_keeps_the_resend_fields() -> None:
    """A ProviderError carries the status, Resend name, message and retry hint it was built with."""
    error = ProviderRateLimitedError("Too many requests", status=429, name="rate_limit_exceeded", retry_after=7.0)
    assert (error.message, error.status, error.name, error.retry_after) == (
        "Too many requests",
        429,
        "rate_limit_exceeded",
        7.0,
    )


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            ProviderServerError("boom", status=500, name="internal_server_error"),
            "boom (status=500, name=internal_server_error)",
        ),
        (ProviderServerError("boom", status=502), "boom (status=502)"),
        (ProviderTimeoutError("no answer"), "no answer"),
    ],
)
def test_str_shows_status_and_name_only_when_known(error: ProviderError, text: str) -> None:
    """``str(error)`` is the message plus whichever of status and name are known."""
    assert str(error) == text


def test_the_message_is_the_errors_argument_so_repr_and_a_copy_keep_it() -> None:
    """``repr`` (what a debugger or a task queue shows) names the message, and a pickled copy (an error crossing a
    process boundary) reads the same."""
    error = ProviderServerError("Resend answered 502", status=502, name="bad_gateway", retry_after=3.0)
    assert error.args == ("Resend answered 502",)
    assert repr(error) == "ProviderServerError('Resend answered 502')"
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, made one line above
    assert (type(copy), str(copy), copy.retry_after) == (
        ProviderServerError,
        "Resend answered 502 (status=502, name=bad_gateway)",
        3.0,
    )
