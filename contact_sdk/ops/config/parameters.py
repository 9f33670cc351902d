"""Operator tooling for the service's SecureString parameters in SSM Parameter Store.

CloudFormation cannot create ``SecureString`` parameters, so the CDK app only *names* them (and
grants the functions ``ssm:GetParameter`` on exactly those names); an operator writes the values
with this module, through ``contact-sdk config ...`` (:mod:`contact_sdk.ops.config.command`).

Three parameters, all encrypted with the stack's customer-managed KMS key:

* the Resend config, a JSON document (contract section 9)::

      {"apiKey": "re_...", "domain": "example.com", "fromEmail": "no-reply@example.com",
       "toEmail": "owner@example.com", "version": 1, "rotatedAt": "2024-12-23T10:00:00Z"}

* the CSRF signing secret, random bytes generated here (:func:`generate_secret`);
* the Resend webhook signing secret (``whsec_...``), copied from the Resend dashboard.

Nothing is written before it validates, and nothing a function here returns or raises carries a
secret in clear: :func:`mask_secret` is applied to everything meant for a terminal.

Example::

    ssm = boto3.client("ssm")
    document = parse_resend_config(Path("resend.json").read_text())
    version = put_resend_config(ssm, "/portfolio/prod/resend/api-key", document,
                                kms_key_id="alias/prod-portfolio-parameters")
    rotate_resend_config(ssm, "/portfolio/prod/resend/api-key", new_api_key="re_new...")
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator, model_validator

from contact_sdk.addresses import InvalidAddressError, normalize_address
from contact_sdk.config import ResendConfig, sender_is_at
from contact_sdk.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

__all__ = [
    "MIN_SECRET_BYTES",
    "PUBLIC_FIELDS",
    "ResendConfigDocument",
    "StoredParameter",
    "generate_secret",
    "mask_document",
    "mask_secret",
    "parse_resend_config",
    "put_resend_config",
    "put_secret",
    "read_parameter",
    "rotate_resend_config",
    "validate_webhook_secret",
]

#: Shortest secret :func:`put_secret` accepts for signing keys: 256 bits, HMAC-SHA256's block of security.
MIN_SECRET_BYTES = 32

_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_SECRET_PREFIXES = ("re_", "whsec_")


def _format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResendConfigDocument(BaseModel):
    """The Resend config parameter's JSON, validated. Field names in JSON are the contract's camelCase."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_key: str = Field(alias="apiKey", min_length=8, max_length=256)
    domain: str = Field(max_length=253)
    from_email: str = Field(alias="fromEmail", max_length=254)
    to_email: str = Field(alias="toEmail", max_length=254)
    version: StrictInt = Field(ge=1)
    rotated_at: datetime = Field(alias="rotatedAt")

    @field_validator("api_key")
    @classmethod
    def _check_api_key(cls, value: str) -> str:
        if not value.startswith("re_"):
            raise ValueError("must be a Resend API key (starts with 're_')")
        if any(ch.isspace() for ch in value):
            raise ValueError("must not contain whitespace")
        return value

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        if not _HOSTNAME.fullmatch(value):
            raise ValueError("must be a lower-case domain name such as 'example.com'")
        return value

    @field_validator("from_email", "to_email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        try:
            return normalize_address(value)
        except InvalidAddressError as exc:
            raise ValueError(f"must be a plain email address such as 'name@example.com' ({exc})") from None

    @field_validator("rotated_at", mode="before")
    @classmethod
    def _check_rotated_at(cls, value: object) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError("must be an ISO-8601 timestamp such as '2024-12-23T10:00:00Z'") from None
        else:
            raise ValueError("must be an ISO-8601 timestamp string")
        if moment.tzinfo is None:
            raise ValueError("must carry a time zone, e.g. a trailing 'Z'")
        return moment.astimezone(UTC)

    @model_validator(mode="after")
    def _check_sender_domain(self) -> ResendConfigDocument:
        if not sender_is_at(self.from_email, self.domain):
            raise ValueError("fromEmail must be an address at 'domain' (Resend only sends from a verified domain)")
        return self

    def to_json_object(self) -> dict[str, Any]:
        """The document as the contract's JSON object (camelCase keys, ``rotatedAt`` in UTC with ``Z``)."""
        return {
            "apiKey": self.api_key,
            "domain": self.domain,
            "fromEmail": self.from_email,
            "toEmail": self.to_email,
            "version": self.version,
            "rotatedAt": _format_timestamp(self.rotated_at),
        }

    def to_json(self) -> str:
        """Compact JSON, the exact string stored in Parameter Store."""
        return json.dumps(self.to_json_object(), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class StoredParameter:
    """One parameter as read back from Parameter Store (``value`` is decrypted: never print it)."""

    name: str
    value: str
    version: int
    type: str
    last_modified: datetime | None
    key_id: str | None


def parse_resend_config(raw: str | Mapping[str, Any]) -> ResendConfigDocument:
    """Validate a Resend config document (JSON text or an already-parsed object).

    Raises :class:`ConfigurationError` listing every problem by field name; no value is ever quoted,
    so the message is safe to print even when the document holds a real API key.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"Resend config is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            ) from None
    if not isinstance(raw, Mapping):
        raise ConfigurationError("Resend config must be a JSON object")
    try:
        return ResendConfigDocument.model_validate(dict(raw))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False, include_context=False):
            where = ".".join(str(part) for part in error["loc"]) or "document"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise ConfigurationError("Resend config is invalid: " + "; ".join(problems)) from None


def mask_secret(value: str) -> str:
    """A secret as it may appear on a terminal: known prefix, "...", the last four characters.

    Secrets shorter than 16 characters show nothing but their length class: ``'****'``.

    >>> mask_secret("re_123456789abcdefgh")
    're_...efgh'
    """
    if len(value) < 16:
        return "****"
    prefix = next((p for p in _SECRET_PREFIXES if value.startswith(p)), "")
    return f"{prefix}...{value[-4:]}"


#: Fields of the Resend config document that are not secret: shown as they are. Every other value is masked.
PUBLIC_FIELDS = frozenset({"domain", "fromEmail", "toEmail", "version", "rotatedAt"})


def mask_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a parameter's JSON object with every value masked except the Resend config's public fields.

    Masking is the default: ``apiKey``, the CSRF secret's ``current`` and ``previous`` (a string or a list), and
    any field this tool does not know are all masked, so a document of another shape never shows a secret.

    >>> mask_document({"current": "a" * 40, "previous": ["b" * 40], "domain": "example.com"})
    {'current': '...aaaa', 'previous': ['...bbbb'], 'domain': 'example.com'}
    """
    return {
        key: value if key in PUBLIC_FIELDS and _plain(value) else _mask_value(value) for key, value in document.items()
    }


def _plain(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def _mask_value(value: object) -> object:
    if isinstance(value, str):
        return mask_secret(value)
    if isinstance(value, list):
        return [_mask_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _mask_value(item) for key, item in value.items()}
    return "****"


def generate_secret(nbytes: int = 48, *, token: Callable[[int], str] = secrets.token_urlsafe) -> str:
    """A new random signing secret: ``nbytes`` random bytes, URL-safe base64 (64 characters by default)."""
    if nbytes < MIN_SECRET_BYTES:
        raise ValueError(f"a signing secret needs at least {MIN_SECRET_BYTES} random bytes")
    return token(nbytes)


def validate_webhook_secret(value: str) -> str:
    """Check a Resend (Svix) webhook signing secret: ``whsec_`` followed by base64. Returns it stripped."""
    value = value.strip()
    if not value.startswith("whsec_"):
        raise ConfigurationError("the webhook signing secret must start with 'whsec_' (copy it from Resend)")
    try:
        decoded = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("the webhook signing secret is not base64 after 'whsec_'") from None
    if len(decoded) < 16:
        raise ConfigurationError("the webhook signing secret is too short")
    return value


def _translate(exc: ClientError, name: str) -> ConfigurationError:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ParameterNotFound":
        return ConfigurationError(f"parameter {name} does not exist")
    if code == "ParameterAlreadyExists":
        return ConfigurationError(f"parameter {name} already exists: pass --overwrite (or use rotate)")
    return ConfigurationError(f"Parameter Store refused {name}: {code or 'unknown error'}")


def put_secret(
    ssm: SSMClient,
    name: str,
    value: str,
    *,
    kms_key_id: str,
    overwrite: bool = False,
    description: str = "",
) -> int:
    """Write ``value`` as a Standard-tier SecureString encrypted with ``kms_key_id``; returns the new version."""
    if not kms_key_id:
        raise ConfigurationError("a KMS key id (key id, key ARN or alias/...) is required for a SecureString")
    try:
        response = ssm.put_parameter(
            Name=name,
            Value=value,
            Type="SecureString",
            KeyId=kms_key_id,
            Overwrite=overwrite,
            Tier="Standard",
            Description=description,
        )
    except ClientError as exc:
        raise _translate(exc, name) from exc
    return int(response["Version"])


def put_resend_config(
    ssm: SSMClient,
    name: str,
    document: ResendConfigDocument,
    *,
    kms_key_id: str,
    overwrite: bool = False,
) -> int:
    """Write a validated Resend config document; returns the parameter's new version.

    The document is also run through the service's own reader (:meth:`ResendConfig.parse`), so
    nothing is stored that the function would refuse at runtime.
    """
    ResendConfig.parse(name, document.to_json())
    return put_secret(
        ssm,
        name,
        document.to_json(),
        kms_key_id=kms_key_id,
        overwrite=overwrite,
        description="Resend API configuration for the contact form (JSON)",
    )


def read_parameter(ssm: SSMClient, name: str) -> StoredParameter:
    """Read one parameter, decrypted, with the KMS key that encrypts it (from ``DescribeParameters``)."""
    try:
        parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
        described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    except ClientError as exc:
        raise _translate(exc, name) from exc
    key_id = described[0].get("KeyId") if described else None
    return StoredParameter(
        name=name,
        value=parameter.get("Value", ""),
        version=int(parameter.get("Version", 0)),
        type=parameter.get("Type", ""),
        last_modified=parameter.get("LastModifiedDate"),
        key_id=key_id,
    )


def rotate_resend_config(
    ssm: SSMClient,
    name: str,
    *,
    new_api_key: str,
    kms_key_id: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ResendConfigDocument:
    """Replace the API key in the stored document, bump ``version`` and stamp ``rotatedAt``.

    The current document must be valid (fix it with ``put`` first). ``kms_key_id`` defaults to the key
    that encrypts the parameter now. Returns the document written.
    """
    stored = read_parameter(ssm, name)
    current = parse_resend_config(stored.value)
    if secrets.compare_digest(current.api_key.encode(), new_api_key.encode()):
        raise ConfigurationError("the new API key is the one already stored: nothing to rotate")
    rotated = parse_resend_config(
        {
            **current.to_json_object(),
            "apiKey": new_api_key,
            "version": current.version + 1,
            "rotatedAt": _format_timestamp(clock()),
        }
    )
    key = kms_key_id or stored.key_id
    if not key:
        raise ConfigurationError(f"cannot tell which KMS key encrypts {name}: pass --kms-key-id")
    put_resend_config(ssm, name, rotated, kms_key_id=key, overwrite=True)
    return rotated
