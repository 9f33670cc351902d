"""The official ``resend`` Node SDK works against the sandbox unchanged, through ``RESEND_BASE_URL``.

``tests/sandbox/node/`` holds a committed package.json and package-lock.json pinning the SDK;
the fixture installs it there with ``npm ci`` (once, when ``node_modules`` is missing or holds
another version). ``sdk_calls.mjs`` makes the calls and prints what each answered; this test is
the judge, checking the answers against what the sandbox recorded and against hand-written
expectations. Skipped, with the reason, when ``node`` or ``npm`` is not on the PATH.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from tests.sandbox.conftest import NODE_DIR, ManualClock

pytestmark = pytest.mark.integration


@pytest.fixture
def run_node(node_sdk: Path, sandbox: ResendSandbox) -> Callable[..., Any]:
    """Run ``sdk_calls.mjs`` with arguments against the sandbox; its JSON output."""

    def run(*args: str) -> Any:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "RESEND_BASE_URL": sandbox.url,
            "RESEND_API_KEY": sandbox.api_key,
        }
        done = subprocess.run(
            [str(node_sdk), "sdk_calls.mjs", *args],
            cwd=NODE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


def error_of(outcome: dict[str, Any]) -> tuple[int, str]:
    assert outcome["data"] is None, outcome
    return outcome["error"]["statusCode"], outcome["error"]["name"]


def test_node_sdk_calls(run_node: Callable[..., Any], sandbox: ResendSandbox, clock: ManualClock):
    """Send, get, idempotency, batch, list pages both ways, update, cancel and errors all behave as on Resend."""
    out = run_node("main")
    stored = {email["id"]: email for email in sandbox.emails()}

    # send + get: the SDK's camelCase options arrive snake_case, and read back.
    sent_id = out["send"]["data"]["id"]
    assert stored[sent_id]["body"]["reply_to"] == "visitor@example.org"  # type: ignore[index]
    assert str(stored[sent_id]["headers"]["user-agent"]).startswith("resend-node:")  # type: ignore[index]
    assert out["get"]["data"]["id"] == sent_id
    assert out["get"]["data"]["reply_to"] == ["visitor@example.org"]

    # idempotency: one email for two sends under one key; another payload under it is a 409.
    assert out["idempotent_again"]["data"]["id"] == out["idempotent_first"]["data"]["id"]
    assert [email["body"]["subject"] for email in stored.values()].count("once") == 1  # type: ignore[index]
    assert error_of(out["idempotent_conflict"]) == (409, "invalid_idempotent_request")

    # batch: one id per email.
    batch_ids = [item["id"] for item in out["batch"]["data"]["data"]]
    assert len(batch_ids) == 2
    assert {stored[i]["endpoint"] for i in batch_ids} == {"/emails/batch"}

    # list: the "until has_more is false" loop ends and sees the 4 emails sent before it, newest first.
    before_listing = [sent_id, out["idempotent_first"]["data"]["id"], *batch_ids]
    pages = out["pages"]
    listed = [item["id"] for page in pages for item in page["data"]["data"]]
    assert listed == list(reversed(before_listing))
    assert [page["data"]["has_more"] for page in pages] == [True, False]
    assert [item["id"] for item in out["before"]["data"]["data"]] == [before_listing[2], before_listing[1]]
    assert out["before"]["data"]["has_more"] is True

    # update + cancel: answers name the email; the second cancel is refused.
    kept, dropped = out["scheduled_kept"]["data"]["id"], out["scheduled_dropped"]["data"]["id"]
    assert out["update"]["data"] == {"object": "email", "id": kept}
    assert out["cancel"]["data"] == {"object": "email", "id": dropped}
    assert error_of(out["cancel_again"]) == (422, "validation_error")

    # errors reach the SDK's { error } with Resend's names.
    assert error_of(out["invalid"]) == (422, "invalid_from_address")
    assert error_of(out["not_found"]) == (404, "not_found")
    assert out["not_found"]["error"]["message"] == "Email not found."
    assert error_of(out["unknown_endpoint"]) == (404, "not_found")
    assert out["unknown_endpoint"]["error"]["message"] == "The requested endpoint does not exist."

    # the clock: 1 h later the updated one still waits, 2 h later it went out; the canceled one never does.
    clock.advance(3601)
    later = run_node("get", kept, dropped)
    assert (later[kept]["data"]["last_event"], later[dropped]["data"]["last_event"]) == ("scheduled", "canceled")
    clock.advance(3600)
    later = run_node("get", kept, dropped)
    assert later[kept]["data"]["last_event"] not in ("scheduled", "canceled")
    assert later[dropped]["data"]["last_event"] == "canceled"


def test_node_sdk_meets_the_rate_limit(run_node: Callable[..., Any], sandbox: ResendSandbox):
    """Past the limit in one second of the clock the SDK's answer is a 429 ``rate_limit_exceeded`` with retry-after."""
    sandbox.set_rate_limit(2)
    answers = run_node("burst", "3")
    assert [answer["error"] is None for answer in answers] == [True, True, False]
    assert error_of(answers[2]) == (429, "rate_limit_exceeded")
    assert answers[2]["headers"]["retry-after"] == "1"
    assert answers[0]["headers"]["ratelimit-limit"] == "2"


def test_node_sdk_reads_domains(run_node: Callable[..., Any], sandbox: ResendSandbox):
    """``resend.domains.list``/``get`` see the domain with Resend's record layout."""
    sandbox.add_domain("example.com", region="eu-west-1")
    out = run_node("domains")
    assert [item["name"] for item in out["list"]["data"]["data"]] == ["example.com"]
    records = out["get"]["data"]["records"]
    assert sorted((r["type"], r["name"], r["value"]) for r in records if r["type"] == "MX") == [
        ("MX", "send", "feedback-smtp.eu-west-1.amazonses.com")
    ]
    assert {(r["type"], r["name"]) for r in records if r["record"] == "SPF"} == {("MX", "send"), ("TXT", "send")}
    assert [r["type"] for r in records if r["record"] == "DKIM"] == ["CNAME"] * 3


def test_node_script_refuses_an_unknown_command(node_sdk: Path):
    """The driver itself fails loudly on a typo rather than printing nothing."""
    done = subprocess.run(
        [str(node_sdk), "sdk_calls.mjs", "sned"], cwd=NODE_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "usage" in done.stderr
