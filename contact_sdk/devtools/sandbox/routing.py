"""Which handler answers a method and a path: Resend's routes as templates, in the order they are tried.

A template is a path with ``{name}`` segments (``/emails/{email_id}/attachments/{attachment_id}``); a segment
matches anything but a slash. Routes are tried in order and the first whose path and method match answers, so
a literal path registered first (``POST /domains/claim``) is not taken for an id (``/domains/{domain_id}``),
while ``GET /domains/claim``, which only the id route takes, still reaches it. A path some route matches with
another method is 405 ``method_not_allowed`` with an ``allow`` header; a path no route matches is 404
``not_found``, as Resend answers both.

Example::

    router = Router()
    router.add("GET", "/emails/{email_id}", get_email)
    handler, params = router.resolve("GET", "/emails/4ef9a417-...")   # (get_email, {"email_id": "4ef9a417-..."})
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from contact_sdk.devtools.sandbox.errors import ApiError, method_not_allowed, not_found

__all__ = ["Router"]

H = TypeVar("H", bound=Callable[..., object])
_SEGMENT = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True, slots=True)
class _Route(Generic[H]):
    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: H


class Router(Generic[H]):
    """An ordered table of (methods, path template) -> handler."""

    def __init__(self) -> None:
        self._routes: list[_Route[H]] = []

    def add(self, methods: str | Iterable[str], template: str, handler: H) -> None:
        """Route ``methods`` (one or several) on ``template`` to ``handler``."""
        chosen = frozenset({methods} if isinstance(methods, str) else methods)
        regex = _SEGMENT.sub(
            lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        )
        self._routes.append(_Route(chosen, re.compile(f"^{regex}$"), handler))

    def resolve(self, method: str, path: str) -> tuple[H, dict[str, str]]:
        """The handler for ``method`` on ``path`` and the path's named segments; :class:`ApiError` 404 or 405."""
        allowed: set[str] = set()
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if method in route.methods:
                return route.handler, match.groupdict()
            allowed |= route.methods
        if allowed:
            error: ApiError = method_not_allowed()
            error.headers["allow"] = ", ".join(sorted(allowed))
            raise error
        raise not_found()

    def templates(self) -> list[tuple[frozenset[str], str]]:
        """Every route's methods and pattern, in order (for the docs and tests)."""
        return [(route.methods, route.pattern.pattern) for route in self._routes]
