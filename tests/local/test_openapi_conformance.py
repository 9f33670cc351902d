"""schemathesis over ``docs/openapi.yaml`` against the real local stack: no 5xx, every answer as documented.

Each operation of the document gets positive and negative cases (schemathesis 4's examples, coverage and
fuzzing phases, bounded by ``max_examples``), sent over loopback to the local API; every response must
pass schemathesis' checks: not a server error, a documented status, the documented content type and
body schema, the documented response headers (security headers, ``X-Request-Id``, CORS, ``Retry-After``,
``Allow``), negative data rejected, and no answer granted without the ``Origin`` / CSRF credentials.

To get past the guards as a browser would, a case carries the allowed ``Origin`` and, for
``POST /contact``, a fresh single-use token fetched from ``GET /contact/token`` just before it is
sent (see :func:`browser_credentials`). The stack runs with rate limits far above the case count and
the fill-time rule off, so submissions reach validation, the spam rules and the Resend sandbox instead
of all being ``429`` or judged too fast. When the module's stack stops,
:func:`check_the_run_got_past_the_guards` checks that this was so and prints the case counts
(``pytest -s``); a failure there is an error at teardown.

Positive ``POST /contact`` cases that carry ``turnstileToken`` get ``400`` until the Turnstile option
lands (the field is in the contract); that is a documented status, so the run stays green either way.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from contact_sdk.devtools.local.console import Console
from contact_sdk.devtools.local.stack import LocalStack, StackOptions, StackPorts
from tests.conftest import LOOPBACK_AWS_CALL_TIMEOUT_MS

# Under xdist the module's tests run on one worker (tests/conftest.py), so one stack serves them all. Nothing
# depends on it: a worker that runs a test of the module starts its own stack and checks its own tally.
pytestmark = pytest.mark.integration

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
#: Examples per operation and phase: bounded, so the run fits the normal test command (about a minute).
MAX_EXAMPLES = 30

schema = schemathesis.openapi.from_path(DOCUMENT)
# A body over the function's 32 KiB is refused before it is read, with the documented 413 payload_too_large: a
# rejection of negative data (an over-long field) that schemathesis' default list of rejection statuses lacks.
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]

#: What API Gateway's ``ANY`` method passes to the function (AWS docs); the gateway itself answers any other
#: method (TRACE, CONNECT, QUERY, ...) without calling the function, the local API with ``501``.
GATEWAY_METHODS = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

#: The running stack, for :func:`browser_credentials`.
_RUNNING: dict[str, LocalStack] = {}
#: (method path, generation mode, status) -> cases; checked when the module's stack stops.
TALLY: Counter[tuple[str, str, int]] = Counter()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """The whole stack, with limits that let hundreds of generated requests through."""
    options = StackOptions(
        aws_call_timeout_ms=LOOPBACK_AWS_CALL_TIMEOUT_MS,
        ports=StackPorts.any(),
        rate_limit=100_000,
        token_rate_limit=100_000,
        min_fill_seconds=0,
        access_log=False,
    )
    with LocalStack(options, console=Console(io.StringIO())) as running:
        _RUNNING["stack"] = running
        yield running
        _RUNNING.clear()
        if TALLY:  # the schemathesis test ran on this worker: its run must have got past the guards
            check_the_run_got_past_the_guards(running)


def browser_credentials(case: schemathesis.Case) -> dict[str, str]:
    """What a browser page sends in place of the generated ``Origin`` / ``X-CSRF-Token`` values.

    The document declares both as API-key style security schemes, so schemathesis generates a value
    for each (random, so always refused) or, in negative cases, leaves one out. A header the case
    carries is replaced by a real one: the allowed origin, or a fresh single-use token fetched from
    ``GET /contact/token`` just before the case is sent; a header the case left out stays out, so the
    "missing credential" cases still test the refusal. (Not through ``schema.auth``: schemathesis'
    coverage phase builds its cases while pytest collects, before the stack and its ports exist, and
    a token is good for one submission only.) The values go to ``validate_response`` as explicit
    headers, so the ``ignored_auth`` check strips them and confirms the API refuses the request then.
    """
    running = _RUNNING["stack"]
    present = {name.lower() for name in (case.headers or {})}
    credentials: dict[str, str] = {}
    if "origin" in present:
        credentials["Origin"] = running.page_url
    if "x-csrf-token" in present:
        answer = httpx.get(f"{running.api_url}/contact/token", headers={"Origin": running.page_url}, timeout=30)
        answer.raise_for_status()
        credentials["X-CSRF-Token"] = answer.json()["token"]
    return credentials


def conforms(case: schemathesis.Case, stack: LocalStack) -> None:
    """No 5xx; status, content type, body and headers as documented, for positive and negative cases."""
    credentials = browser_credentials(case)
    if credentials:
        case.headers = {
            **{k: v for k, v in (case.headers or {}).items() if k.lower() not in ("origin", "x-csrf-token")},
            **credentials,
        }
    response = case.call(base_url=stack.api_url, timeout=30)
    mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
    if case.method.upper() not in GATEWAY_METHODS:
        # Never reaches the function: the gateway's own answer, outside the function's contract.
        TALLY[(f"{case.method.upper()} {case.path}", "gateway", response.status_code)] += 1
        assert response.status_code == 501, response.text
        return
    TALLY[(f"{case.method.upper()} {case.path}", mode, response.status_code)] += 1
    # positive_data_acceptance is left out on purpose: some rules cannot be said in JSON Schema (the
    # address grammar, content heuristics), so a schema-valid body may get a documented 400;
    # check_the_run_got_past_the_guards checks instead that positive submissions were delivered.
    case.validate_response(
        response,
        headers=credentials,
        transport_kwargs={"base_url": stack.api_url, "timeout": 30},
        excluded_checks=[positive_data_acceptance],
    )


# One test function per operation (not one parametrized function): with pytest 9, schemathesis' items of one
# function share a node id, and pytest-xdist would run only one of them.
BOUNDED = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@schema.include(method="OPTIONS", path="/contact/token").parametrize()
@BOUNDED
def test_preflight_of_the_token_route(case: schemathesis.Case, stack: LocalStack) -> None:
    """``OPTIONS /contact/token``: 204 for the allowed origin, 403 otherwise; undeclared methods 405."""
    conforms(case, stack)


@schema.include(method="GET", path="/contact/token").parametrize()
@BOUNDED
def test_token_issue(case: schemathesis.Case, stack: LocalStack) -> None:
    """``GET /contact/token``."""
    conforms(case, stack)


@schema.include(method="OPTIONS", path="/contact").parametrize()
@BOUNDED
def test_preflight_of_the_submit_route(case: schemathesis.Case, stack: LocalStack) -> None:
    """``OPTIONS /contact``."""
    conforms(case, stack)


@schema.include(method="POST", path="/contact").parametrize()
@BOUNDED
def test_submit(case: schemathesis.Case, stack: LocalStack) -> None:
    """``POST /contact``: every field rule, the media type, the credentials; delivered when valid."""
    conforms(case, stack)


@schema.include(method="POST", path="/contact/events").parametrize()
@BOUNDED
def test_delivery_webhook(case: schemathesis.Case, stack: LocalStack) -> None:
    """``POST /contact/events``: an unsigned or badly signed delivery is refused as documented."""
    conforms(case, stack)


def check_the_run_got_past_the_guards(stack: LocalStack) -> None:
    """Not a run of 403s and 429s: no 5xx, submissions delivered, negative ones refused, tokens issued.

    Prints the case counts (``pytest -s``).
    """
    by: Counter[Any] = Counter()
    for (operation, mode, status), count in TALLY.items():
        by[operation] += count
        by[(operation, mode, status)] += count
    lines = [f"{op:28} {mode:9} {status}: {count}" for (op, mode, status), count in sorted(TALLY.items())]
    print("\nschemathesis cases per operation, mode and status:\n" + "\n".join(lines))
    print(f"total cases: {sum(TALLY.values())}")
    assert not any(status >= 500 for (_, mode, status) in TALLY if mode != "gateway"), lines
    if by["POST /contact"]:  # under pytest-xdist each worker checks the operations it ran
        assert by[("POST /contact", "positive", 200)] >= 5, lines
        assert sum(n for (op, mode, _), n in TALLY.items() if op == "POST /contact" and mode == "negative") >= 5
        delivered = httpx.get(f"{stack.sandbox_url}/_sandbox/emails", timeout=30).json()
        assert len(delivered["data"] if isinstance(delivered, dict) else delivered) >= 5
    if by["GET /contact/token"]:
        assert by[("GET /contact/token", "positive", 200)] >= 1, lines


def test_an_unknown_path_answers_as_documented(stack: LocalStack) -> None:
    """Any other path (which no operation describes): ``404 not_found``, valid against the document's schema."""
    answer = httpx.get(f"{stack.api_url}/contact/nope", headers={"Origin": stack.page_url}, timeout=30)
    document = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    schema = {**document["components"]["schemas"]["NotFoundError"], "components": document["components"]}
    assert answer.status_code == 404
    jsonschema.validate(answer.json(), schema)
    assert answer.json()["error"]["code"] == "not_found"
    assert answer.headers["X-Request-Id"] == answer.json()["requestId"]


def test_the_stack_names_and_serves_its_api_description(stack: LocalStack) -> None:
    """The banner points at ``/openapi.yaml`` on the demo page's origin, which serves the document tested here."""
    url = f"{stack.page_url}/openapi.yaml"
    assert url in stack.banner()
    assert httpx.get(url, timeout=30).content == DOCUMENT.read_bytes()
