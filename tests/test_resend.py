"""Unit tests for the Resend client (``contact_sdk.resend``) over ``httpx.MockTransport``.

No test sleeps: waits go to an injected ``sleep`` and time comes from an injected ``clock``.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import tenacity

from contact_sdk import __version__
from contact_sdk.breaker import ProviderBreaker
from contact_sdk.errors import (
    ERROR_TABLE,
    CircuitOpenError,
    ConcurrentIdempotentRequestError,
    IdempotencyConflictError,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderDeferredError,
    ProviderError,
    ProviderQuotaError,
    ProviderRateLimitedError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
    TransientProviderError,
)
from contact_sdk.resend import (
    USER_AGENT,
    OutgoingEmail,
    ResendClient,
    RetryEvent,
    RetryPolicy,
    Timeouts,
    translate_response,
)

BASE_URL = "https://api.resend.test"
API_KEY = "re_test_key"
EMAIL = OutgoingEmail(sender="Contact Form <no-reply@example.com>", to=("me@example.com",), subject="Hello", text="Hi")

Answer = httpx.Response | Exception


def ok(email_id: str = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c") -> httpx.Response:
    """Resend's success answer."""
    return httpx.Response(200, json={"id": email_id})


def broken_gzip() -> httpx.Response:
    """A 200 claiming gzip whose body is not gzip (a broken proxy); decoding fails when the client reads it."""
    return httpx.Response(200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip at all"))


def error(status: int, name: str, message: str = "refused", headers: dict[str, str] | None = None) -> httpx.Response:
    """Resend's documented error body."""
    return httpx.Response(status, json={"statusCode": status, "name": name, "message": message}, headers=headers or {})


class ScriptedProvider:
    """A MockTransport handler answering from a script, one answer per request; keeps every request."""

    def __init__(self, *answers: Answer, then: Answer | None = None) -> None:
        self._answers = list(answers)
        self._then = then
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self._answers:
            answer = self._answers.pop(0)
        elif self._then is not None:
            answer = self._then
        else:
            raise AssertionError("the provider script ran out of answers")
        if isinstance(answer, Exception):
            raise answer
        return answer

    def bodies(self) -> list[dict[str, Any]]:
        """Every request body, decoded."""
        return [json.loads(request.content) for request in self.requests]

    def keys(self) -> list[str | None]:
        """The Idempotency-Key of every request."""
        return [request.headers.get("idempotency-key") for request in self.requests]


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is called."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock whose ``sleep`` advances it."""
    return FakeClock()


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[Callable[..., ResendClient]]:
    """Build a ResendClient over a MockTransport answering from ``provider``; closes every client after."""
    opened: list[httpx.Client] = []

    def build(provider: ScriptedProvider, **kwargs: Any) -> ResendClient:
        http = httpx.Client(transport=httpx.MockTransport(provider))
        opened.append(http)
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("sleep", clock.sleep)
        kwargs.setdefault("clock", clock)
        return ResendClient(base_url=BASE_URL, http=http, **kwargs)

    yield build
    for http in opened:
        http.close()


# -- the request ------------------------------------------------------------------------------


def test_send_returns_the_provider_id(make_client: Callable[..., ResendClient]) -> None:
    """A 200 with ``{"id": ...}`` makes ``send`` return that id after one request."""
    provider = ScriptedProvider(ok("abc-123"))
    assert make_client(provider).send(EMAIL) == "abc-123"
    assert len(provider.requests) == 1


def test_request_carries_user_agent_bearer_key_and_idempotency_key(make_client: Callable[..., ResendClient]) -> None:
    """Each POST /emails sends ``User-Agent: contact-sdk/<version>``, the bearer key and the idempotency key."""
    provider = ScriptedProvider(ok())
    make_client(provider).send(EMAIL, idempotency_key="contact/1")
    request = provider.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/emails"
    assert request.headers["user-agent"] == f"contact-sdk/{__version__}" == USER_AGENT
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["idempotency-key"] == "contact/1"
    assert request.headers["content-type"] == "application/json"


def test_body_is_resends_snake_case_shape(make_client: Callable[..., ResendClient]) -> None:
    """Every field goes out under Resend's snake_case name (``from``, ``reply_to``, tags as name/value)."""
    provider = ScriptedProvider(ok())
    full = OutgoingEmail(
        sender="Contact Form <no-reply@example.com>",
        to=("me@example.com", "you@example.com"),
        subject="Hello",
        html="<p>Hi</p>",
        text="Hi",
        reply_to=("visitor@example.org",),
        tags=(("category", "contact"),),
        headers={"X-Entity-Ref-ID": "42"},
    )
    make_client(provider).send(full)
    assert provider.bodies() == [
        {
            "from": "Contact Form <no-reply@example.com>",
            "to": ["me@example.com", "you@example.com"],
            "subject": "Hello",
            "html": "<p>Hi</p>",
            "text": "Hi",
            "reply_to": ["visitor@example.org"],
            "tags": [{"name": "category", "value": "contact"}],
            "headers": {"X-Entity-Ref-ID": "42"},
        }
    ]


def test_body_omits_fields_that_are_not_set() -> None:
    """Unset optional fields are left out of the body, never sent as null or empty lists."""
    assert EMAIL.to_json() == {"from": EMAIL.sender, "to": ["me@example.com"], "subject": "Hello", "text": "Hi"}


def test_api_key_callable_is_read_on_every_attempt(make_client: Callable[..., ResendClient]) -> None:
    """A callable API key is read per attempt, so a rotated key is used by the very next retry."""
    keys = iter(["re_old", "re_new"])
    provider = ScriptedProvider(error(500, "internal_server_error"), ok())
    make_client(provider, api_key=lambda: next(keys)).send(EMAIL)
    assert [r.headers["authorization"] for r in provider.requests] == ["Bearer re_old", "Bearer re_new"]


@pytest.mark.parametrize("key", ["", "k" * 257])
def test_idempotency_key_outside_1_to_256_chars_is_refused(make_client: Callable[..., ResendClient], key: str) -> None:
    """An idempotency key of 0 or 257 characters raises ValueError before any request."""
    provider = ScriptedProvider()
    with pytest.raises(ValueError, match="1 to 256"):
        make_client(provider).send(EMAIL, idempotency_key=key)
    assert provider.requests == []


@pytest.mark.parametrize("key", ["k", "k" * 256])
def test_idempotency_key_of_1_and_256_chars_is_sent(make_client: Callable[..., ResendClient], key: str) -> None:
    """The boundary lengths 1 and 256 are valid and sent unchanged."""
    provider = ScriptedProvider(ok())
    make_client(provider).send(EMAIL, idempotency_key=key)
    assert provider.keys() == [key]


def test_one_idempotency_key_for_every_attempt_of_a_send(make_client: Callable[..., ResendClient]) -> None:
    """All retries of one send carry the same Idempotency-Key; the next send gets a fresh random one."""
    provider = ScriptedProvider(
        error(500, "internal_server_error"), httpx.ReadTimeout("slow"), error(429, "rate_limit_exceeded"), ok(), ok()
    )
    client = make_client(provider)
    client.send(EMAIL)
    client.send(EMAIL)
    first, second = provider.keys()[:4], provider.keys()[4]
    assert len(set(first)) == 1
    assert first[0] is not None
    assert 1 <= len(first[0]) <= 256
    assert second not in (None, first[0])


# -- retries ----------------------------------------------------------------------------------


def test_waits_are_1_2_4_seconds(make_client: Callable[..., ResendClient], clock: FakeClock) -> None:
    """``500,500,500,200`` succeeds on the fourth attempt after waits of exactly 1, 2 and 4 s."""
    provider = ScriptedProvider(*[error(500, "internal_server_error")] * 3, ok("after-retries"))
    assert make_client(provider).send(EMAIL) == "after-retries"
    assert clock.waits == [1, 2, 4]
    assert len(provider.requests) == 4


def test_after_the_last_retry_the_caller_sees_the_typed_error(make_client: Callable[..., ResendClient]) -> None:
    """Four failed attempts end with the last attempt's ProviderServerError, never tenacity's RetryError."""
    provider = ScriptedProvider(then=error(503, "service_unavailable", "down for maintenance"))
    with pytest.raises(ProviderServerError) as caught:
        make_client(provider).send(EMAIL)
    assert not isinstance(caught.value, tenacity.RetryError)
    assert (caught.value.status, caught.value.name, caught.value.message) == (
        503,
        "service_unavailable",
        "down for maintenance",
    )
    assert len(provider.requests) == 4


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (error(500, "application_error"), ProviderServerError),
        (error(429, "rate_limit_exceeded"), ProviderRateLimitedError),
        (error(409, "concurrent_idempotent_requests"), ConcurrentIdempotentRequestError),
        (httpx.ReadTimeout("slow"), ProviderTimeoutError),
        (httpx.ConnectTimeout("slow"), ProviderTimeoutError),
        (httpx.PoolTimeout("busy"), ProviderTimeoutError),
        (httpx.ConnectError("refused"), ProviderConnectionError),
        (httpx.RemoteProtocolError("reset"), ProviderConnectionError),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), ProviderServerError),
    ],
)
def test_transient_failures_are_retried_three_times_and_never_surface_as_retry_error(
    make_client: Callable[..., ResendClient], clock: FakeClock, answer: Answer, expected: type[ProviderError]
) -> None:
    """Every transient failure is retried 3 times (1, 2, 4 s) and then raised as its own typed error."""
    provider = ScriptedProvider(then=answer)
    with pytest.raises(ProviderError) as caught:
        make_client(provider).send(EMAIL)
    assert type(caught.value) is expected
    assert isinstance(caught.value, TransientProviderError)
    assert len(provider.requests) == 4
    assert clock.waits == [1, 2, 4]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [(httpx.ReadTimeout("slow"), ProviderTimeoutError), (httpx.ConnectError("refused"), ProviderConnectionError)],
)
def test_transport_errors_are_translated_and_chained(
    make_client: Callable[..., ResendClient], exc: Exception, expected: type[ProviderError]
) -> None:
    """httpx timeouts and network errors become typed errors chained to the httpx exception, with no status."""
    provider = ScriptedProvider(then=exc)
    with pytest.raises(expected) as caught:
        make_client(provider).send(EMAIL)
    assert caught.value.__cause__ is exc
    assert caught.value.status is None


@pytest.mark.parametrize(
    ("status", "name", "expected"),
    [
        (400, "validation_error", ProviderRequestError),
        (400, "invalid_idempotency_key", ProviderRequestError),
        (401, "missing_api_key", ProviderAuthError),
        (403, "invalid_api_key", ProviderAuthError),
        (403, "restricted_api_key", ProviderAuthError),
        (403, "email_above_quota", ProviderQuotaError),
        (404, "not_found", ProviderRequestError),
        (409, "invalid_idempotent_request", IdempotencyConflictError),
        (422, "validation_error", ProviderRequestError),
        (422, "invalid_from_address", ProviderRequestError),
        (429, "daily_quota_exceeded", ProviderQuotaError),
        (429, "monthly_quota_exceeded", ProviderQuotaError),
    ],
)
def test_permanent_errors_are_never_retried(
    make_client: Callable[..., ResendClient],
    clock: FakeClock,
    status: int,
    name: str,
    expected: type[ProviderError],
) -> None:
    """Validation, auth, quota and idempotency-conflict answers are raised after exactly one request, no wait."""
    provider = ScriptedProvider(error(status, name, headers={"retry-after": "1"}), then=ok())
    with pytest.raises(expected):
        make_client(provider).send(EMAIL)
    assert len(provider.requests) == 1
    assert clock.waits == []


@pytest.mark.parametrize(
    ("headers", "expected_wait"),
    [
        ({"retry-after": "7"}, 7),
        ({"retry-after": "16"}, 16),
        ({"retry-after": "0.5"}, 0.5),
        ({"ratelimit-reset": "3"}, 3),
        ({"retry-after": "2", "ratelimit-reset": "9"}, 2),
        ({"retry-after": "soon"}, 1),
        ({"retry-after": "-5"}, 1),
        ({"retry-after": "nan"}, 1),
        ({"ratelimit-reset": "later"}, 1),
    ],
)
def test_provider_wait_hint_replaces_the_computed_wait_capped_at_16(
    make_client: Callable[..., ResendClient], clock: FakeClock, headers: dict[str, str], expected_wait: float
) -> None:
    """Retry-After (else ratelimit-reset) up to 16 s replaces the backoff; an unusable hint is ignored."""
    provider = ScriptedProvider(error(429, "rate_limit_exceeded", headers=headers), ok())
    make_client(provider).send(EMAIL)
    assert clock.waits == [expected_wait]


def test_ratelimit_reset_on_a_5xx_is_not_a_wait_hint(
    make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """Resend sends ``ratelimit-reset`` on every answer, so on a 5xx it is ignored and the backoff applies."""
    answer = error(500, "internal_server_error", headers={"ratelimit-reset": "1"})
    provider = ScriptedProvider(answer, answer, answer, ok())
    make_client(provider).send(EMAIL)
    assert clock.waits == [1, 2, 4]


@pytest.mark.parametrize(("ahead", "expected_wait"), [(9, 9), (-30, 0)])
def test_retry_after_http_date_is_measured_on_the_wall_clock(
    make_client: Callable[..., ResendClient], clock: FakeClock, ahead: int, expected_wait: float
) -> None:
    """An HTTP-date Retry-After waits until that date by the injected wall clock, never negative."""
    now = 1_700_000_000.0
    date = email.utils.format_datetime(datetime.fromtimestamp(now + ahead, UTC), usegmt=True)
    provider = ScriptedProvider(error(503, "service_unavailable", headers={"retry-after": date}), ok())
    make_client(provider, wall_clock=lambda: now).send(EMAIL)
    assert clock.waits == [pytest.approx(expected_wait)]


def test_200_without_an_id_is_transient_and_retried(make_client: Callable[..., ResendClient]) -> None:
    """A 2xx without an email id is a transient server error, so the send retries under the same key."""
    provider = ScriptedProvider(httpx.Response(200, json={}), httpx.Response(200, text="OK"), ok("second-try"))
    assert make_client(provider).send(EMAIL) == "second-try"
    assert len(set(provider.keys())) == 1


def test_200_without_an_id_surfaces_as_server_error(make_client: Callable[..., ResendClient]) -> None:
    """If every answer is a 2xx without an id, the caller gets ProviderServerError carrying that status."""
    provider = ScriptedProvider(then=httpx.Response(200, json={"id": ""}))
    with pytest.raises(ProviderServerError) as caught:
        make_client(provider).send(EMAIL)
    assert caught.value.status == 200


def test_on_retry_hook_sees_each_wait(make_client: Callable[..., ResendClient]) -> None:
    """``on_retry`` gets one RetryEvent per retry with its number, wait, error and the send's key."""
    events: list[RetryEvent] = []
    provider = ScriptedProvider(
        error(500, "internal_server_error"), error(429, "rate_limit_exceeded", headers={"retry-after": "5"}), ok()
    )
    make_client(provider, on_retry=events.append).send(EMAIL, idempotency_key="contact/7")
    assert [(e.retry_number, e.wait_seconds, type(e.error), e.idempotency_key) for e in events] == [
        (1, 1, ProviderServerError, "contact/7"),
        (2, 5, ProviderRateLimitedError, "contact/7"),
    ]


# -- the deadline -----------------------------------------------------------------------------


def test_deadline_stops_retries_with_deferred_error(make_client: Callable[..., ResendClient], clock: FakeClock) -> None:
    """With 5 s left, the 4 s wait after the third failure would end past the deadline: ProviderDeferredError."""
    provider = ScriptedProvider(then=error(500, "internal_server_error"))
    deadline = clock() + 5
    with pytest.raises(ProviderDeferredError) as caught:
        make_client(provider).send(EMAIL, deadline=deadline)
    assert clock.waits == [1, 2]
    assert len(provider.requests) == 3
    assert clock() <= deadline
    assert isinstance(caught.value.__cause__, ProviderServerError)
    assert caught.value.status == 500


def test_a_retry_after_past_the_deadline_defers_at_once(
    make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """A Retry-After longer than the time left defers after the first attempt, without waiting."""
    provider = ScriptedProvider(then=error(429, "rate_limit_exceeded", headers={"retry-after": "7"}))
    with pytest.raises(ProviderDeferredError) as caught:
        make_client(provider).send(EMAIL, deadline=clock() + 5)
    assert clock.waits == []
    assert len(provider.requests) == 1
    assert caught.value.retry_after == 7


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (error(429, "rate_limit_exceeded", headers={"retry-after": "60"}), ProviderRateLimitedError),
        (error(503, "internal_server_error", headers={"retry-after": "17"}), ProviderServerError),
    ],
)
def test_a_retry_after_longer_than_any_wait_hands_back_the_providers_own_error(
    make_client: Callable[..., ResendClient], clock: FakeClock, answer: httpx.Response, raised: type[Exception]
) -> None:
    """Retry-After past the 16 s we ever sleep, with ten minutes left: no wait, no second request, and the
    provider's error as it came, not a deferral (which the API and the outbox count as BudgetExhausted)."""
    provider = ScriptedProvider(then=answer)
    with pytest.raises(ProviderError) as caught:
        make_client(provider).send(EMAIL, deadline=clock() + 600)
    assert type(caught.value) is raised
    assert (clock.waits, len(provider.requests)) == ([], 1)
    assert caught.value.retry_after == float(answer.headers["retry-after"])


def test_a_deadline_already_too_close_defers_without_a_request(
    make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """With less than ``min_attempt_seconds`` left, send defers before touching the network."""
    provider = ScriptedProvider(then=ok())
    with pytest.raises(ProviderDeferredError):
        make_client(provider).send(EMAIL, deadline=clock() + 0.1)
    assert provider.requests == []


def test_per_attempt_timeouts_shrink_to_the_time_left(
    make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """Every timeout of an attempt is cut to the seconds left before the deadline."""
    provider = ScriptedProvider(ok())
    make_client(provider, timeouts=Timeouts(connect=3, read=10, write=5, pool=2)).send(EMAIL, deadline=clock() + 2.5)
    assert provider.requests[0].extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2}


def test_without_a_deadline_the_configured_timeouts_apply(make_client: Callable[..., ResendClient]) -> None:
    """With no deadline, each attempt uses the configured connect/read/write/pool timeouts."""
    provider = ScriptedProvider(ok())
    make_client(provider, timeouts=Timeouts(connect=1, read=2, write=3, pool=4)).send(EMAIL)
    assert provider.requests[0].extensions["timeout"] == {"connect": 1, "read": 2, "write": 3, "pool": 4}


def test_timeouts_within_never_go_to_zero() -> None:
    """A deadline already passed still gives httpx a tiny positive timeout rather than zero or negative."""
    assert Timeouts().within(-3) == httpx.Timeout(0.001)


@pytest.mark.parametrize(("retry_number", "wait"), [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (9, 16)])
def test_retry_policy_backoff_doubles_and_is_capped(retry_number: int, wait: float) -> None:
    """The computed wait is 1 s doubled per retry and never above 16 s."""
    assert RetryPolicy().wait_before_retry(retry_number, None) == wait


# -- the breaker inside the retry loop ---------------------------------------------------------


def test_every_failed_attempt_counts_and_an_open_breaker_is_not_retried(
    make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """Five failed attempts open the breaker; the retry after that is refused with CircuitOpenError, no request."""
    provider = ScriptedProvider(then=error(500, "internal_server_error"))
    client = make_client(provider)
    with pytest.raises(ProviderServerError):
        client.send(EMAIL)
    assert client.breaker.fail_counter == 4
    with pytest.raises(CircuitOpenError):
        client.send(EMAIL)
    assert len(provider.requests) == 5
    assert client.breaker.state == "open"
    waits_so_far = list(clock.waits)
    with pytest.raises(CircuitOpenError):
        client.send(EMAIL)
    assert len(provider.requests) == 5
    assert clock.waits == waits_so_far


@pytest.mark.parametrize(
    ("answer", "opens"),
    [
        (error(422, "validation_error"), False),
        (error(400, "validation_error"), False),
        (error(409, "invalid_idempotent_request"), False),
        (error(401, "missing_api_key"), False),
        (error(403, "invalid_api_key"), False),
        (error(429, "daily_quota_exceeded"), False),
        (error(500, "internal_server_error"), True),
    ],
)
def test_only_transient_failures_trip_the_breaker(
    make_client: Callable[..., ResendClient], answer: httpx.Response, opens: bool
) -> None:
    """Five sends refused for validation, auth or quota leave the breaker closed; 5xx answers open it."""
    client = make_client(ScriptedProvider(then=answer))
    for _ in range(5):
        with pytest.raises(ProviderError):
            client.send(EMAIL)
    assert client.breaker.state == ("open" if opens else "closed")


def test_breaker_can_be_shared_and_injected(make_client: Callable[..., ResendClient], clock: FakeClock) -> None:
    """A breaker passed in is the one the client consults: opened from outside, it refuses sends."""
    breaker = ProviderBreaker(clock=clock)
    provider = ScriptedProvider(then=ok())
    client = make_client(provider, breaker=breaker)
    for _ in range(5):
        breaker.record(breaker.admit(), ProviderServerError("down", status=500))
    with pytest.raises(CircuitOpenError):
        client.send(EMAIL)
    assert provider.requests == []


def test_an_undecodable_body_is_a_typed_transient_error(make_client: Callable[..., ResendClient]) -> None:
    """A body that fails Content-Encoding decoding (a broken proxy) surfaces as a typed ProviderServerError."""
    provider = ScriptedProvider(*(broken_gzip() for _ in range(4)))
    with pytest.raises(ProviderServerError):
        make_client(provider).send(EMAIL)
    assert len(provider.requests) == 4  # transient: retried like any 5xx


def test_an_unexpected_error_in_a_half_open_trial_does_not_wedge_the_breaker(
    make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """Whatever a half-open trial ends with, the next trial is admitted afterwards."""
    broken = broken_gzip()
    provider = ScriptedProvider(broken, then=ok())
    client = make_client(provider)
    for _ in range(5):
        client.breaker.record(client.breaker.admit(), ProviderServerError("down", status=500))
    clock.now += 60
    with pytest.raises(Exception):  # noqa: B017, PT011 - whichever error the broken answer becomes
        client.send(EMAIL)
    assert client.breaker.state == "open"  # the failed trial re-opened it: not wedged half-open
    clock.now += 60
    assert client.send(EMAIL) == ok().json()["id"]


# -- translating answers ----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "name"), sorted(ERROR_TABLE))
def test_translate_response_uses_the_table_for_every_documented_error(status: int, name: str) -> None:
    """Each documented Resend error body becomes the table's class with status, name and message kept."""
    translated = translate_response(error(status, name, "the provider's words"))
    assert type(translated) is ERROR_TABLE[(status, name)]
    assert (translated.status, translated.name, translated.message) == (status, name, "the provider's words")


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>"), "a non-JSON body"),
        (httpx.Response(500, content=b""), "an empty body"),
        (httpx.Response(504, content=b"\xff\xfe\xfa"), "a non-JSON body"),
    ],
)
def test_non_json_answers_fall_back_by_status(response: httpx.Response, kind: str) -> None:
    """A proxy's HTML page, an empty body or undecodable bytes become a server error with a safe message."""
    translated = translate_response(response)
    assert type(translated) is ProviderServerError
    assert translated.name is None
    assert translated.message == f"HTTP {response.status_code} from the provider with {kind}"


@pytest.mark.parametrize(
    "payload", [["not", "an", "object"], {"name": 7, "message": None}, {"name": "", "message": ""}, "text"]
)
def test_json_that_is_not_resends_error_shape_falls_back(payload: object) -> None:
    """JSON without a usable name/message falls back by status with a generic message."""
    translated = translate_response(httpx.Response(429, json=payload))
    assert type(translated) is ProviderRateLimitedError
    assert (translated.name, translated.message) == (None, "HTTP 429 from the provider")


def test_provider_text_is_truncated() -> None:
    """Names and messages from the provider are cut to 200 characters before they reach logs."""
    translated = translate_response(error(422, "x" * 500, "m" * 500))
    assert len(translated.message) == 200
    assert translated.name is not None
    assert len(translated.name) == 200


def test_translate_response_reads_the_retry_hint() -> None:
    """The translated error carries the Retry-After seconds the provider asked for."""
    translated = translate_response(error(429, "rate_limit_exceeded", headers={"retry-after": "7"}))
    assert translated.retry_after == 7


def test_client_builds_its_own_pool_without_connecting() -> None:
    """Without ``http`` the client builds its own keep-alive pool and opens no connection until a send."""
    with ResendClient(api_key=API_KEY, base_url="http://127.0.0.1:9/") as client:
        assert client.base_url == "http://127.0.0.1:9"
        client.reconnect()
