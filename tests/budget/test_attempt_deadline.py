"""One deadline bounds a send whatever the provider does: a trickled body, a hang mid-body, a stalled connect.

These run the real client against misbehaving loopback servers on the real clock. Every phase timeout is
10 s and the trickled body takes 6.9 s to arrive (23 bytes, one every 0.3 s), so a send the deadline did not
cut takes 6.9 s or more; the bound asserted is the 1 s deadline plus an allowance (2.5 s) that a loaded
machine's scheduling cannot use up, yet that only the deadline can meet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from contact_sdk import timings
from contact_sdk.errors import ProviderDeferredError, ProviderError
from contact_sdk.resend import OutgoingEmail, ResendClient, Timeouts
from tests.budget.slow_servers import body_server, stalled_connect_server

pytestmark = pytest.mark.integration

EMAIL = OutgoingEmail(sender="Contact Form <no-reply@example.com>", to=("me@example.com",), subject="Hi", text="Hello")
DEADLINE_S = 1.0
#: Scheduling on a loaded, shared 2-core machine; half the trickle's 6.9 s, so only the deadline meets it.
ALLOWANCE_S = 2.5


@pytest.fixture
def clients() -> Iterator[Callable[[str], ResendClient]]:
    """Clients with phase timeouts far longer than the deadline, so only the deadline can stop them."""
    made: list[ResendClient] = []

    def make(base_url: str) -> ResendClient:
        client = ResendClient(
            api_key="re_test",
            base_url=base_url,
            timeouts=Timeouts(connect=10.0, read=10.0, write=10.0, pool=10.0),
            sleep=lambda seconds: pytest.fail(f"no wait fits a {DEADLINE_S} s deadline, yet one of {seconds} s began"),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def timed_send(client: ResendClient) -> tuple[float, BaseException | None, list[float]]:
    attempts: list[float] = []
    client._on_attempt = attempts.append  # the public hook, set after construction for brevity
    started = time.monotonic()
    try:
        client.send(EMAIL, idempotency_key="contact/deadline", deadline=client.clock() + DEADLINE_S)
    except ProviderError as exc:
        return time.monotonic() - started, exc, attempts
    return time.monotonic() - started, None, attempts


def test_a_body_trickled_byte_by_byte_cannot_outlast_the_deadline(
    clients: Callable[[str], ResendClient],
) -> None:
    """A byte every 0.3 s never trips a 10 s read timeout, but the attempt is cut at the 1 s deadline."""
    with body_server(byte_every=0.3) as url:
        elapsed, error, attempts = timed_send(clients(url))
    assert isinstance(error, ProviderDeferredError)
    assert elapsed < DEADLINE_S + ALLOWANCE_S
    assert len(attempts) == 1
    # Cut at the deadline, not before it: the attempt began a few milliseconds after the deadline was set.
    assert DEADLINE_S * 1000 - 250 <= attempts[0] < (DEADLINE_S + ALLOWANCE_S) * 1000


def test_a_hang_after_the_headers_cannot_outlast_the_deadline(clients: Callable[[str], ResendClient]) -> None:
    """Headers at once and then silence: the send gives up at the deadline, not after the 10 s read timeout."""
    with body_server(byte_every=None) as url:
        elapsed, error, _ = timed_send(clients(url))
    assert isinstance(error, ProviderDeferredError)
    assert elapsed < DEADLINE_S + ALLOWANCE_S


def test_a_connect_that_never_completes_cannot_outlast_the_deadline(
    clients: Callable[[str], ResendClient],
) -> None:
    """A SYN nobody answers: the send gives up at the deadline, not after the 10 s connect timeout."""
    with stalled_connect_server() as url:
        elapsed, error, _ = timed_send(clients(url))
    assert isinstance(error, ProviderDeferredError)
    assert elapsed < DEADLINE_S + ALLOWANCE_S


def test_a_prompt_body_is_read_normally_under_a_deadline(clients: Callable[[str], ResendClient]) -> None:
    """The same server trickling fast enough answers inside the deadline: the id is returned, the time tallied."""
    with body_server(byte_every=0.001) as url, timings.spending() as spent:
        client = clients(url)
        assert client.send(EMAIL, deadline=client.clock() + 5.0) == "trickled-0000"
    assert 0 < spent.milliseconds(timings.PROVIDER) < 5000


@pytest.mark.parametrize("byte_every", [0.3, None], ids=["trickled", "hung"])
def test_no_attempt_outlives_its_send(clients: Callable[[str], ResendClient], byte_every: float | None) -> None:
    """When send() returns at the deadline, the attempt is over: its connection closed (the server sees the hang-up
    before send() returns) and no thread of it left running to send later, e.g. on a Lambda's next thaw."""
    hung_up: list[float] = []
    before = set(threading.enumerate())
    with body_server(byte_every=byte_every, hung_up=hung_up) as url:
        client = clients(url)
        _, error, _ = timed_send(client)
        returned = time.monotonic()
        assert isinstance(error, ProviderDeferredError)
        assert {t for t in threading.enumerate() if t.name != "ThreadPoolExecutor"} - before <= _server_threads()
        for _ in range(100):  # the server's poll notices the closed socket within a few tens of ms
            if hung_up:
                break
            time.sleep(0.02)
    assert hung_up, "the attempt's connection was left open"
    assert hung_up[0] <= returned + 0.1  # closed by the client when it gave up, not later by a reaper


def _server_threads() -> set[threading.Thread]:
    """The loopback server's own threads (accept loop, one per connection): not the client's."""
    return {t for t in threading.enumerate() if t.daemon and t.name.startswith("Thread-")}
