"""DNS records for email authentication with Resend: what to publish, and whether it is published right.

Two halves:

- **Generation** (pure): the records come from Resend's domains API when it can be asked
  (:func:`records_from_resend` turns a ``GET /domains/{id}`` answer into records, keeping each
  record's verification status): an MX record (``feedback-smtp.<region>.amazonses.com``, priority 10)
  and an SPF TXT record (``v=spf1 include:amazonses.com ~all``) on the return-path subdomain (``send``
  unless the domain was created with another ``custom_return_path``), and DKIM: three CNAMEs
  ``<token>._domainkey`` -> ``<token>.dkim.amazonses.com`` for domains Resend sets up today, or the
  legacy TXT key at ``resend._domainkey`` for older ones. Offline, :func:`build_records` returns that
  layout as a guess: the DKIM names and targets are only in Resend, so they are placeholders (or the
  legacy key given with ``dkim_value``). Both add the DMARC advice at ``_dmarc`` (Resend does not
  publish DMARC for you). :func:`format_table`, :func:`format_zone` and :func:`records_as_json`
  render them. Zone-file TXT values are quoted and split into strings of at most 255 octets, as
  RFC 1035 requires.
- **Checking**: :func:`check_domain` asks a :class:`TxtResolver` for each expected record and judges
  the answers with pure functions (:func:`check_spf`, :func:`check_mx`, :func:`check_dkim`,
  :func:`check_dkim_cname`, :func:`check_dmarc`), one :class:`CheckResult` per record: ok, warning,
  missing, wrong, or error (the lookup itself failed). :class:`DnspythonResolver` is the real
  resolver; tests pass a resolver pointed at a DNS server they run on loopback.

Example::

    records = build_records("example.com", dkim_value="MIGfMA0GCSq...", dmarc_policy=DmarcPolicy.QUARANTINE)
    print(format_zone(records))
    results = check_domain("example.com", DnspythonResolver(nameservers=["1.1.1.1"]), records=records)
    failed = [r for r in results if r.status.failed]

dnspython is imported only by :class:`DnspythonResolver`, so generating records (and the Lambda
function, which never imports this module) does not pay for it.

Errors::

    ContactSdkError
    ├── DnsInputError               a domain, selector or record value (given, or read from Resend) is malformed
    └── ResolverUnavailableError    no resolver can be built (dnspython missing, no system resolver)
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from contact_sdk.errors import ContactSdkError

__all__ = [
    "DEFAULT_DKIM_SELECTORS",
    "DEFAULT_REGION",
    "DEFAULT_TTL",
    "DKIM_CNAME_SUFFIX",
    "RESEND_SPF_INCLUDE",
    "RETURN_PATH_SUBDOMAIN",
    "SPF_LOOKUP_LIMIT",
    "TXT_STRING_LIMIT",
    "CheckResult",
    "CheckStatus",
    "DmarcPolicy",
    "DnsInputError",
    "DnsRecord",
    "DnspythonResolver",
    "LookupOutcome",
    "RecordKind",
    "ResolverUnavailableError",
    "TxtLookup",
    "TxtResolver",
    "build_records",
    "check_dkim",
    "check_dkim_cname",
    "check_dmarc",
    "check_domain",
    "check_mx",
    "check_spf",
    "count_spf_lookups",
    "dkim_record_value",
    "dmarc_record",
    "dmarc_record_value",
    "format_check_table",
    "format_table",
    "format_zone",
    "is_placeholder",
    "normalize_domain",
    "normalize_return_path",
    "normalize_selector",
    "records_as_json",
    "records_from_resend",
    "return_path_mx",
    "split_txt_value",
]

#: The SPF include Resend's setup asks for on the return-path subdomain (Resend sends through Amazon SES).
RESEND_SPF_INCLUDE = "amazonses.com"
#: The subdomain Resend uses as the return path (MAIL FROM) unless the domain has a custom one: MX and SPF live there.
RETURN_PATH_SUBDOMAIN = "send"
#: Where Resend's DKIM CNAMEs point (Amazon SES Easy DKIM): ``<token>._domainkey`` -> ``<token>.dkim.amazonses.com``.
DKIM_CNAME_SUFFIX = "dkim.amazonses.com"
#: How many DKIM CNAMEs Resend lists for a domain.
DKIM_CNAME_COUNT = 3
#: The region a Resend domain sends from unless created elsewhere.
DEFAULT_REGION = "us-east-1"
#: Preference of the return-path MX record, as Resend lists it.
RETURN_PATH_MX_PRIORITY = 10
#: TTL of every generated record, in seconds (the architecture's value).
DEFAULT_TTL = 300
#: DKIM selectors Resend uses; ``resend2`` only when Resend issued a second key.
DEFAULT_DKIM_SELECTORS = ("resend",)
#: RFC 7208 §4.6.4: more DNS-querying terms than this make SPF evaluation a permerror.
SPF_LOOKUP_LIMIT = 10
#: RFC 1035 §3.3: one TXT character-string holds at most 255 octets.
TXT_STRING_LIMIT = 255

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}))*")
_DNS_QUERYING_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
_SPF_MECHANISMS = _DNS_QUERYING_MECHANISMS | {"all", "ip4", "ip6"}
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)")
_MECHANISM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9]*)([:/].*)?")


class DnsInputError(ContactSdkError, ValueError):
    """A domain name, DKIM selector or record value given by the operator is malformed."""


class ResolverUnavailableError(ContactSdkError):
    """No resolver can be built: dnspython is not installed, or no system resolver is configured."""


# --- names ---------------------------------------------------------------------------------------


def normalize_domain(text: str) -> str:
    """Return ``text`` as a lower-case ASCII domain name without trailing dot, or raise :class:`DnsInputError`.

    Internationalised names are converted to their ``xn--`` form.

    >>> normalize_domain("Example.COM.")
    'example.com'
    >>> normalize_domain("bücher.example")
    'xn--bcher-kva.example'
    """
    candidate = text.strip()
    candidate = candidate.removesuffix(".")
    if not candidate:
        raise DnsInputError("the domain name is empty")
    try:
        ascii_name = candidate.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise DnsInputError(f"{text!r} is not a valid domain name (empty or over-long label)") from exc
    if len(ascii_name) > 253:
        raise DnsInputError(f"{text!r} is longer than 253 characters")
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise DnsInputError(
            f"{text!r} is not a registrable domain name: expected at least two labels, like example.com"
        )
    for label in labels:
        if _LABEL.fullmatch(label) is None:
            raise DnsInputError(
                f"{text!r} is not a valid domain name: label {label!r} must be 1-63 letters, digits or hyphens,"
                " not starting or ending with a hyphen"
            )
    if labels[-1].isdigit():
        raise DnsInputError(f"{text!r} looks like an IP address, not a domain name")
    return ascii_name


def normalize_return_path(text: str) -> str:
    """A return-path subdomain label (``send``, ``bounces``): one DNS label, lower case; :class:`DnsInputError`.

    >>> normalize_return_path("Bounces")
    'bounces'
    """
    label = text.strip().lower()
    if _LABEL.fullmatch(label) is None:
        raise DnsInputError(f"{text!r} is not a subdomain label (letters, digits and -, like send or bounces)")
    return label


def normalize_selector(text: str) -> str:
    """Return a DKIM selector (``resend``, ``resend2``) or raise :class:`DnsInputError`."""
    selector = text.strip().lower()
    if _SELECTOR.fullmatch(selector) is None:
        raise DnsInputError(f"{text!r} is not a valid DKIM selector")
    return selector


# --- generation ----------------------------------------------------------------------------------


class RecordKind(enum.StrEnum):
    """What a record is for."""

    SPF = "spf"
    MX = "mx"
    DKIM = "dkim"
    DMARC = "dmarc"


class DmarcPolicy(enum.StrEnum):
    """DMARC ``p=``: what receivers do with mail failing authentication."""

    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One record to publish. ``value`` is ``None`` when only Resend's dashboard knows it (a placeholder).

    ``name`` is the fully qualified name without trailing dot; ``priority`` is an MX record's
    preference; ``status`` is Resend's verdict on the record (``verified``, ``pending``...) when the
    record was read from its domains API, ``None`` for generated records.
    """

    kind: RecordKind
    name: str
    value: str | None
    hint: str
    ttl: int = DEFAULT_TTL
    type: str = "TXT"
    priority: int | None = None
    status: str | None = None

    def rdata(self) -> str | None:
        """The value as a zone file or dashboard wants it: ``10 host`` for MX, the text for TXT."""
        if self.value is None or self.priority is None:
            return self.value
        return f"{self.priority} {self.value}"

    def host(self, domain: str) -> str:
        """The name relative to ``domain``, as DNS hosting dashboards ask for it (``@`` for the apex)."""
        if self.name == domain:
            return "@"
        return self.name.removesuffix("." + domain)


def dkim_record_value(text: str) -> str:
    """The DKIM TXT value for what Resend shows: a bare base64 key becomes ``k=rsa; p=<key>``.

    A value already in tag form (containing ``p=``) is kept, with whitespace inside tags removed.
    Raises :class:`DnsInputError` if the key is not base64.

    >>> dkim_record_value("MIGfMA0G CSqG")
    'k=rsa; p=MIGfMA0GCSqG'
    """
    cleaned = text.strip().strip('"')
    tags = _parse_tags(cleaned) if "=" in cleaned else {"k": "rsa", "p": "".join(cleaned.split())}
    key = tags.get("p")
    if not key:
        raise DnsInputError("the DKIM value has no public key (p=)")
    try:
        base64.b64decode(key, validate=True)
    except binascii.Error as exc:
        raise DnsInputError("the DKIM public key is not valid base64") from exc
    return "; ".join(f"{tag}={value}" for tag, value in tags.items())


def dmarc_record_value(policy: DmarcPolicy, rua: str | None) -> str:
    """The DMARC TXT value for ``policy``, sending aggregate reports to ``rua`` (``mailto:`` URIs) if given.

    >>> dmarc_record_value(DmarcPolicy.NONE, "mailto:dmarc@example.com")
    'v=DMARC1; p=none; rua=mailto:dmarc@example.com'
    """
    if rua is None:
        return f"v=DMARC1; p={policy.value}"
    uris = [uri.strip() for uri in rua.split(",")]
    for uri in uris:
        if not uri.lower().startswith("mailto:") or "@" not in uri or any(c.isspace() or c in ';"' for c in uri):
            raise DnsInputError(f"DMARC rua {uri!r} must be a mailto: address, like mailto:dmarc@example.com")
    return f"v=DMARC1; p={policy.value}; rua={','.join(uris)}"


def return_path_mx(region: str = DEFAULT_REGION) -> str:
    """The return-path MX host Resend asks for in ``region``.

    >>> return_path_mx("eu-west-1")
    'feedback-smtp.eu-west-1.amazonses.com'
    """
    if re.fullmatch(r"[a-z]{2}-[a-z]+-\d", region) is None:
        raise DnsInputError(f"{region!r} is not an AWS region name like us-east-1")
    return f"feedback-smtp.{region}.amazonses.com"


def build_records(
    domain: str,
    *,
    region: str = DEFAULT_REGION,
    return_path: str = RETURN_PATH_SUBDOMAIN,
    dkim_value: str | None = None,
    dkim2_value: str | None = None,
    dmarc_policy: DmarcPolicy = DmarcPolicy.NONE,
    dmarc_rua: str | None = "",
    ttl: int = DEFAULT_TTL,
) -> tuple[DnsRecord, ...]:
    """Resend's documented records for ``domain`` (offline, a guess without asking its API), then DMARC. Pure.

    MX and SPF go on ``<return_path>.<domain>``. DKIM: Resend sets new domains up with three CNAMEs whose
    names and targets only it knows, so without ``dkim_value`` they are one placeholder (``value=None``,
    type CNAME). ``dkim_value`` is an older domain's legacy TXT key at ``resend._domainkey`` (and
    ``dkim2_value`` a second one at ``resend2``). ``dmarc_rua`` defaults (``""``) to ``mailto:dmarc@<domain>``;
    ``None`` leaves reports out.
    """
    domain = normalize_domain(domain)
    return_path = f"{normalize_return_path(return_path)}.{domain}"
    records = [
        DnsRecord(
            RecordKind.MX,
            return_path,
            return_path_mx(region),
            "return path: bounces and complaints come back through it",
            ttl,
            "MX",
            RETURN_PATH_MX_PRIORITY,
        ),
        DnsRecord(
            RecordKind.SPF, return_path, f"v=spf1 include:{RESEND_SPF_INCLUDE} ~all", "authorises Resend (SES)", ttl
        ),
    ]
    if dkim_value is None:
        records.append(
            DnsRecord(
                RecordKind.DKIM,
                f"<token>._domainkey.{domain}",
                None,
                f"{DKIM_CNAME_COUNT} CNAMEs to <token>.{DKIM_CNAME_SUFFIX}: names and targets from Resend (--api-key)",
                ttl,
                "CNAME",
            )
        )
    else:
        records.append(
            DnsRecord(
                RecordKind.DKIM,
                f"resend._domainkey.{domain}",
                dkim_record_value(dkim_value),
                "legacy DKIM key (TXT) from the Resend dashboard",
                ttl,
            )
        )
    if dkim2_value is not None:
        records.append(
            DnsRecord(
                RecordKind.DKIM,
                f"resend2._domainkey.{domain}",
                dkim_record_value(dkim2_value),
                "second DKIM key",
                ttl,
            )
        )
    records.append(dmarc_record(domain, dmarc_policy, dmarc_rua, ttl))
    return tuple(records)


def dmarc_record(
    domain: str, policy: DmarcPolicy = DmarcPolicy.NONE, rua: str | None = "", ttl: int = DEFAULT_TTL
) -> DnsRecord:
    """The DMARC record to add beside Resend's records; ``rua=""`` means ``mailto:dmarc@<domain>``."""
    domain = normalize_domain(domain)
    reports = f"mailto:dmarc@{domain}" if rua == "" else rua
    hint = "DMARC policy (advice: start at p=none, move to quarantine/reject once reports are clean)"
    return DnsRecord(RecordKind.DMARC, f"_dmarc.{domain}", dmarc_record_value(policy, reports), hint, ttl)


def _qualify(name: str, domain: str) -> str:
    """A record name as Resend lists it, fully qualified.

    Resend names records relative to the zone apex: for ``updates.example.com`` it lists
    ``send.updates``; for ``example.com``, ``send``. Either way the answer is ``send.updates.example.com``
    / ``send.example.com``.

    >>> _qualify("send.updates", "updates.example.com"), _qualify("send", "updates.example.com")
    ('send.updates.example.com', 'send.updates.example.com')
    """
    if not name or name == domain or name.endswith("." + domain):
        return name or domain
    labels = domain.split(".")
    for cut in range(len(labels) - 2, 0, -1):
        if name.endswith("." + ".".join(labels[:cut])):
            return f"{name}.{'.'.join(labels[cut:])}"
    return f"{name}.{domain}"


_RESEND_KINDS = {
    ("SPF", "MX"): RecordKind.MX,
    ("SPF", "TXT"): RecordKind.SPF,
    ("DKIM", "TXT"): RecordKind.DKIM,
    ("DKIM", "CNAME"): RecordKind.DKIM,
}


def records_from_resend(
    domain: str,
    resource: object,
    *,
    dmarc_policy: DmarcPolicy = DmarcPolicy.NONE,
    dmarc_rua: str | None = "",
    ttl: int = DEFAULT_TTL,
) -> tuple[DnsRecord, ...]:
    """The records Resend's ``GET /domains/{id}`` answer lists for ``domain``, then the DMARC advice.

    Resend names records relative to the domain (``send``, ``<token>._domainkey``) and quotes SPF
    values; both are normalised. DKIM is read in both of Resend's layouts: CNAMEs (``type: CNAME``, today's)
    and the legacy TXT key. Records Resend lists for features this tool does not set up (receiving, tracking)
    are skipped. A malformed answer raises :class:`DnsInputError`.
    """
    domain = normalize_domain(domain)
    if not isinstance(resource, dict) or not isinstance(resource.get("records"), list):
        raise DnsInputError("Resend's domain answer has no `records` list")
    records: list[DnsRecord] = []
    for item in resource["records"]:
        if not isinstance(item, dict) or not all(isinstance(item.get(key), str) for key in ("record", "type", "name")):
            raise DnsInputError(f"Resend listed a record without string `record`, `type` and `name`: {item!r}")
        kind = _RESEND_KINDS.get((item["record"], item["type"]))
        if kind is None:
            continue
        value = item.get("value")
        if not isinstance(value, str) or not value.strip():
            raise DnsInputError(f"Resend listed the {item['type']} record {item['name']!r} without a value")
        priority = item.get("priority")
        if kind is RecordKind.MX and (not isinstance(priority, int) or isinstance(priority, bool)):
            raise DnsInputError(f"Resend listed the MX record {item['name']!r} without a numeric priority")
        fqdn = _qualify(item["name"].strip().rstrip(".").lower(), domain)
        status = item.get("status")
        cname = item["type"] == "CNAME"
        hint = {RecordKind.MX: "return path (MX)", RecordKind.SPF: "SPF", RecordKind.DKIM: "DKIM public key"}[kind]
        if cname:
            hint = "DKIM (CNAME to Amazon SES)"
        host_like = kind is RecordKind.MX or cname
        records.append(
            DnsRecord(
                kind,
                fqdn,
                value.strip().rstrip(".").lower() if host_like else value.strip().strip('"'),
                f"{hint} from Resend",
                ttl,
                item["type"],
                priority if kind is RecordKind.MX else None,
                status if isinstance(status, str) else None,
            )
        )
    if not records:
        raise DnsInputError("Resend's domain answer lists no sending records (MX, SPF, DKIM)")
    records.append(dmarc_record(domain, dmarc_policy, dmarc_rua, ttl))
    return tuple(records)


def is_placeholder(record: DnsRecord) -> bool:
    """Whether ``record`` is offline's stand-in for Resend's DKIM CNAMEs (no real name to look up)."""
    return record.value is None and record.name.startswith("<")


def split_txt_value(value: str) -> list[str]:
    """Split ``value`` into TXT character-strings of at most 255 octets (UTF-8), as zone files need.

    >>> [len(part) for part in split_txt_value("a" * 600)]
    [255, 255, 90]
    """
    encoded = value.encode()
    chunks = [encoded[i : i + TXT_STRING_LIMIT] for i in range(0, len(encoded), TXT_STRING_LIMIT)] or [b""]
    return [chunk.decode("utf-8", errors="surrogateescape") for chunk in chunks]


def _quote_txt_string(part: str) -> str:
    """One zone-file ``<character-string>`` in quotes: backslash and quote escaped, other non-printables as \\DDD."""
    out = []
    for byte in part.encode("utf-8", errors="surrogateescape"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _placeholder(record: DnsRecord) -> str:
    return f"<{record.hint}>"


def format_table(records: Sequence[DnsRecord], domain: str) -> str:
    """A plain-text table (type, host, TTL, value; Resend's status when known) for a DNS dashboard."""
    domain = normalize_domain(domain)
    with_status = any(r.status is not None for r in records)
    rows: list[tuple[str, ...]] = [("TYPE", "HOST", "TTL", *(("STATUS",) if with_status else ()), "VALUE")]
    for r in records:
        status = ((r.status or "-"),) if with_status else ()
        rows.append((r.type, r.host(domain), str(r.ttl), *status, r.rdata() or _placeholder(r)))
    return _columns(rows, header=f"DNS records for {domain} (Resend email authentication)")


def format_zone(records: Sequence[DnsRecord]) -> str:
    """A zone-file snippet (RFC 1035 presentation format) with fully qualified names.

    Long TXT values become several quoted strings on one line. Placeholder records are commented
    out so that importing the snippet never publishes a fake value.
    """
    width = max(len(r.name) + 1 for r in records)
    lines = ["; Email authentication records for Resend, generated by contact-sdk"]
    for record in records:
        owner = (record.name + ".").ljust(width)
        if record.value is None:
            lines.append(f"; {owner} {record.ttl} IN {record.type} {_quote_txt_string(_placeholder(record))}")
            continue
        if record.type == "MX":
            lines.append(f"{owner} {record.ttl} IN MX {record.priority} {record.value}.")
            continue
        if record.type == "CNAME":
            lines.append(f"{owner} {record.ttl} IN CNAME {record.value}.")
            continue
        strings = " ".join(_quote_txt_string(part) for part in split_txt_value(record.value))
        lines.append(f"{owner} {record.ttl} IN {record.type} {strings}")
    return "\n".join(lines)


def records_as_json(records: Sequence[DnsRecord], domain: str) -> dict[str, Any]:
    """The records as a JSON-ready document (for scripts and infrastructure-as-code)."""
    domain = normalize_domain(domain)
    return {
        "domain": domain,
        "records": [
            {
                "kind": r.kind.value,
                "type": r.type,
                "name": r.name,
                "host": r.host(domain),
                "ttl": r.ttl,
                "value": r.value,
                "priority": r.priority,
                "strings": None if r.value is None or r.type != "TXT" else split_txt_value(r.value),
                "status": r.status,
                "hint": r.hint,
            }
            for r in records
        ],
    }


def _columns(rows: Sequence[Sequence[str]], *, header: str | None = None) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [header] if header else []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


# --- lookups -------------------------------------------------------------------------------------


class LookupOutcome(enum.StrEnum):
    """How a TXT lookup ended."""

    ANSWER = "answer"
    NXDOMAIN = "nxdomain"
    NO_ANSWER = "no_answer"
    TIMEOUT = "timeout"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class TxtLookup:
    """The TXT records at ``name`` (each record's strings joined, as SPF, DKIM and DMARC read them).

    ``detail`` explains a timeout or failure (which server, which rcode). The same shape carries an
    MX lookup (``rdtype="MX"``), each record as ``"<preference> <host>"`` without trailing dot.
    """

    name: str
    outcome: LookupOutcome
    records: tuple[str, ...] = ()
    detail: str = ""
    rdtype: str = "TXT"

    def describe(self) -> str:
        """A sentence for a lookup that found nothing or failed."""
        match self.outcome:
            case LookupOutcome.NXDOMAIN:
                return f"{self.name} does not exist (NXDOMAIN)"
            case LookupOutcome.NO_ANSWER:
                return f"no {self.rdtype} record at {self.name}"
            case LookupOutcome.TIMEOUT:
                return f"lookup of {self.name} timed out" + (f": {self.detail}" if self.detail else "")
            case LookupOutcome.FAILURE:
                return f"lookup of {self.name} failed" + (f": {self.detail}" if self.detail else "")
            case _:
                return f"{len(self.records)} {self.rdtype} record(s) at {self.name}"


class TxtResolver(Protocol):
    """Looks up TXT, MX and CNAME records. Never raises for DNS outcomes: they are in :class:`TxtLookup`."""

    def lookup_txt(self, name: str) -> TxtLookup:
        """The TXT records at the fully qualified ``name`` (no trailing dot needed)."""
        ...

    def lookup_mx(self, name: str) -> TxtLookup:
        """The MX records at ``name``, each as ``"<preference> <host>"`` (``rdtype="MX"``)."""
        ...

    def lookup_cname(self, name: str) -> TxtLookup:
        """The CNAME at ``name``: its target, lower case, without trailing dot (``rdtype="CNAME"``)."""
        ...


class DnspythonResolver:
    """A :class:`TxtResolver` backed by dnspython's stub resolver.

    Without ``nameservers`` it uses the system's (``/etc/resolv.conf``). ``timeout`` bounds each
    lookup in total, retries included. Search domains are never appended.

    Example::

        resolver = DnspythonResolver(nameservers=["127.0.0.1"], port=5353, timeout=2.0)
        resolver.lookup_txt("_dmarc.example.com")
    """

    def __init__(self, *, nameservers: Sequence[str] = (), port: int = 53, timeout: float = 5.0) -> None:
        try:
            import dns.resolver  # noqa: PLC0415 - only the check command needs dnspython
        except ImportError as exc:  # pragma: no cover - dnspython is a declared dependency
            raise ResolverUnavailableError(
                "dnspython is not installed; install it with: pip install 'dnspython>=2.6'"
            ) from exc
        try:
            resolver = dns.resolver.Resolver(configure=not nameservers)
        except dns.resolver.NoResolverConfiguration as exc:
            raise ResolverUnavailableError(
                "no system DNS resolver is configured; pass --nameserver <ip address>"
            ) from exc
        resolver.port = port  # before the nameservers: dnspython binds the port when they are set
        if nameservers:
            resolver.nameservers = list(nameservers)
        resolver.timeout = timeout
        resolver.lifetime = timeout
        self._resolver = resolver
        self._timeout = timeout

    def lookup_txt(self, name: str) -> TxtLookup:
        """See :meth:`TxtResolver.lookup_txt`."""
        import dns.rdtypes.ANY.TXT  # noqa: PLC0415 - imported with the resolver above

        def texts(rrset: Iterable[object]) -> tuple[str, ...]:
            return tuple(
                b"".join(rdata.strings).decode("utf-8", errors="replace")
                for rdata in rrset
                if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
            )

        return self._lookup(name, "TXT", texts)

    def lookup_mx(self, name: str) -> TxtLookup:
        """See :meth:`TxtResolver.lookup_mx`."""
        import dns.rdtypes.ANY.MX  # noqa: PLC0415 - imported with the resolver above

        def exchanges(rrset: Iterable[object]) -> tuple[str, ...]:
            return tuple(
                f"{rdata.preference} {rdata.exchange.to_text(omit_final_dot=True).lower()}"
                for rdata in rrset
                if isinstance(rdata, dns.rdtypes.ANY.MX.MX)
            )

        return self._lookup(name, "MX", exchanges)

    def lookup_cname(self, name: str) -> TxtLookup:
        """See :meth:`TxtResolver.lookup_cname`."""
        import dns.rdtypes.ANY.CNAME  # noqa: PLC0415 - imported with the resolver above

        def targets(rrset: Iterable[object]) -> tuple[str, ...]:
            return tuple(
                rdata.target.to_text(omit_final_dot=True).lower()
                for rdata in rrset
                if isinstance(rdata, dns.rdtypes.ANY.CNAME.CNAME)
            )

        return self._lookup(name, "CNAME", targets)

    def _lookup(self, name: str, rdtype: str, read: Callable[[Iterable[object]], tuple[str, ...]]) -> TxtLookup:
        import dns.exception  # noqa: PLC0415 - imported with the resolver above
        import dns.name  # noqa: PLC0415
        import dns.resolver  # noqa: PLC0415

        try:
            answer = self._resolver.resolve(dns.name.from_text(name), rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return TxtLookup(name, LookupOutcome.NXDOMAIN, rdtype=rdtype)
        except dns.resolver.LifetimeTimeout:
            detail = f"no answer within {self._timeout:g} s"
            return TxtLookup(name, LookupOutcome.TIMEOUT, detail=detail, rdtype=rdtype)
        except dns.resolver.NoNameservers as exc:
            return TxtLookup(name, LookupOutcome.FAILURE, detail=_no_nameservers_detail(exc), rdtype=rdtype)
        except dns.exception.DNSException as exc:
            return TxtLookup(name, LookupOutcome.FAILURE, detail=str(exc) or type(exc).__name__, rdtype=rdtype)
        if answer.rrset is None:
            return TxtLookup(name, LookupOutcome.NO_ANSWER, rdtype=rdtype)
        records = read(answer.rrset)
        return TxtLookup(name, LookupOutcome.ANSWER if records else LookupOutcome.NO_ANSWER, records, rdtype=rdtype)


def _no_nameservers_detail(exc: Exception) -> str:
    """``SERVFAIL from 127.0.0.1`` rather than dnspython's long message."""
    # dnspython keeps (server, tcp, port, rcode text or exception, response) per attempt.
    errors = getattr(exc, "kwargs", {}).get("errors", [])
    parts = dict.fromkeys(f"{error[3]} from {str(error[0]).removeprefix('Do53:')}" for error in errors)
    return "; ".join(parts) or "no nameserver answered usefully"


# --- checks --------------------------------------------------------------------------------------


class CheckStatus(enum.StrEnum):
    """The verdict on one record. Missing, wrong and error fail the check; a warning does not."""

    OK = "ok"
    WARNING = "warning"
    MISSING = "missing"
    WRONG = "wrong"
    ERROR = "error"

    @property
    def failed(self) -> bool:
        """Whether this verdict makes ``dns check`` exit non-zero."""
        return self in (CheckStatus.MISSING, CheckStatus.WRONG, CheckStatus.ERROR)


_SEVERITY = {CheckStatus.OK: 0, CheckStatus.WARNING: 1, CheckStatus.MISSING: 2, CheckStatus.WRONG: 3}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict on one record, with the reason in words and the TXT values found."""

    kind: RecordKind
    name: str
    status: CheckStatus
    reason: str
    found: tuple[str, ...] = field(default=())


def _verdict(kind: RecordKind, lookup: TxtLookup, findings: list[tuple[CheckStatus, str]], ok: str) -> CheckResult:
    """Combine findings: the worst status wins, every reason is kept."""
    if not findings:
        return CheckResult(kind, lookup.name, CheckStatus.OK, ok, lookup.records)
    worst = max((status for status, _ in findings), key=_SEVERITY.__getitem__)
    ordered = sorted(findings, key=lambda f: -_SEVERITY[f[0]])
    return CheckResult(kind, lookup.name, worst, "; ".join(text for _, text in ordered), lookup.records)


def _unusable(kind: RecordKind, lookup: TxtLookup) -> CheckResult | None:
    """The result for a lookup that found nothing or failed; ``None`` if it has records to judge."""
    if lookup.outcome in (LookupOutcome.TIMEOUT, LookupOutcome.FAILURE):
        return CheckResult(kind, lookup.name, CheckStatus.ERROR, lookup.describe())
    if lookup.outcome is not LookupOutcome.ANSWER:
        return CheckResult(kind, lookup.name, CheckStatus.MISSING, lookup.describe())
    return None


def _parse_tags(text: str) -> dict[str, str]:
    """``tag=value; tag=value`` (DKIM and DMARC syntax) into a dict; whitespace inside values removed."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        tag, eq, value = part.partition("=")
        if eq and tag.strip():
            tags.setdefault(tag.strip().lower(), "".join(value.split()))
    return tags


def _spf_records(records: Iterable[str]) -> list[str]:
    return [r for r in records if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]


def _spf_terms(record: str) -> list[tuple[str, str, str]]:
    """``(qualifier, name, argument)`` per term; modifiers have qualifier ``"="``.

    >>> _spf_terms("v=spf1 -include:_spf.example.com a/24 redirect=x.example")
    [('-', 'include', ':_spf.example.com'), ('+', 'a', '/24'), ('=', 'redirect', 'x.example')]
    """
    terms = []
    for term in record.split()[1:]:
        modifier = _MODIFIER.fullmatch(term)
        if modifier is not None:
            terms.append(("=", modifier.group(1).lower(), modifier.group(2)))
            continue
        mechanism = _MECHANISM.fullmatch(term)
        if mechanism is None:
            terms.append(("+", term.lower(), ""))  # reported as an unknown mechanism
            continue
        terms.append((mechanism.group(1) or "+", mechanism.group(2).lower(), mechanism.group(3) or ""))
    return terms


def count_spf_lookups(
    record: str, resolve: Callable[[str], TxtLookup], *, _seen: frozenset[str] = frozenset()
) -> tuple[int, list[tuple[CheckStatus, str]]]:
    """Count the DNS-querying terms of an SPF record, following ``include`` and ``redirect`` (RFC 7208 §4.6.4).

    Returns the count (it stops growing past :data:`SPF_LOOKUP_LIMIT`) and problems met on the way:
    an included domain without exactly one SPF record is a permerror (wrong); one that cannot be
    looked up makes the count incomplete (warning).
    """
    count = 0
    problems: list[tuple[CheckStatus, str]] = []
    for qualifier, name, argument in _spf_terms(record):
        is_redirect = qualifier == "=" and name == "redirect"
        if not is_redirect and (qualifier == "=" or name not in _DNS_QUERYING_MECHANISMS):
            continue
        count += 1
        target = argument.removeprefix(":").lower().removesuffix(".")
        if count > SPF_LOOKUP_LIMIT or not (is_redirect or name == "include") or "%" in target or not target:
            continue  # macros cannot be expanded without a sender; a, mx, ptr, exists add no SPF record
        if target in _seen:
            problems.append((CheckStatus.WRONG, f"include loop through {target}"))
            continue
        label = f"redirect={target}" if is_redirect else f"include:{target}"
        lookup = resolve(target)
        if lookup.outcome in (LookupOutcome.TIMEOUT, LookupOutcome.FAILURE):
            problems.append((CheckStatus.WARNING, f"could not follow {label} ({lookup.describe()}): count incomplete"))
            continue
        nested = _spf_records(lookup.records)
        if len(nested) != 1:
            found = "no SPF record" if not nested else f"{len(nested)} SPF records"
            problems.append((CheckStatus.WRONG, f"{label} has {found}: a permerror (RFC 7208 §5.2)"))
            continue
        nested_count, nested_problems = count_spf_lookups(nested[0], resolve, _seen=_seen | {target})
        count += nested_count
        problems += nested_problems
    return count, problems


def check_spf(lookup: TxtLookup, resolve: Callable[[str], TxtLookup] | None = None) -> CheckResult:
    """Judge the return path's TXT records as SPF for Resend. ``resolve`` enables counting nested lookups."""
    if (unusable := _unusable(RecordKind.SPF, lookup)) is not None:
        return unusable
    spf = _spf_records(lookup.records)
    if not spf:
        return CheckResult(
            RecordKind.SPF, lookup.name, CheckStatus.MISSING, f"no TXT record starting with v=spf1 at {lookup.name}"
        )
    if len(spf) > 1:
        reason = f"{len(spf)} SPF records: RFC 7208 §4.5 makes this a permerror; merge them into one"
        return CheckResult(RecordKind.SPF, lookup.name, CheckStatus.WRONG, reason, lookup.records)
    findings: list[tuple[CheckStatus, str]] = []
    terms = _spf_terms(spf[0])
    for qualifier, name, _ in terms:
        if qualifier != "=" and name not in _SPF_MECHANISMS:
            findings.append((CheckStatus.WRONG, f"unknown mechanism {name!r}: a permerror"))
    includes = [(q, a.lstrip(":").lower().removesuffix(".")) for q, n, a in terms if n == "include"]
    if not any(q == "+" and target == RESEND_SPF_INCLUDE for q, target in includes):
        findings.append(
            (CheckStatus.WRONG, f"no include:{RESEND_SPF_INCLUDE}: Resend's (Amazon SES) servers are not authorised")
        )
    all_terms = [q for q, n, _ in terms if n == "all"]
    if "+" in all_terms:
        findings.append((CheckStatus.WRONG, "+all authorises every server on the internet to send as this domain"))
    elif "?" in all_terms:
        findings.append((CheckStatus.WARNING, "?all is neutral: unlisted servers are not refused"))
    elif not all_terms and not any(q == "=" and n == "redirect" for q, n, _ in terms):
        findings.append((CheckStatus.WARNING, "no 'all' term: unlisted servers get a neutral result"))
    count_note = ""
    if resolve is not None:
        count, problems = count_spf_lookups(spf[0], resolve)
        findings += problems
        if count > SPF_LOOKUP_LIMIT:
            findings.append(
                (CheckStatus.WRONG, f"more than {SPF_LOOKUP_LIMIT} DNS lookups: a permerror (RFC 7208 §4.6.4)")
            )
        count_note = f" ({count} DNS lookup{'s' if count != 1 else ''})"
    return _verdict(RecordKind.SPF, lookup, findings, f"{spf[0]}{count_note}")


def check_mx(lookup: TxtLookup, expected: str | None = None) -> CheckResult:
    """Judge the MX records at the return path (``send.<domain>``): ``expected`` host must be among them.

    Without ``expected``, any ``feedback-smtp.<region>.amazonses.com`` host will do.
    """
    if (unusable := _unusable(RecordKind.MX, lookup)) is not None:
        return unusable
    hosts = [record.partition(" ")[2].lower().rstrip(".") for record in lookup.records]
    want = expected.lower().rstrip(".") if expected else None
    if want is not None and want in hosts:
        return CheckResult(RecordKind.MX, lookup.name, CheckStatus.OK, f"MX {want}", lookup.records)
    if want is None and any(re.fullmatch(r"feedback-smtp\.[a-z0-9-]+\.amazonses\.com", h) for h in hosts):
        return CheckResult(RecordKind.MX, lookup.name, CheckStatus.OK, "MX to Amazon SES feedback", lookup.records)
    target = want or "feedback-smtp.<region>.amazonses.com"
    reason = f"expected MX {target}, found {', '.join(lookup.records)}: bounces would not reach Resend"
    return CheckResult(RecordKind.MX, lookup.name, CheckStatus.WRONG, reason, lookup.records)


def check_dkim(lookup: TxtLookup, expected: str | None = None) -> CheckResult:
    """Judge the TXT records at ``<selector>._domainkey.<domain>`` as one DKIM public key.

    With ``expected`` (the value Resend lists), the published ``p=`` must be that key.
    """
    if (unusable := _unusable(RecordKind.DKIM, lookup)) is not None:
        return unusable
    keys = [r for r in lookup.records if r.strip().lower().startswith("v=dkim1") or "p" in _parse_tags(r)]
    if not keys:
        return CheckResult(
            RecordKind.DKIM,
            lookup.name,
            CheckStatus.MISSING,
            "TXT record(s) found, but no DKIM key (p=)",
            lookup.records,
        )
    if len(keys) > 1:
        reason = f"{len(keys)} DKIM records: verifiers may pick either; keep only the key Resend gave"
        return CheckResult(RecordKind.DKIM, lookup.name, CheckStatus.WRONG, reason, lookup.records)
    tags = _parse_tags(keys[0])
    findings: list[tuple[CheckStatus, str]] = []
    if "v" in tags and tags["v"] != "DKIM1":
        findings.append((CheckStatus.WRONG, f"v={tags['v']} is not DKIM1"))
    key_type = tags.get("k", "rsa").lower()
    if key_type not in ("rsa", "ed25519"):
        findings.append((CheckStatus.WRONG, f"k={key_type} is not a DKIM key type (rsa or ed25519)"))
    key = tags.get("p")
    if key is None:
        findings.append((CheckStatus.MISSING, "no p= tag: the public key is missing"))
    elif not key:
        findings.append((CheckStatus.WRONG, "empty p=: the key is revoked, every signature fails"))
    else:
        try:
            base64.b64decode(key, validate=True)
        except binascii.Error:
            findings.append((CheckStatus.WRONG, "p= is not valid base64"))
        wanted = _parse_tags(expected).get("p") if expected else None
        if wanted and key != wanted:
            findings.append((CheckStatus.WRONG, "p= is not the key Resend issued for this domain"))
    return _verdict(RecordKind.DKIM, lookup, findings, f"{key_type} public key present ({len(key or '')} characters)")


def check_dkim_cname(lookup: TxtLookup, expected: str | None = None) -> CheckResult:
    """Judge the CNAME at ``<token>._domainkey.<domain>``: it must point at ``expected`` (what Resend lists).

    Without ``expected`` (a selector named with ``--dkim-selector``), any target under
    ``dkim.amazonses.com`` will do.
    """
    if (unusable := _unusable(RecordKind.DKIM, lookup)) is not None:
        if unusable.status is CheckStatus.MISSING:
            reason = f"no CNAME at {lookup.name}: Resend cannot sign with this key until it is published"
            return CheckResult(RecordKind.DKIM, lookup.name, CheckStatus.MISSING, reason)
        return unusable
    target = lookup.records[0]
    want = expected.lower().rstrip(".") if expected else None
    if want is not None and target != want:
        reason = f"CNAME to {target}, not to {want} (the target Resend lists)"
        return CheckResult(RecordKind.DKIM, lookup.name, CheckStatus.WRONG, reason, lookup.records)
    if want is None and not target.endswith("." + DKIM_CNAME_SUFFIX):
        reason = f"CNAME to {target}, not to Amazon SES's DKIM (*.{DKIM_CNAME_SUFFIX})"
        return CheckResult(RecordKind.DKIM, lookup.name, CheckStatus.WRONG, reason, lookup.records)
    return CheckResult(RecordKind.DKIM, lookup.name, CheckStatus.OK, f"CNAME to {target}", lookup.records)


def _offline_dkim(domain: str, resolver: TxtResolver) -> CheckResult:
    """Offline, the DKIM CNAMEs' names are unknown: accept the legacy key at ``resend._domainkey``, else fail."""
    legacy = check_dkim(resolver.lookup_txt(f"resend._domainkey.{domain}"))
    if legacy.status is CheckStatus.OK:
        reason = f"legacy DKIM key at resend._domainkey: {legacy.reason}"
        return CheckResult(RecordKind.DKIM, legacy.name, CheckStatus.OK, reason, legacy.found)
    if legacy.status in (CheckStatus.WRONG, CheckStatus.ERROR):
        return legacy
    reason = (
        f"Resend's DKIM records for {domain} cannot be known offline (three CNAMEs <token>._domainkey, or a legacy "
        "TXT key at resend._domainkey, which is not there): check with a full-access key (--api-key or "
        "RESEND_API_KEY), or name the selectors with --dkim-selector"
    )
    return CheckResult(RecordKind.DKIM, f"<token>._domainkey.{domain}", CheckStatus.MISSING, reason)


def _check_selector(domain: str, selector: str, resolver: TxtResolver) -> CheckResult:
    """A selector named by the operator: a CNAME to SES if it has one, else a TXT key."""
    name = f"{selector}._domainkey.{domain}"
    cname = resolver.lookup_cname(name)
    if cname.outcome is LookupOutcome.ANSWER:
        return check_dkim_cname(cname)
    return check_dkim(resolver.lookup_txt(name))


def check_dmarc(lookup: TxtLookup) -> CheckResult:
    """Judge the TXT records at ``_dmarc.<domain>``. ``p=none`` is a warning: monitoring only."""
    if (unusable := _unusable(RecordKind.DMARC, lookup)) is not None:
        return unusable
    dmarc = [r for r in lookup.records if re.match(r"\s*v\s*=\s*DMARC1\s*(;|$)", r, re.IGNORECASE)]
    if not dmarc:
        return CheckResult(
            RecordKind.DMARC, lookup.name, CheckStatus.MISSING, "no TXT record starting with v=DMARC1", lookup.records
        )
    if len(dmarc) > 1:
        reason = f"{len(dmarc)} DMARC records: receivers then ignore DMARC entirely (RFC 7489 §6.6.3)"
        return CheckResult(RecordKind.DMARC, lookup.name, CheckStatus.WRONG, reason, lookup.records)
    tags = _parse_tags(dmarc[0])
    findings: list[tuple[CheckStatus, str]] = []
    policy = tags.get("p", "").lower()
    if "p" not in tags:
        findings.append((CheckStatus.WRONG, "no p= tag: the policy is required"))
    elif policy not in {p.value for p in DmarcPolicy}:
        findings.append((CheckStatus.WRONG, f"p={tags['p']} is not none, quarantine or reject"))
    elif policy == DmarcPolicy.NONE:
        findings.append(
            (
                CheckStatus.WARNING,
                "p=none is monitor-only: failing mail is still delivered; move to quarantine or reject"
                " once the reports are clean",
            )
        )
    if "rua" not in tags:
        findings.append((CheckStatus.WARNING, "no rua=: nobody receives the aggregate reports"))
    return _verdict(RecordKind.DMARC, lookup, findings, f"p={policy}")


def check_domain(
    domain: str,
    resolver: TxtResolver,
    *,
    records: Sequence[DnsRecord] | None = None,
    dkim_selectors: Sequence[str] = (),
) -> list[CheckResult]:
    """Look up and judge each expected record for ``domain``: return-path MX and SPF, DKIM, DMARC.

    ``records`` are what should be published (from :func:`records_from_resend`, or :func:`build_records`
    offline, the default). A DKIM CNAME must point where Resend says; a legacy TXT key with a known value must
    be that key; offline's DKIM placeholder accepts a legacy key at ``resend._domainkey`` and is missing
    otherwise. DKIM is never left unjudged: records with no DKIM at all fail as missing.
    ``dkim_selectors`` adds selectors to check (a CNAME to SES, or a well-formed TXT key).
    """
    domain = normalize_domain(domain)
    expected = list(records) if records is not None else list(build_records(domain))
    results: list[CheckResult] = []
    selectors_done: set[str] = set()
    for record in expected:
        if record.kind is RecordKind.MX:
            results.append(check_mx(resolver.lookup_mx(record.name), record.value))
        elif record.kind is RecordKind.SPF:
            results.append(check_spf(resolver.lookup_txt(record.name), resolver.lookup_txt))
        elif record.kind is RecordKind.DKIM and is_placeholder(record):
            selectors_done.add("resend")  # the legacy selector is what the offline check looks at
            results.append(_offline_dkim(domain, resolver))
        elif record.kind is RecordKind.DKIM:
            selectors_done.add(record.name.removesuffix(f"._domainkey.{domain}"))
            if record.type == "CNAME":
                results.append(check_dkim_cname(resolver.lookup_cname(record.name), record.value))
            else:
                results.append(check_dkim(resolver.lookup_txt(record.name), record.value))
        elif record.kind is RecordKind.DMARC:
            results.append(check_dmarc(resolver.lookup_txt(record.name)))
    if not any(record.kind is RecordKind.DKIM for record in expected):
        reason = "no DKIM record is expected for this domain: mail from it would go unsigned (see Resend's dashboard)"
        results.append(CheckResult(RecordKind.DKIM, f"*._domainkey.{domain}", CheckStatus.MISSING, reason))
    for selector in dkim_selectors:
        if (name := normalize_selector(selector)) not in selectors_done:
            results.append(_check_selector(domain, name, resolver))
    return results


def format_check_table(results: Sequence[CheckResult]) -> str:
    """One line per record (status, kind, name, reason) and a summary line."""
    rows = [("STATUS", "RECORD", "NAME", "REASON")]
    rows += [(r.status.value.upper(), r.kind.value, r.name, r.reason) for r in results]
    counts = {status: sum(r.status is status for r in results) for status in CheckStatus}
    summary = ", ".join(f"{n} {status.value}" for status, n in counts.items() if n)
    return _columns(rows) + f"\n\n{summary}"
