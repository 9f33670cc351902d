"""The official ``resend`` Python SDK works against the sandbox unchanged, through ``resend.api_url``."""

from __future__ import annotations

import pytest
import resend
import resend.exceptions

from contact_sdk.devtools.sandbox import ResendSandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def sdk(sandbox: ResendSandbox, monkeypatch: pytest.MonkeyPatch) -> ResendSandbox:
    """Point the SDK's module-level settings at the sandbox for one test."""
    monkeypatch.setattr(resend, "api_url", sandbox.url)
    monkeypatch.setattr(resend, "api_key", sandbox.api_key)
    return sandbox


def test_sdk_sends_and_reads_back(sdk: ResendSandbox):
    """``resend.Emails.send`` answers an id that ``resend.Emails.get`` reads back."""
    params: resend.Emails.SendParams = {
        "from": "Site <noreply@example.com>",
        "to": ["delivered@resend.dev"],
        "subject": "From the SDK",
        "html": "<p>hi</p>",
        "reply_to": "visitor@example.org",
        "tags": [{"name": "source", "value": "sdk"}],
    }
    sent = resend.Emails.send(params, options={"idempotency_key": "sdk-1"})
    got = resend.Emails.get(sent["id"])
    assert got["id"] == sent["id"]
    assert got["subject"] == "From the SDK"
    assert got["reply_to"] == ["visitor@example.org"]
    assert sdk.emails()[0]["headers"]["idempotency-key"] == "sdk-1"
    assert sdk.emails()[0]["headers"]["user-agent"].startswith("resend-python:")


def test_sdk_sees_sandbox_errors_as_resend_errors(sdk: ResendSandbox):
    """Validation errors and injected 429s reach the SDK as its own typed exceptions."""
    with pytest.raises(resend.exceptions.ResendError) as invalid:
        resend.Emails.send({"from": "not an address", "to": "a@example.com", "subject": "x", "html": "x"})
    assert invalid.value.code == 422
    sdk.script(["429:rate_limit_exceeded;retry-after=3"])
    with pytest.raises(resend.exceptions.ResendError) as limited:
        resend.Emails.send({"from": "a@example.com", "to": "b@example.com", "subject": "x", "html": "x"})
    assert limited.value.code == 429
    assert limited.value.headers["retry-after"] == "3"


def test_sdk_batch(sdk: ResendSandbox):
    """``resend.Batch.send`` answers one id per email."""
    email: resend.Emails.SendParams = {"from": "a@example.com", "to": "b@example.com", "subject": "x", "text": "x"}
    answer = resend.Batch.send([email, email])
    assert len(answer["data"]) == 2
    assert len(sdk.emails()) == 2
