"""API Gateway REST (payload 1.0) adapter: event in, response out, exactly as the contract says.

This is the only module that knows API Gateway's event shape. It routes, takes the request
apart (headers of any casing, ``multiValueHeaders``, base64 bodies), and reads top-down: the
:class:`~contact_sdk.intake.Intake` turns a submission into a verdict, the
:class:`~contact_sdk.delivery.Delivery` delivers an accepted one, the webhook route records Resend's
events; it builds the response with the contract's headers on every answer. Per request it writes one
summary log line (outcome, status, duration, and the milliseconds spent with the provider, Parameter
Store and DynamoDB as ``provider_ms``, ``parameter_store_ms``, ``dynamodb_ms`` when each was called,
and ``degraded``: the dependencies it skipped or cut short) and flushes one set of EMF metrics — also
when something failed.

Every route gets one deadline (:class:`~contact_sdk.deadline.Deadline`): ``response_budget_ms`` from
the moment ``handle`` starts, or the Lambda's remaining time minus ``deadline_margin_ms`` if that is
earlier. It is handed down with the request, and every call the request makes (DynamoDB,
SQS, Parameter Store, siteverify, Resend) ends by it.

Example::

    api = ContactApi(intake, delivery, environment="prod", sink=StdoutSink(), logger=build_logger())
    response = api.handle(event, context)
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from contact_sdk import timings
from contact_sdk.deadline import Deadline, lambda_deadline, within
from contact_sdk.delivery import Delivery
from contact_sdk.intake import MAX_BODY_BYTES, Accepted, Intake, SubmitRequest
from contact_sdk.logs import correlation
from contact_sdk.metrics import Metric, MetricsRecorder, MetricsSink, recording
from contact_sdk.outcome import Outcome
from contact_sdk.security.origin import SECURITY_HEADERS

__all__ = ["ROUTES", "ContactApi", "EventsEndpoint", "RequestHeaders"]

#: path -> allowed methods (OPTIONS is answered for the browser-facing routes).
ROUTES: dict[str, tuple[str, ...]] = {
    "/contact": ("OPTIONS", "POST"),
    "/contact/token": ("GET", "OPTIONS"),
    "/contact/events": ("POST",),
}
_MAX_REQUEST_ID = 128
#: The longest base64 text of a body within the limit (4 characters for every 3 bytes begun): 43,692.
_MAX_BASE64_CHARACTERS = 4 * ((MAX_BODY_BYTES + 2) // 3)


class EventsEndpoint(Protocol):
    """The delivery-status webhook route (``POST /contact/events``)."""

    def receive(self, headers: Mapping[str, str], body: bytes, *, deadline: Deadline | None = None) -> Outcome:
        """Verify and record one webhook delivery; every call it makes ends by ``deadline``."""


class RequestHeaders:
    """Request headers, case-insensitive, from ``multiValueHeaders`` and ``headers`` together.

    A header sent more than once with different values is ambiguous; :meth:`single` returns
    ``None`` for it, so a security check never picks one of two Origins.
    """

    def __init__(self, event: Mapping[str, Any]) -> None:
        values: dict[str, list[str]] = {}
        multi = event.get("multiValueHeaders")
        if isinstance(multi, Mapping):
            for name, items in multi.items():
                if isinstance(name, str) and isinstance(items, list):
                    values.setdefault(name.lower(), []).extend(str(v) for v in items if v is not None)
        single = event.get("headers")
        if isinstance(single, Mapping):
            for name, value in single.items():
                if isinstance(name, str) and value is not None and name.lower() not in values:
                    values[name.lower()] = [str(value)]
        self._values = values

    def single(self, name: str) -> str | None:
        """The header's one value; ``None`` if absent or sent with conflicting values."""
        items = self._values.get(name.lower())
        if not items or len(set(items)) != 1:
            return None
        return items[0]

    def present(self, name: str) -> bool:
        """Whether the header was sent at all."""
        return bool(self._values.get(name.lower()))

    def as_dict(self) -> dict[str, str]:
        """Lower-cased names to their first value (for the webhook verifier)."""
        return {name: items[0] for name, items in self._values.items() if items}


def _route_of(event: Mapping[str, Any]) -> str:
    resource = event.get("resource")
    path = resource if isinstance(resource, str) and "{" not in resource else event.get("path")
    if not isinstance(path, str) or not path:
        return ""
    return path.rstrip("/") or "/"


def _request_id_of(event: Mapping[str, Any]) -> str:
    context = event.get("requestContext")
    raw = context.get("requestId") if isinstance(context, Mapping) else None
    if isinstance(raw, str) and raw and raw.isprintable() and len(raw) <= _MAX_REQUEST_ID:
        return raw
    return str(uuid.uuid4())


def _client_ip_of(event: Mapping[str, Any]) -> str:
    # Never a client-supplied header such as X-Forwarded-For: only what API Gateway saw.
    context = event.get("requestContext")
    identity = context.get("identity") if isinstance(context, Mapping) else None
    ip = identity.get("sourceIp") if isinstance(identity, Mapping) else None
    return ip if isinstance(ip, str) and ip else "unknown"


def _body_of(event: Mapping[str, Any]) -> bytes | None:
    """The raw body bytes, or ``None`` when a base64 body does not decode."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        return None
    if event.get("isBase64Encoded") is True:
        if len(body) > _MAX_BASE64_CHARACTERS:
            return b"\0" * (MAX_BODY_BYTES + 1)  # cannot decode to a body within the limit: the size check answers
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    return body.encode("utf-8", errors="surrogatepass")


class ContactApi:
    """Turns API Gateway events into intake and delivery calls and contract-shaped responses. Thread-safe.

    ``deadline_clock`` is the (monotonic) clock deadlines are on: the one the Resend client waits by, so that
    its waits and the budget agree.
    """

    def __init__(
        self,
        intake: Intake,
        delivery: Delivery,
        *,
        environment: str,
        sink: MetricsSink,
        logger: Logger,
        events: EventsEndpoint | None = None,
        deadline_margin_ms: int = 3000,
        response_budget_ms: int | None = None,
        timer: Callable[[], float] = time.perf_counter,
        deadline_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.intake = intake
        self.delivery = delivery
        self.origins = intake.origins
        self.environment = environment
        self.sink = sink
        self.logger = logger
        self.events = events
        self.deadline_margin_ms = deadline_margin_ms
        self.response_budget_ms = response_budget_ms
        self.timer = timer
        self.deadline_clock = deadline_clock

    def handle(self, raw_event: Any, context: Any = None) -> dict[str, Any]:
        """Answer one API Gateway REST proxy event."""
        started = self.timer()
        received_at = self.deadline_clock()  # the response budget counts from here
        event: Mapping[str, Any] = raw_event if isinstance(raw_event, Mapping) else {}
        request_id = _request_id_of(event)
        headers = RequestHeaders(event)
        origin = headers.single("origin")
        recorder = MetricsRecorder(environment=self.environment, sink=self.sink)
        recorder.set_property("requestId", request_id)
        method = event.get("httpMethod") if isinstance(event.get("httpMethod"), str) else ""
        route = _route_of(event)
        outcome: Outcome | None = None
        with correlation(self.logger, request_id), recording(recorder), timings.spending() as spent:
            try:
                outcome = self._dispatch(
                    event=event,
                    context=context,
                    method=str(method).upper(),
                    route=route,
                    headers=headers,
                    origin=origin,
                    request_id=request_id,
                    received_at=received_at,
                )
            except Exception:
                self.logger.exception("unhandled error while handling the request")
                outcome = Outcome.error(500, "internal_error", "Something went wrong on our side. Please try again.")
            finally:
                duration_ms = (self.timer() - started) * 1000
                status = outcome.status if outcome is not None else 500
                for metric in outcome.metrics if outcome is not None else ():
                    recorder.count(metric)
                recorder.timing(Metric.RESPONSE_TIME, duration_ms)
                try:
                    self.logger.info(
                        "request handled",
                        extra={
                            "method": method,
                            "route": route,
                            "status": status,
                            "outcome": outcome.outcome if outcome is not None else "internal_error",
                            "duration_ms": round(duration_ms, 2),
                            **spent.as_log_fields(),
                            **(dict(outcome.log_fields) if outcome is not None else {}),
                        },
                    )
                finally:
                    recorder.flush()
        return self._response(outcome, request_id, origin)

    # -- routing -------------------------------------------------------------------------------

    def _dispatch(
        self,
        *,
        event: Mapping[str, Any],
        context: Any,
        method: str,
        route: str,
        headers: RequestHeaders,
        origin: str | None,
        request_id: str,
        received_at: float,
    ) -> Outcome:
        allowed = ROUTES.get(route)
        if allowed is None:
            return Outcome.error(404, "not_found", "There is nothing at this address.")
        if method not in allowed:
            return Outcome.error(
                405,
                "method_not_allowed",
                f"{method or 'This method'} is not allowed here.",
                headers={"Allow": ", ".join(allowed)},
            )
        deadline = self._deadline(context, received_at)
        if route == "/contact/events":
            with within(deadline):
                return self._events(headers, event, deadline)
        if method == "OPTIONS":
            if origin is not None and self.origins.is_allowed(origin):
                return Outcome(status=204, body={}, outcome="preflight")
            return Outcome.error(
                403,
                "origin_not_allowed",
                "Requests from this origin are not allowed.",
                metrics=(Metric.CSRF_REJECTED,),
            )
        client_ip = _client_ip_of(event)
        if route == "/contact/token":
            return self.intake.issue_token(origin=origin, client_ip=client_ip, deadline=deadline)
        body = _body_of(event)
        if body is None:
            return Outcome.error(
                400, "invalid_json", "The body could not be decoded.", metrics=(Metric.VALIDATION_ERRORS,)
            )
        verdict = self.intake.submit(
            SubmitRequest(
                origin=origin,
                client_ip=client_ip,
                content_type=headers.single("content-type"),
                body=body,
                csrf_token=headers.single("x-csrf-token") if headers.present("x-csrf-token") else None,
                request_id=request_id,
                deadline=deadline,
            )
        )
        return self.delivery.deliver(verdict) if isinstance(verdict, Accepted) else verdict.outcome

    def _deadline(self, context: Any, received_at: float) -> Deadline | None:
        """The earlier of the response budget (from ``received_at``) and the Lambda's own deadline."""
        clock = self.deadline_clock
        lambda_ends = lambda_deadline(context, margin_ms=self.deadline_margin_ms, clock=clock)
        if self.response_budget_ms is None:
            return lambda_ends
        budget_ends = Deadline(received_at + self.response_budget_ms / 1000, clock)
        return budget_ends if lambda_ends is None or budget_ends.at <= lambda_ends.at else lambda_ends

    def _events(self, headers: RequestHeaders, event: Mapping[str, Any], deadline: Deadline | None) -> Outcome:
        if self.events is None:
            return Outcome.error(404, "not_found", "Delivery-status webhooks are not configured here.")
        body = _body_of(event)
        if body is None:
            return Outcome.error(400, "invalid_json", "The body could not be decoded.")
        return self.events.receive(headers.as_dict(), body, deadline=deadline)

    # -- response ------------------------------------------------------------------------------

    def _response(self, outcome: Outcome | None, request_id: str, origin: str | None) -> dict[str, Any]:
        if outcome is None:  # pragma: no cover - _dispatch always yields an outcome or raises
            outcome = Outcome.error(500, "internal_error", "Something went wrong on our side. Please try again.")
        headers: dict[str, str] = {"Content-Type": "application/json", **SECURITY_HEADERS, "X-Request-Id": request_id}
        headers.update(self.origins.cors_headers(origin))
        headers.update(outcome.headers)
        body = "" if outcome.status == 204 else json.dumps({**outcome.body, "requestId": request_id})
        return {
            "statusCode": outcome.status,
            "headers": headers,
            "multiValueHeaders": {},
            "body": body,
            "isBase64Encoded": False,
        }
