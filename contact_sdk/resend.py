"""The Resend client every email goes through: keep-alive HTTP, typed errors, retries, a breaker.

Policy, in order, for one :meth:`ResendClient.send`:

* one ``Idempotency-Key`` for every attempt of the send, so a retry after a lost answer
  cannot deliver twice;
* each attempt asks the :class:`~contact_sdk.breaker.ProviderBreaker` first (an open breaker is
  never retried and never touches the network), and reports its outcome back;
* transient failures (5xx, 429 ``rate_limit_exceeded``, 409 ``concurrent_idempotent_requests``,
  timeouts, connection errors) are retried by tenacity after 1, 2, 4 s (each capped at 16 s);
  a ``Retry-After`` (seconds or HTTP date) or ``ratelimit-reset`` replaces the computed wait;
  a requested wait longer than the cap is not slept at all: the send stops with the provider's own
  error (``ProviderRateLimitedError`` for a 429) carrying it, for the outbox to honour;
* one deadline (:class:`~contact_sdk.deadline.Deadline`) bounds everything: no wait or attempt
  starts that cannot finish before it (an attempt needs ``min_attempt_seconds``, checked again after
  the breaker's admission, whose table read is never charged to the provider), and an attempt runs
  inside the deadline's scope on a :class:`~contact_sdk.transport.DeadlineTransport`, so every
  connect, write and read is cut to what is left and the attempt ends at the deadline with its
  connection closed, in the caller's own thread (a body trickled byte by byte cannot overrun, and
  nothing is left in flight when the handler returns). An attempt cut by the deadline is *neutral*
  for the breaker: the caller ran out of time, the provider did not fail. The send then stops with
  :class:`~contact_sdk.errors.ProviderDeferredError`, so the caller can keep the message. The API
  passes its response budget as the deadline, the outbox consumer its Lambda deadline: two
  schedules, one client;
* a refusal of the request itself (validation, auth, idempotency conflict) is never retried and
  never reaches the breaker (an exhausted quota does: the provider takes no mail now);
* each attempt's duration goes to ``on_attempt`` (ms) and to the request's
  :mod:`~contact_sdk.timings` tally;
* the caller sees the typed error of the last attempt, never tenacity's ``RetryError``.

Example::

    client = ResendClient(api_key="re_...", base_url="https://api.resend.com")
    email_id = client.send(
        OutgoingEmail(sender="Contact Form <no-reply@example.com>", to=("me@example.com",),
                      subject="Hello", text="Hi there"),
        idempotency_key="contact/3f2a...",
        deadline=Deadline.after(20, clock=client.clock),
    )
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import tenacity

from contact_sdk import timings
from contact_sdk._version import __version__
from contact_sdk.breaker import ProviderBreaker
from contact_sdk.deadline import QUEUE_ALLOWANCE_SECONDS, Deadline, within
from contact_sdk.errors import (
    PermanentProviderError,
    ProviderConnectionError,
    ProviderDeferredError,
    ProviderError,
    ProviderQuotaError,
    ProviderServerError,
    ProviderTimeoutError,
    TransientProviderError,
    error_class_for,
)
from contact_sdk.transport import ApiClient, DeadlineTransport

__all__ = [
    "USER_AGENT",
    "OutgoingEmail",
    "ResendClient",
    "RetryEvent",
    "RetryPolicy",
    "Timeouts",
    "translate_response",
]

logger = logging.getLogger(__name__)

USER_AGENT = f"contact-sdk/{__version__}"


def _refuses_the_request(exc: BaseException) -> bool:
    """A refusal of this request (validation, auth, idempotency), not a sign of the provider's health.

    An exhausted quota is permanent too, but it does mean the provider takes no mail now.
    """
    return isinstance(exc, PermanentProviderError) and not isinstance(exc, ProviderQuotaError)


_MAX_ERROR_TEXT = 200
#: A timeout this close to the deadline (seconds) was the deadline's doing, not the provider's.
_CUT_TOLERANCE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Timeouts:
    """httpx timeouts in seconds; every one explicit."""

    connect: float = 3.0
    read: float = 10.0
    write: float = 5.0
    pool: float = 2.0

    def within(self, remaining: float | None) -> httpx.Timeout:
        """These timeouts, each shortened so that no phase can outlive ``remaining`` seconds."""
        if remaining is None:
            return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)
        cap = max(remaining, 0.001)
        return httpx.Timeout(
            connect=min(self.connect, cap),
            read=min(self.read, cap),
            write=min(self.write, cap),
            pool=min(self.pool, cap),
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``initial * multiplier**n``, at most ``max_retries`` retries, each wait capped."""

    initial: float = 1.0
    multiplier: float = 2.0
    max_retries: int = 3
    max_delay: float = 16.0
    #: An attempt needs at least this long before the deadline to be worth starting.
    min_attempt_seconds: float = 0.25

    def wait_before_retry(self, retry_number: int, provider_hint: float | None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based); the provider's hint wins, still capped."""
        if provider_hint is not None and provider_hint >= 0:
            return min(provider_hint, self.max_delay)
        return min(self.initial * self.multiplier ** (retry_number - 1), self.max_delay)


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """What the ``on_retry`` hook learns before each wait."""

    retry_number: int
    wait_seconds: float
    error: ProviderError
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One email as Resend's ``POST /emails`` takes it (sender is Resend's ``from``)."""

    sender: str
    to: tuple[str, ...]
    subject: str
    html: str | None = None
    text: str | None = None
    reply_to: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The snake_case request body."""
        body: dict[str, Any] = {"from": self.sender, "to": list(self.to), "subject": self.subject}
        if self.html is not None:
            body["html"] = self.html
        if self.text is not None:
            body["text"] = self.text
        if self.reply_to:
            body["reply_to"] = list(self.reply_to)
        if self.tags:
            body["tags"] = [{"name": name, "value": value} for name, value in self.tags]
        if self.headers:
            body["headers"] = dict(self.headers)
        return body

    @classmethod
    def from_json(cls, body: Any) -> OutgoingEmail:
        """Read back a body :meth:`to_json` wrote (a queued or parked email); ``ValueError`` naming what is wrong."""
        if not isinstance(body, dict):
            raise ValueError("the email is not a JSON object")
        unknown = sorted(set(body) - {"from", "to", "subject", "html", "text", "reply_to", "tags", "headers"})
        if unknown:
            raise ValueError(f"the email has unexpected fields: {', '.join(unknown)}")
        sender, to, subject = body.get("from"), body.get("to"), body.get("subject")
        if not isinstance(sender, str) or not sender or not isinstance(subject, str) or not subject:
            raise ValueError("the email's from and subject must be non-empty text")
        if not isinstance(to, list) or not to or not all(isinstance(a, str) and a for a in to):
            raise ValueError("the email's to must be a non-empty list of addresses")
        parts = {name: body.get(name) for name in ("html", "text")}
        if any(value is not None and not isinstance(value, str) for value in parts.values()):
            raise ValueError("the email's html and text must be text")
        reply_to = body.get("reply_to", [])
        if not isinstance(reply_to, list) or not all(isinstance(a, str) for a in reply_to):
            raise ValueError("the email's reply_to must be a list of addresses")
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("value"), str) for t in tags
        ):
            raise ValueError("the email's tags must be a list of {name, value}")
        headers = body.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError("the email's headers must map names to text")
        return cls(
            sender=sender,
            to=tuple(to),
            subject=subject,
            html=parts["html"],
            text=parts["text"],
            reply_to=tuple(reply_to),
            tags=tuple((t["name"], t["value"]) for t in tags),
            headers=dict(headers),
        )


def _parse_retry_after(status: int, headers: httpx.Headers, wall_clock: Callable[[], float]) -> float | None:
    """The provider's requested wait: ``Retry-After`` on any answer; ``ratelimit-reset`` only on a 429.

    Resend sends ``ratelimit-*`` headers on every response, so on a 5xx the reset time says
    nothing about when the provider will have recovered.
    """
    raw = headers.get("retry-after")
    if raw:
        raw = raw.strip()
        try:
            seconds = float(raw)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                return None
            return max(0.0, when.timestamp() - wall_clock())
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    reset = headers.get("ratelimit-reset") if status == 429 else None
    if reset:
        try:
            seconds = float(reset.strip())
        except ValueError:
            return None
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None


def translate_response(response: httpx.Response, *, wall_clock: Callable[[], float] = time.time) -> ProviderError:
    """Turn a non-2xx provider answer into the typed error, from the (status, name) table.

    Handles Resend's JSON error body and anything else a proxy may put in front of it (HTML
    pages, empty bodies): those fall back by status class, with a short, safe message.
    """
    status = response.status_code
    name: str | None = None
    message = f"HTTP {status} from the provider"
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
        kind = "an empty body" if not response.content else "a non-JSON body"
        message = f"HTTP {status} from the provider with {kind}"
    if isinstance(payload, dict):
        raw_name = payload.get("name")
        raw_message = payload.get("message")
        if isinstance(raw_name, str) and raw_name:
            name = raw_name[:_MAX_ERROR_TEXT]
        if isinstance(raw_message, str) and raw_message:
            message = raw_message[:_MAX_ERROR_TEXT]
    error_class = error_class_for(status, name)
    return error_class(
        message, status=status, name=name, retry_after=_parse_retry_after(status, response.headers, wall_clock)
    )


class ResendClient:
    """A sync Resend API client: one keep-alive ``httpx.Client``, built once, reused for every send.

    ``api_key`` may be a callable, read on every attempt, so a key rotated in Parameter Store is
    used as soon as the caller's config refreshes. ``http`` lets tests pass a client with an
    ``httpx.MockTransport``; otherwise one is built for ``base_url``. Nothing connects until the
    first send.
    """

    def __init__(
        self,
        *,
        api_key: str | Callable[[], str],
        base_url: str = "https://api.resend.com",
        http: httpx.Client | None = None,
        timeouts: Timeouts | None = None,
        retry_policy: RetryPolicy | None = None,
        breaker: ProviderBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        on_retry: Callable[[RetryEvent], None] | None = None,
        on_attempt: Callable[[float], None] | None = None,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        self.retry_policy = retry_policy or RetryPolicy()
        self.breaker = breaker or ProviderBreaker(clock=clock)
        self.clock = clock
        self._wall_clock = wall_clock
        self._on_retry = on_retry
        self._on_attempt = on_attempt
        self._emails_url = httpx.URL(f"{self.base_url}/emails")  # parsed once, not on every send
        self._owns_http = http is None
        self._http = http or self._build_http()
        self._retrying = tenacity.Retrying(
            sleep=sleep,
            retry=tenacity.retry_if_exception_type(TransientProviderError),
            wait=self._wait,
            stop=self._stop,
            before_sleep=self._before_sleep,
            retry_error_callback=self._give_up,
            reraise=True,
        )

    def _build_http(self) -> httpx.Client:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20, keepalive_expiry=60.0)
        return ApiClient(
            base_url=self.base_url,
            timeout=self.timeouts.within(None),
            transport=DeadlineTransport(limits=limits),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def reconnect(self) -> None:
        """Drop pooled connections and open fresh ones on the next send (e.g. after a SnapStart restore)."""
        if self._owns_http:
            old, self._http = self._http, self._build_http()
            old.close()

    def close(self) -> None:
        """Close the connection pool (only if this client built it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ResendClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(
        self,
        email: OutgoingEmail,
        *,
        idempotency_key: str | None = None,
        deadline: Deadline | float | None = None,
    ) -> str:
        """Send one email; return the provider's id.

        ``idempotency_key`` (1–256 characters; a random one if omitted) is sent on every attempt.
        ``deadline`` (a :class:`~contact_sdk.deadline.Deadline`, or a time on this client's ``clock``):
        no attempt starts and no wait ends past it, and an attempt in flight is cut at it.
        Raises a :class:`~contact_sdk.errors.ProviderError` subclass.
        """
        key = idempotency_key if idempotency_key is not None else f"contact-sdk/{uuid.uuid4()}"
        if not 1 <= len(key) <= 256:
            raise ValueError("idempotency_key must be 1 to 256 characters")
        if deadline is None:
            deadline = Deadline.never(clock=self.clock)
        elif not isinstance(deadline, Deadline):
            deadline = Deadline(float(deadline), self.clock)
        body = email.to_json()
        return str(self._retrying(self._attempt, body, key=key, deadline=deadline))

    # -- one attempt ---------------------------------------------------------------------------

    def _attempt(self, body: dict[str, Any], *, key: str, deadline: Deadline) -> str:
        minimum = self.retry_policy.min_attempt_seconds
        if not deadline.allows(minimum):
            raise ProviderDeferredError("the deadline leaves no time for an attempt")
        with within(deadline):  # the breaker may read (and lease) its shared state: not past the deadline
            ticket = self.breaker.admit()
        if not deadline.allows(minimum):
            # The admission took what was left: our own time, never charged to the provider.
            deferred = ProviderDeferredError("the breaker's admission left no time for an attempt")
            self._record(ticket, deferred, deadline)
            raise deferred
        started = self.clock()
        try:
            email_id = self._post(body, key=key, deadline=deadline)
        except ProviderTimeoutError as exc:
            self._observe(started)
            if deadline.remaining() > _CUT_TOLERANCE_SECONDS:
                self._record(ticket, exc, deadline)  # the provider's own timeout, inside a full attempt
                raise
            # Cut by the caller's deadline: neutral, neither a failure nor a success of the provider.
            deferred = ProviderDeferredError("the attempt was cut at the deadline (no answer yet)")
            self._record(ticket, deferred, deadline)
            raise deferred from exc
        except BaseException as exc:  # every outcome goes back, or a half-open trial ticket would leak
            self._observe(started)
            if _refuses_the_request(exc) and not ticket.trial:
                # A refusal of this request (validation, auth) says nothing about the provider's
                # health: it neither counts towards opening nor resets the run of failures.
                raise
            self._record(ticket, exc, deadline)
            raise
        self._observe(started)
        self._record(ticket, None, deadline)
        return email_id

    def _record(self, ticket: Any, outcome: BaseException | None, deadline: Deadline) -> None:
        # Writing the verdict to the shared state is bookkeeping: it may use the allowance past the deadline.
        with within(deadline.extended(QUEUE_ALLOWANCE_SECONDS)):
            self.breaker.record(ticket, outcome)

    def _observe(self, started: float) -> None:
        milliseconds = (self.clock() - started) * 1000
        timings.add(timings.PROVIDER, milliseconds)
        if self._on_attempt is not None:
            self._on_attempt(milliseconds)

    def _post(self, body: dict[str, Any], *, key: str, deadline: Deadline) -> str:
        """One POST that cannot outlive ``deadline``, whatever the provider does (see the module docstring)."""
        api_key = self._api_key() if callable(self._api_key) else self._api_key
        remaining = deadline.remaining() if deadline.bounded else None  # after reading the key
        timeout = self.timeouts.within(remaining)
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Idempotency-Key": key,
            "User-Agent": USER_AGENT,
        }
        try:
            with within(deadline):
                response = self._http.post(self._emails_url, json=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise ProviderTimeoutError(f"no answer from the provider in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise ProviderConnectionError(f"could not reach the provider ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:  # e.g. DecodingError: a proxy's broken gzip body
            raise ProviderServerError(f"unreadable answer from the provider ({type(exc).__name__})") from exc
        if not response.is_success:
            raise translate_response(response, wall_clock=self._wall_clock)
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            payload = None
        email_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(email_id, str) or not email_id:
            # Accepted or not, we cannot tell; the idempotency key makes the retry safe.
            raise ProviderServerError(
                f"HTTP {response.status_code} from the provider without an email id", status=response.status_code
            )
        return email_id

    # -- tenacity hooks ------------------------------------------------------------------------

    def _error_of(self, retry_state: tenacity.RetryCallState) -> ProviderError | None:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        return exc if isinstance(exc, ProviderError) else None

    def _asks_longer_than_we_wait(self, error: ProviderError | None) -> bool:
        hint = error.retry_after if error is not None else None
        return hint is not None and hint > self.retry_policy.max_delay

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        error = self._error_of(retry_state)
        hint = error.retry_after if error is not None else None
        return self.retry_policy.wait_before_retry(retry_state.attempt_number, hint)

    def _stop(self, retry_state: tenacity.RetryCallState) -> bool:
        if retry_state.attempt_number > self.retry_policy.max_retries:
            return True
        if self._asks_longer_than_we_wait(self._error_of(retry_state)):
            # The provider asked for a longer wait than we ever sleep: hand the message to the
            # caller's slower mechanism (the outbox, SQS visibility) instead of asking early.
            return True
        deadline: Deadline = retry_state.kwargs["deadline"]
        return not deadline.allows(retry_state.upcoming_sleep + self.retry_policy.min_attempt_seconds)

    def _before_sleep(self, retry_state: tenacity.RetryCallState) -> None:
        error = self._error_of(retry_state)
        if error is None:  # pragma: no cover - tenacity only retries ProviderErrors here
            return
        event = RetryEvent(
            retry_number=retry_state.attempt_number,
            wait_seconds=retry_state.upcoming_sleep,
            error=error,
            idempotency_key=str(retry_state.kwargs["key"]),
        )
        logger.warning(
            "provider call failed, retrying",
            extra={
                "retry_number": event.retry_number,
                "wait_seconds": round(event.wait_seconds, 3),
                "error": type(error).__name__,
                "status": error.status,
                "provider_error": error.name,
            },
        )
        if self._on_retry is not None:
            self._on_retry(event)

    def _give_up(self, retry_state: tenacity.RetryCallState) -> Any:
        error = self._error_of(retry_state)
        if error is None:  # pragma: no cover - only ProviderErrors are retried
            return retry_state.outcome.result()  # type: ignore[union-attr]
        if self._asks_longer_than_we_wait(error):
            # The provider's own answer ends the attempts, not our deadline: it goes back as it came, so the
            # caller counts a rate limit (or an outage) and not a response budget run out (BudgetExhausted).
            raise error
        if retry_state.attempt_number <= self.retry_policy.max_retries:  # so the deadline stopped us
            raise ProviderDeferredError(
                f"deferred: the next wait or attempt does not fit (last error: {type(error).__name__})",
                status=error.status,
                name=error.name,
                retry_after=error.retry_after,
            ) from error
        raise error
