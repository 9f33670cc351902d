"""Judging published records (contact_sdk.ops.dns.records checks), with an in-process resolver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from contact_sdk.ops.dns.records import (
    CheckStatus,
    DnsRecord,
    LookupOutcome,
    RecordKind,
    TxtLookup,
    check_dkim,
    check_dmarc,
    check_domain,
    check_mx,
    check_spf,
    count_spf_lookups,
    format_check_table,
)

DOMAIN = "example.com"
SPF_NAME = "send.example.com"  # Resend's return path: SPF and MX live on the send subdomain
GOOD_ZONE: dict[str, list[str]] = {
    "example.com": ["google-site-verification=abc"],
    "send.example.com": ["v=spf1 include:amazonses.com ~all"],
    "amazonses.com": ["v=spf1 ip4:199.255.192.0/22 ip4:199.127.232.0/22 -all"],
    "resend._domainkey.example.com": ["p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDNkeyQIDAQAB=="],
    "_dmarc.example.com": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"],
}
GOOD_MX: dict[str, list[str]] = {"send.example.com": ["10 feedback-smtp.us-east-1.amazonses.com"]}


class FakeResolver:
    """A TxtResolver answering TXT and MX from dicts, with chosen names timing out or failing."""

    def __init__(
        self,
        zone: Mapping[str, Sequence[str]],
        *,
        mx: Mapping[str, Sequence[str]] | None = None,
        cname: Mapping[str, str] | None = None,
        timeout: Sequence[str] = (),
        failure: Sequence[str] = (),
    ) -> None:
        self.zone = zone
        self.mx = GOOD_MX if mx is None else mx
        self.cname = dict(cname or {})
        self.timeout = set(timeout)
        self.failure = set(failure)

    def lookup_txt(self, name: str) -> TxtLookup:
        """Answer like DnspythonResolver would."""
        return self._lookup(name, self.zone, "TXT")

    def lookup_mx(self, name: str) -> TxtLookup:
        """Answer like DnspythonResolver would."""
        return self._lookup(name, self.mx, "MX")

    def lookup_cname(self, name: str) -> TxtLookup:
        """Answer like DnspythonResolver would: the target, lower case, no trailing dot."""
        return self._lookup(name, {k: [v] for k, v in self.cname.items()}, "CNAME")

    def _lookup(self, name: str, table: Mapping[str, Sequence[str]], rdtype: str) -> TxtLookup:
        if name in self.timeout:
            return TxtLookup(name, LookupOutcome.TIMEOUT, detail="no answer within 5 s", rdtype=rdtype)
        if name in self.failure:
            return TxtLookup(name, LookupOutcome.FAILURE, detail="SERVFAIL from 127.0.0.1", rdtype=rdtype)
        if name not in self.zone and name not in self.mx and name not in self.cname:
            return TxtLookup(name, LookupOutcome.NXDOMAIN, rdtype=rdtype)
        records = tuple(table.get(name, ()))
        return TxtLookup(name, LookupOutcome.ANSWER if records else LookupOutcome.NO_ANSWER, records, rdtype=rdtype)


def spf(*records: str, **extra: list[str]) -> tuple[CheckStatus, str]:
    """Check SPF with the given return-path records (and extra names to resolve includes)."""
    zone = {**GOOD_ZONE, **extra, SPF_NAME: list(records)}
    resolver = FakeResolver(zone)
    result = check_spf(resolver.lookup_txt(SPF_NAME), resolver.lookup_txt)
    return result.status, result.reason


def answer(name: str, *records: str) -> TxtLookup:
    """A successful lookup of ``records`` at ``name``."""
    return TxtLookup(name, LookupOutcome.ANSWER, records)


def test_good_zone_is_all_ok() -> None:
    """A correctly published domain passes every check, and the SPF reason counts its lookups."""
    results = check_domain(DOMAIN, FakeResolver(GOOD_ZONE))
    assert [(r.kind, r.name, r.status) for r in results] == [
        (RecordKind.MX, "send.example.com", CheckStatus.OK),
        (RecordKind.SPF, "send.example.com", CheckStatus.OK),
        (RecordKind.DKIM, "resend._domainkey.example.com", CheckStatus.OK),
        (RecordKind.DMARC, "_dmarc.example.com", CheckStatus.OK),
    ]
    assert "(1 DNS lookup)" in results[1].reason


def test_two_spf_records_are_a_permerror() -> None:
    """Two v=spf1 records at one name are wrong, citing RFC 7208."""
    status, reason = spf("v=spf1 include:amazonses.com ~all", "v=spf1 include:_spf.google.com ~all")
    assert status is CheckStatus.WRONG
    assert "2 SPF records" in reason
    assert "RFC 7208" in reason


@pytest.mark.parametrize("all_term", ["+all", "all"])
def test_plus_all_is_wrong(all_term: str) -> None:
    """``+all`` (or a bare ``all``) authorises everyone and is reported as wrong."""
    status, reason = spf(f"v=spf1 include:amazonses.com {all_term}")
    assert status is CheckStatus.WRONG
    assert "+all" in reason


def test_spf_without_resend_include_is_wrong() -> None:
    """An SPF record that does not include amazonses.com does not authorise Resend (it sends through SES)."""
    status, reason = spf("v=spf1 mx ~all")
    assert status is CheckStatus.WRONG
    assert "include:amazonses.com" in reason


def test_spf_include_with_fail_qualifier_does_not_count() -> None:
    """``-include:amazonses.com`` fails Resend's servers instead of authorising them."""
    status, _ = spf("v=spf1 -include:amazonses.com ~all")
    assert status is CheckStatus.WRONG


def test_missing_spf_record_is_missing() -> None:
    """TXT records without v=spf1 mean SPF is missing."""
    status, reason = spf("google-site-verification=abc")
    assert status is CheckStatus.MISSING
    assert "v=spf1" in reason


def test_more_than_ten_lookups_is_a_permerror() -> None:
    """Counting nested includes past 10 DNS lookups reports a permerror."""
    nested = {f"spf{i}.example.net": [f"v=spf1 a mx include:spf{i + 1}.example.net ~all"] for i in range(5)}
    nested["spf5.example.net"] = ["v=spf1 -all"]
    status, reason = spf("v=spf1 include:amazonses.com include:spf0.example.net ~all", **nested)
    assert status is CheckStatus.WRONG
    assert "more than 10 DNS lookups" in reason


def test_lookup_count_follows_includes_and_redirect() -> None:
    """include and redirect are followed; a, mx, ptr and exists count one each; ip4 and all count none."""
    zone = {"inc.example": ["v=spf1 a mx ip4:192.0.2.1 -all"], "red.example": ["v=spf1 exists:%{i}.x ptr -all"]}
    count, problems = count_spf_lookups(
        "v=spf1 include:inc.example ip6:2001:db8::1 redirect=red.example", FakeResolver(zone).lookup_txt
    )
    assert (count, problems) == (6, [])


def test_include_without_spf_record_is_a_permerror() -> None:
    """An include pointing at a name without an SPF record is wrong (RFC 7208 §5.2)."""
    status, reason = spf("v=spf1 include:amazonses.com include:nothing.example ~all")
    assert status is CheckStatus.WRONG
    assert "include:nothing.example has no SPF record" in reason


def test_include_that_times_out_is_only_a_warning() -> None:
    """An include that cannot be looked up leaves the count incomplete: a warning, not a failure."""
    resolver = FakeResolver(GOOD_ZONE, timeout=["amazonses.com"])
    result = check_spf(resolver.lookup_txt(SPF_NAME), resolver.lookup_txt)
    assert result.status is CheckStatus.WARNING
    assert "count incomplete" in result.reason


def test_include_loop_is_reported() -> None:
    """An include that leads back to itself is reported instead of recursing forever."""
    status, reason = spf(
        "v=spf1 include:amazonses.com include:loop.example ~all", **{"loop.example": ["v=spf1 include:loop.example"]}
    )
    assert status is CheckStatus.WRONG
    assert "loop" in reason


def test_neutral_all_is_a_warning() -> None:
    """``?all`` passes but is flagged as giving no protection."""
    status, _ = spf("v=spf1 include:amazonses.com ?all")
    assert status is CheckStatus.WARNING


def test_missing_dkim_key() -> None:
    """No TXT at the selector's name is missing, saying NXDOMAIN."""
    result = check_dkim(TxtLookup("resend._domainkey.example.com", LookupOutcome.NXDOMAIN))
    assert result.status is CheckStatus.MISSING
    assert "NXDOMAIN" in result.reason


def test_empty_dkim_key_is_wrong() -> None:
    """``p=`` with no key means the key is revoked: wrong."""
    result = check_dkim(answer("resend._domainkey.example.com", "v=DKIM1; k=rsa; p="))
    assert result.status is CheckStatus.WRONG
    assert "empty p=" in result.reason


@pytest.mark.parametrize(
    ("record", "needle"),
    [("v=DKIM1; k=rsa", "no p="), ("v=DKIM2; p=QUJD", "DKIM1"), ("p=not*base64", "base64"), ("k=dsa; p=QUJD", "k=dsa")],
)
def test_malformed_dkim_records_are_reported(record: str, needle: str) -> None:
    """A DKIM record without a key, with a wrong version, bad base64 or key type is not OK."""
    result = check_dkim(answer("resend._domainkey.example.com", record))
    assert result.status.failed
    assert needle in result.reason


def test_two_dkim_records_are_wrong() -> None:
    """Two keys at one selector are ambiguous."""
    result = check_dkim(answer("resend._domainkey.example.com", "p=QUJD", "p=REVG"))
    assert result.status is CheckStatus.WRONG


def test_dmarc_missing() -> None:
    """No record at _dmarc is missing."""
    result = check_dmarc(TxtLookup("_dmarc.example.com", LookupOutcome.NO_ANSWER))
    assert result.status is CheckStatus.MISSING
    assert "no TXT record" in result.reason


def test_dmarc_p_none_is_monitor_only_warning() -> None:
    """``p=none`` is a warning saying monitoring only, and does not fail the check."""
    result = check_dmarc(answer("_dmarc.example.com", "v=DMARC1; p=none; rua=mailto:d@example.com"))
    assert result.status is CheckStatus.WARNING
    assert not result.status.failed
    assert "monitor-only" in result.reason


def test_multiple_dmarc_records_are_wrong() -> None:
    """Two DMARC records make receivers ignore DMARC."""
    result = check_dmarc(answer("_dmarc.example.com", "v=DMARC1; p=reject", "v=DMARC1; p=none"))
    assert result.status is CheckStatus.WRONG
    assert "RFC 7489" in result.reason


@pytest.mark.parametrize("record", ["v=DMARC1; rua=mailto:d@example.com", "v=DMARC1; p=block"])
def test_dmarc_without_valid_policy_is_wrong(record: str) -> None:
    """A DMARC record without a valid p= is wrong."""
    assert check_dmarc(answer("_dmarc.example.com", record)).status is CheckStatus.WRONG


def test_mx_must_point_at_the_expected_feedback_host() -> None:
    """The return-path MX: the expected host passes; another region or host is wrong; none is missing."""
    host = "feedback-smtp.eu-west-1.amazonses.com"
    name = "send.example.com"
    assert check_mx(TxtLookup(name, LookupOutcome.ANSWER, (f"10 {host}",), rdtype="MX"), host).status is CheckStatus.OK
    other = check_mx(TxtLookup(name, LookupOutcome.ANSWER, ("10 feedback-smtp.us-east-1.amazonses.com",)), host)
    assert other.status is CheckStatus.WRONG
    assert host in other.reason
    missing = check_mx(TxtLookup(name, LookupOutcome.NXDOMAIN, rdtype="MX"), host)
    assert missing.status is CheckStatus.MISSING
    assert missing.reason == "send.example.com does not exist (NXDOMAIN)"
    none = check_mx(TxtLookup(name, LookupOutcome.NO_ANSWER, rdtype="MX"))
    assert none.reason == "no MX record at send.example.com"


def test_mx_without_an_expected_host_takes_any_ses_feedback_host() -> None:
    """Offline the region may be unknown: any feedback-smtp.<region>.amazonses.com passes, a mail host does not."""
    ses = TxtLookup("send.example.com", LookupOutcome.ANSWER, ("10 feedback-smtp.sa-east-1.amazonses.com",))
    assert check_mx(ses).status is CheckStatus.OK
    google = TxtLookup("send.example.com", LookupOutcome.ANSWER, ("1 aspmx.l.google.com",))
    assert check_mx(google).status is CheckStatus.WRONG


def test_dkim_must_be_the_key_resend_issued() -> None:
    """With the value Resend lists, another well-formed key is wrong; the same key is OK."""
    published = answer("resend._domainkey.example.com", "p=QUJD")
    assert check_dkim(published, "p=QUJD").status is CheckStatus.OK
    other = check_dkim(published, "p=REVG")
    assert other.status is CheckStatus.WRONG
    assert "not the key Resend issued" in other.reason


def test_lookup_timeout_and_failure_are_errors() -> None:
    """A time-out or SERVFAIL is an error (the check fails) with the reason in words."""
    resolver = FakeResolver(GOOD_ZONE, timeout=["_dmarc.example.com"], failure=["resend._domainkey.example.com"])
    results = {r.kind: r for r in check_domain(DOMAIN, resolver)}
    assert results[RecordKind.DMARC].status is CheckStatus.ERROR
    assert "timed out" in results[RecordKind.DMARC].reason
    assert results[RecordKind.DKIM].status is CheckStatus.ERROR
    assert "SERVFAIL" in results[RecordKind.DKIM].reason


def test_each_dkim_selector_is_checked() -> None:
    """Every selector asked for gets its own result; ``resend`` (expected anyway) is checked once."""
    results = check_domain(DOMAIN, FakeResolver(GOOD_ZONE), dkim_selectors=["resend", "resend2"])
    dkim = [r for r in results if r.kind is RecordKind.DKIM]
    assert [(r.name, r.status) for r in dkim] == [
        ("resend._domainkey.example.com", CheckStatus.OK),
        ("resend2._domainkey.example.com", CheckStatus.MISSING),
    ]


def test_check_table_has_a_line_per_record_and_a_summary() -> None:
    """The report lists status, record, name and reason, then counts per status."""
    zone = {**GOOD_ZONE, "_dmarc.example.com": ["v=DMARC1; p=none; rua=mailto:d@example.com"]}
    table = format_check_table(check_domain(DOMAIN, FakeResolver(zone)))
    lines = table.splitlines()
    assert lines[0].split() == ["STATUS", "RECORD", "NAME", "REASON"]
    assert lines[4].startswith("WARNING")
    assert lines[-1] == "3 ok, 1 warning"


TOKENS = ("nu22pfdfqaxdybogtw3ebaokmalv5mxg", "qklz5ozk742hhql3vmekdu3pr4f5ggsj", "eeaemodxoao5hxwjvhywx4bo5mswjw6v")
CNAME_RECORDS = [
    DnsRecord(RecordKind.MX, "send.example.com", "feedback-smtp.us-east-1.amazonses.com", "mx", 300, "MX", 10),
    DnsRecord(RecordKind.SPF, "send.example.com", "v=spf1 include:amazonses.com ~all", "spf", 300),
    *(
        DnsRecord(RecordKind.DKIM, f"{t}._domainkey.example.com", f"{t}.dkim.amazonses.com", "dkim", 300, "CNAME")
        for t in TOKENS
    ),
]
PUBLISHED_CNAMES = {f"{t}._domainkey.example.com": f"{t}.dkim.amazonses.com" for t in TOKENS}


def dkim_results(resolver: FakeResolver, records: Sequence[DnsRecord] = CNAME_RECORDS) -> list[tuple[str, CheckStatus]]:
    return [(r.name, r.status) for r in check_domain(DOMAIN, resolver, records=records) if r.kind is RecordKind.DKIM]


def test_the_three_dkim_cnames_are_each_checked() -> None:
    """Resend's CNAMEs, published as listed: one ok per CNAME."""
    results = dkim_results(FakeResolver(GOOD_ZONE, cname=PUBLISHED_CNAMES))
    assert results == [(f"{t}._domainkey.example.com", CheckStatus.OK) for t in TOKENS]


def test_unpublished_dkim_cnames_fail_the_check() -> None:
    """The issue's case: SPF and MX in place, no DKIM CNAME: each is missing, so the check fails (exit 1)."""
    results = check_domain(DOMAIN, FakeResolver(GOOD_ZONE), records=CNAME_RECORDS)
    dkim = [r for r in results if r.kind is RecordKind.DKIM]
    assert [r.status for r in dkim] == [CheckStatus.MISSING] * 3
    assert "Resend cannot sign with this key until it is published" in dkim[0].reason
    assert any(r.status.failed for r in results)


def test_a_cname_to_another_target_is_wrong() -> None:
    """A CNAME pointing elsewhere (a typo, another account's token) is wrong, both targets named."""
    published = {**PUBLISHED_CNAMES, f"{TOKENS[0]}._domainkey.example.com": "abc.dkim.amazonses.com"}
    (first, *_) = [
        r
        for r in check_domain(DOMAIN, FakeResolver(GOOD_ZONE, cname=published), records=CNAME_RECORDS)
        if r.kind is RecordKind.DKIM
    ]
    assert first.status is CheckStatus.WRONG
    assert (
        first.reason
        == f"CNAME to abc.dkim.amazonses.com, not to {TOKENS[0]}.dkim.amazonses.com (the target Resend lists)"
    )


def test_records_without_any_dkim_fail() -> None:
    """An expected layout with no DKIM at all is not a pass: DKIM is missing."""
    results = check_domain(DOMAIN, FakeResolver(GOOD_ZONE, cname=PUBLISHED_CNAMES), records=CNAME_RECORDS[:2])
    (dkim,) = [r for r in results if r.kind is RecordKind.DKIM]
    assert dkim.status is CheckStatus.MISSING
    assert dkim.name == "*._domainkey.example.com"


def test_offline_without_a_legacy_key_says_dkim_cannot_be_known() -> None:
    """Offline, with no TXT key at resend._domainkey, DKIM is missing and the reason says how to check it."""
    zone = {k: v for k, v in GOOD_ZONE.items() if not k.startswith("resend._domainkey")}
    (dkim,) = [r for r in check_domain(DOMAIN, FakeResolver(zone)) if r.kind is RecordKind.DKIM]
    assert dkim.status is CheckStatus.MISSING
    assert "cannot be known offline" in dkim.reason
    assert "--api-key" in dkim.reason


def test_a_named_selector_may_be_a_cname() -> None:
    """--dkim-selector on a CNAME selector: a CNAME to SES is ok, to anything else wrong."""
    resolver = FakeResolver(
        GOOD_ZONE,
        cname={"s1._domainkey.example.com": "s1.dkim.amazonses.com", "s2._domainkey.example.com": "mail.example.net"},
    )
    results = check_domain(DOMAIN, resolver, dkim_selectors=["s1", "s2"])
    named = {r.name: r.status for r in results if r.name.startswith(("s1.", "s2."))}
    assert named == {"s1._domainkey.example.com": CheckStatus.OK, "s2._domainkey.example.com": CheckStatus.WRONG}
