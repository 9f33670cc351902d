"""DynamoDB round trips of the happy path, counted at the wire (issue 21: at most 4 for a token and a submission).

A :class:`~contact_sdk.devtools.brownout.BrownoutProxy` in its healthy mode sits between the service and
moto's DynamoDB (boto3 reaches it through ``AWS_ENDPOINT_URL_DYNAMODB``) and records every request it
relays; the count is what crossed the network, not what the code believes it called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from contact_sdk.devtools.brownout import ENDPOINT_VARIABLES, BrownoutProxy
from tests.conftest import aws_client
from tests.entrypoint.conftest import Stack, submission

pytestmark = pytest.mark.integration


@pytest.fixture
def dynamodb_proxy(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrownoutProxy]:
    """A recording proxy in front of moto's DynamoDB, the service's only way to it."""
    proxy = BrownoutProxy(aws).start()
    monkeypatch.setenv(ENDPOINT_VARIABLES["dynamodb"], proxy.url)
    yield proxy
    proxy.stop()


def operations(proxy: BrownoutProxy) -> list[str]:
    """The DynamoDB operations that crossed the wire since the last clear, in order, each answered 200."""
    seen = proxy.exchanges()
    assert all(exchange.status == 200 for exchange in seen), [(e.label, e.status) for e in seen]
    return [str(exchange.operation) for exchange in seen]


def record_states(stack: Stack) -> list[str]:
    """The state of every submission record, read straight from the table."""
    items = aws_client(stack.aws, "dynamodb").scan(TableName=stack.table)["Items"]
    return sorted(item["state"]["S"] for item in items if item["pk"]["S"].startswith("archive#"))


@pytest.mark.parametrize("temperature", ["cold", "warm"])
def test_a_token_and_a_sent_submission_cost_at_most_four_round_trips(
    make_stack: Callable[..., Stack], dynamodb_proxy: BrownoutProxy, temperature: str
) -> None:
    """Token, rate limits, the token's single use, the record and the breaker: four DynamoDB requests at most."""
    stack = make_stack()
    if temperature == "warm":
        warm_up = stack.submit(submission(message="A first message, before the one that is counted."))
        assert warm_up["statusCode"] == 200, warm_up
    dynamodb_proxy.clear()
    token = stack.token()
    answer = stack.submit(submission(), token=token)
    assert answer["statusCode"] == 200, answer
    counted = operations(dynamodb_proxy)
    print(f"[round trips, {temperature}] {len(counted)}: {counted}")
    assert len(counted) <= 4, counted
    assert len(stack.sandbox.emails()) == (2 if temperature == "warm" else 1)
    assert record_states(stack) == (["sent", "sent"] if temperature == "warm" else ["sent"])
