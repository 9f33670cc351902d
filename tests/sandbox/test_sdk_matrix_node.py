"""The Node SDK call matrix: every call ``resend`` (Node) exposes on ``emails``, ``batch``, ``domains`` and
``apiKeys`` answers as Resend documents it, with state.

``node/sdk_calls.mjs methods`` reads the calls off a live ``Resend`` client (prototype methods of each
resource and of the resources nested in it); each must have a row in :data:`SCENARIOS`. A row makes what the
call needs over plain HTTP (:class:`~tests.sandbox.sdk_matrix.World`), runs the call in Node
(``sdk_calls.mjs call PATH ARGS``), checks the answer against Resend's OpenAPI description read strictly and
the state it left, and one refusal with Resend's error name. Skipped, with the reason, without node and npm.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from tests.sandbox.conftest import NODE_DIR, ManualClock
from tests.sandbox.sdk_matrix import ATTACHMENT_BYTES, INLINE_BYTES, RAW_MESSAGE, World

pytestmark = pytest.mark.integration

Node = Callable[..., dict[str, Any]]
MISSING = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"

#: Every call the pinned SDK exposes in scope, as ``node sdk_calls.mjs methods`` listed them for resend 6.38.0;
#: ``test_every_exposed_call_has_one_row`` reads them again from the installed SDK.
CALLS = (
    "apiKeys.create",
    "apiKeys.list",
    "apiKeys.remove",
    "apiKeys.update",
    "batch.create",
    "batch.send",
    "domains.claims.create",
    "domains.claims.get",
    "domains.claims.verify",
    "domains.create",
    "domains.get",
    "domains.list",
    "domains.remove",
    "domains.update",
    "domains.verify",
    "emails.attachments.get",
    "emails.attachments.list",
    "emails.cancel",
    "emails.create",
    "emails.get",
    "emails.list",
    "emails.metrics",
    "emails.receiving.attachments.get",
    "emails.receiving.attachments.list",
    "emails.receiving.downloadRaw",
    "emails.receiving.forward",
    "emails.receiving.forwardPassthrough",
    "emails.receiving.forwardWrapped",
    "emails.receiving.get",
    "emails.receiving.list",
    "emails.send",
    "emails.share",
    "emails.update",
)


def run_script(node: Path, sandbox: ResendSandbox, *args: str) -> Any:
    """``node sdk_calls.mjs ARGS`` against ``sandbox``; its JSON output."""
    env = {"PATH": os.environ.get("PATH", ""), "RESEND_BASE_URL": sandbox.url, "RESEND_API_KEY": sandbox.api_key}
    done = subprocess.run(
        [str(node), "sdk_calls.mjs", *args],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def data_of(outcome: dict[str, Any]) -> Any:
    """The answer's data, once sure there was no error."""
    assert outcome["error"] is None, outcome
    return outcome["data"]


def error_of(outcome: dict[str, Any]) -> tuple[int, str]:
    """The refusal's status and Resend error name."""
    assert outcome["data"] is None, outcome
    return outcome["error"]["statusCode"], outcome["error"]["name"]


def node_email(**overrides: object) -> dict[str, Any]:
    """A valid send payload in the SDK's own (camelCase) option names."""
    return {
        "from": "Site <noreply@example.com>",
        "to": ["delivered@resend.dev"],
        "subject": "From the Node matrix",
        "html": "<p>hello</p>",
        **overrides,
    }


# -- one row per call -----------------------------------------------------------------------


def emails_send(world: World, node: Node) -> None:
    """Sent with replyTo, tags, a header and an attachment: stored snake_case as given; a bad sender refused."""
    payload = node_email(
        replyTo="visitor@example.org",
        tags=[{"name": "source", "value": "node"}],
        headers={"X-Entity-Ref-ID": "42"},
        attachments=[{"filename": "a.txt", "content": "aGk="}],
    )
    answer = data_of(node(payload))
    world.judge(answer)
    stored = world.ok("GET", f"/emails/{answer['id']}")
    assert (stored["reply_to"], stored["tags"]) == (["visitor@example.org"], [{"name": "source", "value": "node"}])
    assert world.ok("GET", f"/emails/{answer['id']}/attachments")["data"][0]["size"] == 2
    assert error_of(node(node_email(**{"from": "not an address"}))) == (422, "invalid_from_address")


def emails_get(world: World, node: Node) -> None:
    """Reads back what was sent; an unknown id is 404 ``Email not found.``."""
    email_id = world.email(subject="Read me")
    answer = data_of(node(email_id))
    world.judge(answer)
    assert (answer["id"], answer["subject"]) == (email_id, "Read me")
    missing = node(MISSING)
    assert (*error_of(missing), missing["error"]["message"]) == (404, "not_found", "Email not found.")


def emails_list(world: World, node: Node) -> None:
    """Pages newest first with ``limit`` and ``after``."""
    sent = [world.email(subject=f"n{index}") for index in range(3)]
    first = data_of(node({"limit": 2}))
    world.judge(first)
    rest = data_of(node({"limit": 2, "after": first["data"][-1]["id"]}))
    world.judge(rest)
    assert (first["has_more"], rest["has_more"]) == (True, False)
    assert [email["id"] for email in first["data"] + rest["data"]] == sent[::-1]


def emails_update(world: World, node: Node) -> None:
    """Moves a scheduled email; an email already sent cannot be updated."""
    email_id = world.scheduled()
    answer = data_of(node({"id": email_id, "scheduledAt": "2030-01-01T00:00:00.000Z"}))
    world.judge(answer)
    assert world.ok("GET", f"/emails/{email_id}")["scheduled_at"] == "2030-01-01T00:00:00.000Z"
    assert error_of(node({"id": world.email(), "scheduledAt": "in 2 hours"})) == (422, "validation_error")


def emails_cancel(world: World, node: Node) -> None:
    """Cancels a scheduled email; cancelling it again is refused."""
    email_id = world.scheduled()
    world.judge(data_of(node(email_id)))
    assert world.ok("GET", f"/emails/{email_id}")["last_event"] == "canceled"
    assert error_of(node(email_id)) == (422, "validation_error")


def emails_share(world: World, node: Node) -> None:
    """The link shows the email until it expires on the sandbox clock (48 hours by default), then 410."""
    email_id = world.email(subject="Shared")
    answer = data_of(node(email_id))
    world.judge(answer)
    assert httpx.get(answer["url"]).json()["subject"] == "Shared"
    world.clock.advance(48 * 3600)
    assert httpx.get(answer["url"]).status_code == 410
    assert error_of(node(email_id, {"expiresIn": "forever"})) == (422, "validation_error")


def emails_metrics(world: World, node: Node) -> None:
    """Counts what was sent and received (the SDK joins lists with commas); an unknown dimension is refused."""
    world.email()
    world.email()
    world.received()
    answer = data_of(node({"metrics": ["sent", "received", "bounce_rate"]}))
    world.judge(answer)
    assert answer["totals"] == {"sent": 2, "received": 1, "bounce_rate": 0}
    assert error_of(node({"dimensions": ["country"]})) == (422, "validation_error")


def emails_attachments_list(world: World, node: Node) -> None:
    """A sent email's attachments with download links serving their bytes."""
    email_id, _ = world.email_with_attachments()
    answer = data_of(node({"emailId": email_id}))
    world.judge(answer)
    listed = {item["filename"]: item for item in answer["data"]}
    assert httpx.get(listed["invoice.pdf"]["download_url"]).content == ATTACHMENT_BYTES
    assert listed["logo.png"]["content_disposition"] == "inline"


def emails_attachments_get(world: World, node: Node) -> None:
    """One attachment of a sent email; an unknown one is 404."""
    email_id, attachments = world.email_with_attachments()
    logo = next(item for item in attachments if item["filename"] == "logo.png")
    answer = data_of(node({"emailId": email_id, "id": logo["id"]}))
    world.judge(answer)
    assert httpx.get(answer["download_url"]).content == INLINE_BYTES
    assert error_of(node({"emailId": email_id, "id": MISSING})) == (404, "not_found")


def receiving_get(world: World, node: Node) -> None:
    """One received email, images left as ``cid:`` when asked; an id that is no UUID is refused."""
    email_id, _ = world.received()
    answer = data_of(node(email_id, {"html_format": "cid"}))
    world.judge(answer)
    assert 'src="cid:logo@example.org"' in answer["html"]
    assert answer["subject"] == "Question about my order"
    assert error_of(node("order-42")) == (422, "invalid_parameter")


def receiving_list(world: World, node: Node) -> None:
    """Received emails, newest first."""
    older, _ = world.received()
    newer, _ = world.received()
    answer = data_of(node())
    world.judge(answer)
    assert [email["id"] for email in answer["data"]] == [newer, older]


def receiving_attachments_list(world: World, node: Node) -> None:
    """A received email's attachments."""
    email_id, _ = world.received()
    answer = data_of(node({"emailId": email_id}))
    world.judge(answer)
    assert sorted(item["filename"] for item in answer["data"]) == ["invoice.pdf", "logo.png"]


def receiving_attachments_get(world: World, node: Node) -> None:
    """One attachment of a received email, its bytes behind the link."""
    email_id, attachments = world.received()
    invoice = next(item for item in attachments if item["filename"] == "invoice.pdf")
    answer = data_of(node({"emailId": email_id, "id": invoice["id"]}))
    world.judge(answer)
    assert httpx.get(answer["download_url"]).content == ATTACHMENT_BYTES


def _forwarded(world: World) -> dict[str, Any]:
    return world.sandbox.emails()[-1]["body"]  # type: ignore[return-value]


def receiving_forward(world: World, node: Node) -> None:
    """Passthrough re-sends the message with its own bodies and attachments; wrapped attaches the original."""
    email_id, _ = world.received()
    answer = data_of(node({"emailId": email_id, "to": "desk@example.com", "from": "Inbox <inbox@example.com>"}))
    world.judge(answer)
    passed = _forwarded(world)
    assert (passed["subject"], passed["text"].strip()) == ("Question about my order", "Where is order 42?")
    assert sorted(item["filename"] for item in passed["attachments"]) == ["invoice.pdf", "logo.png"]
    wrapped = {"emailId": email_id, "to": "desk@example.com", "from": "inbox@example.com", "passthrough": False}
    world.judge(data_of(node({**wrapped, "text": "FYI"})))
    sent = _forwarded(world)
    assert (sent["subject"], sent["text"]) == ("Fwd: Question about my order", "FYI")
    assert base64.b64decode(sent["attachments"][0]["content"]) == RAW_MESSAGE
    assert error_of(node({**wrapped, "emailId": MISSING})) == (404, "not_found")


def receiving_forward_passthrough(world: World, node: Node) -> None:
    """Given the received email as read, re-sends it under a new subject with its attachments."""
    email_id, _ = world.received()
    email = world.ok("GET", f"/emails/receiving/{email_id}")
    options = {"to": "desk@example.com", "from": "inbox@example.com", "subject": "Order 42"}
    world.judge(data_of(node(email, options, {})))
    sent = _forwarded(world)
    assert sent["subject"] == "Order 42"
    attachments = {item["filename"]: item for item in sent["attachments"]}
    assert base64.b64decode(attachments["invoice.pdf"]["content"]) == ATTACHMENT_BYTES
    assert attachments["logo.png"]["content_id"] == "logo@example.org"


def receiving_forward_wrapped(world: World, node: Node) -> None:
    """Given the received email as read, sends a new message with the original attached as .eml."""
    email_id, _ = world.received()
    email = world.ok("GET", f"/emails/receiving/{email_id}")
    options = {"to": "desk@example.com", "from": "inbox@example.com", "subject": "Fwd: order", "html": "<p>see</p>"}
    world.judge(data_of(node(email, options, {})))
    attached = _forwarded(world)["attachments"][0]
    assert (attached["filename"], attached["content_type"]) == ("forwarded_message.eml", "message/rfc822")
    assert base64.b64decode(attached["content"]) == RAW_MESSAGE


def receiving_download_raw(world: World, node: Node) -> None:
    """The raw message behind ``raw.download_url``; an unknown one is the SDK's download error."""
    email_id, _ = world.received()
    url = world.ok("GET", f"/emails/receiving/{email_id}")["raw"]["download_url"]
    downloaded = node(url)
    assert downloaded["error"] is None
    assert base64.b64decode(downloaded["content"]["base64"]) == RAW_MESSAGE
    failed = node(url.replace(email_id, MISSING))
    assert (failed["error"]["name"], failed["error"]["statusCode"]) == ("application_error", 404)


def batch_send(world: World, node: Node) -> None:
    """Sends every email; permissive validation keeps the good ones and lists the bad."""
    answer = data_of(node([node_email(subject="b1"), node_email(subject="b2")]))
    world.judge(answer)
    assert len(answer["data"]) == 2
    mixed = [node_email(subject="good"), node_email(**{"from": "not an address"})]
    permissive = data_of(node(mixed, {"batchValidation": "permissive"}))
    world.judge(permissive)
    assert (len(permissive["data"]), permissive["errors"][0]["index"]) == (1, 1)
    assert [email["body"]["subject"] for email in world.sandbox.emails()] == ["b1", "b2", "good"]  # type: ignore[index]


def domains_create(world: World, node: Node) -> None:
    """Created with its records and return path; a bad region is ``invalid_region`` with Resend's message."""
    answer = data_of(node({"name": "example.net", "region": "sa-east-1", "customReturnPath": "bounces"}))
    world.judge(answer)
    assert {r["name"] for r in answer["records"] if r["record"] == "SPF"} == {"bounces"}
    refused = node({"name": "other.example.net", "region": "moon"})
    assert error_of(refused) == (422, "invalid_region")
    assert refused["error"]["message"] == 'Region must be "us-east-1" | "eu-west-1" | "sa-east-1" | "ap-northeast-1"'


def domains_get(world: World, node: Node) -> None:
    """One domain; an unknown id is 404."""
    domain_id = world.domain("get.example.net")
    answer = data_of(node(domain_id))
    world.judge(answer)
    assert answer["name"] == "get.example.net"
    assert error_of(node(MISSING)) == (404, "not_found")


def domains_list(world: World, node: Node) -> None:
    """Newest first, paginated."""
    first, second = world.domain("one.example.net"), world.domain("two.example.net")
    answer = data_of(node())
    world.judge(answer)
    assert [domain["id"] for domain in answer["data"]] == [second, first]
    page = data_of(node({"limit": 1, "after": second}))
    world.judge(page)
    assert (page["has_more"], page["data"][0]["id"]) == (False, first)


def domains_update(world: World, node: Node) -> None:
    """Receiving turned on: the domain lists the inbound MX record; turning both capabilities off is refused."""
    domain_id = world.domain("update.example.net")
    answer = data_of(node({"id": domain_id, "openTracking": True, "capabilities": {"receiving": "enabled"}}))
    world.judge(answer)
    after = world.ok("GET", f"/domains/{domain_id}")
    assert (after["open_tracking"], after["capabilities"]["receiving"]) == (True, "enabled")
    assert [r["type"] for r in after["records"] if r["record"] == "Receiving"] == ["MX"]
    off = {"sending": "disabled", "receiving": "disabled"}
    assert error_of(node({"id": domain_id, "capabilities": off})) == (422, "validation_error")


def domains_verify(world: World, node: Node) -> None:
    """Verified, records and all."""
    domain_id = world.domain("verify.example.net")
    world.judge(data_of(node(domain_id)))
    after = world.ok("GET", f"/domains/{domain_id}")
    assert after["status"] == "verified"
    assert {record["status"] for record in after["records"]} == {"verified"}


def domains_remove(world: World, node: Node) -> None:
    """Deleted, and gone from then on."""
    domain_id = world.domain("remove.example.net")
    answer = data_of(node(domain_id))
    world.judge(answer)
    assert answer["deleted"] is True
    assert error_of(node(domain_id)) == (404, "not_found")


def claims_create(world: World, node: Node) -> None:
    """A pending claim with its TXT record, in the region asked for."""
    answer = data_of(node({"name": "claimed.example.com", "region": "eu-west-1"}))
    world.judge(answer)
    assert (answer["status"], answer["region"], answer["record"]["type"]) == ("pending", "eu-west-1", "TXT")


def claims_get(world: World, node: Node) -> None:
    """The claim of a placeholder domain."""
    domain_id = world.claim("get-claim.example.com")
    answer = data_of(node(domain_id))
    world.judge(answer)
    assert answer["domain_id"] == domain_id
    assert error_of(node(MISSING)) == (404, "not_found")


def claims_verify(world: World, node: Node) -> None:
    """Verification starts and the claim reads completed afterwards."""
    domain_id = world.claim("verify-claim.example.com")
    world.judge(data_of(node(domain_id)))
    assert world.ok("GET", f"/domains/{domain_id}/claim")["status"] == "completed"


def api_keys_create(world: World, node: Node) -> None:
    """A sending-only key is refused everything but sending; a bad permission is ``invalid_access``."""
    answer = data_of(node({"name": "node-ci", "permission": "sending_access"}))
    world.judge(answer)
    assert world.status_with(answer["token"], "GET", "/domains") == (401, "restricted_api_key")
    assert error_of(node({"name": "x", "permission": "root"})) == (422, "invalid_access")


def api_keys_list(world: World, node: Node) -> None:
    """Every key, newest first, never a token."""
    world.api_key("node-key")
    answer = data_of(node())
    world.judge(answer)
    assert [key["name"] for key in answer["data"]] == ["node-key", "Sandbox key"]


def api_keys_update(world: World, node: Node) -> None:
    """Renamed (the SDK takes the id apart from the payload)."""
    key_id, _ = world.api_key("before")
    world.judge(data_of(node(key_id, {"name": "after"})))
    assert [k["name"] for k in world.ok("GET", "/api-keys")["data"] if k["id"] == key_id] == ["after"]


def api_keys_remove(world: World, node: Node) -> None:
    """Deleted: its token is refused from then on."""
    key_id, token = world.api_key("doomed")
    world.judge(data_of(node(key_id)))
    assert world.status_with(token, "GET", "/emails") == (403, "invalid_api_key")


#: Each exposed call and its row; aliases (``emails.create`` for ``emails.send``) share one.
SCENARIOS: dict[str, Callable[[World, Node], None]] = {
    "emails.send": emails_send,
    "emails.create": emails_send,
    "emails.get": emails_get,
    "emails.list": emails_list,
    "emails.update": emails_update,
    "emails.cancel": emails_cancel,
    "emails.share": emails_share,
    "emails.metrics": emails_metrics,
    "emails.attachments.list": emails_attachments_list,
    "emails.attachments.get": emails_attachments_get,
    "emails.receiving.get": receiving_get,
    "emails.receiving.list": receiving_list,
    "emails.receiving.attachments.list": receiving_attachments_list,
    "emails.receiving.attachments.get": receiving_attachments_get,
    "emails.receiving.forward": receiving_forward,
    "emails.receiving.forwardPassthrough": receiving_forward_passthrough,
    "emails.receiving.forwardWrapped": receiving_forward_wrapped,
    "emails.receiving.downloadRaw": receiving_download_raw,
    "batch.send": batch_send,
    "batch.create": batch_send,
    "domains.create": domains_create,
    "domains.get": domains_get,
    "domains.list": domains_list,
    "domains.update": domains_update,
    "domains.verify": domains_verify,
    "domains.remove": domains_remove,
    "domains.claims.create": claims_create,
    "domains.claims.get": claims_get,
    "domains.claims.verify": claims_verify,
    "apiKeys.create": api_keys_create,
    "apiKeys.list": api_keys_list,
    "apiKeys.update": api_keys_update,
    "apiKeys.remove": api_keys_remove,
}


@pytest.fixture
def world(sandbox: ResendSandbox, clock: ManualClock) -> Iterator[World]:
    """State made over HTTP in a fresh sandbox."""
    made = World(sandbox, clock)
    yield made
    made.close()


def test_every_exposed_call_has_one_row(node_sdk: Path, sandbox: ResendSandbox):
    """The installed SDK exposes exactly :data:`CALLS`, and each has a row."""
    assert tuple(run_script(node_sdk, sandbox, "methods")) == CALLS
    assert sorted(SCENARIOS) == sorted(CALLS)


@pytest.mark.parametrize("call", CALLS)
def test_node_sdk_call(node_sdk: Path, world: World, call: str):
    """One call of the Node SDK answers as Resend documents it and leaves the state it should."""

    def node(*args: object) -> dict[str, Any]:
        return dict(run_script(node_sdk, world.sandbox, "call", call, json.dumps(args)))

    SCENARIOS[call](world, node)
