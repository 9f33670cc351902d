"""DynamoDB's published item-size rules, each worked out by hand, and the units they cost."""

from __future__ import annotations

import pytest

from contact_sdk.devtools.capacity import item_size, read_units, value_size, write_units


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "ada"}, 3),
        ({"S": "é"}, 2),  # two UTF-8 bytes
        ({"S": ""}, 0),
        ({"N": "1"}, 2),  # one significant digit: 1 + 1
        ({"N": "1764547200"}, 5),  # trailing zeros trimmed: 17645472, 8 digits: 4 + 1
        ({"N": "1764547234.25"}, 7),  # 176454723425, 12 digits: 6 + 1
        ({"N": "-0.0050"}, 2),  # leading and trailing zeros trimmed: 5
        ({"N": "1.5e3"}, 2),  # the mantissa's digits
        ({"B": b"\x00\x01\x02"}, 3),
        ({"B": "AAEC"}, 3),  # base64 of the same three bytes
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"SS": ["ab", "c"]}, 3),
        ({"NS": ["1", "22"]}, 4),
        ({"L": []}, 3),
        ({"L": [{"S": "ab"}, {"N": "7"}]}, 3 + (2 + 1) + (2 + 1)),
        ({"M": {"at": {"N": "12"}}}, 3 + (2 + 2 + 1)),
    ],
)
def test_each_type_has_the_documented_size(value: dict[str, object], size: int) -> None:
    """Strings and binaries by bytes, numbers by significant digits, lists and maps with their overheads."""
    assert value_size(value) == size


def test_an_item_adds_its_attribute_names() -> None:
    """A nonce item: "pk" + "csrf#abc", "expiresAt" + a 10-digit number = 2 + 8 + 9 + 6."""
    assert item_size({"pk": {"S": "csrf#abc"}, "expiresAt": {"N": "1764550834"}}) == 25


def test_an_unknown_type_is_refused() -> None:
    """A value DynamoDB has no type for is an error, not a size of zero."""
    with pytest.raises(ValueError, match="not a DynamoDB attribute value type"):
        value_size({"X": "?"})


def test_read_and_write_units_round_up_per_request() -> None:
    """4 KB a read unit (half eventually consistent), 1 KB a write unit, never less than one unit."""
    assert read_units(0, consistent=True) == 1.0
    assert read_units(4096, consistent=True) == 1.0
    assert read_units(4097, consistent=True) == 2.0
    assert read_units(4097, consistent=False) == 1.0
    assert read_units(100, consistent=False) == 0.5
    assert write_units(1) == 1
    assert write_units(1025) == 2
