"""Tests for the spam rules: each rule alone, and realistic honest messages that must pass."""

from __future__ import annotations

import pytest

from contact_sdk.security.spam import MAX_LINKS, MAX_REPEAT, SpamVerdict, judge

NOW_MS = 1_700_000_000_000
HONEST = "Hello! I read your article about serverless email and would love to chat about a project."


def verdict(
    *,
    honeypot: str | None = None,
    form_started_at_ms: int | None = NOW_MS - 45_000,
    message: str = HONEST,
    name: str = "Ada Lovelace",
    subject: str | None = "Project enquiry",
    now_ms: int = NOW_MS,
    min_fill_seconds: float = 3.0,
    token_issued_at_ms: int | None = None,
) -> SpamVerdict:
    """Judge a submission that is honest except for what the test overrides."""
    return judge(
        honeypot=honeypot,
        form_started_at_ms=form_started_at_ms,
        message=message,
        name=name,
        subject=subject,
        now_ms=now_ms,
        min_fill_seconds=min_fill_seconds,
        token_issued_at_ms=token_issued_at_ms,
    )


LEGITIMATE_MESSAGES = [
    pytest.param(HONEST, id="short-english"),
    pytest.param(
        "Hi Bjorn,\n\nI'm a recruiter at a fintech in Oslo. We're hiring a senior cloud engineer and your "
        "portfolio stood out. Would you be open to a 30-minute call next week? Tuesday or Thursday work best.\n\n"
        "Best regards,\nKari",
        id="recruiter",
    ),
    pytest.param(
        "Hallo! Ich habe Ihren Artikel über AWS Lambda gelesen. Können wir nächste Woche telefonieren? "
        "Viele Grüße aus München.",
        id="german",
    ),
    pytest.param("Привет! Мне очень понравился ваш проект. Можно задать пару вопросов о реализации?", id="russian"),
    pytest.param("こんにちは。あなたのブログ記事を読みました。サーバーレスについて質問があります。", id="japanese"),
    pytest.param("नमस्ते! आपका लेख बहुत अच्छा लगा। क्या हम अगले सप्ताह बात कर सकते हैं?", id="hindi"),
    pytest.param("مرحبا، قرأت مقالتك عن الحوسبة بدون خوادم وأود التحدث معك بخصوص مشروع.", id="arabic"),
    pytest.param(
        "I found a bug in your demo, see https://github.com/example/repo/issues/12 for the details. Thanks!",
        id="one-link",
    ),
    pytest.param(
        "Your retry example fails for me:\n\n```python\ndef send(msg):\n    for attempt in range(3):\n"
        "        try:\n            return client.post(url, json=msg)\n        except TimeoutError:\n"
        "            continue\n```\n\nAm I missing something?",
        id="code-snippet",
    ),
    pytest.param(
        "Quick question about pricing.\n--------------------------------\nBudget: 5000 EUR\nStart: 2024-05-01\n"
        "================================\nThanks, Tom",
        id="separator-lines",
    ),
    pytest.param(
        "Call me on +47 912 34 567 or +1 (555) 010-9999 any time after 9 am, thanks a lot!", id="phone-numbers"
    ),
    pytest.param(
        "I saw your talk on crypto wallets and SEO for developer blogs. Great stuff, no links needed.",
        id="keywords-without-links",
    ),
    pytest.param("Loved it!!! Soooo good. 👍👍👍 Let's talk soon about the website project.", id="emoji"),
]


@pytest.mark.parametrize("message", LEGITIMATE_MESSAGES)
def test_realistic_honest_messages_are_not_spam(message: str) -> None:
    """Ordinary messages in several languages, with a link, code or numbers, pass every rule."""
    assert verdict(message=message) == SpamVerdict(is_spam=False, reasons=())


@pytest.mark.parametrize("name", ["Ada Lovelace", "José María Ñúñez", "李小龍", "Dr. O'Brien-Smith", "J."])
def test_ordinary_names_pass(name: str) -> None:
    """Names with accents, other scripts, dots and apostrophes are fine."""
    assert not verdict(name=name).is_spam


def test_everything_optional_absent_is_fine() -> None:
    """No honeypot, no formStartedAt, no subject: judged on content alone."""
    assert not verdict(honeypot=None, form_started_at_ms=None, subject=None).is_spam


# --- honeypot ------------------------------------------------------------------------------------


@pytest.mark.parametrize("honeypot", ["http://spam.example", "x", " "])
def test_filled_honeypot_is_spam(honeypot: str) -> None:
    """Anything in the hidden field is spam: people never see it."""
    assert verdict(honeypot=honeypot) == SpamVerdict(is_spam=True, reasons=("honeypot_filled",))


@pytest.mark.parametrize("honeypot", [None, ""])
def test_absent_or_empty_honeypot_is_fine(honeypot: str | None) -> None:
    """An absent or empty honeypot is what a browser sends."""
    assert not verdict(honeypot=honeypot).is_spam


# --- fill time -----------------------------------------------------------------------------------


@pytest.mark.parametrize("elapsed_ms", [0, 1, 1_500, 2_999])
def test_submitted_under_min_fill_time_is_spam(elapsed_ms: int) -> None:
    """A form sent less than three seconds after it was rendered is spam."""
    result = verdict(form_started_at_ms=NOW_MS - elapsed_ms)
    assert result == SpamVerdict(is_spam=True, reasons=("submitted_too_fast",))


@pytest.mark.parametrize("elapsed_ms", [3_000, 3_001, 60_000, 7 * 86_400_000])
def test_submitted_after_min_fill_time_is_fine(elapsed_ms: int) -> None:
    """Three seconds or more is human; so is a tab left open for a week."""
    assert not verdict(form_started_at_ms=NOW_MS - elapsed_ms).is_spam


def test_min_fill_time_is_configurable() -> None:
    """``min_fill_seconds`` moves the threshold."""
    assert verdict(form_started_at_ms=NOW_MS - 4_000, min_fill_seconds=5).reasons == ("submitted_too_fast",)
    assert not verdict(form_started_at_ms=NOW_MS - 4_000, min_fill_seconds=2.5).is_spam


@pytest.mark.parametrize("ahead_ms", [1, 1_000, 300_000])
def test_start_slightly_in_the_future_is_clock_skew(ahead_ms: int) -> None:
    """A browser clock up to five minutes ahead is given the benefit of the doubt."""
    assert not verdict(form_started_at_ms=NOW_MS + ahead_ms).is_spam


@pytest.mark.parametrize("ahead_ms", [300_001, 3_600_000, 10**12])
def test_start_far_in_the_future_is_spam(ahead_ms: int) -> None:
    """A form 'started' more than five minutes from now was not rendered by a browser."""
    assert verdict(form_started_at_ms=NOW_MS + ahead_ms).reasons == ("form_started_in_future",)


# --- content -------------------------------------------------------------------------------------


def test_more_than_three_links_is_spam() -> None:
    """Four links across subject and message is spam; three is not."""
    links = [f"https://site{i}.example/page" for i in range(MAX_LINKS + 1)]
    three = "Some references for you: " + " ".join(links[:MAX_LINKS])
    assert not verdict(message=three).is_spam
    assert verdict(message=three, subject="see www.more.example").reasons == ("too_many_links",)
    assert verdict(message="Some references: " + " ".join(links)).reasons == ("too_many_links",)


def test_a_run_of_one_character_is_spam() -> None:
    """Twenty of the same character in a row is spam; nineteen is not."""
    assert not verdict(message="Hello there a" + "a" * (MAX_REPEAT - 2) + "h, nice").is_spam
    assert verdict(message="Hello there " + "a" * MAX_REPEAT).reasons == ("repeated_character",)
    assert verdict(message="Please read this important offer right now" + "!" * 25).reasons == ("repeated_character",)


def test_a_run_in_the_name_is_spam() -> None:
    """The same rule applies to the name field."""
    assert verdict(name="x" * 30).reasons == ("repeated_character",)


@pytest.mark.parametrize(
    "message",
    [
        "$$$ 100% !!! ### 555-0100 %%% ^^^ $$$ 200% !!! ### 555-0199 %%% ^^^ @@@",
        "1234567890 0987654321 1234567890 0987654321 1234567890",
        "<<<>>>{{{}}}[[[]]]()()<<<>>>{{{}}}[[[]]]()()<<<>>>{{{}}}",
    ],
)
def test_mostly_non_letters_is_spam(message: str) -> None:
    """A long message that is mostly symbols and digits is spam."""
    assert "mostly_non_letters" in verdict(message=message).reasons


@pytest.mark.parametrize(
    "message",
    [
        "Call me: +44 20 7946 0958 / 07700 900123",
        "Order 4481-2209-7731, invoice 2026/11/27",
        "----------\n==========",
    ],
)
def test_short_notes_full_of_numbers_are_not_spam(message: str) -> None:
    """Phone numbers and order ids in a short note are a person's message, never silently dropped."""
    assert "mostly_non_letters" not in verdict(message=message).reasons


@pytest.mark.parametrize("name", ["http://cheap.example", "Visit https://x.example now", "www.spam.example"])
def test_url_in_name_is_spam(name: str) -> None:
    """A link where a name belongs is spam."""
    assert verdict(name=name).reasons == ("url_in_name",)


def test_spam_keywords_count_only_with_a_link() -> None:
    """Spam vocabulary alone passes; with a link it is spam."""
    pitch = "We offer affordable SEO services and high quality backlinks for your site."
    assert not verdict(message=pitch).is_spam
    assert verdict(message=pitch + " Details: https://seo.example").reasons == ("spam_keywords",)


def test_spam_keywords_match_whole_words_case_insensitively() -> None:
    """Keywords match regardless of case and in the plural, but not inside other words."""
    assert verdict(message="Best CASINOS here: https://c.example").reasons == ("spam_keywords",)
    assert not verdict(message="The Cassino bus timetable is at https://bus.example").is_spam


def test_all_firing_rules_are_reported() -> None:
    """Every rule that fires contributes its reason, in rule order."""
    result = verdict(
        honeypot="filled",
        form_started_at_ms=NOW_MS - 100,
        name="http://spam.example",
        message="viagra viagra " + " ".join(f"http://s{i}.example" for i in range(5)) + " " + "!" * 400,
    )
    assert result.is_spam
    assert result.reasons == (
        "honeypot_filled",
        "submitted_too_fast",
        "too_many_links",
        "repeated_character",
        "mostly_non_letters",
        "url_in_name",
        "spam_keywords",
    )


@pytest.mark.parametrize(
    ("token_age_ms", "form_age_ms", "reasons"),
    [
        (2_999, 45_000, ("token_too_recent",)),
        (0, None, ("token_too_recent",)),
        (-500, 45_000, ("token_too_recent",)),  # our own clock issued it: no skew is forgiven
        (3_000, 45_000, ()),
        (60_000, None, ()),
        (60_000, 1_000, ("submitted_too_fast",)),
        (1_000, 1_000, ("submitted_too_fast", "token_too_recent")),
    ],
)
def test_the_token_issue_time_is_judged_with_form_started_at(
    token_age_ms: int, form_age_ms: int | None, reasons: tuple[str, ...]
) -> None:
    """Too fast after the token's issue *or* after formStartedAt; the token is evidence a bot cannot backdate."""
    result = verdict(
        token_issued_at_ms=NOW_MS - token_age_ms,
        form_started_at_ms=None if form_age_ms is None else NOW_MS - form_age_ms,
    )
    assert result.reasons == reasons


@pytest.mark.parametrize("form_started_at_ms", [NOW_MS, NOW_MS + 10**9, None])
def test_zero_min_fill_seconds_turns_every_timing_rule_off(form_started_at_ms: int | None) -> None:
    """``min_fill_seconds=0``: neither a fresh token, a fresh form nor a form far in the future is spam."""
    result = verdict(min_fill_seconds=0, token_issued_at_ms=NOW_MS, form_started_at_ms=form_started_at_ms)
    assert not result.is_spam


def test_a_whitespace_honeypot_is_filled() -> None:
    """Whitespace is content: people never see the field, so anything in it came from a bot."""
    assert verdict(honeypot=" ").reasons == ("honeypot_filled",)
    assert verdict(honeypot="\n").reasons == ("honeypot_filled",)
    assert not verdict(honeypot="").is_spam
