"""The Resend client's retry rules at their edges (docs/guarantees.md, the module docstring), by hand.

The documented schedule: retries after 1, 2, 4 s (each capped at 16 s), at most 3; a provider's
``Retry-After`` (seconds or HTTP date), else ``ratelimit-reset`` on a 429, replaces the computed
wait; a requested wait over 16 s is never slept but handed to the caller with the provider's own error;
no wait or attempt starts that cannot finish before the deadline, an attempt needing 0.25 s. Every
expectation below is one of those numbers, typed in, and the provider is an ``httpx.MockTransport``
whose received requests are read back with the standard library.
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contact_sdk import timings
from contact_sdk.breaker import ProviderBreaker
from contact_sdk.errors import (
    ProviderAuthError,
    ProviderDeferredError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderServerError,
)
from contact_sdk.resend import OutgoingEmail, ResendClient, RetryPolicy, Timeouts, translate_response

EMAIL = OutgoingEmail(sender="Form <no-reply@example.com>", to=("me@example.com",), subject="Hi", text="Hello")
WALL = 1_800_000_000.0


def answer(status: int, name: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    """A provider answer: Resend's error body when ``name`` is given, its success body on 200."""
    if status == 200:
        return httpx.Response(200, json={"id": "sent-1"}, headers=headers or {})
    return httpx.Response(status, json={"statusCode": status, "name": name, "message": "no"}, headers=headers or {})


class Clock:
    """A monotonic clock that moves only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 500.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class Provider:
    """Answers from a script; keeps what it received."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.received.append(request)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def clock() -> Clock:
    """The fake clock."""
    return Clock()


@pytest.fixture
def client(clock: Clock) -> Iterator[Callable[..., ResendClient]]:
    """Builds a client over a MockTransport answering from a Provider."""
    opened: list[httpx.Client] = []

    def build(provider: Provider, **kwargs: Any) -> ResendClient:
        http = httpx.Client(transport=httpx.MockTransport(provider))
        opened.append(http)
        kwargs.setdefault("sleep", clock.sleep)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("wall_clock", lambda: WALL)
        return ResendClient(api_key="re_key", base_url="https://api.resend.test", http=http, **kwargs)

    yield build
    for http in opened:
        http.close()


def hint(status: int, headers: dict[str, str], name: str = "rate_limit_exceeded") -> float | None:
    """The wait the translated error carries for an answer with these headers."""
    return translate_response(answer(status, name, headers), wall_clock=lambda: WALL).retry_after


# --- reading the provider's wait ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("0.0", 0.0), (" 7 ", 7.0), ("16", 16.0), ("2.5", 2.5), ("120", 120.0), ("1e2", 100.0)],
)
def test_a_numeric_retry_after_is_read_as_seconds(value: str, seconds: float) -> None:
    """Retry-After in seconds, 0 included, is the wait the provider asked for (surrounding spaces ignored)."""
    assert hint(429, {"retry-after": value}) == seconds
    assert hint(503, {"retry-after": value}, "service_unavailable") == seconds


@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf", "nan", "NaN", "1e999", "-1", "-0.5", "soon", "5s"])
def test_an_unusable_retry_after_is_no_hint(value: str) -> None:
    """Infinite, not-a-number, negative or unreadable Retry-After values are ignored, never slept or deferred on."""
    assert hint(429, {"retry-after": value}) is None


def test_an_http_date_retry_after_counts_from_the_wall_clock() -> None:
    """An HTTP date 30 s ahead of the wall clock is 30 s; one 30 s in the past is 0, never negative."""
    ahead = email.utils.format_datetime(datetime.fromtimestamp(WALL + 30, UTC), usegmt=True)
    behind = email.utils.format_datetime(datetime.fromtimestamp(WALL - 30, UTC), usegmt=True)
    assert hint(503, {"retry-after": ahead}, "service_unavailable") == pytest.approx(30.0)
    assert hint(503, {"retry-after": behind}, "service_unavailable") == 0.0


@pytest.mark.parametrize("value", ["Tue, 99 Foo 2026 99:99:99 GMT", "tomorrow at noon", "Mon, 01 Dec"])
def test_an_unreadable_date_is_no_hint(value: str) -> None:
    """A Retry-After that is neither a number nor an HTTP date is ignored."""
    assert hint(503, {"retry-after": value}, "service_unavailable") is None


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("5", 5.0), (" 9 ", 9.0)])
def test_ratelimit_reset_is_the_hint_of_a_429(value: str, seconds: float) -> None:
    """On a 429 without Retry-After, ratelimit-reset (0 included) is the wait."""
    assert hint(429, {"ratelimit-reset": value}) == seconds


@pytest.mark.parametrize("value", ["inf", "nan", "-3", "later"])
def test_an_unusable_ratelimit_reset_is_no_hint(value: str) -> None:
    """An infinite, not-a-number, negative or unreadable ratelimit-reset is ignored."""
    assert hint(429, {"ratelimit-reset": value}) is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_ratelimit_reset_says_nothing_on_other_answers(status: int) -> None:
    """Resend sends ratelimit-reset on every answer: outside a 429 it is not a wait."""
    assert hint(status, {"ratelimit-reset": "5"}, "internal_server_error") is None


def test_retry_after_wins_over_ratelimit_reset_and_an_empty_one_does_not() -> None:
    """Both present, Retry-After decides; an empty Retry-After leaves the 429's ratelimit-reset to decide."""
    assert hint(429, {"retry-after": "2", "ratelimit-reset": "9"}) == 2.0
    assert hint(429, {"retry-after": "0", "ratelimit-reset": "9"}) == 0.0
    assert hint(429, {"retry-after": "", "ratelimit-reset": "9"}) == 9.0


# --- what the client does with it ------------------------------------------------------------------


def test_retry_after_0_retries_at_once(client: Callable[..., ResendClient], clock: Clock) -> None:
    """Retry-After: 0 is a wait of zero, not 'no hint': the retry goes without the 1 s backoff."""
    provider = Provider(answer(429, "rate_limit_exceeded", {"retry-after": "0"}), answer(200))
    assert client(provider).send(EMAIL) == "sent-1"
    assert clock.waits == [0.0]
    assert len(provider.received) == 2


@pytest.mark.parametrize("value", ["inf", "nan", "-1"])
def test_an_unusable_retry_after_falls_back_to_the_backoff(
    client: Callable[..., ResendClient], clock: Clock, value: str
) -> None:
    """Retry-After: inf/nan/-1 neither defers the send nor sleeps forever: the 1 s backoff applies."""
    provider = Provider(answer(429, "rate_limit_exceeded", {"retry-after": value}), answer(200))
    assert client(provider).send(EMAIL, deadline=clock() + 10) == "sent-1"
    assert clock.waits == [1.0]


def test_a_wait_of_exactly_16_s_is_slept_and_a_longer_one_is_handed_back(
    client: Callable[..., ResendClient], clock: Clock
) -> None:
    """Retry-After 16 is slept (16 is the cap); 16.5 is never slept: the send ends at once with the provider's own
    error, carrying 16.5 (not a deferral: no deadline was involved)."""
    provider = Provider(answer(429, "rate_limit_exceeded", {"retry-after": "16"}), answer(200))
    assert client(provider).send(EMAIL) == "sent-1"
    assert clock.waits == [16.0]

    clock.waits.clear()
    longer = Provider(answer(429, "rate_limit_exceeded", {"retry-after": "16.5"}), answer(200))
    with pytest.raises(ProviderRateLimitedError) as caught:
        client(longer).send(EMAIL)
    assert clock.waits == []
    assert len(longer.received) == 1
    assert caught.value.retry_after == 16.5
    assert (caught.value.status, caught.value.name) == (429, "rate_limit_exceeded")


def test_the_backoff_is_1_2_4_then_the_last_error(client: Callable[..., ResendClient], clock: Clock) -> None:
    """Four failures: waits of 1, 2, 4 s, four requests with one key, then the fourth attempt's own error."""
    provider = Provider(answer(500, "internal_server_error"))
    with pytest.raises(ProviderServerError) as caught:
        client(provider).send(EMAIL, idempotency_key="k-1")
    assert type(caught.value) is ProviderServerError
    assert clock.waits == [1.0, 2.0, 4.0]
    assert [r.headers["idempotency-key"] for r in provider.received] == ["k-1"] * 4


@pytest.mark.parametrize(
    ("retry_number", "wait"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0), (6, 16.0), (10, 16.0)]
)
def test_the_computed_wait_doubles_from_1_s_and_is_capped_at_16(retry_number: int, wait: float) -> None:
    """Without a hint, retry n waits 2^(n-1) s, never more than 16 s."""
    assert RetryPolicy().wait_before_retry(retry_number, None) == wait


@pytest.mark.parametrize(("provider_hint", "wait"), [(0.0, 0.0), (3.0, 3.0), (16.0, 16.0), (40.0, 16.0), (-1.0, 1.0)])
def test_a_hint_replaces_the_first_wait_capped_at_16(provider_hint: float, wait: float) -> None:
    """A hint of 0 or more replaces the backoff (capped at 16 s); a negative one is ignored."""
    assert RetryPolicy().wait_before_retry(1, provider_hint) == wait


def test_the_policy_defaults_are_the_documented_ones() -> None:
    """1 s initial, doubling, 3 retries, 16 s cap, 0.25 s for an attempt."""
    assert RetryPolicy() == RetryPolicy(
        initial=1.0, multiplier=2.0, max_retries=3, max_delay=16.0, min_attempt_seconds=0.25
    )


# --- the deadline -----------------------------------------------------------------------------------


def test_a_retry_that_ends_exactly_at_the_deadline_goes(client: Callable[..., ResendClient], clock: Clock) -> None:
    """First attempt fails at t; 1 s wait + 0.25 s attempt ends at t + 1.25: a deadline of t + 1.25 lets it go."""
    provider = Provider(answer(500, "internal_server_error"), answer(200))
    assert client(provider).send(EMAIL, deadline=clock() + 1.25) == "sent-1"
    assert clock.waits == [1.0]


def test_a_retry_that_would_end_past_the_deadline_defers(client: Callable[..., ResendClient], clock: Clock) -> None:
    """A deadline of t + 1.24 cannot hold a 1 s wait and a 0.25 s attempt: deferred after one request, no sleep."""
    provider = Provider(answer(500, "internal_server_error"), answer(200))
    with pytest.raises(ProviderDeferredError) as caught:
        client(provider).send(EMAIL, deadline=clock() + 1.24)
    assert clock.waits == []
    assert len(provider.received) == 1
    assert (caught.value.status, caught.value.name, caught.value.retry_after) == (500, "internal_server_error", None)
    assert isinstance(caught.value.__cause__, ProviderServerError)


def test_an_attempt_needs_a_quarter_second(client: Callable[..., ResendClient], clock: Clock) -> None:
    """0.25 s left: the attempt goes; 0.24 s left: deferred without a request."""
    provider = Provider(answer(200))
    assert client(provider).send(EMAIL, deadline=clock() + 0.25) == "sent-1"
    with pytest.raises(ProviderDeferredError, match="no time for an attempt"):
        client(provider).send(EMAIL, deadline=clock() + 0.24)
    assert len(provider.received) == 1


def test_the_attempt_timeouts_are_cut_to_what_is_left(client: Callable[..., ResendClient], clock: Clock) -> None:
    """With 2.5 s left, connect/read/write are 2.5 s and the pool keeps its 2 s (the defaults are 3/10/5/2)."""
    provider = Provider(answer(200))
    client(provider).send(EMAIL, deadline=clock() + 2.5)
    assert provider.received[0].extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.0}
    assert Timeouts().within(None) == httpx.Timeout(connect=3.0, read=10.0, write=5.0, pool=2.0)
    assert Timeouts().within(-4.0) == httpx.Timeout(0.001)


# --- the request and the answer -------------------------------------------------------------------


def test_the_request_is_resends_post_emails(client: Callable[..., ResendClient]) -> None:
    """One POST to /emails with the bearer key, the key, the user agent and Resend's snake_case body."""
    provider = Provider(answer(200))
    mail = OutgoingEmail(
        sender="Form <no-reply@example.com>",
        to=("me@example.com",),
        subject="Hi",
        html="<p>Hello</p>",
        text="Hello",
        reply_to=("ada@example.org",),
        tags=(("kind", "contact"),),
        headers={"X-Entity-Ref-ID": "abc"},
    )
    client(provider).send(mail, idempotency_key="key-9")
    request = provider.received[0]
    assert (request.method, str(request.url)) == ("POST", "https://api.resend.test/emails")
    assert request.headers["authorization"] == "Bearer re_key"
    assert request.headers["idempotency-key"] == "key-9"
    assert re.fullmatch(r"contact-sdk/\S+", request.headers["user-agent"])
    assert json.loads(request.content) == {
        "from": "Form <no-reply@example.com>",
        "to": ["me@example.com"],
        "subject": "Hi",
        "html": "<p>Hello</p>",
        "text": "Hello",
        "reply_to": ["ada@example.org"],
        "tags": [{"name": "kind", "value": "contact"}],
        "headers": {"X-Entity-Ref-ID": "abc"},
    }


def test_without_a_key_each_send_gets_its_own_random_one(client: Callable[..., ResendClient]) -> None:
    """No idempotency key given: a 'contact-sdk/<uuid4>' key, different for every send, same for its retries."""
    provider = Provider(answer(500, "internal_server_error"), answer(200), answer(200))
    sender = client(provider)
    sender.send(EMAIL)
    sender.send(EMAIL)
    keys = [r.headers["idempotency-key"] for r in provider.received]
    uuid4 = r"contact-sdk/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert all(re.fullmatch(uuid4, key) for key in keys)
    assert keys[0] == keys[1] != keys[2]


@pytest.mark.parametrize("body", [{"id": ""}, {"id": 7}, {"other": "x"}, ["sent-1"]])
def test_an_answer_without_a_usable_id_is_a_server_error(client: Callable[..., ResendClient], body: object) -> None:
    """A 2xx whose body has no non-empty string id is an unknown outcome: retried, then a ProviderServerError."""
    provider = Provider(httpx.Response(200, json=body))
    with pytest.raises(ProviderServerError, match="HTTP 200 from the provider without an email id") as caught:
        client(provider).send(EMAIL)
    assert caught.value.status == 200
    assert len(provider.received) == 4


def test_provider_text_is_cut_to_200_characters() -> None:
    """The provider's name and message are kept to their first 200 characters."""
    error = translate_response(httpx.Response(422, json={"name": "n" * 300, "message": "m" * 300}))
    assert (error.name, error.message) == ("n" * 200, "m" * 200)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(502, content=b""), "HTTP 502 from the provider with an empty body"),
        (httpx.Response(502, content=b"<html>bad gateway</html>"), "HTTP 502 from the provider with a non-JSON body"),
        (httpx.Response(500, json={"name": "", "message": ""}), "HTTP 500 from the provider"),
        (httpx.Response(500, json={"name": 5, "message": None}), "HTTP 500 from the provider"),
    ],
)
def test_an_unhelpful_body_gets_a_plain_message(response: httpx.Response, message: str) -> None:
    """Empty, non-JSON or shapeless error bodies are described by status alone, with no provider name."""
    error = translate_response(response)
    assert (error.message, error.name, error.status) == (message, None, response.status_code)


# --- the breaker ------------------------------------------------------------------------------------


def test_a_refusal_is_not_the_providers_health(client: Callable[..., ResendClient], clock: Clock) -> None:
    """Between failures, auth refusals neither count nor reset the run: the fifth 5xx still opens the breaker."""
    breaker = ProviderBreaker(clock=clock)
    refused = answer(401, "missing_api_key")
    failing = answer(500, "internal_server_error")
    provider = Provider(failing, refused, failing, refused, failing, refused, failing, refused, failing, answer(200))
    sender = client(provider, breaker=breaker, retry_policy=RetryPolicy(max_retries=0))
    outcomes = []
    for _ in range(9):
        with pytest.raises((ProviderServerError, ProviderAuthError)) as caught:
            sender.send(EMAIL)
        outcomes.append(type(caught.value).__name__)
    assert outcomes == ["ProviderServerError", "ProviderAuthError"] * 4 + ["ProviderServerError"]
    assert breaker.state == "open"


def test_each_attempt_is_timed(client: Callable[..., ResendClient], clock: Clock) -> None:
    """on_attempt gets one duration (ms) per attempt, failed ones included."""
    durations: list[float] = []
    provider = Provider(answer(500, "internal_server_error"), answer(200))
    client(provider, on_attempt=durations.append).send(EMAIL)
    assert durations == [0.0, 0.0]


def test_the_pool_it_builds_asks_for_json_in_its_own_name() -> None:
    """Without an injected client, the one it builds sends Accept: application/json and its User-Agent, nothing odd."""
    with ResendClient(api_key="re_key", base_url="http://127.0.0.1:9") as own:
        headers = own._http.headers  # the pool it built (no request is made)
        assert headers["accept"] == "application/json"
        assert re.fullmatch(r"contact-sdk/\S+", headers["user-agent"])
        assert {name.lower() for name in headers} == {"accept", "accept-encoding", "connection", "user-agent"}


def test_each_retry_is_logged_with_its_numbers(
    client: Callable[..., ResendClient], caplog: pytest.LogCaptureFixture
) -> None:
    """Before each wait, one warning 'provider call failed, retrying' with retry number, wait, error, status, name."""
    caplog.set_level("WARNING", logger="contact_sdk.resend")
    provider = Provider(answer(503, "service_unavailable", {"retry-after": "2.5004"}), answer(200))
    client(provider).send(EMAIL)
    (record,) = [r for r in caplog.records if r.name == "contact_sdk.resend"]
    assert record.getMessage() == "provider call failed, retrying"
    fields = {k: record.__dict__[k] for k in ("retry_number", "wait_seconds", "error", "status", "provider_error")}
    assert fields == {
        "retry_number": 1,
        "wait_seconds": 2.5,
        "error": "ProviderServerError",
        "status": 503,
        "provider_error": "service_unavailable",
    }


def test_a_deferral_says_what_did_not_fit(client: Callable[..., ResendClient], clock: Clock) -> None:
    """The deferred error's message names the last error's type."""
    provider = Provider(answer(500, "internal_server_error"))
    with pytest.raises(ProviderDeferredError) as caught:
        client(provider).send(EMAIL, deadline=clock() + 1)
    assert caught.value.message == "deferred: the next wait or attempt does not fit (last error: ProviderServerError)"


class SlowProvider:
    """Answers 200 after ``seconds`` of the injected clock, read back by the test; keeps what it received."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.received.append(request)
        self.clock.now += self.seconds
        return answer(200)


def test_with_a_deadline_the_request_is_the_same(client: Callable[..., ResendClient], clock: Clock) -> None:
    """The deadline path (a worker thread) sends the same body, key and bearer key as the plain one."""
    provider = Provider(answer(200))
    client(provider).send(EMAIL, idempotency_key="key-d", deadline=clock() + 10)
    request = provider.received[0]
    assert request.headers["authorization"] == "Bearer re_key"
    assert request.headers["idempotency-key"] == "key-d"
    assert json.loads(request.content) == {
        "from": "Form <no-reply@example.com>",
        "to": ["me@example.com"],
        "subject": "Hi",
        "text": "Hello",
    }


def test_an_attempt_is_timed_in_milliseconds(client: Callable[..., ResendClient], clock: Clock) -> None:
    """A request that takes 0.25 s of the client's clock is 250 ms to on_attempt and to the request's tally."""
    durations: list[float] = []
    with timings.spending() as tally:
        client(SlowProvider(clock, 0.25), on_attempt=durations.append).send(EMAIL)
    assert durations == [pytest.approx(250.0)]
    assert tally.milliseconds("provider") == pytest.approx(250.0)


def test_a_refused_half_open_trial_frees_the_trial(client: Callable[..., ResendClient], clock: Clock) -> None:
    """A 401 on the half-open trial is no verdict, but it hands the trial back: the next call is the trial again."""
    breaker = ProviderBreaker(clock=clock)
    provider = Provider(*[answer(500, "internal_server_error")] * 5, answer(401, "missing_api_key"), answer(200))
    sender = client(provider, breaker=breaker, retry_policy=RetryPolicy(max_retries=0))
    for _ in range(5):
        with pytest.raises(ProviderServerError):
            sender.send(EMAIL)
    clock.now += 60
    with pytest.raises(ProviderAuthError):
        sender.send(EMAIL)
    assert breaker.state == "half-open"
    assert sender.send(EMAIL) == "sent-1"


def test_closing_leaves_an_injected_client_open_and_closes_its_own() -> None:
    """close() closes the pool the client built, never one it was given; the default base URL is Resend's."""
    given = httpx.Client()
    with ResendClient(api_key="re_key", http=given) as borrowing:
        assert borrowing.base_url == "https://api.resend.com"
    assert not given.is_closed
    given.close()
    own = ResendClient(api_key="re_key")
    own.close()
    assert own._http.is_closed


@pytest.mark.parametrize("key", ["", "k" * 257])
def test_a_key_outside_1_to_256_characters_is_refused_by_name(client: Callable[..., ResendClient], key: str) -> None:
    """An empty or 257-character idempotency key is a ValueError saying the allowed length."""
    with pytest.raises(ValueError, match=r"^idempotency_key must be 1 to 256 characters$"):
        client(Provider(answer(200))).send(EMAIL, idempotency_key=key)


def test_no_time_for_an_attempt_says_so(client: Callable[..., ResendClient], clock: Clock) -> None:
    """Deferred before any request, the message says the deadline leaves no time."""
    with pytest.raises(ProviderDeferredError) as caught:
        client(Provider(answer(200))).send(EMAIL, deadline=clock() + 0.1)
    assert caught.value.message == "the deadline leaves no time for an attempt"


@pytest.mark.parametrize(
    ("failure", "error_type", "message"),
    [
        (httpx.ConnectTimeout("slow"), "ProviderTimeoutError", "no answer from the provider in time (ConnectTimeout)"),
        (httpx.ConnectError("refused"), "ProviderConnectionError", "could not reach the provider (ConnectError)"),
        (httpx.DecodingError("bad gzip"), "ProviderServerError", "unreadable answer from the provider (DecodingError)"),
    ],
)
def test_a_transport_failure_is_named_in_the_message(
    client: Callable[..., ResendClient], failure: Exception, error_type: str, message: str
) -> None:
    """Timeouts, refused connections and unreadable answers become typed errors naming httpx's exception."""

    def broken(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(ProviderError) as caught:
        client(broken, retry_policy=RetryPolicy(max_retries=0)).send(EMAIL)
    assert (type(caught.value).__name__, caught.value.message) == (error_type, message)
    assert caught.value.__cause__ is failure


def test_an_attempt_runs_in_the_callers_own_thread(client: Callable[..., ResendClient], clock: Clock) -> None:
    """No thread of its own: when send() returns, nothing of the attempt is left running (an abandoned thread
    could still send after the handler returned, on the next thaw of a frozen Lambda)."""
    threads: list[threading.Thread] = []

    def answering(request: httpx.Request) -> httpx.Response:
        threads.append(threading.current_thread())
        return answer(200)

    before = set(threading.enumerate())
    client(answering).send(EMAIL, deadline=clock() + 5)
    assert threads == [threading.current_thread()]
    assert set(threading.enumerate()) == before
