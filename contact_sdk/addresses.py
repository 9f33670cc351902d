"""The one address rule: every address the service accepts or is configured with goes through here.

Built on `email-validator <https://pypi.org/project/email-validator/>`_ (syntax only,
``check_deliverability=False``: no DNS look-up ever happens on the request path). The visitor's
``email`` (:mod:`contact_sdk.models`), ``fromEmail``/``toEmail`` in the Resend config
(:mod:`contact_sdk.config`, and the operator's ``config put`` through it) and the Resend sandbox
all call :func:`normalize_address`.

What is accepted: a plain ``local@domain`` address of at most 254 characters — an ASCII dot-atom
local part of at most 64 characters, a domain with at least one dot and a real top-level domain.
What is refused: any control character anywhere (CR, LF, TAB, NUL, DEL, C1, ``U+2028``/``U+2029``,
a trailing newline — checked before anything is trimmed), display names (``Ada <a@x.org>``), lists,
quoted local parts, comments, IP-literal domains, non-ASCII local parts (they need SMTPUTF8, which
not every mailbox on the way supports), and the special-use domains (``.test``, ``.invalid``,
``.localhost``, ``.local``, ``.onion``, ``.arpa``).

What is normalised (the returned form is what is stored, sent as ``Reply-To`` and hashed):

* surrounding spaces are trimmed;
* the domain is lower-cased and an internationalised domain is written in its ASCII (IDNA,
  ``xn--``) form, so ``Ada@Bücher.DE`` becomes ``Ada@xn--bcher-kva.de`` and every header stays ASCII;
* the local part keeps its case (``Ada`` and ``ada`` may be different mailboxes).

email-validator is the one authority on what is accepted. An address of the plain shape nearly every
visitor types (an ASCII dot-atom local part, ASCII hostname labels, a letters-only top-level domain)
is recognised first by one stricter pattern, :data:`_PLAIN`, that accepts only addresses email-validator
accepts, with the normal form it gives: so the first submission of a cold start does not pay the
library's import (its Unicode-range regexes take ~17 ms to compile on CPython 3.11), and a warm one
checks such an address in ~1 us instead of the library's ~28 us. Everything else, every refusal and every
refusal's wording, is the library's. ``tests/test_addresses.py`` checks the pattern against the library on
generated addresses.

Example::

    normalize_address("  Ada@Example.COM ")  # 'Ada@example.com'
    normalize_address("x\\n@example.com")     # raises InvalidAddressError
"""

from __future__ import annotations

import re

from contact_sdk.text import control_character, describe_character

__all__ = ["MAX_ADDRESS_LENGTH", "InvalidAddressError", "is_valid_address", "normalize_address"]

#: RFC 5321's limit on a forward path, the limit the contract states for ``email``.
MAX_ADDRESS_LENGTH = 254

#: RFC 5321's limit on a local part (email-validator's ``strict``).
_MAX_LOCAL_LENGTH = 64

#: ``local@domain`` at its plainest: an ASCII dot-atom local part (RFC 5322 ``atext``), then hostname labels
#: of letters, digits and inner hyphens (at most 63 characters each) and a top-level domain of letters.
#: Stricter than the library where the library needs more than a pattern (two hyphens together, which
#: IDNA judges; a top-level domain with a digit or a hyphen; the names below): those go to the library.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"(?P<local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<domain>(?:{_LABEL}\.)+[A-Za-z]{{1,63}})")

#: Top-level domains the library refuses as special-use or reserved (RFC 6761 and its successors).
_SPECIAL_USE_TOP_LEVEL = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})

#: Local parts the library lower-cases (RFC 2142's role mailboxes): left to it, with its normal form.
# fmt: off
_ROLE_MAILBOXES = frozenset({
    "abuse", "ftp", "hostmaster", "info", "marketing", "news", "noc", "postmaster", "sales", "security", "support",
    "usenet", "uucp", "webmaster", "www",
})
# fmt: on


class InvalidAddressError(ValueError):
    """``value`` is not an address this service accepts; the message says why."""


def normalize_address(value: str) -> str:
    """The normalised form of ``value``, or :class:`InvalidAddressError` saying what is wrong."""
    bad = control_character(value)
    if bad is not None:
        raise InvalidAddressError(f"must not contain control characters ({describe_character(bad)})")
    address = value.strip(" ")
    if not address:
        raise InvalidAddressError("must not be empty")
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidAddressError(f"must be at most {MAX_ADDRESS_LENGTH} characters")
    plain = _plain(address)
    if plain is not None:
        return plain
    # Deferred: email-validator costs ~17 ms to import (measured with -X importtime), which neither `import
    # handler` nor a plain address need pay; the first address of another shape does.
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415

    try:
        result = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            allow_empty_local=False,
            strict=True,  # RFC 5321's 64-character local part: 2.3 made that check opt-in
        )
    except EmailNotValidError as exc:
        raise InvalidAddressError(str(exc)) from None
    # With SMTPUTF8 refused, email-validator always gives the ASCII form (IDNA domain), length checked.
    return result.ascii_email or result.normalized


def _plain(address: str) -> str | None:
    """``address`` in the library's normal form when it has the plain shape, else ``None`` (ask the library)."""
    match = _PLAIN.fullmatch(address)
    if match is None:
        return None
    local, domain = match.group("local"), match.group("domain").lower()
    if (
        len(local) > _MAX_LOCAL_LENGTH
        or local.lower() in _ROLE_MAILBOXES
        or "--" in domain
        or domain.rpartition(".")[2] in _SPECIAL_USE_TOP_LEVEL
    ):
        return None
    return f"{local}@{domain}"


def is_valid_address(value: str) -> bool:
    """Whether :func:`normalize_address` accepts ``value``."""
    try:
        normalize_address(value)
    except InvalidAddressError:
        return False
    return True
