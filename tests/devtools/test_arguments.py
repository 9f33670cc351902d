"""The command-line value types the tools share: what each takes, and the words of each refusal."""

from __future__ import annotations

import argparse

import pytest

from contact_sdk.devtools.arguments import positive_seconds, seconds


@pytest.mark.parametrize(("raw", "value"), [("0", 0.0), ("0.25", 0.25), ("600", 600.0), ("1e3", 1000.0)])
def test_seconds_takes_zero_and_more(raw: str, value: float) -> None:
    assert seconds(raw) == value


@pytest.mark.parametrize(("raw", "value"), [("0.001", 0.001), ("3.5", 3.5), ("10800", 10800.0)])
def test_positive_seconds_takes_more_than_zero(raw: str, value: float) -> None:
    assert positive_seconds(raw) == value


@pytest.mark.parametrize(
    ("parse", "raw", "said"),
    [
        (seconds, "-1", "expected seconds, 0 or more, got '-1'"),
        (seconds, "inf", "expected seconds, 0 or more, got 'inf'"),
        (seconds, "nan", "expected seconds, 0 or more, got 'nan'"),
        (seconds, "soon", "expected seconds, got 'soon'"),
        (seconds, "", "expected seconds, got ''"),
        (positive_seconds, "0", "expected seconds above zero, got '0'"),
        (positive_seconds, "-0.5", "expected seconds above zero, got '-0.5'"),
        (positive_seconds, "inf", "expected seconds above zero, got 'inf'"),
        (positive_seconds, "an hour", "expected seconds, got 'an hour'"),
    ],
)
def test_what_each_refuses_and_says(parse: object, raw: str, said: str) -> None:
    assert callable(parse)
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        parse(raw)
    assert str(refused.value) == said
