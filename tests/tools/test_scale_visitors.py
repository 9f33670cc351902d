"""``tools/scale_visitors.py``: distinct synthetic visitors, and the per-visitor arithmetic of its report."""

from __future__ import annotations

import ipaddress

import pytest

from contact_sdk.security.ratelimit import client_identity
from tools.scale_visitors import Report, _address, main, markdown, project


def test_every_synthetic_visitor_is_a_visitor_of_its_own_to_the_rate_limiter() -> None:
    """1,000 visitors are 1,000 rate-limit keys: 800 IPv4 addresses and 200 IPv6 /64s, none shared."""
    addresses = [_address(index) for index in range(1000)]
    keys = {client_identity(address) for address in addresses}
    assert len(keys) == 1000
    versions = [ipaddress.ip_address(address).version for address in addresses]
    assert (versions.count(4), versions.count(6)) == (800, 200)


def sample() -> Report:
    """Ten visitors, seven of whom sent the form: 10 token counters of 67 bytes, 7 submit counters of 68 and 7
    nonces of 44; two visitors came in the last hour and left 6 live items."""
    return Report(
        visitors=10,
        senders=7,
        hours=4.0,
        seconds=2.0,
        items={"token counter": 10, "submit counter": 7, "nonce": 7},
        bytes={"token counter": 670, "submit counter": 476, "nonce": 308},
        live_items={"token counter": 2, "submit counter": 2, "nonce": 2},
        live_bytes={"token counter": 134, "submit counter": 136, "nonce": 88},
        visitors_last_hour=2,
        scan_seconds=0.5,
    )


def test_a_million_visitors_are_the_samples_figures_per_visitor_times_a_million() -> None:
    """24 items and 1,454 bytes for 10 visitors: 2.4 million items, 145.4 MB, and 385.4 MB stored (100 bytes more
    per item) for a million."""
    million = project(sample())
    assert (million.visitors, million.items, million.bytes, million.stored_bytes) == (
        1_000_000,
        2_400_000,
        145_400_000,
        385_400_000,
    )


def test_the_report_states_each_kind_per_item_and_per_visitor() -> None:
    """Rows per kind with bytes per item (67, 68, 44) and stored (plus 100); per visitor 2.40 items, 145 bytes,
    385 stored; 6 live items for the 2 visitors of the last hour; the million line."""
    lines = markdown(sample()).splitlines()
    assert "| nonce | 7 | 308 | 44.0 | 144.0 | 2 | 88 |" in lines
    assert "| token counter | 10 | 670 | 67.0 | 167.0 | 2 | 134 |" in lines
    assert "| all | 24 | 1,454 | 60.6 | 160.6 | 6 | 358 |" in lines
    assert (
        "Per visitor: 2.40 items, 145 bytes (385 stored). Live at the end: 6 items for the 2 visitors of the last "
        "hour (3.00 per visitor of the last hour)." in lines
    )
    assert (
        "At 1,000,000 distinct visitors of the same mix: 2,400,000 items, 145.4 MB (385.4 MB stored), every one "
        "with a TTL." in lines
    )


RANGES = "--visitors at least 10, --hours 1 to 48, --threads 1 to 16"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--visitors", "5"], RANGES),
        (["--hours", "0.5"], RANGES),
        (["--hours", "49"], RANGES),
        (["--threads", "0"], RANGES),
        (["--visitors", "many"], "argument --visitors: invalid int value: 'many'"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Too few visitors, a simulated span outside 1-48 hours, no threads or a non-number exit 2 with the reason."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
