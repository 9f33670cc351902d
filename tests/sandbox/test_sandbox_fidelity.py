"""Where the sandbox must answer as Resend does for a client's code to work against both.

Cursor pagination on ``GET /emails``, updating and cancelling scheduled emails (which fall due by
the injected clock), unknown fields ignored (``strict`` refuses them), Resend endpoints the
sandbox lacks answered as unknown endpoints (a known path with another method as 405), and the
rate limit on by default. Expectations are written out by hand from Resend's documentation, not
read from the sandbox's constants.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.devtools.sandbox.__main__ import main
from tests.sandbox.conftest import API_KEY, ManualClock

pytestmark = pytest.mark.integration

Email = Callable[..., dict[str, object]]


def assert_error(response: httpx.Response, status: int, name: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["statusCode"] == status
    assert body["name"] == name
    if message is not None:
        assert body["message"] == message


def send(client: httpx.Client, body: dict[str, object]) -> str:
    response = client.post("/emails", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def last_event(client: httpx.Client, email_id: str) -> str:
    response = client.get(f"/emails/{email_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["last_event"])


def ids(response: httpx.Response) -> tuple[list[str], bool]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    return [item["id"] for item in body["data"]], body["has_more"]


@pytest.fixture
def five(client: httpx.Client, email: Email, clock: ManualClock) -> list[str]:
    """Five emails sent a second apart; their ids, oldest first."""
    sent = []
    for number in range(5):
        sent.append(send(client, email(subject=f"number {number}")))
        clock.advance(1)
    return sent


# -- pagination -------------------------------------------------------------------------------


def test_after_pages_towards_older_emails_until_has_more_is_false(client: httpx.Client, five: list[str]):
    """``after`` = the last id of a page gives the next, older page; the last page says ``has_more: false``."""
    e1, e2, e3, e4, e5 = five
    assert ids(client.get("/emails", params={"limit": 2})) == ([e5, e4], True)
    assert ids(client.get("/emails", params={"limit": 2, "after": e4})) == ([e3, e2], True)
    assert ids(client.get("/emails", params={"limit": 2, "after": e2})) == ([e1], False)
    assert ids(client.get("/emails", params={"limit": 2, "after": e1})) == ([], False)


def test_before_pages_towards_newer_emails(client: httpx.Client, five: list[str]):
    """``before`` gives the emails just newer than the cursor, newest first, the cursor excluded."""
    e1, e2, e3, e4, e5 = five
    assert ids(client.get("/emails", params={"limit": 2, "before": e2})) == ([e4, e3], True)
    assert ids(client.get("/emails", params={"limit": 2, "before": e4})) == ([e5], False)
    assert ids(client.get("/emails", params={"limit": 3, "before": e1})) == ([e4, e3, e2], True)


def test_the_sdk_loop_collects_every_email_once(client: httpx.Client, five: list[str]):
    """The loop both official SDKs document ends, and sees each email exactly once."""
    seen: list[str] = []
    params: dict[str, object] = {"limit": 2}
    for _ in range(10):
        page, has_more = ids(client.get("/emails", params=params))
        seen += page
        if not has_more:
            break
        params = {"limit": 2, "after": page[-1]}
    assert seen == list(reversed(five))


def test_limit_defaults_to_twenty(client: httpx.Client, email: Email):
    """Without ``limit`` a page holds 20 emails (Resend's default)."""
    for number in range(21):
        send(client, email(subject=str(number)))
    page, has_more = ids(client.get("/emails"))
    assert (len(page), has_more) == (20, True)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"after": "x", "before": "y"},
        {"after": ""},
        {"after": "00000000-0000-4000-8000-000000000000"},
        {"before": "not-an-email-id"},
    ],
)
def test_bad_pagination_parameters_answer_422(client: httpx.Client, five: list[str], params: dict[str, str]):
    """Out-of-range limits, both cursors at once, an empty or unknown cursor: 422 validation_error."""
    assert_error(client.get("/emails", params=params), 422, "validation_error")


# -- scheduled emails -------------------------------------------------------------------------


def test_a_scheduled_email_is_sent_when_the_clock_reaches_its_time(
    client: httpx.Client, email: Email, clock: ManualClock
):
    """``in 1 hour`` stays ``scheduled`` for 3600 s of the clock, then moves on like an unscheduled send."""
    scheduled = send(client, email(scheduled_at="in 1 hour"))
    plain = send(client, email())
    assert last_event(client, scheduled) == "scheduled"
    clock.advance(3599)
    assert last_event(client, scheduled) == "scheduled"
    clock.advance(2)
    assert last_event(client, scheduled) == last_event(client, plain) != "scheduled"


def test_an_iso_scheduled_at_falls_due_at_that_instant(client: httpx.Client, email: Email, clock: ManualClock):
    """An ISO 8601 time 10 minutes after the clock's start is due 600 s later."""
    when = "2023-11-14T22:23:20Z"  # START (1_700_000_000) + 600 s, worked out by hand
    scheduled = send(client, email(scheduled_at=when))
    naive = send(client, email(scheduled_at="2023-11-14T22:23:21"))  # no offset: read as UTC, 1 s later
    clock.advance(599)
    assert last_event(client, scheduled) == "scheduled"
    clock.advance(1)
    assert last_event(client, scheduled) != "scheduled"
    assert last_event(client, naive) == "scheduled"
    clock.advance(1)
    assert last_event(client, naive) != "scheduled"


def test_update_moves_the_send_time(client: httpx.Client, email: Email, clock: ManualClock):
    """PATCH /emails/{id} with a new ``scheduled_at`` answers ``{object, id}`` and postpones the send."""
    scheduled = send(client, email(scheduled_at="in 1 hour"))
    answer = client.patch(f"/emails/{scheduled}", json={"scheduled_at": "in 2 hours"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"object": "email", "id": scheduled}
    assert client.get(f"/emails/{scheduled}").json()["scheduled_at"] == "in 2 hours"
    clock.advance(3601)
    assert last_event(client, scheduled) == "scheduled"
    clock.advance(3600)
    assert last_event(client, scheduled) != "scheduled"


def test_cancel_stops_the_send_for_good(client: httpx.Client, email: Email, clock: ManualClock):
    """POST /emails/{id}/cancel answers ``{object, id}``; the email is ``canceled`` and never sent."""
    scheduled = send(client, email(scheduled_at="in 5 minutes"))
    answer = client.post(f"/emails/{scheduled}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"object": "email", "id": scheduled}
    clock.advance(3600)
    assert last_event(client, scheduled) == "canceled"
    assert_error(client.post(f"/emails/{scheduled}/cancel"), 422, "validation_error")
    assert_error(client.patch(f"/emails/{scheduled}", json={"scheduled_at": "in 1 hour"}), 422, "validation_error")


def test_update_and_cancel_refuse_bad_requests(client: httpx.Client, email: Email):
    """Unknown ids, sent emails, unreadable or past times, non-JSON bodies and wrong methods."""
    sent = send(client, email())
    scheduled = send(client, email(scheduled_at="in 1 hour"))
    unknown = "00000000-0000-4000-8000-000000000000"
    assert_error(client.post(f"/emails/{unknown}/cancel"), 404, "not_found", "Email not found.")
    assert_error(client.patch(f"/emails/{unknown}", json={"scheduled_at": "in 1 hour"}), 404, "not_found")
    assert_error(client.post(f"/emails/{sent}/cancel"), 422, "validation_error")
    assert_error(client.patch(f"/emails/{sent}", json={"scheduled_at": "in 1 hour"}), 422, "validation_error")
    assert_error(client.patch(f"/emails/{scheduled}", json={}), 422, "missing_required_field")
    assert_error(client.patch(f"/emails/{scheduled}", json={"scheduled_at": 5}), 422, "validation_error")
    assert_error(client.patch(f"/emails/{scheduled}", json={"scheduled_at": "someday"}), 422, "invalid_parameter")
    assert_error(
        client.patch(f"/emails/{scheduled}", json={"scheduled_at": "2001-01-01T00:00:00Z"}), 422, "validation_error"
    )
    assert_error(client.patch(f"/emails/{scheduled}", json=["in 1 hour"]), 422, "validation_error")
    assert_error(client.patch(f"/emails/{scheduled}", content=b"{not json"), 400, "validation_error")
    assert_error(client.get(f"/emails/{scheduled}/cancel"), 405, "method_not_allowed")
    assert_error(client.delete(f"/emails/{scheduled}"), 405, "method_not_allowed")
    assert last_event(client, scheduled) == "scheduled"


def test_scheduled_emails_fall_due_in_the_inbox_view_too(
    sandbox: ResendSandbox, client: httpx.Client, email: Email, clock: ManualClock
):
    """``sandbox.emails()`` (and so ``/_sandbox/emails``) moves due emails on without an API request."""
    send(client, email(scheduled_at="in 1 minute"))
    assert sandbox.emails()[0]["last_event"] == "scheduled"
    clock.advance(60)
    assert sandbox.emails()[0]["last_event"] != "scheduled"


# -- unknown fields ---------------------------------------------------------------------------


def test_unknown_top_level_fields_are_ignored_like_resend(sandbox: ResendSandbox, client: httpx.Client, email: Email):
    """A camelCase ``replyTo`` is accepted (and kept in the stored body); batch too."""
    email_id = send(client, email(replyTo="visitor@example.org", utm="x"))
    assert client.get(f"/emails/{email_id}").json()["reply_to"] is None
    assert sandbox.emails()[0]["body"]["replyTo"] == "visitor@example.org"
    batch = client.post("/emails/batch", json=[email(extra=1), email()])
    assert batch.status_code == 200, batch.text
    assert len(batch.json()["data"]) == 2


def test_strict_refuses_unknown_fields(make_sandbox: Callable[..., ResendSandbox], email: Email):
    """``strict=True`` (``--strict``) answers 422 validation_error naming the field, in sends and batches."""
    sandbox = make_sandbox(strict=True)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5) as client:
        refused = client.post("/emails", json=email(replyTo="visitor@example.org"))
        assert_error(refused, 422, "validation_error")
        assert "`replyTo`" in refused.json()["message"]
        assert_error(client.post("/emails/batch", json=[email(), email(fromEmail="x")]), 422, "validation_error")
        scheduled = send(client, email(scheduled_at="in 1 hour"))
        patched = client.patch(f"/emails/{scheduled}", json={"scheduled_at": "in 2 hours", "sendAt": "now"})
        assert_error(patched, 422, "validation_error")
    assert sandbox.strict is True


# -- unknown endpoints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/audiences"),
        ("GET", "/broadcasts"),
        ("POST", "/templates"),
        ("GET", "/webhooks"),
        ("GET", "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c/events"),
        ("GET", "/domain"),
    ],
)
def test_endpoints_the_sandbox_lacks_answer_as_unknown_endpoints(client: httpx.Client, method: str, path: str):
    """Resend's 404 ``not_found`` "The requested endpoint does not exist.", not "Email not found."."""
    answer = client.request(method, path)
    assert_error(answer, 404, "not_found", "The requested endpoint does not exist.")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/domains/4ef9a417-02e9-4d39-ad75-9611e0fcc33c/verify", "POST"),
        ("PUT", "/emails", "GET, POST"),
        ("DELETE", "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c/cancel", "POST"),
        ("OPTIONS", "/api-keys", "GET, POST"),
        ("TRACE", "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c", "GET, PATCH"),
    ],
)
def test_a_known_path_with_another_method_is_405(client: httpx.Client, method: str, path: str, allow: str):
    """Resend's 405 ``method_not_allowed``, with an ``allow`` header naming the path's methods."""
    answer = client.request(method, path)
    assert_error(answer, 405, "method_not_allowed", "Method is not allowed for the requested path.")
    assert answer.headers["allow"] == allow


def test_an_unknown_email_id_is_still_email_not_found(client: httpx.Client):
    """A single path segment after ``/emails/`` that is not an endpoint name is an email id."""
    answer = client.get("/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c")
    assert_error(answer, 404, "not_found", "Email not found.")


# -- the rate limit ---------------------------------------------------------------------------


@pytest.fixture
def default_sandbox(clock: ManualClock) -> Iterator[ResendSandbox]:
    """A sandbox built with no rate-limit argument at all."""
    with ResendSandbox(api_key=API_KEY, clock=clock) as sandbox:
        yield sandbox


def test_rate_limit_is_on_by_default_at_five_per_second(
    default_sandbox: ResendSandbox, email: Email, clock: ManualClock
):
    """Resend's documented default (5 requests per second per team): the sixth in one second is a 429."""
    with httpx.Client(base_url=default_sandbox.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        answers = [client.get("/emails") for _ in range(6)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 200, 429]
        assert answers[0].headers["ratelimit-limit"] == "5"
        assert answers[5].headers["retry-after"] == "1"
        clock.advance(1)
        assert client.get("/emails").status_code == 200


def test_rate_limit_zero_turns_it_off(make_sandbox: Callable[..., ResendSandbox]):
    """``rate_limit_per_second=0`` (``--rate-limit 0``) never answers 429."""
    sandbox = make_sandbox(rate_limit_per_second=0)
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        assert {client.get("/emails").status_code for _ in range(12)} == {200}
    assert sandbox.rate_limit is None


@pytest.mark.parametrize("limit", [-1, 1.5, True])
def test_a_bad_rate_limit_is_refused(limit: Any):
    """A negative, fractional or boolean limit is a ``ValueError`` naming the rule."""
    with pytest.raises(ValueError, match="rate limit"):
        ResendSandbox(rate_limit_per_second=limit)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate-limit", "-3"], "requests per second"),
        (["--rate-limit", "many"], "requests per second"),
        (["--domain", "example.com:shiny"], "domain status"),
        (["--domain", "localhost"], "domain name"),
    ],
)
def test_bad_new_arguments_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]):
    """``--rate-limit`` and ``--domain`` refuse bad values with status 2 and a reason."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


# -- the domains API --------------------------------------------------------------------------


def test_a_domain_lists_the_records_resend_asks_for(make_sandbox: Callable[..., ResendSandbox]):
    """MX and SPF TXT on ``send``, DKIM as three CNAMEs to SES's DKIM hosts; all ``not_started`` at first.

    An older domain (``dkim="txt"``) lists its single TXT key at ``resend._domainkey`` instead.
    """
    sandbox = make_sandbox(domains=["Example.COM"])
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        listed = client.get("/domains").json()
        assert listed["object"] == "list"
        assert listed["has_more"] is False
        [summary] = listed["data"]
        assert (summary["name"], summary["status"], summary["region"]) == ("example.com", "not_started", "us-east-1")
        domain = client.get(f"/domains/{summary['id']}").json()
    assert domain["object"] == "domain"
    records = {(r["record"], r["type"], r["name"]): r for r in domain["records"]}
    spf = {key for key in records if key[0] == "SPF"}
    assert spf == {("SPF", "MX", "send"), ("SPF", "TXT", "send")}
    mx = records[("SPF", "MX", "send")]
    assert (mx["value"], mx["priority"]) == ("feedback-smtp.us-east-1.amazonses.com", 10)
    assert records[("SPF", "TXT", "send")]["value"] == '"v=spf1 include:amazonses.com ~all"'
    cnames = [r for key, r in records.items() if key[0] == "DKIM"]
    assert len(cnames) == 3
    for record in cnames:
        token = record["name"].removesuffix("._domainkey")
        assert re.fullmatch(r"[a-z0-9]{32}", token)
        assert (record["type"], record["value"]) == ("CNAME", f"{token}.dkim.amazonses.com.")
    assert {r["status"] for r in domain["records"]} == {"not_started"}
    legacy = sandbox.add_domain("legacy.example", dkim="txt")
    (key,) = [r for r in legacy["records"] if r["record"] == "DKIM"]  # type: ignore[union-attr]
    assert (key["type"], key["name"]) == ("TXT", "resend._domainkey")
    assert key["value"].startswith("p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ")  # an RSA-1024 public key's base64 start
    assert len(base64.b64decode(key["value"].removeprefix("p="), validate=True)) == 162


def test_domain_statuses_follow_the_sandbox_controls(make_sandbox: Callable[..., ResendSandbox]):
    """``set_domain_status`` moves the domain and its records; per-record statuses can differ."""
    sandbox = make_sandbox(domains=["example.com"])
    sandbox.set_domain_status("example.com", "verified")
    assert sandbox.domains()[0]["status"] == "verified"
    assert {r["status"] for r in sandbox.domains()[0]["records"]} == {"verified"}  # type: ignore[union-attr]
    sandbox.set_domain_status("example.com", "partially_failed", ["verified", "verified", "failed", "verified"])
    statuses = [r["status"] for r in sandbox.domains()[0]["records"]]  # type: ignore[union-attr]
    assert statuses == ["verified", "verified", "failed", "verified", "pending"]
    with pytest.raises(ValueError, match="status"):
        sandbox.set_domain_status("example.com", "great")
    with pytest.raises(ValueError, match="record statuses"):
        sandbox.set_domain_status("example.com", "verified", ["fine"])
    with pytest.raises(KeyError):
        sandbox.set_domain_status("other.example", "verified")


def test_create_list_page_and_refuse_domains(make_sandbox: Callable[..., ResendSandbox], clock: ManualClock):
    """POST /domains answers 201 with the records; the list pages like emails; bad requests are refused."""
    sandbox = make_sandbox()
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        created = client.post("/domains", json={"name": "eu.example.org", "region": "eu-west-1"})
        assert created.status_code == 201, created.text
        assert created.json()["records"][0]["value"] == "feedback-smtp.eu-west-1.amazonses.com"
        clock.advance(1)
        second = client.post("/domains", json={"name": "example.net"}).json()["id"]
        assert ids(client.get("/domains", params={"limit": 1})) == ([second], True)
        assert ids(client.get("/domains", params={"limit": 1, "after": second})) == ([created.json()["id"]], False)
        assert_error(client.post("/domains", json={"name": "example.net"}), 403, "validation_error")
        assert_error(client.post("/domains", json={}), 422, "missing_required_field")
        assert_error(client.post("/domains", json={"name": "not a domain"}), 422, "validation_error")
        assert_error(client.post("/domains", json={"name": "a.example", "region": "mars-1"}), 422, "invalid_region")
        assert_error(client.post("/domains", json=["example.io"]), 422, "validation_error")
        assert_error(client.get("/domains", params={"after": "nope"}), 422, "validation_error")
        assert_error(client.get("/domains/4ef9a417-02e9-4d39-ad75-9611e0fcc33c"), 404, "not_found")
        assert_error(client.get("/domains/example.net"), 404, "not_found")
        assert_error(client.delete("/domains"), 405, "method_not_allowed")
        assert_error(client.put(f"/domains/{second}"), 405, "method_not_allowed")
    with pytest.raises(ValueError, match="region"):
        sandbox.add_domain("x.example", region="moon-1")
    with pytest.raises(ValueError, match="status"):
        sandbox.add_domain("x.example", status="shiny")


def test_admin_endpoint_adds_domains_and_sets_statuses(sandbox: ResendSandbox):
    """``POST /_sandbox/domains`` adds a domain or moves its status; bad settings answer 400 ``invalid_domain``."""
    with httpx.Client(base_url=sandbox.url, timeout=5) as admin:
        added = admin.post("/_sandbox/domains", json={"name": "Example.com", "region": "eu-west-1"})
        assert added.status_code == 200, added.text
        [domain] = added.json()
        assert (domain["name"], domain["status"], domain["region"]) == ("example.com", "not_started", "eu-west-1")
        moved = admin.post("/_sandbox/domains", json={"name": "example.com", "status": "verified"}).json()
        assert moved[0]["status"] == "verified"
        assert {r["status"] for r in moved[0]["records"]} == {"verified"}
        per_record = {"name": "example.com", "records": ["verified", "failed", "pending"]}
        partly = admin.post("/_sandbox/domains", json=per_record).json()
        assert [r["status"] for r in partly[0]["records"]] == ["verified", "failed", "pending", "pending", "pending"]
        assert admin.get("/_sandbox/domains").json() == partly
        for bad in (
            {"status": "verified"},
            {"name": "example.com", "status": "great"},
            {"name": "example.com", "records": "verified"},
            {"name": "not a domain"},
            {"name": "new.example", "region": "moon-1"},
            ["example.com"],
        ):
            refused = admin.post("/_sandbox/domains", json=bad)
            assert refused.status_code == 400, bad
            assert refused.json()["name"] == "invalid_domain"
        assert admin.delete("/_sandbox/domains").status_code == 405


def test_a_subdomains_records_are_named_relative_to_the_apex(make_sandbox: Callable[..., ResendSandbox]):
    """For updates.example.com the sandbox lists ``send.updates`` and ``<token>._domainkey.updates``, as Resend does."""
    sandbox = make_sandbox(domains=["updates.example.com"])
    records = sandbox.domains()[0]["records"]
    names = [r["name"] for r in records]  # type: ignore[union-attr]
    assert names[:2] == ["send.updates", "send.updates"]
    assert all(re.fullmatch(r"[a-z0-9]{32}\._domainkey\.updates", name) for name in names[2:])
    assert len(names) == 5
