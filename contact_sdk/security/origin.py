"""The origin allow-list, the CORS headers it grants, and the security headers every response carries.

An origin is allowed when it matches an entry of the allow-list exactly on scheme, host and port.
The only normalisation is the one a browser itself performs when it serialises an origin: scheme and
host lower-cased, the scheme's default port dropped. So ``HTTPS://Example.com:443`` is
``https://example.com``, but anything a browser never sends in ``Origin`` is refused outright: a path
(even a lone ``/``), a query or fragment (even an empty ``?`` or ``#``), user info, an empty port
(``host:``) or a port spelled oddly (``:08080``, ``:+80``). The literal ``null`` origin (sandboxed
frames, ``file:`` pages, some redirects) is never allowed, and neither is ``*``.
``Access-Control-Allow-Origin`` carries the allowed origin's canonical form, never the request's
spelling.

Allow-list entries (operator configuration) may carry one trailing slash; nothing else is forgiven.

Example::

    policy = OriginPolicy(["https://example.com", "http://localhost:3000"])
    policy.is_allowed("https://example.com")          # True
    policy.cors_headers("HTTPS://EXAMPLE.COM")        # {"Access-Control-Allow-Origin": "https://example.com", ...}
    policy.cors_headers("https://evil.example")       # {}
"""

from __future__ import annotations

import functools
import ipaddress
import re
import types
from collections.abc import Iterable, Mapping

from contact_sdk.errors import ConfigurationError

__all__ = [
    "CORS_ALLOW_HEADERS",
    "CORS_ALLOW_METHODS",
    "CORS_EXPOSE_HEADERS",
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
#: Response headers a page on another origin may read: when to retry, and which request to quote.
CORS_EXPOSE_HEADERS = "Retry-After, X-Request-Id"

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
# The whole serialised origin: scheme "://" host [":" port], and nothing else (no path, query, fragment,
# user info). The port is a plain decimal number without a leading zero: what a browser writes.
_ORIGIN = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[1-9][0-9]{0,4}))?"
)


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

    Scheme and host are lower-cased and the scheme's default port is dropped: the canonicalisation a
    browser performs. Anything a browser never sends as an ``Origin`` -- a path (``/`` included), a
    query or fragment (empty ones included), user info, an empty port or one with a leading zero, a
    scheme other than http(s) -- is not an origin.

    >>> canonical_origin("HTTPS://Example.COM:443")
    'https://example.com'
    >>> canonical_origin("http://localhost:3000")
    'http://localhost:3000'
    >>> canonical_origin("https://example.com/") is None
    True
    >>> canonical_origin("null") is None
    True

    Pure, so results are cached (bounded): a request asks for the same origin up to four times.
    """
    text = origin.strip()
    if not text or len(text) > 2048 or not text.isascii():
        return None
    match = _ORIGIN.fullmatch(text)
    if match is None:
        return None
    scheme = match["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    host = _canonical_host(match["host"].lower())
    if host is None:
        return None
    port = int(match["port"]) if match["port"] is not None else None
    if port is not None and port > 65535:
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _canonical_entry(entry: str) -> str | None:
    """An allow-list entry's canonical form: like :func:`canonical_origin`, forgiving one trailing slash."""
    text = entry.strip()
    if text.endswith("/") and not text.endswith("//"):
        text = text[:-1]
    return canonical_origin(text)


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
            canonical = _canonical_entry(entry)
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
        return self.allowed(origin) is not None

    def allowed(self, origin: str | None) -> str | None:
        """The allow-list's canonical spelling of ``origin`` when it is allowed, else ``None``."""
        if origin is None:
            return None
        canonical = canonical_origin(origin)
        return canonical if canonical is not None and canonical in self._allowed else None

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        """The CORS headers for a response to ``origin``: the full set when allowed, ``{}`` otherwise.

        ``Access-Control-Allow-Origin`` carries the allowed origin's canonical form (what a browser
        sends, and compares byte for byte with its own), never the request's spelling.
        ``Access-Control-Expose-Headers`` lets the page read ``Retry-After`` (a ``429``/``503``'s wait) and
        ``X-Request-Id`` (what to quote to the site's owner); without it a browser hides both from a script.
        """
        allowed = self.allowed(origin)
        if allowed is None:
            return {}
        return {
            "Access-Control-Allow-Origin": allowed,
            "Vary": "Origin",
            "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
            "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
            "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
            "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
        }
