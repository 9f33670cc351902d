"""The one loopback rule every development tool listens and reaches by."""

from __future__ import annotations

import pytest

from contact_sdk.devtools.loopback import is_loopback


@pytest.mark.parametrize(
    "host", ["localhost", "LocalHost", "127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "0:0:0:0:0:0:0:1"]
)
def test_loopback_hosts(host: str) -> None:
    """Loopback: the name (any case), all of 127.0.0.0/8 (RFC 1122), IPv6's ::1 however it is written."""
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",  # every interface  # noqa: S104 - the point: refused
        "::",
        "192.0.2.1",
        "10.0.0.1",
        "128.0.0.1",
        "localhost.example",
        "127.0.0.1.example",
        "my-laptop",
        "",
        " 127.0.0.1",
    ],
)
def test_everything_else_is_not(host: str) -> None:
    """Every interface, a routable or private address, a name that only resembles loopback, nothing at all."""
    assert not is_loopback(host)
