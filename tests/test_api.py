"""The API Gateway adapter, fast tier: routing, headers, bodies and error shapes, in process.

The service runs with in-memory collaborators and an ``httpx.MockTransport`` provider that keeps
what it was sent; responses are read as API Gateway would pass them on (status, headers, JSON).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest

from contact_sdk.api import ContactApi, RequestHeaders
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.clock import Clock
from contact_sdk.deadline import Deadline
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource
from contact_sdk.metrics import ListSink
from contact_sdk.outbox import Outbox
from contact_sdk.outcome import Outcome
from contact_sdk.settings import Settings
from tests.clocks import RecordingClock
from tests.log_lines import printed

ORIGIN = "https://www.example.com"
CONFIG = json.dumps(
    {
        "apiKey": "re_test_key_123456",
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "owner@example.com",
        "version": 1,
        "rotatedAt": "2026-11-01T10:00:00Z",
    }
)


class Provider:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(json.loads(request.content))
        return httpx.Response(200, json={"id": f"e-{len(self.sent)}"})


def in_process(
    provider: Callable[[httpx.Request], httpx.Response],
    *,
    outbox: Outbox | None,
    clock: Clock,
    aws: Mapping[str, Any] | None = None,
    more_parameters: Mapping[str, str] | None = None,
    parameters: InMemoryParameterSource | None = None,
    **settings: Any,
) -> Components:
    """The service the fast tier runs: in-memory guards and parameters, ``provider`` behind an
    ``httpx.MockTransport``, ``settings`` over the test defaults; ``aws`` are clients to use instead of building
    them (a table on moto in process), ``more_parameters`` Parameter Store values beyond the config and secret,
    ``parameters`` the in-memory Parameter Store to hold them all (a test's own, to watch it)."""
    fields: dict[str, Any] = {
        "config_parameter": "/c",
        "csrf_secret_parameter": "/s",
        "allowed_origins": (ORIGIN,),
        "environment": "test",
        "resend_api_url": "http://resend.invalid",
        "min_fill_seconds": 0,  # these requests post the instant their token is issued; the fill rule is tested apart
        **settings,
    }
    source = parameters if parameters is not None else InMemoryParameterSource()
    source.values.update({"/c": CONFIG, "/s": "s" * 48, **(more_parameters or {})})
    return build_components(
        Settings.from_env(environ={}, **fields),
        sink=ListSink(),
        parameters=source,
        http=httpx.Client(transport=httpx.MockTransport(provider)),
        outbox=outbox,
        aws=aws,
        clock=clock,
    )


@pytest.fixture
def setup() -> Iterator[tuple[Components, Provider]]:
    provider = Provider()
    components = in_process(
        provider, outbox=InMemoryOutbox(), clock=RecordingClock(), submit_limit=1000, token_limit=1000
    )
    yield components, provider
    components.close()


def event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    request_id: str = "req-1",
    base64_body: bool = False,
) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers or {}),
        "multiValueHeaders": {name: [value] for name, value in (headers or {}).items()},
        "body": body,
        "isBase64Encoded": base64_body,
        "requestContext": {"requestId": request_id, "identity": {"sourceIp": "203.0.113.7"}},
    }


def answer(api: ContactApi, raw: Any) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    response = api.handle(raw)
    body = json.loads(response["body"]) if response["body"] else None
    return response["statusCode"], response["headers"], body


def bare_api(components: Components, **options: Any) -> ContactApi:
    """A ``ContactApi`` over ``components``' intake and delivery as an SDK user builds one: ``options`` given, the
    rest its defaults (no webhook route, the default margin), metrics to a list."""
    return ContactApi(
        components.intake,
        components.delivery,
        environment="test",
        sink=ListSink(),
        logger=components.api.logger,
        **options,
    )


def metrics_of(api: ContactApi) -> ListSink:
    """The documents ``api`` flushed: the in-memory sink every test service here is built with."""
    sink = api.sink
    assert isinstance(sink, ListSink)
    return sink


def token(api: ContactApi) -> str:
    status, _, body = answer(api, event("GET", "/contact/token", headers={"Origin": ORIGIN}))
    assert status == 200 and body is not None
    return str(body["token"])


def form(**changes: Any) -> str:
    value = {"name": "Ada", "email": "ada@example.org", "message": "Hello there, about the engine.", "consent": True}
    value.update(changes)
    return json.dumps(value)


def post(api: ContactApi, body: str, **options: Any) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token(api)}
    return answer(api, event("POST", "/contact", headers=headers, body=body, **options))


def test_every_answer_carries_the_contract_headers(setup: tuple[Components, Provider]) -> None:
    api = setup[0].api
    status, headers, body = answer(api, event("GET", "/nowhere", request_id="abc"))
    assert (status, body) == (
        404,
        {"error": {"code": "not_found", "message": "There is nothing at this address."}, "requestId": "abc"},
    )
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-Id"] == "abc"
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in headers


def test_a_method_not_allowed_names_the_allowed_ones(setup: tuple[Components, Provider]) -> None:
    api = setup[0].api
    status, headers, body = answer(api, event("DELETE", "/contact"))
    assert status == 405 and body is not None
    assert body["error"] == {"code": "method_not_allowed", "message": "DELETE is not allowed here."}
    assert headers["Allow"] == "OPTIONS, POST"
    status, headers, _ = answer(api, event("POST", "/contact/token/"))  # a trailing slash is the same route
    assert (status, headers["Allow"]) == (405, "GET, OPTIONS")


def test_every_answer_is_a_proxy_response_in_api_gateways_format(setup: tuple[Components, Provider]) -> None:
    """The five keys of API Gateway's REST proxy format and their types, whatever the route and outcome (API
    Gateway answers a response it cannot read with its own 502)."""
    api = setup[0].api
    responses = [
        api.handle(event("GET", "/contact/token", headers={"Origin": ORIGIN})),
        api.handle(event("OPTIONS", "/contact", headers={"Origin": ORIGIN})),
        api.handle(event("POST", "/contact", headers={"Origin": ORIGIN}, body="{}")),
        api.handle(event("GET", "/nowhere")),
    ]
    assert [response["statusCode"] for response in responses] == [200, 204, 415, 404]
    for response in responses:
        assert set(response) == {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
        assert type(response["statusCode"]) is int and response["isBase64Encoded"] is False
        assert isinstance(response["body"], str) and response["multiValueHeaders"] == {}
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in response["headers"].items())


def test_preflight(setup: tuple[Components, Provider]) -> None:
    """An allowed origin's preflight is 204 with CORS headers, logged as a preflight; another origin's is 403 in the
    contract's shape, with no CORS header (so the browser stops there), counted as a refused origin."""
    api = setup[0].api
    with printed(api.logger) as out:
        response = api.handle(event("OPTIONS", "/contact", headers={"Origin": ORIGIN}))
        assert (response["statusCode"], response["body"]) == (204, "")
        assert response["headers"]["Access-Control-Allow-Origin"] == ORIGIN
        status, headers, body = answer(api, event("OPTIONS", "/contact", headers={"Origin": "https://evil.example"}))
    assert status == 403 and body is not None
    assert body["error"] == {"code": "origin_not_allowed", "message": "Requests from this origin are not allowed."}
    assert not [name for name in headers if name.startswith("Access-Control-")]
    summaries = [(line["status"], line["outcome"]) for line in out.lines("request handled")]
    assert summaries == [(204, "preflight"), (403, "origin_not_allowed")]
    assert metrics_of(api).totals().get("CsrfRejected") == 1


@pytest.mark.parametrize(
    ("headers", "code", "message"),
    [
        (
            {"Origin": "https://evil.example"},
            "origin_not_allowed",
            "Requests from this origin are not allowed.",
        ),
        ({"Origin": ORIGIN}, "csrf_missing", "The form's security token is missing. Reload the page and try again."),
        (
            {"Origin": ORIGIN, "X-CSRF-Token": "forged.token"},
            "csrf_invalid",
            "The form's security token is invalid or has expired. Reload the page and try again.",
        ),
    ],
    ids=["foreign origin", "no token", "forged token"],
)
def test_a_submission_without_a_page_of_ours_is_refused_403_and_counted(
    setup: tuple[Components, Provider], headers: dict[str, str], code: str, message: str
) -> None:
    """The contract's 403s (section 6): nothing is sent, the page reads the code and the message, and each counts
    once as ``CsrfRejected`` (the metric the dashboard's abuse widget draws)."""
    components, provider = setup
    request_headers = {"Content-Type": "application/json", **headers}
    status, _, body = answer(components.api, event("POST", "/contact", headers=request_headers, body=form()))
    assert status == 403 and body is not None
    assert body["error"] == {"code": code, "message": message}
    assert provider.sent == []
    assert metrics_of(components.api).totals().get("CsrfRejected") == 1


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("Application/JSON", 200),
        ("application/json; charset=utf-8", 200),
        ("application/json ; charset=utf-8; profile=contact", 200),
        ("text/plain", 415),
        ("application/jsonp", 415),
        ("text/plain; x=application/json", 415),
    ],
)
def test_the_media_type_is_json_whatever_its_case_and_parameters(
    setup: tuple[Components, Provider], content_type: str, status: int
) -> None:
    """RFC 9110: the media type is case-insensitive and may carry parameters; only ``application/json`` is read."""
    components = setup[0]
    headers = {"Origin": ORIGIN, "Content-Type": content_type, "X-CSRF-Token": token(components.api)}
    answered, _, body = answer(components.api, event("POST", "/contact", headers=headers, body=form()))
    assert answered == status, body
    if status == 415:
        assert body is not None and body["error"]["code"] == "unsupported_media_type"


def test_a_submission_is_sent_once_with_the_address_normalised(setup: tuple[Components, Provider]) -> None:
    api, provider = setup[0].api, setup[1]
    status, _, body = post(api, form(email="  Ada@Example.ORG "))
    assert status == 200 and body is not None and body["status"] == "sent"
    assert [email["reply_to"] for email in provider.sent] == [["Ada@example.org"]]


@pytest.mark.parametrize("address", ["x\n@example.com", "a@example\n.com", "ada@example.org\n"])
def test_a_line_feed_in_the_address_is_a_400_naming_email(setup: tuple[Components, Provider], address: str) -> None:
    api, provider = setup[0].api, setup[1]
    status, _, body = post(api, form(email=address))
    assert status == 400 and body is not None
    assert body["error"]["code"] == "validation_error"
    assert list(body["error"]["fields"]) == ["email"]
    assert provider.sent == []


def test_a_name_with_a_joiner_and_a_whole_float_time_are_sent(setup: tuple[Components, Provider]) -> None:
    api, provider = setup[0].api, setup[1]
    name = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    status, _, body = post(api, form(name=name, formStartedAt=1_700_000_000_000.0))
    assert (status, body and body["status"]) == (200, "sent")
    assert provider.sent[0]["subject"] == f"Contact Form: Message from {name}"


def test_bodies_that_do_not_decode(setup: tuple[Components, Provider]) -> None:
    api = setup[0].api
    status, _, body = post(api, "not base64!", base64_body=True)
    assert status == 400 and body is not None and body["error"]["code"] == "invalid_json"
    status, _, body = post(api, base64.b64encode(form().encode()).decode(), base64_body=True)
    assert (status, body and body["status"]) == (200, "sent")


def test_a_client_request_id_that_could_forge_a_header_is_replaced(setup: tuple[Components, Provider]) -> None:
    api = setup[0].api
    for forged in ("a\nb", "x" * 129, ""):
        _, headers, _ = answer(api, event("GET", "/nowhere", request_id=forged))
        assert headers["X-Request-Id"] != forged
        assert len(headers["X-Request-Id"]) == 36  # a fresh uuid4
    _, headers, _ = answer(api, event("GET", "/nowhere", request_id="x" * 128))
    assert headers["X-Request-Id"] == "x" * 128


def test_the_events_route_without_its_secret_is_503_so_resend_retries(setup: tuple[Components, Provider]) -> None:
    status, headers, body = answer(setup[0].api, event("POST", "/contact/events", body="{}"))
    assert status == 503 and body is not None and body["error"]["code"] == "service_unavailable"
    assert headers["Retry-After"] == "60"


def test_a_bug_is_a_500_without_a_stack_trace(setup: tuple[Components, Provider]) -> None:
    components = setup[0]

    class Exploding:
        def receive(self, headers: Mapping[str, str], body: bytes, *, deadline: Deadline | None = None) -> Outcome:
            raise RuntimeError("secret internals")

    api = bare_api(components, events=Exploding())
    with printed(api.logger) as out:
        status, headers, body = answer(api, event("POST", "/contact/events", body="{}", request_id="req-bug"))
    assert status == 500 and body is not None
    assert body["error"] == {"code": "internal_error", "message": "Something went wrong on our side. Please try again."}
    assert "secret internals" not in json.dumps(body)
    # The operator gets what the visitor does not: the error and its traceback, under the request's id.
    [error] = out.lines("unhandled error while handling the request")
    assert error["level"] == "ERROR" and "RuntimeError: secret internals" in error["exception"]
    [summary] = out.lines("request handled")
    assert (summary["status"], summary["outcome"]) == (500, "internal_error")
    assert {line["correlation_id"] for line in out.all()} == {headers["X-Request-Id"]} == {"req-bug"}


def test_an_event_that_is_not_an_object_is_a_404(setup: tuple[Components, Provider]) -> None:
    status, _, _ = answer(setup[0].api, ["not", "an", "event"])
    assert status == 404


def test_request_headers_are_case_insensitive_and_refuse_conflicts() -> None:
    headers = RequestHeaders(
        {
            "headers": {"ORIGIN": "https://a.example", "X-One": "1", "Skipped": None},
            "multiValueHeaders": {"origin": ["https://a.example", "https://b.example"], "Accept": ["x", "x"]},
        }
    )
    assert headers.single("Origin") is None  # two different values: ambiguous
    assert headers.present("origin") is True
    assert headers.single("accept") == "x"  # the same value twice is one value
    assert headers.single("x-one") == "1"
    assert headers.single("skipped") is None and headers.present("skipped") is False
    assert headers.as_dict() == {"origin": "https://a.example", "accept": "x", "x-one": "1"}


MAX_BODY = 32 * 1024  # the contract: a body of at most 32 KiB


def padded_form(size: int) -> str:
    """A valid form whose JSON is exactly ``size`` bytes (the message padded with spaces inside its text)."""
    body = form(message="Hello there, about the engine.")
    padding = size - len(body.encode())
    assert padding >= 0
    return form(message="Hello there," + " " * padding + " about the engine.")


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        (
            form(),
            "text/plain",
            (415, "unsupported_media_type", "Send the form as JSON (Content-Type: application/json)."),
        ),
        (
            padded_form(MAX_BODY + 1),
            "application/json",
            (413, "payload_too_large", "The message is too large: the limit is 32 KiB."),
        ),
        ("[1, 2]", "application/json", (400, "invalid_json", "The body must be a JSON object.")),
        ('{"name": NaN}', "application/json", (400, "invalid_json", "The body must be a JSON object.")),
    ],
    ids=["text", "one byte over 32 KiB", "an array", "NaN"],
)
def test_a_body_the_service_cannot_read_gets_the_contracts_answer_and_counts(
    setup: tuple[Components, Provider], raw: str, content_type: str, expected: tuple[int, str, str]
) -> None:
    """Section 6's answers before the token is even read: the status and code, the message the page shows, and
    one ``ValidationErrors`` each; nothing is sent."""
    components, provider = setup
    headers = {"Origin": ORIGIN, "Content-Type": content_type, "X-CSRF-Token": token(components.api)}
    status, _, body = answer(components.api, event("POST", "/contact", headers=headers, body=raw))
    assert body is not None
    assert (status, body["error"]["code"], body["error"]["message"]) == expected
    assert provider.sent == []
    assert metrics_of(components.api).totals().get("ValidationErrors") == 1


def test_a_body_of_exactly_32_kib_is_read(setup: tuple[Components, Provider]) -> None:
    """The limit is inclusive: 32,768 bytes of JSON are read, and judged by their fields (the padded message is
    past 5,000 characters, so ``message`` is the field named), not refused for their size."""
    api = setup[0].api
    raw = padded_form(MAX_BODY)
    assert len(raw.encode()) == MAX_BODY
    status, _, body = post(api, raw)
    assert status == 400 and body is not None and body["error"]["code"] == "validation_error"
    assert set(body["error"]["fields"]) == {"message"}  # read and judged by its fields, not refused for its size


def test_a_cold_instance_that_cannot_read_its_secret_answers_503_and_says_why_in_the_log(
    setup: tuple[Components, Provider],
) -> None:
    """A token from a warm instance, posted to a fresh one whose Parameter Store is down: ``503`` with
    ``Retry-After`` and the page's message; the summary line names the parameter that could not be read."""
    warm, provider = setup
    page_token = token(warm.api)
    cold = in_process(provider, outbox=InMemoryOutbox(), clock=RecordingClock())
    try:
        source = cold.parameter_source
        assert isinstance(source, InMemoryParameterSource)
        source.fail = True
        headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": page_token}
        with printed(cold.api.logger) as out:
            status, response_headers, body = answer(cold.api, event("POST", "/contact", headers=headers, body=form()))
    finally:
        cold.close()
    assert status == 503 and body is not None and int(response_headers["Retry-After"]) > 0
    assert body["error"] == {"code": "service_unavailable", "message": "The contact form is not available right now."}
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert "/s" in summary["config_error"] and "unreachable" in summary["config_error"]
    assert provider.sent == []


def test_a_token_signed_with_the_previous_secret_still_works_after_a_rotation(
    setup: tuple[Components, Provider],
) -> None:
    """``contact-sdk config put-csrf-secret --keep-previous`` writes ``{"current", "previous"}``: a form opened
    before the rotation (its token signed with the old secret) is still accepted; a token signed with neither is
    ``403 csrf_invalid`` with its reason logged."""
    components, provider = setup
    old_token = token(components.api)
    fresh = in_process(provider, outbox=InMemoryOutbox(), clock=RecordingClock())
    try:
        source = fresh.parameter_source
        assert isinstance(source, InMemoryParameterSource)
        source.values["/s"] = json.dumps({"current": "n" * 48, "previous": "s" * 48})
        headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": old_token}
        status, _, body = answer(fresh.api, event("POST", "/contact", headers=headers, body=form()))
        assert (status, body and body["status"]) == (200, "sent")
        source.values["/s"] = "n" * 48  # the previous secret dropped: the old page's next token was signed anew
        fresh.cache.get("/s", force=True)  # what the next read after the hour's TTL sees
        headers["X-CSRF-Token"] = token(components.api)  # signed with "s" * 48, which no longer verifies
        with printed(fresh.api.logger) as out:
            status, _, body = answer(
                fresh.api,
                event("POST", "/contact", headers=headers, body=form(message="Another one about the engine.")),
            )
    finally:
        fresh.close()
    assert status == 403 and body is not None and body["error"]["code"] == "csrf_invalid"
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert summary["csrf_reason"] == "bad_signature"
