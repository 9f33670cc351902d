"""The AWS services a request calls (DynamoDB, SQS, Parameter Store), each call inside the request's deadline.

botocore cannot change a client's timeouts per call, and its own retries sleep a backoff the
visitor would wait for. So every boto3 client the runtime uses is made by :class:`AwsService`,
which hooks three of botocore's events:

* ``before-call``: the call may start only if the service is not being skipped (its
  :class:`~contact_sdk.degraded.DependencyGuard` remembers a recent failure) and the time left —
  the deadline in force (:func:`contact_sdk.deadline.within`) or the call timeout
  (``CONTACT_AWS_CALL_TIMEOUT_MS``),
  whichever comes first — is at least ``min_call_seconds``. Otherwise it raises
  :class:`DependencySkipped` or :class:`DeadlineReached` at once, without touching the network.
* ``before-send``: the signed request goes out through an ``httpx`` client on a
  :class:`~contact_sdk.transport.DeadlineTransport`, inside the call's deadline: connect, write and
  read are each cut to what is left, so the call ends by then whatever the service does, and its
  connection is closed. A 5xx or throttling answer is sent again once if the retry fits (botocore's
  own retries are off: ``max_attempts=1``).
* ``after-call`` / ``after-call-error``: the outcome goes to the guard (a timeout, a connection
  error, a 5xx or throttling is a failure; any answer in time is not).

Each of those errors is a ``BotoCoreError``, which every store already reads as "the service is
unavailable" and turns into its documented degraded path (``docs/guarantees.md``). Every skipped,
cut or failed call is reported to ``on_degraded`` (the service name, ``skipped``/``cut``/``failed``
and a detail), which counts ``DependencyDegraded`` once per request and logs the service by name.

Example::

    dynamodb = AwsService("dynamodb", guard=DependencyGuard("dynamodb"), call_timeout=1.0)
    with within(request_deadline):
        dynamodb.client().put_item(...)      # refused at once, or over within 1 s and the deadline
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from botocore.exceptions import (
    BotoCoreError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from contact_sdk.deadline import Deadline, current, within
from contact_sdk.degraded import Admission, DependencyGuard
from contact_sdk.transport import ApiClient, DeadlineTransport

__all__ = [
    "SERVICE_LIMITS",
    "AwsService",
    "DeadlineReached",
    "DependencySkipped",
    "ServiceLimits",
]

#: Error codes (in the JSON ``__type`` or the XML ``Code``) that mean "slow down": the service is overloaded.
_THROTTLING = (
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "TooManyRequestsException",
    "LimitExceededException",
)
_CONTEXT_KEY = "contact_sdk_call"
_RETRY_PAUSE_SECONDS = 0.05


class DependencySkipped(BotoCoreError):  # noqa: N818 - a state, like the stores' *Unavailable errors
    """The service failed or overran a moment ago and is skipped for a while; nothing was sent."""

    fmt = "{service} is skipped for now (it failed or overran a moment ago); nothing was sent"


class DeadlineReached(BotoCoreError):  # noqa: N818 - a state, like the stores' *Unavailable errors
    """Too little of the request's deadline is left for a call to this service; nothing was sent."""

    fmt = "{service}: only {left_ms:.0f} ms left of the request's deadline; the call was not started"


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    """How long one call to a service may take, and the least time worth starting one with."""

    call_timeout: float
    min_call_seconds: float
    #: Whether a failure makes the following requests skip the service for a while.
    skip_when_degraded: bool = True
    #: A timeout after at least this long says the service is slow (a brownout); a call cut sooner by the
    #: request's deadline says the request ran out of time, and the service is not blamed for it.
    slow_after: float = 0.5


#: Per service, with the default call timeout (``CONTACT_AWS_CALL_TIMEOUT_MS``, 1.5 s: DynamoDB and SQS answer
#: in milliseconds, Parameter Store's decrypting read in tens of them, so a second and a half is a brownout).
#: Parameter Store needs a little more to be worth starting; the SQS outbox is the last durable copy: never
#: skipped.
SERVICE_LIMITS: Mapping[str, ServiceLimits] = {
    "dynamodb": ServiceLimits(call_timeout=1.5, min_call_seconds=0.05),
    "ssm": ServiceLimits(call_timeout=1.5, min_call_seconds=0.1),
    "sqs": ServiceLimits(call_timeout=1.5, min_call_seconds=0.05, skip_when_degraded=False),
}


@dataclass(slots=True)
class _Call:
    admission: Admission | None
    deadline: Deadline
    started: float


class _RawBody:
    """What botocore reads an answer's body from."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content

    def read(self, *_: Any) -> bytes:
        return self._content


def _is_overloaded(status: int, body: bytes) -> bool:
    if status >= 500:
        return True
    return status in (400, 429) and any(code.encode() in body for code in _THROTTLING)


class AwsService:
    """One AWS service's boto3 client, made on first use, every call of which keeps the deadline in force.

    ``client_factory(config)`` makes the boto3 client (default: ``boto3.client(name, config=config,
    **client_options)``, which honours ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``; ``client_options``
    are more of ``boto3.client``'s keywords, such as an emulator's ``endpoint_url``, region and credentials).
    ``on_degraded(service, how, detail)`` hears of every skipped (``skipped``), refused or cut (``cut``) and failed
    (``failed``) call. ``clock`` times the calls (whether a timeout was the service's slowness); ``sleep`` makes
    the short pause before the one retry of an overloaded answer.
    """

    def __init__(
        self,
        name: str,
        *,
        limits: ServiceLimits | None = None,
        guard: DependencyGuard | None = None,
        on_degraded: Callable[[str, str, str], None] | None = None,
        client_factory: Callable[[Any], Any] | None = None,
        client_options: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if client_factory is not None and client_options:
            raise TypeError("client_options are for the client made here; a client_factory makes its own")
        self.name = name
        self.limits = limits or SERVICE_LIMITS.get(name, ServiceLimits(call_timeout=1.0, min_call_seconds=0.05))
        self.guard = guard if self.limits.skip_when_degraded else None
        self._on_degraded = on_degraded
        self._factory = client_factory
        self._options = dict(client_options or {})
        self._clock = clock
        self._sleep = sleep
        self._client: Any = None
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        """The boto3 client (made now if it does not exist yet), with the deadline hooks registered."""
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def reset(self) -> None:
        """Drop every pooled connection (a SnapStart restore) and forget past failures; the next call reconnects.

        The boto3 client stays (the stores hold it); its requests go out through a fresh HTTP pool.
        """
        with self._lock:
            http, self._http = self._http, None
            client = self._client
        if http is not None:
            http.close()
        if client is not None:
            client.close()  # botocore's own pools (credential and endpoint discovery calls, if any)
        if self.guard is not None:
            self.guard.reset()

    def close(self) -> None:
        """Close the connections."""
        self.reset()

    def _http_client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = ApiClient(
                    transport=DeadlineTransport(
                        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=60.0)
                    ),
                    timeout=self.limits.call_timeout,
                )
            return self._http

    def _make_client(self) -> Any:
        from botocore.config import Config  # noqa: PLC0415 - deferred with boto3 itself

        limits = self.limits
        # botocore's own timeouts only ever apply outside a deadline scope (they are the call's timeout
        # then); its retries are ours (one, inside the deadline), never its backoff sleeps.
        config = Config(
            connect_timeout=limits.call_timeout,
            read_timeout=limits.call_timeout,
            # total_max_attempts counts the first attempt too (max_attempts counts retries): one attempt, no retry.
            retries={"mode": "standard", "total_max_attempts": 1},
            # botocore checks every request's parameters against the service model before sending: ~100 nested
            # checks per call here (the rate limit's condition, the record's attribute maps), and the largest
            # cost in a CPU profile of the API under load (36 % of its CPU: docs/performance.md). Our requests
            # are built by code, not typed in, and the service validates them anyway: a malformed one is
            # still refused, as a ClientError (ValidationException) from AWS instead of one from botocore.
            parameter_validation=False,
        )
        if self._factory is not None:
            client = self._factory(config)
        else:
            import boto3  # noqa: PLC0415 - deferred: built on the first request that needs AWS

            client = boto3.client(self.name, config=config, **self._options)  # type: ignore[call-overload]
        events = getattr(getattr(client, "meta", None), "events", None)
        if events is None:  # not a botocore client (a stand-in that keeps time itself): used as it is
            return client
        service_id = client.meta.service_model.service_id.hyphenize()
        events.register(f"before-call.{service_id}", self._before_call, unique_id=f"contact-sdk-call-{self.name}")
        events.register(f"before-send.{service_id}", self._send, unique_id=f"contact-sdk-send-{self.name}")
        events.register(f"after-call.{service_id}", self._after_call, unique_id=f"contact-sdk-done-{self.name}")
        events.register(f"after-call-error.{service_id}", self._after_error, unique_id=f"contact-sdk-error-{self.name}")
        return client

    # -- botocore's events -----------------------------------------------------------------------

    def _before_call(self, context: dict[str, Any] | None = None, model: Any = None, **_: Any) -> None:
        operation = getattr(model, "name", "?")
        admission: Admission | None = None
        if self.guard is not None:
            admission = self.guard.admit()
            if admission is None:
                self._report("skipped", f"{operation}: skipped for {self.guard.seconds_skipped():.1f} s more")
                raise DependencySkipped(service=self.name)
        outer = current() or Deadline.never(clock=self._clock)
        deadline = outer.earliest(self.limits.call_timeout)
        if not deadline.allows(self.limits.min_call_seconds):
            if self.guard is not None and admission is not None:
                self.guard.release(admission)  # a probe that was never sent proves nothing either way
            left = deadline.remaining()
            self._report("cut", f"{operation}: not started, {left * 1000:.0f} ms left")
            raise DeadlineReached(service=self.name, left_ms=left * 1000)
        if context is not None:
            context[_CONTEXT_KEY] = _Call(admission, deadline, self._clock())

    def _send(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse, HeadersDict  # noqa: PLC0415 - boto is loaded by now

        call = (getattr(request, "context", None) or {}).get(_CONTEXT_KEY)
        if getattr(request, "stream_output", False) or not isinstance(call, _Call):
            return None  # not a call we started (or a streamed download): botocore sends it itself
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        headers = [(str(k), v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()]
        for attempt in (1, 2):
            response = self._exchange(request.method, request.url, headers, body, call.deadline)
            if attempt == 2 or not _is_overloaded(response.status_code, response.content):
                break
            if not call.deadline.allows(_RETRY_PAUSE_SECONDS + self.limits.min_call_seconds):
                break
            self._sleep(_RETRY_PAUSE_SECONDS)
        headers_in = HeadersDict(response.headers.items())
        return AWSResponse(request.url, response.status_code, headers_in, _RawBody(response.content))  # type: ignore[arg-type]

    def _exchange(
        self, method: str, url: str, headers: list[tuple[str, str]], body: Any, deadline: Deadline
    ) -> httpx.Response:
        http = self._http_client()
        try:
            with within(deadline):
                return http.request(
                    method, url, headers=headers, content=body, timeout=deadline.cap(self.limits.call_timeout)
                )
        except httpx.ConnectTimeout as exc:
            raise ConnectTimeoutError(endpoint_url=url) from exc
        except httpx.TimeoutException as exc:
            raise ReadTimeoutError(endpoint_url=url) from exc
        except httpx.ConnectError as exc:
            raise EndpointConnectionError(endpoint_url=url) from exc
        except httpx.TransportError as exc:
            raise ConnectionClosedError(endpoint_url=url) from exc

    def _after_call(
        self, http_response: Any = None, context: dict[str, Any] | None = None, model: Any = None, **_: Any
    ) -> None:
        call = (context or {}).get(_CONTEXT_KEY)
        if not isinstance(call, _Call):
            return
        status = int(getattr(http_response, "status_code", 200))
        content = getattr(http_response, "content", b"") or b""
        if _is_overloaded(status, content):
            self._failed(call, f"{getattr(model, 'name', '?')}: answered {status}, overloaded")
        elif call.admission is not None and self.guard is not None:
            self.guard.succeeded(call.admission)

    def _after_error(
        self, exception: BaseException | None = None, context: dict[str, Any] | None = None, **_: Any
    ) -> None:
        call = (context or {}).get(_CONTEXT_KEY)
        if not isinstance(call, _Call):
            return
        if isinstance(exception, (ReadTimeoutError, ConnectTimeoutError)):
            waited = self._clock() - call.started
            detail = f"cut after {waited * 1000:.0f} ms ({type(exception).__name__})"
            if waited < min(self.limits.slow_after, self.limits.call_timeout):
                # The request's deadline cut it before the service had a fair chance: not the service's failure.
                if call.admission is not None and self.guard is not None:
                    self.guard.release(call.admission)
                self._report("cut", detail)
                return
            self._failed(call, detail)
        else:
            self._failed(call, f"{type(exception).__name__}")

    # -- bookkeeping -----------------------------------------------------------------------------

    def _failed(self, call: _Call, detail: str) -> None:
        if call.admission is not None and self.guard is not None:
            self.guard.failed(call.admission)
        self._report("failed", detail)

    def _report(self, how: str, detail: str) -> None:
        if self._on_degraded is not None:
            self._on_degraded(self.name, how, detail)
