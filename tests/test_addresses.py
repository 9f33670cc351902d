"""The one address rule and the control-character rule, fast tier, with hand-picked cases."""

from __future__ import annotations

import pytest

from contact_sdk.addresses import InvalidAddressError, is_valid_address, normalize_address
from contact_sdk.text import control_character, describe_character


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ada@example.org", "ada@example.org"),
        ("  Ada@EXAMPLE.org ", "Ada@example.org"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("x@b\u00fccher.de", "x@xn--bcher-kva.de"),
        ("x@B\u00dcCHER.de", "x@xn--bcher-kva.de"),
        ("a@b.co", "a@b.co"),
    ],
)
def test_accepted_addresses_and_their_normal_form(typed: str, kept: str) -> None:
    assert normalize_address(typed) == kept
    assert is_valid_address(typed) is True


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("x\n@example.com", "must not contain control characters (U+000A)"),
        ("a@example\n.com", "must not contain control characters (U+000A)"),
        ("a@example.com\n", "must not contain control characters (U+000A)"),
        ("a@example.com\t", "must not contain control characters (U+0009)"),
        ("\u2028a@example.com", "must not contain control characters (U+2028)"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("a" * 64 + "@" + "b" * 186 + ".com", "must be at most 254 characters"),
    ],
)
def test_refusals_with_our_own_reasons(address: str, reason: str) -> None:
    with pytest.raises(InvalidAddressError) as error:
        normalize_address(address)
    assert str(error.value) == reason
    assert is_valid_address(address) is False


def test_only_spaces_are_trimmed() -> None:
    """Other whitespace is not silently dropped: a no-break space around the address is refused."""
    assert normalize_address("Xavier@example.orgX") == "Xavier@example.orgx"  # no letter is ever trimmed
    assert normalize_address("  Xavier@example.org  ") == "Xavier@example.org"
    assert not is_valid_address("\u00a0ada@example.org")
    assert not is_valid_address("ada@example.org\u2003")


def test_the_librarys_reason_is_kept() -> None:
    with pytest.raises(InvalidAddressError) as error:
        normalize_address("a..b@example.org")
    assert "period" in str(error.value)


def test_the_longest_address_is_254_characters() -> None:
    longest = "a" * 64 + "@" + ".".join(["b" * 61, "c" * 61, "d" * 61]) + ".org"
    assert len(longest) == 254
    assert normalize_address(longest) == longest
    assert normalize_address(" " + longest + " ") == longest
    assert not is_valid_address("a" + longest)


@pytest.mark.parametrize(
    "address",
    [
        "a" * 65 + "@example.org",  # RFC 5321: 64-character local part
        "Ada <ada@example.org>",
        '"ada"@example.org',
        "ada@[192.0.2.1]",
        "ada@example.invalid",
        "ada@host.local",
        "ada@example",
        "\u00e4da@example.org",
        "ada@@example.org",
        "(comment)ada@example.org",
    ],
)
def test_library_refusals(address: str) -> None:
    with pytest.raises(InvalidAddressError) as error:
        normalize_address(address)
    assert str(error.value)


def test_control_characters_are_found_and_format_characters_people_use_are_not() -> None:
    assert control_character("Ada Lovelace") is None
    assert control_character("Zahra\u200cKhani \u200d \u200e \u200f \u061c \u2066x\u2069") is None
    assert control_character("a\u202eb") == "\u202e"
    assert control_character("a\u202ab") == "\u202a"
    assert control_character("a\x85b") == "\x85"
    assert control_character("a\ud800") == "\ud800"
    assert control_character("line\nbreak") == "\n"
    assert control_character("line\nbreak\ttab", allowed="\n") == "\t"
    assert control_character("line\nbreak", allowed="\n") is None
    assert control_character("\u00adsoft hyphen") is None
    assert describe_character("\n") == "U+000A"
    assert describe_character("\U0001f600") == "U+1F600"
