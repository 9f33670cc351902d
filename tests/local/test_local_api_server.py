"""The local API server: requests in, API Gateway REST (payload 1.0) events out, results back to HTTP."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.local.api_server import (
    ApiServerOptions,
    InvalidLambdaResponse,
    LambdaContext,
    LocalApiServer,
    build_event,
    response_from_result,
)

OPTIONS = ApiServerOptions()


def _event(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "method": "POST",
        "target": "/contact",
        "headers": [("Host", "127.0.0.1:8080"), ("Content-Type", "application/json")],
        "body": b'{"a": 1}',
        "source_ip": "127.0.0.9",
        "request_id": "rid-1",
        "options": OPTIONS,
        "now": 1_700_000_000.123,
    }
    arguments.update(overrides)
    return build_event(**arguments)


# -- the event, pure ---------------------------------------------------------------------------------


def test_event_has_the_payload_1_0_shape() -> None:
    """A request becomes an event with every top-level key API Gateway's REST proxy integration sends."""
    event = _event()
    assert set(event) == {
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext",
        "body",
        "isBase64Encoded",
    }
    assert event["resource"] == "/contact"
    assert event["path"] == "/contact"
    assert event["httpMethod"] == "POST"
    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False


def test_request_context_carries_source_ip_request_id_stage_and_time() -> None:
    """``requestContext`` holds the socket's address, the request id, the stage and the epoch milliseconds."""
    context = _event()["requestContext"]
    assert context["identity"]["sourceIp"] == "127.0.0.9"
    assert context["requestId"] == "rid-1"
    assert context["stage"] == "local"
    assert context["requestTimeEpoch"] == 1_700_000_000_123
    assert context["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert context["resourcePath"] == "/contact"
    assert context["path"] == "/local/contact"
    assert context["httpMethod"] == "POST"


def test_forwarded_for_header_never_becomes_the_source_ip() -> None:
    """A client's ``X-Forwarded-For`` stays a header; ``sourceIp`` is only what the socket says."""
    event = _event(headers=[("X-Forwarded-For", "203.0.113.7")])
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.9"
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.7"


def test_repeated_headers_keep_every_value_in_multi_value_headers() -> None:
    """A header sent twice: the last value in ``headers``, both in ``multiValueHeaders``, names as sent."""
    event = _event(headers=[("Origin", "https://a.example"), ("Origin", "https://b.example")])
    assert event["headers"]["Origin"] == "https://b.example"
    assert event["multiValueHeaders"]["Origin"] == ["https://a.example", "https://b.example"]


def test_query_string_is_split_into_single_and_multi_value_maps() -> None:
    """``?a=1&a=2&b=`` gives the last value per key and every value per key; no query gives ``None``."""
    event = _event(method="GET", target="/contact/token?a=1&a=2&b=")
    assert event["path"] == "/contact/token"
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert _event()["queryStringParameters"] is None


def test_unknown_path_goes_through_the_proxy_resource() -> None:
    """A path the API does not define reaches the function as ``/{proxy+}`` so it can answer 404."""
    event = _event(target="/admin/users")
    assert event["resource"] == "/{proxy+}"
    assert event["path"] == "/admin/users"
    assert event["pathParameters"] == {"proxy": "admin/users"}


def test_binary_body_is_base64_encoded() -> None:
    """A body that is not UTF-8 travels base64-encoded with ``isBase64Encoded``."""
    event = _event(body=b"\xff\xfe\x00raw")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe\x00raw"


def test_empty_body_is_none() -> None:
    """No body is ``null``, as API Gateway sends it."""
    assert _event(method="GET", body=b"")["body"] is None


def test_context_counts_down_from_the_function_timeout() -> None:
    """``get_remaining_time_in_millis`` starts at the timeout, falls with the clock, and stops at zero."""
    now = [100.0]
    context = LambdaContext(options=ApiServerOptions(function_timeout_seconds=30), clock=lambda: now[0])
    assert context.get_remaining_time_in_millis() == 30_000
    now[0] += 12.5
    assert context.get_remaining_time_in_millis() == 17_500
    now[0] += 60
    assert context.get_remaining_time_in_millis() == 0
    assert context.aws_request_id != LambdaContext(options=OPTIONS).aws_request_id


# -- the result, pure --------------------------------------------------------------------------------


def test_result_headers_merge_with_multi_value_headers_winning() -> None:
    """``multiValueHeaders`` and ``headers`` merge; for the same name, the multi-value list wins."""
    status, headers, body = response_from_result(
        {
            "statusCode": 201,
            "headers": {"X-One": "1", "Set-Cookie": "ignored"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": "hi",
        }
    )
    assert status == 201
    assert headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-One", "1")]
    assert body == b"hi"


def test_result_base64_body_is_decoded() -> None:
    """``isBase64Encoded`` bodies are decoded before they are sent."""
    _, _, body = response_from_result(
        {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    )
    assert body == b"\x00\x01"


def test_result_content_length_from_the_function_is_dropped() -> None:
    """Framing headers are the server's own: the function's ``Content-Length`` is not passed on."""
    _, headers, _ = response_from_result({"statusCode": 200, "headers": {"Content-Length": "999"}, "body": "x"})
    assert headers == []


@pytest.mark.parametrize(
    "result",
    [
        None,
        {"statusCode": "200"},
        {"statusCode": 700},
        {"statusCode": 200, "body": 5},
        {"statusCode": 200, "headers": {"X": "a\r\nInjected: 1"}},
        {"statusCode": 200, "multiValueHeaders": {"X": "not a list"}},
        {"statusCode": 200, "body": "***", "isBase64Encoded": True},
    ],
)
def test_malformed_results_are_refused(result: Any) -> None:
    """A result API Gateway could not use raises, so the server answers 502."""
    with pytest.raises(InvalidLambdaResponse):
        response_from_result(result)


# -- over loopback -----------------------------------------------------------------------------------


class RecordingHandler:
    """A Lambda handler that keeps each event and answers with a fixed or computed result."""

    def __init__(self, answer: Any = None, *, delay: float = 0.0) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.answer = answer
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Mapping[str, Any]:
        with self._lock:
            self.events.append(event)
            self.contexts.append(context)
        if self.delay:
            time.sleep(self.delay)
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer is not None:
            return self.answer  # type: ignore[no-any-return]
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json", "X-Request-Id": event["requestContext"]["requestId"]},
            "multiValueHeaders": {},
            "body": json.dumps({"path": event["path"], "remaining": context.get_remaining_time_in_millis()}),
            "isBase64Encoded": False,
        }


def _serve(handler: RecordingHandler, options: ApiServerOptions | None = None) -> Iterator[LocalApiServer]:
    server = LocalApiServer(("127.0.0.1", 0), handler, options=options)
    server.serve_in_thread()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def recorder() -> RecordingHandler:
    """A handler that records events."""
    return RecordingHandler()


@pytest.fixture
def server(recorder: RecordingHandler) -> Iterator[LocalApiServer]:
    """The server in front of ``recorder``, on a free loopback port."""
    yield from _serve(recorder)


@pytest.mark.integration
def test_round_trip_over_loopback(server: LocalApiServer, recorder: RecordingHandler) -> None:
    """A real HTTP request reaches the handler as an event and its result comes back as the response."""
    response = httpx.post(
        f"{server.url}/contact?x=1", content=b'{"name": "Ada"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    event = recorder.events[0]
    assert event["httpMethod"] == "POST"
    assert event["body"] == '{"name": "Ada"}'
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert response.headers["X-Request-Id"] == event["requestContext"]["requestId"]
    assert response.headers["x-amzn-RequestId"] == event["requestContext"]["requestId"]
    assert 29_000 < response.json()["remaining"] <= 30_000


@pytest.mark.integration
def test_every_request_gets_a_fresh_request_id(server: LocalApiServer, recorder: RecordingHandler) -> None:
    """Two requests on one keep-alive connection carry different request ids."""
    with httpx.Client(base_url=server.url) as client:
        client.get("/contact/token")
        client.get("/contact/token")
    ids = {event["requestContext"]["requestId"] for event in recorder.events}
    assert len(ids) == 2


@pytest.mark.integration
def test_source_ip_is_the_connecting_loopback_address(server: LocalApiServer, recorder: RecordingHandler) -> None:
    """A client bound to 127.0.0.2 is seen as 127.0.0.2, whatever headers it sends."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport) as client:
        client.get(f"{server.url}/contact/token", headers={"X-Forwarded-For": "198.51.100.1"})
    assert recorder.events[0]["requestContext"]["identity"]["sourceIp"] == "127.0.0.2"


@pytest.mark.integration
def test_requests_are_served_concurrently() -> None:
    """Eight requests that each take 0.3 s finish together in well under 8 x 0.3 s."""
    handler = RecordingHandler(delay=0.3)
    for server in _serve(handler):
        started = time.perf_counter()
        threads = [threading.Thread(target=httpx.get, args=(f"{server.url}/contact/token",)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert time.perf_counter() - started < 1.5
    assert len(handler.events) == 8


@pytest.mark.integration
def test_handler_exception_is_a_502_like_api_gateway() -> None:
    """When the function raises, the client gets API Gateway's 502 body, never a stack trace."""
    for server in _serve(RecordingHandler(RuntimeError("boom"))):
        response = httpx.get(f"{server.url}/contact/token")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert "boom" not in response.text


@pytest.mark.integration
def test_malformed_result_is_a_502() -> None:
    """A result with no valid status code is a 502."""
    for server in _serve(RecordingHandler({"statusCode": "nope"})):
        assert httpx.get(f"{server.url}/contact").status_code == 502


@pytest.mark.integration
def test_body_over_the_cap_is_refused_unread() -> None:
    """A ``Content-Length`` above the cap gets 413 and the function never runs."""
    handler = RecordingHandler()
    for server in _serve(handler, ApiServerOptions(max_body_bytes=1024)):
        response = httpx.post(f"{server.url}/contact", content=b"x" * 2048)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert handler.events == []


@pytest.mark.integration
def test_partial_body_times_out_with_408() -> None:
    """A client that announces 100 bytes and sends 10 is cut off with 408 once the body deadline passes."""
    handler = RecordingHandler()
    options = ApiServerOptions(body_timeout_seconds=0.5, socket_timeout_seconds=0.3)
    for server in _serve(handler, options):
        host, port = server.server_address[:2]
        with socket.create_connection((str(host), port), timeout=5) as sock:
            sock.sendall(b"POST /contact HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
            started = time.perf_counter()
            answer = sock.recv(4096)
            elapsed = time.perf_counter() - started
    assert answer.startswith(b"HTTP/1.1 408")
    assert elapsed < 3
    assert handler.events == []


@pytest.mark.integration
def test_idle_connection_is_closed_after_the_socket_timeout() -> None:
    """A slow-loris that never finishes its headers is dropped after the socket timeout."""
    for server in _serve(RecordingHandler(), ApiServerOptions(socket_timeout_seconds=0.3)):
        host, port = server.server_address[:2]
        with socket.create_connection((str(host), port), timeout=5) as sock:
            sock.sendall(b"POST /contact HTTP/1.1\r\nHost: x\r\n")
            started = time.perf_counter()
            data = sock.recv(4096)
            assert time.perf_counter() - started < 3
    assert data in (b"",) or data.startswith(b"HTTP/1.1 408")


@pytest.mark.integration
def test_any_method_reaches_the_function(server: LocalApiServer, recorder: RecordingHandler) -> None:
    """PUT, DELETE and PATCH are proxied too, so the function can answer 405 with ``Allow``."""
    for method in ("PUT", "DELETE", "PATCH"):
        httpx.request(method, f"{server.url}/contact")
    assert [event["httpMethod"] for event in recorder.events] == ["PUT", "DELETE", "PATCH"]


@pytest.mark.integration
def test_head_answers_without_a_body(server: LocalApiServer) -> None:
    """HEAD gets the status and headers only."""
    response = httpx.head(f"{server.url}/contact/token")
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.integration
def test_access_log_gets_one_record_per_request() -> None:
    """Each request produces one access record with status, outcome and source address."""
    records: list[Any] = []
    server = LocalApiServer(("127.0.0.1", 0), RecordingHandler(), access_log=records.append)
    server.serve_in_thread()
    try:
        httpx.get(f"{server.url}/contact/token")
    finally:
        server.close()
    assert len(records) == 1
    assert records[0].status == 200
    assert records[0].source_ip == "127.0.0.1"
    assert records[0].path == "/contact/token"
