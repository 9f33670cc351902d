"""``docs/openapi.yaml``: a valid OpenAPI 3.1 document that says what the contract says.

The expectations here are typed from ``http-contract.md`` by hand (routes, error codes, header values),
never read from the code under test. ``tests/local/test_openapi_conformance.py`` checks the running API
against the document; this file checks the document against the contract, and serves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from contact_sdk.devtools.local import page_server as page_server_module
from contact_sdk.devtools.local.page_server import PageServer

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The parsed document (YAML anchors resolved)."""
    loaded = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow one local ``$ref``."""
    if isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return target
    return node


def submission_validator(document: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A validator for the request body of ``POST /contact``, with the document's components resolvable."""
    body = document["paths"]["/contact"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = {**body, "components": document["components"]}
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def all_codes(document: dict[str, Any]) -> set[str]:
    """Every error code a response schema names (``const`` or ``enum`` of ``error.code``)."""
    codes: set[str] = set()
    for schema in document["components"]["schemas"].values():
        for part in schema.get("allOf", []):
            code = part.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
            if "const" in code:
                codes.add(code["const"])
            codes.update(code.get("enum", []))
    return codes


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    """openapi-spec-validator accepts it, and it says it is 3.1."""
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_a_broken_document_is_refused(document: dict[str, Any]) -> None:
    """The validator is not a rubber stamp: a response without a description is an error."""
    broken = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    del broken["paths"]["/contact/token"]["get"]["responses"]["200"]["description"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_route_of_the_contract_and_nothing_else(document: dict[str, Any]) -> None:
    """Contract §2: OPTIONS/GET /contact/token, OPTIONS/POST /contact, POST /contact/events."""
    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations == {
        ("/contact/token", "options"),
        ("/contact/token", "get"),
        ("/contact", "options"),
        ("/contact", "post"),
        ("/contact/events", "post"),
    }


def test_every_status_of_submit_is_documented(document: dict[str, Any]) -> None:
    """Contract §6: the outcomes and every refusal of ``POST /contact``."""
    responses = document["paths"]["/contact"]["post"]["responses"]
    assert set(responses) == {"200", "202", "400", "403", "413", "415", "429", "500", "503"}


def test_every_error_code_of_the_contract_is_named(document: dict[str, Any]) -> None:
    """Contract §2, §4-§7 and the webhook route: each code appears in a response schema."""
    expected = {
        "method_not_allowed",
        "not_found",
        "origin_not_allowed",
        "csrf_missing",
        "csrf_invalid",
        "captcha_invalid",
        "unsupported_media_type",
        "payload_too_large",
        "invalid_json",
        "validation_error",
        "rate_limited",
        "service_unavailable",
        "internal_error",
        "invalid_signature",
    }
    assert expected <= all_codes(document)


def test_security_headers_have_the_contract_values(document: dict[str, Any]) -> None:
    """Contract §3, typed from the contract: each header required with exactly its value."""
    headers = document["components"]["headers"]
    expected = {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "Content-Type": "application/json",
    }
    for name, value in expected.items():
        assert headers[name]["required"] is True, name
        assert headers[name]["schema"]["const"] == value, name
    assert headers["Access-Control-Allow-Headers"]["schema"]["const"] == "Content-Type, X-CSRF-Token"
    assert headers["Access-Control-Allow-Methods"]["schema"]["const"] == "GET, POST, OPTIONS"
    assert headers["Access-Control-Max-Age"]["schema"]["const"] == "600"
    assert headers["Access-Control-Expose-Headers"]["schema"]["const"] == "Retry-After, X-Request-Id"


def test_every_response_carries_the_security_headers_and_request_id(document: dict[str, Any]) -> None:
    """Contract §3: every documented response, errors and the 204 preflight included."""
    required = {
        "X-Request-Id",
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "Cache-Control",
        "Referrer-Policy",
        "Content-Security-Policy",
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                headers = resolve(document, response).get("headers", {})
                assert required <= set(headers), (path, method, status)


def test_retry_after_is_documented_on_429_and_503(document: dict[str, Any]) -> None:
    """Contract §6: ``Retry-After`` in whole seconds with every 429 and 503."""
    for status in ("429", "503"):
        response = resolve(document, document["paths"]["/contact"]["post"]["responses"][status])
        retry_after = resolve(document, response["headers"]["Retry-After"])
        assert retry_after["required"] is True
        assert jsonschema.Draft202012Validator(retry_after["schema"]).is_valid("42")
        assert not jsonschema.Draft202012Validator(retry_after["schema"]).is_valid("in a minute")


def test_405_documents_allow_and_submit_requires_origin_and_csrf(document: dict[str, Any]) -> None:
    """``405`` has an ``Allow`` header; ``POST /contact`` needs both credentials, the token route only Origin."""
    allow = resolve(document, document["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"])
    assert allow["required"] is True
    assert document["paths"]["/contact"]["post"]["security"] == [{"origin": [], "csrfToken": []}]
    assert document["paths"]["/contact/token"]["get"]["security"] == [{"origin": []}]
    schemes = document["components"]["securitySchemes"]
    assert (schemes["csrfToken"]["in"], schemes["csrfToken"]["name"]) == ("header", "X-CSRF-Token")
    svix = {p["$ref"].rsplit("/", 1)[1] for p in document["paths"]["/contact/events"]["post"]["parameters"]}
    assert svix == {"SvixId", "SvixTimestamp", "SvixSignature"}


def test_the_submission_schema_accepts_a_real_form(document: dict[str, Any]) -> None:
    """A form a person filled in, with and without the optional fields, is valid."""
    validator = submission_validator(document)
    form = {"name": "Ada Lovelace", "email": "ada@example.org", "message": "Hello there, engines!", "consent": True}
    assert list(validator.iter_errors(form)) == []
    full = {
        **form,
        "subject": "Engines",
        "website": "",
        "formStartedAt": 1_700_000_000_000,
        "turnstileToken": "XXXX.DUMMY.TOKEN",
        "message": "Line one\nline two\tand a tab",
        "name": "Zoë\u200dName",
    }
    assert list(validator.iter_errors(full)) == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"consent": False}, "consent must be true"),
        ({"name": ""}, "name required"),
        ({"name": "   "}, "name blank after trimming"),
        ({"name": "x" * 101}, "name too long"),
        ({"name": "Ada\nLovelace"}, "control character in the name"),
        ({"email": "ada-at-example"}, "not an address"),
        ({"email": "a" * 250 + "@x.org"}, "address too long"),
        ({"subject": "x" * 151}, "subject too long"),
        ({"subject": "two\nlines"}, "subject on two lines"),
        ({"message": "too short"}, "message under 10"),
        ({"message": "    short     "}, "message under 10 after trimming"),
        ({"message": "x" * 5001}, "message too long"),
        ({"message": "bell \u0007 in a message"}, "control character in the message"),
        ({"formStartedAt": -1}, "negative time"),
        ({"formStartedAt": "1700000000000"}, "time as a string"),
        ({"admin": True}, "unknown field"),
    ],
)
def test_the_submission_schema_refuses_what_the_contract_refuses(
    document: dict[str, Any], change: dict[str, Any], why: str
) -> None:
    """Each contract rule that JSON Schema can say, said: the bad body is invalid."""
    form = {"name": "Ada Lovelace", "email": "ada@example.org", "message": "Hello there, engines!", "consent": True}
    assert not submission_validator(document).is_valid({**form, **change}), why


def test_a_missing_required_field_is_invalid(document: dict[str, Any]) -> None:
    """``name``, ``email``, ``message`` and ``consent`` are required; ``subject`` is not."""
    form = {"name": "Ada", "email": "ada@example.org", "message": "Hello there, engines!", "consent": True}
    validator = submission_validator(document)
    for field in ("name", "email", "message", "consent"):
        assert not validator.is_valid({k: v for k, v in form.items() if k != field}), field


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    """The demo page server alone, on a free loopback port."""
    server = PageServer(("127.0.0.1", 0), config={"apiUrl": "http://127.0.0.1:9"})
    server.serve_in_thread()
    yield server
    server.close()


@pytest.mark.integration
def test_the_demo_page_server_serves_the_document(page_server: PageServer) -> None:
    """``GET /openapi.yaml`` is the file, byte for byte, as YAML."""
    answer = httpx.get(f"{page_server.url}/openapi.yaml", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/yaml")
    assert answer.content == DOCUMENT_PATH.read_bytes()


@pytest.mark.integration
def test_without_the_document_the_page_server_says_so(
    page_server: PageServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An installation without ``docs/`` (a wheel) answers ``404`` with a sentence, not a traceback."""
    monkeypatch.setattr(page_server_module, "OPENAPI_DOCUMENT", tmp_path / "missing.yaml")
    answer = httpx.get(f"{page_server.url}/openapi.yaml", timeout=10)
    assert answer.status_code == 404
    assert "docs/openapi.yaml is not in this installation" in answer.text
