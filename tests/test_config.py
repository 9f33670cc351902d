"""The Parameter Store cache and the parsing of the two secret parameters."""

from __future__ import annotations

import json

import pytest

from contact_sdk.config import ParameterCache, ResendConfig, ServiceConfig, parse_csrf_secret
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.errors import ConfigUnavailableError, ConfigurationError

SECRET = "s" * 40
OLD = "o" * 40


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_fetches_once_per_ttl_and_counts_only_real_fetches() -> None:
    """Within the hour the value comes from memory; on_fetch fires for the fetches, never for hits."""
    source = InMemoryParameterSource({"/p": "v1"})
    clock, fetched = Clock(), []
    cache = ParameterCache(source, ttl_seconds=3600, clock=clock, on_fetch=fetched.append)
    assert [cache.get("/p") for _ in range(3)] == ["v1"] * 3
    source.values["/p"] = "v2"
    clock.now += 3599
    assert cache.get("/p") == "v1"
    clock.now += 1
    assert cache.get("/p") == "v2"
    assert fetched == ["/p", "/p"]


def test_a_failed_refresh_serves_the_stale_value_and_nothing_cached_raises() -> None:
    """Parameter Store down: the old value is served; with no old value the error propagates."""
    source = InMemoryParameterSource({"/p": "v1"})
    clock = Clock()
    cache = ParameterCache(source, ttl_seconds=10, clock=clock)
    assert cache.get("/p") == "v1"
    source.fail = True
    clock.now += 11
    assert cache.get("/p") == "v1"
    with pytest.raises(ConfigUnavailableError):
        cache.get("/other")


def test_csrf_secret_plain_and_with_a_previous_one() -> None:
    """A plain value is the current secret; the JSON form adds the previous one(s) for verification."""
    assert parse_csrf_secret("/s", SECRET) == (SECRET.encode(), ())
    rotated = json.dumps({"current": SECRET, "previous": OLD})
    assert parse_csrf_secret("/s", rotated) == (SECRET.encode(), (OLD.encode(),))
    listed = json.dumps({"current": SECRET, "previous": [OLD, "p" * 40]})
    assert parse_csrf_secret("/s", listed)[1] == (OLD.encode(), ("p" * 40).encode())


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("short", "current"),
        ('{"current": "' + SECRET + '", "previous": "short"}', "previous"),
        ('{"previous": "' + SECRET + '"}', "current"),
        ('{"current": "' + SECRET + '", "extra": 1}', "extra"),
        ("{not json", "JSON"),
    ],
)
def test_a_bad_csrf_secret_names_the_problem_never_the_value(raw: str, names: str) -> None:
    """Short, missing, unknown or malformed: a ConfigurationError naming the parameter and field only."""
    with pytest.raises(ConfigurationError) as error:
        parse_csrf_secret("/portfolio/test/csrf", raw)
    assert "/portfolio/test/csrf" in str(error.value)
    assert names in str(error.value)
    assert SECRET not in str(error.value)


def test_service_config_rereads_the_resend_config_when_forced() -> None:
    """force_refresh bypasses the TTL (key rotation after a 401/403)."""
    value = {
        "apiKey": "re_one",
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "me@example.com",
        "version": 1,
        "rotatedAt": "2026-11-01T00:00:00Z",
    }
    source = InMemoryParameterSource({"/c": json.dumps(value), "/s": SECRET})
    config = ServiceConfig(ParameterCache(source), config_parameter="/c", csrf_secret_parameter="/s")
    assert config.resend().api_key == "re_one"
    source.values["/c"] = json.dumps({**value, "apiKey": "re_two"})
    assert config.resend().api_key == "re_one"
    assert config.resend(force_refresh=True).api_key == "re_two"
    assert "re_two" not in repr(config.resend())
    assert isinstance(config.resend(), ResendConfig)
