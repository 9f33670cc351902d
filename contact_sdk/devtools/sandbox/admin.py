"""The ``/_sandbox/*`` control endpoints: what was received, and the fault switches.

No authentication: the sandbox listens on loopback only unless told otherwise.

==========================  =============================================================
``GET /_sandbox/health``    ``{"status": "ok"}``
``GET /_sandbox/emails``    accepted emails, newest last (id, body, headers, created_at)
``GET /_sandbox/requests``  every API request, refused and faulted ones included
``GET /_sandbox/webhooks``  every webhook delivery attempt
``POST /_sandbox/reset``    forget emails, requests, idempotency keys, webhooks and faults
``GET /_sandbox/faults``    the fault settings now
``POST /_sandbox/faults``   merge a JSON object of settings (see :mod:`.faults`); 400 if bad
``DELETE /_sandbox/faults`` no faults
==========================  =============================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Protocol

from contact_sdk.devtools.sandbox.api import Answer, json_answer
from contact_sdk.devtools.sandbox.errors import ApiError, method_not_allowed, not_found
from contact_sdk.devtools.sandbox.faults import FaultSpecError

__all__ = ["SandboxControls", "handle_admin"]


class SandboxControls(Protocol):
    """What the admin endpoints need from a sandbox (``ResendSandbox`` provides it)."""

    def emails(self) -> list[dict[str, object]]:
        """Accepted emails, oldest first."""
        ...

    def requests(self) -> list[dict[str, object]]:
        """Every API request, oldest first."""
        ...

    def webhooks(self) -> list[dict[str, object]]:
        """Every webhook delivery attempt, oldest first."""
        ...

    def reset(self) -> None:
        """Forget everything received and clear the faults."""
        ...

    def faults(self) -> dict[str, object]:
        """The fault settings now."""
        ...

    def set_faults(self, settings: Mapping[str, object] | None = None, /, **changes: object) -> dict[str, object]:
        """Merge fault settings; raises ``FaultSpecError`` on a bad one."""
        ...

    def clear_faults(self) -> None:
        """No faults."""
        ...


def handle_admin(controls: SandboxControls, method: str, path: str, body: bytes | None) -> Answer:
    """Answer one request under ``/_sandbox/``."""
    try:
        return _route(controls, method, path.rstrip("/"), body)
    except ApiError as exc:
        return json_answer(exc.status, exc.body(), exc.headers)


def _route(controls: SandboxControls, method: str, path: str, body: bytes | None) -> Answer:
    reads = {
        "/_sandbox/emails": controls.emails,
        "/_sandbox/requests": controls.requests,
        "/_sandbox/webhooks": controls.webhooks,
    }
    if path in reads:
        _allow(method, "GET")
        return json_answer(200, reads[path]())
    if path == "/_sandbox/health":
        _allow(method, "GET")
        return json_answer(200, {"status": "ok"})
    if path == "/_sandbox/reset":
        _allow(method, "POST")
        controls.reset()
        return json_answer(200, {"reset": True})
    if path == "/_sandbox/faults":
        _allow(method, "GET", "POST", "DELETE")
        if method == "POST":
            settings = _json_object(body)
            try:
                return json_answer(200, controls.set_faults(settings))
            except FaultSpecError as exc:
                raise ApiError(400, "invalid_fault", str(exc)) from None
        if method == "DELETE":
            controls.clear_faults()
        return json_answer(200, controls.faults())
    raise not_found("Unknown sandbox endpoint; see /_sandbox/health, emails, requests, webhooks, faults, reset.")


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise method_not_allowed()


def _json_object(body: bytes | None) -> dict[str, object]:
    try:
        value = json.loads((body or b"").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, "invalid_fault", "The body must be a JSON object of fault settings.") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_fault", "The body must be a JSON object of fault settings.")
    return value
