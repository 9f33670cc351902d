"""The demo page, run by the drop-in client ``contact-form.js``, in a real headless Chromium against a local stack.

What a visitor does and hears: a send with the mouse and one with the keyboard alone, mistakes shown at
their fields with the focus on the first, the live region's words for sent / queued / not sent, the
visitor's text kept and sent again by itself after a ``503``, the rolling ``nextToken``, and a
Turnstile response sent as ``turnstileToken``; and axe-core's verdict on the page, light and dark. The
oracle is what the browser put on the wire (a recording ``fetch`` wrapper installed by the test), what
the page shows, what the sandbox received, and axe-core.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.local.console import Console
from contact_sdk.devtools.local.emulator import aws_client
from contact_sdk.devtools.local.page_server import PageServer
from contact_sdk.devtools.local.stack import LocalStack, StackOptions, StackPorts
from tests.conftest import LOOPBACK_AWS_CALL_TIMEOUT_MS
from tests.local.browser import CHROMIUM, Browser, BrowserError
from tests.local.node_tools import axe_source

pytestmark = [
    pytest.mark.integration,
    # Under xdist the module's tests run on one worker (tests/conftest.py): one stack of each kind. Nothing
    # depends on it: each worker starts its own module stacks, and the outage test restores what it takes away.
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"),
]

#: Set to a directory to keep screenshots of each test's last state.
SCREENSHOTS = os.environ.get("CONTACT_TEST_SCREENSHOTS")
#: The stack's fill-time rule for these tests (the production 3 s would make every test wait 3 s).
MIN_FILL_SECONDS = 1
STATUS = "document.getElementById('result')"
#: True once the page has its token (the browser's Resource Timing: no hook in the code under test).
TOKEN_FETCHED = (
    "performance.getEntriesByType('resource').some(e => e.name.endsWith('/contact/token') && e.responseEnd > 0)"
)

# Records every call the page makes: method, URL, request body and token; the answer's Retry-After, body, status.
RECORD_FETCH = """
window.__calls = [];
const realFetch = window.fetch;
window.fetch = async (url, init) => {
  const entry = {method: (init && init.method) || "GET", url: String(url), body: (init && init.body) || null,
                 token: (init && init.headers && init.headers["X-CSRF-Token"]) || null};
  window.__calls.push(entry);
  const response = await realFetch(url, init);
  entry.retryAfter = response.headers.get("Retry-After");
  entry.answer = await response.clone().json().catch(() => null);
  entry.status = response.status;
  return response;
};
"""


def sandbox_list(stack: LocalStack, what: str) -> list[Any]:
    """``/_sandbox/emails`` or ``/_sandbox/requests``."""
    data = httpx.get(f"{stack.sandbox_url}/_sandbox/{what}").json()
    items = data["data"] if isinstance(data, dict) else data
    assert isinstance(items, list)
    return items


def emails_with(stack: LocalStack, text: str) -> list[dict[str, Any]]:
    """The emails the sandbox accepted whose text part contains ``text``."""
    return [e for e in sandbox_list(stack, "emails") if text in e["body"].get("text", "")]


def unique(words: str) -> str:
    """A message no other test sends (the API sends the same submission at most once a day).

    Kept under 60 characters: the email's text part wraps longer lines.
    """
    return f"{words} #{time.time_ns() % 10**7}."


def running_stack(response_budget_ms: int) -> LocalStack:
    """The whole stack on free ports; the rate limit high enough for every test of the module."""
    options = StackOptions(
        aws_call_timeout_ms=LOOPBACK_AWS_CALL_TIMEOUT_MS,
        ports=StackPorts.any(),
        rate_limit=1000,
        min_fill_seconds=MIN_FILL_SECONDS,
        response_budget_ms=response_budget_ms,
    )
    return LocalStack(options, console=Console(io.StringIO()))


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """The stack with the deployed 4 s response budget: on a loaded machine a send is still sent, not queued."""
    with running_stack(4000) as running:
        yield running


@pytest.fixture(scope="module")
def outage_stack() -> Iterator[LocalStack]:
    """A 1 s response budget: a failing provider gets one attempt before the outbox (or the ``503``) answers,

    so the outage test hears its four ``503``s at once instead of after three seconds of backoff each.
    """
    with running_stack(1000) as running:
        yield running


@contextlib.contextmanager
def open_page(stack: LocalStack, name: str) -> Iterator[Browser]:
    """The demo page, loaded, its token fetched (the page has been shown), and its calls recorded from now on."""
    httpx.delete(f"{stack.sandbox_url}/_sandbox/faults")
    with Browser() as browser:
        browser.goto(f"{stack.page_url}/")
        browser.wait_for(TOKEN_FETCHED)
        time.sleep(MIN_FILL_SECONDS + 0.5)  # the form was shown; a person takes longer than the spam threshold
        browser.evaluate(RECORD_FETCH)
        yield browser
        if SCREENSHOTS:
            browser.screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


@pytest.fixture
def page(stack: LocalStack, request: pytest.FixtureRequest) -> Iterator[Browser]:
    """The demo page on the module's stack (:func:`open_page`)."""
    with open_page(stack, request.node.name) as browser:
        yield browser


def calls(page: Browser) -> list[dict[str, Any]]:
    """What the page sent since the recorder was installed."""
    recorded = page.evaluate("window.__calls")
    assert isinstance(recorded, list)
    return recorded


def status_after(page: Browser, *kinds: str) -> str:
    """Wait until the live region announces one of ``kinds``; its text (on a time-out, what it says instead)."""
    try:
        page.wait_for(f"{json.dumps(list(kinds))}.includes({STATUS}.dataset.kind)")
    except BrowserError as late:
        said = page.evaluate(f"[{STATUS}.dataset.kind, {STATUS}.textContent]")
        raise AssertionError(f"none of {kinds} announced; the page says {said}") from late
    text = page.evaluate(f"{STATUS}.textContent")
    assert isinstance(text, str)
    return text


def fill(page: Browser, message: str, *, email: str = "grace@example.org") -> None:
    """Type a whole form in and tick the consent box (mouse for the box)."""
    page.type_into("name", "Grace Hopper")
    page.type_into("email", email)
    page.type_into("subject", "Compilers")
    page.type_into("message", message)
    page.click("consent")


def test_a_person_sends_two_messages_with_the_rolling_token(stack: LocalStack, page: Browser) -> None:
    """Sent and announced, the email in the sandbox, the form cleared; the second send uses ``nextToken``."""
    first = unique("Hello from a real browser")
    fill(page, first)
    page.click("send")
    text = status_after(page, "sent", "error", "invalid", "wait")
    assert text == "Thank you, your message was sent."
    assert page.evaluate(f"{STATUS}.getAttribute('role')") == "status"
    assert page.evaluate(f"{STATUS}.getAttribute('aria-live')") == "polite"
    assert len(emails_with(stack, first)) == 1
    assert page.evaluate("document.getElementById('message').value") == ""
    assert page.evaluate("document.getElementById('message-count').textContent") == "0"

    page.evaluate(f"{STATUS}.dataset.kind = ''")
    second = unique("A second note, on the rolling token")
    fill(page, second)
    time.sleep(MIN_FILL_SECONDS + 0.2)  # the fill time of the next message counts from the last answer
    page.click("send")
    assert status_after(page, "sent", "error", "invalid", "wait") == "Thank you, your message was sent."
    assert len(emails_with(stack, second)) == 1
    made = calls(page)
    assert [(c["method"], c["url"].removeprefix(stack.api_url)) for c in made] == [
        ("POST", "/contact"),
        ("POST", "/contact"),
    ], "no new token fetch: the second submission used the first answer's nextToken"
    body = json.loads(made[0]["body"])
    assert set(body) == {"name", "email", "subject", "message", "consent", "website", "formStartedAt"}
    assert body["consent"] is True
    assert body["website"] == ""
    assert isinstance(body["formStartedAt"], int)


def test_keyboard_only_a_person_fills_in_and_sends_the_form(stack: LocalStack, page: Browser) -> None:
    """Tab from field to field, Space ticks consent, Enter in a field sends: no mouse, no script focus."""
    message = unique("Sent with the keyboard alone")
    page.evaluate("document.activeElement.blur()")
    for _ in range(4):  # past the intro's inbox link to the first field
        page.press("Tab")
        if page.evaluate("document.activeElement.id") == "name":
            break
    assert page.evaluate("document.activeElement.id") == "name"
    for text in ("Grace Hopper", "grace@example.org", "Compilers", message):
        page.type_text(text)
        page.press("Tab")
    assert page.evaluate("document.activeElement.id") == "consent", "the honeypot is out of the tab order"
    page.press(" ")
    assert page.evaluate("document.getElementById('consent').checked") is True
    page.press("Tab", shift=True)  # back to the message field, then Enter... is a line break in a textarea;
    page.press("Tab", shift=True)  # so from the subject field, where Enter submits the form
    assert page.evaluate("document.activeElement.id") == "subject"
    page.press("Enter")
    assert status_after(page, "sent", "error", "invalid", "wait") == "Thank you, your message was sent."
    assert len(emails_with(stack, message)) == 1


def test_mistakes_are_shown_at_their_fields_and_focus_goes_to_the_first(stack: LocalStack, page: Browser) -> None:
    """The browser's checks (a blank name) and the API's own (an address without a dot) land at their fields."""
    before = len(sandbox_list(stack, "requests"))
    page.type_into("email", "grace@example")  # the browser's type=email allows it; the contract does not
    page.type_into("message", unique("A message long enough to send"))
    page.click("consent")
    page.click("send")
    assert status_after(page, "invalid") == "Please check the highlighted fields."
    assert page.evaluate("document.activeElement.id") == "name"
    assert page.evaluate("document.getElementById('name-error').textContent")
    assert page.evaluate("document.getElementById('name').getAttribute('aria-invalid')") == "true"
    assert calls(page) == [], "a blank required field never leaves the browser"

    page.evaluate(f"{STATUS}.dataset.kind = ''")
    page.type_into("name", "Grace Hopper")
    page.click("send")
    assert status_after(page, "invalid") == "Please check the highlighted fields."
    made = calls(page)
    assert [c["status"] for c in made] == [400]
    assert page.evaluate("document.activeElement.id") == "email"
    email_error = page.evaluate("document.getElementById('email-error').textContent")
    assert "valid email address" in email_error
    assert page.evaluate("document.getElementById('email').getAttribute('aria-invalid')") == "true"
    assert "email-error" in page.evaluate("document.getElementById('email').getAttribute('aria-describedby')")
    assert page.evaluate("document.getElementById('name').getAttribute('aria-invalid')") == "false"
    assert page.evaluate("document.getElementById('name-error').textContent") == ""
    assert page.evaluate("document.getElementById('message').value"), "the visitor's text is kept"
    assert len(sandbox_list(stack, "requests")) == before


def test_a_provider_outage_is_told_as_queued(stack: LocalStack, page: Browser) -> None:
    """``202 queued``: the visitor hears the truth (it arrived, delivery later, no need to resend)."""
    faults = f"{stack.sandbox_url}/_sandbox/faults"
    httpx.post(faults, json={"script": ["429:daily_quota_exceeded"]}).raise_for_status()
    message = unique("Queued while the quota is out")
    fill(page, message)
    page.click("send")
    text = status_after(page, "queued", "sent", "error", "wait")
    assert [c["status"] for c in calls(page)] == [202]
    assert text.startswith("Thank you, we have your message.")
    assert "no need to send it again" in text
    assert page.evaluate("document.getElementById('message').value") == ""


# AbortSignal.timeout on the test's clock: each wait the page asks for is noted, and ends 0.3 s later.
QUICK_TIMEOUTS = """
window.__timeouts = [];
AbortSignal.timeout = (ms) => {
  window.__timeouts.push(ms);
  const controller = new AbortController();
  setTimeout(() => controller.abort(new DOMException("signal timed out", "TimeoutError")), 300);
  return controller.signal;
};
"""


def test_an_api_that_never_answers_ends_the_wait_and_keeps_the_text() -> None:
    """An API that takes the connection and never answers: the page does not say "Sending..." for good.

    The demo page, served on its own with a silent server as its API (the page's CSP lets it talk to that one
    only). When the snippet's 30 s are up (on the test's clock, through ``AbortSignal.timeout``), the visitor
    hears that the service could not be reached, the text stays in the form, and Send works again.
    """
    held: list[socket.socket] = []

    def hold(server: socket.socket) -> None:  # takes every connection and says nothing
        with contextlib.suppress(OSError):
            while True:
                held.append(server.accept()[0])

    with socket.create_server(("127.0.0.1", 0)) as silent:
        api = f"http://127.0.0.1:{silent.getsockname()[1]}"
        threading.Thread(target=hold, args=(silent,), daemon=True).start()
        pages = PageServer(("127.0.0.1", 0), config={"apiUrl": api, "minFillSeconds": 0})
        pages.serve_in_thread()
        try:
            with Browser() as page:
                page.add_script_on_load(QUICK_TIMEOUTS)
                page.goto(f"{pages.url}/")
                message = unique("Sent to a server that never answers")
                fill(page, message)
                page.click("send")
                text = status_after(page, "error", "sent", "queued", "wait")
                assert text == (
                    "The contact service could not be reached. Your message is kept here: please try again."
                )
                assert page.evaluate("document.getElementById('contact-form').hasAttribute('aria-busy')") is False
                assert page.evaluate("document.getElementById('message').value") == message
                asked = page.evaluate("window.__timeouts")
                assert len(asked) >= 2 and set(asked) == {30_000}, asked  # on show and on Send, 30 s each
                page.evaluate(f"{STATUS}.dataset.kind = ''")
                page.click("send")  # not stuck: a second Send goes out and ends the same way
                assert status_after(page, "error", "sent", "queued", "wait") == text
                assert len(page.evaluate("window.__timeouts")) > len(asked)
        finally:
            pages.close()
            for connection in held:
                connection.close()
    assert held, "the page never reached the silent API"


def test_a_turnstile_response_is_sent_as_turnstile_token(stack: LocalStack, page: Browser) -> None:
    """A widget's hidden ``cf-turnstile-response`` goes out as ``turnstileToken`` and the widget is reset after."""
    page.evaluate(
        "(() => { const i = document.createElement('input'); i.type = 'hidden';"
        " i.name = 'cf-turnstile-response'; i.value = 'XXXX.DUMMY.TOKEN.XXXX';"
        " document.getElementById('contact-form').appendChild(i);"
        " window.__resets = 0; window.turnstile = {reset: () => { window.__resets += 1; }}; })()"
    )
    fill(page, unique("With a Turnstile widget on the page"))
    page.click("send")
    status_after(page, "sent", "error", "invalid", "captcha", "wait")
    body = json.loads(calls(page)[0]["body"])
    assert body["turnstileToken"] == "XXXX.DUMMY.TOKEN.XXXX"
    assert "cf-turnstile-response" not in body
    assert page.evaluate("window.__resets") == 1


def test_the_live_region_is_in_the_accessibility_tree_before_the_first_message(page: Browser) -> None:
    """Empty, the status region is still a ``status`` node a screen reader knows, so the first message is heard."""
    assert page.evaluate(f"{STATUS}.textContent") == ""
    node = page.accessibility_node("#result")
    assert node["ignored"] is False
    assert node["role"]["value"] == "status"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_idle_in_error_and_sent(stack: LocalStack, scheme: str) -> None:
    """axe-core: no violation on the demo page, light and dark, idle, with every field in error, and after a send."""
    axe = axe_source()
    with Browser() as page:
        page.prefer_color_scheme(scheme)
        page.goto(f"{stack.page_url}/")
        page.wait_for(TOKEN_FETCHED)
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") is (scheme == "dark")
        assert page.axe_violations(axe) == []
        page.click("send")
        status_after(page, "invalid")
        assert page.axe_violations(axe) == []
        fill(page, unique(f"Checked by axe in {scheme}"))
        time.sleep(MIN_FILL_SECONDS)
        page.evaluate(f"{STATUS}.dataset.kind = ''")
        page.click("send")
        assert status_after(page, "sent", "queued", "error", "invalid", "wait") == "Thank you, your message was sent."
        assert page.axe_violations(axe) == []


# Holds the page's timers instead of running them, so a test can fire "a minute later" at once.
HOLD_TIMERS = """
window.__timers = [];
window.__realSetTimeout = window.setTimeout;
window.setTimeout = (fn, ms) => window.__timers.push({fn, ms});
"""


@pytest.fixture
def outage_page(outage_stack: LocalStack, request: pytest.FixtureRequest) -> Iterator[Browser]:
    """The demo page on the 1 s budget stack (:func:`open_page`)."""
    with open_page(outage_stack, request.node.name) as browser:
        yield browser


def test_provider_and_outbox_down_keeps_the_text_and_tries_again(
    outage_stack: LocalStack, outage_page: Browser
) -> None:
    """``503``: "not sent yet", the text kept, a retry a minute later, three in a row at most; then Send works.

    On a stack of its own: it takes the outbox queue away in the emulator (and puts it back).
    """
    stack, page = outage_stack, outage_page
    sqs = aws_client(stack.aws_url, "sqs")
    queue_url = stack.environment["CONTACT_OUTBOX_QUEUE_URL"]
    queue_name = queue_url.rsplit("/", 1)[1]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    faults = f"{stack.sandbox_url}/_sandbox/faults"
    httpx.post(faults, json={"failure_rate": 1.0, "failure_status": 500}).raise_for_status()
    sqs.delete_queue(QueueUrl=queue_url)
    message = unique("Sent while provider and outbox were down")
    tried_before = len(sandbox_list(stack, "requests"))
    page.evaluate(HOLD_TIMERS)
    try:
        fill(page, message)
        page.click("send")
        text = status_after(page, "wait", "queued", "sent", "error")
        # The 503's Retry-After (30 s; the API exposes the header to the page's origin), in words.
        assert page.evaluate("window.__calls[0].retryAfter") == "30"
        assert text == "Not sent yet. Your message is kept here and we will try again in 30 seconds."
        assert page.evaluate("document.getElementById('message').value") == message
        assert page.evaluate("window.__timers.map(t => t.ms)") == [30_000]
        for attempt in (1, 2, 3):  # each minute is up: the page's own retries, still into the outage
            # The page fetched the next token when the 503 came; "a minute later" is the held timer, but the
            # token's age is the server's real clock, so let it pass the fill time first.
            time.sleep(MIN_FILL_SECONDS + 0.5)
            page.evaluate(f"{STATUS}.dataset.kind = ''")
            page.evaluate(f"window.__timers[{attempt - 1}].fn()")
            text = status_after(page, "wait", "error", "queued", "sent")
        assert text == "Your message could not be sent. It is kept here: please try again."
        assert page.evaluate("window.__timers.length") == 3, "three automatic tries, then it is the visitor's call"
        page.wait_for("window.__calls.filter(c => c.method === 'POST' && c.status).length === 4")
        page.wait_for("window.__calls.every(c => c.status)")
        made = calls(page)
        posts = [c for c in made if c["method"] == "POST"]
        assert [c["status"] for c in posts] == [503, 503, 503, 503]
        # Each 503 used up its token; the next try goes with the 503's nextToken or one fetched at once.
        for before, after in itertools.pairwise(posts):
            handed = [before["answer"]["error"].get("nextToken")]
            handed += [c["answer"]["token"] for c in made[made.index(before) + 1 : made.index(after)]]
            assert after["token"] in handed, "a fresh token for every try"
        assert len({c["token"] for c in posts}) == 4
        assert {json.loads(c["body"])["message"] for c in posts} == {message}
        # The stack's 1 s response budget leaves no room for the 1 s backoff: at most one provider call per POST
        # (none when a fresh stack's first request spent its budget on the table and Parameter Store: still 503).
        assert 1 <= len(sandbox_list(stack, "requests")) - tried_before <= 4
        assert page.evaluate("document.getElementById('message').value") == message
    finally:
        kept = ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy")
        sqs.create_queue(QueueName=queue_name, Attributes={k: v for k, v in attributes.items() if k in kept})
        httpx.delete(faults)
        sqs.close()
    page.evaluate("window.setTimeout = window.__realSetTimeout")  # time runs again
    page.evaluate(f"{STATUS}.dataset.kind = ''")
    page.click("send")  # the service is back: the visitor sends the text still in the form
    assert status_after(page, "sent", "queued") in (
        "Thank you, your message was sent.",
        "Thank you, we have your message. Its delivery is delayed and will happen by itself: no need to send it again.",
    )


#: The strict stack's rate-limit window: one submission per 8 s. Long enough that a second send right after the
#: first (about 2 s later here) always meets the limit; short enough that the page's wait is a few seconds.
STRICT_WINDOW_SECONDS = 8


@pytest.fixture(scope="module")
def strict_stack() -> Iterator[LocalStack]:
    """A stack that allows one submission per 8 s window, to meet the rate limit for real."""
    options = StackOptions(
        aws_call_timeout_ms=LOOPBACK_AWS_CALL_TIMEOUT_MS,
        ports=StackPorts.any(),
        rate_limit=1,
        rate_limit_window_seconds=STRICT_WINDOW_SECONDS,
        min_fill_seconds=MIN_FILL_SECONDS,
    )
    with LocalStack(options, console=Console(io.StringIO())) as running:
        yield running


def test_rate_limited_the_page_waits_as_told_and_sends_by_itself(strict_stack: LocalStack) -> None:
    """``429``: the wait the API names is announced, the text kept, and the page sends it again by itself."""
    with Browser() as page:
        page.goto(f"{strict_stack.page_url}/")
        page.wait_for(TOKEN_FETCHED)
        time.sleep(MIN_FILL_SECONDS + 0.2)
        page.evaluate(RECORD_FETCH)
        fill(page, unique("The first of two quick messages"))
        # Wherever in its window the first send lands, the second (a moment later) is refused: in the same
        # window the count is full, in the next one the first send still weighs on it, and it is less than a
        # window old (docs/security.md).
        page.click("send")
        assert status_after(page, "sent", "wait", "error") == "Thank you, your message was sent."
        page.evaluate(f"{STATUS}.dataset.kind = ''")
        second = unique("The second, too soon after")
        fill(page, second)
        page.click("send")  # at once: the limiter answers before the fill-time rule is judged
        text = status_after(page, "wait", "sent", "error")
        seconds = int(calls(page)[-1]["retryAfter"])  # the real header, readable from the page's origin
        assert 1 <= seconds <= STRICT_WINDOW_SECONDS, "never longer than the window (contract §7)"
        unit = "second" if seconds == 1 else "seconds"
        assert text == f"Not sent yet. Your message is kept here and we will try again in {seconds} {unit}."
        assert page.evaluate("document.getElementById('message').value").startswith("The second")
        assert status_after(page, "sent") == "Thank you, your message was sent."  # no click: the page retried
        made = calls(page)
        assert [c["status"] for c in made] == [200, 429, 200]
        assert made[2]["token"] == made[1]["token"], "a 429 uses nothing up: the same token goes again"
        assert len(emails_with(strict_stack, second)) == 1
