"""Generating the email-authentication records and rendering them (contact_sdk.ops.dns.records, the pure half)."""

from __future__ import annotations

import base64

import dns.rdatatype
import dns.zone
import pytest

from contact_sdk.ops.dns.records import (
    DmarcPolicy,
    DnsInputError,
    RecordKind,
    build_records,
    dkim_record_value,
    format_table,
    format_zone,
    normalize_domain,
    records_as_json,
    split_txt_value,
)

# A 2048-bit RSA public key is ~392 base64 characters: longer than one TXT string.
LONG_KEY = base64.b64encode(bytes(range(256)) + bytes(range(38))).decode()


def test_default_records_follow_the_architecture() -> None:
    """SPF, one DKIM placeholder, the _resend placeholder and DMARC p=none, all TTL 300."""
    records = build_records("example.com")
    assert [(r.kind, r.name) for r in records] == [
        (RecordKind.SPF, "example.com"),
        (RecordKind.DKIM, "resend._domainkey.example.com"),
        (RecordKind.VERIFICATION, "_resend.example.com"),
        (RecordKind.DMARC, "_dmarc.example.com"),
    ]
    assert records[0].value == "v=spf1 include:_spf.resend.com ~all"
    assert records[1].value is None
    assert records[2].value is None
    assert records[3].value == "v=DMARC1; p=none; rua=mailto:dmarc@example.com"
    assert {r.ttl for r in records} == {300}
    assert {r.type for r in records} == {"TXT"}


def test_given_values_fill_the_records() -> None:
    """DKIM keys, the verification value and the DMARC policy and report address are used as given."""
    records = build_records(
        "Example.com",
        dkim_value="MIGfMA0GCSqGSIb3DQEB",
        dkim2_value="p=QUJDRA==",
        verification_value="resend-verification-abc123",
        dmarc_policy=DmarcPolicy.REJECT,
        dmarc_rua="mailto:reports@example.net",
    )
    by_name = {r.name: r.value for r in records}
    assert by_name["resend._domainkey.example.com"] == "k=rsa; p=MIGfMA0GCSqGSIb3DQEB"
    assert by_name["resend2._domainkey.example.com"] == "p=QUJDRA=="
    assert by_name["_resend.example.com"] == "resend-verification-abc123"
    assert by_name["_dmarc.example.com"] == "v=DMARC1; p=reject; rua=mailto:reports@example.net"


def test_dmarc_without_report_address() -> None:
    """``dmarc_rua=None`` publishes the policy alone."""
    records = build_records("example.com", dmarc_policy=DmarcPolicy.QUARANTINE, dmarc_rua=None)
    assert records[-1].value == "v=DMARC1; p=quarantine"


@pytest.mark.parametrize("rua", ["dmarc@example.com", "https://example.com/reports", "mailto:nobody"])
def test_dmarc_report_address_must_be_mailto(rua: str) -> None:
    """A report address that is not a mailto: URI is refused."""
    with pytest.raises(DnsInputError, match="mailto"):
        build_records("example.com", dmarc_rua=rua)


@pytest.mark.parametrize("value", ["not base64!", "k=rsa; p=***", "k=rsa"])
def test_malformed_dkim_value_is_refused(value: str) -> None:
    """A DKIM value without a base64 key is refused before anything is printed."""
    with pytest.raises(DnsInputError):
        dkim_record_value(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("example.com", "example.com"), ("EXAMPLE.com.", "example.com"), ("mail.bücher.de", "mail.xn--bcher-kva.de")],
)
def test_domain_names_are_normalized(text: str, expected: str) -> None:
    """Domains are lower-cased, lose the trailing dot, and IDNs become their xn-- form."""
    assert normalize_domain(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "localhost", "exa mple.com", "-example.com", "example-.com", "a..com", "https://example.com",
     "user@example.com", "192.168.0.1", "x" * 64 + ".com", ("a" * 60 + ".") * 5 + "com", "under_score.com"],
)  # fmt: skip
def test_bad_domain_names_are_refused(text: str) -> None:
    """Each malformed domain name raises DnsInputError with a sentence saying why."""
    with pytest.raises(DnsInputError):
        normalize_domain(text)


def test_long_txt_values_are_split_into_255_octet_strings() -> None:
    """Values over 255 octets become several strings, none longer than 255, joining back to the value."""
    value = "k=rsa; p=" + LONG_KEY
    parts = split_txt_value(value)
    assert len(value) > 255
    assert [len(p) for p in parts] == [255, len(value) - 255]
    assert "".join(parts) == value


def test_zone_snippet_parses_back_to_the_same_records() -> None:
    """dnspython reads the zone snippet back: names, TTLs and (split) values are exactly the records."""
    records = build_records(
        "example.com",
        dkim_value=LONG_KEY,
        verification_value='quote"and\\backslash',
        dmarc_policy=DmarcPolicy.QUARANTINE,
    )
    zone = dns.zone.from_text(format_zone(records), origin="example.com.", check_origin=False)
    parsed: dict[str, list[bytes]] = {}
    assert zone.origin is not None
    for name, rdataset in zone.iterate_rdatasets(dns.rdatatype.TXT):
        assert rdataset.ttl == 300
        for rdata in rdataset:
            assert all(len(s) <= 255 for s in rdata.strings)
            parsed[name.derelativize(zone.origin).to_text(omit_final_dot=True)] = list(rdata.strings)
    assert {name: b"".join(strings).decode() for name, strings in parsed.items()} == {r.name: r.value for r in records}
    assert len(parsed["resend._domainkey.example.com"]) == 2


def test_zone_snippet_comments_out_placeholders() -> None:
    """Records whose value only Resend knows are commented out, so importing never publishes a fake."""
    zone_text = format_zone(build_records("example.com"))
    lines = zone_text.splitlines()
    assert any(line.startswith("; resend._domainkey.example.com.") for line in lines)
    assert any(line.startswith("; _resend.example.com.") for line in lines)
    assert any(line.startswith("example.com. ") and "include:_spf.resend.com" in line for line in lines)
    zone = dns.zone.from_text(zone_text, origin="example.com.", check_origin=False)
    assert sorted(n.to_text() for n in zone.nodes) == ["@", "_dmarc"]


def test_table_shows_host_names_relative_to_the_domain() -> None:
    """The table lists @, resend._domainkey, _resend and _dmarc with TTL and value, for dashboards."""
    table = format_table(build_records("example.com", dkim_value="QUJD"), "example.com")
    lines = table.splitlines()
    assert lines[1].split() == ["TYPE", "HOST", "TTL", "VALUE"]
    assert lines[2].split(None, 3) == ["TXT", "@", "300", "v=spf1 include:_spf.resend.com ~all"]
    assert lines[3].split(None, 3) == ["TXT", "resend._domainkey", "300", "k=rsa; p=QUJD"]
    assert lines[4].split(None, 3)[:3] == ["TXT", "_resend", "300"]
    assert "--verification-value" in lines[4]


def test_json_document_lists_records_with_strings() -> None:
    """The JSON form carries name, host, TTL, value and the zone strings of each record."""
    document = records_as_json(build_records("example.com", dkim_value=LONG_KEY), "example.com")
    dkim = document["records"][1]
    assert dkim["host"] == "resend._domainkey"
    assert dkim["ttl"] == 300
    assert "".join(dkim["strings"]) == dkim["value"]
    assert document["records"][2]["value"] is None
