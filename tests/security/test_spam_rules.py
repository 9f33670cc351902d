"""The spam rules at their documented edges (docs/security.md, "Spam"), each case written out by hand.

Nothing here reads the module's constants: the numbers (3 links, a run of 20, 5 minutes of skew,
3 seconds of fill time, 40 visible characters of which under a fifth are letters) are the documented
rule, typed in, so a change to a constant is a change a test notices.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact_sdk.security.spam import SpamVerdict, judge

NOW_MS = 1_800_000_000_000
HONEST = "Hello! I read your article about serverless email and would love to chat about a project."


def reasons(
    *,
    honeypot: str | None = None,
    form_started_at_ms: int | None = None,
    message: str = HONEST,
    name: str = "Ada Lovelace",
    subject: str | None = "Project enquiry",
    min_fill_seconds: float = 3.0,
    token_issued_at_ms: int | None = None,
) -> tuple[str, ...]:
    """The reasons for a submission that is honest except for what the test overrides (default settings)."""
    verdict = judge(
        honeypot=honeypot,
        form_started_at_ms=form_started_at_ms,
        message=message,
        name=name,
        subject=subject,
        now_ms=NOW_MS,
        min_fill_seconds=min_fill_seconds,
        token_issued_at_ms=token_issued_at_ms,
    )
    assert verdict.is_spam == bool(verdict.reasons)
    return verdict.reasons


def test_the_defaults_are_three_seconds_of_fill_time_and_five_minutes_of_skew() -> None:
    """Called without the timing arguments, judge uses the documented 3 s fill time and 5 min skew."""

    def default(form_started_at_ms: int) -> tuple[str, ...]:
        return judge(
            honeypot=None,
            form_started_at_ms=form_started_at_ms,
            message=HONEST,
            name="Ada",
            subject=None,
            now_ms=NOW_MS,
        ).reasons

    assert default(NOW_MS - 2_999) == ("submitted_too_fast",)
    assert default(NOW_MS - 3_000) == ()
    assert default(NOW_MS + 300_000) == ()
    assert default(NOW_MS + 300_001) == ("form_started_in_future",)


# --- timing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("age_ms", "expected"), [(2_999, ("token_too_recent",)), (3_000, ()), (45_000, ())])
def test_a_token_younger_than_three_seconds_is_too_recent(age_ms: int, expected: tuple[str, ...]) -> None:
    """now − the token's signed issue time under 3 000 ms is spam, 3 000 ms is not."""
    assert reasons(token_issued_at_ms=NOW_MS - age_ms) == expected


@pytest.mark.parametrize("ahead_ms", [1, 1_000, 300_000])
def test_a_token_from_the_future_is_too_recent_with_no_skew_forgiven(ahead_ms: int) -> None:
    """The token's issue time is our own clock: any negative age is too fast, even within the form's 5 min skew."""
    assert reasons(token_issued_at_ms=NOW_MS + ahead_ms) == ("token_too_recent",)


def test_the_token_and_the_form_time_are_both_judged() -> None:
    """Both clocks count: a fresh token and a fresh formStartedAt each give their own reason."""
    assert reasons(form_started_at_ms=NOW_MS - 1_000, token_issued_at_ms=NOW_MS - 1_000) == (
        "submitted_too_fast",
        "token_too_recent",
    )
    assert reasons(form_started_at_ms=NOW_MS - 60_000, token_issued_at_ms=NOW_MS - 1_000) == ("token_too_recent",)
    assert reasons(form_started_at_ms=NOW_MS - 1_000, token_issued_at_ms=NOW_MS - 60_000) == ("submitted_too_fast",)


def test_zero_min_fill_seconds_turns_every_timing_rule_off() -> None:
    """CONTACT_MIN_FILL_SECONDS=0: an instant token, an instant form and a far-future form are all judged on content."""
    assert reasons(min_fill_seconds=0, token_issued_at_ms=NOW_MS, form_started_at_ms=NOW_MS) == ()
    assert reasons(min_fill_seconds=0, token_issued_at_ms=NOW_MS + 60_000) == ()
    assert reasons(min_fill_seconds=0, form_started_at_ms=NOW_MS + 3_600_000) == ()


def test_a_form_started_a_little_ahead_is_skew_not_too_fast() -> None:
    """A formStartedAt one second ahead (within the skew) is neither too fast nor from the future."""
    assert reasons(form_started_at_ms=NOW_MS + 1_000) == ()


def test_a_fractional_min_fill_time_is_honoured_to_the_millisecond() -> None:
    """min_fill_seconds=1.5 means 1 500 ms: 1 499 is too fast, 1 500 is not (for the form and the token)."""
    assert reasons(min_fill_seconds=1.5, form_started_at_ms=NOW_MS - 1_499) == ("submitted_too_fast",)
    assert reasons(min_fill_seconds=1.5, form_started_at_ms=NOW_MS - 1_500) == ()
    assert reasons(min_fill_seconds=1.5, token_issued_at_ms=NOW_MS - 1_499) == ("token_too_recent",)
    assert reasons(min_fill_seconds=1.5, token_issued_at_ms=NOW_MS - 1_500) == ()


def test_a_one_second_min_fill_time_still_judges() -> None:
    """min_fill_seconds=1 is a timing rule like any other: 999 ms after the form or the token is too fast."""
    assert reasons(min_fill_seconds=1, form_started_at_ms=NOW_MS - 999) == ("submitted_too_fast",)
    assert reasons(min_fill_seconds=1, token_issued_at_ms=NOW_MS - 999) == ("token_too_recent",)
    assert reasons(min_fill_seconds=1, form_started_at_ms=NOW_MS - 1_000, token_issued_at_ms=NOW_MS - 1_000) == ()


def test_the_skew_allowance_is_its_own_setting() -> None:
    """max_clock_skew_seconds=10 moves the future limit to 10 000 ms ahead."""

    def ahead(ms: int) -> tuple[str, ...]:
        return judge(
            honeypot=None,
            form_started_at_ms=NOW_MS + ms,
            message=HONEST,
            name="Ada",
            subject=None,
            now_ms=NOW_MS,
            max_clock_skew_seconds=10,
        ).reasons

    assert ahead(10_000) == ()
    assert ahead(10_001) == ("form_started_in_future",)


# --- links ----------------------------------------------------------------------------------------

THREE_LINKS = "Sources: https://a.example/1 http://b.example/2 www.c.example/3 thanks"


def test_three_links_pass_and_a_fourth_anywhere_is_spam() -> None:
    """3 URLs in subject and message together are fine; a 4th, in the message or the subject, is too many."""
    assert reasons(message=THREE_LINKS) == ()
    assert reasons(message=THREE_LINKS + " https://d.example/4") == ("too_many_links",)
    assert reasons(message=THREE_LINKS, subject="also www.d.example") == ("too_many_links",)


def test_urls_are_recognised_in_any_case() -> None:
    """HTTP://, Https:// and WWW. are URLs too: four of them are too many."""
    message = "See HTTP://a.example Https://b.example WWW.c.example hTtP://d.example"
    assert reasons(message=message) == ("too_many_links",)


def test_a_scheme_without_slashes_or_a_bare_domain_is_not_a_link() -> None:
    """Only http(s)://… and www.… count: 'http:' alone or a bare example.com are words, not links."""
    message = "Words like http: https: example.com and wwwx.example are not four links at all, thanks."
    assert reasons(message=message) == ()


# --- repeated characters --------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["message", "subject", "name"])
def test_twenty_in_a_row_is_spam_and_nineteen_is_not(field: str) -> None:
    """One character 20 times in a row in subject, message or name is spam; 19 times is not."""
    nineteen = "Hello " + "z" * 19 + " there"
    twenty = "Hello " + "z" * 20 + " there"
    assert reasons(**{field: nineteen}) == ()  # type: ignore[arg-type]
    assert reasons(**{field: twenty}) == ("repeated_character",)  # type: ignore[arg-type]


@pytest.mark.parametrize("separator", ["-", "=", "_", "*", "#", "~", "."])
def test_separator_characters_may_run_on(separator: str) -> None:
    """The separators -=_*#~. may repeat 30 times (a rule under a heading) without being spam."""
    assert reasons(message=f"Heading\n{separator * 30}\nBody of the message, with words in it.") == ()


@pytest.mark.parametrize("run", ["!" * 20, "9" * 20, "+" * 20, "я" * 20])
def test_other_characters_are_not_separators(run: str) -> None:
    """Punctuation, digits and letters outside the separator set do count as a repeated run."""
    assert "repeated_character" in reasons(message=f"Please read this, it matters a lot {run} thanks")


def test_whitespace_may_run_on() -> None:
    """Thirty spaces or blank lines in a row are layout, not a repeated character."""
    assert reasons(message="Hello," + " " * 30 + "see below." + "\n" * 30 + "Regards, Ada Lovelace") == ()


# --- share of letters -----------------------------------------------------------------------------

# 40 visible characters: 8 letters (a fifth) and 32 digits; then 7 letters and 33 digits.
A_FIFTH_LETTERS = "abcdefgh " + "1234567890 " * 3 + "12"
UNDER_A_FIFTH = "abcdefg " + "1234567890 " * 3 + "123"


def test_the_hand_built_messages_have_the_counts_they_claim() -> None:
    """The two messages below hold 40 visible characters, 8 and 7 of them letters (checked by counting)."""
    for message, letters in ((A_FIFTH_LETTERS, 8), (UNDER_A_FIFTH, 7)):
        visible = [c for c in message if c != " "]
        assert len(visible) == 40
        assert sum(c.isalpha() for c in visible) == letters


def test_a_message_of_exactly_a_fifth_letters_passes() -> None:
    """8 letters out of 40 visible characters is a fifth: not 'under a fifth', so not spam."""
    assert reasons(message=A_FIFTH_LETTERS) == ()


def test_a_message_of_under_a_fifth_letters_is_spam() -> None:
    """7 letters out of 40 visible characters is under a fifth: spam."""
    assert reasons(message=UNDER_A_FIFTH) == ("mostly_non_letters",)


def test_thirty_nine_visible_characters_are_never_judged_by_their_letters() -> None:
    """A message of 39 digits is too short for the letter rule; 40 digits is judged and is spam."""
    assert reasons(message="1234567890 " * 3 + "123456789") == ()
    assert reasons(message="1234567890 " * 4) == ("mostly_non_letters",)


def test_separator_lines_neither_count_as_visible_nor_against_the_letters() -> None:
    """A 30-dash line plus 35 digits is 35 visible characters (too short); letters beside a long rule still count."""
    assert reasons(message="-" * 30 + "\n" + "12345 " * 7) == ()
    assert reasons(message="-" * 30 + "\n" + "123456 " * 6) == ()  # 36 visible: still too short
    # 8 letters + 32 digits + a rule of 40 '=': the rule is ignored, so 8/40 is a fifth and passes.
    assert reasons(message=A_FIFTH_LETTERS + "\n" + "=" * 40) == ()
    # 7 letters of 40 plus a rule: the rule adds nothing, so it stays under a fifth.
    assert reasons(message=UNDER_A_FIFTH + "\n" + "-" * 10) == ("mostly_non_letters",)


def test_a_short_run_of_a_separator_is_an_ordinary_character() -> None:
    """Two dots in a row are not a separator line: they count as visible, non-letter characters."""
    # 8 letters, 28 digits and two '..' pairs: 40 visible, 8 letters -> a fifth, passes;
    # one letter fewer and it is under a fifth.
    assert reasons(message="abcdefgh .. .. " + "1234567 " * 4) == ()
    assert reasons(message="abcdefg .. .. " + "1234567 " * 4 + "1") == ("mostly_non_letters",)


def test_combining_marks_count_as_letters() -> None:
    """In Devanagari a vowel sign is a combining mark: 4 consonants + 4 signs out of 40 is a fifth, not spam."""
    ki = "\u0915\u093f"  # क + ि : a letter (Lo) and a spacing combining mark (Mc)
    message = ki * 4 + " " + "1234567890 " * 3 + "12"
    assert sum(1 for c in message if not c.isspace()) == 40
    assert reasons(message=message) == ()


def test_letters_of_every_script_count() -> None:
    """Cyrillic letters count as letters: 8 of them out of 40 visible characters pass."""
    assert reasons(message="абвгдежз " + "1234567890 " * 3 + "12") == ()


def test_every_kind_of_whitespace_is_left_out_of_the_count() -> None:
    """No-break, ideographic and line-separator spaces and the C0 separators are whitespace, not characters.

    8 letters and 32 digits, spaced with them: a fifth, passes; with a letter swapped for a digit, under a fifth.
    """
    spaces = "\u00a0\u3000\u2028\u2029\x1c\x1d\x1e\x1f\x85\u200a"
    message = "abcdefgh" + "".join(f"{d}{spaces[i % len(spaces)]}" for i, d in enumerate("1234567890" * 3 + "12"))
    assert reasons(message=message) == ()
    assert reasons(message="abcdefg" + spaces + "1" + message[7:]) == ("mostly_non_letters",)


def _mostly_non_letters_by_hand(message: str) -> bool:
    """The letter rule read one character at a time, from the Unicode database (the reference reading).

    Runs of three or more of one separator (``- = _ * # ~ .``) are left out, then whitespace; of what is left
    (judged only from 40 characters on), under a fifth may be letters (L*) or combining marks (M*).
    """
    without_rules = re.sub(r"([-=_*#~.])\1{2,}", "", message)
    visible = [c for c in without_rules if not c.isspace()]
    if len(visible) < 40:
        return False
    letters = sum(1 for c in visible if unicodedata.category(c)[0] in "LM")
    return letters * 5 < len(visible)


_MIXED_TEXT = st.text(
    alphabet=st.sampled_from(
        list("abéЖकि́א中")  # letters of several scripts, combining marks
        + list("0123456789٣²Ⅶ!?,;'\"()/")  # digits (Arabic-Indic, superscript), Roman numeral, punctuation
        + list(" \t\n\u00a0\u3000\u2028\x1c\x85")  # whitespace of several kinds
        + list("-=_*#~.")  # the separators
        + ["\U0001f600", "\u200b", "\ufeff"]  # an emoji; zero-width space and BOM are not whitespace
    ),
    max_size=120,
)


@settings(max_examples=400, deadline=None)
@given(message=_MIXED_TEXT)
def test_the_letter_rule_matches_a_reading_one_character_at_a_time(message: str) -> None:
    """Whatever the mix of scripts, digits, whitespace and separators, the verdict is the reference reading's."""
    assert ("mostly_non_letters" in reasons(message=message)) == _mostly_non_letters_by_hand(message)


def test_split_and_isalpha_mean_what_the_letter_rule_takes_them_to_mean() -> None:
    """Over every code point: ``str.split()`` cuts exactly at ``isspace()``, ``isalpha()`` is exactly L*.

    The rule counts with both (in C, not one Python step per character); a Python whose Unicode tables
    disagreed would change which messages are spam.
    """
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert (char.split() == []) == char.isspace(), hex(code)
        assert char.isalpha() == (unicodedata.category(char)[0] == "L"), hex(code)


# --- name, honeypot, keywords ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Ada https://x.example", "WWW.shop.example", "http://a"])
def test_a_url_in_the_name_is_spam(name: str) -> None:
    """A name holding a URL (any case) is spam, whatever the rest says."""
    assert reasons(name=name) == ("url_in_name",)


@pytest.mark.parametrize("honeypot", [" ", "\t", "0", "no"])
def test_any_honeypot_content_is_spam(honeypot: str) -> None:
    """Whitespace, "0" or a word in the hidden field: it holds something, so it is filled."""
    assert reasons(honeypot=honeypot) == ("honeypot_filled",)


# Typed from the module's documented vocabulary, not read from SPAM_KEYWORDS.
KEYWORDS = [
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
]


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_each_keyword_with_a_link_is_spam(keyword: str) -> None:
    """Every listed phrase, in any case and with a plural s, is spam once a link comes with it."""
    assert reasons(message=f"Great deal on {keyword} today, see https://offer.example") == ("spam_keywords",)
    assert reasons(message=f"Great deal on {keyword.upper()}S today at www.offer.example") == ("spam_keywords",)


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_each_keyword_without_a_link_passes(keyword: str) -> None:
    """A keyword alone is a weak signal: without a link the message is delivered."""
    assert reasons(message=f"I wrote an essay on {keyword} for my class, may I send it?") == ()


def test_a_keyword_in_the_subject_with_a_link_in_the_message_is_spam() -> None:
    """Subject and message are judged together for the keyword rule."""
    assert reasons(subject="Casino bonus", message="Details at https://offer.example, thanks") == ("spam_keywords",)


def test_a_keyword_inside_another_word_does_not_count() -> None:
    """'forexample' and 'casinos2' are not the words 'forex' and 'casino' (word boundaries)."""
    message = "See https://docs.example forexample and xcasino, nothing else here for you."
    assert reasons(message=message) == ()


def test_several_rules_report_in_the_documented_order() -> None:
    """Every rule that fires is reported, honeypot first and keywords last."""
    verdict = judge(
        honeypot="x",
        form_started_at_ms=NOW_MS - 10,
        message="casino https://a.example https://b.example https://c.example https://d.example " + "$" * 20,
        name="www.spam.example",
        subject=None,
        now_ms=NOW_MS,
    )
    assert verdict == SpamVerdict(
        is_spam=True,
        reasons=(
            "honeypot_filled",
            "submitted_too_fast",
            "too_many_links",
            "repeated_character",
            "url_in_name",
            "spam_keywords",
        ),
    )
