"""Spam judgement for a contact-form submission: a few simple, named rules, each with a reason.

The rules, and the reason each one reports:

==========================  =================================================================
reason                      fires when
==========================  =================================================================
``honeypot_filled``         the hidden ``website`` field holds anything at all (people never see it):
                            any value but absent/``null`` and ``""``, whatever its type or length
``submitted_too_fast``      sent less than ``min_fill_seconds`` after ``formStartedAt``
``token_too_recent``        sent less than ``min_fill_seconds`` after its CSRF token's signed issue
                            time: server evidence, which a bot cannot backdate or omit
``form_started_in_future``  ``formStartedAt`` lies further ahead than the allowed clock skew
``too_many_links``          more than :data:`MAX_LINKS` URLs in the subject and message
``repeated_character``      one character repeated :data:`MAX_REPEAT` times or more in a row
``mostly_non_letters``      a message of 40+ visible characters of which under a fifth are letters
                            (separator lines such as ``-----`` do not count). Conservative on purpose:
                            spam is dropped silently, so a short note full of phone or order numbers
                            must not be mistaken for it.
``url_in_name``             the name field holds a URL
``spam_keywords``           typical spam vocabulary (:data:`SPAM_KEYWORDS`), **together with a
                            link**: keywords alone are too common in honest mail to count
==========================  =================================================================

Any rule firing makes the submission spam; the service then answers exactly as if it had sent the
email and sends nothing. False positives cost a real message, so the content rules are deliberately
loose: "letters" include every script (Cyrillic, Greek, CJK, ...), one or two links are normal, and
separator lines such as ``----`` are not "repeated characters".

``formStartedAt`` comes from the browser's clock, which may run ahead of ours. A ``formStartedAt`` up to
``max_clock_skew_seconds`` in the future is therefore given the benefit of the doubt (the fill time
cannot be judged); further ahead it is spam. Since a client can omit or backdate ``formStartedAt``, the
token's issue time is judged as well (pages fetch the token when the form is shown): the later of the
two must lie at least ``min_fill_seconds`` back. ``min_fill_seconds=0`` turns every timing rule off.

Example::

    verdict = judge(honeypot=body.website, form_started_at_ms=body.form_started_at, message=body.message,
                    name=body.name, subject=body.subject, now_ms=int(clock() * 1000),
                    token_issued_at_ms=issued_at * 1000)
    if verdict.is_spam:
        log.info("spam", reasons=verdict.reasons)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from itertools import filterfalse

__all__ = [
    "MAX_LINKS",
    "MAX_REPEAT",
    "MIN_CHARACTERS_FOR_LETTER_RATIO",
    "MIN_LETTER_RATIO",
    "SPAM_KEYWORDS",
    "SpamVerdict",
    "honeypot_filled",
    "judge",
]

#: More URLs than this in subject and message together is spam.
MAX_LINKS = 3
#: A run of the same character at least this long is spam.
MAX_REPEAT = 20
#: A message whose visible characters are less than this share letters is spam.
MIN_LETTER_RATIO = 0.2
#: Shorter messages are never judged by their letter ratio (phone numbers, order ids).
MIN_CHARACTERS_FOR_LETTER_RATIO = 40
#: Vocabulary of bulk spam; a weak signal that counts only together with a link.
SPAM_KEYWORDS: tuple[str, ...] = (
    "viagra",
    "cialis",
    "casino",
    "crypto investment",
    "forex",
    "payday loan",
    "backlinks",
    "seo services",
    "buy followers",
    "first page of google",
    "make money fast",
    "adult dating",
)

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# Separator and markdown characters legitimately come in long runs ("-----", "=====", "*****"): they are
# neither "repeated characters" nor counted against the share of letters.
_SEPARATORS = r"\-=_*#~."
_REPEAT = re.compile(r"([^\s" + _SEPARATORS + r"])\1{" + str(MAX_REPEAT - 1) + ",}")
_SEPARATOR_RUN = re.compile(r"([" + _SEPARATORS + r"])\1{2,}")
_KEYWORDS = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in SPAM_KEYWORDS) + r")s?\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    """Whether a submission is spam, and the reasons of every rule that fired (empty when not spam)."""

    is_spam: bool
    reasons: tuple[str, ...]


def honeypot_filled(value: object) -> bool:
    """Whether the hidden ``website`` field holds anything: every value but absent (``None``) and ``""``.

    People never see the field, so whitespace, a number, ``false`` or an object all count as filled.

    >>> [honeypot_filled(v) for v in (None, "", " ", 0, False, [], "http://spam.example")]
    [False, False, True, True, True, True, True]
    """
    return value is not None and value != ""


def judge(
    *,
    honeypot: object,
    form_started_at_ms: int | None,
    message: str,
    name: str,
    subject: str | None,
    now_ms: int,
    min_fill_seconds: float = 3.0,
    max_clock_skew_seconds: float = 300.0,
    token_issued_at_ms: int | None = None,
) -> SpamVerdict:
    """Judge one submission; pure. See the module docstring for the rules.

    >>> judge(honeypot="", form_started_at_ms=0, message="Hello, I liked your talk.", name="Ada",
    ...       subject=None, now_ms=60_000)
    SpamVerdict(is_spam=False, reasons=())
    >>> judge(honeypot="http://spam.example", form_started_at_ms=None, message="Hello there friend",
    ...       name="Bob", subject=None, now_ms=0).reasons
    ('honeypot_filled',)
    """
    reasons: list[str] = []
    if honeypot_filled(honeypot):
        reasons.append("honeypot_filled")
    if min_fill_seconds > 0 and form_started_at_ms is not None:
        elapsed_ms = now_ms - form_started_at_ms
        if elapsed_ms < -max_clock_skew_seconds * 1000:
            reasons.append("form_started_in_future")
        elif 0 <= elapsed_ms < min_fill_seconds * 1000:
            reasons.append("submitted_too_fast")
    # Our own clock signed the token's issue time: no skew to forgive, a negative age is too fast too.
    if (
        min_fill_seconds > 0
        and token_issued_at_ms is not None
        and now_ms - token_issued_at_ms < min_fill_seconds * 1000
    ):
        reasons.append("token_too_recent")

    text = f"{subject or ''}\n{message}"
    links = len(_URL.findall(text))
    if links > MAX_LINKS:
        reasons.append("too_many_links")
    if _REPEAT.search(text) or _REPEAT.search(name):
        reasons.append("repeated_character")
    visible = _visible(message)
    if len(visible) >= MIN_CHARACTERS_FOR_LETTER_RATIO and _letter_ratio(visible) < MIN_LETTER_RATIO:
        reasons.append("mostly_non_letters")
    if _URL.search(name):
        reasons.append("url_in_name")
    if links and _KEYWORDS.search(text):
        reasons.append("spam_keywords")
    return SpamVerdict(is_spam=bool(reasons), reasons=tuple(reasons))


def _visible(text: str) -> str:
    """``text`` without its separator runs and its whitespace: what the letter-ratio rule counts.

    ``str.split()`` cuts at exactly the characters ``str.isspace()`` calls whitespace, in C rather than one
    Python step per character (the rule runs on every submission).
    """
    return "".join(_SEPARATOR_RUN.sub("", text).split())


def _letter_ratio(visible: str) -> float:
    """The share of ``visible`` that is letters (categories L*) or combining marks (M*)."""
    if not visible:
        return 0.0
    # ``str.isalpha()`` is exactly the categories L*; only the rest (usually a few digits and punctuation) is
    # looked up, for combining marks, which belong to letters in Devanagari, Thai, Arabic and others.
    letters = sum(map(str.isalpha, visible))
    if letters < len(visible):
        letters += sum(unicodedata.category(char)[0] == "M" for char in filterfalse(str.isalpha, visible))
    return letters / len(visible)
