"""``contact-sdk dns``: the DNS records email authentication with Resend needs, and a check of them.

The records come from the source of truth, Resend's domains API (``GET /domains``,
``GET /domains/{id}``), whenever an API key is given (``--api-key`` or ``RESEND_API_KEY``; a
full-access key): MX and SPF on the return path, DKIM as three CNAMEs (or an older domain's TXT key).
``--offline``, or no key at all, uses Resend's documented layout instead, and says it is a guess: MX and
SPF on ``--return-path`` (default ``send``), DKIM as placeholders only Resend can fill (or the legacy
key given with ``--dkim-value``). DMARC is advice added to either: Resend does not publish it.

Usage::

    contact-sdk dns records --domain example.com [--api-key KEY] [--api-url URL] [--offline]
        [--region us-east-1] [--return-path send] [--dkim-value KEY] [--dkim2-value KEY]
        [--dmarc-policy none|quarantine|reject]
        [--dmarc-rua mailto:ADDRESS | --no-dmarc-rua] [--format table|zone|json]
    contact-sdk dns check --domain example.com [--api-key KEY] [--api-url URL] [--offline] [--region R]
        [--return-path send] [--nameserver IP ...] [--port 53] [--timeout 5] [--dkim-selector resend ...]
        [--format table|json]

Exit status: 0 all records fine (warnings allowed), 1 a record is missing or wrong (DKIM not published
included) or could not be looked up, or Resend's API could not be read, 2 bad usage (for example a
malformed domain name).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from contact_sdk.ops.dns.records import (
    DEFAULT_REGION,
    RETURN_PATH_SUBDOMAIN,
    DmarcPolicy,
    DnsInputError,
    DnspythonResolver,
    DnsRecord,
    ResolverUnavailableError,
    build_records,
    check_domain,
    dkim_record_value,
    format_check_table,
    format_table,
    format_zone,
    normalize_domain,
    normalize_return_path,
    normalize_selector,
    records_as_json,
    records_from_resend,
    return_path_mx,
)
from contact_sdk.ops.dns.resend_domains import DEFAULT_API_URL, ResendDomainsError, fetch_domain

__all__ = ["register", "run_check", "run_records"]


def _argument_type(normalize: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse ``type=`` turning :class:`DnsInputError` into a usage error (exit 2)."""

    def convert(text: str) -> str:
        try:
            return normalize(text)
        except DnsInputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    convert.__name__ = normalize.__name__
    return convert


def _nameserver(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from exc


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def _timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 60:
        raise argparse.ArgumentTypeError(f"{text!r} is not a timeout in seconds (0-60)")
    return seconds


def _region(text: str) -> str:
    try:
        return_path_mx(text.strip())
    except DnsInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text.strip()


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the expected records come from: Resend's domains API, or the documented layout offline."""
    source = parser.add_argument_group("where the records come from")
    source.add_argument(
        "--api-key",
        default=os.environ.get("RESEND_API_KEY"),
        metavar="KEY",
        help="a full-access Resend API key to read the domain's records from Resend (default: $RESEND_API_KEY)",
    )
    source.add_argument(
        "--api-url",
        default=os.environ.get("RESEND_API_URL") or DEFAULT_API_URL,
        metavar="URL",
        help="Resend's API (default: $RESEND_API_URL or %(default)s; the sandbox's URL works too)",
    )
    source.add_argument(
        "--offline", action="store_true", help="do not ask Resend: use its documented layout (DKIM key unknown)"
    )
    source.add_argument(
        "--region",
        type=_region,
        default=DEFAULT_REGION,
        help="offline: the domain's Resend region, for the MX host (default: %(default)s)",
    )
    source.add_argument(
        "--return-path",
        type=_argument_type(normalize_return_path),
        default=RETURN_PATH_SUBDOMAIN,
        metavar="LABEL",
        help="offline: the domain's return-path subdomain, its custom_return_path in Resend (default: %(default)s)",
    )


def _expected_records(args: argparse.Namespace, command: str) -> tuple[DnsRecord, ...] | None:
    """The records to publish, from Resend when a key is given; ``None`` after printing why they are unknown."""
    policy: DmarcPolicy = getattr(args, "dmarc_policy", DmarcPolicy.NONE)
    rua: str | None = None if getattr(args, "no_dmarc_rua", False) else (getattr(args, "dmarc_rua", None) or "")
    if args.offline or not args.api_key:
        why = "--offline" if args.offline else "no Resend API key (--api-key or RESEND_API_KEY)"
        print(
            f"contact-sdk dns {command}: {why}: these are Resend's documented layout, a guess (region "
            f"{args.region}, return path {args.return_path}.{args.domain}, DKIM as Resend sets up new domains); "
            "the real records, DKIM's names and targets above all, are in Resend: give a full-access key to "
            "read them, or copy them from the Resend dashboard (Domains)",
            file=sys.stderr,
        )
        return build_records(
            args.domain,
            region=args.region,
            return_path=args.return_path,
            dkim_value=getattr(args, "dkim_value", None),
            dkim2_value=getattr(args, "dkim2_value", None),
            dmarc_policy=policy,
            dmarc_rua=rua,
        )
    try:
        resource = fetch_domain(args.domain, api_key=args.api_key, api_url=args.api_url)
        records = records_from_resend(args.domain, resource, dmarc_policy=policy, dmarc_rua=rua)
    except (ResendDomainsError, DnsInputError) as exc:
        print(f"contact-sdk dns {command}: error: {exc}", file=sys.stderr)
        return None
    status = resource.get("status")
    if isinstance(status, str) and status != "verified":
        print(f"Resend reports {args.domain} as {status}: publish the records below, then verify it.", file=sys.stderr)
    return records


_DMARC_ADVICE = (
    "DMARC (advice: Resend does not publish it): start with p=none and a rua= address you read; once the "
    "aggregate reports show only your own senders passing, move to p=quarantine, then p=reject."
)


def register(subparsers: Any) -> None:
    """Add the ``dns`` group with its ``records`` and ``check`` commands."""
    group = subparsers.add_parser(
        "dns",
        help="SPF, DKIM and DMARC records for sending through Resend",
        description="Print the DNS records email authentication with Resend needs, or check the published ones.",
    )
    commands = group.add_subparsers(dest="dns_command", metavar="<command>")
    commands.required = True
    domain = _argument_type(normalize_domain)

    records = commands.add_parser(
        "records",
        help="print the records to publish",
        description="Print the records Resend wants for the domain (read from its domains API when an API key "
        "is given, its documented layout otherwise) and the DMARC record to add, TTL 300.",
    )
    records.add_argument(
        "--domain", required=True, type=domain, metavar="DOMAIN", help="the sending domain, e.g. example.com"
    )
    _source_arguments(records)
    dkim = _argument_type(dkim_record_value)
    records.add_argument(
        "--dkim-value",
        type=dkim,
        metavar="KEY",
        help="offline: an older domain's legacy DKIM key (TXT at resend._domainkey)",
    )
    records.add_argument(
        "--dkim2-value", type=dkim, metavar="KEY", help="offline: a second DKIM key, at resend2._domainkey"
    )
    records.add_argument(
        "--dmarc-policy",
        type=DmarcPolicy,
        choices=list(DmarcPolicy),
        default=DmarcPolicy.NONE,
        help="DMARC p= (default: none, monitoring only)",
    )
    rua = records.add_mutually_exclusive_group()
    rua.add_argument("--dmarc-rua", metavar="URI", help="where aggregate reports go (default: mailto:dmarc@<domain>)")
    rua.add_argument("--no-dmarc-rua", action="store_true", help="publish DMARC without a report address")
    records.add_argument("--format", choices=("table", "zone", "json"), default="table", help="output (default: table)")
    records.set_defaults(handler=run_records)

    check = commands.add_parser(
        "check",
        help="resolve the published records and report what is missing or wrong",
        description="Compare what DNS answers (dnspython) with the records Resend wants (its domains API, or its "
        "documented layout offline) and judge each one: ok, warning, missing, wrong, error.",
    )
    check.add_argument(
        "--domain", required=True, type=domain, metavar="DOMAIN", help="the sending domain, e.g. example.com"
    )
    _source_arguments(check)
    check.add_argument(
        "--nameserver",
        action="append",
        type=_nameserver,
        dest="nameservers",
        metavar="IP",
        help="ask this server (repeatable; default: the system resolver)",
    )
    check.add_argument("--port", type=_port, default=53, metavar="PORT", help="the nameservers' port (default: 53)")
    check.add_argument(
        "--timeout", type=_timeout, default=5.0, metavar="SECONDS", help="seconds per lookup (default: 5)"
    )
    check.add_argument(
        "--dkim-selector",
        action="append",
        type=_argument_type(normalize_selector),
        dest="dkim_selectors",
        metavar="SELECTOR",
        help="another DKIM selector to check for a well-formed key (repeatable)",
    )
    check.add_argument("--format", choices=("table", "json"), default="table", help="output (default: table)")
    check.set_defaults(handler=run_check)


def run_records(args: argparse.Namespace) -> int:
    """Print the records for ``args.domain`` in the chosen format, with the DMARC advice."""
    try:
        records = _expected_records(args, "records")
    except DnsInputError as exc:
        print(f"contact-sdk dns records: error: {exc}", file=sys.stderr)
        return 2
    if records is None:
        return 1
    if args.format == "json":
        document = records_as_json(records, args.domain)
        document["source"] = "offline" if args.offline or not args.api_key else "resend"
        document["dmarc_advice"] = _DMARC_ADVICE
        print(json.dumps(document, indent=2))
        return 0
    if args.format == "zone":
        print(format_zone(records))
        print(f"; {_DMARC_ADVICE}")  # a zone-file comment: the snippet stays importable
    else:
        print(format_table(records, args.domain))
        print(f"\n{_DMARC_ADVICE}")
    if any(record.value is None for record in records):
        print(
            "\nValues in <angle brackets> come from Resend: give a full-access API key to read them, or copy them "
            "from the Resend dashboard (Domains); an older domain's single TXT key can be passed with --dkim-value.",
            file=sys.stderr,
        )
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Resolve and judge the records for ``args.domain``; 1 if any is missing, wrong or unresolvable."""
    try:
        resolver = DnspythonResolver(nameservers=args.nameservers or (), port=args.port, timeout=args.timeout)
    except ResolverUnavailableError as exc:
        print(f"contact-sdk dns check: error: {exc}", file=sys.stderr)
        return 1
    expected = _expected_records(args, "check")  # offline input is validated by argparse: nothing to raise
    if expected is None:
        return 1
    results = check_domain(args.domain, resolver, records=expected, dkim_selectors=args.dkim_selectors or ())
    failed = any(result.status.failed for result in results)
    if args.format == "json":
        document = {
            "domain": args.domain,
            "ok": not failed,
            "results": [
                {
                    "kind": r.kind.value,
                    "name": r.name,
                    "status": r.status.value,
                    "reason": r.reason,
                    "found": list(r.found),
                }
                for r in results
            ],
        }
        print(json.dumps(document, indent=2))
    else:
        print(format_check_table(results))
    return 1 if failed else 0
