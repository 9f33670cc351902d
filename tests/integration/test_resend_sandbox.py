"""The Resend client against the Resend sandbox over real loopback HTTP (issue 2, "Done when").

Waits go to an injected ``sleep`` and the breaker reads an injected clock: no test sleeps for real
except the 0.2 s read timeouts and the control of the concurrency tests (a fair chance, not a verdict).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pybreaker
import pytest

from contact_sdk.breaker import ProviderBreaker
from contact_sdk.devtools.brownout import POLL_SECONDS, BrownoutProxy, Mode
from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.errors import (
    CircuitOpenError,
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
)
from contact_sdk.resend import USER_AGENT, OutgoingEmail, ResendClient, Timeouts
from tests.conftest import refusing_port
from tests.integration.conftest import SANDBOX_API_KEY

pytestmark = pytest.mark.integration

EMAIL = OutgoingEmail(
    sender="Contact Form <no-reply@example.com>",
    to=("delivered@resend.dev",),
    subject="Hello from the contact form",
    text="Hi there",
)


class FakeClock:
    """A monotonic clock that moves only when ``sleep`` is called or a test advances it."""

    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def email_requests(sandbox: ResendSandbox) -> list[dict[str, Any]]:
    """Every ``POST /emails`` that reached the sandbox, refused and faulted ones included."""
    return [r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == "/emails"]


@pytest.fixture
def clock() -> FakeClock:
    """An injected clock whose ``sleep`` advances it."""
    return FakeClock()


@pytest.fixture
def make_client(sandbox: ResendSandbox, clock: FakeClock) -> Iterator[Callable[..., ResendClient]]:
    """Build ResendClients pointed at the sandbox (its key, the fake clock and sleep); closed after the test."""
    built: list[ResendClient] = []

    def build(**kwargs: Any) -> ResendClient:
        kwargs.setdefault("api_key", SANDBOX_API_KEY)
        kwargs.setdefault("base_url", sandbox.url)
        kwargs.setdefault("sleep", clock.sleep)
        kwargs.setdefault("clock", clock)
        client = ResendClient(**kwargs)
        built.append(client)
        return client

    yield build
    for client in built:
        client.close()


def test_send_stores_one_email_as_sent(sandbox: ResendSandbox, make_client: Callable[..., ResendClient]) -> None:
    """A send returns the sandbox's id; the stored email has the snake_case body, our User-Agent and our key."""
    email_id = make_client().send(EMAIL, idempotency_key="contact/first")
    (stored,) = sandbox.emails()
    assert stored["id"] == email_id
    assert stored["body"] == EMAIL.to_json()
    assert stored["headers"] == {
        "idempotency-key": "contact/first",
        "user-agent": USER_AGENT,
        "content-type": "application/json",
    }


def test_500_500_500_200_waits_1_2_4_under_one_key_and_stores_one_email(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient]
) -> None:
    """``500,500,500,200`` waits exactly 1, 2, 4 s; all 4 attempts carry one Idempotency-Key; one email is stored."""
    waits: list[float] = []
    sandbox.script(["500", "500", "500", "200"])
    email_id = make_client(sleep=waits.append).send(EMAIL)
    assert waits == [1, 2, 4]
    requests = email_requests(sandbox)
    assert [r["status"] for r in requests] == [500, 500, 500, 200]
    assert len({r["idempotency_key"] for r in requests}) == 1
    assert requests[0]["idempotency_key"]
    assert [e["id"] for e in sandbox.emails()] == [email_id]


def test_a_retry_after_a_lost_answer_delivers_once(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """When the sandbox stores the email but the answer times out, the retry under the same key gets the same id."""
    sandbox.script(["timeout-accept;seconds=2", "200"])
    email_id = make_client(timeouts=Timeouts(read=0.2)).send(EMAIL)
    first, second = email_requests(sandbox)
    assert first["idempotency_key"] == second["idempotency_key"]
    assert second["replayed"] is True
    assert [e["id"] for e in sandbox.emails()] == [email_id]
    assert clock.waits == [1]


@pytest.mark.parametrize(("step", "expected_wait"), [("429;retry-after=7", 7), ("429;retry-after=16", 16)])
def test_retry_after_seconds_is_honoured_and_capped_at_16(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient], step: str, expected_wait: float
) -> None:
    """``Retry-After: 7`` waits 7 s, ``Retry-After: 16`` (the cap) 16 s; then the send succeeds."""
    waits: list[float] = []
    sandbox.script([step, "200"])
    make_client(sleep=waits.append).send(EMAIL)
    assert waits == [expected_wait]
    assert len(sandbox.emails()) == 1


@pytest.mark.parametrize(("ahead", "expected_wait"), [(9, 9), (16, 16)])
def test_retry_after_http_date_is_honoured_and_capped(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient], ahead: int, expected_wait: float
) -> None:
    """An HTTP-date Retry-After up to the 16 s cap waits until that date (by the injected wall clock)."""
    now = 1_800_000_000.0
    date = email.utils.format_datetime(datetime.fromtimestamp(now + ahead, UTC), usegmt=True)
    waits: list[float] = []
    sandbox.script([f"503;retry-after={date}", "200"])
    make_client(sleep=waits.append, wall_clock=lambda: now).send(EMAIL)
    assert waits == [pytest.approx(expected_wait)]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("422", ProviderRequestError),
        ("422:invalid_from_address", ProviderRequestError),
        ("400:validation_error", ProviderRequestError),
        ("401", ProviderAuthError),
        ("403", ProviderAuthError),
        ("403:restricted_api_key", ProviderAuthError),
        ("403:email_above_quota", ProviderQuotaError),
        ("429:daily_quota_exceeded", ProviderQuotaError),
        ("429:monthly_quota_exceeded;retry-after=1", ProviderQuotaError),
        ("409:invalid_idempotent_request", IdempotencyConflictError),
    ],
)
def test_permanent_answers_reach_the_sandbox_exactly_once(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient], step: str, expected: type[ProviderError]
) -> None:
    """Validation, auth and quota answers are not retried: exactly one request reaches the sandbox."""
    waits: list[float] = []
    sandbox.script([step, "200"])
    with pytest.raises(expected):
        make_client(sleep=waits.append).send(EMAIL)
    assert len(email_requests(sandbox)) == 1
    assert waits == []
    assert sandbox.emails() == []


def test_a_wrong_api_key_is_refused_once(sandbox: ResendSandbox, make_client: Callable[..., ResendClient]) -> None:
    """The sandbox's own key check answers 403 ``invalid_api_key``, which is not retried."""
    with pytest.raises(ProviderAuthError) as caught:
        make_client(api_key="re_wrong_key").send(EMAIL)
    assert (caught.value.status, caught.value.name) == (403, "invalid_api_key")
    assert len(email_requests(sandbox)) == 1


def test_an_invalid_recipient_is_refused_once(sandbox: ResendSandbox, make_client: Callable[..., ResendClient]) -> None:
    """The sandbox's own validation refuses a malformed ``to`` with a 4xx that is not retried."""
    invalid = OutgoingEmail(sender="no-reply@example.com", to=("not an address",), subject="x", text="x")
    with pytest.raises(ProviderRequestError) as caught:
        make_client().send(invalid)
    assert caught.value.status == 422
    assert len(email_requests(sandbox)) == 1


def test_deadline_stops_retries_early_with_deferred_error(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """With 5 s left, after waits of 1 and 2 s the 4 s wait would end past the deadline: ProviderDeferredError."""
    sandbox.script(["500", "500", "500", "200"])
    deadline = clock() + 5
    with pytest.raises(ProviderDeferredError) as caught:
        make_client().send(EMAIL, deadline=deadline)
    assert clock.waits == [1, 2]
    assert clock() <= deadline
    assert len(email_requests(sandbox)) == 3
    assert sandbox.emails() == []
    assert isinstance(caught.value.__cause__, ProviderServerError)


def test_breaker_opens_refuses_offline_half_opens_and_closes(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """5 failed attempts open the breaker; while open no request leaves; at 60 s it half-opens; 3 successes close it."""
    changes: list[tuple[str | None, str, float]] = []
    sandbox.script(["500"] * 5 + ["200"] * 3)
    breaker = ProviderBreaker(clock=clock, on_state_change=lambda old, new: changes.append((old, new, clock())))
    client = make_client(breaker=breaker)

    with pytest.raises(ProviderServerError):
        client.send(EMAIL)  # attempts 1-4
    assert (client.breaker.state, client.breaker.fail_counter) == ("closed", 4)
    with pytest.raises(CircuitOpenError):
        client.send(EMAIL)  # attempt 5 opens it; the retry after it is refused
    assert client.breaker.state == "open"
    assert len(email_requests(sandbox)) == 5
    opened_at = changes[0][2]

    clock.now = opened_at + 59.9
    for _ in range(3):
        with pytest.raises(CircuitOpenError):
            client.send(EMAIL)
    assert len(email_requests(sandbox)) == 5

    clock.now = opened_at + 60
    client.send(EMAIL)
    assert client.breaker.state == "half-open"
    client.send(EMAIL)
    assert client.breaker.state == "half-open"
    client.send(EMAIL)
    assert client.breaker.state == "closed"
    assert len(email_requests(sandbox)) == 8
    assert len(sandbox.emails()) == 3
    assert [(old, new) for old, new, _ in changes] == [
        ("closed", "open"),
        ("open", "half-open"),
        ("half-open", "closed"),
    ]


def test_auth_failures_do_not_open_the_breaker(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient]
) -> None:
    """Six sends refused for a wrong key each reach the provider: an auth refusal says nothing of its health."""
    client = make_client(api_key="re_revoked")
    for _ in range(6):
        with pytest.raises(ProviderAuthError):
            client.send(EMAIL)
    assert (client.breaker.state, client.breaker.fail_counter) == ("closed", 0)
    assert len(email_requests(sandbox)) == 6


@pytest.mark.parametrize(
    ("step", "raised"), [("429;retry-after=17", ProviderRateLimitedError), ("503;retry-after=60", ProviderServerError)]
)
def test_a_wait_longer_than_the_cap_is_handed_back_not_slept(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient], step: str, raised: type[ProviderError]
) -> None:
    """A Retry-After past 16 s is not slept nor shortened: the send stops at once with the provider's own error,
    carrying the provider's wait."""
    waits: list[float] = []
    sandbox.script([step, "200"])
    with pytest.raises(ProviderError) as caught:
        make_client(sleep=waits.append).send(EMAIL)
    assert type(caught.value) is raised
    assert waits == []
    assert caught.value.retry_after == float(step.rsplit("=", 1)[1])
    assert len(email_requests(sandbox)) == 1
    assert sandbox.emails() == []


def test_validation_errors_do_not_open_the_breaker(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient]
) -> None:
    """Many 422s from the sandbox leave the breaker closed and the next good send goes through."""
    sandbox.script(["422"] * 8)
    client = make_client()
    for _ in range(8):
        with pytest.raises(ProviderRequestError):
            client.send(EMAIL)
    assert client.breaker.state == "closed"
    client.send(EMAIL)
    assert len(sandbox.emails()) == 1


@pytest.mark.parametrize("step", ["502-html", "empty-500"])
def test_non_json_5xx_is_transient(sandbox: ResendSandbox, make_client: Callable[..., ResendClient], step: str) -> None:
    """A proxy's HTML 502 or an empty 500 is retried like any server error, and the retry succeeds."""
    waits: list[float] = []
    sandbox.script([step, "200"])
    make_client(sleep=waits.append).send(EMAIL)
    assert waits == [1]
    assert len(sandbox.emails()) == 1


def test_non_json_502_after_the_last_retry_is_a_server_error(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient]
) -> None:
    """Four HTML 502 pages end in ProviderServerError (status 502, no name), never a JSON decoding error."""
    sandbox.script(["502-html"] * 4)
    with pytest.raises(ProviderServerError) as caught:
        make_client().send(EMAIL)
    assert (caught.value.status, caught.value.name) == (502, None)
    assert "non-JSON" in caught.value.message


def test_read_timeout_is_transient(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """A sandbox that hangs past a 0.2 s read timeout gives a retried timeout; the next attempt succeeds."""
    sandbox.script(["timeout;seconds=5", "200"])
    started = time.perf_counter()
    make_client(timeouts=Timeouts(read=0.2)).send(EMAIL)
    assert time.perf_counter() - started < 2
    assert clock.waits == [1]
    assert len(sandbox.emails()) == 1


def test_timeouts_after_the_last_retry_raise_provider_timeout(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient]
) -> None:
    """Four hung attempts end in ProviderTimeoutError chained to httpx's ReadTimeout."""
    sandbox.script(["timeout;seconds=5"] * 4)
    with pytest.raises(ProviderTimeoutError) as caught:
        make_client(timeouts=Timeouts(read=0.2)).send(EMAIL)
    assert type(caught.value.__cause__).__name__ == "ReadTimeout"
    assert len(email_requests(sandbox)) == 4


def test_dropped_connection_is_transient(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient], clock: FakeClock
) -> None:
    """A connection reset before any answer is a retried connection error."""
    sandbox.script(["reset", "200"])
    make_client().send(EMAIL)
    assert clock.waits == [1]
    assert len(sandbox.emails()) == 1


def test_connection_refused_is_transient(make_client: Callable[..., ResendClient], clock: FakeClock) -> None:
    """Nothing listening on the port gives ProviderConnectionError after the usual 1, 2, 4 s retries."""
    with pytest.raises(ProviderConnectionError) as caught:
        make_client(base_url=f"http://127.0.0.1:{refusing_port()}").send(EMAIL)
    assert caught.value.status is None
    assert clock.waits == [1, 2, 4]


def test_outage_window_is_retried_then_reported(
    sandbox: ResendSandbox, make_client: Callable[..., ResendClient]
) -> None:
    """During a sandbox outage every attempt gets 503 service_unavailable and the caller sees ProviderServerError."""
    sandbox.outage(600)
    with pytest.raises(ProviderServerError) as caught:
        make_client().send(EMAIL)
    assert (caught.value.status, caught.value.name) == (503, "service_unavailable")
    assert len(email_requests(sandbox)) == 4


# -- no serialisation ---------------------------------------------------------------------------
#
# The verdict is never a duration: a brownout proxy between the client and the sandbox holds every request
# (``hang``), and the test waits until all the sends are held at the same moment, which a client that
# serialises its sends can never reach. Waits are bounded by PATIENCE_SECONDS only to detect a failure.

CONCURRENCY = 8
#: How long a test waits for what it expects before failing: a failure detector on a loaded machine, not a limit.
PATIENCE_SECONDS = 30.0
#: Timeouts no held request reaches while the test waits for the others (a timeout would retry, not hold).
HOLDING_TIMEOUTS = Timeouts(
    connect=PATIENCE_SECONDS, read=2 * PATIENCE_SECONDS, write=PATIENCE_SECONDS, pool=PATIENCE_SECONDS
)
#: In the control, how long the other sends get to reach the proxy beside the one held (they never do).
FAIR_CHANCE_SECONDS = 1.0


def wait_until(condition: Callable[[], bool], what: str, seen: Callable[[], str]) -> None:
    """Poll ``condition`` until it holds; after PATIENCE_SECONDS fail, naming ``what`` and what was ``seen``."""
    end = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        if time.monotonic() >= end:
            pytest.fail(f"waited {PATIENCE_SECONDS:.0f} s for {what}; saw {seen()}")
        time.sleep(POLL_SECONDS)


@contextmanager
def held_sends(proxy: BrownoutProxy, send: Callable[[], str], n: int) -> Iterator[list[Future[str]]]:
    """Hold every request at ``proxy`` and start ``send`` on ``n`` threads released together.

    On exit (even a failing one) the proxy turns healthy, releasing what it holds, and every send is waited for.
    """
    barrier = threading.Barrier(n)

    def released_together() -> str:
        barrier.wait()
        return send()

    proxy.set_mode(Mode.hang())
    pool = ThreadPoolExecutor(max_workers=n)
    try:
        yield [pool.submit(released_together) for _ in range(n)]
    finally:
        proxy.set_mode(Mode.healthy())
        pool.shutdown(wait=True)


def assert_all_held_then_delivered_once(
    sandbox: ResendSandbox, proxy: BrownoutProxy, send: Callable[[], str], label: str
) -> None:
    """All CONCURRENCY sends are held at the proxy at once; released, each email reaches the sandbox exactly once."""
    started = time.monotonic()
    with held_sends(proxy, send, CONCURRENCY) as futures:
        wait_until(
            lambda: len(proxy.pending()) == CONCURRENCY,
            f"all {CONCURRENCY} sends held at the proxy at once",
            lambda: f"{len(proxy.pending())} held",
        )
        all_held = time.monotonic()
    finished = time.monotonic()
    ids = [future.result() for future in futures]
    print(  # informational only: no verdict rests on these times
        f"\n[concurrency{label}] {CONCURRENCY} sends held at once after {(all_held - started) * 1000:.0f} ms; "
        f"all answered {(finished - all_held) * 1000:.0f} ms after the release"
    )
    assert [(e.label, e.status) for e in proxy.exchanges()] == [("POST /emails", 200)] * CONCURRENCY
    assert len(email_requests(sandbox)) == CONCURRENCY
    assert sorted(str(email["id"]) for email in sandbox.emails()) == sorted(ids)
    assert len(set(ids)) == CONCURRENCY


def test_concurrent_sends_through_one_client_are_not_serialised(
    sandbox: ResendSandbox, sandbox_proxy: BrownoutProxy, make_client: Callable[..., ResendClient]
) -> None:
    """8 concurrent sends through one client are all in flight at the provider at once, and each is delivered once."""
    client = make_client(base_url=sandbox_proxy.url, timeouts=HOLDING_TIMEOUTS)
    assert_all_held_then_delivered_once(sandbox, sandbox_proxy, lambda: client.send(EMAIL), "")
    assert (client.breaker.state, client.breaker.fail_counter) == ("closed", 0)


def test_the_serialisation_check_would_catch_pybreakers_lock(
    sandbox: ResendSandbox, sandbox_proxy: BrownoutProxy, make_client: Callable[..., ResendClient]
) -> None:
    """Control: the same sends inside ``pybreaker.CircuitBreaker.call`` are held one at a time, so the check bites."""
    client = make_client(base_url=sandbox_proxy.url, timeouts=HOLDING_TIMEOUTS)
    locking = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
    calling: list[int] = []  # one entry per thread that has reached pybreaker's call()

    def send() -> str:
        calling.append(1)
        return locking.call(client.send, EMAIL)

    with held_sends(sandbox_proxy, send, CONCURRENCY):
        wait_until(
            lambda: len(calling) == CONCURRENCY and len(sandbox_proxy.pending()) == 1,
            f"all {CONCURRENCY} threads in pybreaker's call() and one send held",
            lambda: f"{len(calling)} in call(), {len(sandbox_proxy.pending())} held",
        )
        time.sleep(FAIR_CHANCE_SECONDS)  # the other 7 would reach the proxy meanwhile if nothing held them back
        held = len(sandbox_proxy.pending())
        print(f"\n[concurrency control] inside pybreaker's call(): {held} of {CONCURRENCY} sends held at once")
        assert held == 1
    assert len(sandbox.emails()) == CONCURRENCY  # released, they went through one by one
