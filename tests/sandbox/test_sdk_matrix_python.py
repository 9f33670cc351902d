"""The Python SDK call matrix: every call ``resend`` exposes for emails, batch, domains, API keys, receiving and
attachments, sync and async, answers as Resend documents it, with state.

The calls are found by reading the installed SDK (every classmethod under ``resend.Emails``, ``resend.Batch``,
``resend.Domains`` and ``resend.ApiKeys``, nested resources included), so a call a new SDK version adds fails
here until it has a row in :data:`SCENARIOS`. Each row makes what the call needs over plain HTTP, makes the
call through the SDK, checks the answer against Resend's OpenAPI description read strictly, then checks the
state it left (what a later read shows) and one refusal with Resend's error name. The run's summary prints the
matrix (``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import resend
import resend.exceptions

from contact_sdk.devtools.sandbox import ResendSandbox
from tests.sandbox.conftest import ManualClock
from tests.sandbox.sdk_matrix import ATTACHMENT_BYTES, INLINE_BYTES, RAW_MESSAGE, World, email_params

pytestmark = pytest.mark.integration

#: The resources in scope (the issue's list: emails, batch, domains, API keys, receiving, attachments).
RESOURCES = ("Emails", "Batch", "Domains", "ApiKeys")
Call = Callable[..., Any]
DROP = ("http_headers",)  # the SDK adds the HTTP headers to every dict it returns


def exposed_calls(resource: type, prefix: str) -> list[str]:
    """Every classmethod of ``resource`` and of the resource classes nested in it, by dotted name."""
    found: list[str] = []
    for name in sorted(dir(resource)):
        if name.startswith("_"):
            continue
        member = inspect.getattr_static(resource, name)
        if isinstance(member, classmethod):
            found.append(f"{prefix}.{name}")
        elif isinstance(member, type) and member.__module__.startswith("resend") and not typing.is_typeddict(member):
            found += exposed_calls(member, f"{prefix}.{name}")
    return found


CALLS = [call for resource in RESOURCES for call in exposed_calls(getattr(resend, resource), resource)]


def refused(call: Call, *args: Any) -> resend.exceptions.ResendError:
    """The SDK's exception for a call the sandbox refuses."""
    with pytest.raises(resend.exceptions.ResendError) as caught:
        call(*args)
    return caught.value


# -- one row per call -----------------------------------------------------------------------


def emails_send(world: World, call: Call) -> None:
    """Sent with reply-to, tags, a header and an attachment: stored as given; a bad sender is refused."""
    params = email_params(
        reply_to="visitor@example.org",
        tags=[{"name": "source", "value": "matrix"}],
        headers={"X-Entity-Ref-ID": "42"},
        attachments=[{"filename": "a.txt", "content": "aGk="}],
    )
    answer = call(params)
    world.judge(answer, drop=DROP)
    stored = world.ok("GET", f"/emails/{answer['id']}")
    assert (stored["subject"], stored["reply_to"], stored["tags"]) == (
        "From the matrix",
        ["visitor@example.org"],
        [{"name": "source", "value": "matrix"}],
    )
    assert world.ok("GET", f"/emails/{answer['id']}/attachments")["data"][0]["size"] == 2
    error = refused(call, email_params(**{"from": "not an address"}))
    assert (error.code, error.error_type) == (422, "invalid_from_address")


def emails_get(world: World, call: Call) -> None:
    """Reads back what was sent; an unknown id is 404 ``Email not found.``."""
    email_id = world.email(subject="Read me", cc=["copy@example.com"])
    answer = call(email_id)
    world.judge(answer, drop=DROP)
    assert (answer["id"], answer["subject"], answer["cc"], answer["last_event"]) == (
        email_id,
        "Read me",
        ["copy@example.com"],
        "delivered",
    )
    error = refused(call, "4ef9a417-02e9-4d39-ad75-9611e0fcc33c")
    assert (error.code, error.error_type, error.message) == (404, "not_found", "Email not found.")


def emails_list(world: World, call: Call) -> None:
    """Pages newest first with ``limit`` and ``after`` until ``has_more`` is false."""
    sent = [world.email(subject=f"n{index}") for index in range(3)]
    first = call({"limit": 2})
    world.judge(first, drop=DROP)
    rest = call({"limit": 2, "after": first["data"][-1]["id"]})
    world.judge(rest, drop=DROP)
    assert first["has_more"] is True
    assert rest["has_more"] is False
    assert [email["id"] for email in first["data"] + rest["data"]] == sent[::-1]


def emails_update(world: World, call: Call) -> None:
    """Moves a scheduled email; an email already sent cannot be updated."""
    email_id = world.scheduled()
    answer = call({"id": email_id, "scheduled_at": "2030-01-01T00:00:00.000Z"})
    world.judge(answer, drop=DROP)
    assert answer["id"] == email_id
    assert world.ok("GET", f"/emails/{email_id}")["scheduled_at"] == "2030-01-01T00:00:00.000Z"
    error = refused(call, {"id": world.email(), "scheduled_at": "in 2 hours"})
    assert (error.code, error.error_type) == (422, "validation_error")


def emails_cancel(world: World, call: Call) -> None:
    """Cancels a scheduled email (``last_event`` canceled); cancelling it again is refused."""
    email_id = world.scheduled()
    answer = call(email_id)
    world.judge(answer, drop=DROP)
    assert world.ok("GET", f"/emails/{email_id}")["last_event"] == "canceled"
    error = refused(call, email_id)
    assert (error.code, error.error_type) == (422, "validation_error")


def emails_share(world: World, call: Call) -> None:
    """The link shows the email until ``expires_in`` has passed on the sandbox clock, then answers 410."""
    email_id = world.email(subject="Shared")
    answer = call(email_id, {"expires_in": "1h"})
    world.judge(answer, drop=DROP)
    assert httpx.get(answer["url"]).json()["subject"] == "Shared"
    world.clock.advance(3601)
    assert httpx.get(answer["url"]).status_code == 410
    error = refused(call, email_id, {"expires_in": "3 days"})
    assert (error.code, error.error_type) == (422, "validation_error")


def emails_metrics(world: World, call: Call) -> None:
    """Counts what was sent and received, per domain when asked; an unknown metric is refused."""
    domain_id = world.domain("example.com")
    world.email()
    world.email(**{"from": "Other <noreply@example.org>"})
    world.received()
    answer = call({"metrics": ["sent", "delivered", "received", "delivery_rate"], "dimensions": ["domain"]})
    world.judge(answer, drop=DROP)
    assert answer["totals"] == {"sent": 2, "delivered": 2, "received": 1, "delivery_rate": 1}
    row = {"domain_id": domain_id, "domain_name": "example.com", "sent": 1, "delivered": 1, "received": 0}
    assert answer["data"] == [{**row, "delivery_rate": 1}]
    error = refused(call, {"metrics": ["opens"]})
    assert (error.code, error.error_type) == (422, "validation_error")


def emails_attachments_list(world: World, call: Call) -> None:
    """Lists a sent email's attachments with sizes and dispositions; the download link serves the bytes."""
    email_id, _ = world.email_with_attachments()
    answer = call(email_id)
    world.judge(answer, drop=DROP)
    listed = {item["filename"]: item for item in answer["data"]}
    assert (listed["invoice.pdf"]["size"], listed["invoice.pdf"]["content_disposition"]) == (17, "attachment")
    assert (listed["logo.png"]["content_id"], listed["logo.png"]["content_disposition"]) == ("logo", "inline")
    assert httpx.get(listed["invoice.pdf"]["download_url"]).content == ATTACHMENT_BYTES
    error = refused(call, "not-a-uuid")
    assert (error.code, error.error_type) == (422, "invalid_parameter")


def emails_attachments_get(world: World, call: Call) -> None:
    """One attachment of a sent email, its bytes behind ``download_url``; an unknown one is 404."""
    email_id, attachments = world.email_with_attachments()
    logo = next(item for item in attachments if item["filename"] == "logo.png")
    answer = call(email_id, logo["id"])
    world.judge(answer, drop=DROP)
    assert (answer["object"], answer["content_type"]) == ("attachment", "image/png")
    assert httpx.get(answer["download_url"]).content == INLINE_BYTES
    error = refused(call, email_id, "4ef9a417-02e9-4d39-ad75-9611e0fcc33c")
    assert (error.code, error.error_type) == (404, "not_found")


def receiving_list(world: World, call: Call) -> None:
    """Lists received emails newest first with their attachments."""
    older, _ = world.received()
    newer, _ = world.received()
    answer = call()
    world.judge(answer, drop=DROP)
    assert [email["id"] for email in answer["data"]] == [newer, older]
    assert answer["data"][0]["subject"] == "Question about my order"
    assert {item["filename"] for item in answer["data"][0]["attachments"]} == {"logo.png", "invoice.pdf"}


def receiving_get(world: World, call: Call) -> None:
    """One received email: inline images as data URIs (or cid), headers, and the raw message to download."""
    email_id, _ = world.received()
    answer = call(email_id)
    world.judge(answer, drop=DROP)
    assert (answer["from"], answer["cc"], answer["reply_to"]) == (
        "alice@example.org",
        ["team@example.com"],
        ["alice.replies@example.org"],
    )
    assert "data:image/png;base64," in answer["html"]
    assert answer["text"].strip() == "Where is order 42?"
    assert httpx.get(answer["raw"]["download_url"]).content == RAW_MESSAGE
    assert 'src="cid:logo@example.org"' in call(email_id, {"html_format": "cid"})["html"]
    error = refused(call, "4ef9a417-02e9-4d39-ad75-9611e0fcc33c")
    assert (error.code, error.error_type) == (404, "not_found")


def receiving_attachments_list(world: World, call: Call) -> None:
    """A received email's attachments with download links."""
    email_id, _ = world.received()
    answer = call(email_id)
    world.judge(answer, drop=DROP)
    listed = {item["filename"]: item for item in answer["data"]}
    assert listed["logo.png"]["content_id"] == "logo@example.org"
    assert httpx.get(listed["invoice.pdf"]["download_url"]).content == ATTACHMENT_BYTES


def receiving_attachments_get(world: World, call: Call) -> None:
    """One attachment of a received email; another email's attachment id is 404 under this email."""
    email_id, attachments = world.received()
    other, _ = world.received()
    invoice = next(item for item in attachments if item["filename"] == "invoice.pdf")
    answer = call(email_id, invoice["id"])
    world.judge(answer, drop=DROP)
    assert (answer["size"], answer["content_type"]) == (len(ATTACHMENT_BYTES), "application/pdf")
    error = refused(call, other, invoice["id"])
    assert (error.code, error.error_type) == (404, "not_found")


def batch_send(world: World, call: Call) -> None:
    """Sends every email of the batch; permissive validation keeps the good ones and lists the bad."""
    answer = call([email_params(subject="b1"), email_params(subject="b2")])
    world.judge(answer, drop=DROP)
    assert len(answer["data"]) == 2
    permissive = call(
        [email_params(subject="good"), email_params(**{"from": "not an address"})], {"batch_validation": "permissive"}
    )
    world.judge(permissive, drop=DROP)
    assert (len(permissive["data"]), permissive["errors"][0]["index"]) == (1, 1)
    assert [email["body"]["subject"] for email in world.sandbox.emails()] == ["b1", "b2", "good"]  # type: ignore[index]


def domains_create(world: World, call: Call) -> None:
    """Creates the domain with three DKIM CNAMEs and SPF on its return path; a bad region: ``invalid_region``."""
    answer = call({"name": "news.example.org", "region": "eu-west-1", "custom_return_path": "outbound"})
    world.judge(answer, drop=DROP)
    records = answer["records"]
    assert [r["type"] for r in records if r["record"] == "DKIM"] == ["CNAME", "CNAME", "CNAME"]
    # Names are relative to the zone the subdomain sits in, as Resend lists them.
    assert {r["name"] for r in records if r["record"] == "SPF"} == {"outbound.news"}
    assert world.ok("GET", f"/domains/{answer['id']}")["region"] == "eu-west-1"
    error = refused(call, {"name": "other.example.org", "region": "mars-1"})
    assert (error.code, error.error_type) == (422, "invalid_region")


def domains_get(world: World, call: Call) -> None:
    """One domain with its records; an unknown id is 404."""
    domain_id = world.domain("get.example.org")
    answer = call(domain_id)
    world.judge(answer, drop=DROP)
    assert (answer["name"], answer["status"]) == ("get.example.org", "not_started")
    error = refused(call, "4ef9a417-02e9-4d39-ad75-9611e0fcc33c")
    assert (error.code, error.error_type) == (404, "not_found")


def domains_list(world: World, call: Call) -> None:
    """Newest first, paginated."""
    first, second = world.domain("one.example.org"), world.domain("two.example.org")
    answer = call()
    world.judge(answer, drop=DROP)
    assert [domain["id"] for domain in answer["data"]] == [second, first]
    page = call({"limit": 1})
    world.judge(page, drop=DROP)
    assert (page["has_more"], page["data"][0]["id"]) == (True, second)


def domains_update(world: World, call: Call) -> None:
    """Tracking and TLS change and stay changed."""
    domain_id = world.domain("update.example.org")
    answer = call({"id": domain_id, "open_tracking": True, "click_tracking": True, "tls": "enforced"})
    world.judge(answer, drop=DROP)
    after = world.ok("GET", f"/domains/{domain_id}")
    assert (after["open_tracking"], after["click_tracking"]) == (True, True)
    error = refused(call, {"id": domain_id, "tls": "sometimes"})
    assert (error.code, error.error_type) == (422, "validation_error")


def domains_verify(world: World, call: Call) -> None:
    """Verifies a domain whose records are published; one whose records are missing fails."""
    domain_id = world.domain("verify.example.org")
    answer = call(domain_id)
    world.judge(answer, drop=DROP)
    assert world.ok("GET", f"/domains/{domain_id}")["status"] == "verified"
    world.ok("POST", "/_sandbox/domains", json={"name": "unpublished.example.org", "verify": "failed"})
    unpublished = next(d for d in world.sandbox.domains() if d["name"] == "unpublished.example.org")
    call(unpublished["id"])
    assert world.ok("GET", f"/domains/{unpublished['id']}")["status"] == "failed"


def domains_remove(world: World, call: Call) -> None:
    """Deleted, and gone from then on."""
    domain_id = world.domain("remove.example.org")
    answer = call(domain_id)
    world.judge(answer, drop=DROP)
    assert answer["deleted"] is True
    assert world.http.get(f"/domains/{domain_id}").status_code == 404
    error = refused(call, domain_id)
    assert (error.code, error.error_type) == (404, "not_found")


def claims_create(world: World, call: Call) -> None:
    """A claim with the TXT record to publish; asking again while it is pending answers the same claim."""
    answer = call({"name": "claimed.example.net"})
    world.judge(answer, drop=DROP)
    assert (answer["status"], answer["record"]["type"]) == ("pending", "TXT")
    again = call({"name": "claimed.example.net"})
    assert again["id"] == answer["id"]
    assert world.ok("GET", f"/domains/{answer['domain_id']}")["name"] == "claimed.example.net"


def claims_get(world: World, call: Call) -> None:
    """The claim of a placeholder domain; a domain with no claim is 404."""
    domain_id = world.claim("get-claim.example.net")
    answer = call(domain_id)
    world.judge(answer, drop=DROP)
    assert (answer["domain_id"], answer["name"]) == (domain_id, "get-claim.example.net")
    error = refused(call, world.domain("unclaimed.example.net"))
    assert (error.code, error.error_type) == (404, "not_found")


def claims_verify(world: World, call: Call) -> None:
    """Verification starts (pending) and the claim is completed when read next; again is refused."""
    domain_id = world.claim("verify-claim.example.net")
    answer = call(domain_id)
    world.judge(answer, drop=DROP)
    assert answer["status"] == "pending"
    assert world.ok("GET", f"/domains/{domain_id}/claim")["status"] == "completed"
    error = refused(call, domain_id)
    assert (error.code, error.error_type) == (422, "validation_error")


def api_keys_create(world: World, call: Call) -> None:
    """A sending-only key sends and is refused anything else; a bad permission is ``invalid_access``."""
    answer = call({"name": "ci", "permission": "sending_access"})
    world.judge(answer, drop=DROP)
    assert world.status_with(answer["token"], "POST", "/emails", json=email_params()) == (200, None)
    assert world.status_with(answer["token"], "GET", "/emails") == (401, "restricted_api_key")
    domain_id = world.domain("example.com")
    scoped = call({"name": "site", "permission": "sending_access", "domain_id": domain_id})
    other = email_params(**{"from": "Other <noreply@example.org>"})
    assert world.status_with(scoped["token"], "POST", "/emails", json=other) == (403, "validation_error")
    error = refused(call, {"name": "admin", "permission": "admin"})
    assert (error.code, error.error_type) == (422, "invalid_access")


def api_keys_list(world: World, call: Call) -> None:
    """Every key newest first, the sandbox's own last; no tokens."""
    world.api_key("first")
    world.api_key("second")
    answer = call()
    world.judge(answer, drop=DROP)
    assert [key["name"] for key in answer["data"]] == ["second", "first", "Sandbox key"]


def api_keys_update(world: World, call: Call) -> None:
    """Renamed, as the list shows; an unknown key is 404."""
    key_id, _ = world.api_key("before")
    answer = call({"id": key_id, "name": "after"})
    world.judge(answer, drop=DROP)
    assert [k["name"] for k in world.ok("GET", "/api-keys")["data"] if k["id"] == key_id] == ["after"]
    error = refused(call, {"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c", "name": "x"})
    assert (error.code, error.error_type) == (404, "not_found")


def api_keys_remove(world: World, call: Call) -> None:
    """Deleted: its token is refused from then on with ``invalid_api_key``."""
    key_id, token = world.api_key("doomed")
    answer = call(key_id)
    world.judge(answer, drop=DROP)
    assert world.status_with(token, "GET", "/emails") == (403, "invalid_api_key")
    error = refused(call, key_id)
    assert (error.code, error.error_type) == (404, "not_found")


#: Each exposed call (without ``_async``) and its row.
SCENARIOS: dict[str, Callable[[World, Call], None]] = {
    "Emails.send": emails_send,
    "Emails.get": emails_get,
    "Emails.list": emails_list,
    "Emails.update": emails_update,
    "Emails.cancel": emails_cancel,
    "Emails.share": emails_share,
    "Emails.metrics": emails_metrics,
    "Emails.Attachments.list": emails_attachments_list,
    "Emails.Attachments.get": emails_attachments_get,
    "Emails.Receiving.list": receiving_list,
    "Emails.Receiving.get": receiving_get,
    "Emails.Receiving.Attachments.list": receiving_attachments_list,
    "Emails.Receiving.Attachments.get": receiving_attachments_get,
    "Batch.send": batch_send,
    "Domains.create": domains_create,
    "Domains.get": domains_get,
    "Domains.list": domains_list,
    "Domains.update": domains_update,
    "Domains.verify": domains_verify,
    "Domains.remove": domains_remove,
    "Domains.Claims.create": claims_create,
    "Domains.Claims.get": claims_get,
    "Domains.Claims.verify": claims_verify,
    "ApiKeys.create": api_keys_create,
    "ApiKeys.list": api_keys_list,
    "ApiKeys.update": api_keys_update,
    "ApiKeys.remove": api_keys_remove,
}


def _method(dotted: str) -> Call:
    target: Any = resend
    for part in dotted.split("."):
        target = getattr(target, part)
    return typing.cast("Call", target)


def bound(dotted: str) -> Call:
    """The SDK call, made synchronous for the row (an ``_async`` call runs in its own event loop)."""
    method = _method(dotted)
    if not dotted.endswith("_async"):
        return method
    return lambda *args: asyncio.run(method(*args))


@pytest.fixture
def world(sandbox: ResendSandbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The SDK pointed at a fresh sandbox, and the world to make state in it."""
    monkeypatch.setattr(resend, "api_url", sandbox.url)
    monkeypatch.setattr(resend, "api_key", sandbox.api_key)
    made = World(sandbox, clock)
    yield made
    made.close()


def test_every_exposed_call_has_one_row():
    """The rows are exactly the calls the installed SDK exposes (sync and async share a row)."""
    assert len(CALLS) > 40  # the SDK was read, not an empty list
    assert sorted({call.removesuffix("_async") for call in CALLS}) == sorted(SCENARIOS)


@pytest.mark.parametrize("call", CALLS)
def test_python_sdk_call(world: World, call: str):
    """One call of the Python SDK answers as Resend documents it and leaves the state it should."""
    SCENARIOS[call.removesuffix("_async")](world, bound(call))
