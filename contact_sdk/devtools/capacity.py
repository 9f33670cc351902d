"""What DynamoDB counts: an item's size by its published rules, and the read and write units it costs.

For the scale measurements (``tools/scale_records.py``, ``tools/scale_visitors.py``) and the tests that pin the
per-visitor item sizes: moto reports no real consumed capacity, so sizes are computed from the items as
DynamoDB's documentation defines them ("Item sizes and formats", developer guide):

- a string is its UTF-8 bytes; a binary value its raw bytes; a Boolean or null 1 byte;
- a number is about one byte per two significant digits (leading and trailing zeros trimmed) plus one;
- a list or a map is 3 bytes plus its elements, plus 1 byte per element (a map element also counts its name);
- a set is the sum of its elements;
- an item is the sum, over its attributes, of the name's UTF-8 bytes and the value's size.

Storage adds :data:`STORAGE_OVERHEAD` (100 bytes) per item and per index entry. A read unit is 4 KB read
strongly consistent (half a unit eventually consistent); a ``Query`` or ``Scan`` rounds the sum of what it read
per request, a ``GetItem`` or each item of a ``BatchGetItem`` rounds each item. A write unit is 1 KB written.

Example::

    >>> item_size({"pk": {"S": "csrf#abc"}, "expiresAt": {"N": "1764550800"}})  # 2 + 8, 9 + (8 digits: 4 + 1)
    24
    >>> read_units(5000, consistent=False)
    1.0
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["READ_UNIT_BYTES", "STORAGE_OVERHEAD", "WRITE_UNIT_BYTES", "item_size", "read_units", "write_units"]

#: Bytes one read unit reads (strongly consistent).
READ_UNIT_BYTES = 4096
#: Bytes one write unit writes.
WRITE_UNIT_BYTES = 1024
#: Storage DynamoDB adds to every item and every index entry, for indexing.
STORAGE_OVERHEAD = 100


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _number_size(text: str) -> int:
    digits = text.strip().lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def _binary_size(value: Any) -> int:
    return len(value) if isinstance(value, bytes | bytearray) else len(base64.b64decode(value))


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's JSON form (``{"S": ...}``, ``{"L": [...]}``...), without a name."""
    ((kind, data),) = value.items()
    if kind == "S":
        return _utf8(data)
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return _binary_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(element) for element in data)
    if kind == "NS":
        return sum(_number_size(element) for element in data)
    if kind == "BS":
        return sum(_binary_size(element) for element in data)
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in data)
    if kind == "M":
        return 3 + sum(_utf8(name) + value_size(element) + 1 for name, element in data.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """The size of ``item`` as DynamoDB counts it for reads and writes (storage adds :data:`STORAGE_OVERHEAD`)."""
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def read_units(size: int, *, consistent: bool) -> float:
    """The read units of reading ``size`` bytes in one request (at least one 4 KB unit, halved when eventual)."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def write_units(size: int) -> int:
    """The write units of writing an item of ``size`` bytes (at least one 1 KB unit)."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))
