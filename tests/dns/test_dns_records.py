"""Generating the email-authentication records and rendering them (contact_sdk.ops.dns.records, the pure half)."""

from __future__ import annotations

import base64

import dns.rdatatype
import dns.zone
import pytest

from contact_sdk.ops.dns.records import (
    DmarcPolicy,
    DnsInputError,
    DnsRecord,
    RecordKind,
    build_records,
    dkim_record_value,
    format_table,
    format_zone,
    normalize_domain,
    records_as_json,
    records_from_resend,
    split_txt_value,
)

# A 2048-bit RSA public key is ~392 base64 characters: longer than one TXT string.
LONG_KEY = base64.b64encode(bytes(range(256)) + bytes(range(38))).decode()


def test_default_records_follow_resends_documented_layout() -> None:
    """MX and SPF on send.<domain>, DKIM as the placeholder for Resend's CNAMEs, and DMARC p=none; TTL 300."""
    records = build_records("example.com")
    assert [(r.kind, r.type, r.name) for r in records] == [
        (RecordKind.MX, "MX", "send.example.com"),
        (RecordKind.SPF, "TXT", "send.example.com"),
        (RecordKind.DKIM, "CNAME", "<token>._domainkey.example.com"),
        (RecordKind.DMARC, "TXT", "_dmarc.example.com"),
    ]
    assert "3 CNAMEs to <token>.dkim.amazonses.com" in records[2].hint
    assert (records[0].priority, records[0].value) == (10, "feedback-smtp.us-east-1.amazonses.com")
    assert records[0].rdata() == "10 feedback-smtp.us-east-1.amazonses.com"
    assert records[1].value == "v=spf1 include:amazonses.com ~all"
    assert records[2].value is None
    assert records[3].value == "v=DMARC1; p=none; rua=mailto:dmarc@example.com"
    assert {r.ttl for r in records} == {300}
    assert {r.status for r in records} == {None}


def test_region_picks_the_feedback_host() -> None:
    """A domain in eu-west-1 bounces through feedback-smtp.eu-west-1.amazonses.com; a bad region is refused."""
    assert build_records("example.com", region="eu-west-1")[0].value == "feedback-smtp.eu-west-1.amazonses.com"
    with pytest.raises(DnsInputError, match="region"):
        build_records("example.com", region="mars")


def test_given_values_fill_the_records() -> None:
    """DKIM keys and the DMARC policy and report address are used as given."""
    records = build_records(
        "Example.com",
        dkim_value="MIGfMA0GCSqGSIb3DQEB",
        dkim2_value="p=QUJDRA==",
        dmarc_policy=DmarcPolicy.REJECT,
        dmarc_rua="mailto:reports@example.net",
    )
    by_name = {r.name: r.value for r in records}
    assert by_name["resend._domainkey.example.com"] == "k=rsa; p=MIGfMA0GCSqGSIb3DQEB"
    assert by_name["resend2._domainkey.example.com"] == "p=QUJDRA=="
    assert by_name["_dmarc.example.com"] == "v=DMARC1; p=reject; rua=mailto:reports@example.net"


# What Resend's GET /domains/{id} answers, written out as its API reference shows it.
RESEND_DOMAIN = {
    "object": "domain",
    "id": "d91cd9bd-1176-453e-8fc1-35364d380206",
    "name": "example.com",
    "status": "partially_verified",
    "region": "sa-east-1",
    "records": [
        {"record": "SPF", "name": "send", "type": "MX", "ttl": "Auto", "status": "verified",
         "value": "feedback-smtp.sa-east-1.amazonses.com", "priority": 10},
        {"record": "SPF", "name": "send", "type": "TXT", "ttl": "Auto", "status": "verified",
         "value": '"v=spf1 include:amazonses.com ~all"'},
        {"record": "DKIM", "name": "resend._domainkey", "type": "TXT", "ttl": "Auto", "status": "pending",
         "value": "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ"},
        {"record": "Receiving", "name": "example.com", "type": "MX", "ttl": "Auto", "status": "not_started",
         "value": "inbound-smtp.sa-east-1.amazonaws.com", "priority": 10},
    ],
}  # fmt: skip


def test_records_from_resend_keep_values_and_statuses() -> None:
    """Names become fully qualified, SPF loses its quotes, statuses are kept, receiving is skipped, DMARC added."""
    records = records_from_resend("example.com", RESEND_DOMAIN, dmarc_policy=DmarcPolicy.QUARANTINE)
    assert [(r.kind, r.name, r.rdata(), r.status) for r in records] == [
        (RecordKind.MX, "send.example.com", "10 feedback-smtp.sa-east-1.amazonses.com", "verified"),
        (RecordKind.SPF, "send.example.com", "v=spf1 include:amazonses.com ~all", "verified"),
        (RecordKind.DKIM, "resend._domainkey.example.com", "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ", "pending"),
        (RecordKind.DMARC, "_dmarc.example.com", "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com", None),
    ]


@pytest.mark.parametrize(
    ("resource", "needle"),
    [
        ([], "no `records` list"),
        ({"records": "none"}, "no `records` list"),
        ({"records": [{"record": "SPF", "type": "MX"}]}, "string `record`, `type` and `name`"),
        ({"records": [{"record": "SPF", "type": "TXT", "name": "send", "value": " "}]}, "without a value"),
        ({"records": [{"record": "SPF", "type": "MX", "name": "send", "value": "h.example"}]}, "numeric priority"),
        ({"records": [{"record": "Tracking", "type": "CNAME", "name": "t", "value": "x"}]}, "no sending records"),
    ],
)
def test_malformed_resend_answers_are_refused(resource: object, needle: str) -> None:
    """A provider answer missing what the records need raises DnsInputError saying what is missing."""
    with pytest.raises(DnsInputError, match=needle):
        records_from_resend("example.com", resource)


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
    odd = DnsRecord(RecordKind.SPF, "odd.example.com", 'quote"and\\backslash', "escaping", 300)
    records = (*build_records("example.com", dkim_value=LONG_KEY, dmarc_policy=DmarcPolicy.QUARANTINE), odd)
    zone = dns.zone.from_text(format_zone(records), origin="example.com.", check_origin=False)
    parsed: dict[str, list[bytes]] = {}
    assert zone.origin is not None
    for name, rdataset in zone.iterate_rdatasets(dns.rdatatype.TXT):
        assert rdataset.ttl == 300
        for rdata in rdataset:
            assert all(len(s) <= 255 for s in rdata.strings)
            parsed[name.derelativize(zone.origin).to_text(omit_final_dot=True)] = list(rdata.strings)
    txt = {r.name: r.value for r in records if r.type == "TXT"}
    assert {name: b"".join(strings).decode() for name, strings in parsed.items()} == txt
    assert len(parsed["resend._domainkey.example.com"]) == 2
    mx = [(name.to_text(), rdata.preference, rdata.exchange.to_text()) for name, _, rdata in zone.iterate_rdatas("MX")]
    assert mx == [("send", 10, "feedback-smtp.us-east-1.amazonses.com.")]


def test_zone_snippet_comments_out_placeholders() -> None:
    """Records whose value only Resend knows are commented out, so importing never publishes a fake."""
    zone_text = format_zone(build_records("example.com"))
    lines = zone_text.splitlines()
    assert any(line.startswith("; <token>._domainkey.example.com.") for line in lines)
    assert any(line.startswith("send.example.com. ") and "include:amazonses.com" in line for line in lines)
    zone = dns.zone.from_text(zone_text, origin="example.com.", check_origin=False)
    assert sorted(n.to_text() for n in zone.nodes) == ["_dmarc", "send"]


def test_table_shows_host_names_relative_to_the_domain() -> None:
    """The table lists send (MX, SPF), the DKIM CNAMEs' placeholder and _dmarc with TTL and value, for dashboards."""
    table = format_table(build_records("example.com"), "example.com")
    lines = table.splitlines()
    assert lines[1].split() == ["TYPE", "HOST", "TTL", "VALUE"]
    assert lines[2].split(None, 3) == ["MX", "send", "300", "10 feedback-smtp.us-east-1.amazonses.com"]
    assert lines[3].split(None, 3) == ["TXT", "send", "300", "v=spf1 include:amazonses.com ~all"]
    assert lines[4].split(None, 3)[:3] == ["CNAME", "<token>._domainkey", "300"]
    assert "--api-key" in lines[4]


def test_a_custom_return_path_moves_mx_and_spf() -> None:
    """Offline --return-path bounces: MX and SPF on bounces.<domain>; a label that is not one is refused."""
    records = build_records("example.com", return_path="Bounces")
    assert [r.name for r in records[:2]] == ["bounces.example.com", "bounces.example.com"]
    with pytest.raises(DnsInputError, match="is not a subdomain label"):
        build_records("example.com", return_path="a.b")


def test_cname_dkim_records_from_resend_are_read_and_zoned() -> None:
    """Resend's three DKIM CNAMEs (value with a trailing dot) become CNAME records; the zone snippet has them."""
    tokens = ["nu22pfdfqaxdybogtw3ebaokmalv5mxg", "qklz5ozk742hhql3vmekdu3pr4f5ggsj"]
    resource = {
        "records": [
            {
                "record": "SPF",
                "name": "bounces",
                "type": "MX",
                "value": "feedback-smtp.us-east-1.amazonses.com",
                "priority": 10,
                "status": "verified",
            },
            *(
                {
                    "record": "DKIM",
                    "name": f"{t}._domainkey",
                    "type": "CNAME",
                    "value": f"{t}.dkim.amazonses.com.",
                    "status": "pending",
                }
                for t in tokens
            ),
            {
                "record": "Receiving",
                "name": "example.com",
                "type": "MX",
                "value": "inbound-mx.resend.com",
                "priority": 10,
            },
        ]
    }
    records = records_from_resend("example.com", resource)
    dkim = [r for r in records if r.kind is RecordKind.DKIM]
    assert [(r.type, r.name, r.value, r.status) for r in dkim] == [
        ("CNAME", f"{t}._domainkey.example.com", f"{t}.dkim.amazonses.com", "pending") for t in tokens
    ]
    zone = dns.zone.from_text(format_zone(records), origin="example.com.", check_origin=False)
    rdataset = zone.find_rdataset(f"{tokens[0]}._domainkey", "CNAME")
    assert [r.target.to_text() for r in rdataset] == [f"{tokens[0]}.dkim.amazonses.com."]


def test_table_shows_resends_status_when_known() -> None:
    """Records read from Resend get a STATUS column; the DMARC advice, not Resend's, shows a dash."""
    lines = format_table(records_from_resend("example.com", RESEND_DOMAIN), "example.com").splitlines()
    assert lines[1].split() == ["TYPE", "HOST", "TTL", "STATUS", "VALUE"]
    assert lines[4].split(None, 4)[:4] == ["TXT", "resend._domainkey", "300", "pending"]
    assert lines[5].split(None, 4)[:4] == ["TXT", "_dmarc", "300", "-"]


def test_json_document_lists_records_with_strings() -> None:
    """The JSON form carries name, host, TTL, value and the zone strings of each record."""
    document = records_as_json(build_records("example.com", dkim_value=LONG_KEY), "example.com")
    mx, spf, dkim = document["records"][:3]
    assert (mx["host"], mx["priority"], mx["strings"]) == ("send", 10, None)
    assert spf["strings"] == ["v=spf1 include:amazonses.com ~all"]
    assert dkim["host"] == "resend._domainkey"
    assert dkim["ttl"] == 300
    assert "".join(dkim["strings"]) == dkim["value"]
    assert records_as_json(build_records("example.com"), "example.com")["records"][2]["value"] is None


@pytest.mark.parametrize("prefix", ["", ".updates"])
def test_records_of_a_subdomain_are_qualified_once(prefix: str) -> None:
    """Resend names a subdomain's records relative to the apex (``send.updates``); bare names work too."""
    resource = {
        "records": [
            {"record": "SPF", "name": f"send{prefix}", "type": "TXT", "value": "v=spf1 include:amazonses.com ~all"},
            {"record": "DKIM", "name": f"resend._domainkey{prefix}", "type": "TXT", "value": "p=QUJD"},
        ]
    }
    names = [r.name for r in records_from_resend("updates.example.com", resource)]
    assert names == ["send.updates.example.com", "resend._domainkey.updates.example.com", "_dmarc.updates.example.com"]
