"""Tests for CSRF tokens: format, every refusal, rotation, single use, and both nonce stores."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ConfigurationError, ContactSdkError
from contact_sdk.security.csrf import (
    CsrfError,
    CsrfInvalid,
    CsrfMissing,
    CsrfTokens,
    DynamoDBNonceStore,
    InMemoryNonceStore,
    NonceStore,
    NonceStoreUnavailable,
)
from tests.conftest import REGION, aws_client, refusing_port

SECRET = b"s" * 32
OLD_SECRET = b"o" * 32
ORIGIN = "https://example.com"
T0 = 1_700_000_000.25


class FakeClock:
    """A settable clock in epoch seconds."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingNonceStore:
    """Wraps a store and counts ``consume`` calls, to prove forged tokens never reach it."""

    def __init__(self, inner: NonceStore) -> None:
        self.inner = inner
        self.calls = 0

    def consume(self, nonce: str, expires_at: float) -> bool:
        self.calls += 1
        return self.inner.consume(nonce, expires_at)


class BrokenNonceStore:
    """A store whose backend is down."""

    def consume(self, nonce: str, expires_at: float) -> bool:
        raise NonceStoreUnavailable("down")


def counter_bytes() -> Callable[[int], bytes]:
    """Deterministic, distinct ``random_bytes``: 1, 2, 3, ... as big-endian numbers."""
    state = {"n": 0}

    def random_bytes(size: int) -> bytes:
        state["n"] += 1
        return state["n"].to_bytes(size, "big")

    return random_bytes


@pytest.fixture
def clock() -> FakeClock:
    """The clock every token and store in a test shares."""
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> CountingNonceStore:
    """An in-memory nonce store that counts how often it is asked."""
    return CountingNonceStore(InMemoryNonceStore(clock=clock))


@pytest.fixture
def tokens(store: CountingNonceStore, clock: FakeClock) -> CsrfTokens:
    """Tokens with the default one-hour lifetime, a fake clock and deterministic nonces."""
    return CsrfTokens(nonces=store, clock=clock, random_bytes=counter_bytes())


def replace_part(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def flip_first_char(text: str) -> str:
    return ("B" if text[0] == "A" else "A") + text[1:]


# --- issuing -------------------------------------------------------------------------------------


def test_issued_token_is_url_safe_and_versioned(tokens: CsrfTokens) -> None:
    """A token is five URL-safe parts: version, nonce, expiry, when the form was first shown, MAC."""
    token = tokens.issue(SECRET, ORIGIN)
    assert re.fullmatch(r"[A-Za-z0-9_\-.]+", token)
    version, nonce, expiry, started, mac = token.split(".")
    assert version == "v2"
    assert len(nonce) == 22  # 128 bits, base64url unpadded
    assert int(expiry) == int(T0) + 3600
    assert int(started) == int(T0)  # a fresh token: the form is shown now
    assert len(mac) == 43  # 256 bits


def test_issued_token_is_accepted_once(tokens: CsrfTokens, store: CountingNonceStore) -> None:
    """A fresh token from the same origin is accepted, consuming its nonce."""
    tokens.verify_and_consume(SECRET, ORIGIN, tokens.issue(SECRET, ORIGIN))
    assert store.calls == 1


def test_each_token_carries_a_fresh_nonce(clock: FakeClock) -> None:
    """Two tokens issued in the same second differ, using the injected randomness."""
    tokens = CsrfTokens(nonces=InMemoryNonceStore(clock=clock), clock=clock)
    assert tokens.issue(SECRET, ORIGIN) != tokens.issue(SECRET, ORIGIN)


def test_ttl_is_configurable_and_exposed(clock: FakeClock) -> None:
    """``ttl_seconds`` sets the expiry and is readable for the ``expiresIn`` field."""
    tokens = CsrfTokens(nonces=InMemoryNonceStore(clock=clock), ttl_seconds=60, clock=clock)
    assert tokens.ttl_seconds == 60
    assert int(tokens.issue(SECRET, ORIGIN).split(".")[2]) == int(T0) + 60


def test_non_positive_ttl_is_refused() -> None:
    """A token lifetime of zero or less is a programming error."""
    with pytest.raises(ValueError, match="ttl_seconds"):
        CsrfTokens(nonces=InMemoryNonceStore(), ttl_seconds=0)


def test_short_random_bytes_are_refused(clock: FakeClock) -> None:
    """A ``random_bytes`` that returns fewer than 16 bytes cannot silently weaken nonces."""
    tokens = CsrfTokens(nonces=InMemoryNonceStore(), clock=clock, random_bytes=lambda n: b"x" * (n - 1))
    with pytest.raises(ValueError, match="random_bytes"):
        tokens.issue(SECRET, ORIGIN)


@pytest.mark.parametrize("secret", [b"", b"short"])
def test_short_secrets_are_a_configuration_error(tokens: CsrfTokens, secret: bytes) -> None:
    """Signing or verifying with a secret under 16 bytes fails loudly and does not echo the secret."""
    with pytest.raises(ConfigurationError) as issuing:
        tokens.issue(secret, ORIGIN)
    token = tokens.issue(SECRET, ORIGIN)
    with pytest.raises(ConfigurationError) as verifying:
        tokens.verify_and_consume(SECRET, ORIGIN, token, previous_secrets=[secret])
    for error in (issuing.value, verifying.value):
        assert "short" not in str(error)


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "   "])
def test_absent_or_empty_token_is_missing(tokens: CsrfTokens, token: str | None) -> None:
    """No header, or an empty one, is ``csrf_missing`` rather than ``csrf_invalid``."""
    with pytest.raises(CsrfMissing):
        tokens.verify_and_consume(SECRET, ORIGIN, token)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: "garbage", id="not-a-token"),
        pytest.param(lambda t: t[: len(t) // 2], id="truncated-half"),
        pytest.param(lambda t: t[:-1], id="truncated-mac"),
        pytest.param(lambda t: t.rsplit(".", 1)[0], id="missing-part"),
        pytest.param(lambda t: t + ".extra", id="extra-part"),
        pytest.param(lambda t: t + "=", id="padded-mac"),
        pytest.param(lambda t: t + "A" * 200, id="too-long"),
        pytest.param(lambda t: t.replace("v2", "v2é", 1), id="non-ascii"),
        pytest.param(lambda t: replace_part(t, 1, "!!!!!!!!!!!!!!!!!!!!!!"), id="nonce-not-base64"),
        pytest.param(lambda t: replace_part(t, 1, "AAAA"), id="nonce-too-short"),
        pytest.param(lambda t: replace_part(t, 1, "AAAAA"), id="nonce-impossible-base64-length"),
        pytest.param(lambda t: replace_part(t, 1, ""), id="nonce-empty"),
        pytest.param(lambda t: replace_part(t, 2, "soon"), id="expiry-not-a-number"),
        pytest.param(lambda t: replace_part(t, 2, "-1"), id="expiry-negative"),
        pytest.param(lambda t: replace_part(t, 2, "0" + t.split(".")[2]), id="expiry-leading-zero"),
        pytest.param(lambda t: replace_part(t, 2, "9" * 13), id="expiry-too-long"),
        pytest.param(lambda t: replace_part(t, 3, "soon"), id="start-not-a-number"),
        pytest.param(lambda t: replace_part(t, 3, "0" + t.split(".")[3]), id="start-leading-zero"),
        pytest.param(lambda t: replace_part(t, 4, "AAAA"), id="mac-too-short"),
        pytest.param(lambda t: replace_part(t, 0, ""), id="version-empty"),
        pytest.param(lambda t: replace_part(t, 0, "V2"), id="version-garbled"),
        pytest.param(lambda t: replace_part(t, 0, "v1"), id="v1-with-five-parts"),
    ],
)
def test_malformed_tokens_are_invalid(
    tokens: CsrfTokens, store: CountingNonceStore, mangle: Callable[[str], str]
) -> None:
    """Anything not shaped like a token is refused as malformed, without touching the nonce store."""
    token = mangle(tokens.issue(SECRET, ORIGIN))
    with pytest.raises(CsrfInvalid) as refused:
        tokens.verify_and_consume(SECRET, ORIGIN, token)
    assert refused.value.reason == "malformed"
    assert store.calls == 0


def test_non_canonical_base64_is_malformed(tokens: CsrfTokens) -> None:
    """Another spelling of the same nonce bytes (stray low bits in the last character) is refused."""
    token = tokens.issue(SECRET, ORIGIN)
    nonce = token.split(".")[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(nonce[-1]) ^ 1]  # differs only in the 4 unused low bits
    with pytest.raises(CsrfInvalid, match="malformed"):
        tokens.verify_and_consume(SECRET, ORIGIN, replace_part(token, 1, nonce[:-1] + sibling))


@pytest.mark.parametrize("version", ["v0", "v3", "v10"])
def test_other_versions_are_unsupported(tokens: CsrfTokens, store: CountingNonceStore, version: str) -> None:
    """A token of another format version is refused as ``unsupported_version``."""
    token = replace_part(tokens.issue(SECRET, ORIGIN), 0, version)
    with pytest.raises(CsrfInvalid) as refused:
        tokens.verify_and_consume(SECRET, ORIGIN, token)
    assert refused.value.reason == "unsupported_version"
    assert store.calls == 0


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: replace_part(t, 1, flip_first_char(t.split(".")[1])), id="nonce"),
        pytest.param(lambda t: replace_part(t, 2, str(int(t.split(".")[2]) + 1)), id="expiry-later"),
        pytest.param(lambda t: replace_part(t, 2, str(int(t.split(".")[2]) - 1)), id="expiry-earlier"),
        pytest.param(lambda t: replace_part(t, 3, str(int(t.split(".")[3]) - 60)), id="start-earlier"),
        pytest.param(lambda t: replace_part(t, 4, flip_first_char(t.split(".")[4])), id="mac"),
    ],
)
def test_tampering_with_any_part_breaks_the_signature(
    tokens: CsrfTokens, store: CountingNonceStore, tamper: Callable[[str], str]
) -> None:
    """Changing the nonce, the expiry, the form's start or the MAC is caught by the signature; nothing is consumed."""
    token = tamper(tokens.issue(SECRET, ORIGIN))
    with pytest.raises(CsrfInvalid) as refused:
        tokens.verify_and_consume(SECRET, ORIGIN, token)
    assert refused.value.reason == "bad_signature"
    assert store.calls == 0


def test_token_signed_with_another_secret_is_invalid(tokens: CsrfTokens, store: CountingNonceStore) -> None:
    """A token forged with any other key is refused."""
    token = tokens.issue(b"attacker-secret-attacker-secret!", ORIGIN)
    with pytest.raises(CsrfInvalid, match="bad_signature"):
        tokens.verify_and_consume(SECRET, ORIGIN, token)
    assert store.calls == 0


def test_token_for_another_origin_is_invalid(tokens: CsrfTokens, store: CountingNonceStore) -> None:
    """A token issued to one origin is refused when presented from another."""
    token = tokens.issue(SECRET, "https://other.example")
    with pytest.raises(CsrfInvalid, match="bad_signature"):
        tokens.verify_and_consume(SECRET, ORIGIN, token)
    assert store.calls == 0


def test_origin_binding_uses_the_canonical_origin(tokens: CsrfTokens) -> None:
    """The same origin spelled differently (case, default port) is still the same origin."""
    token = tokens.issue(SECRET, "https://example.com")
    tokens.verify_and_consume(SECRET, "HTTPS://Example.com:443", token)


def test_token_is_valid_until_one_second_before_expiry(tokens: CsrfTokens, clock: FakeClock) -> None:
    """A token presented one second before it expires is accepted."""
    token = tokens.issue(SECRET, ORIGIN)
    clock.now = int(token.split(".")[2]) - 1
    tokens.verify_and_consume(SECRET, ORIGIN, token)


@pytest.mark.parametrize("late_by", [0, 1, 86_400])
def test_expired_token_is_invalid(
    tokens: CsrfTokens, store: CountingNonceStore, clock: FakeClock, late_by: int
) -> None:
    """At its expiry second and after, a token is refused as expired and its nonce is not consumed."""
    token = tokens.issue(SECRET, ORIGIN)
    clock.now = int(token.split(".")[2]) + late_by
    with pytest.raises(CsrfInvalid) as refused:
        tokens.verify_and_consume(SECRET, ORIGIN, token)
    assert refused.value.reason == "expired"
    assert store.calls == 0


def test_replayed_token_is_invalid(tokens: CsrfTokens) -> None:
    """The second presentation of a token is refused as replayed."""
    token = tokens.issue(SECRET, ORIGIN)
    tokens.verify_and_consume(SECRET, ORIGIN, token)
    with pytest.raises(CsrfInvalid) as refused:
        tokens.verify_and_consume(SECRET, ORIGIN, token)
    assert refused.value.reason == "replayed"


def test_each_token_is_independent(tokens: CsrfTokens) -> None:
    """Using one token does not affect another issued to the same origin."""
    first, second = tokens.issue(SECRET, ORIGIN), tokens.issue(SECRET, ORIGIN)
    tokens.verify_and_consume(SECRET, ORIGIN, first)
    tokens.verify_and_consume(SECRET, ORIGIN, second)


def test_concurrent_presentations_of_one_token_accept_exactly_one(clock: FakeClock) -> None:
    """Twenty threads presenting the same token at once: one is accepted, nineteen are replays."""
    tokens = CsrfTokens(nonces=InMemoryNonceStore(clock=clock), clock=clock)
    token = tokens.issue(SECRET, ORIGIN)
    barrier = threading.Barrier(20)

    def present() -> str:
        barrier.wait()
        try:
            tokens.verify_and_consume(SECRET, ORIGIN, token)
        except CsrfInvalid as exc:
            return exc.reason
        return "accepted"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(lambda _: present(), range(20)))
    assert sorted(outcomes) == ["accepted"] + ["replayed"] * 19


def test_unavailable_nonce_store_is_not_a_csrf_error(clock: FakeClock) -> None:
    """When the nonce store is down the caller sees the typed unavailable error, not a 403-style refusal."""
    tokens = CsrfTokens(nonces=BrokenNonceStore(), clock=clock)
    with pytest.raises(NonceStoreUnavailable) as raised:
        tokens.verify_and_consume(SECRET, ORIGIN, tokens.issue(SECRET, ORIGIN))
    assert not isinstance(raised.value, CsrfError)
    assert isinstance(raised.value, ContactSdkError)


# --- rotation ------------------------------------------------------------------------------------


def test_rotated_secret_still_accepts_tokens_signed_with_the_previous_one(tokens: CsrfTokens) -> None:
    """During rotation a token signed with the old secret is accepted when the old one is listed."""
    token = tokens.issue(OLD_SECRET, ORIGIN)
    tokens.verify_and_consume(SECRET, ORIGIN, token, previous_secrets=[OLD_SECRET])


def test_rotated_secret_accepts_tokens_signed_with_the_new_one(tokens: CsrfTokens) -> None:
    """Listing a previous secret does not stop tokens signed with the current one."""
    token = tokens.issue(SECRET, ORIGIN)
    tokens.verify_and_consume(SECRET, ORIGIN, token, previous_secrets=[OLD_SECRET])


def test_retired_secret_is_refused(tokens: CsrfTokens) -> None:
    """Once the old secret is no longer listed, its tokens are forgeries."""
    token = tokens.issue(OLD_SECRET, ORIGIN)
    with pytest.raises(CsrfInvalid, match="bad_signature"):
        tokens.verify_and_consume(SECRET, ORIGIN, token)


def test_rotation_does_not_allow_replay(tokens: CsrfTokens) -> None:
    """A token accepted under the old secret cannot be replayed under the new one."""
    token = tokens.issue(OLD_SECRET, ORIGIN)
    tokens.verify_and_consume(SECRET, ORIGIN, token, previous_secrets=[OLD_SECRET])
    with pytest.raises(CsrfInvalid, match="replayed"):
        tokens.verify_and_consume(SECRET, ORIGIN, token, previous_secrets=[OLD_SECRET])


# --- messages ------------------------------------------------------------------------------------


def test_error_messages_never_contain_the_token_or_the_secret(tokens: CsrfTokens, clock: FakeClock) -> None:
    """Logs of refusals cannot leak the secret or a usable token."""
    token = tokens.issue(SECRET, ORIGIN)
    errors: list[CsrfError] = []
    for presented, origin in [(token, "https://other.example"), (token + "x", ORIGIN), ("v9." + token[3:], ORIGIN)]:
        with pytest.raises(CsrfInvalid) as refused:
            tokens.verify_and_consume(SECRET, origin, presented)
        errors.append(refused.value)
    tokens.verify_and_consume(SECRET, ORIGIN, token)
    with pytest.raises(CsrfInvalid) as replayed:
        tokens.verify_and_consume(SECRET, ORIGIN, token)
    errors.append(replayed.value)
    for error in errors:
        text = f"{error!s} {error!r}"
        assert SECRET.decode() not in text
        for part in token.split("."):
            if len(part) > 4:
                assert part not in text
        assert str(error).startswith("CSRF token invalid: ")


# --- in-memory nonce store -----------------------------------------------------------------------


def test_in_memory_store_accepts_a_nonce_once(clock: FakeClock) -> None:
    """The first consumption succeeds, the second reports it used."""
    nonces = InMemoryNonceStore(clock=clock)
    assert nonces.consume("n1", T0 + 10)
    assert not nonces.consume("n1", T0 + 10)
    assert nonces.consume("n2", T0 + 10)


def test_in_memory_store_prunes_expired_nonces(clock: FakeClock) -> None:
    """Memory is bounded: nonces past their expiry are forgotten."""
    nonces = InMemoryNonceStore(clock=clock)
    for i in range(100):
        nonces.consume(f"n{i}", T0 + 10 + i)
    assert len(nonces) == 100
    clock.now = T0 + 59.5
    assert len(nonces) == 50
    clock.now = T0 + 1000
    assert len(nonces) == 0
    assert nonces.consume("n1", T0 + 2000)


def test_in_memory_store_is_thread_safe(clock: FakeClock) -> None:
    """Twenty threads consuming the same nonce at once: exactly one wins."""
    nonces = InMemoryNonceStore(clock=clock)
    barrier = threading.Barrier(20)

    def consume(_: int) -> bool:
        barrier.wait()
        return nonces.consume("shared", T0 + 10)

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert sum(pool.map(consume, range(20))) == 1


# --- DynamoDB nonce store (moto server) ----------------------------------------------------------


def unreachable_client() -> Any:
    """A DynamoDB client pointed at a closed loopback port, with no retries (so no backoff sleeps)."""
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{refusing_port()}",
        region_name=REGION,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1),
    )


@pytest.mark.integration
def test_dynamodb_store_accepts_a_nonce_once(aws: str, contact_table: str, clock: FakeClock) -> None:
    """One conditional put: first consumption wins, the second reports the nonce used."""
    nonces = DynamoDBNonceStore(aws_client(aws, "dynamodb"), contact_table, clock=clock)
    assert nonces.consume("n1", T0 + 3600)
    assert not nonces.consume("n1", T0 + 3600)
    assert nonces.consume("n2", T0 + 3600)


@pytest.mark.integration
def test_dynamodb_store_writes_the_prefixed_key_and_ttl(aws: str, contact_table: str, clock: FakeClock) -> None:
    """The item is ``csrf#<nonce>`` with the TTL attribute set to the token's expiry."""
    client = aws_client(aws, "dynamodb")
    DynamoDBNonceStore(client, contact_table, clock=clock).consume("abc", T0 + 3600)
    item = client.get_item(TableName=contact_table, Key={PARTITION_KEY: {"S": "csrf#abc"}})["Item"]
    assert item[TTL_ATTRIBUTE] == {"N": str(int(T0) + 3601)}


@pytest.mark.integration
def test_dynamodb_store_is_shared_by_separate_instances(aws: str, contact_table: str, clock: FakeClock) -> None:
    """A nonce used through one Lambda environment's store is refused through another's."""
    first = DynamoDBNonceStore(aws_client(aws, "dynamodb"), contact_table, clock=clock)
    second = DynamoDBNonceStore(aws_client(aws, "dynamodb"), contact_table, clock=clock)
    assert first.consume("shared", T0 + 3600)
    assert not second.consume("shared", T0 + 3600)


@pytest.mark.integration
def test_dynamodb_store_ignores_expired_items_ttl_has_not_removed(
    aws: str, contact_table: str, clock: FakeClock
) -> None:
    """An expired item still lingering (TTL deletes lazily) does not block the nonce."""
    nonces = DynamoDBNonceStore(aws_client(aws, "dynamodb"), contact_table, clock=clock)
    assert nonces.consume("old", T0 + 10)
    clock.now = T0 + 20
    assert nonces.consume("old", T0 + 3600)


@pytest.mark.integration
def test_dynamodb_store_under_concurrency(serial_contact_table: tuple[str, str], clock: FakeClock) -> None:
    """Twenty threads, each with its own client, consuming one nonce: exactly one wins.

    Against an emulator that serialises requests, as DynamoDB serialises writes to one item.
    """
    aws, contact_table = serial_contact_table
    stores = [DynamoDBNonceStore(aws_client(aws, "dynamodb"), contact_table, clock=clock) for _ in range(20)]
    barrier = threading.Barrier(20)

    def consume(nonces: DynamoDBNonceStore) -> bool:
        barrier.wait()
        return nonces.consume("race", T0 + 3600)

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert sum(pool.map(consume, stores)) == 1


@pytest.mark.integration
def test_tokens_with_dynamodb_store_refuse_replay_across_environments(
    aws: str, contact_table: str, clock: FakeClock
) -> None:
    """A token accepted by one environment is a replay in another that shares the table."""
    first = CsrfTokens(nonces=DynamoDBNonceStore(aws_client(aws, "dynamodb"), contact_table, clock=clock), clock=clock)
    second = CsrfTokens(nonces=DynamoDBNonceStore(aws_client(aws, "dynamodb"), contact_table, clock=clock), clock=clock)
    token = first.issue(SECRET, ORIGIN)
    first.verify_and_consume(SECRET, ORIGIN, token)
    with pytest.raises(CsrfInvalid, match="replayed"):
        second.verify_and_consume(SECRET, ORIGIN, token)


@pytest.mark.integration
def test_dynamodb_store_with_missing_table_is_unavailable(aws: str, clock: FakeClock) -> None:
    """A table that does not exist raises the typed unavailable error, chained to DynamoDB's."""
    nonces = DynamoDBNonceStore(aws_client(aws, "dynamodb"), "no-such-table", clock=clock)
    with pytest.raises(NonceStoreUnavailable, match="ResourceNotFoundException") as raised:
        nonces.consume("n", T0 + 10)
    assert raised.value.__cause__ is not None


@pytest.mark.integration
def test_dynamodb_store_with_unreachable_endpoint_is_unavailable(clock: FakeClock) -> None:
    """A DynamoDB that cannot be connected to raises the typed unavailable error."""
    nonces = DynamoDBNonceStore(unreachable_client(), "contact-test", clock=clock)
    with pytest.raises(NonceStoreUnavailable, match="unreachable"):
        nonces.consume("n", T0 + 10)


def test_verification_returns_the_signed_issue_time(tokens: CsrfTokens, clock: FakeClock) -> None:
    """The fill-time rule's evidence: the issue time, in whole seconds rounded down, whatever time it is now."""
    clock.now = 1_700_000_123.75
    token = tokens.issue(SECRET, ORIGIN)
    clock.now += 42
    assert tokens.verify_and_consume(SECRET, ORIGIN, token) == 1_700_000_123


def test_the_issue_time_cannot_be_moved_without_breaking_the_signature(tokens: CsrfTokens, clock: FakeClock) -> None:
    """Backdating a token means changing its expiry, which is signed."""
    token = tokens.issue(SECRET, ORIGIN)
    version, nonce, expires_at, started_at, mac = token.split(".")
    backdated = f"{version}.{nonce}.{int(expires_at) - 600}.{int(started_at) - 600}.{mac}"
    with pytest.raises(CsrfInvalid, match="bad_signature"):
        tokens.verify_and_consume(SECRET, ORIGIN, backdated)


def test_a_next_token_keeps_the_start_of_the_token_it_replaces(tokens: CsrfTokens, clock: FakeClock) -> None:
    """A nextToken issued 50 s after the first token says the form was shown 50 s ago, and lives a full hour."""
    clock.now = 1_700_000_000.0
    first = tokens.issue(SECRET, ORIGIN)
    clock.now += 50
    started = tokens.verify_and_consume(SECRET, ORIGIN, first)
    assert started == 1_700_000_000
    following = tokens.issue(SECRET, ORIGIN, started_at=started)
    assert following.split(".")[2] == str(1_700_000_050 + 3600)
    clock.now += 5
    assert tokens.verify_and_consume(SECRET, ORIGIN, following) == 1_700_000_000


def test_a_start_in_the_future_is_taken_as_now(tokens: CsrfTokens, clock: FakeClock) -> None:
    """No token can claim its form was shown after it was issued."""
    clock.now = 1_700_000_000.0
    token = tokens.issue(SECRET, ORIGIN, started_at=1_800_000_000)
    assert token.split(".")[3] == "1700000000"


def test_a_signed_start_after_the_issue_time_is_refused(clock: FakeClock) -> None:
    """A token whose signed start lies after its own issue time was never issued by us: malformed."""
    clock.now = 1_700_000_000.0
    nonce = "A" * 21 + "Q"  # 16 bytes, canonical base64url
    expires_at, started_at = 1_700_003_600, 1_700_000_100
    mac = hmac.new(SECRET, _message("v2", ORIGIN, nonce, expires_at, started_at), hashlib.sha256).digest()
    token = f"v2.{nonce}.{expires_at}.{started_at}.{_b64(mac)}"
    with pytest.raises(CsrfInvalid, match="malformed"):
        CsrfTokens(nonces=InMemoryNonceStore(clock=clock), clock=clock).verify_and_consume(SECRET, ORIGIN, token)


def test_a_token_of_the_first_format_is_still_accepted_for_its_hour(clock: FakeClock) -> None:
    """v1 tokens (four parts, no start) issued before an upgrade verify, once, and start at their issue time."""
    clock.now = 1_700_000_000.0
    nonce = "A" * 21 + "g"
    expires_at = 1_700_003_000  # issued 600 s ago
    mac = hmac.new(SECRET, _message("v1", ORIGIN, nonce, expires_at), hashlib.sha256).digest()
    token = f"v1.{nonce}.{expires_at}.{_b64(mac)}"
    tokens = CsrfTokens(nonces=InMemoryNonceStore(clock=clock), clock=clock)
    assert tokens.verify_and_consume(SECRET, ORIGIN, token) == 1_699_999_400
    with pytest.raises(CsrfInvalid, match="replayed"):
        tokens.verify_and_consume(SECRET, ORIGIN, token)


def _message(*fields: object) -> bytes:
    """A MAC input written out from the format's description: a context, then length-prefixed fields."""
    message = b"contact-sdk/csrf"
    for field in fields:
        encoded = str(field).encode()
        message += len(encoded).to_bytes(4, "big") + encoded
    return message


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
