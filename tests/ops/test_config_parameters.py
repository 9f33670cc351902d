"""contact_sdk.ops.config.parameters: validation, masking and the SecureString round trip against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from contact_sdk.config import ResendConfig
from contact_sdk.errors import ConfigurationError
from contact_sdk.ops.config import parameters
from tests.conftest import aws_client

NAME = "/portfolio/test/resend/api-key"
API_KEY = "re_live_0123456789abcdefWXYZ"
DOCUMENT: dict[str, Any] = {
    "apiKey": API_KEY,
    "domain": "example.com",
    "fromEmail": "no-reply@example.com",
    "toEmail": "owner@example.org",
    "version": 1,
    "rotatedAt": "2024-12-23T10:00:00Z",
}


@pytest.fixture
def ssm_and_key(aws: str) -> tuple[Any, str]:
    """An SSM client and a fresh KMS key id in the emulator."""
    key_id = aws_client(aws, "kms").create_key(Description="parameters")["KeyMetadata"]["KeyId"]
    return aws_client(aws, "ssm"), key_id


def test_a_valid_document_round_trips_to_the_contract_json() -> None:
    """Parsing and serializing gives back the contract's camelCase object, rotatedAt in UTC with Z."""
    document = parameters.parse_resend_config(json.dumps({**DOCUMENT, "rotatedAt": "2024-12-23T12:00:00+02:00"}))
    assert document.to_json_object() == DOCUMENT
    assert ResendConfig.parse(NAME, document.to_json()).api_key == API_KEY


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"apiKey": "sk_live_0123456789"}, "apiKey"),
        ({"apiKey": "re_has space inside"}, "apiKey"),
        ({"domain": "Example..com"}, "domain"),
        ({"fromEmail": "no-reply@other.com"}, "fromEmail must be an address at 'domain'"),
        ({"toEmail": "not an address"}, "toEmail"),
        # The one address rule: the old pattern ended in $, which let a trailing newline through.
        ({"toEmail": "owner@example.org\n"}, "toEmail"),
        ({"toEmail": "Owner <owner@example.org>"}, "toEmail"),
        ({"fromEmail": "no-reply\n@example.com"}, "fromEmail"),
        ({"domain": "example.com\n"}, "must be a lower-case domain name"),
        ({"version": 0}, "version"),
        ({"version": "2"}, "version"),
        ({"rotatedAt": "2024-12-23T10:00:00"}, "rotatedAt"),
        ({"rotatedAt": "yesterday"}, "rotatedAt"),
        ({"fromEmial": "typo@example.com"}, "fromEmial"),
    ],
)
def test_invalid_documents_are_refused_by_field_without_quoting_values(change: dict[str, Any], field: str) -> None:
    """Every problem names its field; the API key never appears in the message."""
    with pytest.raises(ConfigurationError) as caught:
        parameters.parse_resend_config({**DOCUMENT, **change})
    assert field in str(caught.value)
    assert API_KEY not in str(caught.value)


def test_addresses_are_stored_normalised() -> None:
    """The CLI writes what the Lambda will read: domain lower-cased, an IDN domain in ASCII."""
    document = parameters.parse_resend_config(
        {**DOCUMENT, "fromEmail": "no-reply@EXAMPLE.com", "toEmail": "me@b\u00fccher.de"}
    )
    assert (document.from_email, document.to_email) == ("no-reply@example.com", "me@xn--bcher-kva.de")


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'])
def test_non_objects_are_refused(raw: str) -> None:
    """Malformed JSON and non-object JSON are configuration errors."""
    with pytest.raises(ConfigurationError):
        parameters.parse_resend_config(raw)


def test_missing_fields_are_all_listed() -> None:
    """A document missing fields lists each of them."""
    with pytest.raises(ConfigurationError) as caught:
        parameters.parse_resend_config({"apiKey": API_KEY})
    for field in ("domain", "fromEmail", "toEmail", "version", "rotatedAt"):
        assert field in str(caught.value)


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        (API_KEY, "re_...WXYZ"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_...LaSw"),
        ("short", "****"),
        ("", "****"),
    ],
)
def test_secrets_are_masked(secret: str, masked: str) -> None:
    """Masks keep a known prefix and the last four characters, and hide short secrets entirely."""
    assert parameters.mask_secret(secret) == masked


def test_mask_document_hides_only_the_api_key_of_a_resend_config() -> None:
    """The sender settings stay readable; apiKey is masked."""
    masked = parameters.mask_document(DOCUMENT)
    assert masked == {**DOCUMENT, "apiKey": "re_...WXYZ"}


def test_mask_document_hides_both_csrf_secrets_and_anything_unknown() -> None:
    """A rotated CSRF secret's current and previous (one or a list) are masked, and so is a field nobody knows."""
    current, previous, older = "c" * 40 + "1234", "p" * 40 + "5678", "o" * 40 + "9012"
    masked = parameters.mask_document({"current": current, "previous": [previous, older], "token": {"x": "y" * 30}})
    assert masked == {"current": "...1234", "previous": ["...5678", "...9012"], "token": {"x": "...yyyy"}}
    assert parameters.mask_document({"current": current, "previous": previous})["previous"] == "...5678"
    assert parameters.mask_document({"domain": ["not", "plain"], "version": True}) == {
        "domain": ["****", "****"],
        "version": "****",
    }


def test_generated_secrets_are_long_and_random() -> None:
    """A CSRF secret is 48 random bytes (64 URL-safe characters) and never repeats; under 32 bytes is refused."""
    first, second = parameters.generate_secret(), parameters.generate_secret()
    assert len(first) == 64
    assert first != second
    with pytest.raises(ValueError, match="at least 32"):
        parameters.generate_secret(16)


@pytest.mark.parametrize("value", ["whsec_", "secret_abc", "whsec_!!!notbase64", "whsec_c2hvcnQ="])
def test_webhook_secrets_must_look_like_resend_ones(value: str) -> None:
    """A webhook secret is whsec_ followed by base64 of at least 16 bytes."""
    with pytest.raises(ConfigurationError):
        parameters.validate_webhook_secret(value)


@pytest.mark.integration
def test_put_writes_an_encrypted_parameter_with_the_key(ssm_and_key: tuple[Any, str]) -> None:
    """put stores a SecureString encrypted with the given key; reading it back decrypts the same document."""
    ssm, key_id = ssm_and_key
    document = parameters.parse_resend_config(DOCUMENT)
    assert parameters.put_resend_config(ssm, NAME, document, kms_key_id=key_id) == 1
    stored = parameters.read_parameter(ssm, NAME)
    assert stored.type == "SecureString"
    assert stored.key_id is not None
    assert key_id in stored.key_id
    assert json.loads(stored.value) == DOCUMENT
    raw = ssm.get_parameter(Name=NAME, WithDecryption=False)["Parameter"]["Value"]
    assert raw != stored.value, "read without decryption, a SecureString is not the plain text"


@pytest.mark.integration
def test_put_does_not_overwrite_unless_asked(ssm_and_key: tuple[Any, str]) -> None:
    """A second put without overwrite fails with a hint; with overwrite it bumps the parameter version."""
    ssm, key_id = ssm_and_key
    document = parameters.parse_resend_config(DOCUMENT)
    parameters.put_resend_config(ssm, NAME, document, kms_key_id=key_id)
    with pytest.raises(ConfigurationError, match="already exists"):
        parameters.put_resend_config(ssm, NAME, document, kms_key_id=key_id)
    assert parameters.put_resend_config(ssm, NAME, document, kms_key_id=key_id, overwrite=True) == 2


@pytest.mark.integration
def test_rotate_replaces_the_key_and_records_version_and_time(ssm_and_key: tuple[Any, str]) -> None:
    """rotate swaps apiKey, bumps version and stamps rotatedAt from the injected clock, with the same KMS key."""
    ssm, key_id = ssm_and_key
    parameters.put_resend_config(ssm, NAME, parameters.parse_resend_config(DOCUMENT), kms_key_id=key_id)
    moment = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
    rotated = parameters.rotate_resend_config(ssm, NAME, new_api_key="re_next_key_0000000001", clock=lambda: moment)
    stored = parameters.read_parameter(ssm, NAME)
    assert json.loads(stored.value) == {
        **DOCUMENT,
        "apiKey": "re_next_key_0000000001",
        "version": 2,
        "rotatedAt": "2025-03-01T08:30:00Z",
    }
    assert rotated.version == 2
    assert stored.key_id is not None
    assert key_id in stored.key_id


@pytest.mark.integration
def test_rotate_refuses_the_same_key_and_a_missing_parameter(ssm_and_key: tuple[Any, str]) -> None:
    """Rotating to the stored key, or a parameter that does not exist, is an error and writes nothing."""
    ssm, key_id = ssm_and_key
    with pytest.raises(ConfigurationError, match="does not exist"):
        parameters.rotate_resend_config(ssm, NAME, new_api_key="re_next_key_0000000001")
    parameters.put_resend_config(ssm, NAME, parameters.parse_resend_config(DOCUMENT), kms_key_id=key_id)
    with pytest.raises(ConfigurationError, match="already stored"):
        parameters.rotate_resend_config(ssm, NAME, new_api_key=API_KEY)
    assert parameters.read_parameter(ssm, NAME).version == 1


@pytest.mark.integration
def test_put_secret_stores_a_secure_string(ssm_and_key: tuple[Any, str]) -> None:
    """A generated CSRF secret is stored encrypted and is long enough for the service's reader."""
    ssm, key_id = ssm_and_key
    secret = parameters.generate_secret()
    parameters.put_secret(ssm, "/portfolio/test/contact/csrf-secret", secret, kms_key_id=key_id)
    stored = parameters.read_parameter(ssm, "/portfolio/test/contact/csrf-secret")
    assert (stored.type, stored.value) == ("SecureString", secret)


def test_put_secret_needs_a_key() -> None:
    """Without a KMS key id nothing is written (the client is never called)."""
    with pytest.raises(ConfigurationError, match="KMS key"):
        parameters.put_secret(None, "/x", "value", kms_key_id="")  # type: ignore[arg-type]
