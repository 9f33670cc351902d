"""Secrets and sender settings from SSM Parameter Store, behind a TTL cache.

Two SecureString parameters (KMS-encrypted, read with decryption):

* the Resend config, JSON ``{"apiKey", "domain", "fromEmail", "toEmail", "version", "rotatedAt"}``;
* the CSRF signing secret, a plain string of at least 32 characters.

Why not Powertools' Parameters utility: its cache reads ``datetime.now()`` (no injectable clock,
so the 1-hour TTL cannot be tested without waiting or patching), it has no hook that fires on
a real fetch only (``ParameterAccess`` must not count cache hits), and it drops the cached value
when a refresh fails, where we must keep serving it. The cache below does exactly those three
things, plus a fourth: a parameter can bring others along (``read_with``: the CSRF secret brings
the config), read in one ``GetParameters`` call, so the API's cold start asks Parameter Store once.

Example::

    cache = ParameterCache(SsmParameterSource(), ttl_seconds=3600, on_fetch=count_access,
                           read_with={"/portfolio/prod/contact/csrf-secret": ["/portfolio/prod/resend/api-key"]})
    config = ServiceConfig(cache, config_parameter="/portfolio/prod/resend/api-key",
                           csrf_secret_parameter="/portfolio/prod/contact/csrf-secret")
    config.resend().api_key
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from contact_sdk.addresses import InvalidAddressError, normalize_address
from contact_sdk.errors import ConfigUnavailableError, ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

__all__ = [
    "BatchParameterSource",
    "ParameterCache",
    "ParameterReadRefusedError",
    "ParameterSource",
    "ResendConfig",
    "ServiceConfig",
    "SsmParameterSource",
    "parse_csrf_secret",
    "sender_is_at",
]

logger = logging.getLogger(__name__)

MIN_CSRF_SECRET_LENGTH = 32


#: ``GetParameters`` takes at most this many names per call.
MAX_NAMES_PER_READ = 10


class ParameterReadRefusedError(ConfigUnavailableError):
    """Parameter Store answered and refused the read (access denied, a KMS key it may not use, throttling).

    Unlike an unreachable store, a refusal of a batch may concern one name only, so the cache then asks for
    the parameter it needs on its own.
    """


class ParameterSource(Protocol):
    """Where parameter values come from (decrypted)."""

    def fetch(self, name: str) -> str:
        """Return the decrypted value of ``name``; raise :class:`ConfigurationError` when it cannot."""


@runtime_checkable
class BatchParameterSource(ParameterSource, Protocol):
    """A source that can also read several parameters in one call."""

    def fetch_many(self, names: Sequence[str]) -> dict[str, str]:
        """The decrypted values of those of ``names`` that exist (a missing one is left out).

        Raises :class:`ConfigurationError` (:class:`ParameterReadRefusedError` for a refusal) when the read fails.
        """


class SsmParameterSource:
    """SSM Parameter Store with decryption: ``GetParameter`` for one name, ``GetParameters`` for several.

    Needs ``ssm:GetParameter``, ``ssm:GetParameters`` and ``kms:Decrypt``.

    The boto3 client is created on first use (none at import or construction), honouring
    ``AWS_ENDPOINT_URL`` for a local emulator.
    """

    def __init__(
        self, client: SSMClient | None = None, *, client_factory: Callable[[], SSMClient] | None = None
    ) -> None:
        self._client = client
        self._factory = client_factory
        self._lock = threading.Lock()

    def _ssm(self) -> SSMClient:
        with self._lock:
            if self._client is None:
                if self._factory is not None:
                    self._client = self._factory()
                else:
                    import boto3  # noqa: PLC0415 - deferred: not every cold path needs Parameter Store

                    self._client = boto3.client("ssm")
            return self._client

    def reset_client(self) -> None:
        """Forget the client so the next fetch opens fresh connections (SnapStart restore)."""
        with self._lock:
            self._client = None

    def fetch(self, name: str) -> str:
        """Read one SecureString, decrypted."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        try:
            response = self._ssm().get_parameter(Name=name, WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code == "ParameterNotFound":
                raise ConfigurationError(f"parameter {name}: not found in Parameter Store") from None
            raise ParameterReadRefusedError(f"parameter {name}: Parameter Store refused the read ({code})") from None
        except BotoCoreError as exc:
            raise ConfigUnavailableError(
                f"parameter {name}: Parameter Store unreachable ({type(exc).__name__})"
            ) from None
        return response["Parameter"]["Value"]

    def fetch_many(self, names: Sequence[str]) -> dict[str, str]:
        """Read up to :data:`MAX_NAMES_PER_READ` SecureStrings, decrypted, in one ``GetParameters`` call."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        wanted = list(dict.fromkeys(names))
        if not 1 <= len(wanted) <= MAX_NAMES_PER_READ:
            raise ValueError(f"fetch_many reads 1 to {MAX_NAMES_PER_READ} names, got {len(wanted)}")
        label = ", ".join(wanted)
        try:
            response = self._ssm().get_parameters(Names=wanted, WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise ParameterReadRefusedError(f"parameters {label}: Parameter Store refused the read ({code})") from None
        except BotoCoreError as exc:
            raise ConfigUnavailableError(
                f"parameters {label}: Parameter Store unreachable ({type(exc).__name__})"
            ) from None
        found = {}
        for parameter in response.get("Parameters", []):
            name, value = parameter.get("Name"), parameter.get("Value")
            if name in wanted and isinstance(value, str):
                found[name] = value
        return found


@dataclass(slots=True)
class _Entry:
    value: str
    fetched_at: float
    #: After a failed refresh, the stale value is served without asking again until this time.
    retry_at: float = 0.0


class ParameterCache:
    """A TTL cache over a :class:`ParameterSource` that serves a stale value when a refresh fails.

    ``on_fetch(name)`` is called for every real fetch attempt (never for a cache hit): the
    service counts ``ParameterAccess`` with it. Thread-safe; concurrent misses fetch once.

    After a failed refresh the stale value is served for ``stale_retry_seconds`` before Parameter
    Store is asked again: during an outage or throttling, every request would otherwise pay for
    another doomed call (seconds each when the endpoint times out) and add to the throttling.

    ``read_with`` maps a parameter to others read in the same call when the source can
    (:class:`BatchParameterSource`): a miss on it also fetches those of them that are due (never
    cached, or past the TTL and not in a pause). The API reads the CSRF secret first (a token, or a
    token's check), so ``{csrf: (config,)}`` reads both with one ``GetParameters`` on a cold start and
    at the refresh an hour later, while the outbox consumer, which reads only the config, never asks
    for a secret it has no use for (or grant to). ``on_fetch`` still fires once per parameter read. A
    parameter the batch did not return (missing, or named in a way the answer spells differently) or a
    refused batch is read on its own; a forced read is always on its own.
    """

    def __init__(
        self,
        source: ParameterSource,
        *,
        ttl_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        on_fetch: Callable[[str], None] | None = None,
        stale_retry_seconds: float = 60.0,
        read_with: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._source = source
        self.ttl_seconds = ttl_seconds
        self.stale_retry_seconds = stale_retry_seconds
        self._clock = clock
        self._on_fetch = on_fetch
        self._batch = source if isinstance(source, BatchParameterSource) else None
        self._read_with = {
            name: tuple(other for other in dict.fromkeys(others) if other != name)[: MAX_NAMES_PER_READ - 1]
            for name, others in (read_with or {}).items()
        }
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, name: str, *, force: bool = False) -> str:
        """The value of ``name``: cached if younger than the TTL, else fetched.

        When the fetch fails and an older value exists, that value is served and a warning
        logged. With nothing cached, the error propagates (:class:`ConfigurationError`).
        """
        with self._lock:
            entry = self._entries.get(name)
            now = self._clock()
            if entry is not None and not force and self._usable(entry, now):
                return entry.value
            companions = [] if force else self._due_companions(name, now)
            try:
                value = self._read(name, companions)
            except ConfigurationError as exc:
                if entry is None:
                    raise
                self._serve_stale(name, entry, exc)
                return entry.value
            self._entries[name] = _Entry(value, self._clock())
            return value

    def _usable(self, entry: _Entry, now: float) -> bool:
        return now - entry.fetched_at < self.ttl_seconds or now < entry.retry_at

    def _due_companions(self, name: str, now: float) -> list[str]:
        """The parameters ``read_with`` ``name`` that are worth reading in the same call."""
        if self._batch is None:
            return []
        due = []
        for other in self._read_with.get(name, ()):
            entry = self._entries.get(other)
            if entry is None or not self._usable(entry, now):
                due.append(other)
        return due

    def _read(self, name: str, companions: list[str]) -> str:
        """``name``'s value, read with ``companions`` in one call when there are any (the lock is held)."""
        if companions and self._batch is not None:
            names = [name, *companions]
            for each in names:
                self._count(each)
            try:
                values = self._batch.fetch_many(names)
            except ParameterReadRefusedError:
                values = {}  # perhaps one name's refusal (its key, its policy): ``name`` is asked for alone below
            except ConfigurationError as exc:
                for other in companions:  # unreachable: the cached companions wait out the pause too
                    stale = self._entries.get(other)
                    if stale is not None:
                        self._serve_stale(other, stale, exc)
                raise
            fetched_at = self._clock()
            for other in companions:
                if other in values:
                    self._entries[other] = _Entry(values[other], fetched_at)
            if name in values:
                return values[name]
        self._count(name)
        return self._source.fetch(name)

    def _count(self, name: str) -> None:
        if self._on_fetch is not None:
            self._on_fetch(name)

    def _serve_stale(self, name: str, entry: _Entry, error: ConfigurationError) -> None:
        entry.retry_at = self._clock() + self.stale_retry_seconds
        logger.warning(
            "parameter refresh failed; serving the cached value",
            extra={"parameter": name, "error": str(error), "age_seconds": round(self._clock() - entry.fetched_at)},
        )

    def age(self, name: str) -> float | None:
        """Seconds since ``name`` was fetched, or ``None`` if never."""
        with self._lock:
            entry = self._entries.get(name)
            return None if entry is None else self._clock() - entry.fetched_at

    def expire_older_than(self, seconds: float) -> None:
        """Mark entries older than ``seconds`` for refresh on next use (kept as stale fallbacks)."""
        with self._lock:
            now = self._clock()
            for entry in self._entries.values():
                if now - entry.fetched_at >= seconds:
                    entry.fetched_at = now - self.ttl_seconds
                    entry.retry_at = 0.0


_REQUIRED_FIELDS: dict[str, tuple[type, ...]] = {
    "apiKey": (str,),
    "domain": (str,),
    "fromEmail": (str,),
    "toEmail": (str,),
    "version": (int, str),
    "rotatedAt": (str,),
}


def sender_is_at(from_email: str, domain: str) -> bool:
    """Whether ``from_email`` is an address at ``domain`` (letters compared without case).

    Resend sends only from a verified domain, and the config's ``domain`` is the one verified and checked: the
    operator's ``config put`` refuses a sender elsewhere, and a canary's pre-traffic check fails one.
    """
    return from_email.rsplit("@", 1)[-1].lower() == domain.lower()


@dataclass(frozen=True, slots=True)
class ResendConfig:
    """The Resend config parameter, parsed. ``api_key`` never appears in ``repr``."""

    api_key: str = field(repr=False)
    domain: str
    from_email: str
    to_email: str
    version: str
    rotated_at: str

    @classmethod
    def parse(cls, parameter: str, raw: str) -> ResendConfig:
        """Parse and check the JSON value of ``parameter``.

        Errors name the parameter and the field, never a value.
        """
        try:
            data: Any = json.loads(raw)
        except (json.JSONDecodeError, TypeError):
            raise ConfigurationError(f"parameter {parameter}: value is not valid JSON") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"parameter {parameter}: value must be a JSON object")
        missing = [name for name in _REQUIRED_FIELDS if name not in data]
        if missing:
            raise ConfigurationError(f"parameter {parameter}: missing field(s) {', '.join(missing)}")
        for name, types in _REQUIRED_FIELDS.items():
            value = data[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, types)
                or (isinstance(value, str) and not value.strip())
            ):
                raise ConfigurationError(f"parameter {parameter}: field {name} is empty or of the wrong type")
        addresses: dict[str, str] = {}
        for name in ("fromEmail", "toEmail"):
            try:
                addresses[name] = normalize_address(data[name])
            except InvalidAddressError as exc:
                raise ConfigurationError(
                    f"parameter {parameter}: field {name} is not an email address ({exc})"
                ) from None
        return cls(
            api_key=data["apiKey"].strip(),
            domain=data["domain"].strip(),
            from_email=addresses["fromEmail"],
            to_email=addresses["toEmail"],
            version=str(data["version"]),
            rotated_at=data["rotatedAt"],
        )


class ServiceConfig:
    """The two parameters the service reads, parsed, through one :class:`ParameterCache`."""

    def __init__(self, cache: ParameterCache, *, config_parameter: str, csrf_secret_parameter: str) -> None:
        self.cache = cache
        self.config_parameter = config_parameter
        self.csrf_secret_parameter = csrf_secret_parameter
        self._parsed: tuple[str, ResendConfig] | None = None
        self._csrf: tuple[str, tuple[bytes, tuple[bytes, ...]]] | None = None
        self._lock = threading.Lock()

    def resend(self, *, force_refresh: bool = False) -> ResendConfig:
        """The Resend config; ``force_refresh`` re-reads Parameter Store (after a 401/403 from Resend)."""
        raw = self.cache.get(self.config_parameter, force=force_refresh)
        with self._lock:
            if self._parsed is not None and self._parsed[0] == raw:
                return self._parsed[1]
        parsed = ResendConfig.parse(self.config_parameter, raw)
        with self._lock:
            self._parsed = (raw, parsed)
        return parsed

    def csrf_secret(self) -> bytes:
        """The current CSRF signing secret (new tokens are signed with it)."""
        return self.csrf_secrets()[0]

    def csrf_secrets(self) -> tuple[bytes, tuple[bytes, ...]]:
        """The current CSRF secret and the previous one(s), which still verify tokens issued before a rotation.

        The parameter holds either the secret itself or ``{"current": "...", "previous": "..."}``
        (``previous`` may be a list) — what ``contact-sdk config put-csrf-secret --keep-previous``
        writes, so forms already open in a browser keep working for their token's hour.
        """
        raw = self.cache.get(self.csrf_secret_parameter).strip()
        with self._lock:
            if self._csrf is not None and self._csrf[0] == raw:
                return self._csrf[1]
        parsed = parse_csrf_secret(self.csrf_secret_parameter, raw)
        with self._lock:
            self._csrf = (raw, parsed)
        return parsed


def parse_csrf_secret(parameter: str, raw: str) -> tuple[bytes, tuple[bytes, ...]]:
    """Parse the CSRF secret parameter: a plain secret, or ``{"current", "previous"}``. Errors never show a value."""
    current: object = raw
    previous: object = []
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigurationError(f"parameter {parameter}: value starts like JSON but is not valid JSON") from None
        if not isinstance(data, dict) or "current" not in data:
            raise ConfigurationError(f"parameter {parameter}: missing field current")
        unknown = sorted(set(data) - {"current", "previous"})
        if unknown:
            raise ConfigurationError(f"parameter {parameter}: unknown field(s) {', '.join(unknown)}")
        current, previous = data["current"], data.get("previous", [])
    previous_list = previous if isinstance(previous, list) else [previous]
    secrets_: list[bytes] = []
    for field_name, value in [("current", current), *(("previous", item) for item in previous_list)]:
        if not isinstance(value, str) or len(value.strip()) < MIN_CSRF_SECRET_LENGTH:
            raise ConfigurationError(
                f"parameter {parameter}: field {field_name} needs a secret of {MIN_CSRF_SECRET_LENGTH}+ characters"
            )
        secrets_.append(value.strip().encode("utf-8"))
    return secrets_[0], tuple(secrets_[1:])
