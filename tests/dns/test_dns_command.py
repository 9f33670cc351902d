"""``contact-sdk dns records`` and ``contact-sdk dns check`` end to end, against a DNS server on loopback."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import dns.zone
import pytest

from contact_sdk.ops.cli import main
from contact_sdk.ops.dns.records import DnspythonResolver, LookupOutcome

LONG_KEY = base64.b64encode(bytes(range(256)) + bytes(range(38))).decode()  # a 2048-bit-sized key

GOOD_ZONE: dict[str, list[str]] = {
    "example.com": ["google-site-verification=abc"],
    "send.example.com": ["v=spf1 include:amazonses.com ~all"],
    "amazonses.com": ["v=spf1 ip4:199.255.192.0/22 -all"],
    "resend._domainkey.example.com": [f"k=rsa; p={LONG_KEY}"],
    "_dmarc.example.com": ["v=DMARC1; p=reject; rua=mailto:dmarc@example.com"],
}
GOOD_MX: dict[str, list[str]] = {"send.example.com": ["10 feedback-smtp.us-east-1.amazonses.com"]}

BROKEN_ZONE: dict[str, list[str]] = {
    "send.example.com": ["v=spf1 include:amazonses.com ~all", "v=spf1 +all"],
    "resend._domainkey.example.com": ["v=DKIM1; k=rsa; p="],
    "_dmarc.example.com": [],
}

pytestmark = pytest.mark.integration

#: The ``dns_server`` fixture (tests/dns/conftest.py): ``dns_server(zone, servfail=..., silent=...)``.
StartDnsServer = Callable[..., Any]


@pytest.fixture(autouse=True)
def _no_resend_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read RESEND_API_KEY/RESEND_API_URL; a developer's own must not leak into these tests."""
    monkeypatch.delenv("RESEND_API_KEY", raising=False)
    monkeypatch.delenv("RESEND_API_URL", raising=False)


def check_args(port: int, *extra: str, domain: str = "example.com") -> list[str]:
    """Arguments for an offline ``dns check`` against the loopback server on ``port``."""
    return ["dns", "check", "--domain", domain, "--offline", "--nameserver", "127.0.0.1", "--port", str(port), *extra]


def test_good_zone_checks_ok(dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A correctly published domain exits 0 with every record OK, the long DKIM key joined from two strings."""
    server = dns_server(GOOD_ZONE, mx=GOOD_MX)
    assert main(check_args(server.port)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines[1:5]] == [["OK", "mx"], ["OK", "spf"], ["OK", "dkim"], ["OK", "dmarc"]]
    assert "(1 DNS lookup)" in out
    assert lines[-1] == "4 ok"
    assert "amazonses.com" in server.queries


def test_broken_zone_reports_each_problem_and_exits_1(
    dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """No return-path MX, two SPF records, a revoked DKIM key and an empty _dmarc are each reported; exit 1."""
    server = dns_server(BROKEN_ZONE)
    assert main(check_args(server.port, "--format", "json")) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    verdicts = {r["kind"]: (r["status"], r["reason"]) for r in document["results"]}
    assert verdicts["spf"][0] == "wrong"
    assert "2 SPF records" in verdicts["spf"][1]
    assert verdicts["dkim"] == ("wrong", "empty p=: the key is revoked, every signature fails")
    assert verdicts["mx"] == ("missing", "no MX record at send.example.com")
    assert verdicts["dmarc"] == ("missing", "no TXT record at _dmarc.example.com")


def test_plus_all_and_monitor_only_dmarc(dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    """``+all`` fails the check; DMARC p=none alone is a warning that keeps exit 0."""
    monitor_only = {**GOOD_ZONE, "_dmarc.example.com": ["v=DMARC1; p=none; rua=mailto:d@example.com"]}
    assert main(check_args(dns_server(monitor_only, mx=GOOD_MX).port)) == 0
    out = capsys.readouterr().out
    assert "WARNING" in out
    assert "monitor-only" in out

    plus_all = {**GOOD_ZONE, "send.example.com": ["v=spf1 include:amazonses.com +all"]}
    assert main(check_args(dns_server(plus_all, mx=GOOD_MX).port)) == 1
    assert "+all authorises every server" in capsys.readouterr().out


def test_unknown_domain_is_reported_as_missing_not_a_traceback(
    dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A domain the server does not know gives NXDOMAIN per record (DKIM: not knowable offline), exit 1."""
    server = dns_server(GOOD_ZONE)
    assert main(check_args(server.port, domain="nowhere.example")) == 1
    out = capsys.readouterr().out
    assert out.count("NXDOMAIN") == 3
    assert "cannot be known offline" in out
    assert out.endswith("4 missing\n")
    assert "Traceback" not in out


def test_servfail_is_an_error(dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A SERVFAIL answer is reported as an error naming the rcode and server."""
    server = dns_server(GOOD_ZONE, mx=GOOD_MX, servfail=["_dmarc.example.com"])
    assert main(check_args(server.port)) == 1
    line = next(line for line in capsys.readouterr().out.splitlines() if "_dmarc" in line)
    assert line.startswith("ERROR")
    assert "SERVFAIL from 127.0.0.1" in line


def test_timeout_is_an_error(dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A server that never answers gives a clear time-out per record (short lifetime: this waits 0.2 s)."""
    server = dns_server(GOOD_ZONE, mx=GOOD_MX, silent=["resend._domainkey.example.com"])
    assert main(check_args(server.port, "--timeout", "0.2")) == 1
    captured = capsys.readouterr()
    line = next(line for line in captured.out.splitlines() if "_domainkey" in line)
    assert line.startswith("ERROR")
    assert "timed out: no answer within 0.2 s" in line
    assert captured.err.startswith("contact-sdk dns check: --offline: these are Resend's documented layout, a guess")
    assert captured.err.count("\n") == 1


def test_resolver_distinguishes_no_answer_from_nxdomain(dns_server: StartDnsServer) -> None:
    """A name that exists without TXT is NO_ANSWER; an unknown name is NXDOMAIN."""
    server = dns_server({"example.com": [], "_dmarc.example.com": ["v=DMARC1; p=reject"]})
    resolver = DnspythonResolver(nameservers=["127.0.0.1"], port=server.port, timeout=2)
    assert resolver.lookup_txt("example.com").outcome is LookupOutcome.NO_ANSWER
    assert resolver.lookup_txt("other.example.com").outcome is LookupOutcome.NXDOMAIN
    assert resolver.lookup_txt("_dmarc.example.com").records == ("v=DMARC1; p=reject",)


def test_resolver_reads_mx_records(dns_server: StartDnsServer) -> None:
    """MX answers come back as ``"<preference> <host>"``; a name with only TXT has no MX answer."""
    server = dns_server(GOOD_ZONE, mx={"send.example.com": ["10 Feedback-SMTP.us-east-1.amazonses.com."]})
    resolver = DnspythonResolver(nameservers=["127.0.0.1"], port=server.port, timeout=2)
    mx = resolver.lookup_mx("send.example.com")
    assert (mx.outcome, mx.records, mx.rdtype) == (
        LookupOutcome.ANSWER,
        ("10 feedback-smtp.us-east-1.amazonses.com",),
        "MX",
    )
    assert resolver.lookup_mx("_dmarc.example.com").outcome is LookupOutcome.NO_ANSWER


def test_extra_dkim_selector_and_region(dns_server: StartDnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    """``--dkim-selector`` adds selectors; ``--region`` changes the MX host the return path must have."""
    server = dns_server(GOOD_ZONE, mx=GOOD_MX)
    assert main(check_args(server.port, "--dkim-selector", "resend", "--dkim-selector", "resend2")) == 1
    out = capsys.readouterr().out
    assert "resend2._domainkey.example.com" in out
    assert out.count("resend._domainkey.example.com") == 1
    assert main(check_args(server.port, "--region", "eu-west-1")) == 1
    assert "expected MX feedback-smtp.eu-west-1.amazonses.com" in capsys.readouterr().out


@pytest.mark.parametrize("domain", ["not a domain", "example", "-bad-.com", "http://example.com"])
def test_bad_domain_is_a_usage_error(domain: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --domain exits 2 with a sentence on stderr, for both commands."""
    for command in ("records", "check"):
        with pytest.raises(SystemExit) as exited:
            main(["dns", command, "--domain", domain])
        assert exited.value.code == 2
        assert "--domain" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra",
    [
        ["--nameserver", "dns.example"],
        ["--port", "70000"],
        ["--timeout", "0"],
        ["--dkim-selector", "a b"],
        ["--region", "europe"],
    ],
)
def test_bad_check_options_are_usage_errors(extra: list[str]) -> None:
    """A nameserver that is not an IP, a bad port, timeout or selector exits 2."""
    with pytest.raises(SystemExit) as exited:
        main(["dns", "check", "--domain", "example.com", *extra])
    assert exited.value.code == 2


def test_records_command_prints_table_zone_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    """``dns records`` prints the same records as a table, a zone snippet and JSON."""
    base = ["dns", "records", "--domain", "example.com", "--dkim-value", LONG_KEY, "--dmarc-policy", "quarantine"]
    assert main(base) == 0
    table = capsys.readouterr()
    assert "resend._domainkey" in table.out
    assert "DMARC (advice" in table.out
    assert "no Resend API key" in table.err
    assert main(["dns", "records", "--domain", "example.com", "--offline"]) == 0
    placeholder = capsys.readouterr()
    assert "--dkim-value" in placeholder.err
    assert "no Resend API key" not in placeholder.err

    assert main([*base, "--format", "zone"]) == 0
    zone = capsys.readouterr().out
    dkim_line = next(line for line in zone.splitlines() if line.startswith("resend._domainkey.example.com."))
    assert dkim_line.count('"') == 4  # split into two quoted strings
    assert zone.splitlines()[-1].startswith("; DMARC (advice")
    parsed = dns.zone.from_text(zone, origin="example.com.", check_origin=False)  # the advice is a comment
    assert sorted(name.to_text() for name in parsed.nodes) == ["_dmarc", "resend._domainkey", "send"]

    assert main([*base, "--format", "json", "--no-dmarc-rua"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["records"][-1]["value"] == "v=DMARC1; p=quarantine"
    assert document["source"] == "offline"
    assert "p=none" in document["dmarc_advice"]


def test_records_command_publishes_a_second_dkim_key_and_the_report_address_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--dkim2-value`` adds the second key at ``resend2._domainkey`` (none without it), and ``--dmarc-rua`` is the
    DMARC record's report address in place of ``mailto:dmarc@<domain>``."""
    second = base64.b64encode(bytes(range(100, 256)) + bytes(range(138))).decode()
    base = ["dns", "records", "--domain", "example.com", "--offline", "--format", "json", "--dkim-value", LONG_KEY]
    assert main(base) == 0
    plain = {record["host"]: record["value"] for record in json.loads(capsys.readouterr().out)["records"]}
    assert "resend2._domainkey" not in plain
    assert plain["_dmarc"] == "v=DMARC1; p=none; rua=mailto:dmarc@example.com"

    assert main([*base, "--dkim2-value", second, "--dmarc-rua", "mailto:reports@example.org"]) == 0
    records = {record["host"]: record["value"] for record in json.loads(capsys.readouterr().out)["records"]}
    assert records["resend2._domainkey"] == f"k=rsa; p={second}"
    assert records["resend._domainkey"] == f"k=rsa; p={LONG_KEY}"
    assert records["_dmarc"] == "v=DMARC1; p=none; rua=mailto:reports@example.org"


def test_records_command_refuses_a_bad_dkim_value(capsys: pytest.CaptureFixture[str]) -> None:
    """A DKIM value that is not base64 exits 2 with the reason, before anything else is printed."""
    with pytest.raises(SystemExit) as exited:
        main(["dns", "records", "--domain", "example.com", "--dkim-value", "not base64!"])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert "base64" in captured.err
    assert captured.out == ""


def test_console_entry_point_reports_bad_domain_without_traceback() -> None:
    """Run as a process, a bad domain gives exit 2 and a one-line reason, never a stack trace."""
    completed = subprocess.run(
        [sys.executable, "-m", "contact_sdk.ops.cli", "dns", "check", "--domain", "exa mple.com"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "is not a valid domain name" in completed.stderr
    assert "Traceback" not in completed.stderr


CNAME_TOKENS = (
    "nu22pfdfqaxdybogtw3ebaokmalv5mxg",
    "qklz5ozk742hhql3vmekdu3pr4f5ggsj",
    "eeaemodxoao5hxwjvhywx4bo5mswjw6v",
)


def test_the_resolver_reads_a_cname(dns_server: StartDnsServer) -> None:
    """A CNAME's target comes back lower case without its trailing dot; a name without one is no answer."""
    name = f"{CNAME_TOKENS[0]}._domainkey.example.com"
    server = dns_server(GOOD_ZONE, cname={name: f"{CNAME_TOKENS[0]}.DKIM.amazonses.com."})
    resolver = DnspythonResolver(nameservers=["127.0.0.1"], port=server.port, timeout=2.0)
    found = resolver.lookup_cname(name)
    assert (found.outcome, found.records) == (LookupOutcome.ANSWER, (f"{CNAME_TOKENS[0]}.dkim.amazonses.com",))
    assert resolver.lookup_cname("_dmarc.example.com").outcome is LookupOutcome.NO_ANSWER


def test_offline_records_say_they_are_a_guess(capsys: pytest.CaptureFixture[str]) -> None:
    """Offline, stderr says the layout is a guess and where the real records are; --return-path moves MX and SPF."""
    assert main(["dns", "records", "--domain", "example.com", "--offline", "--return-path", "bounces"]) == 0
    captured = capsys.readouterr()
    assert "a guess (region us-east-1, return path bounces.example.com" in captured.err
    assert "give a full-access key to read them, or copy them from the Resend dashboard" in captured.err
    rows = [line.split(None, 3) for line in captured.out.splitlines()[2:6]]
    assert [row[:2] for row in rows] == [
        ["MX", "bounces"],
        ["TXT", "bounces"],
        ["CNAME", "<token>._domainkey"],
        ["TXT", "_dmarc"],
    ]
