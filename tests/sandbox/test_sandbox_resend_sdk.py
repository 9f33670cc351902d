"""The official ``resend`` Python SDK works against the sandbox unchanged, through ``resend.api_url``.

One test per call of the SDK call matrix in docs/sandbox.md: send, batch, get, list with
pagination, update, cancel, idempotency, errors (validation, not found, unknown endpoint, a real
rate-limit 429) and the domains API. ``tests/sandbox/test_sandbox_node_sdk.py`` drives the Node SDK
through the same calls.
"""

from __future__ import annotations

import pytest
import resend
import resend.exceptions

from contact_sdk.devtools.sandbox import ResendSandbox
from tests.sandbox.conftest import ManualClock

pytestmark = pytest.mark.integration


@pytest.fixture
def sdk(sandbox: ResendSandbox, monkeypatch: pytest.MonkeyPatch) -> ResendSandbox:
    """Point the SDK's module-level settings at the sandbox for one test."""
    monkeypatch.setattr(resend, "api_url", sandbox.url)
    monkeypatch.setattr(resend, "api_key", sandbox.api_key)
    return sandbox


def _params(**overrides: object) -> resend.Emails.SendParams:
    params: dict[str, object] = {"from": "Site <noreply@example.com>", "to": ["delivered@resend.dev"]}
    params.update({"subject": "From the SDK", "html": "<p>hi</p>", **overrides})
    return params  # type: ignore[return-value]


def test_sdk_sends_and_reads_back(sdk: ResendSandbox):
    """``resend.Emails.send`` answers an id that ``resend.Emails.get`` reads back."""
    params = _params(reply_to="visitor@example.org", tags=[{"name": "source", "value": "sdk"}])
    sent = resend.Emails.send(params, options={"idempotency_key": "sdk-1"})
    got = resend.Emails.get(sent["id"])
    assert got["id"] == sent["id"]
    assert got["subject"] == "From the SDK"
    assert got["reply_to"] == ["visitor@example.org"]
    assert sdk.emails()[0]["headers"]["idempotency-key"] == "sdk-1"  # type: ignore[index]
    assert sdk.emails()[0]["headers"]["user-agent"].startswith("resend-python:")  # type: ignore[index]


def test_sdk_idempotency_key_replays_the_first_answer(sdk: ResendSandbox):
    """The same key and payload twice: one email, the same id; another payload under it: 409."""
    first = resend.Emails.send(_params(), options={"idempotency_key": "order-7"})
    again = resend.Emails.send(_params(), options={"idempotency_key": "order-7"})
    assert again["id"] == first["id"]
    assert len(sdk.emails()) == 1
    with pytest.raises(resend.exceptions.ResendError) as conflict:
        resend.Emails.send(_params(subject="Other"), options={"idempotency_key": "order-7"})
    assert conflict.value.code == 409
    assert conflict.value.error_type == "invalid_idempotent_request"


def test_sdk_sees_sandbox_errors_as_resend_errors(sdk: ResendSandbox):
    """Validation errors, unknown ids and endpoints, and injected 429s reach the SDK as its own exceptions."""
    with pytest.raises(resend.exceptions.ResendError) as invalid:
        resend.Emails.send({"from": "not an address", "to": "a@example.com", "subject": "x", "html": "x"})
    assert invalid.value.code == 422
    with pytest.raises(resend.exceptions.ResendError) as missing:
        resend.Emails.get("4ef9a417-02e9-4d39-ad75-9611e0fcc33c")
    assert (missing.value.code, missing.value.message) == (404, "Email not found.")
    with pytest.raises(resend.exceptions.ResendError) as unknown:
        resend.Broadcasts.list()
    assert (unknown.value.code, unknown.value.message) == (404, "The requested endpoint does not exist.")
    sdk.script(["429:rate_limit_exceeded;retry-after=3"])
    with pytest.raises(resend.exceptions.ResendError) as limited:
        resend.Emails.send({"from": "a@example.com", "to": "b@example.com", "subject": "x", "html": "x"})
    assert limited.value.code == 429
    assert limited.value.headers["retry-after"] == "3"  # type: ignore[index]


def test_sdk_meets_the_real_rate_limit(sdk: ResendSandbox):
    """Past the limit in one second of the clock, the SDK raises its RateLimitError with retry-after."""
    sdk.set_rate_limit(2)
    resend.Emails.list()
    resend.Emails.list()
    with pytest.raises(resend.exceptions.RateLimitError) as limited:
        resend.Emails.list()
    assert limited.value.code == 429
    assert limited.value.headers["ratelimit-limit"] == "2"  # type: ignore[index]


def test_sdk_batch(sdk: ResendSandbox):
    """``resend.Batch.send`` answers one id per email."""
    email: resend.Emails.SendParams = {"from": "a@example.com", "to": "b@example.com", "subject": "x", "text": "x"}
    answer = resend.Batch.send([email, email])
    assert len(answer["data"]) == 2
    assert len(sdk.emails()) == 2


def test_sdk_lists_with_pagination_until_has_more_is_false(sdk: ResendSandbox, clock: ManualClock):
    """``resend.Emails.list`` with ``limit``/``after`` walks all five emails once; ``before`` walks back."""
    sent = []
    for number in range(5):
        sent.append(resend.Emails.send(_params(subject=f"n{number}"))["id"])
        clock.advance(1)
    seen: list[str] = []
    page = resend.Emails.list({"limit": 2})
    while True:
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            break
        page = resend.Emails.list({"limit": 2, "after": page["data"][-1]["id"]})
    assert seen == list(reversed(sent))
    back = resend.Emails.list({"limit": 2, "before": sent[0]})
    assert [item["id"] for item in back["data"]] == [sent[2], sent[1]]
    assert back["has_more"] is True


def test_sdk_updates_and_cancels_scheduled_emails(sdk: ResendSandbox, clock: ManualClock):
    """``Emails.update`` postpones a scheduled email; ``Emails.cancel`` stops another; the clock sends the first."""
    kept = resend.Emails.send(_params(scheduled_at="in 1 hour"))["id"]
    dropped = resend.Emails.send(_params(scheduled_at="in 1 hour"))["id"]
    updated = resend.Emails.update({"id": kept, "scheduled_at": "2023-11-15T00:13:20Z"})  # START + 2 h
    assert updated["id"] == kept
    canceled = resend.Emails.cancel(dropped)
    assert canceled["id"] == dropped
    clock.advance(3600)
    assert resend.Emails.get(kept)["last_event"] == "scheduled"
    clock.advance(3600)
    assert resend.Emails.get(kept)["last_event"] not in ("scheduled", "canceled")
    assert resend.Emails.get(dropped)["last_event"] == "canceled"
    with pytest.raises(resend.exceptions.ResendError) as refused:
        resend.Emails.cancel(dropped)
    assert refused.value.code == 422


def test_sdk_reads_domains(make_sandbox, monkeypatch: pytest.MonkeyPatch):
    """``resend.Domains.list``/``get`` see the domain with Resend's record layout."""
    sandbox = make_sandbox(domains=["example.com"])
    monkeypatch.setattr(resend, "api_url", sandbox.url)
    monkeypatch.setattr(resend, "api_key", sandbox.api_key)
    [listed] = resend.Domains.list()["data"]
    domain = resend.Domains.get(listed["id"])
    assert domain["name"] == "example.com"
    assert sorted((r["type"], r["name"]) for r in domain["records"] if r["record"] == "SPF") == [
        ("MX", "send"),
        ("TXT", "send"),
    ]
    assert [r["type"] for r in domain["records"] if r["record"] == "DKIM"] == ["CNAME"] * 3
