"""``contact-sdk dns``: the DNS records email authentication with Resend needs, and a check of them.

Usage::

    contact-sdk dns records --domain example.com [--dkim-value KEY] [--dkim2-value KEY]
        [--verification-value VALUE] [--dmarc-policy none|quarantine|reject]
        [--dmarc-rua mailto:ADDRESS | --no-dmarc-rua] [--format table|zone|json]
    contact-sdk dns check --domain example.com [--nameserver IP ...] [--port 53] [--timeout 5]
        [--dkim-selector resend ...] [--verification-value VALUE] [--format table|json]

Exit status: 0 all records fine (warnings allowed), 1 a record is missing or wrong or could not be
looked up, 2 bad usage (for example a malformed domain name).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections.abc import Callable
from typing import Any

from contact_sdk.ops.dns.records import (
    DEFAULT_DKIM_SELECTORS,
    DmarcPolicy,
    DnsInputError,
    DnspythonResolver,
    ResolverUnavailableError,
    build_records,
    check_domain,
    format_check_table,
    format_table,
    format_zone,
    normalize_domain,
    normalize_selector,
    records_as_json,
)

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
        description="Print the SPF, DKIM, verification and DMARC records to publish, TTL 300.",
    )
    records.add_argument(
        "--domain", required=True, type=domain, metavar="DOMAIN", help="the sending domain, e.g. example.com"
    )
    records.add_argument("--dkim-value", metavar="KEY", help="the DKIM public key Resend shows for resend._domainkey")
    records.add_argument("--dkim2-value", metavar="KEY", help="a second DKIM key, published at resend2._domainkey")
    records.add_argument("--verification-value", metavar="VALUE", help="the value Resend shows for the _resend record")
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
        description="Resolve the records with dnspython and judge each one: ok, warning, missing, wrong, error.",
    )
    check.add_argument(
        "--domain", required=True, type=domain, metavar="DOMAIN", help="the sending domain, e.g. example.com"
    )
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
        help="DKIM selector to check (repeatable; default: resend)",
    )
    check.add_argument("--verification-value", metavar="VALUE", help="also require this exact _resend value")
    check.add_argument("--format", choices=("table", "json"), default="table", help="output (default: table)")
    check.set_defaults(handler=run_check)


def run_records(args: argparse.Namespace) -> int:
    """Print the records for ``args.domain`` in the chosen format."""
    try:
        records = build_records(
            args.domain,
            dkim_value=args.dkim_value,
            dkim2_value=args.dkim2_value,
            verification_value=args.verification_value,
            dmarc_policy=args.dmarc_policy,
            dmarc_rua=None if args.no_dmarc_rua else (args.dmarc_rua or ""),
        )
    except DnsInputError as exc:
        print(f"contact-sdk dns records: error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(records_as_json(records, args.domain), indent=2))
    elif args.format == "zone":
        print(format_zone(records))
    else:
        print(format_table(records, args.domain))
    if any(record.value is None for record in records) and args.format != "json":
        print(
            "\nValues in <angle brackets> come from the Resend dashboard (Domains): pass them with"
            " --dkim-value and --verification-value.",
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
    results = check_domain(
        args.domain,
        resolver,
        dkim_selectors=args.dkim_selectors or DEFAULT_DKIM_SELECTORS,
        verification_value=args.verification_value,
    )
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
