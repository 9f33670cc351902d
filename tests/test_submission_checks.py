"""``POST /contact``'s order of checks as a visitor meets it, fast tier (contract section 6).

"Nobody without a valid token learns the field rules", every request counts against its address, and an answer
given after the token was spent hands back a ``nextToken`` that keeps the fill-time start of the token it
replaces. The service runs in process (:func:`tests.test_api.in_process`, no Turnstile) on a manual clock that
starts on a rate-limit window's boundary; the figures (``Retry-After``, the fill-time rule's 3 s) are the
contract's, worked out by hand. What was mailed is read from what the provider received.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from contact_sdk.bootstrap import Components
from contact_sdk.metrics import ListSink
from tests import test_token_route
from tests.clocks import ManualClock
from tests.log_lines import printed
from tests.test_api import ORIGIN, Provider, answer, event, form, token
from tests.test_token_route import service

TOO_SHORT = "Hi."  # the contract's message field needs 10 characters

# The token route's fixtures: a manual clock on a rate-limit window's boundary, and a provider keeping what it got.
clock = test_token_route.clock
provider = test_token_route.provider


class Visitor:
    """One page on one address: asks for tokens and posts as the browser snippet does."""

    def __init__(self, components: Components) -> None:
        self.components = components

    def token(self) -> str:
        return token(self.components.api)

    def post(self, token: str | None, **changes: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
        headers = {"Origin": ORIGIN, "Content-Type": "application/json"}
        if token is not None:
            headers["X-CSRF-Token"] = token
        status, response_headers, body = answer(
            self.components.api, event("POST", "/contact", headers=headers, body=form(**changes))
        )
        assert body is not None
        return status, response_headers, body


def visitor(built: list[Components], provider: Provider, clock: ManualClock, **settings: Any) -> Visitor:
    return Visitor(service(built, provider, clock, **settings))


def test_requests_refused_before_their_token_count_and_the_one_over_the_limit_waits(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """2 submissions per 600 s: two posts without a token are ``403 csrf_missing`` and both count; the third is
    ``429`` with ``Retry-After: 600`` and says so in the page's words, and so is a fourth with a good token. The
    window is neither the default nor the token requests' (both 900 s), so the figures show that
    ``CONTACT_RATE_LIMIT_WINDOW_SECONDS`` reaches the submissions' limit."""
    page = visitor(built, provider, clock, submit_limit=2, submit_window_seconds=600)
    assert [page.post(None)[2]["error"]["code"] for _ in range(2)] == ["csrf_missing", "csrf_missing"]

    status, headers, body = page.post(None)
    assert (status, headers["Retry-After"]) == (429, "600")
    assert body["error"] == {
        "code": "rate_limited",
        "message": "Too many messages from your address. Please try again in 600 seconds.",
    }
    status, headers, _ = page.post(page.token())
    assert (status, headers["Retry-After"]) == (429, "600")
    assert provider.sent == []


def test_a_field_error_spends_the_token_and_its_next_token_sends(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """A message too short is ``400 validation_error`` naming ``message``, with a ``nextToken``; the token it
    came with is spent (posted again, corrected, it is ``403 csrf_invalid``); the ``nextToken`` sends it."""
    page = visitor(built, provider, clock)
    first = page.token()
    status, _, body = page.post(first, message=TOO_SHORT)
    assert status == 400 and body["error"]["code"] == "validation_error"
    assert set(body["error"]["fields"]) == {"message"}
    next_token = body["error"]["nextToken"]

    status, _, body = page.post(first)
    assert (status, body["error"]["code"]) == (403, "csrf_invalid")
    status, _, body = page.post(next_token)
    assert (status, body["status"]) == (200, "sent")
    assert len(provider.sent) == 1


def test_a_replayed_token_learns_nothing_about_the_fields(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """A token that already sent a message, posted again with a field wrong: ``403 csrf_invalid``, not the
    ``400`` that would name the field rules; nothing more is sent."""
    page = visitor(built, provider, clock)
    spent = page.token()
    assert page.post(spent)[0] == 200

    status, _, body = page.post(spent, message=TOO_SHORT)
    assert (status, body["error"]["code"]) == (403, "csrf_invalid")
    assert "fields" not in body["error"]
    assert len(provider.sent) == 1


def test_an_address_over_its_limit_is_told_to_wait_not_what_is_wrong(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """1 submission per 900 s, spent on a message that was sent: the next one, with a field wrong and a fresh
    token, is ``429`` with ``Retry-After: 900``, not a ``400`` naming the field."""
    page = visitor(built, provider, clock, submit_limit=1, submit_window_seconds=900)
    assert page.post(page.token())[0] == 200

    status, headers, body = page.post(page.token(), message=TOO_SHORT)
    assert (status, headers["Retry-After"], body["error"]["code"]) == (429, "900", "rate_limited")
    assert "fields" not in body["error"]


def test_a_next_token_keeps_its_forms_start_so_a_corrected_field_goes_at_once(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """The fill-time rule at its default of 3 s: a visitor takes 5 s over the form, sends it with the message
    too short, and resends the corrected form at once with the ``nextToken``. The new token counts from when the
    form was first shown (5 s ago), so the message is mailed, not taken for a bot's instant post."""
    page = visitor(built, provider, clock, min_fill_seconds=3)
    shown = page.token()
    clock.advance(5)
    status, _, body = page.post(shown, message=TOO_SHORT)
    assert status == 400
    status, _, body = page.post(body["error"]["nextToken"])
    assert (status, body["status"]) == (200, "sent")
    [email] = provider.sent
    assert "Hello there, about the engine." in email["text"]


def metric(components: Components, name: str) -> float:
    sink = components.api.sink
    assert isinstance(sink, ListSink)
    return float(sink.totals().get(name, 0))


def test_a_field_error_tells_the_page_and_the_owner_which_fields(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """``400`` with the page's sentence and the fields; the summary line names the fields (never their values)
    and ``ValidationErrors`` counts it once."""
    page = visitor(built, provider, clock)
    with printed(page.components.api.logger) as out:
        status, _, body = page.post(page.token(), message=TOO_SHORT, email="not an address")
    assert status == 400
    assert (body["error"]["code"], body["error"]["message"]) == ("validation_error", "Some fields need your attention.")
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    assert summary["invalid_fields"] == ["email", "message"]
    assert TOO_SHORT not in json.dumps(summary)
    assert metric(page.components, "ValidationErrors") == 1


def spam_reasons_of(page: Visitor, token: str, **changes: Any) -> list[str] | None:
    """Posts; a submission judged spam is answered exactly as a sent one and mails nothing: its reasons from the
    summary line, or ``None`` when it was mailed."""
    with printed(page.components.api.logger) as out:
        status, _, body = page.post(token, **changes)
    assert (status, body["status"]) == (200, "sent")
    assert set(body) == {"status", "nextToken", "requestId"}  # spam or not, the same answer (contract section 6)
    [summary] = [line for line in out.lines("request handled") if line["route"] == "/contact"]
    return summary.get("spam_reasons")


def test_a_post_under_three_seconds_after_its_token_is_spam(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """The fill-time rule from the token's signed issue time (default 3 s): posted 2 s after the token, it is
    answered ``200 sent`` and mailed to nobody; 3 s after, it is mailed."""
    page = visitor(built, provider, clock, min_fill_seconds=3)
    fast = page.token()
    clock.advance(2)
    assert spam_reasons_of(page, fast) == ["token_too_recent"]
    assert provider.sent == [] and metric(page.components, "SpamBlocked") == 1

    patient = page.token()
    clock.advance(3)
    assert spam_reasons_of(page, patient, message="Hello again, about the engine.") is None
    assert len(provider.sent) == 1


def test_a_post_under_three_seconds_after_form_started_at_is_spam_whatever_the_tokens_age(
    built: list[Components], provider: Provider, clock: ManualClock
) -> None:
    """``formStartedAt`` counts too: a token fetched a minute ago, with the form said to be started 1 s ago, is
    spam; started 10 s ago, it is mailed."""
    page = visitor(built, provider, clock, min_fill_seconds=3)
    old, older = page.token(), page.token()
    clock.advance(60)
    now_ms = int(clock.now * 1000)
    assert spam_reasons_of(page, old, formStartedAt=now_ms - 1000) == ["submitted_too_fast"]
    assert provider.sent == []
    assert spam_reasons_of(page, older, formStartedAt=now_ms - 10_000, message="Hello again, about it.") is None
    assert len(provider.sent) == 1


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        ("Hello " + "!" * 20, "repeated_character"),
        ("See https://a.example and https://b.example", "too_many_links"),
    ],
    ids=["twenty in a row", "links with the message's"],
)
def test_the_subject_is_judged_with_the_message(
    built: list[Components], provider: Provider, clock: ManualClock, subject: str, reason: str
) -> None:
    """docs/security.md: one character 20 times in a row in the subject is spam (19 are not); more than 3 URLs in
    subject and message together is spam (2 in the subject and 2 in the message; 1 and 2 are not)."""
    page = visitor(built, provider, clock)
    message = "Two links: https://c.example and https://d.example"
    assert spam_reasons_of(page, page.token(), subject=subject, message=message) == [reason]
    assert provider.sent == []
    below = {"repeated_character": "Hello " + "!" * 19, "too_many_links": "See https://a.example"}[reason]
    assert spam_reasons_of(page, page.token(), subject=below, message=message) is None
    assert len(provider.sent) == 1
