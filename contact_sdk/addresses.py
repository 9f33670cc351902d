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

Example::

    normalize_address("  Ada@Example.COM ")  # 'Ada@example.com'
    normalize_address("x\\n@example.com")     # raises InvalidAddressError
"""

from __future__ import annotations

from contact_sdk.text import control_character, describe_character

__all__ = ["MAX_ADDRESS_LENGTH", "InvalidAddressError", "is_valid_address", "normalize_address"]

#: RFC 5321's limit on a forward path, the limit the contract states for ``email``.
MAX_ADDRESS_LENGTH = 254


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
    # Deferred: email-validator costs ~15 ms to import (measured with -X importtime), which `import handler`
    # — the cold start the benchmarks hold to a budget — need not pay; the first address checked does.
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


def is_valid_address(value: str) -> bool:
    """Whether :func:`normalize_address` accepts ``value``."""
    try:
        normalize_address(value)
    except InvalidAddressError:
        return False
    return True
