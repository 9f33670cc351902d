"""``contact-sdk dns records`` and ``dns check`` reading the domain from Resend's domains API.

Resend is the Resend sandbox on loopback (``GET /domains``, ``GET /domains/{id}``); DNS is the
loopback server of tests/dns/conftest.py. Bad provider answers come from the sandbox's faults and,
for shapes the sandbox never sends, from a tiny canned-JSON server on loopback.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.ops.cli import main
from contact_sdk.ops.dns.resend_domains import ResendDomainsError, fetch_domain

pytestmark = pytest.mark.integration

KEY = "re_dns_test"
StartDnsServer = Callable[..., Any]


@pytest.fixture(autouse=True)
def _no_resend_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESEND_API_KEY", raising=False)
    monkeypatch.delenv("RESEND_API_URL", raising=False)


@pytest.fixture
def resend_api() -> Iterator[ResendSandbox]:
    """The sandbox with Resend's default rate limit and one verified domain, example.com."""
    with ResendSandbox(api_key=KEY, domains=["example.com"]) as sandbox:
        sandbox.set_domain_status("example.com", "verified")
        yield sandbox


def api_args(sandbox: ResendSandbox) -> list[str]:
    return ["--api-url", sandbox.url, "--api-key", KEY]


def dkim_of(sandbox: ResendSandbox) -> str:
    records = sandbox.domains()[0]["records"]
    assert isinstance(records, list)
    return str(next(r["value"] for r in records if r["name"] == "resend._domainkey"))


def test_records_come_from_resend_with_statuses(resend_api: ResendSandbox, capsys: pytest.CaptureFixture[str]):
    """The table shows Resend's records with their status, the real DKIM key, and the DMARC advice."""
    assert main(["dns", "records", "--domain", "example.com", *api_args(resend_api)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[1].split() == ["TYPE", "HOST", "TTL", "STATUS", "VALUE"]
    assert lines[2].split() == ["MX", "send", "300", "verified", "10", "feedback-smtp.us-east-1.amazonses.com"]
    assert lines[3].split(None, 4) == ["TXT", "send", "300", "verified", "v=spf1 include:amazonses.com ~all"]
    assert lines[4].split(None, 4) == ["TXT", "resend._domainkey", "300", "verified", dkim_of(resend_api)]
    assert lines[5].split(None, 4)[:4] == ["TXT", "_dmarc", "300", "-"]
    assert "DMARC (advice" in captured.out
    assert captured.err == ""
    assert [r["path"] for r in resend_api.requests()][:1] == ["/domains"]


def test_records_from_resend_as_json_say_their_source(resend_api: ResendSandbox, capsys: pytest.CaptureFixture[str]):
    """The JSON document says ``source: resend`` and carries each record's status."""
    resend_api.set_domain_status("example.com", "pending")
    args = ["dns", "records", "--domain", "example.com", *api_args(resend_api), "--format", "json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["source"] == "resend"
    assert [r["status"] for r in document["records"]] == ["pending", "pending", "pending", None]
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
    """Published as Resend lists them: all OK. Another DKIM key or the wrong region's MX: wrong, exit 1."""
    zone = {
        "send.example.com": ["v=spf1 include:amazonses.com ~all"],
        "amazonses.com": ["v=spf1 ip4:199.255.192.0/22 -all"],
        "resend._domainkey.example.com": [dkim_of(resend_api)],
        "_dmarc.example.com": ["v=DMARC1; p=reject; rua=mailto:dmarc@example.com"],
    }
    mx = {"send.example.com": ["10 feedback-smtp.us-east-1.amazonses.com"]}
    server = dns_server(zone, mx=mx)
    dns_args = ["--nameserver", "127.0.0.1", "--port", str(server.port)]
    args = ["dns", "check", "--domain", "example.com", *api_args(resend_api), *dns_args]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "4 ok"

    stale = {**zone, "resend._domainkey.example.com": ["p=QUJDREVGR0g="]}
    wrong_region = {"send.example.com": ["10 feedback-smtp.eu-west-1.amazonses.com"]}
    server = dns_server(stale, mx=wrong_region)
    args = ["dns", "check", "--domain", "example.com", *api_args(resend_api), "--nameserver", "127.0.0.1"]
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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
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
