"""``contact-sdk dns records`` and ``dns check`` reading the domain from Resend's domains API.

Resend is the Resend sandbox on loopback (``GET /domains``, ``GET /domains/{id}``); DNS is the
loopback server of tests/dns/conftest.py. Bad provider answers come from the sandbox's faults and,
for shapes the sandbox never sends, from a tiny canned-JSON server on loopback.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.ops.cli import main
from contact_sdk.ops.dns.resend_domains import ResendDomainsError, fetch_domain
from tests.conftest import refusing_port

pytestmark = pytest.mark.integration

KEY = "re_dns_test"
StartDnsServer = Callable[..., Any]


@pytest.fixture(autouse=True)
def _no_resend_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESEND_API_KEY", raising=False)
    monkeypatch.delenv("RESEND_API_URL", raising=False)


@pytest.fixture
def resend_api() -> Iterator[ResendSandbox]:
    """The sandbox with Resend's default rate limit and one verified domain, example.com, DKIM as three CNAMEs."""
    with ResendSandbox(api_key=KEY) as sandbox:
        sandbox.add_domain("example.com", status="verified")
        yield sandbox


@pytest.fixture
def legacy_api() -> Iterator[ResendSandbox]:
    """The sandbox with an older domain: its DKIM one TXT key at resend._domainkey."""
    with ResendSandbox(api_key=KEY) as sandbox:
        sandbox.add_domain("example.com", status="verified", dkim="txt")
        yield sandbox


def api_args(sandbox: ResendSandbox) -> list[str]:
    return ["--api-url", sandbox.url, "--api-key", KEY]


def records_of(sandbox: ResendSandbox, record_type: str) -> list[dict[str, Any]]:
    records = sandbox.domains()[0]["records"]
    assert isinstance(records, list)
    return [r for r in records if r["record"] == "DKIM" and r["type"] == record_type]


def dkim_of(sandbox: ResendSandbox) -> str:
    (record,) = records_of(sandbox, "TXT")
    return str(record["value"])


def cnames_of(sandbox: ResendSandbox) -> dict[str, str]:
    """The DKIM CNAMEs Resend lists, as a zone holds them: fully qualified name -> target."""
    return {f"{r['name']}.example.com": str(r["value"]) for r in records_of(sandbox, "CNAME")}


ZONE = {
    "send.example.com": ["v=spf1 include:amazonses.com ~all"],
    "amazonses.com": ["v=spf1 ip4:199.255.192.0/22 -all"],
    "_dmarc.example.com": ["v=DMARC1; p=reject; rua=mailto:dmarc@example.com"],
}
MX = {"send.example.com": ["10 feedback-smtp.us-east-1.amazonses.com"]}


def test_records_come_from_resend_with_statuses(resend_api: ResendSandbox, capsys: pytest.CaptureFixture[str]):
    """The table shows Resend's records with their status, DKIM's three CNAMEs, and the DMARC advice."""
    assert main(["dns", "records", "--domain", "example.com", *api_args(resend_api)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[1].split() == ["TYPE", "HOST", "TTL", "STATUS", "VALUE"]
    assert lines[2].split() == ["MX", "send", "300", "verified", "10", "feedback-smtp.us-east-1.amazonses.com"]
    assert lines[3].split(None, 4) == ["TXT", "send", "300", "verified", "v=spf1 include:amazonses.com ~all"]
    cnames = [line.split() for line in lines[4:7]]
    published = {
        name.removesuffix(".example.com"): target.rstrip(".") for name, target in cnames_of(resend_api).items()
    }
    assert {row[1]: row[4] for row in cnames} == published
    assert {(row[0], row[2], row[3]) for row in cnames} == {("CNAME", "300", "verified")}
    assert all(re.fullmatch(r"[a-z0-9]{32}\._domainkey", row[1]) for row in cnames)
    assert lines[7].split(None, 4)[:4] == ["TXT", "_dmarc", "300", "-"]
    assert "DMARC (advice" in captured.out
    assert captured.err == ""
    assert [r["path"] for r in resend_api.requests()][:1] == ["/domains"]


def test_a_legacy_domains_txt_key_is_read_too(legacy_api: ResendSandbox, capsys: pytest.CaptureFixture[str]):
    """An older domain's single DKIM TXT key at resend._domainkey is listed as Resend lists it."""
    assert main(["dns", "records", "--domain", "example.com", *api_args(legacy_api)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[4].split(None, 4) == ["TXT", "resend._domainkey", "300", "verified", dkim_of(legacy_api)]


def test_records_from_resend_as_json_say_their_source(resend_api: ResendSandbox, capsys: pytest.CaptureFixture[str]):
    """The JSON document says ``source: resend`` and carries each record's status."""
    resend_api.set_domain_status("example.com", "pending")
    args = ["dns", "records", "--domain", "example.com", *api_args(resend_api), "--format", "json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["source"] == "resend"
    assert [r["status"] for r in document["records"]] == ["pending"] * 5 + [None]
    assert "Resend reports example.com as pending" in captured.err


def test_key_from_the_environment(resend_api: ResendSandbox, monkeypatch: pytest.MonkeyPatch, capsys: Any):
    """RESEND_API_KEY and RESEND_API_URL are enough; ``--offline`` ignores them."""
    monkeypatch.setenv("RESEND_API_KEY", KEY)
    monkeypatch.setenv("RESEND_API_URL", resend_api.url)
    assert main(["dns", "records", "--domain", "example.com", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "resend"
    assert main(["dns", "records", "--domain", "example.com", "--format", "json", "--offline"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "offline"


def test_check_compares_dns_with_resends_records(
    resend_api: ResendSandbox, dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]
):
    """Published as Resend lists them, DKIM CNAMEs included: all OK, exit 0."""
    server = dns_server(ZONE, mx=MX, cname=cnames_of(resend_api))
    args = ["dns", "check", "--domain", "example.com", *api_args(resend_api), "--nameserver", "127.0.0.1"]
    assert main([*args, "--port", str(server.port)]) == 0
    out = capsys.readouterr().out
    assert out.count("CNAME to ") == 3
    assert out.splitlines()[-1] == "6 ok"


def test_check_fails_on_a_domain_without_its_dkim_cnames(
    resend_api: ResendSandbox, dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]
):
    """The issue's case: SPF, MX and DMARC published, the three DKIM CNAMEs not: three missing, exit 1."""
    server = dns_server(ZONE, mx=MX)
    args = ["dns", "check", "--domain", "example.com", *api_args(resend_api), "--nameserver", "127.0.0.1"]
    assert main([*args, "--port", str(server.port), "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    dkim = [r for r in document["results"] if r["kind"] == "dkim"]
    assert [r["status"] for r in dkim] == ["missing"] * 3
    assert {r["name"] for r in dkim} == set(cnames_of(resend_api))


def test_check_of_a_legacy_key_and_a_region(
    legacy_api: ResendSandbox, dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]
):
    """A legacy domain: the published TXT key must be Resend's; another key, or another region's MX, is wrong."""
    zone = {**ZONE, "resend._domainkey.example.com": [dkim_of(legacy_api)]}
    server = dns_server(zone, mx=MX)
    args = ["dns", "check", "--domain", "example.com", *api_args(legacy_api), "--nameserver", "127.0.0.1"]
    assert main([*args, "--port", str(server.port)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "4 ok"

    stale = {**ZONE, "resend._domainkey.example.com": ["p=QUJDREVGR0g="]}
    server = dns_server(stale, mx={"send.example.com": ["10 feedback-smtp.eu-west-1.amazonses.com"]})
    assert main([*args, "--port", str(server.port), "--format", "json"]) == 1
    verdicts = {r["kind"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert verdicts["dkim"]["status"] == "wrong"
    assert "not the key Resend issued" in verdicts["dkim"]["reason"]
    assert verdicts["mx"]["status"] == "wrong"
    assert "feedback-smtp.us-east-1.amazonses.com" in verdicts["mx"]["reason"]


@pytest.mark.parametrize("command", ["records", "check"])
def test_a_refused_key_is_a_clear_error(resend_api: ResendSandbox, command: str, capsys: pytest.CaptureFixture[str]):
    """A key Resend refuses: exit 1, saying the domains API needs a full-access key."""
    args = ["dns", command, "--domain", "example.com", "--api-url", resend_api.url, "--api-key", "re_wrong"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "refused the API key" in err
    assert "403 invalid_api_key" in err


def test_a_domain_missing_from_the_account(resend_api: ResendSandbox, capsys: pytest.CaptureFixture[str]):
    """A domain Resend does not know: exit 1, listing the account's domains."""
    assert main(["dns", "records", "--domain", "other.example", *api_args(resend_api)]) == 1
    assert "other.example is not a domain of this Resend account (its domains: example.com)" in capsys.readouterr().err


def test_the_domain_is_found_past_the_first_page(capsys: pytest.CaptureFixture[str]):
    """With more than 100 domains the command follows ``has_more``/``after`` until it finds the name."""
    with ResendSandbox(api_key=KEY, rate_limit_per_second=0) as sandbox:
        sandbox.add_domain("first.example")  # the oldest: last in Resend's newest-first order
        for number in range(120):
            sandbox.add_domain(f"d{number}.example")
        found = fetch_domain("first.example", api_key=KEY, api_url=sandbox.url)
        assert found["name"] == "first.example"
        assert [r["path"] for r in sandbox.requests()].count("/domains") == 2


def test_rate_limit_and_broken_gateways_are_reported(resend_api: ResendSandbox):
    """A 429 says when to retry; an HTML 502 is reported with its status, not a JSON error."""
    resend_api.set_rate_limit(1)
    with pytest.raises(ResendDomainsError, match=r"rate-limited .* try again in 1 s"):
        fetch_domain("example.com", api_key=KEY, api_url=resend_api.url)
    resend_api.set_rate_limit(None)
    resend_api.set_faults(failure_rate=1.0, failure_status=502, failure_body="html")
    with pytest.raises(ResendDomainsError, match="502 Bad Gateway"):
        fetch_domain("example.com", api_key=KEY, api_url=resend_api.url)


def test_an_unreachable_api(capsys: pytest.CaptureFixture[str]):
    """Nothing listening at the URL: exit 1, ``cannot reach``."""
    url = f"http://127.0.0.1:{refusing_port()}"
    assert main(["dns", "records", "--domain", "example.com", "--api-url", url, "--api-key", KEY]) == 1
    assert f"cannot reach {url}" in capsys.readouterr().err


class _Canned(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, bytes]]] = {}

    def do_GET(self) -> None:
        status, body = self.answers.get(self.path.split("?")[0], (404, b"{}"))
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[Callable[[dict[str, tuple[int, bytes]]], str]]:
    """A loopback server answering chosen paths with canned bodies; returns its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(answers: dict[str, tuple[int, bytes]]) -> str:
        handler = type("Handler", (_Canned,), {"answers": answers})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


ONE = (200, b'{"data": [{"id": "d1", "name": "example.com"}]}')


@pytest.mark.parametrize(
    ("answers", "needle"),
    [
        ({"/domains": (200, b"<html>")}, "answered 200 without JSON"),
        ({"/domains": (200, b'{"object": "list"}')}, "without a `data` list"),
        ({"/domains": (200, b'{"data": [{"id": 7}]}')}, "without string `id` and `name`"),
        ({"/domains": ONE, "/domains/d1": (200, b"[]")}, "not an object"),
        ({"/domains": ONE, "/domains/d1": (200, b"{}")}, "no `records` list"),
    ],
)  # fmt: skip
def test_malformed_provider_answers(
    canned: Callable[[dict[str, tuple[int, bytes]]], str],
    answers: dict[str, tuple[int, bytes]],
    needle: str,
    capsys: pytest.CaptureFixture[str],
):
    """Whatever shape the API answers in, the command ends with exit 1 and the reason, never a traceback."""
    url = canned(answers)
    assert main(["dns", "records", "--domain", "example.com", "--api-url", url, "--api-key", KEY]) == 1
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_an_empty_key_is_refused_before_any_request():
    """``fetch_domain`` with a blank key does not call out."""
    with pytest.raises(ResendDomainsError, match="empty"):
        fetch_domain("example.com", api_key="  ", api_url="http://127.0.0.1:9")
