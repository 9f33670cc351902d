"""The sandbox checks addresses with the service's own rule (fast tier: pure functions, no server)."""

from __future__ import annotations

import pytest

from contact_sdk.devtools.sandbox.errors import ApiError
from contact_sdk.devtools.sandbox.validation import bare_address, validate_email


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("a@example.com", "a@example.com"),
        (" a@example.com ", "a@example.com"),
        ("Site <noreply@example.com>", "noreply@example.com"),
        ("delivered@resend.dev", "delivered@resend.dev"),
    ],
)
def test_plain_and_named_addresses(value: str, address: str) -> None:
    assert bare_address(value) == address


@pytest.mark.parametrize(
    "value",
    [
        "a@example.com\n",  # the $ in the old pattern let this through
        "x\n@example.com",
        "Site\r\nBcc: eve@example.org <noreply@example.com>",  # a line break in the display name
        "a@example",  # no dot in the domain
        "a..b@example.com",
        "a@example.test",  # special-use
        "a@b@example.com",
        "",
    ],
)
def test_what_the_service_would_refuse_the_sandbox_refuses(value: str) -> None:
    assert bare_address(value) is None


def test_a_bad_sender_is_resends_invalid_from_address() -> None:
    with pytest.raises(ApiError) as error:
        validate_email({"from": "noreply@example.com\n", "to": "a@example.com", "subject": "Hi"})
    assert (error.value.status, error.value.name) == (422, "invalid_from_address")


def test_a_bad_reply_to_is_a_validation_error() -> None:
    with pytest.raises(ApiError) as error:
        validate_email(
            {"from": "noreply@example.com", "to": "a@example.com", "subject": "Hi", "reply_to": ["x\n@example.com"]}
        )
    assert (error.value.status, error.value.name) == (422, "validation_error")
