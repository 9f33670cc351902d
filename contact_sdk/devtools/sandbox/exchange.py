"""One request in, one answer out: the shapes every route of the sandbox's Resend API shares.

:class:`ApiRequest` and :class:`Answer` carry no sockets; the helpers parse what Resend's endpoints have in
common (a JSON body, cursor pagination, UUID path segments) and refuse what Resend refuses, with its names.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contact_sdk.devtools.sandbox.errors import ApiError

__all__ = [
    "Answer",
    "ApiRequest",
    "Handler",
    "error_answer",
    "json_answer",
    "json_object",
    "pagination",
    "parse_json",
    "require_uuid",
]


@dataclass(slots=True)
class Answer:
    """What to send back: status, body, headers, and how (after a hang, or not at all)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0.0
    reset: bool = False


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One request to the API surface; header names are lower-case, ``body`` is ``None`` when too large.

    ``query`` keeps each parameter's last value; ``query_lists`` every value in order (a parameter may repeat).
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes | None
    query_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


#: A route's handler: the request and the path's named segments, to an answer.
Handler = Callable[[ApiRequest, dict[str, str]], Answer]


def json_answer(status: int, payload: object, headers: Mapping[str, str] | None = None) -> Answer:
    """A JSON answer."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Answer(status, body, {"content-type": "application/json; charset=utf-8", **(headers or {})})


def error_answer(error: ApiError) -> Answer:
    """Resend's error body for ``error``, with its extra headers."""
    return json_answer(error.status, error.body(), error.headers)


def parse_json(body: bytes | None, *, empty: object = ...) -> object:
    """The body as JSON; ``empty`` (when given) stands for no body at all, else an empty body is refused."""
    if body is None:
        raise ApiError(413, "validation_error", "The request body is larger than the 40 MB Resend accepts.")
    if not body.strip():
        if empty is not ...:
            return empty
        raise ApiError(400, "validation_error", "The request body is empty; expected JSON.")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "validation_error", f"The request body is not valid JSON: {exc}.") from None


def json_object(body: bytes | None, *, empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object (``{}`` for no body when ``empty``); 422 ``validation_error`` otherwise."""
    payload = parse_json(body, empty={} if empty else ...)
    if not isinstance(payload, dict):
        raise ApiError(422, "validation_error", "The request body must be a JSON object.")
    return payload


def pagination(query: Mapping[str, str], *, default_limit: int | None) -> tuple[int | None, str | None, str | None]:
    """``limit`` (1-100), ``after`` or ``before`` (not both, not empty), as Resend's list endpoints take them."""
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


def require_uuid(value: str) -> str:
    """``value`` if it is a UUID (an id Resend's OpenAPI says is one); 422 ``invalid_parameter`` otherwise."""
    try:
        uuid.UUID(value)
    except ValueError:
        raise ApiError(422, "invalid_parameter", "The parameter must be a valid UUID.") from None
    if not re.fullmatch(r"[0-9a-fA-F-]{36}", value):
        raise ApiError(422, "invalid_parameter", "The parameter must be a valid UUID.")
    return value
