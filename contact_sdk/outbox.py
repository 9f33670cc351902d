"""The durable outbox: where an email waits when the provider cannot take it now.

Production uses SQS (``CONTACT_OUTBOX_QUEUE_URL``) with a dead-letter queue after N receives; the
outbox consumer (:mod:`contact_sdk.outbox_consumer`) drains it. A queued message is
**self-contained**: it carries the composed email exactly as it goes to Resend, the idempotency key
of its first attempt, and the record's cycle, so a replay or a redrive sends the byte-identical
request under the same key whatever the configuration says by then (a changed ``fromEmail``, a
``[captcha unverified]`` mark, a new template). An email that must change (an operator fixed the
sender of a parked submission) is recomposed under a new key derived from the old one
(:func:`derived_key`), and the submission's record notes both.

Without a queue configured there is no outbox: the service answers ``503`` with ``Retry-After``
(the client keeps the message and retries) and logs the full submission at ERROR as an operator's
last resort. Nothing is ever dropped silently.

A message kept because the provider named a wait (a ``Retry-After``, the breaker's time to its trial, a
daily quota's reset) is sent with that wait as its SQS delay (:func:`first_try_delay`, at most SQS's 15
minutes), so the consumer's first try does not come before the provider said it could help; a longer wait
is finished by the consumer's hide.

Messages written before the email was carried (``version`` 1: the form's fields) are still read
(:class:`LegacySubmission`); the consumer composes them from the configuration it has.

Example::

    outbox = SqsOutbox(queue_url)
    outbox.enqueue(QueuedEmail(email=email, idempotency_key=key, request_id=rid, queued_at=time.time(),
                               reason="CircuitOpenError", cycle=record.cycle, config_version="3"))
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from contact_sdk.errors import ContactSdkError, ProviderError, ProviderQuotaError
from contact_sdk.resend import OutgoingEmail

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from contact_sdk.models import ContactSubmission

__all__ = [
    "MAX_DELAY_SECONDS",
    "LegacySubmission",
    "Outbox",
    "OutboxUnavailable",
    "QueuedEmail",
    "SqsOutbox",
    "derived_key",
    "first_try_delay",
    "named_wait",
    "read_message",
]

SCHEMA_VERSION = 2
LEGACY_VERSION = 1
_DERIVED = re.compile(r"^(?P<base>.+?)\.r(?P<n>[0-9]{1,3})$")
#: SQS's longest delay for one message (15 minutes).
MAX_DELAY_SECONDS = 900


def named_wait(error: BaseException, *, now: float) -> float:
    """How long ``error`` itself says to wait before the next try can help, in seconds (0 when it names none).

    A provider's ``Retry-After``; the breaker's time to its trial (an open breaker's ``retry_after``);
    for an exhausted daily quota, 30 s past the next 00:00 UTC, when Resend resets it (a shorter
    ``Retry-After`` on the same ``429`` is the per-second window's, not the quota's; a longer one, a
    rolling window, is honoured).
    """
    if isinstance(error, ProviderQuotaError):
        tomorrow = dt.datetime.fromtimestamp(now, tz=dt.UTC).date() + dt.timedelta(days=1)
        reset = dt.datetime.combine(tomorrow, dt.time(0, 0, 30), tzinfo=dt.UTC).timestamp() - now
        return max(reset, error.retry_after or 0.0)
    if isinstance(error, ProviderError) and error.retry_after is not None:  # an open breaker's too
        return max(error.retry_after, 0.0)
    return 0.0


def first_try_delay(error: BaseException, *, now: float) -> int:
    """Whole seconds to delay the outbox message of a send that failed with ``error``: :func:`named_wait`,
    rounded up, at most :data:`MAX_DELAY_SECONDS`."""
    return min(math.ceil(named_wait(error, now=now)), MAX_DELAY_SECONDS)


class OutboxUnavailable(ContactSdkError):  # noqa: N818 - reads as a state, like the guards' *Unavailable errors
    """The outbox could not take the submission (queue unreachable, throttled, misconfigured)."""


def derived_key(key: str, keys_used: int) -> str:
    """The key of a recomposed resend: the submission's first key with ``.r<n>``, ``n`` the keys used so far.

    Resend keeps a key 24 hours and answers ``409 invalid_idempotent_request`` to the same key with
    another payload; a changed email therefore needs a key of its own, and deriving it keeps it
    recognisable (and within Resend's 256 characters).

    >>> derived_key("contact-ab12", 1)
    'contact-ab12.r1'
    >>> derived_key("contact-ab12.r1", 2)
    'contact-ab12.r2'
    """
    if keys_used < 1:
        raise ValueError("a derived key follows at least one used key")
    match = _DERIVED.match(key)
    base = match.group("base") if match else key
    return f"{base}.r{keys_used}"


@dataclass(frozen=True, slots=True)
class QueuedEmail:
    """An email waiting for delivery: what goes to Resend, the key of its first attempt, and its record's cycle.

    ``email`` is the composed email. Only when the Resend config could not be read when it was queued
    (Parameter Store down, nothing cached) is it ``None``: ``submission`` and ``subject_prefix`` then
    say everything that determines it, and the consumer composes it once, from the config it reads.
    """

    email: OutgoingEmail | None
    idempotency_key: str
    request_id: str
    queued_at: float
    reason: str
    #: The submission record's cycle (``None`` when it has no record: the table is off or was unavailable).
    cycle: int | None = None
    #: The Resend config's ``version`` the email was composed with (for the operator; never re-read).
    config_version: str = ""
    #: Without ``email``: the submission to compose it from, and the mark to put before its subject.
    submission: ContactSubmission | None = None
    subject_prefix: str = ""
    version: int = SCHEMA_VERSION

    @property
    def visitor(self) -> str:
        """The visitor's address (the email's reply-to), for the operator's masked view."""
        if self.email is not None:
            return self.email.reply_to[0] if self.email.reply_to else ""
        return self.submission.email if self.submission is not None else ""

    def __post_init__(self) -> None:
        if (self.email is None) == (self.submission is None):
            raise ValueError("a queued email carries either the composed email or the submission to compose it from")

    def to_json(self) -> str:
        """The message body stored in the queue."""
        fields = None
        if self.submission is not None:
            fields = {
                "name": self.submission.name,
                "email": self.submission.email,
                "subject": self.submission.subject,
                "message": self.submission.message,
            }
        return json.dumps(
            {
                "version": self.version,
                "email": None if self.email is None else self.email.to_json(),
                "submission": fields,
                "subject_prefix": self.subject_prefix,
                "idempotency_key": self.idempotency_key,
                "request_id": self.request_id,
                "queued_at": self.queued_at,
                "reason": self.reason,
                "cycle": self.cycle,
                "config_version": self.config_version,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueuedEmail:
        """A version-2 message; ``ValueError`` naming what is wrong."""
        expected = {
            "version",
            "email",
            "submission",
            "subject_prefix",
            "idempotency_key",
            "request_id",
            "queued_at",
            "reason",
            "cycle",
            "config_version",
        }
        unknown, missing = sorted(set(data) - expected), sorted(expected - set(data))
        if unknown:
            raise ValueError(f"outbox message has unexpected fields: {', '.join(unknown)}")
        if missing:
            raise ValueError(f"outbox message lacks the fields: {', '.join(missing)}")
        for name in ("idempotency_key", "request_id", "reason", "config_version", "subject_prefix"):
            if not isinstance(data[name], str):
                raise ValueError(f"outbox message field {name} is not a string")
        if not 1 <= len(data["idempotency_key"]) <= 256:
            raise ValueError("outbox message field idempotency_key is not 1 to 256 characters")
        queued_at, cycle = data["queued_at"], data["cycle"]
        if isinstance(queued_at, bool) or not isinstance(queued_at, (int, float)) or not math.isfinite(queued_at):
            raise ValueError("outbox message field queued_at is not a time")
        if cycle is not None and (isinstance(cycle, bool) or not isinstance(cycle, int)):
            raise ValueError("outbox message field cycle is not a whole number")
        email = None if data["email"] is None else OutgoingEmail.from_json(data["email"])
        submission = None
        if data["submission"] is not None:
            fields = data["submission"]
            if not isinstance(fields, dict) or set(fields) != {"name", "email", "subject", "message"}:
                raise ValueError("outbox message field submission is not the form's four fields")
            from contact_sdk.models import ContactSubmission  # noqa: PLC0415 - deferred, see contact_sdk.models

            try:
                submission = ContactSubmission.model_validate({**fields, "consent": True})
            except ValidationError as exc:
                names = sorted({str(error["loc"][0]) for error in exc.errors(include_url=False) if error["loc"]})
                raise ValueError(f"outbox message holds a submission that is not valid: {', '.join(names)}") from None
        if (email is None) == (submission is None):
            raise ValueError("outbox message carries neither an email nor a submission (or both)")
        return cls(
            email=email,
            idempotency_key=data["idempotency_key"],
            request_id=data["request_id"],
            queued_at=float(queued_at),
            reason=data["reason"],
            cycle=cycle,
            config_version=data["config_version"],
            submission=submission,
            subject_prefix=data["subject_prefix"],
        )


@dataclass(frozen=True, slots=True)
class LegacySubmission:
    """A message queued before the outbox carried the email (version 1): the form's fields and the first key."""

    name: str
    email: str
    subject: str | None
    message: str
    idempotency_key: str
    request_id: str
    queued_at: float
    reason: str
    version: int = LEGACY_VERSION

    @property
    def visitor(self) -> str:
        """The visitor's address, for the operator's masked view."""
        return self.email

    def to_submission(self) -> ContactSubmission:
        """The submission again, for composing the email."""
        from contact_sdk.models import ContactSubmission  # noqa: PLC0415 - deferred, see contact_sdk.models

        return ContactSubmission.model_validate(
            {"name": self.name, "email": self.email, "subject": self.subject, "message": self.message, "consent": True}
        )

    def to_json(self) -> str:
        """The message body as it was stored."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LegacySubmission:
        """A version-1 message; ``ValueError`` naming what is wrong."""
        try:
            queued = cls(**data)
        except TypeError as exc:
            raise ValueError(f"outbox message has unexpected fields: {exc}") from None
        for name in ("name", "email", "message", "idempotency_key", "request_id", "reason"):
            if not isinstance(getattr(queued, name), str):
                raise ValueError(f"outbox message field {name} is not a string")
        try:
            queued.to_submission()
        except ValidationError as exc:
            # Queued before a rule tightened (a line feed in the address): it can never be sent, so it
            # is unreadable — parked for the operator — instead of failing every redelivery.
            fields = sorted({str(error["loc"][0]) for error in exc.errors(include_url=False) if error["loc"]})
            raise ValueError(f"outbox message holds a submission that is not valid: {', '.join(fields)}") from None
        return queued


def read_message(raw: str) -> QueuedEmail | LegacySubmission:
    """Parse a stored message; raises ``ValueError`` with a clear reason when it is not one of ours."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"outbox message is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("outbox message is not a JSON object")
    version = data.get("version")
    if version == SCHEMA_VERSION:
        return QueuedEmail.from_dict(data)
    if version == LEGACY_VERSION:
        return LegacySubmission.from_dict(data)
    raise ValueError(f"outbox message has unknown version {version!r}")


class LazySqsClient:
    """An SQS client made on first use, once however many threads ask (the outbox and the parking lot)."""

    def __init__(self, client: SQSClient | None = None, factory: Callable[[], SQSClient] | None = None) -> None:
        self._client = client
        self._factory = factory
        self._lock = threading.Lock()

    def get(self) -> SQSClient:
        """The client, made now if it does not exist yet: the factory's, else boto3's default."""
        with self._lock:
            if self._client is None:
                if self._factory is not None:
                    self._client = self._factory()
                else:
                    import boto3  # noqa: PLC0415 - only the queueing path needs SQS

                    self._client = boto3.client("sqs")
            return self._client

    def reset(self) -> None:
        """Forget the client so the next call opens fresh connections (SnapStart restore)."""
        with self._lock:
            self._client = None


class Outbox(Protocol):
    """Somewhere durable to keep an email for later delivery."""

    def enqueue(self, queued: QueuedEmail, *, delay_seconds: int = 0) -> None:
        """Store it durably, offered for delivery no sooner than ``delay_seconds`` from now (at most
        :data:`MAX_DELAY_SECONDS`), or raise :class:`OutboxUnavailable`."""


class SqsOutbox:
    """The outbox on SQS. Needs ``sqs:SendMessage`` on the queue. The client is made on first use."""

    def __init__(
        self,
        queue_url: str,
        *,
        client: SQSClient | None = None,
        client_factory: Callable[[], SQSClient] | None = None,
    ) -> None:
        self.queue_url = queue_url
        self._client = LazySqsClient(client, client_factory)

    def _sqs(self) -> SQSClient:
        return self._client.get()

    def reset_client(self) -> None:
        """Forget the client so the next call opens fresh connections (SnapStart restore)."""
        self._client.reset()

    def enqueue(self, queued: QueuedEmail, *, delay_seconds: int = 0) -> None:
        """Send one message (with ``DelaySeconds`` when ``delay_seconds`` > 0); the idempotency key travels as a
        message attribute too."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be 0..{MAX_DELAY_SECONDS}, not {delay_seconds}")
        message: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": queued.to_json(),
            "MessageAttributes": {
                "idempotencyKey": {"DataType": "String", "StringValue": queued.idempotency_key},
                "requestId": {"DataType": "String", "StringValue": queued.request_id},
            },
        }
        if delay_seconds:
            message["DelaySeconds"] = delay_seconds
        try:
            self._sqs().send_message(**message)
        except (ClientError, BotoCoreError) as exc:
            raise OutboxUnavailable(f"the outbox queue did not take the message ({type(exc).__name__})") from exc
