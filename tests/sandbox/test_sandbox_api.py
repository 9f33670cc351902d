"""The Resend API surface of the sandbox: sending, validation, auth, idempotency, rate limits, reading back."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from tests.sandbox.conftest import API_KEY

pytestmark = pytest.mark.integration

Email = Callable[..., dict[str, object]]


def assert_error(response: httpx.Response, status: int, name: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"statusCode", "name", "message"}
    assert body["statusCode"] == status
    assert body["name"] == name
    assert body["message"]


def test_send_answers_a_uuid4_id_and_stores_the_email(client: httpx.Client, sandbox: ResendSandbox, email: Email):
    """A valid email answers 200 ``{"id": <uuid4>}`` and is listed with its body and headers."""
    response = client.post("/emails", json=email(reply_to="visitor@example.org"), headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 200
    assert set(response.json()) == {"id"}
    assert uuid.UUID(response.json()["id"]).version == 4
    [stored] = sandbox.emails()
    assert stored["id"] == response.json()["id"]
    assert stored["body"] == email(reply_to="visitor@example.org")
    assert stored["headers"]["idempotency-key"] == "k-1"
    assert client.get("/_sandbox/emails").json() == sandbox.emails()


@pytest.mark.parametrize(
    ("body", "status", "name"),
    [
        ({"to": "a@example.com", "subject": "s"}, 422, "missing_required_field"),
        ({"from": "a@example.com", "subject": "s"}, 422, "missing_required_field"),
        ({"from": "a@example.com", "to": "b@example.com"}, 422, "missing_required_field"),
        ({"from": "not an address", "to": "b@example.com", "subject": "s"}, 422, "invalid_from_address"),
        ({"from": "Name <broken>", "to": "b@example.com", "subject": "s"}, 422, "invalid_from_address"),
        ({"from": 7, "to": "b@example.com", "subject": "s"}, 422, "validation_error"),
        ({"from": "a@example.com", "to": [], "subject": "s"}, 422, "validation_error"),
        (
            {"from": "a@example.com", "to": [f"u{i}@example.com" for i in range(51)], "subject": "s"},
            422,
            "validation_error",
        ),
        ({"from": "a@example.com", "to": "nobody", "subject": "s"}, 422, "validation_error"),
        ({"from": "a@example.com", "to": "b@example.com", "subject": 1}, 422, "validation_error"),
        ({"from": "a@example.com", "to": "b@example.com", "subject": "s", "reply_to": 5}, 422, "validation_error"),
        ({"from": "a@example.com", "to": "b@example.com", "subject": "s", "html": ["x"]}, 422, "validation_error"),
        (
            {"from": "a@example.com", "to": "b@example.com", "subject": "s", "headers": {"X": 1}},
            422,
            "validation_error",
        ),
        (
            {"from": "a@example.com", "to": "b@example.com", "subject": "s", "tags": [{"value": "x"}]},
            422,
            "validation_error",
        ),
        (
            {"from": "a@example.com", "to": "b@example.com", "subject": "s", "tags": [{"name": "a b"}]},
            422,
            "invalid_parameter",
        ),
        (
            {"from": "a@example.com", "to": "b@example.com", "subject": "s", "scheduled_at": "someday"},
            422,
            "invalid_parameter",
        ),
        (
            {"from": "a@example.com", "to": "b@example.com", "subject": "s", "attachments": [{"filename": "a"}]},
            422,
            "invalid_attachment",
        ),
        (
            {"from": "a@example.com", "to": "b@example.com", "subject": "s", "template": {"id": "t"}, "html": "x"},
            422,
            "validation_error",
        ),
        (["not", "an", "object"], 422, "validation_error"),
    ],
)
def test_invalid_bodies_are_refused_like_resend(client: httpx.Client, body: Any, status: int, name: str):
    """Missing, mistyped and malformed fields answer Resend's 422 error names."""
    assert_error(client.post("/emails", json=body), status, name)


def test_every_described_field_is_accepted(client: httpx.Client, email: Email):
    """All snake_case fields of ``SendEmailRequest`` in their documented shapes are accepted."""
    body = email(
        to="Visitor <visitor@example.org>",
        cc=["cc@example.org"],
        bcc="bcc@example.org",
        reply_to=["Visitor <visitor@example.org>"],
        headers={"X-Entity-Ref-ID": "123"},
        tags=[{"name": "category", "value": "contact_form"}],
        scheduled_at="2030-01-01T10:00:00.000Z",
        attachments=[{"filename": "a.txt", "content": "aGk="}, {"path": "https://example.com/a.pdf"}],
        topic_id="topic_1",
    )
    assert client.post("/emails", json=body).status_code == 200


def test_invalid_json_answers_400(client: httpx.Client):
    """A body that is not JSON answers 400 ``validation_error``."""
    response = client.post("/emails", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, 400, "validation_error")


def test_missing_authorization_answers_401(sandbox: ResendSandbox, email: Email):
    """No ``Authorization`` header answers 401 ``missing_api_key``."""
    assert_error(httpx.post(f"{sandbox.url}/emails", json=email()), 401, "missing_api_key")


@pytest.mark.parametrize("value", ["Bearer re_wrong", "Basic re_test_key", "Bearer"])
def test_wrong_key_answers_403(sandbox: ResendSandbox, email: Email, value: str):
    """A key other than the configured one answers 403 ``invalid_api_key``."""
    response = httpx.post(f"{sandbox.url}/emails", json=email(), headers={"Authorization": value})
    assert_error(response, 403, "invalid_api_key")


def test_missing_user_agent_answers_403(sandbox: ResendSandbox):
    """A request without ``User-Agent`` answers 403 ``validation_error`` saying so."""
    connection = http.client.HTTPConnection(sandbox.host, sandbox.port, timeout=5)
    try:
        connection.request("GET", "/emails/x", headers={"Authorization": "Bearer re_test_key"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 403
    assert b"validation_error" in body
    assert b"User-Agent" in body


def test_get_email_answers_resend_shape(client: httpx.Client, email: Email):
    """``GET /emails/{id}`` answers the stored email in Resend's ``Email`` shape."""
    email_id = client.post("/emails", json=email(reply_to="r@example.org")).json()["id"]
    got = client.get(f"/emails/{email_id}").json()
    assert got["object"] == "email"
    assert got["id"] == email_id
    assert got["to"] == ["delivered@resend.dev"]
    assert got["from"] == "Contact form <noreply@example.com>"
    assert got["reply_to"] == ["r@example.org"]
    assert (got["subject"], got["html"], got["text"]) == ("Hello", "<p>Hi</p>", "Hi")
    assert got["last_event"] == "delivered"
    assert got["created_at"].endswith("+00")


def test_unknown_email_and_path_answer_404(client: httpx.Client):
    """An unknown email id and an unknown path both answer 404 ``not_found``."""
    assert_error(client.get(f"/emails/{uuid.uuid4()}"), 404, "not_found")
    assert_error(client.get("/domains-nope"), 404, "not_found")
    assert_error(client.delete("/emails"), 405, "method_not_allowed")


def test_list_emails_is_newest_first(client: httpx.Client, email: Email):
    """``GET /emails`` lists newest first with Resend's list envelope."""
    first = client.post("/emails", json=email(subject="one")).json()["id"]
    second = client.post("/emails", json=email(subject="two")).json()["id"]
    listed = client.get("/emails", params={"limit": 1}).json()
    assert listed["object"] == "list"
    assert listed["has_more"] is True
    assert [item["id"] for item in listed["data"]] == [second]
    assert first != second


def test_batch_answers_one_id_per_email(client: httpx.Client, sandbox: ResendSandbox, email: Email):
    """``POST /emails/batch`` stores each email and answers ``{"data": [{"id"}...]}``."""
    response = client.post("/emails/batch", json=[email(subject="a"), email(subject="b")])
    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["data"]]
    assert ids == [stored["id"] for stored in sandbox.emails()]


def test_batch_is_strict_by_default_and_permissive_on_request(client: httpx.Client, email: Email):
    """One bad email fails a strict batch; ``x-batch-validation: permissive`` sends the rest."""
    body = [email(), email(to="nobody")]
    assert_error(client.post("/emails/batch", json=body), 422, "validation_error")
    permissive = client.post("/emails/batch", json=body, headers={"x-batch-validation": "permissive"}).json()
    assert len(permissive["data"]) == 1
    assert permissive["errors"][0]["index"] == 1
    assert_error(client.post("/emails/batch", json=[email()] * 101), 422, "validation_error")


def test_same_key_and_body_return_the_same_id_and_store_one_email(
    client: httpx.Client, sandbox: ResendSandbox, email: Email
):
    """Replaying an Idempotency-Key with the same body answers the first id and stores nothing new."""
    headers = {"Idempotency-Key": "contact-123"}
    first = client.post("/emails", json=email(), headers=headers)
    second = client.post("/emails", json=email(), headers=headers)
    assert first.json() == second.json()
    assert len(sandbox.emails()) == 1
    assert [r["replayed"] for r in sandbox.requests()] == [False, True]


def test_same_key_with_another_body_answers_409(client: httpx.Client, email: Email):
    """Reusing an Idempotency-Key with a different body answers 409 ``invalid_idempotent_request``."""
    client.post("/emails", json=email(), headers={"Idempotency-Key": "k"})
    response = client.post("/emails", json=email(subject="changed"), headers={"Idempotency-Key": "k"})
    assert_error(response, 409, "invalid_idempotent_request")


def test_key_in_flight_answers_409_concurrent(make_sandbox: Callable[..., ResendSandbox], email: Email):
    """A request reusing a key whose first request is still running answers 409 concurrent_idempotent_requests."""
    sandbox = make_sandbox(latency_ms=[400, 400])
    headers = {"Authorization": "Bearer re_test_key", "Idempotency-Key": "busy"}
    results: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: results.append(httpx.post(f"{sandbox.url}/emails", json=email(), headers=headers))
    )
    first.start()
    deadline = time.monotonic() + 2
    while not sandbox.requests() and time.monotonic() < deadline:
        time.sleep(0.01)
    second = httpx.post(f"{sandbox.url}/emails", json=email(), headers=headers)
    first.join()
    assert results[0].status_code == 200
    assert_error(second, 409, "concurrent_idempotent_requests")
    assert len(sandbox.emails()) == 1


def test_keys_expire_after_24_hours_of_the_clock(client: httpx.Client, clock: Any, email: Email):
    """After 24 h by the injected clock a key is free again and makes a new email."""
    headers = {"Idempotency-Key": "daily"}
    first = client.post("/emails", json=email(), headers=headers).json()["id"]
    clock.advance(24 * 3600 - 1)
    assert client.post("/emails", json=email(), headers=headers).json()["id"] == first
    clock.advance(2)
    assert client.post("/emails", json=email(), headers=headers).json()["id"] != first


@pytest.mark.parametrize("key", ["", "x" * 257])
def test_idempotency_key_length_is_checked(client: httpx.Client, email: Email, key: str):
    """An Idempotency-Key outside 1-256 characters answers 400 ``invalid_idempotency_key``."""
    assert_error(client.post("/emails", json=email(), headers={"Idempotency-Key": key}), 400, "invalid_idempotency_key")


def test_refused_request_releases_its_key(client: httpx.Client, email: Email):
    """A key used by a refused request can be used again with a valid body."""
    assert client.post("/emails", json=email(to="bad"), headers={"Idempotency-Key": "r"}).status_code == 422
    assert client.post("/emails", json=email(), headers={"Idempotency-Key": "r"}).status_code == 200


def test_rate_limit_headers_are_on_every_answer(client: httpx.Client, email: Email):
    """Success, refusals and 404s all carry ``ratelimit-limit``, ``-remaining`` and ``-reset``."""
    for response in (client.post("/emails", json=email()), client.post("/emails", json={}), client.get("/nope")):
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(response.headers)


def test_rate_limit_answers_429_with_retry_after(make_sandbox: Callable[..., ResendSandbox], clock: Any, email: Email):
    """Past N requests in one clock second: 429 rate_limit_exceeded with retry-after; the next second is free."""
    sandbox = make_sandbox(rate_limit_per_second=2)
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": "Bearer re_test_key"}) as http:
        answers = [http.post("/emails", json=email()) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
        assert answers[0].headers["ratelimit-limit"] == "2"
        assert_error(answers[2], 429, "rate_limit_exceeded")
        assert answers[2].headers["retry-after"] == "1"
        clock.advance(1)
        assert http.post("/emails", json=email()).status_code == 200


def test_rate_limit_can_change_at_run_time(sandbox: ResendSandbox, client: httpx.Client, email: Email):
    """``set_rate_limit`` turns the limit on and off without a restart."""
    sandbox.set_rate_limit(1)
    assert [client.post("/emails", json=email()).status_code for _ in range(2)] == [200, 429]
    sandbox.set_rate_limit(None)
    assert client.post("/emails", json=email()).status_code == 200


def test_request_log_records_refused_requests_with_their_keys(
    client: httpx.Client, sandbox: ResendSandbox, email: Email
):
    """``GET /_sandbox/requests`` lists every API request with status and Idempotency-Key, refused ones too."""
    client.post("/emails", json={}, headers={"Idempotency-Key": "a"})
    client.post("/emails", json=email(), headers={"Idempotency-Key": "a"})
    log = client.get("/_sandbox/requests").json()
    assert [(r["method"], r["path"], r["status"], r["idempotency_key"]) for r in log] == [
        ("POST", "/emails", 422, "a"),
        ("POST", "/emails", 200, "a"),
    ]
    assert log[1]["email_ids"] == [sandbox.emails()[0]["id"]]


def test_reset_forgets_everything(client: httpx.Client, sandbox: ResendSandbox, email: Email):
    """``POST /_sandbox/reset`` clears emails, requests, idempotency keys and faults."""
    client.post("/emails", json=email(), headers={"Idempotency-Key": "x"})
    sandbox.set_faults(latency_ms=[1, 2])
    assert client.post("/_sandbox/reset").json() == {"reset": True}
    assert sandbox.emails() == []
    assert sandbox.requests() == []
    assert sandbox.faults()["latency_ms"] is None
    client.post("/emails", json=email(subject="new"), headers={"Idempotency-Key": "x"})
    assert len(sandbox.emails()) == 1


def test_non_loopback_host_is_refused_unless_allowed():
    """The Python API refuses a non-loopback host unless ``allow_non_loopback`` is set."""
    with pytest.raises(ValueError, match="non-loopback"):
        ResendSandbox(host="192.0.2.10")
    assert ResendSandbox(host="192.0.2.10", allow_non_loopback=True).host == "192.0.2.10"  # built, never started


def test_concurrent_requests_are_served_concurrently(make_sandbox: Callable[..., ResendSandbox], email: Email):
    """Ten sends with 300 ms latency each finish together, not one after another."""
    sandbox = make_sandbox(latency_ms=[300, 300])
    answers: list[int] = []

    def send() -> None:
        response = httpx.post(f"{sandbox.url}/emails", json=email(), headers={"Authorization": "Bearer re_test_key"})
        answers.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(10)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 10
    assert time.monotonic() - started < 2.0
    assert len(sandbox.emails()) == 10


# -- every method answers JSON ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "name"),
    [
        ("OPTIONS", "/emails", 405, "method_not_allowed"),
        ("TRACE", "/domains", 405, "method_not_allowed"),
        ("CONNECT", "/api-keys", 405, "method_not_allowed"),
        ("PUT", "/emails/receiving", 405, "method_not_allowed"),
        ("OPTIONS", "/nothing-here", 404, "not_found"),
        ("BREW", "/emails", 405, "method_not_allowed"),
    ],
)
def test_every_method_is_answered_in_resend_json(
    sandbox: ResendSandbox, method: str, path: str, status: int, name: str
):
    """Methods no route takes, made-up ones included, get Resend's JSON error body, never an HTML page."""
    connection = http.client.HTTPConnection(sandbox.host, sandbox.port, timeout=5)
    connection.request(method, path, headers={"Authorization": f"Bearer {API_KEY}", "User-Agent": "t"})
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    assert (answer.status, answer.getheader("content-type")) == (status, "application/json; charset=utf-8")
    assert set(json.loads(body)) == {"statusCode", "name", "message"}
    assert json.loads(body)["name"] == name


def test_head_answers_headers_without_a_body(client: httpx.Client):
    """HEAD is routed like any method (405 here, with the allowed ones) and no body follows the headers."""
    answer = client.head("/emails")
    assert (answer.status_code, answer.headers["allow"], answer.content) == (405, "GET, POST", b"")


def test_an_unreadable_request_line_is_answered_in_json(sandbox: ResendSandbox):
    """What the HTTP parser itself refuses is a JSON 400, as Resend's edge answers it, not the library's page."""
    with socket.create_connection((sandbox.host, sandbox.port), timeout=5) as raw:
        raw.sendall(b"GET /emails HTTP/1.1 extra\r\n\r\n")
        answer = http.client.HTTPResponse(raw)  # reads the whole answer, however the server's writes arrive
        answer.begin()
        body = answer.read()
    assert answer.status == 400
    assert str(answer.getheader("content-type")).startswith("application/json")
    assert json.loads(body)["name"] == "validation_error"


def test_admin_lists_keys_and_received_mail(client: httpx.Client, sandbox: ResendSandbox):
    """``/_sandbox/api-keys`` shows keys without tokens; ``POST /_sandbox/receiving`` takes a raw message in."""
    created = client.post("/api-keys", json={"name": "ci", "permission": "sending_access"}).json()
    keys = httpx.get(f"{sandbox.url}/_sandbox/api-keys").json()
    assert [(k["name"], k["permission"]) for k in keys] == [("Sandbox key", "full_access"), ("ci", "sending_access")]
    assert created["token"] not in json.dumps(keys)
    raw = b"From: a@example.org\r\nTo: inbox@example.com\r\nSubject: Hi\r\n\r\nhello\r\n"
    received = httpx.post(f"{sandbox.url}/_sandbox/receiving", content=raw).json()
    assert httpx.get(f"{sandbox.url}/_sandbox/receiving").json() == [
        {"id": received["id"], "from": "a@example.org", "to": ["inbox@example.com"], "subject": "Hi"}
    ]
    assert httpx.get(f"{sandbox.url}/_sandbox/raw/{received['id']}").content == raw
    assert httpx.post(f"{sandbox.url}/_sandbox/receiving", content=b"").status_code == 400
    sandbox.reset()
    assert httpx.get(f"{sandbox.url}/_sandbox/receiving").json() == []
