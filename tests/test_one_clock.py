"""The service keeps time by the clock it is given (``build_components(clock=...)``), never by the wall's.

A simulation on a clock years before or after today must behave as one on today's: a spent token stays spent
and a webhook signed "now" is on time, whether the single use is kept in memory, in the table, or in memory
while the table is down. (Before this was so, the nonce stores and the webhook route read the wall clock: on a
clock behind it a token could be replayed, and the fast tier's replay tests, whose clocks start in January
2027, would have begun to fail on 2027-01-15.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from contact_sdk.bootstrap import Components
from contact_sdk.clock import SYSTEM_CLOCK
from contact_sdk.devtools.fakes import InMemoryOutbox
from tests.clocks import ManualClock
from tests.conftest import IN_PROCESS_TABLE as TABLE
from tests.test_admission import Table
from tests.test_api import ORIGIN, Provider, answer, event, form, in_process
from tests.webhooks.test_route import SECRET, delivered, signed

#: 2001-09-09 and 2096-10-02: far behind and far ahead of any day this suite runs on.
STARTS = {"years behind": 1_000_000_000.0, "years ahead": 4_000_000_000.0}


class Built(NamedTuple):
    components: Components
    clock: ManualClock
    provider: Provider
    table_down: bool


@pytest.fixture(params=["memory", "table", "table down"])
def service(request: pytest.FixtureRequest, moto_dynamodb: Any, moto_table: str) -> Iterator[Any]:
    """Builds the service in process on a clock starting at ``start``: its single use kept in memory, in the table
    (moto in process), or in memory because the table is missing."""
    made: list[Components] = []

    def build(start: float) -> Built:
        clock, provider = ManualClock(start=start), Provider()
        tables = {"memory": None, "table": TABLE, "table down": "no-such-table"}
        components = in_process(
            provider,
            outbox=InMemoryOutbox(),
            clock=clock,
            aws={"dynamodb": Table(moto_dynamodb)},  # moto's client as it is, without the service's hooks
            more_parameters={"/w": SECRET},
            webhook_secret_parameter="/w",
            table_name=tables[request.param],
        )
        made.append(components)
        return Built(components, clock, provider, table_down=request.param == "table down")

    yield build
    for components in made:
        components.close()


@pytest.mark.parametrize("start", STARTS.values(), ids=STARTS.keys())
def test_a_spent_token_stays_spent_on_any_clock(service: Any, start: float) -> None:
    """Sent once; the same token again, a minute later by the clock, is ``403 csrf_invalid``, nothing sent."""
    components, clock, provider, _ = service(start)
    status, _, body = answer(components.api, event("GET", "/contact/token", headers={"Origin": ORIGIN}))
    assert status == 200 and body is not None
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": body["token"]}
    first = answer(components.api, event("POST", "/contact", headers=headers, body=form()))
    assert (first[0], first[2] and first[2]["status"]) == (200, "sent")
    clock.advance(60)
    status, _, again = answer(components.api, event("POST", "/contact", headers=headers, body=form(name="Bo")))
    assert (status, again and again["error"]["code"]) == (403, "csrf_invalid")
    assert len(provider.sent) == 1


@pytest.mark.parametrize("start", STARTS.values(), ids=STARTS.keys())
def test_a_webhook_signed_now_by_the_clock_is_on_time(service: Any, start: float) -> None:
    """Signed at the clock's second: recorded (or, with the table down, ``503`` so that Resend retries: on time, not
    refused); signed six minutes earlier: ``401``, outside the 5-minute tolerance."""
    components, _, _, table_down = service(start)
    on_time = 503 if table_down else 200
    for timestamp, expected in ((int(start), on_time), (int(start) - 360, 401)):
        headers, raw = signed(delivered(), svix_id=f"msg_{timestamp}", timestamp=timestamp)
        status, _, body = answer(components.api, event("POST", "/contact/events", headers=headers, body=raw.decode()))
        assert status == expected, json.dumps(body)


def test_the_system_clock_reads_and_waits_real_time() -> None:
    """The one real clock: epoch seconds as ``time.time`` gives them, a monotonic reading, and a real wait."""
    before_epoch = time.time()
    assert before_epoch <= SYSTEM_CLOCK.time() <= time.time()
    started = SYSTEM_CLOCK.monotonic()
    SYSTEM_CLOCK.sleep(0.02)
    assert SYSTEM_CLOCK.monotonic() - started >= 0.02  # a lower bound only: a sleep never ends early
