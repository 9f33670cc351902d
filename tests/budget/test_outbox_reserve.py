"""A provider that uses every moment it is given still leaves the outbox time to keep the submission.

The clock is a manual one and the provider (an ``httpx.MockTransport``) moves it forward by all the time its
attempt is allowed, then times out: the slowest provider there is. The outbox notes how long it has when it
is asked to keep the submission. The figures are the contract's, computed by hand: the answer is due
``CONTACT_RESPONSE_BUDGET_MS`` after receipt plus at most 500 ms "to queue and answer"; of that, the
provider gets the budget less 0.5 s (less a quarter of the budget when that is smaller), and keeping the
submission gets those 0.5 s plus 0.4 s, so a first connection to SQS or a stalled CPU does not turn a
``202 queued`` into a ``503`` (a CI run saw exactly that, with the outbox left 0.4 s).
"""

from __future__ import annotations

import httpx
import pytest

from contact_sdk.bootstrap import Components
from contact_sdk.deadline import current
from contact_sdk.devtools.fakes import InMemoryOutbox
from contact_sdk.outbox import QueuedEmail
from tests.clocks import ManualClock
from tests.test_api import ORIGIN, answer, event, form, in_process, token


class SlowestProvider:
    """Takes all the time the attempt has (the deadline in force), then times out; notes what it was given."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.given: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        deadline = current()
        assert deadline is not None, "the provider is called inside the request's deadline"
        left = deadline.remaining()
        self.given.append(round(left, 6))
        self.clock.advance(left)
        raise httpx.ReadTimeout("no answer before the deadline", request=request)


class TimedOutbox(InMemoryOutbox):
    """Keeps submissions in a list and notes how long it had when asked (the deadline in force)."""

    def __init__(self) -> None:
        super().__init__()
        self.had: list[float] = []

    def enqueue(self, queued: QueuedEmail, *, delay_seconds: int = 0) -> None:
        deadline = current()
        self.had.append(round(deadline.remaining(), 6) if deadline is not None else float("inf"))
        super().enqueue(queued, delay_seconds=delay_seconds)


def stack(budget_ms: int, *, outbox: InMemoryOutbox | None) -> tuple[Components, SlowestProvider, ManualClock]:
    clock = ManualClock(advance_on_sleep=True)
    provider = SlowestProvider(clock)
    return in_process(provider, outbox=outbox, clock=clock, response_budget_ms=budget_ms), provider, clock


@pytest.mark.parametrize(
    ("budget_ms", "provider_seconds", "outbox_seconds"),
    [
        (4000, 3.5, 0.9),  # production's budget: 0.5 s held back, plus the 0.4 s allowance
        (2000, 1.5, 0.9),  # the brownout rows' budget: the same 0.5 s
        (1000, 0.75, 0.65),  # a short budget: a quarter of it (0.25 s), so the provider keeps most
    ],
)
def test_the_slowest_provider_leaves_the_outbox_its_reserve_and_allowance(
    built: list[Components], budget_ms: int, provider_seconds: float, outbox_seconds: float
) -> None:
    """The provider takes all it is given and times out: it was given the budget less the reserve, the submission
    is queued (``202``) with the reserve plus the 0.4 s allowance left, and the visitor is answered in time."""
    outbox = TimedOutbox()
    components, provider, clock = stack(budget_ms, outbox=outbox)
    built.append(components)
    page_token = token(components.api)
    received = clock()
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": page_token}
    status, _, body = answer(components.api, event("POST", "/contact", headers=headers, body=form()))
    assert status == 202 and body is not None and body["status"] == "queued"
    assert provider.given == [provider_seconds]  # one attempt, cut where the provider's share ends
    assert outbox.had == [outbox_seconds]
    [kept] = outbox.as_dicts()
    assert kept["reason"] == "ProviderDeferredError"  # cut by the deadline: the provider is not blamed
    # The answer came inside the contract's budget + 500 ms on this clock (the outbox took no time of it).
    assert clock() - received <= budget_ms / 1000 + 0.5


def test_without_an_outbox_the_provider_gets_the_whole_budget(built: list[Components]) -> None:
    """Nothing to keep the submission in: holding time back would only cut the provider short, so nothing is."""
    components, provider, _ = stack(4000, outbox=None)
    built.append(components)
    page_token = token(components.api)
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": page_token}
    status, response_headers, body = answer(components.api, event("POST", "/contact", headers=headers, body=form()))
    assert status == 503 and body is not None and body["error"]["code"] == "service_unavailable"
    assert "Retry-After" in response_headers
    assert provider.given == [4.0]
