"""Sending domains as Resend's domains API shows them: records to publish, with their statuses.

A domain added to the sandbox gets the records Resend asks for (its "Domains" page and API): an MX
and an SPF TXT record on the return-path subdomain (``send``, or the domain's ``custom_return_path``;
pointing at Amazon SES in the domain's region) and DKIM as Resend sets domains up today: three
CNAMEs ``<token>._domainkey`` -> ``<token>.dkim.amazonses.com.`` (SES Easy DKIM). A domain added
with ``dkim="txt"`` has the legacy layout instead, one public key at ``resend._domainkey``, as older
Resend domains do. A domain with receiving enabled also lists its inbound MX. Record names are relative to the
zone apex, as Resend returns them (``send`` for ``example.com``, ``send.updates`` for
``updates.example.com``); the sandbox takes the apex to be the last two labels, where Resend
knows the public-suffix list. Statuses follow Resend's: a new domain is ``not_started``, and
:meth:`DomainStore.set_status` moves it (and its records) to ``pending``, ``verified``, ``failed``...

Example::

    store = DomainStore(clock)
    domain = store.add("example.com")
    domain.resource()["records"][2]   # {"record": "DKIM", "name": "<token>._domainkey", "type": "CNAME", ...}
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from contact_sdk.devtools.sandbox.store import Clock, paginate, resend_time

__all__ = [
    "DKIM_LAYOUTS",
    "DOMAIN_STATUSES",
    "RECORD_STATUSES",
    "REGIONS",
    "DomainEntry",
    "DomainStore",
    "domain_records",
]

#: Regions a Resend domain can send from.
REGIONS: tuple[str, ...] = ("us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-1")
#: A domain's ``status`` values in Resend's API.
DOMAIN_STATUSES: tuple[str, ...] = (
    "not_started",
    "pending",
    "verified",
    "partially_verified",
    "partially_failed",
    "failed",
)
#: A record's ``status`` values in Resend's API.
RECORD_STATUSES: tuple[str, ...] = ("not_started", "pending", "verified", "failed", "temporary_failure")
#: How a domain's DKIM is published: Resend's CNAMEs (today) or one legacy TXT key (older domains).
DKIM_LAYOUTS: tuple[str, ...] = ("cname", "txt")
DkimLayout = Literal["cname", "txt"]
_RETURN_PATH = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_DOMAIN_NAME = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# An RSA-1024 SubjectPublicKeyInfo starts with these DER bytes; what follows stands in for the modulus.
_RSA_1024_SPKI_PREFIX = bytes.fromhex("30819f300d06092a864886f70d010101050003818d0030818902818100")
_RSA_EXPONENT_SUFFIX = bytes.fromhex("0203010001")


def _dkim_tokens() -> tuple[str, str, str]:
    """Three SES Easy DKIM tokens: 32 characters of lower-case letters and digits, like Resend's."""
    alphabet = string.ascii_lowercase + string.digits
    return tuple("".join(secrets.choice(alphabet) for _ in range(32)) for _ in range(3))  # type: ignore[return-value]


def _dkim_public_key() -> str:
    """A DKIM ``p=`` value shaped like the RSA-1024 key Resend issues (random modulus, never a real key)."""
    modulus = bytes([0xC0 | secrets.randbelow(64)]) + secrets.token_bytes(127)
    return base64.b64encode(_RSA_1024_SPKI_PREFIX + modulus + _RSA_EXPONENT_SUFFIX).decode("ascii")


def domain_records(
    region: str,
    dkim_key: str,
    status: str,
    name: str = "example.com",
    *,
    return_path: str = "send",
    dkim: DkimLayout = "cname",
    dkim_tokens: tuple[str, ...] = (),
    receiving: bool = False,
) -> list[dict[str, Any]]:
    """The records Resend lists for the domain ``name`` in ``region``, each with ``status``."""
    below_apex = ".".join(name.split(".")[:-2])
    suffix = f".{below_apex}" if below_apex else ""
    records: list[dict[str, Any]] = [
        {
            "record": "SPF",
            "name": f"{return_path}{suffix}",
            "type": "MX",
            "ttl": "Auto",
            "status": status,
            "value": f"feedback-smtp.{region}.amazonses.com",
            "priority": 10,
        },
        {
            "record": "SPF",
            "name": f"{return_path}{suffix}",
            "type": "TXT",
            "ttl": "Auto",
            "status": status,
            "value": '"v=spf1 include:amazonses.com ~all"',
        },
    ]
    if dkim == "txt":
        records.append(
            {
                "record": "DKIM",
                "name": f"resend._domainkey{suffix}",
                "type": "TXT",
                "ttl": "Auto",
                "status": status,
                "value": f"p={dkim_key}",
            }
        )
    else:
        records += [
            {
                "record": "DKIM",
                "name": f"{token}._domainkey{suffix}",
                "type": "CNAME",
                "ttl": "Auto",
                "status": status,
                "value": f"{token}.dkim.amazonses.com.",
            }
            for token in dkim_tokens
        ]
    if receiving:
        records.append(
            {
                "record": "Receiving",
                "name": name,
                "type": "MX",
                "ttl": "Auto",
                "status": status,
                "value": "inbound-mx.resend.com",
                "priority": 10,
            }
        )
    return records


def _record_status(domain_status: str) -> str:
    if domain_status in ("partially_verified", "partially_failed"):
        return "pending"
    return domain_status


@dataclass(slots=True)
class DomainEntry:
    """One domain the sandbox knows."""

    id: str
    name: str
    region: str
    created_at: float
    status: str = "not_started"
    return_path: str = "send"
    dkim: DkimLayout = "cname"
    dkim_key: str = field(default_factory=_dkim_public_key)
    dkim_tokens: tuple[str, str, str] = field(default_factory=_dkim_tokens)
    record_statuses: list[str] | None = None  # per record, when set one by one
    open_tracking: bool = False
    click_tracking: bool = False
    tls: str = "opportunistic"
    sending: str = "enabled"
    receiving: str = "disabled"
    tracking_subdomain: str | None = None
    #: What ``POST /domains/{id}/verify`` finds: ``verified``, or ``failed`` as if the records were not published.
    verify_outcome: str = "verified"

    def records(self) -> list[dict[str, Any]]:
        """The records with their statuses."""
        records = domain_records(
            self.region,
            self.dkim_key,
            _record_status(self.status),
            self.name,
            return_path=self.return_path,
            dkim=self.dkim,
            dkim_tokens=self.dkim_tokens,
            receiving=self.receiving == "enabled",
        )
        for record, status in zip(records, self.record_statuses or [], strict=False):
            record["status"] = status
        return records

    def summary(self) -> dict[str, object]:
        """The domain as ``GET /domains`` lists it."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "created_at": resend_time(self.created_at),
            "region": self.region,
            "open_tracking": self.open_tracking,
            "click_tracking": self.click_tracking,
            "capabilities": {"sending": self.sending, "receiving": self.receiving},
        }

    def resource(self) -> dict[str, object]:
        """The domain as ``GET /domains/{domain_id}`` answers it."""
        resource: dict[str, object] = {"object": "domain", **self.summary(), "records": self.records()}
        if self.tracking_subdomain is not None:
            resource["tracking_subdomain"] = self.tracking_subdomain
        return resource


class DomainStore:
    """Domains in the order they were added."""

    def __init__(self, clock: Clock) -> None:
        """An empty store reading time from ``clock``."""
        self._clock = clock
        self._lock = threading.Lock()
        self._domains: dict[str, DomainEntry] = {}

    def add(
        self,
        name: str,
        region: str = "us-east-1",
        status: str = "not_started",
        *,
        return_path: str = "send",
        dkim: str = "cname",
    ) -> DomainEntry:
        """Add a domain (lower-cased) under a fresh id; ``ValueError`` on a bad name, region, status, return path,
        DKIM layout, or a duplicate."""
        name = name.strip().lower().removesuffix(".")
        if not _DOMAIN_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a domain name like example.com")
        if region not in REGIONS:
            raise ValueError(f"region must be one of {', '.join(REGIONS)}")
        if status not in DOMAIN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(DOMAIN_STATUSES)}")
        if not _RETURN_PATH.fullmatch(return_path):
            raise ValueError(f"{return_path!r} is not a subdomain label for the return path")
        if dkim not in DKIM_LAYOUTS:
            raise ValueError(f"dkim must be one of {', '.join(DKIM_LAYOUTS)}")
        with self._lock:
            if any(entry.name == name for entry in self._domains.values()):
                raise ValueError(f"domain {name} has already been registered")
            entry = DomainEntry(
                str(uuid.uuid4()), name, region, self._clock(), status, return_path, "txt" if dkim == "txt" else "cname"
            )
            self._domains[entry.id] = entry
        return entry

    def get(self, key: str) -> DomainEntry | None:
        """The domain with this id (or name), if any."""
        with self._lock:
            entry = self._domains.get(key)
            if entry is None:
                entry = next((item for item in self._domains.values() if item.name == key.lower()), None)
            return entry

    def set_status(self, key: str, status: str, records: list[str] | None = None) -> DomainEntry:
        """Set a domain's status (and optionally each record's, in record order); ``KeyError`` if unknown."""
        if status not in DOMAIN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(DOMAIN_STATUSES)}")
        if records is not None and any(item not in RECORD_STATUSES for item in records):
            raise ValueError(f"record statuses must be among {', '.join(RECORD_STATUSES)}")
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        with self._lock:
            entry.status, entry.record_statuses = status, list(records) if records is not None else None
        return entry

    def page(self, *, limit: int | None, after: str | None, before: str | None) -> tuple[list[DomainEntry], bool]:
        """Newest first; every domain when ``limit`` is ``None`` (Resend's list without ``limit``)."""
        with self._lock:
            newest_first = list(reversed(self._domains.values()))
        if limit is None and after is None and before is None:
            return newest_first, False
        return paginate(newest_first, lambda entry: entry.id, limit=limit or 20, after=after, before=before)

    def remove(self, key: str) -> bool:
        """Delete the domain with this id; False when there is none."""
        with self._lock:
            return self._domains.pop(key, None) is not None

    def update(self, key: str, **changes: object) -> DomainEntry | None:
        """Change a domain's settings (tracking, TLS, capabilities, tracking subdomain); None when unknown."""
        entry = self.get(key)
        if entry is None or entry.id != key:
            return None
        with self._lock:
            for field_name, value in changes.items():
                setattr(entry, field_name, value)
        return entry

    def verify(self, key: str) -> DomainEntry | None:
        """Verify a domain the way ``POST /domains/{id}/verify`` does: it and its records take its verify outcome."""
        entry = self.get(key)
        if entry is None or entry.id != key:
            return None
        with self._lock:
            entry.status, entry.record_statuses = entry.verify_outcome, None
        return entry

    def renew_dkim(self, key: str) -> None:
        """New DKIM keys and tokens, and back to ``not_started`` (what a claimed domain gets)."""
        entry = self.get(key)
        if entry is not None:
            with self._lock:
                entry.dkim_tokens, entry.dkim_key = _dkim_tokens(), _dkim_public_key()
                entry.status, entry.record_statuses = "not_started", None
