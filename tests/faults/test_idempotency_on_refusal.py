"""Whether Resend keeps the Idempotency-Key of a refused request is not documented; the service is right both ways.

The sandbox plays either reading (``idempotency_on_refusal``: ``release`` gives the key back, ``record`` keeps
the refusal under it for 24 hours, as a request that succeeded would). A submission refused because the
sender domain is not verified is parked; the owner verifies the domain and redrives it as it was:

* ``release``: the same request under the same key now sends: one email;
* ``record``: the same request under the same key is refused again, from the key: parked again, nothing lost;
  a recomposed redrive (a derived key) then sends it once.

And a ``409 invalid_idempotent_request`` ("this key was used with another payload") is never read as a
delivery: unless the record shows the email sent, the submission is parked as ``idempotency_conflict``.
What the sandbox received and the raw table are the oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from contact_sdk.ops.cli import main as cli_main
from contact_sdk.outbox import read_message
from contact_sdk.parking import PARKED_REASON_ATTRIBUTE
from tests.conftest import aws_client
from tests.entrypoint.conftest import CONFIG_PARAMETER, submission
from tests.faults.conftest import FaultStack, account
from tests.faults.test_parking import dead_letters, email_requests

pytestmark = pytest.mark.integration

DOMAIN = "example.com"  # the seeded config's fromEmail is no-reply@example.com


@pytest.fixture
def unverified_stack(
    build_stack: Callable[..., FaultStack], fault_queues: dict[str, str]
) -> Iterator[Callable[[str], FaultStack]]:
    """``unverified_stack(mode)``: the parking stack, the sandbox refusing senders of unverified domains."""
    built: list[FaultStack] = []

    def build(mode: str) -> FaultStack:
        stack = build_stack(settings={"parked_queue_url": fault_queues["dlq"]})
        if not any(domain["name"] == DOMAIN for domain in stack.sandbox.domains()):
            stack.sandbox.add_domain(DOMAIN)
        stack.sandbox.set_domain_status(DOMAIN, "not_started")
        stack.sandbox.set_settings(idempotency_on_refusal=mode, require_verified_domain=True)
        built.append(stack)
        return stack

    yield build
    for stack in built:  # the sandbox is the session's: put its settings back
        stack.sandbox.set_settings(idempotency_on_refusal="release", require_verified_domain=False)


def redrive(stack: FaultStack, *extra: str) -> None:
    """``contact-sdk outbox redrive --parked-only`` from the dead-letter queue to the outbox, then the consumer."""
    args = ["outbox", "redrive", "--from", stack.dlq_url, "--to", stack.queue_url, "--parked-only", *extra]
    assert cli_main(args) == 0
    stack.drain()


def record_item(stack: FaultStack, key: str) -> dict[str, object]:
    """The submission's record, read straight from the table."""
    identifier = key.removeprefix("contact-")[:16]
    item = aws_client(stack.aws, "dynamodb").get_item(
        TableName=stack.table, Key={"pk": {"S": f"archive#{identifier}"}}
    )["Item"]
    return {
        "state": item["state"]["S"],
        "keys": [entry["S"] for entry in item["keys"]["L"]],
        "history": [entry["M"]["state"]["S"] for entry in item["history"]["L"]],
    }


@pytest.mark.parametrize("mode", ["release", "record"])
def test_a_refused_sender_is_parked_then_redriven_once_the_domain_is_verified(
    unverified_stack: Callable[[str], FaultStack], mode: str
) -> None:
    """Parked with the 403; after verifying the domain a plain redrive sends (release) or is refused from the key
    and parked again (record), and then a recomposed redrive sends it once under ``.r1``."""
    stack = unverified_stack(mode)
    answer = stack.submit(submission(email="grace.hopper@example.net"))
    assert answer["statusCode"] == 202
    [parked] = dead_letters(stack)
    key = read_message(parked["Body"]).idempotency_key
    reason = parked["MessageAttributes"][PARKED_REASON_ATTRIBUTE]["StringValue"]
    assert reason.startswith("ProviderAuthError 403 validation_error: The example.com domain is not verified")
    assert account(stack, {key}, label=f"unverified sender ({mode}), parked").parked == 1

    stack.sandbox.set_domain_status(DOMAIN, "verified")
    redrive(stack)
    if mode == "release":
        [email] = stack.sandbox.emails()
        assert email["headers"]["idempotency-key"] == key  # type: ignore[index]
        assert record_item(stack, key) == {"state": "sent", "keys": [key], "history": ["received", "parked", "sent"]}
        assert account(stack, {key}, label="unverified sender (release), redriven").delivered == 1
        return
    assert stack.sandbox.emails() == []
    [again] = dead_letters(stack)
    assert read_message(again["Body"]).idempotency_key == key
    assert [request["replayed"] for request in email_requests(stack)] == [False, True]
    assert record_item(stack, key)["state"] == "parked"
    assert account(stack, {key}, label="unverified sender (record), parked again").parked == 1

    redrive(stack, "--recompose", "--table", stack.table, "--config-parameter", CONFIG_PARAMETER)
    [email] = stack.sandbox.emails()
    assert email["headers"]["idempotency-key"] == key + ".r1"  # type: ignore[index]
    assert email["body"]["from"] == "Contact Form <no-reply@example.com>"  # type: ignore[index]
    assert record_item(stack, key) == {
        "state": "sent",
        "keys": [key, key + ".r1"],
        "history": ["received", "parked", "parked", "queued", "sent"],
    }
    assert account(stack, {key}, label="unverified sender (record), recomposed").delivered == 1


def test_409_invalid_idempotent_request_parks_the_submission_as_a_conflict(
    build_stack: Callable[..., FaultStack], fault_queues: dict[str, str]
) -> None:
    """The provider says the key was used with another payload: no ``EmailsSent``, the visitor told ``queued``, the
    submission parked ``idempotency_conflict`` with its email, the record ``parked``, never ``sent``."""
    stack = build_stack(settings={"parked_queue_url": fault_queues["dlq"]})
    stack.sandbox.script(["409:invalid_idempotent_request"])
    answer = stack.submit(submission())
    assert answer["statusCode"] == 202
    assert stack.sandbox.emails() == []
    [parked] = dead_letters(stack)
    key = read_message(parked["Body"]).idempotency_key
    reason = parked["MessageAttributes"][PARKED_REASON_ATTRIBUTE]["StringValue"]
    assert reason.startswith("idempotency_conflict: IdempotencyConflictError 409 invalid_idempotent_request")
    totals = stack.sink.totals()
    assert totals.get("EmailsSent", 0) == 0 and totals["EmailsFailed"] == 1
    assert record_item(stack, key) == {"state": "parked", "keys": [key], "history": ["received", "parked"]}
    assert account(stack, {key}, label="409 invalid_idempotent_request").parked == 1
