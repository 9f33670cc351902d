"""A table that uses every moment it is given still leaves the delivery time to send the email, or to keep it.

The clock is a manual one. The checks' shared state (the rate limit's hit, the token's single use, the record's
claim: one DynamoDB transaction in production) sits behind :class:`SlowestTable`, which moves the clock forward by
all the time the call is allowed and then answers from this instance's memory, as the service does when the
table's call is cut. The provider either answers at once or is the slowest there is (it too takes all it is given,
then times out). The figures are worked out by hand from the contract: of the response budget, the checks may use
all but 1 s (all but half of it when the budget is shorter than 2 s); the provider's attempts then get what is left
less the outbox's 0.5 s reserve (a quarter of what is left when that is smaller), and keeping the submission gets
that reserve plus the 0.4 s allowance.

Before the checks had a share of their own, a hanging table took the whole budget (a call timeout longer than the
budget, as ``CONTACT_AWS_CALL_TIMEOUT_MS`` may be): the provider was never tried, the submission went to the outbox
in the allowance's last 0.4 s, and a cold instance's first ``SendMessage`` on a loaded machine turned the ``202``
into a ``503`` (the brownout matrix's cold DynamoDB rows, on CI).
"""

from __future__ import annotations

import httpx
import pytest

from contact_sdk.admission import Admission, Admitted
from contact_sdk.bootstrap import Components
from contact_sdk.deadline import Deadline, current
from contact_sdk.record import Claim, Draft
from contact_sdk.security.csrf import VerifiedToken
from tests.budget.test_outbox_reserve import SlowestProvider, TimedOutbox
from tests.clocks import ManualClock
from tests.test_api import ORIGIN, answer, event, form, in_process, token


class SlowestTable:
    """The checks' shared state on a table that takes all the time a call is allowed, then is cut: the service
    answers from this instance's memory (``inner``). Notes the time each call had, and that the call's own
    ``deadline`` is the one in force."""

    def __init__(self, inner: Admission, clock: ManualClock) -> None:
        self.inner = inner
        self.clock = clock
        self.given: list[float] = []

    def _hang(self, deadline: Deadline | None) -> None:
        in_force = current()
        assert deadline is not None and in_force is not None, "the checks run inside the request's deadline"
        assert in_force.at == deadline.at, "the scope in force is the deadline the call was handed"
        left = deadline.remaining()
        self.given.append(round(left, 6))
        self.clock.advance(left)

    def admit(
        self, *, client_ip: str, token: VerifiedToken | None, draft: Draft | None, deadline: Deadline | None
    ) -> Admitted:
        self._hang(deadline)
        return self.inner.admit(client_ip=client_ip, token=token, draft=draft, deadline=deadline)

    def claim(self, draft: Draft, *, deadline: Deadline | None) -> tuple[Claim | None, str | None]:
        self._hang(deadline)
        return self.inner.claim(draft, deadline=deadline)


class PromptProvider:
    """Resend answering at once; notes how long each attempt had (the deadline in force)."""

    def __init__(self) -> None:
        self.given: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        deadline = current()
        assert deadline is not None, "the provider is called inside the request's deadline"
        self.given.append(round(deadline.remaining(), 6))
        return httpx.Response(200, json={"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"})


def behind_the_slowest_table(
    provider: PromptProvider | SlowestProvider, outbox: TimedOutbox, clock: ManualClock, budget_ms: int
) -> tuple[Components, SlowestTable]:
    """The service in process with ``budget_ms``, its checks' shared state behind :class:`SlowestTable`."""
    components = in_process(provider, outbox=outbox, clock=clock, response_budget_ms=budget_ms)
    table = SlowestTable(components.intake.admission, clock)
    components.intake.admission = table
    return components, table


def posted(components: Components, clock: ManualClock) -> tuple[int, dict[str, object], float]:
    """``POST /contact`` with a fresh token; the status, the body and how long the answer took on ``clock``."""
    page_token = token(components.api)
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": page_token}
    received = clock()
    status, _, body = answer(components.api, event("POST", "/contact", headers=headers, body=form()))
    assert body is not None
    return status, body, clock() - received


@pytest.mark.parametrize(
    ("budget_ms", "table_seconds", "provider_seconds"),
    [
        (4000, 3.0, 0.75),  # production's budget: the checks stop 1 s before it; the provider keeps 0.75 s of that
        (2000, 1.0, 0.75),  # the brownout rows' budget: the same 1 s kept
        (1000, 0.5, 0.375),  # a short budget: half of it kept (0.5 s), of which the outbox holds a quarter back
    ],
)
def test_a_hanging_table_leaves_a_healthy_provider_time_to_send(
    built: list[Components], budget_ms: int, table_seconds: float, provider_seconds: float
) -> None:
    """The table takes all it is allowed: the checks' share. The provider, healthy, is then asked with the rest (less
    the outbox's reserve) and the visitor gets ``200 sent``, not a ``202`` the table's wait alone caused."""
    clock = ManualClock(advance_on_sleep=True)
    provider = PromptProvider()
    outbox = TimedOutbox()
    components, table = behind_the_slowest_table(provider, outbox, clock, budget_ms)
    built.append(components)
    status, body, took = posted(components, clock)
    assert (status, body["status"]) == (200, "sent")
    assert table.given == [table_seconds]
    assert provider.given == [provider_seconds]
    assert outbox.as_dicts() == []
    assert took == pytest.approx(table_seconds)  # the provider took no time on this clock


@pytest.mark.parametrize(
    ("budget_ms", "table_seconds", "provider_seconds", "outbox_seconds"),
    [
        (4000, 3.0, 0.75, 0.65),  # of the 1 s left: 0.75 s to the provider, a quarter (0.25 s) + 0.4 s to keep it
        (2000, 1.0, 0.75, 0.65),
        (1000, 0.5, 0.375, 0.525),  # of the 0.5 s left: 0.375 s, then 0.125 s + 0.4 s
    ],
)
def test_a_hanging_table_and_a_hanging_provider_still_leave_the_outbox_its_time(
    built: list[Components], budget_ms: int, table_seconds: float, provider_seconds: float, outbox_seconds: float
) -> None:
    """Both take all they are allowed: the submission is still kept (``202 queued``), with the outbox's reserve and
    the allowance to do it in, and the answer comes within the contract's budget + 500 ms."""
    clock = ManualClock(advance_on_sleep=True)
    provider = SlowestProvider(clock)
    outbox = TimedOutbox()
    components, table = behind_the_slowest_table(provider, outbox, clock, budget_ms)
    built.append(components)
    status, body, took = posted(components, clock)
    assert (status, body["status"]) == (202, "queued")
    assert table.given == [table_seconds]
    assert provider.given == [provider_seconds]
    assert outbox.had == [outbox_seconds]
    assert took <= budget_ms / 1000 + 0.5
