"""Tests for the origin allow-list, CORS headers and security headers (contract sections 3 and 4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact_sdk.errors import ConfigurationError
from contact_sdk.security.origin import SECURITY_HEADERS, OriginPolicy, canonical_origin

ALLOWED = ("https://example.com", "http://localhost:3000", "https://www.example.com:8443")


@pytest.fixture(autouse=True)
def _uncached() -> None:
    """Each test computes its origins afresh: ``canonical_origin`` caches its answers, and a cache filled by an
    earlier test (or, under mutation testing, by the process each mutant's run is forked from) would answer for
    the code under test."""
    canonical_origin.cache_clear()


@pytest.fixture
def policy() -> OriginPolicy:
    """A policy allowing a production site, a local dev server and a non-default port."""
    return OriginPolicy(ALLOWED)


@pytest.mark.parametrize(
    "origin",
    [
        "https://example.com",
        "HTTPS://EXAMPLE.COM",
        "https://Example.com:443",
        "http://localhost:3000",
        "http://LOCALHOST:3000",
        "https://www.example.com:8443",
    ],
)
def test_allowed_origins_match_on_scheme_host_and_port(policy: OriginPolicy, origin: str) -> None:
    """Scheme and host compare case-insensitively and the default port is dropped: what a browser does."""
    assert policy.is_allowed(origin)


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "",
        "null",
        "*",
        "http://example.com",  # other scheme
        "https://example.com:8443",  # other port
        "https://evil.example.com",  # subdomain
        "https://example.com.evil.net",  # suffix
        "https://notexample.com",
        "http://localhost",  # default port is not 3000
        "http://localhost:80",
        "https://www.example.com",  # 443 is not 8443
        "https://example.com/path",
        "https://example.com?x=1",
        "https://user@example.com",
        "ftp://example.com",
        "example.com",
        "https://example.com:",
        "https://example.com:notaport",
        "https://exämple.com",
        # Spellings a browser never sends: the fuzz got tokens with each of these.
        "https://example.com/",
        "https://example.com?",
        "https://example.com#",
        "https://example.com/#",
        "https://example.com?#",
        "http://localhost:03000",
        "http://localhost:003000",
        "http://localhost:+3000",
        "http://localhost: 3000",
        "https://example.com:0443",
        "https://:@example.com",
        "https://@example.com",
        "https://example.com\\",
        "https://example.com;",
        "https://example.com.",
        "http://localhost:3000/",
        "http://localhost:3000:3000",
    ],
)
def test_other_origins_are_refused(policy: OriginPolicy, origin: str | None) -> None:
    """Anything not exactly on the list, absent, ``null`` or not an origin at all is refused."""
    assert not policy.is_allowed(origin)


def test_cors_headers_for_an_allowed_origin_carry_its_canonical_form(policy: OriginPolicy) -> None:
    """An allowed origin gets exactly the contract's CORS headers, with the allow-list's canonical spelling."""
    assert policy.cors_headers("https://example.com") == {
        "Access-Control-Allow-Origin": "https://example.com",
        "Vary": "Origin",
        "Access-Control-Allow-Headers": "Content-Type, X-CSRF-Token",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Max-Age": "600",
        "Access-Control-Expose-Headers": "Retry-After, X-Request-Id",
    }
    assert policy.cors_headers("http://localhost:3000")["Access-Control-Allow-Origin"] == "http://localhost:3000"


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("HTTPS://EXAMPLE.COM", "https://example.com"),
        ("https://Example.com:443", "https://example.com"),
        ("http://LOCALHOST:3000", "http://localhost:3000"),
        ("HTTPS://WWW.EXAMPLE.COM:8443", "https://www.example.com:8443"),
    ],
)
def test_cors_headers_never_echo_the_request_spelling(policy: OriginPolicy, sent: str, echoed: str) -> None:
    """The issue's finding: an odd spelling was echoed back; the canonical one is what a browser compares."""
    assert policy.cors_headers(sent)["Access-Control-Allow-Origin"] == echoed
    assert policy.allowed(sent) == echoed


@pytest.mark.parametrize("origin", [None, "null", "https://evil.example", "*"])
def test_cors_headers_for_anything_else_are_empty(policy: OriginPolicy, origin: str | None) -> None:
    """A refused or absent origin gets no CORS header at all, never ``*``."""
    assert policy.cors_headers(origin) == {}


def test_empty_allow_list_refuses_everything() -> None:
    """With no allowed origins configured every cross-origin request is refused."""
    empty = OriginPolicy([])
    assert not empty.is_allowed("https://example.com")
    assert empty.cors_headers("https://example.com") == {}


@pytest.mark.parametrize(
    "entry",
    [
        "*",
        "null",
        "example.com",
        "https://example.com/path",
        "ftp://example.com",
        "https://example.com?",
        "http://h:080",
    ],
)
def test_a_malformed_allow_list_entry_is_a_configuration_error(entry: str) -> None:
    """A wildcard or anything that is not an origin in the allow-list fails loudly at construction."""
    with pytest.raises(ConfigurationError, match="not an origin"):
        OriginPolicy(["https://example.com", entry])


def test_allow_list_entries_are_canonicalised() -> None:
    """Entries written with upper case, default ports or slashes match the browser's spelling."""
    policy = OriginPolicy(["HTTPS://Example.com:443/"])
    assert policy.allowed_origins == frozenset({"https://example.com"})
    assert policy.is_allowed("https://example.com")


@pytest.mark.parametrize(
    ("origin", "canonical"),
    [
        ("https://example.com", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:443", "http://example.com:443"),
        ("https://example.com:80", "https://example.com:80"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("http://[0:0:0:0:0:0:0:1]", "http://[::1]"),
        ("https://xn--exmple-cua.com", "https://xn--exmple-cua.com"),
        ("http://[not-ipv6]", None),
        ("https://-bad-.com", None),
        ("https://exa mple.com", None),
        ("https://example.com#x", None),
        ("https://", None),
        ("https://example.com/", None),
        ("http://example.com:65535", "http://example.com:65535"),
        ("http://example.com:65536", None),
        ("http://example.com:99999", None),
        ("http://[::1%25eth0]", None),
    ],
)
def test_canonical_origin(origin: str, canonical: str | None) -> None:
    """Canonical form: lower case, default port dropped, IPv6 compressed; non-origins are ``None``."""
    assert canonical_origin(origin) == canonical


def test_a_host_name_of_253_characters_is_the_longest_taken() -> None:
    """DNS's limit on a whole name (RFC 1035: 255 octets on the wire, 253 characters written out)."""
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(longest) == 253
    assert canonical_origin(f"https://{longest}") == f"https://{longest}"
    assert canonical_origin(f"https://{longest}e") is None


def test_security_headers_are_exactly_the_contract() -> None:
    """Every response carries exactly the contract's five security headers."""
    assert dict(SECURITY_HEADERS) == {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    }


def test_security_headers_cannot_be_modified() -> None:
    """The shared mapping is read-only, so one response cannot change the next one's headers."""
    with pytest.raises(TypeError):
        SECURITY_HEADERS["X-Frame-Options"] = "DENY"  # type: ignore[index]


# --- property: any spelling of an origin, judged by a second rule ---------------------------------

_SCHEMES = st.sampled_from(["http", "https"])
_HOSTS = st.sampled_from(["example.com", "www.example.com", "localhost", "127.0.0.1", "evil.example"])
_PORTS = st.sampled_from([None, "", "80", "443", "3000", "8443", "03000", "0443", "080", "+80", "65536"])
_TAILS = st.sampled_from(["", "/", "?", "#", "/path", "?q=1", "#f", "/?#"])
_CASE = st.booleans()


def _browser_serialisation(scheme: str, host: str, port: str | None) -> str | None:
    """How a browser writes this origin, by the WHATWG URL rules, or None if it would never send it.

    Written independently of ``canonical_origin``: a port is a plain decimal without a leading zero or
    sign, at most 65535; the scheme's default port is left out.
    """
    if port is None:
        return f"{scheme}://{host}"
    if not port.isdigit() or port.startswith("0") or int(port) > 65535:
        return None
    if int(port) == {"http": 80, "https": 443}[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@settings(max_examples=400, deadline=None)
@given(scheme=_SCHEMES, host=_HOSTS, port=_PORTS, tail=_TAILS, upper_scheme=_CASE, upper_host=_CASE)
def test_any_spelling_is_allowed_exactly_when_a_browser_would_send_an_allowed_origin(
    *, scheme: str, host: str, port: str | None, tail: str, upper_scheme: bool, upper_host: bool
) -> None:
    """Scheme/host case and the default port are forgiven; every other oddity is refused; CORS is canonical."""
    policy = OriginPolicy(ALLOWED)
    sent = f"{scheme.upper() if upper_scheme else scheme}://{host.upper() if upper_host else host}"
    if port is not None:
        sent += f":{port}"
    sent += tail
    expected = _browser_serialisation(scheme, host, port) if tail == "" else None
    allowed = expected is not None and expected in ALLOWED
    assert policy.is_allowed(sent) is allowed, sent
    headers = policy.cors_headers(sent)
    assert headers.get("Access-Control-Allow-Origin") == (expected if allowed else None)
