"""The ``/domains`` endpoints, domain claims included, over the sandbox's :class:`DomainStore`.

=========================================  =======================================================================
``POST /domains``                          ``{"name", "region"?, "custom_return_path"?, ...}`` -> 201, records
``GET /domains``                           newest first (cursor pagination with ``limit``/``after``/``before``)
``GET /domains/{domain_id}``               the domain with its records
``PATCH /domains/{domain_id}``             tracking, TLS, capabilities, tracking subdomain -> ``{"object", "id"}``
``DELETE /domains/{domain_id}``            -> ``{"object": "domain", "id", "deleted": true}``; gone from then on
``POST /domains/{domain_id}/verify``       the domain and its records take the verify outcome (``verified``
                                           unless the sandbox was told ``failed``) -> ``{"object", "id"}``
``POST /domains/claim``                    a claim of a domain "another account" verified: 201 with the TXT record
                                           to publish, 200 with the same claim when an identical one is pending
``GET /domains/{domain_id}/claim``         the latest claim of that (placeholder) domain
``POST /domains/{domain_id}/claim/verify`` starts verification: answered ``pending``, ``completed`` from then on,
                                           the domain becoming a normal one with fresh DKIM records
=========================================  =======================================================================

A bad region is 422 ``invalid_region`` with Resend's message; a missing ``name`` 422 ``missing_required_field``;
an unknown id 404 ``not_found``.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from contact_sdk.devtools.sandbox.domains import REGIONS, DomainEntry, DomainStore
from contact_sdk.devtools.sandbox.errors import ApiError, invalid_region, not_found
from contact_sdk.devtools.sandbox.exchange import Answer, ApiRequest, json_answer, json_object, pagination
from contact_sdk.devtools.sandbox.store import Clock, CursorError, resend_time

__all__ = ["CLAIM_TTL_SECONDS", "DomainRoutes"]

#: How long a claim waits for its TXT record before it expires.
CLAIM_TTL_SECONDS = 7 * 24 * 3600
_DOMAIN_NAME = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_CAPABILITY = ("enabled", "disabled")


@dataclass(slots=True)
class _Claim:
    id: str
    name: str
    domain_id: str
    region: str
    token: str
    created_at: float
    status: str = "pending"
    verifying: bool = False

    def resource(self, now: float) -> dict[str, object]:
        status = self.status
        if status == "pending" and self.verifying:
            status = self.status = "completed"
        if status == "pending" and now >= self.created_at + CLAIM_TTL_SECONDS:
            status = self.status = "expired"
        return {
            "object": "domain_claim",
            "id": self.id,
            "name": self.name,
            "status": status,
            "domain_id": self.domain_id,
            "region": self.region,
            "record": {
                "type": "TXT",
                "name": self.name,
                "value": f"resend-domain-verification={self.token}",
                "ttl": "Auto",
            },
            "blocked_reason": None,
            "failure_reason": None,
            "created_at": resend_time(self.created_at),
            "expires_at": resend_time(self.created_at + CLAIM_TTL_SECONDS),
        }


def _name(payload: dict[str, Any]) -> str:
    name = payload.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        raise ApiError(422, "missing_required_field", "Missing `name` field.")
    if not isinstance(name, str) or not _DOMAIN_NAME.fullmatch(name.strip().lower()):
        raise ApiError(422, "validation_error", "Invalid `name` field: expected a domain name like example.com.")
    return name.strip().lower()


def _region(payload: dict[str, Any]) -> str:
    region = payload.get("region", "us-east-1")
    if region not in REGIONS:
        raise invalid_region(REGIONS)
    return str(region)


def _label(payload: dict[str, Any], field_name: str, default: str | None) -> str | None:
    value = payload.get(field_name, default)
    if value is not None and (not isinstance(value, str) or not _LABEL.fullmatch(value)):
        raise ApiError(422, "validation_error", f"Invalid `{field_name}` field: one subdomain label, like send.")
    return value


def _flag(payload: dict[str, Any], field_name: str) -> bool | None:
    value = payload.get(field_name)
    if value is not None and not isinstance(value, bool):
        raise ApiError(422, "validation_error", f"Invalid `{field_name}` field: expected true or false.")
    return value


class DomainRoutes:
    """The domain and claim handlers."""

    def __init__(self, domains: DomainStore, clock: Clock) -> None:
        """Handlers over ``domains``, reading time from ``clock``."""
        self._domains = domains
        self._clock = clock
        self._claims: list[_Claim] = []
        self._lock = threading.Lock()

    def _entry(self, domain_id: str) -> DomainEntry:
        entry = self._domains.get(domain_id)
        if entry is None or entry.id != domain_id:
            raise not_found("Domain not found")
        return entry

    def create(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``POST /domains``."""
        payload = json_object(request.body)
        name, region = _name(payload), _region(payload)
        return_path = _label(payload, "custom_return_path", "send") or "send"
        try:
            entry = self._domains.add(name, region, return_path=return_path)
        except ValueError as exc:
            raise ApiError(403, "validation_error", f"The {name} domain has been registered already.") from exc
        self._apply(entry, payload)
        answer = entry.resource()
        answer.pop("object", None)
        return json_answer(201, answer)

    def list(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``GET /domains``."""
        limit, after, before = pagination(request.query, default_limit=None)
        try:
            entries, has_more = self._domains.page(limit=limit, after=after, before=before)
        except CursorError as exc:
            raise ApiError(422, "validation_error", f"The cursor `{exc.args[0]}` matches no domain.") from None
        return json_answer(200, {"object": "list", "has_more": has_more, "data": [e.summary() for e in entries]})

    def get(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``GET /domains/{domain_id}``."""
        return json_answer(200, self._entry(params["domain_id"]).resource())

    def update(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``PATCH /domains/{domain_id}``: fields Resend does not take for an update (the SDK's ``id``) are ignored."""
        entry = self._entry(params["domain_id"])
        self._apply(entry, json_object(request.body, empty=True))
        return json_answer(200, {"object": "domain", "id": entry.id})

    def _apply(self, entry: DomainEntry, payload: dict[str, Any]) -> None:
        changes: dict[str, object] = {}
        for field_name in ("open_tracking", "click_tracking"):
            if (flag := _flag(payload, field_name)) is not None:
                changes[field_name] = flag
        tls = payload.get("tls")
        if tls is not None:
            if tls not in ("opportunistic", "enforced"):
                raise ApiError(422, "validation_error", "Invalid `tls` field: opportunistic or enforced.")
            changes["tls"] = tls
        capabilities = payload.get("capabilities")
        if capabilities is not None:
            if not isinstance(capabilities, dict) or any(
                key not in ("sending", "receiving") or value not in _CAPABILITY for key, value in capabilities.items()
            ):
                raise ApiError(
                    422, "validation_error", "Invalid `capabilities`: sending/receiving enabled or disabled."
                )
            merged = {"sending": entry.sending, "receiving": entry.receiving, **capabilities}
            if "enabled" not in merged.values():
                raise ApiError(422, "validation_error", "At least one capability must be enabled.")
            changes["sending"], changes["receiving"] = merged["sending"], merged["receiving"]
        if "tracking_subdomain" in payload:
            changes["tracking_subdomain"] = _label(payload, "tracking_subdomain", None)
        self._domains.update(entry.id, **changes)

    def remove(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``DELETE /domains/{domain_id}``."""
        entry = self._entry(params["domain_id"])
        self._domains.remove(entry.id)
        return json_answer(200, {"object": "domain", "id": entry.id, "deleted": True})

    def verify(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``POST /domains/{domain_id}/verify``."""
        entry = self._entry(params["domain_id"])
        self._domains.verify(entry.id)
        return json_answer(200, {"object": "domain", "id": entry.id})

    def create_claim(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``POST /domains/claim``."""
        payload = json_object(request.body)
        name, region = _name(payload), _region(payload)
        return_path = _label(payload, "custom_return_path", "send") or "send"
        now = self._clock()
        with self._lock:
            for claim in reversed(self._claims):
                if claim.name == name and claim.region == region and claim.resource(now)["status"] == "pending":
                    return json_answer(200, claim.resource(now))
        existing = self._domains.get(name)
        if existing is not None and not any(c.domain_id == existing.id for c in self._claims):
            raise ApiError(422, "validation_error", f"The {name} domain is already in your account.")
        if existing is None:
            existing = self._domains.add(name, region, return_path=return_path)
            self._apply(existing, payload)
        claim = _Claim(str(uuid.uuid4()), name, existing.id, region, secrets.token_hex(16), now)
        with self._lock:
            self._claims.append(claim)
        return json_answer(201, claim.resource(now))

    def _claim(self, domain_id: str) -> _Claim:
        with self._lock:
            found = [claim for claim in self._claims if claim.domain_id == domain_id]
        if not found or self._domains.get(domain_id) is None:
            raise not_found("Domain claim not found")
        return found[-1]

    def get_claim(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``GET /domains/{domain_id}/claim``."""
        return json_answer(200, self._claim(params["domain_id"]).resource(self._clock()))

    def verify_claim(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``POST /domains/{domain_id}/claim/verify``: pending now, completed when next read."""
        claim = self._claim(params["domain_id"])
        now = self._clock()
        answer = claim.resource(now)
        if answer["status"] != "pending":
            raise ApiError(422, "validation_error", f"The claim is {answer['status']} and cannot be verified again.")
        with self._lock:
            claim.verifying = True
        self._domains.renew_dkim(claim.domain_id)
        return json_answer(200, answer)
