"""The Parameter Store cache and the parsing of the two secret parameters."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from contact_sdk.config import (
    ParameterCache,
    ParameterReadRefusedError,
    ResendConfig,
    ServiceConfig,
    parse_csrf_secret,
)
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


class BatchSource(InMemoryParameterSource):
    """An in-memory source that can also read several names at once; ``calls`` records every read."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.calls: list[tuple[str, ...]] = []
        self.batch_error: ConfigurationError | None = None
        self.spelled_differently: set[str] = set()

    def fetch(self, name: str) -> str:
        self.calls.append(("GetParameter", name))
        return super().fetch(name)

    def fetch_many(self, names: Sequence[str]) -> dict[str, str]:
        self.calls.append(("GetParameters", *names))
        if self.batch_error is not None:
            raise self.batch_error
        if self.fail:
            raise ConfigUnavailableError("parameters: Parameter Store unreachable (simulated)")
        return {n: self.values[n] for n in names if n in self.values and n not in self.spelled_differently}


def batching_cache(source: BatchSource, clock: Clock, fetched: list[str]) -> ParameterCache:
    return ParameterCache(source, ttl_seconds=60, clock=clock, on_fetch=fetched.append, read_with={"/s": ["/c"]})


def test_a_parameter_brings_its_companions_along_only_when_they_are_due() -> None:
    """``/s`` brings ``/c`` in one read; ``/c`` alone brings nothing; after the TTL both come back together."""
    source, clock, fetched = BatchSource({"/s": "secret", "/c": "config"}), Clock(), []
    cache = batching_cache(source, clock, fetched)
    assert cache.get("/s") == "secret"
    assert cache.get("/c") == "config"
    assert source.calls == [("GetParameters", "/s", "/c")]
    assert fetched == ["/s", "/c"], "on_fetch fires per parameter read, batch or not"
    clock.now += 60
    assert cache.get("/c") == "config"  # read on its own: it brings nothing along
    assert cache.get("/s") == "secret"  # /c is fresh again: /s is read on its own (not a batch of one)
    assert source.calls[1:] == [("GetParameter", "/c"), ("GetParameter", "/s")]
    clock.now += 60
    cache.get("/s")
    assert source.calls[3:] == [("GetParameters", "/s", "/c")]


def test_a_forced_read_is_always_alone() -> None:
    source, clock = BatchSource({"/s": "secret", "/c": "config"}), Clock()
    cache = batching_cache(source, clock, [])
    assert cache.get("/s", force=True) == "secret"
    assert source.calls == [("GetParameter", "/s")]


def test_a_name_the_batch_did_not_return_is_read_alone() -> None:
    """A name the answer spells differently (an ARN, a version selector) or a missing one: asked for alone."""
    source, clock, fetched = BatchSource({"/s": "secret", "/c": "config"}), Clock(), []
    source.spelled_differently = {"/s"}
    cache = batching_cache(source, clock, fetched)
    assert cache.get("/s") == "secret"
    assert cache.get("/c") == "config"
    assert source.calls == [("GetParameters", "/s", "/c"), ("GetParameter", "/s")]
    del source.values["/s"]
    source.spelled_differently = set()
    clock.now += 60
    with pytest.raises(ConfigurationError):
        ParameterCache(source, clock=clock, read_with={"/s": ["/c"]}).get("/s")


def test_a_refused_batch_falls_back_to_the_one_name_needed() -> None:
    """Refused (perhaps for a companion's key or policy): the name is read alone; the companion is not cached."""
    source, clock, fetched = BatchSource({"/s": "secret", "/c": "config"}), Clock(), []
    source.batch_error = ParameterReadRefusedError("parameters /s, /c: Parameter Store refused the read (X)")
    cache = batching_cache(source, clock, fetched)
    assert cache.get("/s") == "secret"
    assert source.calls == [("GetParameters", "/s", "/c"), ("GetParameter", "/s")]
    assert cache.age("/c") is None
    assert fetched == ["/s", "/c", "/s"]


def test_an_unreachable_store_is_not_asked_again_for_each_name(caplog: pytest.LogCaptureFixture) -> None:
    """Both stale and the batch fails: both are served, each logged, and neither is asked for during the pause."""
    source, clock, fetched = BatchSource({"/s": "secret", "/c": "config"}), Clock(), []
    cache = batching_cache(source, clock, fetched)
    cache.get("/s")
    source.fail = True
    clock.now += 61
    assert (cache.get("/s"), cache.get("/c")) == ("secret", "config")
    assert source.calls == [("GetParameters", "/s", "/c")] * 2
    stale = [r for r in caplog.records if r.getMessage() == "parameter refresh failed; serving the cached value"]
    assert sorted(getattr(r, "parameter", "") for r in stale) == ["/c", "/s"]
    assert {getattr(r, "error", "") for r in stale} == {"parameters: Parameter Store unreachable (simulated)"}
    clock.now += 59
    assert (cache.get("/s"), cache.get("/c")) == ("secret", "config")
    assert len(source.calls) == 2
    with pytest.raises(ConfigUnavailableError):
        batching_cache(source, clock, []).get("/s")  # nothing cached: the error is the caller's


def test_one_read_brings_at_most_ten_parameters() -> None:
    """GetParameters takes ten names: a parameter bringing eleven others along reads nine of them with it."""
    names = [f"/p{i}" for i in range(12)]
    source = BatchSource({"/s": "secret", **{n: n for n in names}})
    cache = ParameterCache(source, clock=Clock(), read_with={"/s": ["/s", *names, names[0]]})
    cache.get("/s")
    assert source.calls == [("GetParameters", "/s", *names[:9])]
