"""Command-line value types the development, load and measuring tools share (``argparse`` ``type=`` functions).

Each refuses what it cannot use with ``argparse.ArgumentTypeError``, which argparse turns into exit 2 and a line
naming the option: ``argument --drain-timeout: expected seconds, 0 or more, got '-1'``.

Example::

    parser.add_argument("--drain-timeout", type=seconds, default=600.0)
    parser.add_argument("--slow-seconds", type=positive_seconds, default=10.0)
"""

from __future__ import annotations

import argparse
import math

__all__ = ["positive_seconds", "seconds"]


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {raw!r}") from None


def seconds(raw: str) -> float:
    """A finite number of seconds, 0 or more."""
    value = _number(raw)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds, 0 or more, got {raw!r}")
    return value


def positive_seconds(raw: str) -> float:
    """A finite number of seconds above zero."""
    value = _number(raw)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected seconds above zero, got {raw!r}")
    return value
