"""The origin allow-list, the CORS headers it grants, and the security headers every response carries.

An origin is allowed when it matches an entry of the allow-list exactly on scheme, host and port.
Matching is done on a canonical form (lower-case scheme and host, default port dropped, no trailing
slash), so ``https://Example.com:443/`` and ``https://example.com`` are the same origin. The literal
``null`` origin (sandboxed frames, ``file:`` pages, some redirects) is never allowed, and neither is
``*``: CORS headers always echo one allowed origin.

Example::

    policy = OriginPolicy(["https://example.com", "http://localhost:3000"])
    policy.is_allowed("https://example.com")          # True
    policy.cors_headers("https://example.com")        # {"Access-Control-Allow-Origin": "https://example.com", ...}
    policy.cors_headers("https://evil.example")       # {}
"""

from __future__ import annotations

import functools
import ipaddress
import re
import types
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from contact_sdk.errors import ConfigurationError

__all__ = [
    "CORS_ALLOW_HEADERS",
    "CORS_ALLOW_METHODS",
    "CORS_MAX_AGE_SECONDS",
    "SECURITY_HEADERS",
    "OriginPolicy",
    "canonical_origin",
]

#: Request headers a browser may send cross-origin (the form posts JSON with a CSRF header).
CORS_ALLOW_HEADERS = "Content-Type, X-CSRF-Token"
#: Methods the API answers cross-origin.
CORS_ALLOW_METHODS = "GET, POST, OPTIONS"
#: How long a browser may cache a preflight answer, in seconds.
CORS_MAX_AGE_SECONDS = 600

#: Headers on every response, whatever its status (contract section 3).
SECURITY_HEADERS: Mapping[str, str] = types.MappingProxyType(
    {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    }
)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 1123 host labels; internationalised hosts arrive punycoded in the Origin header.
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _canonical_host(host: str) -> str | None:
    if host.startswith("[") and host.endswith("]"):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            return None
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return None
    return host


@functools.lru_cache(maxsize=512)
def canonical_origin(origin: str) -> str | None:
    """Return the canonical ``scheme://host[:port]`` form of ``origin``, or ``None`` if it is not an origin.

    Scheme and host are lower-cased, the scheme's default port is dropped and one trailing slash is
    tolerated. Anything with a path, query, fragment, user info or a scheme other than http(s) is not
    an origin.

    >>> canonical_origin("HTTPS://Example.COM:443/")
    'https://example.com'
    >>> canonical_origin("http://localhost:3000")
    'http://localhost:3000'
    >>> canonical_origin("null") is None
    True

    Pure, so results are cached (bounded): a request asks for the same origin up to four times.
    """
    text = origin.strip()
    if not text or len(text) > 2048 or not text.isascii():
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if "@" in parts.netloc or parts.hostname is None:
        return None
    raw_host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if raw_host.endswith(":"):  # "https://example.com:" has an empty port
        return None
    host = _canonical_host(raw_host.lower())
    if host is None:
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class OriginPolicy:
    """Which browser origins may call the API, and the CORS headers an allowed origin receives.

    Example::

        policy = OriginPolicy(settings.allowed_origins)
        if not policy.is_allowed(headers.get("origin")):
            ...  # 403 origin_not_allowed, no CORS headers
        response_headers = {**SECURITY_HEADERS, **policy.cors_headers(headers.get("origin"))}

    Raises :class:`~contact_sdk.errors.ConfigurationError` naming the entry when an allow-list entry is
    not an origin (``*`` included). An empty allow-list refuses every origin.
    """

    __slots__ = ("_allowed",)

    def __init__(self, allowed_origins: Iterable[str]) -> None:
        allowed: set[str] = set()
        for entry in allowed_origins:
            canonical = canonical_origin(entry)
            if canonical is None:
                raise ConfigurationError(
                    f"allowed origins: {entry!r} is not an origin (expected scheme://host[:port], never '*')"
                )
            allowed.add(canonical)
        self._allowed = frozenset(allowed)

    @property
    def allowed_origins(self) -> frozenset[str]:
        """The allow-list in canonical form."""
        return self._allowed

    def is_allowed(self, origin: str | None) -> bool:
        """Whether ``origin`` (the request's ``Origin`` header, ``None`` when absent) is on the allow-list.

        An absent header, ``null`` and anything that is not an origin are never allowed.
        """
        if origin is None:
            return False
        canonical = canonical_origin(origin)
        return canonical is not None and canonical in self._allowed

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        """The CORS headers for a response to ``origin``: the full set when allowed, ``{}`` otherwise.

        ``Access-Control-Allow-Origin`` echoes the origin exactly as the browser sent it, since the
        browser compares it byte for byte with its own.
        """
        if origin is None or not self.is_allowed(origin):
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
            "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
            "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
            "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
        }
