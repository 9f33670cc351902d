"""The Resend API surface: one request in, one :class:`Answer` out; no sockets here.

Order of checks, outermost first (what sits in front of Resend's application is faulted first)::

    outage window -> script step / random timeout / random failure     (faults.py)
    User-Agent -> Authorization (the key, alive, allowed this route) -> rate limit
                                                         (403 / 401 / 403 / 401 restricted_api_key / 429)
    route (404 not_found, 405 method_not_allowed) -> the resource's own checks -> store

The sends' own checks (``POST /emails``, ``POST /emails/batch``)::

    Idempotency-Key shape -> JSON -> idempotency claim -> validation -> sender domain -> store

A send's key is claimed before its body is validated, as an idempotency layer in front of the application
does: a request whose key is already done answers from the key (the first answer again, or 409) without
being validated again. What a refusal inside the claim (422 validation, 403 for a sender domain that is not
verified or not the restricted key's) does to the key is the ``idempotency_on_refusal`` setting: ``release``
gives the key back, ``record`` keeps it with that payload and that refusal for 24 hours (Resend does not
document which it does).

Before any of that, scheduled emails whose time has come (by the injected clock) move to ``sent``.
Routes (:meth:`ResendApi.routes` lists them): emails (send, batch, list, get, update, cancel, share, metrics),
their attachments, received emails and theirs, domains (create, list, get, update, delete, verify) and domain
claims, API keys (create, list, update, delete). Any other path answers 404 ``not_found`` "The requested
endpoint does not exist." as Resend does; a path with another method 405 ``method_not_allowed``.

Added latency is spent while the idempotency key is held (so a concurrent retry sees 409
``concurrent_idempotent_requests``), or just before answering for every other request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

from contact_sdk.devtools.sandbox.api_keys import SENDING_ROUTES, ApiKey, ApiKeyRoutes, ApiKeyStore, restricted_api_key
from contact_sdk.devtools.sandbox.attachments import AttachmentStore
from contact_sdk.devtools.sandbox.domain_api import DomainRoutes
from contact_sdk.devtools.sandbox.domains import DomainStore
from contact_sdk.devtools.sandbox.errors import (
    ApiError,
    invalid_api_key,
    invalid_idempotency_key,
    missing_api_key,
    missing_user_agent,
    not_found,
    rate_limit_exceeded,
    service_unavailable,
)
from contact_sdk.devtools.sandbox.exchange import (
    Answer,
    ApiRequest,
    Handler,
    error_answer,
    json_answer,
    json_object,
    pagination,
    parse_json,
    require_uuid,
)
from contact_sdk.devtools.sandbox.faults import FaultState, Step
from contact_sdk.devtools.sandbox.metrics import MetricsRoutes
from contact_sdk.devtools.sandbox.receiving import ReceivingRoutes, ReceivingStore
from contact_sdk.devtools.sandbox.routing import Router
from contact_sdk.devtools.sandbox.schedule import due_epoch
from contact_sdk.devtools.sandbox.sharing import ShareRoutes
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
from contact_sdk.devtools.sandbox.validation import bare_address, validate_batch, validate_email

__all__ = [
    "IDEMPOTENCY_ON_REFUSAL",
    "STORED_HEADERS",
    "Answer",
    "ApiRequest",
    "ResendApi",
    "error_answer",
    "json_answer",
    "unverified_domain",
]

#: What a refused request does to its Idempotency-Key: give it back (the default), or keep it.
IDEMPOTENCY_ON_REFUSAL: tuple[str, ...] = ("release", "record")

#: Request headers kept with each stored email (lower-case).
STORED_HEADERS: tuple[str, ...] = ("idempotency-key", "user-agent", "content-type", "x-batch-validation")

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
class _Exchange:
    record: RequestRecord
    latency: float
    window: RateWindow | None = None
    key: ApiKey | None = None


#: What the routes of this module take: the exchange (latency, log, key), the request, the path's segments.
_EmailHandler = Callable[[_Exchange, ApiRequest, dict[str, str]], Answer]


class ResendApi:
    """Answers requests to Resend's email, attachment, receiving, domain and API key endpoints as Resend would."""

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
        keys: ApiKeyStore | None = None,
        attachments: AttachmentStore | None = None,
        receiving: ReceivingStore | None = None,
        base_url: Callable[[], str] = lambda: "http://127.0.0.1",
        idempotency_on_refusal: str = "release",
        require_verified_domain: bool = False,
    ) -> None:
        """Wire the stores; ``wait(seconds)`` pauses and returns True when the sandbox is stopping.

        ``base_url`` is where the sandbox listens: download and share links point there.
        ``idempotency_on_refusal`` is ``release`` or ``record`` (see the module docstring);
        ``require_verified_domain`` refuses a ``from`` whose domain is not ``verified`` (403).
        """
        self._clock = clock
        self._emails = emails
        self._requests = requests
        self._idempotency = idempotency
        self._limiter = limiter
        self._faults = faults
        self._wait = wait
        self._on_accept = on_accept
        self._domains = domains if domains is not None else DomainStore(clock)
        self.strict = strict
        self.require_verified_domain = require_verified_domain
        self._on_refusal = "release"
        self.idempotency_on_refusal = idempotency_on_refusal
        self._keys = keys if keys is not None else ApiKeyStore(clock, first_token=api_key)
        self._attachments = attachments if attachments is not None else AttachmentStore(clock, base_url=base_url)
        self._receiving = receiving if receiving is not None else ReceivingStore(clock, self._attachments)
        self.shares = ShareRoutes(clock, base_url=base_url, exists=self._email_exists)
        self._router: Router[_EmailHandler] = Router()
        self._route_everything(base_url)

    def _route_everything(self, base_url: Callable[[], str]) -> None:
        """Resend's routes, literal paths before the ids they would otherwise be read as."""

        def plain(handler: Handler) -> _EmailHandler:
            return lambda exchange, request, params: handler(request, params)

        route = self._router.add
        receiving = ReceivingRoutes(self._receiving, self._attachments, self._clock, base_url)
        metrics = MetricsRoutes(
            self._clock,
            self._emails.all,
            lambda: [email.created_at for email in self._receiving.newest_first()],
            lambda: {entry.name: entry.id for entry in self._domains.page(limit=None, after=None, before=None)[0]},
        )
        domains = DomainRoutes(self._domains, self._clock)
        keys = ApiKeyRoutes(self._keys, domain_exists=lambda domain_id: self._domains.get(domain_id) is not None)
        route("POST", "/emails", self._send)
        route("GET", "/emails", plain(self._list))
        route("POST", "/emails/batch", self._send_batch)
        route("GET", "/emails/metrics", plain(metrics.get))
        route("GET", "/emails/receiving", plain(receiving.list))
        route("GET", "/emails/receiving/{email_id}", plain(receiving.get))
        route("GET", "/emails/receiving/{email_id}/attachments", plain(receiving.list_attachments))
        route("GET", "/emails/receiving/{email_id}/attachments/{attachment_id}", plain(receiving.get_attachment))
        route("GET", "/emails/{email_id}", plain(self._get))
        route("PATCH", "/emails/{email_id}", plain(self._update))
        route("POST", "/emails/{email_id}/cancel", plain(self._cancel))
        route("POST", "/emails/{email_id}/share", plain(self.shares.share))
        route("GET", "/emails/{email_id}/attachments", plain(self._list_attachments))
        route("GET", "/emails/{email_id}/attachments/{attachment_id}", plain(self._get_attachment))
        route("POST", "/domains", plain(domains.create))
        route("GET", "/domains", plain(domains.list))
        route("POST", "/domains/claim", plain(domains.create_claim))
        route("GET", "/domains/{domain_id}", plain(domains.get))
        route("PATCH", "/domains/{domain_id}", plain(domains.update))
        route("DELETE", "/domains/{domain_id}", plain(domains.remove))
        route("POST", "/domains/{domain_id}/verify", plain(domains.verify))
        route("GET", "/domains/{domain_id}/claim", plain(domains.get_claim))
        route("POST", "/domains/{domain_id}/claim/verify", plain(domains.verify_claim))
        route("POST", "/api-keys", plain(keys.create))
        route("GET", "/api-keys", plain(keys.list))
        route("PATCH", "/api-keys/{api_key_id}", plain(keys.update))
        route("DELETE", "/api-keys/{api_key_id}", plain(keys.delete))

    def routes(self) -> list[tuple[frozenset[str], str]]:
        """Every route's methods and path pattern, in the order they are tried."""
        return self._router.templates()

    def _email_exists(self, email_id: str) -> bool:
        return self._emails.get(email_id) is not None or self._receiving.get(email_id) is not None

    @property
    def keys(self) -> ApiKeyStore:
        """The API keys (the sandbox's own first)."""
        return self._keys

    @property
    def receiving(self) -> ReceivingStore:
        """The received emails."""
        return self._receiving

    @property
    def attachments(self) -> AttachmentStore:
        """The attachments of sent and received emails."""
        return self._attachments

    @property
    def idempotency_on_refusal(self) -> str:
        """``release`` (a refused request gives its key back) or ``record`` (the key keeps the refusal)."""
        return self._on_refusal

    @idempotency_on_refusal.setter
    def idempotency_on_refusal(self, value: str) -> None:
        if value not in IDEMPOTENCY_ON_REFUSAL:
            raise ValueError(
                f"idempotency_on_refusal must be one of {', '.join(IDEMPOTENCY_ON_REFUSAL)}, not {value!r}"
            )
        self._on_refusal = value

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
        if scheme.lower() != "bearer" or not token.strip():
            raise invalid_api_key()
        exchange.key = self._keys.authorize(token.strip())
        if exchange.key.permission == "sending_access" and (method, path) not in SENDING_ROUTES:
            raise restricted_api_key()
        allowed, exchange.window = self._limiter.take()
        if not allowed:
            raise rate_limit_exceeded(str(exchange.window.reset_seconds))
        handler, params = self._router.resolve(method, path)
        return handler(exchange, request, params)

    def _sending_domain_allowed(self, exchange: _Exchange, payload: dict[str, Any]) -> None:
        """A key restricted to a domain sends only from it (403 ``validation_error`` otherwise)."""
        key = exchange.key
        if key is None or key.domain_id is None:
            return
        entry = self._domains.get(key.domain_id)
        sender = bare_address(str(payload.get("from", ""))) or ""
        if entry is None or sender.rsplit("@", 1)[-1].lower() != entry.name:
            name = entry.name if entry is not None else "its domain"
            raise ApiError(403, "validation_error", f"This API key can only send from {name}.")

    def _send(self, exchange: _Exchange, request: ApiRequest, params: dict[str, str]) -> Answer:
        headers = request.headers
        key = _idempotency_key(headers)
        payload = parse_json(request.body)

        def store() -> tuple[int, object]:
            email = validate_email(payload, strict=self.strict)
            self._sending_domain_allowed(exchange, email)
            self._check_sender(email)
            record = self._store(email, headers, "/emails", exchange)
            return 200, {"id": record.id}

        return self._idempotent(exchange, key, "/emails", payload, store)

    def _send_batch(self, exchange: _Exchange, request: ApiRequest, params: dict[str, str]) -> Answer:
        headers = request.headers
        key = _idempotency_key(headers)
        mode = headers.get("x-batch-validation", "strict").strip().lower()
        if mode not in ("strict", "permissive"):
            raise ApiError(422, "validation_error", "The `x-batch-validation` header must be strict or permissive.")
        payload = parse_json(request.body)

        def store() -> tuple[int, object]:
            valid, errors = validate_batch(payload, permissive=mode == "permissive", strict=self.strict)
            items = cast("list[dict[str, Any]]", payload)
            for index in valid:
                self._sending_domain_allowed(exchange, items[index])
                self._check_sender(items[index])
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
            status, result = replay
            if status >= 400:  # a refusal kept with the key (idempotency_on_refusal=record): the same again
                refusal = cast("dict[str, Any]", result)
                raise ApiError(status, str(refusal["name"]), str(refusal["message"]))
            return json_answer(status, result)
        try:
            self._spend_latency(exchange)  # the key stays "in flight" for the whole latency
            status, result = store()
        except ApiError as refusal:
            if self._on_refusal == "record":
                self._idempotency.complete(key, refusal.status, refusal.body())
            else:
                self._idempotency.release(key)
            raise
        except BaseException:
            self._idempotency.release(key)
            raise
        self._idempotency.complete(key, status, result)
        return json_answer(status, result)

    def _check_sender(self, email: Mapping[str, Any]) -> None:
        """With ``require_verified_domain``, refuse a ``from`` whose domain is not a verified domain (403)."""
        if not self.require_verified_domain:
            return
        address = bare_address(str(email["from"])) or ""
        domain = address.rpartition("@")[2].lower()
        entry = self._domains.get(domain)
        if entry is None or entry.name != domain or entry.status != "verified":
            raise unverified_domain(domain)

    def _store(
        self, payload: dict[str, Any], headers: Mapping[str, str], endpoint: str, exchange: _Exchange
    ) -> EmailRecord:
        kept = {name: headers[name] for name in STORED_HEADERS if name in headers}
        scheduled_at = payload.get("scheduled_at")
        due = due_epoch(scheduled_at, now=self._clock()) if isinstance(scheduled_at, str) else None
        record = self._emails.add(payload, kept, endpoint, due)
        if isinstance(payload.get("attachments"), list):
            self._attachments.add_sent(record.id, payload["attachments"])
        exchange.record.email_ids.append(record.id)
        self._on_accept(record)
        return record

    def _get(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        record = self._emails.get(params["email_id"])
        if record is None:
            raise not_found("Email not found.")
        return json_answer(200, record.resource())

    def _list_attachments(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        email_id = require_uuid(params["email_id"])
        if self._emails.get(email_id) is None:
            raise not_found("Email not found.")
        limit, after, before = pagination(request.query, default_limit=20)
        try:
            data, has_more = self._attachments.listing(email_id, limit=limit or 20, after=after, before=before)
        except CursorError as exc:
            raise _unknown_cursor(exc) from None
        return json_answer(200, {"object": "list", "has_more": has_more, "data": data})

    def _get_attachment(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        email_id, attachment_id = require_uuid(params["email_id"]), require_uuid(params["attachment_id"])
        if self._emails.get(email_id) is None:
            raise not_found("Email not found.")
        found = next((a for a in self._attachments.of(email_id) if a.id == attachment_id), None)
        if found is None:
            raise not_found("Attachment not found.")
        return json_answer(200, self._attachments.detail(found))

    def _list(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        limit, after, before = pagination(request.query, default_limit=20)
        try:
            page = self._emails.page(limit=limit or 20, after=after, before=before)
        except CursorError as exc:
            raise _unknown_cursor(exc) from None
        data = [record.resource() for record in page.items]
        return json_answer(200, {"object": "list", "has_more": page.has_more, "data": data})

    def _update(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        email_id = params["email_id"]
        payload = json_object(request.body)
        unknown = sorted(set(payload) - {"id", "scheduled_at"})
        if unknown and self.strict:
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

    def _cancel(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        email_id = params["email_id"]
        if self._emails.get(email_id) is None:
            raise not_found("Email not found.")
        if not self._emails.cancel(email_id):
            raise _not_scheduled(email_id, "canceled")
        return json_answer(200, {"object": "email", "id": email_id})

    def _spend_latency(self, exchange: _Exchange) -> None:
        if exchange.latency > 0:
            latency, exchange.latency = exchange.latency, 0.0
            self._wait(latency)


def unverified_domain(domain: str) -> ApiError:
    """403: the sender's domain is not a verified domain of the team (Resend's own wording)."""
    return ApiError(
        403,
        "validation_error",
        f"The {domain} domain is not verified. Please, add and verify your domain on https://resend.com/domains",
    )


def _unknown_cursor(exc: CursorError) -> ApiError:
    return ApiError(422, "validation_error", f"The cursor `{exc.args[0]}` does not match any item in this list.")


def _not_scheduled(email_id: str, verb: str) -> ApiError:
    return ApiError(422, "validation_error", f"Email {email_id} is not scheduled, so it cannot be {verb}.")


def _idempotency_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 256:
        raise invalid_idempotency_key()
    return key


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
