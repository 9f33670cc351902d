"""StackSettings.from_context: the stage throttle arithmetic, the WAF flags, and every bad context value.

No synthesis here (no Node.js needed); expected figures are worked out by hand in each docstring.
"""

from __future__ import annotations

from typing import Any

import pytest
from contact_stack.settings import StackSettings

ORIGIN = {"allowedOrigins": "https://example.com"}


def settings(**context: Any) -> StackSettings:
    return StackSettings.from_context({**ORIGIN, **context})


def test_the_default_stage_throttle_is_derived_from_20_slots_at_400_ms() -> None:
    """20 reserved x 0.5 headroom / 0.4 s = 25 requests/s; the burst is the 20 slots themselves."""
    default = settings()
    assert (default.reserved_concurrency, default.p95_duration_ms, default.throttle_headroom) == (20, 400, 0.5)
    assert (default.throttle_rate_limit, default.throttle_burst_limit) == (25, 20)


@pytest.mark.parametrize(
    ("context", "rate", "burst"),
    [
        ({"reservedConcurrency": "40", "p95DurationMs": "250"}, 80, 40),  # 40 x 0.5 / 0.25
        ({"p95DurationMs": 4000}, 2, 20),  # the 4 s response budget: 20 x 0.5 / 4 = 2.5, rounded down
        ({"p95DurationMs": 4000, "throttleHeadroom": "1"}, 5, 20),  # 20 / 4
        ({"reservedConcurrency": 1, "p95DurationMs": 30000}, 1, 1),  # 0.016..., never below 1
        ({"throttleRateLimit": "7", "throttleBurstLimit": "9"}, 7, 9),  # explicit values win
    ],
)
def test_other_reservations_and_durations(context: dict[str, Any], rate: int, burst: int) -> None:
    """The derivation follows the context; explicit throttleRateLimit/throttleBurstLimit override it."""
    derived = settings(**context)
    assert (derived.throttle_rate_limit, derived.throttle_burst_limit) == (rate, burst)


def test_waf_is_off_unless_asked_and_takes_cdk_json_booleans() -> None:
    """waf defaults to off with a 300-request limit and managed rules; JSON true and the text "TRUE" both count."""
    default = settings()
    assert (default.waf, default.waf_rate_limit, default.waf_managed_rules) == (False, 300, True)
    on = settings(waf=True, wafRateLimit="120", wafManagedRules="false")
    assert (on.waf, on.waf_rate_limit, on.waf_managed_rules) == (True, 120, False)
    assert settings(waf="TRUE").waf is True
    assert settings(manageApiGatewayAccount="false").manage_api_gateway_account is False
    assert settings(manageApiGatewayAccount=False).manage_api_gateway_account is False


def test_both_archive_indexes_unless_a_stack_is_upgraded_one_index_at_a_time() -> None:
    """archiveIndexes defaults to 2; 1 and 0 (the steps of an upgrade) are accepted as numbers or text."""
    assert settings().archive_indexes == 2
    assert settings(archiveIndexes="1").archive_indexes == 1
    assert settings(archiveIndexes=0).archive_indexes == 0


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"allowedOrigins": None}, "allowedOrigins is required"),
        ({"allowedOrigins": " , "}, "allowedOrigins is required"),
        ({"reservedConcurrency": "0"}, "reservedConcurrency: must be at least 1"),
        ({"reservedConcurrency": "twenty"}, "reservedConcurrency: expected a whole number"),
        ({"p95DurationMs": "0"}, "p95DurationMs: must be more than 0 and at most 30000"),
        ({"p95DurationMs": "45000"}, "p95DurationMs: must be more than 0 and at most 30000"),
        ({"p95DurationMs": "nan"}, "p95DurationMs: must be more than 0"),
        ({"p95DurationMs": "fast"}, "p95DurationMs: expected a number"),
        ({"throttleHeadroom": "0"}, "throttleHeadroom: must be more than 0 and at most 1"),
        ({"throttleHeadroom": "1.5"}, "throttleHeadroom: must be more than 0 and at most 1"),
        ({"throttleRateLimit": "0"}, "throttleRateLimit: must be at least 1"),
        ({"waf": "yes"}, "waf: expected true or false"),
        ({"wafManagedRules": "1"}, "wafManagedRules: expected true or false"),
        ({"wafRateLimit": "9"}, "wafRateLimit: must be at least 10"),
        ({"wafRateLimit": "3000000000"}, "wafRateLimit: must be at most 2000000000"),
        ({"manageApiGatewayAccount": "flase"}, "manageApiGatewayAccount: expected true or false"),
        ({"resendApiUrl": "api.resend.com"}, "resendApiUrl: 'api.resend.com' would be refused by the function"),
        (
            {"logLevel": "loud"},
            "logLevel: 'LOUD' would be refused by the function: POWERTOOLS_LOG_LEVEL must be one of DEBUG, INFO",
        ),
        ({"environment": "Prod"}, "environment: 'Prod' must be lower-case"),
        ({"deploymentConfig": "Canary5Percent"}, "deploymentConfig: 'Canary5Percent' is not one of AllAtOnce"),
        ({"deploymentConfig": "CodeDeployDefault.LambdaAllAtOnce"}, "deploymentConfig: 'CodeDeployDefault.Lambda"),
        ({"archiveIndexes": "3"}, "archiveIndexes: the table has two indexes"),
        ({"archiveIndexes": "-1"}, "archiveIndexes: must be at least 0"),
        ({"archiveIndexes": "both"}, "archiveIndexes: expected a whole number"),
    ],
)
def test_a_bad_context_value_is_named(context: dict[str, Any], message: str) -> None:
    """Each bad value stops with a message naming the key (a typo no longer means 'true')."""
    with pytest.raises(ValueError, match=message):
        StackSettings.from_context({**ORIGIN, **context})


#: What the runtime says of an allow-list entry that is not an origin (contact_sdk.security.origin).
NOT_AN_ORIGIN = "is not an origin (expected scheme://host[:port], never '*')"


@pytest.mark.parametrize(
    "origins",
    [
        "https://example.com/contact",  # a path: the example, which synthesised and then answered 500
        "https://example.com?x=1",  # a query
        "https://example.com#form",  # a fragment
        "https://example.com?",  # an empty query
        "*",  # the wildcard
        "https://*.example.com",  # a wildcard host
        "https://example.com:08443",  # a port with a leading zero
        "https://example.com:+443",  # a signed port
        "https://example.com:",  # an empty port
        "https://example.com:99999",  # a port out of range
        "https://user@example.com",  # user info
        "example.com",  # no scheme
        "ftp://example.com",  # not http(s)
        "https://ok.example,https://example.com/x",  # one bad entry among good ones
    ],
)
def test_the_synth_refuses_every_origin_the_function_refuses(origins: str) -> None:
    """An allow-list entry the runtime would refuse stops the synth, naming the key and quoting the runtime."""
    with pytest.raises(ValueError, match=r"^context allowedOrigins: .* would be refused by the function: ") as caught:
        StackSettings.from_context({"allowedOrigins": origins})
    assert NOT_AN_ORIGIN in str(caught.value)


@pytest.mark.parametrize(
    ("origins", "written"),
    [
        ("https://example.com", "https://example.com"),
        ("https://example.com/", "https://example.com"),  # the one trailing slash operators type is forgiven
        (" https://example.com , http://localhost:3000 ", "https://example.com,http://localhost:3000"),
        ("HTTPS://Example.com:443", "HTTPS://Example.com:443"),  # the browser's own normalisation, done at run time
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
    ],
)
def test_the_synth_accepts_what_the_function_accepts(origins: str, written: str) -> None:
    """Origins the runtime accepts synthesise, and reach the functions as the comma-separated variable."""
    settings = StackSettings.from_context({"allowedOrigins": origins})
    assert settings.function_environment()["CONTACT_ALLOWED_ORIGINS"] == written


def test_deploys_are_canaries_of_ten_minutes_unless_told() -> None:
    """The default gives the 5-minute rollback alarms one whole period of canary traffic; AllAtOnce is allowed."""
    assert settings().deployment_config == "Canary10Percent10Minutes"
    assert settings(deploymentConfig="AllAtOnce").deployment_config == "AllAtOnce"
