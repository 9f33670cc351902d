"""Parameter Store on a cold start, seen at the wire: the API reads the CSRF secret and the config in one call.

A proxy in front of moto's SSM endpoint records each call by its operation (``X-Amz-Target``), so the figures
come from what Parameter Store received, not from the cache's own counters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from contact_sdk.devtools.brownout import BrownoutProxy
from tests.conftest import aws_client
from tests.entrypoint.conftest import CONFIG_PARAMETER, CSRF_PARAMETER, ORIGIN, Stack, api_gateway_event, submission
from tests.entrypoint.test_lambda_handler import metric_totals

pytestmark = pytest.mark.integration


@pytest.fixture
def ssm_proxy(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrownoutProxy]:
    """Every SSM call of the service goes through a recording proxy to moto."""
    proxy = BrownoutProxy(aws).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", proxy.url)
    yield proxy
    proxy.stop()


def ssm_calls(proxy: BrownoutProxy) -> list[str]:
    """The SSM operations the proxy forwarded, in order."""
    return [exchange.label for exchange in proxy.exchanges()]


def test_a_cold_start_reads_the_secret_and_the_config_in_one_call(
    make_stack: Callable[..., Stack], ssm_proxy: BrownoutProxy
) -> None:
    """Token, then POST: one ``GetParameters`` in all; both values work; ``ParameterAccess`` counts the two."""
    stack = make_stack()
    token = stack.token()
    assert ssm_calls(ssm_proxy) == ["GetParameters"]
    answer = stack.submit(submission(), token=token)
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["status"] == "sent"
    (email,) = stack.sandbox.emails()
    body = email["body"]
    assert isinstance(body, dict)
    assert "no-reply@example.com" in body["from"], "the config read in the batch is the one used"
    assert ssm_calls(ssm_proxy) == ["GetParameters"], "the POST found both in the cache"
    assert metric_totals(stack)["ParameterAccess"] == 2


def test_the_refresh_after_the_ttl_is_one_call_too(make_stack: Callable[..., Stack], ssm_proxy: BrownoutProxy) -> None:
    """An hour later (the stack's clock moved) both are due again and come back together."""
    now = [1_000.0]
    stack = make_stack(clock=lambda: now[0])
    stack.submit(submission())
    now[0] += 3600
    stack.submit(submission(message="A second message, an hour later, about the analytical engine."))
    assert ssm_calls(ssm_proxy) == ["GetParameters", "GetParameters"]


def test_reading_the_config_alone_never_asks_for_the_secret(
    make_stack: Callable[..., Stack], ssm_proxy: BrownoutProxy
) -> None:
    """The outbox consumer reads only the config: one ``GetParameter``, no secret it has no grant for."""
    stack = make_stack()
    assert stack.components.delivery.config.resend().from_email == "no-reply@example.com"
    assert ssm_calls(ssm_proxy) == ["GetParameter"]


def test_a_missing_config_costs_the_token_nothing_and_the_post_says_why(
    make_stack: Callable[..., Stack], ssm_proxy: BrownoutProxy, aws: str
) -> None:
    """The batch returns the secret alone: the token is issued; the POST asks for the config once, alone."""
    aws_client(aws, "ssm").delete_parameter(Name=CONFIG_PARAMETER)
    stack = make_stack()
    token = stack.token()
    answer = stack.submit(submission(), token=token)
    assert answer["statusCode"] == 503, answer
    assert ssm_calls(ssm_proxy) == ["GetParameters", "GetParameter"]
    assert stack.sandbox.emails() == []


def test_a_missing_secret_is_refused_as_before(
    make_stack: Callable[..., Stack], ssm_proxy: BrownoutProxy, aws: str
) -> None:
    """Without the CSRF secret no token can be signed: ``503``, after the batch and the secret's own read."""
    aws_client(aws, "ssm").delete_parameter(Name=CSRF_PARAMETER)
    stack = make_stack()
    answer = stack.call(api_gateway_event("GET", "/contact/token", headers={"Origin": ORIGIN}))
    assert answer["statusCode"] == 503, answer
    assert ssm_calls(ssm_proxy) == ["GetParameters", "GetParameter"]
