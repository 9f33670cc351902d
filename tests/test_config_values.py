"""The Resend config parameter and the cache, fast tier: every field rule, the stale-value pause, the SSM errors.

Expectations are hand-written; no value from the module under test is used to build a case.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from contact_sdk.config import (
    ParameterCache,
    ParameterReadRefusedError,
    ResendConfig,
    ServiceConfig,
    SsmParameterSource,
    parse_csrf_secret,
)
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.errors import ConfigUnavailableError, ConfigurationError
from tests.conftest import aws_client

PARAMETER = "/portfolio/test/resend/api-key"
SECRET = "s" * 40
VALID: dict[str, Any] = {
    "apiKey": " re_live_key_123 ",
    "domain": " example.com ",
    "fromEmail": " no-reply@Example.COM ",
    "toEmail": "owner@example.org",
    "version": 3,
    "rotatedAt": "2026-11-01T00:00:00Z",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def parse(**changes: Any) -> ResendConfig:
    value = {**VALID, **changes}
    return ResendConfig.parse(PARAMETER, json.dumps({k: v for k, v in value.items() if v is not ...}))


def parse_error(raw: str) -> str:
    with pytest.raises(ConfigurationError) as error:
        ResendConfig.parse(PARAMETER, raw)
    return str(error.value)


# -- the Resend config ---------------------------------------------------------------------------


def test_a_valid_config_is_trimmed_and_normalised() -> None:
    config = parse()
    assert config.api_key == "re_live_key_123"
    assert config.domain == "example.com"
    assert config.from_email == "no-reply@example.com"
    assert config.to_email == "owner@example.org"
    assert config.version == "3"
    assert config.rotated_at == "2026-11-01T00:00:00Z"
    assert "re_live_key_123" not in repr(config)


def test_version_may_be_a_string() -> None:
    assert parse(version="2026-11").version == "2026-11"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", f"parameter {PARAMETER}: value is not valid JSON"),
        ("[1, 2]", f"parameter {PARAMETER}: value must be a JSON object"),
        ('"text"', f"parameter {PARAMETER}: value must be a JSON object"),
        ("{}", f"parameter {PARAMETER}: missing field(s) apiKey, domain, fromEmail, toEmail, version, rotatedAt"),
        (
            json.dumps({k: v for k, v in VALID.items() if k not in ("domain", "version")}),
            f"parameter {PARAMETER}: missing field(s) domain, version",
        ),
    ],
)
def test_malformed_documents(raw: str, message: str) -> None:
    assert parse_error(raw) == message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("apiKey", 12345),
        ("apiKey", "   "),
        ("domain", None),
        ("domain", ""),
        ("fromEmail", ["a@example.com"]),
        ("toEmail", 7),
        ("version", True),
        ("version", 1.5),
        ("version", None),
        ("rotatedAt", 20261101),
        ("rotatedAt", " "),
    ],
)
def test_each_field_has_a_type(field: str, value: Any) -> None:
    message = parse_error(json.dumps({**VALID, field: value}))
    assert message == f"parameter {PARAMETER}: field {field} is empty or of the wrong type"


@pytest.mark.parametrize("field", ["fromEmail", "toEmail"])
@pytest.mark.parametrize(
    "address",
    [
        "owner@example.org\n",
        "owner\n@example.org",
        "owner@exa\rmple.org",
        "Owner <owner@example.org>",
        "a@example.org, b@example.org",
        "owner@localhost",
        "owner",
        "owner@example.org;x",
    ],
)
def test_addresses_follow_the_one_address_rule(field: str, address: str) -> None:
    message = parse_error(json.dumps({**VALID, field: address}))
    assert message.startswith(f"parameter {PARAMETER}: field {field} is not an email address (")
    assert address.strip() not in message


def test_an_idn_address_is_kept_in_ascii() -> None:
    assert parse(toEmail="owner@b\u00fccher.de").to_email == "owner@xn--bcher-kva.de"


# -- the cache -----------------------------------------------------------------------------------


def test_after_a_failed_refresh_the_store_is_not_asked_again_for_the_pause() -> None:
    """The stale-config retry pause: one doomed call per pause, not one per request."""
    source = InMemoryParameterSource({"/p": "v1"})
    clock, fetched = Clock(), []
    cache = ParameterCache(source, ttl_seconds=100, clock=clock, on_fetch=fetched.append, stale_retry_seconds=30)
    assert cache.get("/p") == "v1"
    source.fail = True
    clock.now += 100
    assert cache.get("/p") == "v1"  # failed refresh: stale value, pause starts
    assert source.fetches == 2
    clock.now += 29.9
    assert cache.get("/p") == "v1"
    assert source.fetches == 2  # inside the pause: not asked
    clock.now += 0.1
    source.fail = False
    source.values["/p"] = "v2"
    assert cache.get("/p") == "v2"  # pause over: asked again
    assert source.fetches == 3
    assert fetched == ["/p", "/p", "/p"]


def test_the_default_pause_is_a_minute() -> None:
    source = InMemoryParameterSource({"/p": "v1"})
    clock = Clock()
    cache = ParameterCache(source, ttl_seconds=10, clock=clock)
    cache.get("/p")
    source.fail = True
    clock.now += 10
    cache.get("/p")
    clock.now += 59
    cache.get("/p")
    assert source.fetches == 2
    clock.now += 1
    cache.get("/p")
    assert source.fetches == 3


def test_the_default_ttl_is_an_hour() -> None:
    source = InMemoryParameterSource({"/p": "v1"})
    clock = Clock()
    cache = ParameterCache(source, clock=clock)
    cache.get("/p")
    clock.now += 3599
    cache.get("/p")
    assert source.fetches == 1
    clock.now += 1
    cache.get("/p")
    assert source.fetches == 2


def test_force_fetches_even_when_fresh_and_a_missing_parameter_raises() -> None:
    source = InMemoryParameterSource({"/p": "v1"})
    cache = ParameterCache(source, clock=Clock())
    cache.get("/p")
    source.values["/p"] = "v2"
    assert cache.get("/p") == "v1"
    assert cache.get("/p", force=True) == "v2"
    with pytest.raises(ConfigurationError, match="parameter /missing: not found"):
        cache.get("/missing")


def test_age_and_expiry() -> None:
    source = InMemoryParameterSource({"/p": "v1", "/q": "q1"})
    clock = Clock()
    cache = ParameterCache(source, ttl_seconds=100, clock=clock)
    assert cache.age("/p") is None
    cache.get("/p")
    clock.now += 40
    cache.get("/q")
    clock.now += 10
    assert cache.age("/p") == 50
    assert cache.age("/q") == 10
    cache.expire_older_than(50)  # /p is 50 s old: due; /q is 10 s old: kept
    source.values.update({"/p": "v2", "/q": "q2"})
    assert cache.get("/q") == "q1"
    assert cache.get("/p") == "v2"
    assert source.fetches == 3


def test_an_expired_entry_that_fails_to_refresh_is_still_served() -> None:
    source = InMemoryParameterSource({"/p": "v1"})
    clock = Clock()
    cache = ParameterCache(source, ttl_seconds=100, clock=clock, stale_retry_seconds=30)
    cache.get("/p")
    source.fail = True
    clock.now += 100
    cache.get("/p")  # pause until 1130
    cache.expire_older_than(0)  # a SnapStart restore: forget the pause too
    assert cache.get("/p") == "v1"
    assert source.fetches == 3


# -- the service's two parameters ----------------------------------------------------------------


def test_service_config_parses_once_per_value() -> None:
    source = InMemoryParameterSource({"/c": json.dumps(VALID), "/s": f"  {SECRET}  "})
    config = ServiceConfig(ParameterCache(source), config_parameter="/c", csrf_secret_parameter="/s")
    first = config.resend()
    assert config.resend() is first
    assert config.csrf_secret() == SECRET.encode()
    assert config.csrf_secrets() is config.csrf_secrets()
    assert config.config_parameter == "/c" and config.csrf_secret_parameter == "/s"


def test_csrf_secret_rules() -> None:
    assert parse_csrf_secret("/s", json.dumps({"current": f" {SECRET} "})) == (SECRET.encode(), ())
    assert parse_csrf_secret("/s", "x" * 32) == (b"x" * 32, ())
    with pytest.raises(ConfigurationError, match="field current needs a secret of 32"):
        parse_csrf_secret("/s", "x" * 31)
    with pytest.raises(ConfigurationError, match="field previous needs"):
        parse_csrf_secret("/s", json.dumps({"current": SECRET, "previous": [SECRET, 5]}))
    with pytest.raises(ConfigurationError, match="field current needs"):
        parse_csrf_secret("/s", '{"current": 5}')
    with pytest.raises(ConfigurationError, match="missing field current"):
        parse_csrf_secret("/s", "{}")


# -- SSM errors, through an injected client --------------------------------------------------------


class FakeSsm:
    """An SSM client stand-in: answers one value or raises the error botocore would."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []
        self.batch_calls: list[dict[str, Any]] = []
        self.batch_answer: dict[str, Any] = {"Parameters": []}

    def get_parameter(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"Parameter": {"Value": "v"}}

    def get_parameters(self, **kwargs: Any) -> dict[str, Any]:
        self.batch_calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return self.batch_answer


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetParameter")


def test_ssm_reads_with_decryption() -> None:
    client = FakeSsm()
    assert SsmParameterSource(client).fetch("/p") == "v"  # type: ignore[arg-type]
    assert client.calls == [{"Name": "/p", "WithDecryption": True}]


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (client_error("ParameterNotFound"), ConfigurationError, "parameter /p: not found in Parameter Store"),
        (
            client_error("ThrottlingException"),
            ParameterReadRefusedError,
            "parameter /p: Parameter Store refused the read (ThrottlingException)",
        ),
        (
            EndpointConnectionError(endpoint_url="https://ssm"),
            ConfigUnavailableError,
            "parameter /p: Parameter Store unreachable (EndpointConnectionError)",
        ),
    ],
)
def test_ssm_errors(error: Exception, kind: type[Exception], message: str) -> None:
    with pytest.raises(kind) as raised:
        SsmParameterSource(FakeSsm(error)).fetch("/p")  # type: ignore[arg-type]
    assert str(raised.value) == message
    assert type(raised.value) is kind


def test_the_client_comes_from_the_factory_once_and_again_after_reset() -> None:
    made: list[FakeSsm] = []

    def factory() -> FakeSsm:
        made.append(FakeSsm())
        return made[-1]

    source = SsmParameterSource(client_factory=factory)  # type: ignore[arg-type]
    source.fetch("/a")
    source.fetch("/b")
    assert len(made) == 1
    source.reset_client()
    source.fetch("/c")
    assert len(made) == 2
    assert [call["Name"] for client in made for call in client.calls] == ["/a", "/b", "/c"]


def test_a_failed_refresh_is_logged_with_the_parameter_the_error_and_the_age(caplog: pytest.LogCaptureFixture) -> None:
    source = InMemoryParameterSource({"/p": "v1"})
    clock = Clock()
    cache = ParameterCache(source, ttl_seconds=100, clock=clock)
    cache.get("/p")
    source.fail = True
    clock.now += 250.4
    with caplog.at_level("WARNING", logger="contact_sdk.config"):
        assert cache.get("/p") == "v1"
    (entry,) = [r for r in caplog.records if r.name == "contact_sdk.config"]
    assert entry.getMessage() == "parameter refresh failed; serving the cached value"
    assert entry.parameter == "/p"  # type: ignore[attr-defined]
    assert entry.error == "parameter /p: Parameter Store unreachable (simulated)"  # type: ignore[attr-defined]
    assert entry.age_seconds == 250  # type: ignore[attr-defined]


def test_a_value_that_is_not_text_is_not_json() -> None:
    with pytest.raises(ConfigurationError, match="value is not valid JSON"):
        ResendConfig.parse(PARAMETER, None)  # type: ignore[arg-type]


def test_without_a_client_or_factory_boto3_makes_an_ssm_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default path: boto3's SSM client, honouring AWS_ENDPOINT_URL (here a closed loopback port)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with pytest.raises(ConfigUnavailableError) as raised:
        SsmParameterSource().fetch("/p")
    assert str(raised.value) == "parameter /p: Parameter Store unreachable (EndpointConnectionError)"


def test_unknown_csrf_fields_are_all_named() -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_csrf_secret("/s", json.dumps({"current": SECRET, "zeta": 1, "alpha": 2}))
    assert str(error.value) == "parameter /s: unknown field(s) alpha, zeta"


def test_service_config_errors_name_the_parameter_they_read() -> None:
    source = InMemoryParameterSource({"/c": "{}", "/s": "short"})
    config = ServiceConfig(ParameterCache(source), config_parameter="/c", csrf_secret_parameter="/s")
    with pytest.raises(ConfigurationError, match=r"^parameter /c: missing field\(s\) apiKey"):
        config.resend()
    with pytest.raises(ConfigurationError, match=r"^parameter /s: field current needs"):
        config.csrf_secrets()


@pytest.mark.parametrize(
    "response",
    [{}, {"Error": {"Message": "no code"}}],
    ids=["no-error", "no-code"],
)
def test_an_ssm_error_without_a_code_is_unknown(response: dict[str, Any]) -> None:
    with pytest.raises(ConfigUnavailableError) as raised:
        SsmParameterSource(FakeSsm(ClientError(response, "GetParameter"))).fetch("/p")  # type: ignore[arg-type]
    assert str(raised.value) == "parameter /p: Parameter Store refused the read (Unknown)"


@pytest.mark.integration
def test_get_parameters_on_moto_returns_what_exists_decrypted(aws: str) -> None:
    """One ``GetParameters`` with decryption: the SecureStrings' plain values; a missing name is left out."""
    ssm = aws_client(aws, "ssm")
    key = aws_client(aws, "kms").create_key()["KeyMetadata"]["KeyId"]
    ssm.put_parameter(Name="/t/secret", Value="s3cr3t", Type="SecureString", KeyId=key)
    ssm.put_parameter(Name="/t/config", Value='{"a": 1}', Type="SecureString", KeyId=key)
    source = SsmParameterSource(ssm)
    found = source.fetch_many(["/t/secret", "/t/config", "/t/missing"])
    assert found == {"/t/secret": "s3cr3t", "/t/config": '{"a": 1}'}
    assert source.fetch_many(["/t/missing"]) == {}


@pytest.mark.parametrize("count", [0, 11])
def test_get_parameters_takes_one_to_ten_names(count: int) -> None:
    client = FakeSsm()
    with pytest.raises(ValueError, match=f"1 to 10 names, got {count}"):
        SsmParameterSource(client).fetch_many([f"/p{i}" for i in range(count)])  # type: ignore[arg-type]
    assert client.calls == []


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (client_error("AccessDeniedException"), ParameterReadRefusedError, "refused the read (AccessDeniedException)"),
        (
            EndpointConnectionError(endpoint_url="https://ssm"),
            ConfigUnavailableError,
            "unreachable (EndpointConnectionError)",
        ),
    ],
)
def test_get_parameters_errors_name_every_parameter(error: Exception, kind: type[Exception], message: str) -> None:
    with pytest.raises(kind) as raised:
        SsmParameterSource(FakeSsm(error)).fetch_many(["/a", "/b", "/a"])  # type: ignore[arg-type]
    assert str(raised.value) == f"parameters /a, /b: Parameter Store {message}"
    assert type(raised.value) is kind


def test_get_parameters_ignores_an_answer_it_did_not_ask_for() -> None:
    """A value for another name, or one that is not text, is not taken for the one asked."""
    client = FakeSsm()
    client.batch_answer = {"Parameters": [{"Name": "/other", "Value": "x"}, {"Name": "/a", "Value": 7}]}
    assert SsmParameterSource(client).fetch_many(["/a"]) == {}  # type: ignore[arg-type]
    assert client.batch_calls == [{"Names": ["/a"], "WithDecryption": True}]


def test_get_parameters_reads_up_to_ten_names_and_maps_each_value_to_its_name() -> None:
    """Ten names in one call (the API's limit), decrypted; each value under the name the answer gives it."""
    names = [f"/p{i}" for i in range(10)]
    client = FakeSsm()
    client.batch_answer = {"Parameters": [{"Name": n, "Value": f"value of {n}"} for n in reversed(names)]}
    assert SsmParameterSource(client).fetch_many(names) == {n: f"value of {n}" for n in names}  # type: ignore[arg-type]
    assert client.batch_calls == [{"Names": names, "WithDecryption": True}]


def test_get_parameters_without_an_error_code_is_unknown() -> None:
    with pytest.raises(ParameterReadRefusedError, match=r"refused the read \(Unknown\)"):
        SsmParameterSource(FakeSsm(ClientError({}, "GetParameters"))).fetch_many(["/a"])  # type: ignore[arg-type]


def test_an_answer_without_a_parameters_list_has_nothing() -> None:
    """botocore leaves out an empty list it did not receive: no parameters found, not a TypeError."""
    client = FakeSsm()
    client.batch_answer = {"InvalidParameters": ["/a"]}
    assert SsmParameterSource(client).fetch_many(["/a"]) == {}  # type: ignore[arg-type]
