"""The one rule for where the development tools listen and whom the load and fault tools may reach: loopback.

Every tool here (the Resend sandbox, the AWS emulator, the siteverify stand-in, the brownout proxy, the local
stack) has an admin surface with no authentication, fake credentials, or traffic meant for this machine only, so
each refuses any other address unless told otherwise where that makes sense (the sandbox's
``--allow-non-loopback``, for a staging stage's load run).

Example::

    is_loopback("127.0.0.2")   # True: all of 127.0.0.0/8
    is_loopback("LocalHost")   # True: host names are not case-sensitive
    is_loopback("0.0.0.0")     # False: every interface
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` (any case) and loopback addresses (``127.0.0.0/8``, ``::1``); False otherwise."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
