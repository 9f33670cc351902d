"""Read a sending domain from Resend's domains API: the records Resend wants published, and their status.

Operator tooling for ``contact-sdk dns`` (the Lambda function never imports it). It finds the
domain by name with ``GET /domains`` (following the cursor until it is found) and reads its
records with ``GET /domains/{domain_id}``. Every failure is a :class:`ResendDomainsError` whose
message says what to do: a refused key (Resend's domains API needs a full-access key, not a
sending-only one), a domain missing from the account, a rate limit, an unreachable or non-JSON API.

Example::

    domain = fetch_domain("example.com", api_key="re_...", api_url="https://api.resend.com")
    domain["status"], [r["name"] for r in domain["records"]]   # "verified", ["send", "send", ...]
"""

from __future__ import annotations

from typing import Any

import httpx

from contact_sdk._version import __version__
from contact_sdk.errors import ContactSdkError

__all__ = ["DEFAULT_API_URL", "ResendDomainsError", "fetch_domain"]

#: Resend's API, unless ``--api-url`` or ``RESEND_API_URL`` says otherwise (the sandbox, for example).
DEFAULT_API_URL = "https://api.resend.com"
_PAGE = 100
_MAX_PAGES = 50


class ResendDomainsError(ContactSdkError):
    """Resend's domains API could not tell us the domain's records; the message says why."""


def fetch_domain(
    name: str,
    *,
    api_key: str,
    api_url: str = DEFAULT_API_URL,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """The ``GET /domains/{id}`` answer for the account's domain called ``name`` (lower-case, no trailing dot)."""
    if not api_key.strip():
        raise ResendDomainsError("the Resend API key is empty")
    headers = {
        "Authorization": f"Bearer {api_key.strip()}",
        "User-Agent": f"contact-sdk/{__version__}",
        "Accept": "application/json",
    }
    base = api_url.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=timeout, transport=transport) as client:
        domain_id, names = _find(client, name, base)
        if domain_id is None:
            known = ", ".join(names) if names else "none"
            raise ResendDomainsError(
                f"{name} is not a domain of this Resend account (its domains: {known}); add it in Resend first"
            )
        resource = _get_json(client, f"/domains/{domain_id}", base)
    if not isinstance(resource, dict):
        raise ResendDomainsError(f"{base}/domains/{domain_id} answered {type(resource).__name__}, not an object")
    return resource


def _find(client: httpx.Client, name: str, base: str) -> tuple[str | None, list[str]]:
    names: list[str] = []
    params: dict[str, str | int] = {"limit": _PAGE}
    for _ in range(_MAX_PAGES):
        page = _get_json(client, "/domains", base, params)
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise ResendDomainsError(f"{base}/domains answered without a `data` list")
        for item in data:
            if not isinstance(item, dict) or not all(isinstance(item.get(key), str) for key in ("id", "name")):
                raise ResendDomainsError(f"{base}/domains listed an item without string `id` and `name`: {item!r}")
            if item["name"].lower().rstrip(".") == name:
                return item["id"], names
            names.append(item["name"])
        if not (isinstance(page, dict) and page.get("has_more") is True and data):
            return None, names
        params = {"limit": _PAGE, "after": data[-1]["id"]}
    return None, names


def _get_json(client: httpx.Client, path: str, base: str, params: dict[str, str | int] | None = None) -> Any:
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise ResendDomainsError(f"cannot reach {base}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        raise ResendDomainsError(_refusal(response, body, base + path))
    if body is None:
        raise ResendDomainsError(f"{base}{path} answered {response.status_code} without JSON")
    return body


def _refusal(response: httpx.Response, body: object, where: str) -> str:
    name = body.get("name") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    said = f"{response.status_code} {name}: {message}" if name else f"{response.status_code} {response.reason_phrase}"
    if response.status_code in (401, 403):
        return f"Resend refused the API key at {where} ({said}); the domains API needs a full-access key"
    if response.status_code == 429:
        wait = response.headers.get("retry-after", "a few")
        return f"Resend rate-limited the request at {where} ({said}); try again in {wait} s"
    return f"{where} answered {said}"
