"""The one address rule and the control-character rule, fast tier, with hand-picked cases."""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contact_sdk.addresses import InvalidAddressError, is_valid_address, normalize_address
from contact_sdk.text import control_character, describe_character

ROOT = Path(__file__).resolve().parents[1]


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


# -- the plain shape, recognised without the library ------------------------------------------------

#: The library's own answer, the oracle for the pattern the rule tries first: the options the rule documents.
LIBRARY_OPTIONS: dict[str, bool] = {
    "check_deliverability": False,
    "allow_smtputf8": False,
    "allow_quoted_local": False,
    "allow_domain_literal": False,
    "allow_display_name": False,
    "allow_empty_local": False,
    "strict": True,
}


def by_the_library(address: str) -> str | None:
    """What email-validator alone keeps of ``address`` (trimmed of spaces, as the rule does), or ``None``."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address.strip(" "), **LIBRARY_OPTIONS).ascii_email
    except EmailNotValidError:
        return None


def by_the_rule(address: str) -> str | None:
    try:
        return normalize_address(address)
    except InvalidAddressError:
        return None


ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
#: Characters around the pattern's edges: the library refuses or handles each in its own way.
ODD = '".()<>[]\\,;: @\u00e4\u00fc\u0131\u017f\u212a\uff20'
atoms = st.text(alphabet=ATEXT, min_size=1, max_size=20) | st.text(alphabet=ATEXT + ODD, max_size=6)
role_mailboxes = st.sampled_from(
    ["postmaster", "Postmaster", "ABUSE", "Info", "webmaster", "www", "support", "sales", "noc", "postmasters"]
)
local_parts = (
    st.lists(atoms, min_size=1, max_size=4).map(".".join)
    | role_mailboxes
    | st.integers(min_value=60, max_value=70).map(lambda n: "a" * n)
    | st.sampled_from(["", ".a", "a.", "a..b"])
)
label_chars = string.ascii_letters + string.digits + "-"
labels = (
    st.text(alphabet=label_chars, min_size=1, max_size=12)
    | st.sampled_from(
        ["xn--bcher-kva", "XN--bcher-kva", "xn--zz", "ab--c", "a--b", "-a", "a-", "a_b", "b\u00fccher", ""]
    )
    | st.integers(min_value=60, max_value=66).map(lambda n: "l" * n)
)
top_level = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=5) | st.sampled_from(
    ["com", "ORG", "co", "c", "test", "TeSt", "invalid", "local", "localhost", "onion", "ARPA", "example", "xn--p1ai",
     "museum", "t" * 63, "t" * 64, "com.", "c0m", "123"]
)  # fmt: skip
domains = st.builds(lambda parts, tld: ".".join([*parts, tld]), st.lists(labels, max_size=3), top_level)
addresses = (
    st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)
    | st.builds(lambda local, domain: f" {local}@{domain}  ", local_parts, domains)
    | st.text(alphabet=ATEXT + ".@" + ODD[:8], max_size=30)
)


@settings(max_examples=3000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(address=addresses)
def test_the_rule_accepts_exactly_what_the_library_accepts_in_the_same_form(address: str) -> None:
    """Whatever shape an address has, the rule's answer is the library's: accepted or not, and the kept form."""
    assert by_the_rule(address) == by_the_library(address)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("POSTMASTER@Example.ORG", "postmaster@example.org"),  # a role mailbox: the library lower-cases it
        ("Ada@a--b.example.org", "Ada@a--b.example.org"),
        ("ada@XN--BCHER-KVA.de", "ada@xn--bcher-kva.de"),
        ("ada@example.c0m", "ada@example.c0m"),  # a top-level domain need only end with a letter
    ],
)
def test_shapes_the_pattern_leaves_to_the_library_are_kept_as_the_library_keeps_them(typed: str, kept: str) -> None:
    assert normalize_address(typed) == kept


@pytest.mark.parametrize(
    ("address", "wording"),
    [
        ("ada@ab--c.example.org", "two letters followed by two dashes"),
        ("ada@example.TEST", "special-use or reserved name"),
        ("ada@a.b.onion", "special-use or reserved name"),
        ("a" * 65 + "@example.org", "too long before the @-sign"),
        ("ada@" + "l" * 64 + ".org", "periods cannot be separated by so many characters"),
    ],
)
def test_plain_looking_refusals_keep_the_librarys_wording(address: str, wording: str) -> None:
    with pytest.raises(InvalidAddressError) as error:
        normalize_address(address)
    assert wording in str(error.value)


def test_every_special_use_name_and_role_mailbox_of_the_library_is_answered_as_it_answers() -> None:
    """Read from the installed library, not from the rule: a name it adds in a release is checked too."""
    import email_validator
    from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

    for name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        for address in (f"ada@{name}", f"ada@mail.{name}", f"ada@mail.{name.upper()}"):
            assert by_the_rule(address) is None, address
    for name in CASE_INSENSITIVE_MAILBOX_NAMES:
        assert normalize_address(f"{name.upper()}@Example.org") == f"{name}@example.org"


def test_a_plain_address_is_checked_without_importing_the_library() -> None:
    """A fresh interpreter: the plainest address leaves email-validator unloaded; an IDN domain loads it."""
    program = (
        "import sys\n"
        "from contact_sdk.addresses import normalize_address\n"
        "kept = normalize_address(' Ada.Lovelace+form@Mail.Example.ORG ')\n"
        "plain = 'email_validator' in sys.modules\n"
        "idn = normalize_address('ada@b\\u00fccher.de')\n"
        "print(kept, plain, idn, 'email_validator' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT
    )
    assert result.stdout.split() == ["Ada.Lovelace+form@mail.example.org", "False", "ada@xn--bcher-kva.de", "True"]


def test_the_library_is_asked_only_about_addresses_of_another_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain shape up to its limits (a 64-character local part, 63-character labels) is answered without the
    library; an internationalised domain is the library's to answer."""
    import email_validator

    asked: list[str] = []
    real = email_validator.validate_email

    def recording(address: str, **options: Any) -> Any:
        asked.append(address)
        return real(address, **options)

    monkeypatch.setattr(email_validator, "validate_email", recording)
    longest_label = "l" * 63
    plain = ["ada@example.org", "a" * 64 + "@example.org", f"x@{longest_label}.{longest_label}.io"]
    assert [normalize_address(address) for address in plain] == plain
    assert asked == []
    assert normalize_address("ada@b\u00fccher.de") == "ada@xn--bcher-kva.de"
    assert asked == ["ada@b\u00fccher.de"]
