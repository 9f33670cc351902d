"""What a person may type in a one-line field: control characters out, the format characters people use in.

A *control character* here is one that can break a header, a log line or the way a line is shown:

* ``Cc`` — C0 controls (CR, LF, TAB, NUL, ...), DEL and the C1 controls (NEL ``U+0085``, ...);
* ``Zl``/``Zp`` — the line and paragraph separators ``U+2028``/``U+2029``;
* ``Cs`` — a lone surrogate (JSON's ``"\\ud800"``), which no UTF-8 encoder accepts;
* the bidi *embeddings and overrides* ``U+202A``–``U+202E``, which re-order the rest of the line
  when it is displayed (the "Trojan Source" trick: a subject that reads differently than it is).

Every other format character (``Cf``) is allowed: the zero-width joiner and non-joiner that Persian
and Indic names need (``U+200D``/``U+200C``), the bidi marks (``U+200E``/``U+200F``/``U+061C``) and
isolates (``U+2066``–``U+2069``), the tag characters of flag emoji.

Example::

    control_character("Ada\\nBcc: x")   # '\\n'
    control_character("Zahra\u200cKhani")  # None: ZWNJ is part of how the name is written
"""

from __future__ import annotations

import unicodedata

__all__ = ["control_character", "describe_character"]

_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e")


def control_character(value: str, *, allowed: str = "") -> str | None:
    """The first control character in ``value`` (not counting those in ``allowed``), or ``None``."""
    if value.isprintable():  # fast path in C: nothing but printable characters (nearly every real value)
        return None
    for ch in value:
        if ch in allowed:
            continue
        if ch in _BIDI_OVERRIDES or unicodedata.category(ch) in _CONTROL_CATEGORIES:
            return ch
    return None


def describe_character(ch: str) -> str:
    """``U+000A`` style, for error messages that must not echo the character itself."""
    return f"U+{ord(ch):04X}"
