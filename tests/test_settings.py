"""Tests for ``Settings.from_env``: explicit argument, then environment variable, then default."""

from __future__ import annotations

import dataclasses
from dataclasses import fields

import pytest

from contact_sdk.errors import ConfigurationError
from contact_sdk.settings import DEFAULT_RESEND_API_URL, ENVIRONMENT_VARIABLES, Settings

INT_VARIABLES = [
    var.name
    for name, var in ENVIRONMENT_VARIABLES.items()
    if name.endswith(("_limit", "_seconds", "_ms")) and name != "min_fill_seconds"
]


def test_defaults_with_an_empty_environment() -> None:
    """With no variables set, every field takes its documented default."""
    settings = Settings.from_env(environ={})
    assert settings == Settings()
    assert settings.resend_api_url == DEFAULT_RESEND_API_URL
    assert settings.allowed_origins == ()
    assert settings.table_name is None


def test_every_field_has_exactly_one_variable() -> None:
    """Each Settings field is read from one documented variable, and the defaults agree with the dataclass."""
    assert set(ENVIRONMENT_VARIABLES) == {f.name for f in fields(Settings)}
    defaults = Settings.from_env(environ={})
    for f in fields(Settings):
        assert getattr(defaults, f.name) == f.default


def test_environment_values_are_parsed() -> None:
    """Variables override defaults: origins split on commas, integers parsed, the URL's trailing slash dropped."""
    settings = Settings.from_env(
        environ={
            "CONTACT_ALLOWED_ORIGINS": " https://example.com/ , http://localhost:3000,, ",
            "CONTACT_RATE_LIMIT": " 7 ",
            "CONTACT_ENVIRONMENT": "staging",
            "CONTACT_TABLE_NAME": "contact-staging",
            "RESEND_API_URL": "http://127.0.0.1:8025/",
            "CONTACT_DEADLINE_MARGIN_MS": "2500",
        }
    )
    assert settings.allowed_origins == ("https://example.com", "http://localhost:3000")
    assert settings.submit_limit == 7
    assert settings.environment == "staging"
    assert settings.table_name == "contact-staging"
    assert settings.resend_api_url == "http://127.0.0.1:8025"
    assert settings.deadline_margin_ms == 2500


def test_explicit_arguments_win_over_the_environment() -> None:
    """An explicit argument is used as given, even when the variable is set."""
    settings = Settings.from_env(environ={"CONTACT_RATE_LIMIT": "7"}, submit_limit=9, allowed_origins=("https://a.b",))
    assert settings.submit_limit == 9
    assert settings.allowed_origins == ("https://a.b",)


def test_blank_variables_mean_unset() -> None:
    """A variable set to whitespace falls back to the default instead of failing to parse."""
    assert Settings.from_env(environ={"CONTACT_RATE_LIMIT": "  ", "CONTACT_TABLE_NAME": ""}) == Settings()


def test_os_environ_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``environ``, the process environment is read (at call time, not import time)."""
    monkeypatch.setenv("CONTACT_ENVIRONMENT", "dev")
    assert Settings.from_env().environment == "dev"


#: The contract: ``CONTACT_MIN_FILL_SECONDS`` ``0`` turns the fill-time rule off; every other zero is a mistake.
ZERO_MEANS_OFF = {"CONTACT_MIN_FILL_SECONDS"}


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        (variable, raw)
        for variable in INT_VARIABLES
        for raw in ["ten", "1.5", "0x10", "0", "-3"]
        if not (raw == "0" and variable in ZERO_MEANS_OFF)
    ],
)
def test_bad_integers_name_the_variable(variable: str, raw: str) -> None:
    """A non-integer, zero or negative value raises ConfigurationError naming the variable."""
    with pytest.raises(ConfigurationError, match=f"^{variable}:"):
        Settings.from_env(environ={variable: raw})


def test_zero_min_fill_seconds_turns_the_rule_off() -> None:
    """``CONTACT_MIN_FILL_SECONDS=0`` is accepted (the rule is off); a negative value still names the variable."""
    assert Settings.from_env(environ={"CONTACT_MIN_FILL_SECONDS": "0"}).min_fill_seconds == 0
    with pytest.raises(ConfigurationError, match=r"^CONTACT_MIN_FILL_SECONDS: must be zero or more, got -1"):
        Settings.from_env(environ={"CONTACT_MIN_FILL_SECONDS": "-1"})


@pytest.mark.parametrize("raw", ["*", "https://example.com,*", "example.com", "https://ok.example, localhost:3000"])
def test_bad_origins_name_the_variable(raw: str) -> None:
    """A ``*`` or a value without a scheme in the origin list raises ConfigurationError naming the variable."""
    with pytest.raises(ConfigurationError, match=r"^CONTACT_ALLOWED_ORIGINS:"):
        Settings.from_env(environ={"CONTACT_ALLOWED_ORIGINS": raw})


def test_settings_are_frozen() -> None:
    """Settings is an immutable value object."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().environment = "dev"  # type: ignore[misc]


def test_min_fill_seconds_zero_turns_the_rule_off_and_negatives_are_refused() -> None:
    """``CONTACT_MIN_FILL_SECONDS=0`` is a valid setting (the timing check off); below zero or text is refused."""
    assert Settings.from_env(environ={"CONTACT_MIN_FILL_SECONDS": "0"}).min_fill_seconds == 0
    assert Settings.from_env(environ={"CONTACT_MIN_FILL_SECONDS": "5"}).min_fill_seconds == 5
    for raw in ("-1", "three", "2.5"):
        with pytest.raises(ConfigurationError, match=r"^CONTACT_MIN_FILL_SECONDS:"):
            Settings.from_env(environ={"CONTACT_MIN_FILL_SECONDS": raw})


@pytest.mark.parametrize("raw", ["0", "129", "-64", "sixty-four", "64.0"])
def test_bad_ipv6_prefixes_name_the_variable(raw: str) -> None:
    """The IPv6 rate-limit prefix is a whole number of bits from 1 to 128."""
    with pytest.raises(ConfigurationError, match=r"^CONTACT_RATE_LIMIT_IPV6_PREFIX:"):
        Settings.from_env(environ={"CONTACT_RATE_LIMIT_IPV6_PREFIX": raw})


def test_ipv6_prefix_default_and_override() -> None:
    """A /64 unless told otherwise; 48 and 128 are accepted."""
    assert Settings.from_env(environ={}).rate_limit_ipv6_prefix == 64
    assert Settings.from_env(environ={"CONTACT_RATE_LIMIT_IPV6_PREFIX": "48"}).rate_limit_ipv6_prefix == 48
    assert Settings.from_env(environ={"CONTACT_RATE_LIMIT_IPV6_PREFIX": "128"}).rate_limit_ipv6_prefix == 128


@pytest.mark.parametrize(
    ("raw", "strict"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("No", False)],
)
def test_turnstile_strict_is_a_boolean(raw: str, strict: bool) -> None:
    """The outage policy switch reads the usual spellings of true and false."""
    assert Settings.from_env(environ={"CONTACT_TURNSTILE_STRICT": raw}).turnstile_strict is strict


def test_a_bad_boolean_names_the_variable() -> None:
    """Anything else is refused, naming the variable."""
    with pytest.raises(ConfigurationError, match=r"^CONTACT_TURNSTILE_STRICT: expected true or false"):
        Settings.from_env(environ={"CONTACT_TURNSTILE_STRICT": "maybe"})


def test_turnstile_is_off_by_default() -> None:
    """No secret parameter: no Turnstile; the other settings have Cloudflare's endpoint and sane defaults."""
    settings = Settings.from_env(environ={})
    assert settings.turnstile_secret_parameter is None
    assert settings.turnstile_siteverify_url == "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    assert (settings.turnstile_action, settings.turnstile_timeout_ms, settings.turnstile_strict) == (
        "contact",
        2000,
        False,
    )


@pytest.mark.parametrize(
    "raw", ["api.resend.com", "ftp://api.resend.com", "https://", "https://api.resend.com?x=1", "https://a.b/#f"]
)
def test_a_resend_url_that_cannot_be_requested_names_the_variable(raw: str) -> None:
    """``RESEND_API_URL`` must be an http(s) URL with a host: anything else would fail every send, so it is refused."""
    with pytest.raises(ConfigurationError, match=r"^RESEND_API_URL: .* is not an http\(s\) base URL"):
        Settings.from_env(environ={"RESEND_API_URL": raw})


@pytest.mark.parametrize("variable", ["CONTACT_OUTBOX_QUEUE_URL", "CONTACT_PARKED_QUEUE_URL"])
@pytest.mark.parametrize(
    "raw",
    [
        "arn:aws:sqs:eu-west-1:123456789012:contact-outbox",
        "contact-outbox",
        "https://sqs.eu-west-1.amazonaws.com/contact-outbox",
        "https://sqs.eu-west-1.amazonaws.com/123456789012/contact-outbox/extra",
        "https://sqs.eu-west-1.amazonaws.com/123456789012/contact-outbox?Action=SendMessage",
        "ftp://sqs.eu-west-1.amazonaws.com/123456789012/contact-outbox",
        "https:///123456789012/contact-outbox",
        "https://[::1/123456789012/contact-outbox",  # urllib cannot split it
    ],
)
def test_a_queue_that_is_not_a_queue_url_names_the_variable(variable: str, raw: str) -> None:
    """An ARN, a bare name or a URL `SendMessage` cannot take would fail only at the first outage: refused at start."""
    with pytest.raises(ConfigurationError, match=rf"^{variable}: .* is not an SQS queue URL such as https://sqs"):
        Settings.from_env(environ={variable: raw})


@pytest.mark.parametrize("variable", ["CONTACT_OUTBOX_QUEUE_URL", "CONTACT_PARKED_QUEUE_URL"])
def test_a_fifo_queue_is_refused_with_the_reason(variable: str) -> None:
    """A FIFO queue takes no per-message delay (and needs message groups): the outbox must be a standard queue."""
    raw = "https://sqs.eu-west-1.amazonaws.com/123456789012/contact-outbox.fifo"
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env(environ={variable: raw})
    assert str(refused.value) == (
        f"{variable}: 'contact-outbox.fifo' is a FIFO queue; the service needs a standard queue (it delays each "
        "message by the wait its failure named, which a FIFO queue does not take)"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "https://sqs.eu-west-1.amazonaws.com/123456789012/contact-outbox",
        "https://eu-west-1.queue.amazonaws.com/123456789012/contact-outbox",
        "http://127.0.0.1:5000/123456789012/contact-outbox-local",
        "https://sqs.eu-west-1.amazonaws.com/123456789012/fifo-mail",
        "https://sqs.eu-west-1.amazonaws.com/123456789012/X",  # a one-letter name is a name
    ],
)
def test_a_standard_queue_url_is_kept_as_written(raw: str) -> None:
    """AWS's endpoints, the legacy one, and the local emulator's."""
    settings = Settings.from_env(environ={"CONTACT_OUTBOX_QUEUE_URL": raw, "CONTACT_PARKED_QUEUE_URL": raw})
    assert (settings.outbox_queue_url, settings.parked_queue_url) == (raw, raw)


def test_a_resend_url_with_a_path_is_kept_without_its_trailing_slash() -> None:
    """A proxy path is allowed; the trailing slash is dropped, as before."""
    assert Settings.from_env(environ={"RESEND_API_URL": "https://proxy.example/resend/"}).resend_api_url == (
        "https://proxy.example/resend"
    )


def test_a_bad_number_says_what_would_do_in_words_an_operator_reads() -> None:
    """The whole message, as the function's start-up log prints it: the lower bound, then an upper bound with its
    reason when it has one."""
    cases = {
        ("CONTACT_RATE_LIMIT", "0"): "CONTACT_RATE_LIMIT: must be greater than zero, got 0",
        ("CONTACT_RATE_LIMIT_IPV6_PREFIX", "129"): "CONTACT_RATE_LIMIT_IPV6_PREFIX: at most 128, got 129",
        ("CONTACT_RESPONSE_BUDGET_MS", "30000"): (
            "CONTACT_RESPONSE_BUDGET_MS: at most 29000 (API Gateway's integration timeout), got 30000"
        ),
        ("CONTACT_TOKEN_RATE_LIMIT", "many"): "CONTACT_TOKEN_RATE_LIMIT: expected a whole number, got 'many'",
    }
    for (variable, raw), message in cases.items():
        with pytest.raises(ConfigurationError) as refused:
            Settings.from_env(environ={variable: raw})
        assert str(refused.value) == message


@pytest.mark.parametrize(("raw", "level"), [("debug", "DEBUG"), ("Warning", "WARNING"), (" ERROR ", "ERROR")])
def test_the_log_level_is_read_in_any_case(raw: str, level: str) -> None:
    """``POWERTOOLS_LOG_LEVEL`` in any case, as Powertools reads it."""
    assert Settings.from_env(environ={"POWERTOOLS_LOG_LEVEL": raw}).log_level == level


@pytest.mark.parametrize("raw", ["verbose", "WARN", "10"])
def test_a_log_level_powertools_would_not_know_stops_the_start_up_naming_it(raw: str) -> None:
    """Anything but the five level names is refused with the variable, the accepted names and the value."""
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env(environ={"POWERTOOLS_LOG_LEVEL": raw})
    assert str(refused.value) == (
        f"POWERTOOLS_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {raw!r}"
    )


def test_empty_entries_in_the_origin_list_are_skipped_and_every_origin_kept_whole() -> None:
    """A doubled or trailing comma skips nothing after it; an origin is cut at its trailing slash only."""
    raw = "https://a.example,, http://LOCALHOST.BOX/ ,https://b.example:8443,"
    assert Settings.from_env(environ={"CONTACT_ALLOWED_ORIGINS": raw}).allowed_origins == (
        "https://a.example",
        "http://LOCALHOST.BOX",
        "https://b.example:8443",
    )


def test_a_resend_url_urllib_cannot_split_is_a_configuration_error() -> None:
    """An unbalanced IPv6 bracket makes ``urlsplit`` raise; the operator still gets the variable named."""
    with pytest.raises(ConfigurationError, match=r"^RESEND_API_URL: 'http://\[::1' is not an http\(s\) base URL"):
        Settings.from_env(environ={"RESEND_API_URL": "http://[::1"})


def test_a_resend_url_keeps_its_path_to_the_last_letter() -> None:
    """Only trailing slashes go: a proxy path ending in a capital letter is kept as written."""
    assert Settings.from_env(environ={"RESEND_API_URL": "https://gw.example/API/BOX//"}).resend_api_url == (
        "https://gw.example/API/BOX"
    )


def test_unknown_overrides_are_all_named_in_order() -> None:
    """A misspelt explicit setting is a TypeError, not silently ignored: every one, sorted, so one run shows them
    all."""
    with pytest.raises(TypeError) as refused:
        Settings.from_env(environ={}, webhook_secret=1, submit_limt=3)
    assert str(refused.value) == "unknown settings: submit_limt, webhook_secret"
