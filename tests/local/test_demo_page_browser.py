"""The demo page in a real headless Chromium against a running local stack: a person's send, and their mistakes."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contact_sdk.local.console import Console
from contact_sdk.local.stack import LocalStack, StackOptions, StackPorts
from tests.local.browser import CHROMIUM, Browser

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"),
]

#: Set to a directory to keep screenshots of each test's last state.
SCREENSHOTS = os.environ.get("CONTACT_TEST_SCREENSHOTS")


def sandbox_list(stack: LocalStack, what: str) -> list[Any]:
    """``/_sandbox/emails`` or ``/_sandbox/requests``."""
    data = httpx.get(f"{stack.sandbox_url}/_sandbox/{what}").json()
    items = data["data"] if isinstance(data, dict) else data
    assert isinstance(items, list)
    return items


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """The whole stack, as ``make run`` starts it, on free ports."""
    with LocalStack(StackOptions(ports=StackPorts.any()), console=Console(io.StringIO())) as running:
        yield running


@pytest.fixture
def page(stack: LocalStack, request: pytest.FixtureRequest) -> Iterator[Browser]:
    """The demo page, loaded, with its token fetched (the Send button enabled)."""
    with Browser() as browser:
        browser.goto(f"{stack.page_url}/")
        browser.wait_for("!document.getElementById('send').disabled")
        yield browser
        if SCREENSHOTS:
            browser.screenshot(os.path.join(SCREENSHOTS, f"{request.node.name}.png"))


def test_a_person_sends_a_message_and_it_arrives_in_the_sandbox(stack: LocalStack, page: Browser) -> None:
    """Typed into the form and sent with a click: the page says it was sent and the sandbox has the email."""
    message = f"Hello from a real browser, checking the contact form ({time.time_ns() % 100000} tries)."
    page.type_into("name", "Grace Hopper")
    page.type_into("email", "grace@example.org")
    page.type_into("subject", "Compilers")
    page.type_into("message", message)
    page.click("consent")
    # A person takes longer than the 3 s spam threshold to fill the form in. The threshold counts from
    # the token's signed issue time too (fetched when the form was shown), which no script can backdate:
    # this person takes their time for real.
    page.evaluate("document.getElementById('formStartedAt').value = String(Date.now() - 15000)")
    time.sleep(3.2)
    page.click("send")
    kind = page.wait_for("document.getElementById('result').dataset.kind")
    text = page.evaluate("document.getElementById('result').textContent")
    assert kind == "sent", text
    assert "was sent" in text
    bodies = [email["body"] for email in sandbox_list(stack, "emails")]
    assert any(message in body.get("text", "") and "Grace Hopper" in body.get("subject", "") for body in bodies)
    # The form is cleared and ready for another message with the answer's nextToken.
    assert page.evaluate("document.getElementById('message').value") == ""
    assert page.evaluate("!document.getElementById('send').disabled") is True


def test_mistakes_are_shown_at_each_field_and_nothing_is_sent(stack: LocalStack, page: Browser) -> None:
    """A bad email is flagged as soon as the field is left; Send with errors names each field and sends nothing."""
    before = len(sandbox_list(stack, "requests"))
    page.type_into("email", "grace-at-example")
    page.evaluate("document.getElementById('name').focus()")  # leaving the field shows its error at once
    email_error = page.wait_for("document.getElementById('email-error').textContent")
    assert "email address" in email_error
    assert page.evaluate("document.getElementById('email').getAttribute('aria-invalid')") == "true"
    page.type_into("message", "short")
    page.click("send")
    kind = page.wait_for("document.getElementById('result').dataset.kind")
    assert kind == "validation"
    errors = page.evaluate(
        "['name', 'email', 'message', 'consent'].map(f => document.getElementById(f + '-error').textContent)"
    )
    assert all(errors), errors
    assert "at least 10 characters" in errors[2]
    assert len(sandbox_list(stack, "requests")) == before
