"""The provider faults a local run can hold for its whole length: ``--provider-fault slow|down|flaky``.

Each is a setting of the Resend sandbox's fault injection (``POST /_sandbox/faults``, see
``docs/sandbox.md``), applied once the stack is up; ``DELETE /_sandbox/faults`` on the sandbox ends it
at any time. The local stack (``python -m contact_sdk.devtools.local``) and the load runner
(``loadtests/run_local.py``) share this table, so "slow" means the same in both.

Example::

    fault = provider_fault("slow")
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=dict(fault.settings))
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DOWN_FOR_SECONDS", "PROVIDER_FAULTS", "ProviderFault", "provider_fault"]

#: How long ``down`` keeps the provider down unless cleared first: a day, longer than any local run.
DOWN_FOR_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class ProviderFault:
    """One named fault: the sandbox's settings for it and what a person should expect to see."""

    name: str
    #: The body of ``POST /_sandbox/faults``.
    settings: Mapping[str, object]
    #: One line for the banner and ``--help``.
    description: str


PROVIDER_FAULTS: Mapping[str, ProviderFault] = types.MappingProxyType(
    {
        fault.name: fault
        for fault in (
            ProviderFault("slow", {"latency_ms": [8000, 8000]}, "every Resend call takes 8 s"),
            ProviderFault(
                "down",
                {"outage_seconds": DOWN_FOR_SECONDS},
                "every Resend call is answered 503 (for a day, or until the sandbox's faults are cleared)",
            ),
            ProviderFault(
                "flaky",
                {"failure_rate": 0.1, "failure_status": 500, "failure_name": "internal_server_error"},
                "10 % of Resend calls are answered 500",
            ),
        )
    }
)


def provider_fault(name: str) -> ProviderFault:
    """The fault called ``name``; ``ValueError`` naming the choices for anything else.

    >>> provider_fault("down").settings["outage_seconds"]
    86400
    """
    fault = PROVIDER_FAULTS.get(name)
    if fault is None:
        raise ValueError(f"expected one of {', '.join(PROVIDER_FAULTS)}, got {name!r}")
    return fault
