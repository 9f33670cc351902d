"""Turnstile in the local stack (``--turnstile``): the siteverify stand-in, the widget stand-in in a real
headless Chromium, and the API verifying against them over loopback.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.local.__main__ import build_parser
from contact_sdk.devtools.local.console import Console
from contact_sdk.devtools.local.page_server import PageServer, with_turnstile_widget
from contact_sdk.devtools.local.stack import LocalStack, StackOptions, StackPorts, StackStartError
from contact_sdk.devtools.local.turnstile import (
    DUMMY_TOKEN,
    FAIL_SECRET,
    PASS_SECRET,
    SITEVERIFY_PATH,
    SPENT_SECRET,
    SiteverifyStandIn,
)
from tests.conftest import LOOPBACK_AWS_CALL_TIMEOUT_MS
from tests.local.browser import CHROMIUM, Browser

pytestmark = pytest.mark.integration


def valid_submission(token: str | None, **changes: Any) -> dict[str, Any]:
    """A person's submission carrying the widget's token."""
    body: dict[str, Any] = {
        "name": "Grace Hopper",
        "email": "grace@example.org",
        "message": "Hello, this went through the Turnstile stand-in.",
        "consent": True,
        "turnstileToken": token,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def send(stack: LocalStack, body: dict[str, Any]) -> httpx.Response:
    """Fetch a CSRF token from the page's origin and POST the body, as the page does."""
    origin = {"Origin": stack.page_url}
    token = httpx.get(f"{stack.api_url}/contact/token", headers=origin).json()["token"]
    headers = {**origin, "Content-Type": "application/json", "X-CSRF-Token": token}
    return httpx.post(f"{stack.api_url}/contact", headers=headers, content=json.dumps(body))


def sandbox_emails(stack: LocalStack) -> list[dict[str, Any]]:
    """What the Resend sandbox received."""
    data = httpx.get(f"{stack.sandbox_url}/_sandbox/emails").json()
    items = data["data"] if isinstance(data, dict) else data
    assert isinstance(items, list)
    return items


# -- the siteverify stand-in on its own ----------------------------------------------------------


@pytest.fixture
def standin() -> Iterator[SiteverifyStandIn]:
    """A stand-in on a free loopback port."""
    with SiteverifyStandIn(("127.0.0.1", 0), hostname="127.0.0.1", action="contact") as server:
        yield server


@pytest.mark.parametrize(
    ("fields", "answer"),
    [
        ({"secret": PASS_SECRET, "response": DUMMY_TOKEN}, (True, [])),
        ({"secret": FAIL_SECRET, "response": DUMMY_TOKEN}, (False, ["invalid-input-response"])),
        ({"secret": SPENT_SECRET, "response": DUMMY_TOKEN}, (False, ["timeout-or-duplicate"])),
        ({"secret": PASS_SECRET, "response": "not-the-dummy"}, (False, ["invalid-input-response"])),
        ({"secret": "0x4AAAAAAAsomething", "response": DUMMY_TOKEN}, (False, ["invalid-input-secret"])),
        ({"response": DUMMY_TOKEN}, (False, ["missing-input-secret"])),
        ({"secret": PASS_SECRET}, (False, ["missing-input-response"])),
    ],
)
def test_the_standin_honours_cloudflares_test_secrets(
    standin: SiteverifyStandIn, fields: dict[str, str], answer: tuple[bool, list[str]]
) -> None:
    """Cloudflare's documented behaviour for its dummy secrets, form-encoded."""
    data = httpx.post(standin.url, data=fields).json()
    assert (data["success"], data["error-codes"]) == answer
    if data["success"]:
        assert (data["hostname"], data["action"]) == ("127.0.0.1", "contact")
        assert data["challenge_ts"].endswith("Z")


def test_the_standin_reads_json_too_and_replays_an_idempotency_key(standin: SiteverifyStandIn) -> None:
    """JSON bodies work like form bodies; the same idempotency_key gets the first answer again."""
    first = httpx.post(standin.url, json={"secret": PASS_SECRET, "response": DUMMY_TOKEN, "idempotency_key": "k1"})
    again = httpx.post(standin.url, json={"secret": SPENT_SECRET, "response": DUMMY_TOKEN, "idempotency_key": "k1"})
    assert first.json() == again.json()
    assert first.json()["success"] is True
    assert [r["idempotency_key"] for r in standin.received] == ["k1", "k1"]


@pytest.mark.parametrize(
    ("content_type", "raw"), [("application/json", b"[1, 2]"), ("application/json", b"{nope"), ("text/plain", b"\xff")]
)
def test_an_unreadable_body_is_bad_request(standin: SiteverifyStandIn, content_type: str, raw: bytes) -> None:
    """Not JSON, not an object, not UTF-8: bad-request."""
    data = httpx.post(standin.url, content=raw, headers={"Content-Type": content_type}).json()
    assert (data["success"], data["error-codes"]) == (False, ["bad-request"])


def test_other_paths_are_404(standin: SiteverifyStandIn) -> None:
    """Only siteverify is there."""
    assert httpx.post(standin.url.replace(SITEVERIFY_PATH, "/other"), data={}).status_code == 404


def test_the_standin_runs_as_a_command() -> None:
    """``python -m contact_sdk.devtools.local.turnstile --host 127.0.0.2 --port 0 --hostname shop.example --action
    newsletter`` prints its URL, on that loopback address, and answers there, a success naming that page host and
    widget action (the defaults are 127.0.0.1, localhost and contact)."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    command = [sys.executable, "-m", "contact_sdk.devtools.local.turnstile", "--host", "127.0.0.2", "--port", "0"]
    command += ["--hostname", "shop.example", "--action", "newsletter"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("siteverify stand-in on http://127.0.0.2:")
        url = line.rsplit(" ", 1)[1]
        answer = httpx.post(url, data={"secret": PASS_SECRET, "response": DUMMY_TOKEN}).json()
        assert (answer["success"], answer["hostname"], answer["action"]) == (True, "shop.example", "newsletter")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_standin_command_says_why_it_cannot_listen() -> None:
    """A port another program holds: exit 2 and one line naming the address and the reason, not a traceback."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [
            sys.executable,
            "-m",
            "contact_sdk.devtools.local.turnstile",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"the siteverify stand-in cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])  # noqa: S104 - the point: refused
def test_the_standin_command_refuses_an_address_beyond_this_machine(host: str) -> None:
    """It answers siteverify as Cloudflare's test keys do, for whoever asks: any address but loopback is refused
    before anything is bound, exit 2 with the address named."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    command = [sys.executable, "-m", "contact_sdk.devtools.local.turnstile", "--host", host, "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30, check=False)
    assert result.returncode == 2
    assert f"--host {host!r} is not a loopback address" in result.stderr
    assert "Traceback" not in result.stderr


# -- page templating -----------------------------------------------------------------------------


def test_the_widget_markup_goes_into_the_form_and_the_script_into_the_head() -> None:
    """Cloudflare's implicit-rendering markup, escaped, inside the first form; the script before </head>."""
    page = b"<html><head><title>x</title></head><body><form><input></form><form></form></body></html>"
    out = with_turnstile_widget(page, 'key"<', action="contact").decode()
    assert out.count("cf-turnstile") == 1
    widget_at = out.index('<div class="cf-turnstile" data-sitekey="key&quot;&lt;" data-action="contact"></div>')
    assert out.index("<form>") < widget_at < out.index("</form>")
    assert out.index('<script src="/turnstile/v0/api.js" async defer></script>') < out.index("</head>")
    with pytest.raises(ValueError, match="</form>"):
        with_turnstile_widget(b"<html><head></head><body></body></html>", "k")


def test_the_flag_is_parsed_and_checked() -> None:
    """``--turnstile`` takes pass, fail or spent; a stack refuses anything else."""
    assert build_parser({}).parse_args(["--turnstile", "spent"]).turnstile == "spent"
    assert build_parser({}).parse_args([]).turnstile is None
    assert build_parser({"CONTACT_LOCAL_TURNSTILE": "fail"}).parse_args([]).turnstile == "fail"
    with pytest.raises(SystemExit):
        build_parser({}).parse_args(["--turnstile", "maybe"])
    with pytest.raises(StackStartError, match="--turnstile"):
        LocalStack(StackOptions(turnstile="maybe"))


# -- the whole stack -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def passing_stack() -> Iterator[LocalStack]:
    """``python -m contact_sdk.devtools.local --turnstile pass`` on free ports (no fill-time rule: it posts at once)."""
    options = StackOptions(
        ports=StackPorts.any(),
        turnstile="pass",
        min_fill_seconds=0,
        access_log=False,
        aws_call_timeout_ms=LOOPBACK_AWS_CALL_TIMEOUT_MS,
    )
    with LocalStack(options, console=Console(io.StringIO())) as running:
        yield running


def test_the_stack_verifies_against_the_standin(passing_stack: LocalStack) -> None:
    """With the always-passing secret: a token is delivered, no token is 403 captcha_invalid."""
    assert passing_stack.siteverify is not None
    assert passing_stack.environment["CONTACT_TURNSTILE_SITEVERIFY_URL"] == passing_stack.siteverify.url
    assert "turnstile       on (pass)" in passing_stack.banner()
    before = len(sandbox_emails(passing_stack))
    assert send(passing_stack, valid_submission(DUMMY_TOKEN)).json()["status"] == "sent"
    refused = send(passing_stack, valid_submission(None, message="And this one has no widget token."))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "captcha_invalid")
    assert len(sandbox_emails(passing_stack)) == before + 1
    assert passing_stack.siteverify.received[-1]["remoteip"] == "127.0.0.1"


def test_the_demo_page_carries_the_widget_only_with_turnstile_on(passing_stack: LocalStack) -> None:
    """With --turnstile the page has one widget and the script; a page server without a sitekey has neither."""
    page = httpx.get(f"{passing_stack.page_url}/").text
    assert page.count('class="cf-turnstile"') == 1
    assert httpx.get(f"{passing_stack.page_url}/turnstile/v0/api.js").status_code == 200
    plain = PageServer(("127.0.0.1", 0), config={"apiUrl": passing_stack.api_url})
    plain.serve_in_thread()
    try:
        assert "cf-turnstile" not in httpx.get(f"{plain.url}/").text
        assert httpx.get(f"{plain.url}/turnstile/v0/api.js").status_code == 404
    finally:
        plain.close()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_widget_standin_puts_a_token_in_the_form(passing_stack: LocalStack) -> None:
    """In Chromium: the widget renders implicitly inside the form with a hidden cf-turnstile-response holding
    the dummy token, window.turnstile answers getResponse/reset/render, and that token is accepted by the API.
    """
    with Browser() as browser:
        browser.goto(f"{passing_stack.page_url}/")
        token = browser.wait_for(
            "(document.querySelector('form [name=\"cf-turnstile-response\"]') || {}).value", timeout=10
        )
        assert token == DUMMY_TOKEN
        assert browser.evaluate("document.querySelectorAll('[name=\"cf-turnstile-response\"]').length") == 1
        assert browser.evaluate("turnstile.getResponse()") == DUMMY_TOKEN
        assert browser.evaluate(
            "document.querySelector('.cf-turnstile').contains(document.querySelector('[name=\"cf-turnstile-response\"]'))"
        )
        browser.evaluate("document.querySelector('[name=\"cf-turnstile-response\"]').value = ''")
        browser.evaluate("turnstile.reset()")
        assert browser.evaluate("turnstile.getResponse()") == DUMMY_TOKEN
        # Explicit rendering, and the dummy sitekey that always fails (no token, error callback).
        failing = browser.evaluate(
            "(() => { const f = document.createElement('form'); const d = document.createElement('div');"
            " f.appendChild(d); document.body.appendChild(f); window.failed = null;"
            " const id = turnstile.render(d, {sitekey: '2x00000000000000000000AB',"
            " 'error-callback': c => { window.failed = c; }});"
            " return [turnstile.getResponse(id), window.failed]; })()"
        )
        assert failing == ["", "110200"]
    # The token the browser showed passes the real API.
    assert (
        send(passing_stack, valid_submission(str(token), message="Sent with the browser's token.")).status_code == 200
    )


def test_the_spent_secret_refuses_every_token() -> None:
    """``--turnstile spent``: Cloudflare's already-spent test secret, 403 captcha_invalid, nothing sent."""
    options = StackOptions(
        ports=StackPorts.any(),
        turnstile="spent",
        min_fill_seconds=0,
        access_log=False,
        aws_call_timeout_ms=LOOPBACK_AWS_CALL_TIMEOUT_MS,
    )
    with LocalStack(options, console=Console(io.StringIO())) as stack:
        response = send(stack, valid_submission(DUMMY_TOKEN))
        assert (response.status_code, response.json()["error"]["code"]) == (403, "captcha_invalid")
        assert sandbox_emails(stack) == []
        assert stack.siteverify is not None and len(stack.siteverify.received) == 1
