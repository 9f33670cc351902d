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
``GET /_sandbox/settings``  the settings that are not faults (idempotency on refusal, rate limit...)
``POST /_sandbox/settings`` change some of them (a JSON object); 400 if one is bad
``GET /_sandbox/domains``   the domains the domains API serves, with their records
``POST /_sandbox/domains``  ``{"name", "status"?, "region"?, "records"?, "dkim"?, "return_path"?, "verify"?}``: add
                            the domain, or set its status (and per-record statuses); 400 if bad
``GET /_sandbox/api-keys``  every API key (id, name, permission, domain_id; never a token)
``POST /_sandbox/receiving``  the body, a raw RFC 5322 message, arrives as an inbound email -> ``{"id"}``
``GET /_sandbox/receiving`` received emails, oldest first
``GET /_sandbox/raw/{id}``  a received email's raw message (its ``raw.download_url``)
``GET /_sandbox/attachments/{id}``  an attachment's bytes (its ``download_url``)
``GET /_sandbox/shared?token=``  the email a share link shows; 410 once the link has expired
==========================  =============================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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

    def domains(self) -> list[dict[str, object]]:
        """Every domain, oldest first, with its records."""
        ...

    def settings(self) -> dict[str, object]:
        """The settings that are not faults."""
        ...

    def set_settings(self, settings: Mapping[str, object] | None = None, /, **changes: object) -> dict[str, object]:
        """Change settings; raises ``ValueError`` on a bad one, changing nothing."""
        ...

    def add_domain(
        self,
        name: str,
        *,
        region: str = ...,
        status: str = ...,
        dkim: str = ...,
        return_path: str = ...,
        verify: str = ...,
    ) -> dict[str, object]:
        """Add a domain; raises ``ValueError`` on a bad name, region or status, or a duplicate."""
        ...

    def set_domain_status(self, name_or_id: str, status: str, records: Sequence[str] | None = None) -> None:
        """Set a domain's status; ``KeyError`` when unknown, ``ValueError`` on a bad status."""
        ...

    def api_keys(self) -> list[dict[str, object]]:
        """Every API key, oldest first, without tokens."""
        ...

    def receive(self, raw: bytes) -> str:
        """Take in one inbound email; returns its id (``ApiError`` 400 when empty)."""
        ...

    def received(self) -> list[dict[str, object]]:
        """Received emails, oldest first."""
        ...

    def raw_message(self, email_id: str) -> bytes | None:
        """A received email's raw message."""
        ...

    def attachment_content(self, attachment_id: str) -> tuple[str, bytes] | None:
        """An attachment's content type and bytes."""
        ...

    def shared_email(self, token: str) -> dict[str, object] | None:
        """The email a live share link shows."""
        ...


def handle_admin(
    controls: SandboxControls,
    method: str,
    path: str,
    body: bytes | None,
    query: Mapping[str, str] | None = None,
) -> Answer:
    """Answer one request under ``/_sandbox/``."""
    try:
        return _route(controls, method, path.rstrip("/"), body, query or {})
    except ApiError as exc:
        return json_answer(exc.status, exc.body(), exc.headers)


def _download(method: str, found: tuple[str, bytes] | None, what: str) -> Answer:
    _allow(method, "GET")
    if found is None:
        raise not_found(f"No such {what}.")
    content_type, data = found
    return Answer(200, data, {"content-type": content_type})


def _route(controls: SandboxControls, method: str, path: str, body: bytes | None, query: Mapping[str, str]) -> Answer:
    reads = {
        "/_sandbox/emails": controls.emails,
        "/_sandbox/requests": controls.requests,
        "/_sandbox/webhooks": controls.webhooks,
        "/_sandbox/api-keys": controls.api_keys,
    }
    if path.startswith("/_sandbox/raw/"):
        raw = controls.raw_message(path.removeprefix("/_sandbox/raw/"))
        return _download(method, None if raw is None else ("message/rfc822", raw), "received email")
    if path.startswith("/_sandbox/attachments/"):
        return _download(method, controls.attachment_content(path.removeprefix("/_sandbox/attachments/")), "attachment")
    if path == "/_sandbox/shared":
        _allow(method, "GET")
        shown = controls.shared_email(query.get("token", ""))
        if shown is None:
            raise ApiError(410, "link_expired", "This share link has expired or never existed.")
        return json_answer(200, shown)
    if path == "/_sandbox/receiving":
        _allow(method, "GET", "POST")
        if method == "POST":
            return json_answer(201, {"id": controls.receive(body or b"")})
        return json_answer(200, controls.received())
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
    if path == "/_sandbox/settings":
        _allow(method, "GET", "POST")
        if method == "POST":
            changes = _json_object(body, what="settings", name="invalid_setting")
            try:
                return json_answer(200, controls.set_settings(changes))
            except ValueError as exc:
                raise ApiError(400, "invalid_setting", str(exc)) from None
        return json_answer(200, controls.settings())
    if path == "/_sandbox/domains":
        _allow(method, "GET", "POST")
        if method == "POST":
            _set_domain(controls, body)
        return json_answer(200, controls.domains())
    raise not_found(
        "Unknown sandbox endpoint; see /_sandbox/health, emails, requests, webhooks, faults, settings, reset,"
        " domains, api-keys, receiving."
    )


def _set_domain(controls: SandboxControls, body: bytes | None) -> None:
    """Add the domain named in ``body`` if it is new, then apply its ``status`` (and ``records``) if given."""
    settings = _json_object(body, what="domain settings", name="invalid_domain")
    name, status, region, records = (settings.get(key) for key in ("name", "status", "region", "records"))
    dkim, return_path = settings.get("dkim", "cname"), settings.get("return_path", "send")
    verify = settings.get("verify", "verified")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "invalid_domain", "`name` must be a domain name such as example.com.")
    if records is not None and (not isinstance(records, list) or not all(isinstance(r, str) for r in records)):
        raise ApiError(400, "invalid_domain", "`records` must be a list of record statuses.")
    try:
        if not any(domain["name"] == name.strip().lower() for domain in controls.domains()):
            controls.add_domain(
                name,
                region=str(region or "us-east-1"),
                dkim=str(dkim),
                return_path=str(return_path),
                verify=str(verify),
            )
        if status is not None or records is not None:
            controls.set_domain_status(name.strip().lower(), str(status or "pending"), records)
    except ValueError as exc:
        raise ApiError(400, "invalid_domain", str(exc)) from None


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise method_not_allowed()


def _json_object(body: bytes | None, *, what: str = "fault settings", name: str = "invalid_fault") -> dict[str, object]:
    try:
        value = json.loads((body or b"").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, name, f"The body must be a JSON object of {what}.") from None
    if not isinstance(value, dict):
        raise ApiError(400, name, f"The body must be a JSON object of {what}.")
    return value
