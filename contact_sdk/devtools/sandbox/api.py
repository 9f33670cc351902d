"""The Resend API surface: one request in, one :class:`Answer` out; no sockets here.

Order of checks, outermost first (what sits in front of Resend's application is faulted first)::

    outage window -> script step / random timeout / random failure     (faults.py)
    User-Agent -> Authorization -> rate limit                            (403 / 401 / 403 / 429)
    route -> Idempotency-Key shape -> JSON -> validation -> idempotency -> store

Before any of that, scheduled emails whose time has come (by the injected clock) move to ``sent``.
Routes: ``POST/GET /emails``, ``POST /emails/batch``, ``GET/PATCH /emails/{id}``,
``POST /emails/{id}/cancel``, ``POST/GET /domains``, ``GET /domains/{id}``. Any other path answers
404 ``not_found`` "The requested endpoint does not exist." as Resend does, including Resend
endpoints the sandbox does not implement (``/emails/metrics``, ``/emails/receiving``...).

Added latency is spent while the idempotency key is held (so a concurrent retry sees 409
``concurrent_idempotent_requests``), or just before answering for every other request.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast

from contact_sdk.devtools.sandbox.domains import REGIONS, DomainStore
from contact_sdk.devtools.sandbox.errors import (
    ApiError,
    invalid_api_key,
    invalid_idempotency_key,
    invalid_region,
    method_not_allowed,
    missing_api_key,
    missing_user_agent,
    not_found,
    rate_limit_exceeded,
    service_unavailable,
)
from contact_sdk.devtools.sandbox.faults import FaultState, Step
from contact_sdk.devtools.sandbox.schedule import due_epoch
from contact_sdk.devtools.sandbox.store import (
    Clock,
    CursorError,
    EmailRecord,
    EmailStore,
    IdempotencyStore,
    RateLimiter,
    RateWindow,
    RequestLog,
    RequestRecord,
    fingerprint,
)
from contact_sdk.devtools.sandbox.validation import validate_batch, validate_email

__all__ = ["STORED_HEADERS", "Answer", "ApiRequest", "ResendApi", "error_answer", "json_answer"]

#: Request headers kept with each stored email (lower-case).
STORED_HEADERS: tuple[str, ...] = ("idempotency-key", "user-agent", "content-type", "x-batch-validation")

_EMAIL_PATH = re.compile(r"^/emails/([^/]+)$")
_CANCEL_PATH = re.compile(r"^/emails/([^/]+)/cancel$")
_DOMAIN_PATH = re.compile(r"^/domains/([^/]+)$")
#: ``/emails/<name>`` paths that are Resend endpoints, not email ids; the sandbox does not implement them.
_EMAIL_ENDPOINTS = frozenset({"metrics", "receiving"})
_FAULT_MESSAGES: dict[str, str] = {
    "rate_limit_exceeded": "Too many requests. Please limit the number of requests per second.",
    "daily_quota_exceeded": "You have reached your daily email sending quota.",
    "monthly_quota_exceeded": "You have reached your monthly email sending quota.",
    "internal_server_error": "An unexpected error occurred.",
    "application_error": "An unexpected error occurred.",
    "service_unavailable": "The service is temporarily unavailable. Please try again later.",
}
_PROXY_PAGE = """<html>
<head><title>{status} {reason}</title></head>
<body>
<center><h1>{status} {reason}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""


@dataclass(slots=True)
class Answer:
    """What to send back: status, body, headers, and how (after a hang, or not at all)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0.0
    reset: bool = False


def json_answer(status: int, payload: object, headers: Mapping[str, str] | None = None) -> Answer:
    """A JSON answer."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Answer(status, body, {"content-type": "application/json; charset=utf-8", **(headers or {})})


def error_answer(error: ApiError) -> Answer:
    """Resend's error body for ``error``, with its extra headers."""
    return json_answer(error.status, error.body(), error.headers)


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One request to the API surface; header names are lower-case, ``body`` is ``None`` when too large."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes | None


@dataclass(slots=True)
class _Exchange:
    record: RequestRecord
    latency: float
    window: RateWindow | None = None


class ResendApi:
    """Answers requests to ``/emails``, ``/emails/batch`` and ``/emails/{id}`` as Resend would."""

    def __init__(
        self,
        *,
        api_key: str,
        clock: Clock,
        emails: EmailStore,
        requests: RequestLog,
        idempotency: IdempotencyStore,
        limiter: RateLimiter,
        faults: FaultState,
        wait: Callable[[float], bool],
        on_accept: Callable[[EmailRecord], None],
        domains: DomainStore | None = None,
        strict: bool = False,
    ) -> None:
        """Wire the stores; ``wait(seconds)`` pauses and returns True when the sandbox is stopping."""
        self._api_key = api_key
        self._clock = clock
        self._emails = emails
        self._requests = requests
        self._idempotency = idempotency
        self._limiter = limiter
        self._faults = faults
        self._wait = wait
        self._on_accept = on_accept
        self._domains = domains if domains is not None else DomainStore(clock)
        self._strict = strict

    @property
    def strict(self) -> bool:
        """True when unknown top-level fields are refused instead of ignored."""
        return self._strict

    def release_due(self) -> None:
        """Move scheduled emails whose time has come to ``sent`` and hand each to ``on_accept``."""
        for record in self._emails.release_due():
            self._on_accept(record)

    def handle(self, request: ApiRequest) -> Answer:
        """Answer one API request."""
        self.release_due()
        record = self._requests.open(request.method, request.path, request.headers.get("idempotency-key"))
        exchange = _Exchange(record, self._faults.latency_seconds())
        try:
            answer = self._answer(exchange, request)
        except ApiError as exc:
            answer = error_answer(exc)
            record.name = exc.name
        self._spend_latency(exchange)
        window = exchange.window or self._limiter.peek()
        answer.headers = {**window.headers(), **answer.headers}
        record.status = None if answer.reset else answer.status
        return answer

    def _answer(self, exchange: _Exchange, request: ApiRequest) -> Answer:
        method, path = request.method, request.path
        if self._faults.in_outage(self._clock()):
            exchange.record.fault = "outage"
            raise service_unavailable()
        step = self._faults.draw(sends=method == "POST" and path in ("/emails", "/emails/batch"))
        if step is None or step.passes:
            return self._process(exchange, request)
        exchange.record.fault = step.describe()
        hang = step.seconds if step.seconds is not None else self._faults.current().timeout_seconds
        if step.kind == "timeout-accept":
            try:
                answer = self._process(exchange, request)
            except ApiError as exc:
                answer = error_answer(exc)
                exchange.record.name = exc.name
            answer.hang_seconds = hang
            return answer
        return self._fault_answer(step, hang)

    def _fault_answer(self, step: Step, hang: float) -> Answer:
        retry_after = step.retry_after or ("1" if step.status == 429 else None)
        extra = {"retry-after": retry_after} if retry_after else {}
        if step.kind == "reset":
            return Answer(0, reset=True)
        if step.kind == "timeout":
            answer = error_answer(ApiError(504, "gateway_timeout", "The upstream server did not answer in time."))
            answer.hang_seconds = hang
            return answer
        if step.kind == "html":
            reason = _reason(step.status)
            page = _PROXY_PAGE.format(status=step.status, reason=reason).encode()
            return Answer(step.status, page, {"content-type": "text/html", **extra})
        if step.kind == "empty":
            return Answer(step.status, b"", extra)
        name = step.error_name()
        message = step.message or _FAULT_MESSAGES.get(name, f"Injected failure ({step.status} {name}).")
        raise ApiError(step.status, name, message, extra)

    def _process(self, exchange: _Exchange, request: ApiRequest) -> Answer:
        method, path, headers = request.method, request.path, request.headers
        if not headers.get("user-agent", "").strip():
            raise missing_user_agent()
        authorization = headers.get("authorization")
        if not authorization or not authorization.strip():
            raise missing_api_key()
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self._api_key.encode()):
            raise invalid_api_key()
        allowed, exchange.window = self._limiter.take()
        if not allowed:
            raise rate_limit_exceeded(str(exchange.window.reset_seconds))

        if path == "/emails":
            if method == "POST":
                return self._send(exchange, headers, request.body)
            if method == "GET":
                return self._list(request.query)
            raise method_not_allowed()
        if path == "/emails/batch":
            if method == "POST":
                return self._send_batch(exchange, headers, request.body)
            raise method_not_allowed()
        if (match := _EMAIL_PATH.match(path)) and match.group(1) not in _EMAIL_ENDPOINTS:
            if method == "GET":
                return self._get(match.group(1))
            if method == "PATCH":
                return self._update(match.group(1), request.body)
            raise method_not_allowed()
        if match := _CANCEL_PATH.match(path):
            if method == "POST":
                return self._cancel(match.group(1))
            raise method_not_allowed()
        return self._domain_route(method, path, request)

    def _domain_route(self, method: str, path: str, request: ApiRequest) -> Answer:
        if path == "/domains":
            if method == "GET":
                return self._list_domains(request.query)
            if method == "POST":
                return self._create_domain(request.body)
            raise method_not_allowed()
        if match := _DOMAIN_PATH.match(path):
            if method == "GET":
                entry = self._domains.get(match.group(1))
                if entry is None or entry.id != match.group(1):
                    raise not_found("Domain not found")
                return json_answer(200, entry.resource())
            raise method_not_allowed()
        raise not_found()

    def _send(self, exchange: _Exchange, headers: Mapping[str, str], body: bytes | None) -> Answer:
        key = _idempotency_key(headers)
        payload = validate_email(_parse_json(body), strict=self._strict)

        def store() -> tuple[int, object]:
            record = self._store(payload, headers, "/emails", exchange)
            return 200, {"id": record.id}

        return self._idempotent(exchange, key, "/emails", payload, store)

    def _send_batch(self, exchange: _Exchange, headers: Mapping[str, str], body: bytes | None) -> Answer:
        key = _idempotency_key(headers)
        mode = headers.get("x-batch-validation", "strict").strip().lower()
        if mode not in ("strict", "permissive"):
            raise ApiError(422, "validation_error", "The `x-batch-validation` header must be strict or permissive.")
        payload = _parse_json(body)
        valid, errors = validate_batch(payload, permissive=mode == "permissive", strict=self._strict)

        def store() -> tuple[int, object]:
            items = cast("list[dict[str, Any]]", payload)
            data = [{"id": self._store(items[index], headers, "/emails/batch", exchange).id} for index in valid]
            return 200, {"data": data, "errors": errors} if mode == "permissive" else {"data": data}

        return self._idempotent(exchange, key, "/emails/batch", payload, store)

    def _idempotent(
        self,
        exchange: _Exchange,
        key: str | None,
        path: str,
        payload: object,
        store: Callable[[], tuple[int, object]],
    ) -> Answer:
        if key is None:
            self._spend_latency(exchange)
            return json_answer(*store())
        replay = self._idempotency.begin(key, fingerprint(path, payload))
        if replay is not None:
            exchange.record.replayed = True
            return json_answer(*replay)
        try:
            self._spend_latency(exchange)  # the key stays "in flight" for the whole latency
            status, result = store()
        except BaseException:
            self._idempotency.release(key)
            raise
        self._idempotency.complete(key, status, result)
        return json_answer(status, result)

    def _store(
        self, payload: dict[str, Any], headers: Mapping[str, str], endpoint: str, exchange: _Exchange
    ) -> EmailRecord:
        kept = {name: headers[name] for name in STORED_HEADERS if name in headers}
        scheduled_at = payload.get("scheduled_at")
        due = due_epoch(scheduled_at, now=self._clock()) if isinstance(scheduled_at, str) else None
        record = self._emails.add(payload, kept, endpoint, due)
        exchange.record.email_ids.append(record.id)
        self._on_accept(record)
        return record

    def _get(self, email_id: str) -> Answer:
        record = self._emails.get(email_id)
        if record is None:
            raise not_found("Email not found.")
        return json_answer(200, record.resource())

    def _list(self, query: Mapping[str, str]) -> Answer:
        limit, after, before = _pagination(query, default_limit=20)
        try:
            page = self._emails.page(limit=limit or 20, after=after, before=before)
        except CursorError as exc:
            raise _unknown_cursor(exc) from None
        data = [record.resource() for record in page.items]
        return json_answer(200, {"object": "list", "has_more": page.has_more, "data": data})

    def _update(self, email_id: str, body: bytes | None) -> Answer:
        payload = _parse_json(body)
        if not isinstance(payload, dict):
            raise ApiError(422, "validation_error", "The request body must be a JSON object.")
        unknown = sorted(set(payload) - {"id", "scheduled_at"})
        if unknown and self._strict:
            message = f"Unknown field `{unknown[0]}`. Only `scheduled_at` can be updated."
            raise ApiError(422, "validation_error", message)
        scheduled_at = payload.get("scheduled_at")
        if scheduled_at is None:
            raise ApiError(422, "missing_required_field", "Missing `scheduled_at` field.")
        if not isinstance(scheduled_at, str):
            raise ApiError(422, "validation_error", "Invalid `scheduled_at` field: expected a string.")
        due = due_epoch(scheduled_at, now=self._clock())
        if due is None:
            raise ApiError(
                422,
                "invalid_parameter",
                "Invalid `scheduled_at` field: use ISO 8601 (2024-08-05T11:52:01.858Z) or `in 1 hour`.",
            )
        if self._emails.get(email_id) is None:
            raise not_found("Email not found.")
        if due <= self._clock():
            raise ApiError(422, "validation_error", "The `scheduled_at` field must be in the future.")
        if not self._emails.reschedule(email_id, scheduled_at, due):
            raise _not_scheduled(email_id, "updated")
        return json_answer(200, {"object": "email", "id": email_id})

    def _cancel(self, email_id: str) -> Answer:
        if self._emails.get(email_id) is None:
            raise not_found("Email not found.")
        if not self._emails.cancel(email_id):
            raise _not_scheduled(email_id, "canceled")
        return json_answer(200, {"object": "email", "id": email_id})

    def _list_domains(self, query: Mapping[str, str]) -> Answer:
        limit, after, before = _pagination(query, default_limit=None)
        try:
            entries, has_more = self._domains.page(limit=limit, after=after, before=before)
        except CursorError as exc:
            raise _unknown_cursor(exc) from None
        data = [entry.summary() for entry in entries]
        return json_answer(200, {"object": "list", "has_more": has_more, "data": data})

    def _create_domain(self, body: bytes | None) -> Answer:
        payload = _parse_json(body)
        if not isinstance(payload, dict):
            raise ApiError(422, "validation_error", "The request body must be a JSON object.")
        name = payload.get("name")
        if name is None:
            raise ApiError(422, "missing_required_field", "Missing `name` field.")
        if not isinstance(name, str) or not _DOMAIN_NAME.fullmatch(name.strip().lower()):
            raise ApiError(422, "validation_error", "Invalid `name` field: expected a domain name like example.com.")
        region = payload.get("region", "us-east-1")
        if region not in REGIONS:
            raise invalid_region(REGIONS)
        return_path = payload.get("custom_return_path", "send")
        if not isinstance(return_path, str) or not _RETURN_PATH.fullmatch(return_path):
            raise ApiError(
                422,
                "validation_error",
                "Invalid `custom_return_path` field: one subdomain label, like send or bounces.",
            )
        try:
            entry = self._domains.add(name, str(region), return_path=return_path)
        except ValueError as exc:
            message = f"The {name.strip().lower()} domain has been registered already."
            raise ApiError(403, "validation_error", message) from exc
        answer = entry.resource()
        answer.pop("object", None)
        return json_answer(201, answer)

    def _spend_latency(self, exchange: _Exchange) -> None:
        if exchange.latency > 0:
            latency, exchange.latency = exchange.latency, 0.0
            self._wait(latency)


_DOMAIN_NAME = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_RETURN_PATH = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _pagination(query: Mapping[str, str], *, default_limit: int | None) -> tuple[int | None, str | None, str | None]:
    raw = query.get("limit")
    if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= 100):
        raise ApiError(422, "validation_error", "The `limit` parameter must be a number between 1 and 100.")
    after, before = query.get("after"), query.get("before")
    if after is not None and before is not None:
        raise ApiError(422, "validation_error", "Use either the `after` or the `before` parameter, not both.")
    for name, value in (("after", after), ("before", before)):
        if value is not None and not value.strip():
            raise ApiError(422, "validation_error", f"The `{name}` parameter must not be empty.")
    return (int(raw) if raw is not None else default_limit), after, before


def _unknown_cursor(exc: CursorError) -> ApiError:
    return ApiError(422, "validation_error", f"The cursor `{exc.args[0]}` does not match any item in this list.")


def _not_scheduled(email_id: str, verb: str) -> ApiError:
    return ApiError(422, "validation_error", f"Email {email_id} is not scheduled, so it cannot be {verb}.")


def _idempotency_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 256:
        raise invalid_idempotency_key()
    return key


def _parse_json(body: bytes | None) -> object:
    if body is None:
        raise ApiError(413, "validation_error", "The request body is larger than the 40 MB Resend accepts.")
    if not body.strip():
        raise ApiError(400, "validation_error", "The request body is empty; expected JSON.")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "validation_error", f"The request body is not valid JSON: {exc}.") from None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
