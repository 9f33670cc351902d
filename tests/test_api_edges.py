"""The API's edges, fast tier: events whose source address is missing or malformed, the webhook route when an
SDK user builds the API without it or sends a body that does not decode, and the Lambda's remaining time as the
deadline when the API is built with its defaults and with the margin the settings give. The service runs in
process (tests.test_api.in_process)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contact_sdk.bootstrap import Components
from contact_sdk.deadline import current
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource
from tests.clocks import ManualClock
from tests.entrypoint.conftest import FakeLambdaContext
from tests.log_lines import printed
from tests.test_api import ORIGIN, Provider, answer, bare_api, event, form, in_process, metrics_of, post, token
from tests.webhooks.test_route import NOW, SECRET, delivered, signed


@pytest.fixture
def service(built: list[Components]) -> Components:
    components = in_process(
        Provider(), outbox=InMemoryOutbox(), clock=ManualClock(start=1_800_000_000.0), token_limit=2
    )
    built.append(components)
    return components


def token_request(context: Any) -> dict[str, Any]:
    raw = event("GET", "/contact/token", headers={"Origin": ORIGIN})
    raw["requestContext"] = context
    return raw


@pytest.mark.parametrize(
    "context",
    [
        None,
        "not a mapping",
        {"requestId": "r"},
        {"requestId": "r", "identity": "not a mapping"},
        {"requestId": "r", "identity": {}},
        {"requestId": "r", "identity": {"sourceIp": ""}},
        {"requestId": "r", "identity": {"sourceIp": 42}},
    ],
    ids=["none", "text", "no identity", "identity text", "no source", "empty source", "number"],
)
def test_a_request_without_a_usable_source_address_is_served_and_counted_with_every_such_request(
    service: Components, context: Any
) -> None:
    """API Gateway always gives one; an event without one (a test console, a misconfigured integration) is not
    an error, and all such requests share one count: at a limit of two, the third is refused."""
    statuses = [answer(service.api, token_request(context))[0] for _ in range(2)]
    other = {"requestId": "r", "identity": {"sourceIp": ""}} if context is None else None
    statuses.append(answer(service.api, token_request(other))[0])
    assert statuses == [200, 200, 429]


def test_an_api_built_without_the_webhook_route_says_it_is_not_configured(service: Components) -> None:
    """An SDK user building ContactApi without ``events``: ``404`` in the contract's shape, not a crash."""
    api = bare_api(service)
    status, _, body = answer(api, event("POST", "/contact/events", body="{}"))
    assert status == 404 and body is not None
    assert body["error"] == {"code": "not_found", "message": "Delivery-status webhooks are not configured here."}


def test_a_webhook_body_that_does_not_decode_is_400(service: Components) -> None:
    """A base64 body that is not base64: ``400 invalid_json`` before any signature is looked at."""
    status, _, body = answer(service.api, event("POST", "/contact/events", body="%%%", base64_body=True))
    assert status == 400 and body is not None
    assert body["error"] == {"code": "invalid_json", "message": "The body could not be decoded."}


def noting_time_left(seen: list[float]) -> Callable[[httpx.Request], httpx.Response]:
    """A provider that accepts every email and notes in ``seen`` the time its deadline scope had left (-1: none)."""

    def provider(request: httpx.Request) -> httpx.Response:
        scope = current()
        seen.append(scope.remaining() if scope is not None else -1.0)
        return Provider()(request)

    return provider


@pytest.mark.parametrize(
    ("budget_ms", "remaining_ms", "left"),
    [(None, 10_000, 7.0), (4_500, 10_000, 4.5), (4_500, 5_000, 2.0)],
    ids=["no budget: the lambda's time less 3 s", "the budget ends first", "the lambda's time ends first"],
)
def test_the_work_ends_by_the_budget_or_three_seconds_before_the_lambda_is_stopped_whichever_is_first(
    built: list[Components], budget_ms: int | None, remaining_ms: int, left: float
) -> None:
    """ContactApi's default margin (3,000 ms, the contract's CONTACT_DEADLINE_MARGIN_MS default) and the response
    budget: Resend is called with what is left of the earlier of the two, seen by the provider itself."""
    clock = ManualClock(start=1_800_000_000.0)
    seen: list[float] = []
    provider = noting_time_left(seen)
    components = in_process(provider, outbox=None, clock=clock)  # no outbox: no reserve kept for it
    built.append(components)
    api = bare_api(components, deadline_clock=clock.monotonic, response_budget_ms=budget_ms)
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token(api)}
    response = api.handle(event("POST", "/contact", headers=headers, body=form()), FakeLambdaContext(remaining_ms))
    assert response["statusCode"] == 200
    assert seen == [left]


@pytest.mark.parametrize(
    ("margin", "left"),
    [({}, 1.5), ({"deadline_margin_ms": 1000}, 3.5), ({"deadline_margin_ms": 4000}, 0.5)],
    ids=["the default 3 s", "CONTACT_DEADLINE_MARGIN_MS=1000", "CONTACT_DEADLINE_MARGIN_MS=4000"],
)
def test_the_margin_setting_is_what_the_service_keeps_back_from_the_lambdas_time(
    built: list[Components], margin: dict[str, int], left: float
) -> None:
    """The service as the Lambda builds it (the settings through ``build_components``), 4.5 s left in the
    invocation and the default 4 s response budget: Resend is called with 4.5 s less the configured margin, which
    ends before the budget does. The provider reads what it was given from its own deadline scope."""
    clock = ManualClock(start=1_800_000_000.0)
    seen: list[float] = []
    provider = noting_time_left(seen)
    components = in_process(provider, outbox=None, clock=clock, **margin)  # no outbox: no reserve kept for it
    built.append(components)
    api = components.api
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token(api)}
    response = api.handle(event("POST", "/contact", headers=headers, body=form()), FakeLambdaContext(4_500))
    assert response["statusCode"] == 200
    assert seen == [left]


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        ("/contact/token", "/v1/contact/token"),
        ("/{proxy+}", "/contact/token"),
        ("/{proxy+}", "/contact/token/"),
        (None, "/contact/token"),
    ],
    ids=["custom domain base path", "proxy resource", "trailing slash", "no resource"],
)
def test_the_route_is_the_resource_or_behind_a_proxy_resource_the_path(
    service: Components, resource: str | None, path: str
) -> None:
    """Behind a custom domain's base path (``/v1``) the path carries the mapping and the resource names the route;
    behind a ``{proxy+}`` resource (SAM's, the local API's) the path does. Either way the token is served, and the
    summary line names the route, as the dashboards' log queries group it."""
    raw = event("GET", path, headers={"Origin": ORIGIN})
    raw["resource"] = resource
    with printed(service.api.logger) as out:
        status, _, body = answer(service.api, raw)
    assert (status, bool(body and body["token"])) == (200, True)
    assert [line["route"] for line in out.lines("request handled")] == ["/contact/token"]


@pytest.mark.parametrize(
    ("path", "route"),
    [(None, ""), ("", ""), (42, ""), ("/", "/"), ("//", "/"), ("/contact/tokenX", "/contact/tokenX")],
    ids=["none", "empty", "number", "root", "slashes", "a longer name"],
)
def test_an_event_for_no_route_is_404_and_logged_with_its_path(service: Components, path: Any, route: str) -> None:
    """A hand-made event (a test console's) without a usable resource or path, the root, or a name that only starts
    like a route: ``404``, logged with the path as the route (empty when there is none)."""
    raw = event("GET", "/contact/token", headers={"Origin": ORIGIN})
    raw["resource"], raw["path"] = None, path
    with printed(service.api.logger) as out:
        status, _, body = answer(service.api, raw)
    assert (status, body and body["error"]["code"]) == (404, "not_found")
    assert [line["route"] for line in out.lines("request handled")] == [route]


def test_a_base64_body_is_held_to_the_32_kib_limit_after_decoding(built: list[Components]) -> None:
    """API Gateway hands a binary body over in base64 (a third larger): a form of exactly 32,768 bytes (43,692
    characters of base64) is sent; one byte more, or a megabyte (refused before it is decoded), is ``413``, and so is
    any text longer than 43,692 characters."""
    form_bytes = form().encode()
    exact = form_bytes[:-1] + b" " * (32 * 1024 - len(form_bytes)) + b"}"
    assert (len(exact), len(base64.b64encode(exact))) == (32_768, 43_692)
    service = in_process(Provider(), outbox=InMemoryOutbox(), clock=ManualClock(start=1_800_000_000.0))
    built.append(service)
    status, _, body = post(service.api, base64.b64encode(exact).decode(), base64_body=True)
    assert (status, body and body["status"]) == (200, "sent")
    too_large = {"code": "payload_too_large", "message": "The message is too large: the limit is 32 KiB."}
    for raw in (exact + b" ", b" " * 1_000_000 + form_bytes):
        status, _, body = post(service.api, base64.b64encode(raw).decode(), base64_body=True)
        assert (status, body and body["error"]) == (413, too_large)
    # A text that is not base64: as long as the longest a body within the limit can be, it is read and refused as
    # undecodable; one character longer, it is too large whatever it holds (as a plain body over 32 KiB is).
    status, _, body = post(service.api, "%" * 43_692, base64_body=True)
    assert (status, body and body["error"]["code"]) == (400, "invalid_json")
    status, _, body = post(service.api, "%" * 43_693, base64_body=True)
    assert (status, body and body["error"]) == (413, too_large)


@pytest.mark.parametrize("request_id", ["req-42", None], ids=["api gateway's", "none: one is made"])
def test_every_metrics_document_names_the_request_it_counts(service: Components, request_id: str | None) -> None:
    """The EMF document a request flushes carries its request id as a property (not a dimension), the one the
    visitor gets in ``X-Request-Id``: an operator finds a metric's log line beside the request's own lines."""
    sink = metrics_of(service.api)
    sink.clear()
    raw = event("GET", "/contact/token", headers={"Origin": ORIGIN})
    raw["requestContext"]["requestId"] = request_id
    status, headers, _ = answer(service.api, raw)
    assert status == 200 and headers["X-Request-Id"] != ""
    if request_id is not None:
        assert headers["X-Request-Id"] == request_id
    assert [document["requestId"] for document in sink.documents] == [headers["X-Request-Id"]]
    directives = [directive for document in sink.documents for directive in document["_aws"]["CloudWatchMetrics"]]
    assert [directive["Dimensions"] for directive in directives] == [[["Environment"]]]


@pytest.mark.parametrize("method", [None, 42, "missing"], ids=["none", "number", "missing"])
def test_an_event_without_a_method_is_405_in_words_a_person_reads(service: Components, method: Any) -> None:
    """A hand-made event with no usable ``httpMethod``: ``405`` naming no method (not "None" or "42"), the allowed
    ones in ``Allow``, and an empty method in the summary line."""
    raw = event("GET", "/contact/token", headers={"Origin": ORIGIN})
    if method == "missing":
        del raw["httpMethod"]
    else:
        raw["httpMethod"] = method
    with printed(service.api.logger) as out:
        status, headers, body = answer(service.api, raw)
    assert (status, headers["Allow"]) == (405, "GET, OPTIONS")
    assert body is not None
    assert body["error"] == {"code": "method_not_allowed", "message": "This method is not allowed here."}
    assert [line["method"] for line in out.lines("request handled")] == [""]


def test_the_time_a_request_took_is_logged_and_counted_in_milliseconds(service: Components) -> None:
    """On the API's timer, a request that took a quarter of a second: 250.12 ms in the summary line (to a hundredth)
    and one ``ResponseTime`` sample of 250.1234 (the unit the dashboard's p95 and the alarm's 5,000 ms threshold
    are in)."""
    ticks = iter([1_000.0, 1_000.2501234])
    api = bare_api(service, timer=lambda: next(ticks))
    sink = metrics_of(api)
    with printed(api.logger) as out:
        assert answer(api, event("GET", "/contact/token", headers={"Origin": ORIGIN}))[0] == 200
    assert [line["duration_ms"] for line in out.lines("request handled")] == [250.12]
    assert [document["ResponseTime"] for document in sink.documents] == [pytest.approx(250.1234)]


class WatchedParameters(InMemoryParameterSource):
    """Parameter Store in memory, noting what was left of the caller's deadline at each fetch (None: no deadline)."""

    def __init__(self) -> None:
        super().__init__()
        self.left: dict[str, float | None] = {}

    def fetch(self, name: str) -> str:
        scope = current()
        self.left[name] = None if scope is None else scope.remaining()
        return super().fetch(name)


def test_the_webhook_secret_is_read_inside_the_requests_deadline(built: list[Components]) -> None:
    """A cold instance's first webhook reads its signing secret from Parameter Store inside the request's budget
    (4 s here, on the API's clock), as every call the route makes: a slow Parameter Store cannot hold Resend's
    delivery beyond it."""
    clock = ManualClock(start=float(NOW))
    parameters = WatchedParameters()
    components = in_process(
        Provider(),
        outbox=None,
        clock=clock,
        parameters=parameters,
        more_parameters={"/w": SECRET},
        webhook_secret_parameter="/w",
    )
    built.append(components)
    api = bare_api(components, events=components.api.events, deadline_clock=clock.monotonic, response_budget_ms=4_000)
    headers, raw = signed(delivered())
    status, _, _ = answer(api, event("POST", "/contact/events", headers=headers, body=raw.decode()))
    assert status == 200
    assert parameters.left["/w"] == 4.0


def test_a_form_whose_base64_body_does_not_decode_is_400_and_counted(service: Components) -> None:
    """API Gateway hands over a binary body in base64; one that is not base64 is ``400 invalid_json`` in words, and
    counted with the other refused inputs (``ValidationErrors``)."""
    sink = metrics_of(service.api)
    sink.clear()
    status, _, body = post(service.api, "%%%", base64_body=True)
    undecodable = {"code": "invalid_json", "message": "The body could not be decoded."}
    assert (status, body and body["error"]) == (400, undecodable)
    assert sink.totals().get("ValidationErrors") == 1
