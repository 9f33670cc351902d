"""Fault injection: latency, failure rates, hangs, non-JSON pages, resets, scripts and outages."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.sandbox import FaultSpecError, ResendSandbox

pytestmark = pytest.mark.integration

Email = Callable[..., dict[str, object]]


def test_latency_is_added_within_the_range(make_sandbox: Callable[..., ResendSandbox], email: Email):
    """``latency_ms=[min, max]`` delays each answer by a uniform amount in the range."""
    sandbox = make_sandbox(latency_ms=[150, 200])
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": "Bearer re_test_key"}) as http:
        started = time.monotonic()
        assert http.post("/emails", json=email()).status_code == 200
        assert 0.15 <= time.monotonic() - started < 1.0


def test_failure_rate_answers_the_configured_error(sandbox: ResendSandbox, client: httpx.Client, email: Email):
    """``failure_rate: 1`` answers ``failure_status``/``failure_name`` in Resend's error body, storing nothing."""
    sandbox.set_faults(failure_rate=1.0, failure_status=503, failure_name="service_unavailable")
    response = client.post("/emails", json=email())
    assert response.status_code == 503
    assert response.json()["name"] == "service_unavailable"
    assert sandbox.emails() == []
    assert sandbox.requests()[0]["fault"] == "503:service_unavailable"


def test_failure_rate_from_the_constructor(make_sandbox: Callable[..., ResendSandbox], email: Email):
    """Start-up faults given to the constructor apply from the first request."""
    sandbox = make_sandbox(failure_rate=1.0, failure_status=500)
    response = httpx.post(f"{sandbox.url}/emails", json=email(), headers={"Authorization": "Bearer re_test_key"})
    assert response.json() == {
        "statusCode": 500,
        "name": "internal_server_error",
        "message": response.json()["message"],
    }


@pytest.mark.parametrize(("body", "content_type"), [("html", "text/html"), ("empty", None)])
def test_failures_can_be_non_json(
    sandbox: ResendSandbox, client: httpx.Client, email: Email, body: str, content_type: Any
):
    """``failure_body`` html/empty answer a proxy page or nothing instead of JSON."""
    sandbox.set_faults(failure_rate=1.0, failure_status=502, failure_body=body)
    response = client.post("/emails", json=email())
    assert response.status_code == 502
    assert response.headers.get("content-type") == content_type
    assert (b"Bad Gateway" in response.content) if body == "html" else response.content == b""


def test_script_is_consumed_one_step_per_send_then_normal(sandbox: ResendSandbox, client: httpx.Client, email: Email):
    """``["500", "503", "200"]`` answers 500, 503, then processes normally, and normally after that."""
    sandbox.script(["500", "503", "200"])
    statuses = [client.post("/emails", json=email()).status_code for _ in range(4)]
    assert statuses == [500, 503, 200, 200]
    assert len(sandbox.emails()) == 2
    assert sandbox.faults()["script"] == []


def test_script_steps_are_not_consumed_by_reads(sandbox: ResendSandbox, client: httpx.Client, email: Email):
    """Only sends consume script steps; a GET in between does not."""
    sandbox.script(["500"])
    assert client.get("/emails").status_code == 200
    assert client.post("/emails", json=email()).status_code == 500


def test_script_step_with_name_and_retry_after(sandbox: ResendSandbox, client: httpx.Client, email: Email):
    """``429:daily_quota_exceeded;retry-after=7`` answers that name and header."""
    sandbox.script(["429:daily_quota_exceeded;retry-after=7", "429;retry-after=Wed, 21 Oct 2015 07:28:00 GMT", "429"])
    first, second, third = (client.post("/emails", json=email()) for _ in range(3))
    assert (first.status_code, first.json()["name"], first.headers["retry-after"]) == (429, "daily_quota_exceeded", "7")
    assert second.headers["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert (third.json()["name"], third.headers["retry-after"]) == ("rate_limit_exceeded", "1")


def test_dict_steps_are_accepted(client: httpx.Client, email: Email):
    """A dict step says the same as a string step, over the admin endpoint."""
    step = {"status": 429, "name": "rate_limit_exceeded", "retry_after": "7"}
    assert client.post("/_sandbox/faults", json={"script": [step]}).status_code == 200
    response = client.post("/emails", json=email())
    assert (response.status_code, response.headers["retry-after"]) == (429, "7")


def test_502_html_and_empty_500_steps(client: httpx.Client, email: Email):
    """``502-html`` answers a proxy's HTML page and ``empty-500`` an empty body."""
    client.post("/_sandbox/faults", json={"script": ["502-html", "empty-500"]})
    page, empty = client.post("/emails", json=email()), client.post("/emails", json=email())
    assert (page.status_code, page.headers["content-type"]) == (502, "text/html")
    assert b"<title>502 Bad Gateway</title>" in page.content
    assert (empty.status_code, empty.content) == (500, b"")


def test_reset_step_closes_the_connection_without_answering(sandbox: ResendSandbox, client: httpx.Client, email: Email):
    """``reset`` drops the connection: the client sees a transport error, the log a null status."""
    sandbox.script(["reset"])
    with pytest.raises(httpx.TransportError):
        client.post("/emails", json=email())
    assert client.post("/emails", json=email()).status_code == 200
    assert [r["status"] for r in sandbox.requests()] == [None, 200]


def test_timeout_step_hangs_past_the_client_timeout_and_stores_nothing(
    sandbox: ResendSandbox, client: httpx.Client, email: Email
):
    """``timeout`` hangs longer than the client waits; the email is not stored."""
    sandbox.script(["timeout;seconds=0.4"])
    with pytest.raises(httpx.ReadTimeout):
        client.post("/emails", json=email(), timeout=0.15)
    assert sandbox.emails() == []
    assert sandbox.requests()[0]["fault"] == "timeout;seconds=0.4"


def test_timeout_answers_504_to_a_patient_client(sandbox: ResendSandbox, client: httpx.Client, email: Email):
    """A client that waits out the hang gets 504 ``gateway_timeout``."""
    sandbox.set_faults(timeout_rate=1.0, timeout_seconds=0.1)
    assert client.post("/emails", json=email()).status_code == 504


def test_timeout_accept_stores_the_email_and_a_retry_gets_the_same_id(
    sandbox: ResendSandbox, client: httpx.Client, email: Email
):
    """``timeout-accept`` stores the email before hanging; the retry with the same key answers that id."""
    sandbox.script(["timeout-accept;seconds=0.4"])
    headers = {"Idempotency-Key": "lost-answer"}
    with pytest.raises(httpx.ReadTimeout):
        client.post("/emails", json=email(), headers=headers, timeout=0.15)
    [stored] = sandbox.emails()
    retry = client.post("/emails", json=email(), headers=headers)
    assert retry.json() == {"id": stored["id"]}
    assert len(sandbox.emails()) == 1
    assert [r["idempotency_key"] for r in sandbox.requests()] == ["lost-answer", "lost-answer"]


def test_outage_window_follows_the_injected_clock(
    sandbox: ResendSandbox, client: httpx.Client, clock: Any, email: Email
):
    """``outage_seconds`` answers 503 ``service_unavailable`` to everything until the clock passes it."""
    client.post("/_sandbox/faults", json={"outage_seconds": 30})
    assert client.post("/emails", json=email()).json()["name"] == "service_unavailable"
    assert client.get("/emails").status_code == 503
    clock.advance(29)
    assert client.post("/emails", json=email()).status_code == 503
    clock.advance(2)
    assert client.post("/emails", json=email()).status_code == 200
    assert sandbox.faults()["outage_remaining_seconds"] == 0.0


@pytest.mark.parametrize(
    "settings",
    [
        {"script": ["600"]},
        {"script": ["500:bad name"]},
        {"script": ["teapot"]},
        {"script": ["429;retry-after=soon"]},
        {"script": ["500;seconds=2"]},
        {"script": ["200-html"]},
        {"script": [{"status": 500, "colour": "red"}]},
        {"script": "500"},
        {"latency_ms": [300, 100]},
        {"failure_rate": 2},
        {"failure_body": "xml"},
        {"outage_seconds": -1},
        {"nonsense": 1},
    ],
)
def test_bad_fault_settings_answer_a_clear_400(client: httpx.Client, settings: dict[str, object]):
    """A setting or step the sandbox cannot understand answers 400 ``invalid_fault`` and changes nothing."""
    before = client.get("/_sandbox/faults").json()
    response = client.post("/_sandbox/faults", json=settings)
    assert response.status_code == 400
    assert response.json()["name"] == "invalid_fault"
    assert response.json()["message"]
    assert client.get("/_sandbox/faults").json() == before


def test_faults_endpoint_shows_merges_and_clears(client: httpx.Client):
    """``POST`` merges settings, ``GET`` shows them, ``DELETE`` clears them."""
    client.post("/_sandbox/faults", json={"latency_ms": [10, 20]})
    shown = client.post("/_sandbox/faults", json={"script": ["500", "429:daily_quota_exceeded;retry-after=7"]}).json()
    assert shown["latency_ms"] == [10, 20]
    assert shown["script"] == ["500", "429:daily_quota_exceeded;retry-after=7"]
    assert client.get("/_sandbox/faults").json() == shown
    cleared = client.delete("/_sandbox/faults").json()
    assert (cleared["latency_ms"], cleared["script"]) == (None, [])


def test_python_methods_validate_like_the_endpoint(sandbox: ResendSandbox):
    """``script`` and ``set_faults`` raise ``FaultSpecError`` on a bad step; ``clear_faults`` clears."""
    with pytest.raises(FaultSpecError, match="teapot"):
        sandbox.script(["500", "teapot"])
    sandbox.set_faults({"failure_rate": 0.5}, latency_ms="5-10")
    assert (sandbox.faults()["failure_rate"], sandbox.faults()["latency_ms"]) == (0.5, [5.0, 10.0])
    sandbox.clear_faults()
    assert sandbox.faults()["failure_rate"] == 0.0


def test_stop_ends_a_long_hang_promptly(make_sandbox: Callable[..., ResendSandbox], email: Email):
    """A request hanging for 30 s ends as soon as the sandbox stops; teardown never blocks."""
    sandbox = make_sandbox()
    sandbox.script(["timeout;seconds=30"])
    errors: list[BaseException] = []

    def send() -> None:
        try:
            httpx.post(f"{sandbox.url}/emails", json=email(), headers={"Authorization": "Bearer re_test_key"})
        except httpx.TransportError as exc:
            errors.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    deadline = time.monotonic() + 2
    while not sandbox.requests() and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    sandbox.stop()
    thread.join(timeout=2)
    assert time.monotonic() - started < 1.5
    assert not thread.is_alive()
    assert errors
