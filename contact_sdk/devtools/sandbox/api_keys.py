"""API keys as Resend's ``/api-keys`` endpoints keep them, and the authorization every request goes through.

The sandbox starts with one full-access key, the one it was started with (listed as ``Sandbox key``). Keys
created through ``POST /api-keys`` are real keys of the sandbox: a ``sending_access`` key may only send
(``POST /emails``, ``POST /emails/batch``; anything else answers 401 ``restricted_api_key``), and, with a
``domain_id``, only from that domain (403 ``validation_error``). A deleted key, the first one included, is
refused from then on with 403 ``invalid_api_key``. ``last_used_at`` follows use.

============================  =========================================================================
``POST /api-keys``            ``{"name", "permission"?, "domain_id"?}`` -> 201 ``{"id", "token"}``
``GET /api-keys``             newest first, cursor-paginated -> ``{"object": "list", "has_more", "data"}``
``PATCH /api-keys/{id}``      ``{"name"}`` -> ``{"object": "api_key", "id"}``
``DELETE /api-keys/{id}``     -> ``{"object": "api_key", "id", "deleted": true}``
============================  =========================================================================
"""

from __future__ import annotations

import hmac
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from contact_sdk.devtools.sandbox.errors import ApiError, invalid_api_key, not_found
from contact_sdk.devtools.sandbox.exchange import Answer, ApiRequest, json_answer, json_object, pagination
from contact_sdk.devtools.sandbox.store import Clock, CursorError, paginate, resend_time

__all__ = ["PERMISSIONS", "ApiKey", "ApiKeyRoutes", "ApiKeyStore", "restricted_api_key"]

#: What a key may do: everything, or only send.
PERMISSIONS = ("full_access", "sending_access")
#: The longest name Resend takes for a key.
MAX_NAME_LENGTH = 50
#: The requests a sending-only key may make.
SENDING_ROUTES = frozenset({("POST", "/emails"), ("POST", "/emails/batch")})


def restricted_api_key() -> ApiError:
    """401: a sending-only key asked for something other than sending."""
    return ApiError(401, "restricted_api_key", "This API key is restricted to only send emails.")


@dataclass(slots=True)
class ApiKey:
    """One key: its id, name, token (shown once, at creation), permission and optional sending domain."""

    id: str
    name: str
    token: str
    permission: str
    domain_id: str | None
    created_at: float
    last_used_at: float | None = None

    def summary(self) -> dict[str, object]:
        """The key as ``GET /api-keys`` lists it (never its token)."""
        return {
            "id": self.id,
            "name": self.name,
            "created_at": resend_time(self.created_at),
            "last_used_at": None if self.last_used_at is None else resend_time(self.last_used_at),
        }


class ApiKeyStore:
    """The sandbox's keys, newest last; thread-safe."""

    def __init__(self, clock: Clock, *, first_token: str) -> None:
        """A store holding the sandbox's own full-access key, ``first_token``."""
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKey] = {}
        self._add("Sandbox key", "full_access", None, token=first_token)

    def _add(self, name: str, permission: str, domain_id: str | None, *, token: str | None = None) -> ApiKey:
        key = ApiKey(
            id=str(uuid.uuid4()),
            name=name,
            token=token or f"re_{secrets.token_urlsafe(24)}",
            permission=permission,
            domain_id=domain_id,
            created_at=self._clock(),
        )
        with self._lock:
            self._keys[key.id] = key
        return key

    def authorize(self, token: str) -> ApiKey:
        """The key whose token this is, its use recorded; 403 ``invalid_api_key`` for none (or a deleted one)."""
        with self._lock:
            for key in self._keys.values():
                if hmac.compare_digest(key.token.encode(), token.encode()):
                    key.last_used_at = self._clock()
                    return key
        raise invalid_api_key()

    def create(self, name: str, permission: str, domain_id: str | None) -> ApiKey:
        """A new key."""
        return self._add(name, permission, domain_id)

    def get(self, key_id: str) -> ApiKey | None:
        """The key with this id, if it exists."""
        with self._lock:
            return self._keys.get(key_id)

    def rename(self, key_id: str, name: str) -> bool:
        """Rename a key; False when there is none."""
        with self._lock:
            key = self._keys.get(key_id)
            if key is None:
                return False
            key.name = name
            return True

    def delete(self, key_id: str) -> bool:
        """Delete a key (its token stops working at once); False when there is none."""
        with self._lock:
            return self._keys.pop(key_id, None) is not None

    def page(self, *, limit: int, after: str | None, before: str | None) -> tuple[list[ApiKey], bool]:
        """Newest first, cursor-paginated."""
        with self._lock:
            newest_first = list(reversed(self._keys.values()))
        return paginate(newest_first, lambda key: key.id, limit=limit, after=after, before=before)

    def all(self) -> list[ApiKey]:
        """Every key, oldest first."""
        with self._lock:
            return list(self._keys.values())


class ApiKeyRoutes:
    """The ``/api-keys`` handlers over one :class:`ApiKeyStore`."""

    def __init__(self, keys: ApiKeyStore, *, domain_exists: Callable[[str], bool]) -> None:
        """``domain_exists`` says whether a ``domain_id`` names one of the sandbox's domains."""
        self._keys = keys
        self._domain_exists = domain_exists

    def create(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``POST /api-keys``."""
        payload = json_object(request.body)
        name = payload.get("name")
        if name is None:
            raise ApiError(422, "missing_required_field", "Missing `name` field.")
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise ApiError(422, "validation_error", f"The `name` field must be a string of at most {MAX_NAME_LENGTH}.")
        permission = payload.get("permission", "full_access")
        if permission not in PERMISSIONS:
            raise ApiError(422, "invalid_access", 'Access must be "full_access" | "sending_access".')
        domain_id = payload.get("domain_id")
        if domain_id is not None:
            if not isinstance(domain_id, str) or not self._domain_exists(domain_id):
                raise ApiError(422, "validation_error", "The `domain_id` field must name one of your domains.")
            if permission != "sending_access":
                raise ApiError(422, "validation_error", "`domain_id` is only used with `sending_access`.")
        key = self._keys.create(name, str(permission), domain_id)
        return json_answer(201, {"id": key.id, "token": key.token})

    def list(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``GET /api-keys``."""
        limit, after, before = pagination(request.query, default_limit=20)
        try:
            keys, has_more = self._keys.page(limit=limit or 20, after=after, before=before)
        except CursorError as exc:
            raise ApiError(422, "validation_error", f"The cursor `{exc.args[0]}` matches no API key.") from None
        return json_answer(200, {"object": "list", "has_more": has_more, "data": [key.summary() for key in keys]})

    def update(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``PATCH /api-keys/{api_key_id}``."""
        payload = json_object(request.body)
        name = payload.get("name")
        if name is None:
            raise ApiError(422, "missing_required_field", "Missing `name` field.")
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise ApiError(422, "validation_error", f"The `name` field must be a string of at most {MAX_NAME_LENGTH}.")
        if not self._keys.rename(params["api_key_id"], name):
            raise not_found("API key not found")
        return json_answer(200, {"object": "api_key", "id": params["api_key_id"]})

    def delete(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``DELETE /api-keys/{api_key_id}``."""
        if not self._keys.delete(params["api_key_id"]):
            raise not_found("API key not found")
        return json_answer(200, {"object": "api_key", "id": params["api_key_id"], "deleted": True})
