"""CSRF tokens against their documented layout (docs/security.md, the module docstring), rebuilt by hand.

``v2.<nonce>.<expires_at>.<started_at>.<mac>``: a 16-byte nonce and a 32-byte HMAC-SHA256, both base64url
without padding; ``expires_at`` whole epoch seconds (issue time rounded down plus the lifetime) and
``started_at`` whole epoch seconds (when the form was first shown: the issue time, or the replaced token's);
the MAC is over ``b"contact-sdk/csrf"`` followed by each of version, canonical origin, nonce, expiry and
start as a 4-byte big-endian length and its UTF-8 bytes. The first format, ``v1.<nonce>.<expires_at>.<mac>``
(no start; the MAC over the four fields), is still verified. The expected tokens below are built with
``hmac`` and ``base64`` from those sentences, not with the module.

The DynamoDB nonce store runs against moto's DynamoDB in process (``mock_aws``), so the fast tier
reaches its conditional write; the loopback tests in ``test_csrf.py`` cover the same against moto's server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from contact_sdk.errors import ConfigurationError
from contact_sdk.security.csrf import (
    CsrfInvalid,
    CsrfMissing,
    CsrfTokens,
    DynamoDBNonceStore,
    InMemoryNonceStore,
    NonceStoreUnavailable,
)
from tests.conftest import IN_PROCESS_TABLE as TABLE

SECRET = b"s" * 16
ORIGIN = "https://example.com"
NONCE = bytes(range(16))


def b64(raw: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _mac(secret: bytes, *parts: str) -> str:
    message = b"contact-sdk/csrf"
    for part in parts:
        encoded = part.encode("utf-8")
        message += len(encoded).to_bytes(4, "big") + encoded
    return b64(hmac.new(secret, message, hashlib.sha256).digest())


def expected_token(secret: bytes, origin: str, nonce: bytes, expires_at: int, started_at: int | None = None) -> str:
    """The v2 token the documented layout prescribes (``started_at`` defaults to the issue time, an hour back)."""
    started = expires_at - 3600 if started_at is None else started_at
    mac = _mac(secret, "v2", origin, b64(nonce), str(expires_at), str(started))
    return f"v2.{b64(nonce)}.{expires_at}.{started}.{mac}"


def legacy_token(secret: bytes, origin: str, nonce: bytes, expires_at: int) -> str:
    """A token of the first format (v1), as issued before the form's start was signed."""
    return f"v1.{b64(nonce)}.{expires_at}.{_mac(secret, 'v1', origin, b64(nonce), str(expires_at))}"


class Clock:
    """Epoch seconds, settable."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tokens(clock: Clock, *, ttl: int = 3600, store: Any = None) -> CsrfTokens:
    """Tokens with a fixed nonce and the given clock."""
    return CsrfTokens(
        nonces=store if store is not None else InMemoryNonceStore(clock=clock),
        ttl_seconds=ttl,
        clock=clock,
        random_bytes=lambda n: NONCE[:n],
    )


def test_an_issued_token_is_byte_for_byte_the_documented_layout() -> None:
    """Issued at 1 800 000 000.9 with a one-hour lifetime: expiry 1 800 003 600 and the MAC computed by hand."""
    token = tokens(Clock(1_800_000_000.9)).issue(SECRET, ORIGIN)
    assert token == expected_token(SECRET, ORIGIN, NONCE, 1_800_003_600)
    assert token.startswith("v2.AAECAwQFBgcICQoLDA0ODw.1800003600.1800000000.")


def test_a_next_token_signs_the_start_it_was_given() -> None:
    """Issued at 1 800 000 000 for a form shown at 1 799 999 940: the start is signed, the expiry an hour on."""
    token = tokens(Clock(1_800_000_000.5)).issue(SECRET, ORIGIN, started_at=1_799_999_940)
    assert token == expected_token(SECRET, ORIGIN, NONCE, 1_800_003_600, 1_799_999_940)


def test_a_legacy_token_is_accepted_once_with_its_issue_time() -> None:
    """A v1 token built by hand verifies, returns expiry − lifetime, and is refused the second time."""
    clock = Clock(1_800_000_100)
    csrf = tokens(clock, ttl=600)
    token = legacy_token(SECRET, ORIGIN, NONCE, 1_800_000_500)
    assert csrf.verify_and_consume(SECRET, ORIGIN, token) == 1_799_999_900
    with pytest.raises(CsrfInvalid, match="replayed"):
        csrf.verify_and_consume(SECRET, ORIGIN, token)


def test_the_origin_is_bound_in_its_canonical_form() -> None:
    """A token issued for HTTPS://EXAMPLE.COM:443 is signed over https://example.com."""
    token = tokens(Clock(1_800_000_000)).issue(SECRET, "HTTPS://EXAMPLE.COM:443")
    assert token == expected_token(SECRET, "https://example.com", NONCE, 1_800_003_600)


def test_a_hand_built_token_is_accepted_once_and_its_issue_time_returned() -> None:
    """A token built by hand from the layout verifies, returns its start, and is refused the second time."""
    clock = Clock(1_800_000_100)
    csrf = tokens(clock, ttl=600)
    token = expected_token(SECRET, ORIGIN, NONCE, 1_800_000_500, 1_799_999_900)
    assert csrf.verify_and_consume(SECRET, ORIGIN, token) == 1_799_999_900
    with pytest.raises(CsrfInvalid) as caught:
        csrf.verify_and_consume(SECRET, ORIGIN, token)
    assert caught.value.reason == "replayed"
    assert str(caught.value) == "CSRF token invalid: replayed"


def test_a_token_is_good_until_the_second_before_its_expiry() -> None:
    """Expiry E: accepted at E − 0.001, 'expired' at E exactly."""
    token = expected_token(SECRET, ORIGIN, NONCE, 1_800_000_500)
    assert tokens(Clock(1_800_000_499.999)).verify_and_consume(SECRET, ORIGIN, token) == 1_799_996_900
    with pytest.raises(CsrfInvalid) as caught:
        tokens(Clock(1_800_000_500)).verify_and_consume(SECRET, ORIGIN, token)
    assert caught.value.reason == "expired"


def test_a_previous_secret_still_verifies() -> None:
    """A token signed with the secret before rotation is accepted when that secret is passed as previous."""
    old = b"o" * 20
    token = expected_token(old, ORIGIN, NONCE, 1_800_000_500)
    csrf = tokens(Clock(1_800_000_000))
    with pytest.raises(CsrfInvalid, match="bad_signature"):
        csrf.verify_and_consume(SECRET, ORIGIN, token)
    assert csrf.verify_and_consume(SECRET, ORIGIN, token, previous_secrets=[old]) == 1_799_996_900


@pytest.mark.parametrize("secret", [b"", b"x" * 15])
def test_a_secret_under_16_bytes_is_a_configuration_error(secret: bytes) -> None:
    """Secrets shorter than 16 bytes are refused for issuing, verifying, and as previous secrets."""
    csrf = tokens(Clock(1_800_000_000))
    token = expected_token(SECRET, ORIGIN, NONCE, 1_800_000_500)
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        csrf.issue(secret, ORIGIN)
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        csrf.verify_and_consume(secret, ORIGIN, token)
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        csrf.verify_and_consume(SECRET, ORIGIN, token, previous_secrets=[secret])


def test_a_16_byte_secret_is_enough() -> None:
    """Exactly 16 bytes is accepted."""
    assert tokens(Clock(1_800_000_000)).issue(b"k" * 16, ORIGIN).startswith("v2.")


@pytest.mark.parametrize("token", [None, "", "   ", "\t"])
def test_no_token_is_missing(token: str | None) -> None:
    """An absent, empty or blank token is CsrfMissing, 'CSRF token missing'."""
    with pytest.raises(CsrfMissing) as caught:
        tokens(Clock(1_800_000_000)).verify_and_consume(SECRET, ORIGIN, token)
    assert str(caught.value) == "CSRF token missing"


GOOD_MAC = b64(bytes(32))


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("v3.AAECAwQFBgcICQoLDA0ODw.1800000500.1800000000." + GOOD_MAC, "unsupported_version"),
        ("v2.AAECAwQFBgcICQoLDA0ODw.1800000500." + GOOD_MAC, "malformed"),  # v2 without its start
        ("v2.AAECAwQFBgcICQoLDA0ODw.1800000500.-5." + GOOD_MAC, "malformed"),
        ("v2.AAECAwQFBgcICQoLDA0ODw.1800000500.01800000000." + GOOD_MAC, "malformed"),
        ("v999.AAECAwQFBgcICQoLDA0ODw.1800000500." + GOOD_MAC, "unsupported_version"),
        ("v1000.AAECAwQFBgcICQoLDA0ODw.1800000500." + GOOD_MAC, "malformed"),
        ("V1.AAECAwQFBgcICQoLDA0ODw.1800000500." + GOOD_MAC, "malformed"),
        ("v.AAECAwQFBgcICQoLDA0ODw.1800000500." + GOOD_MAC, "malformed"),
        ("v1.AAECAwQFBgcICQoLDA0ODw.1800000500", "malformed"),
        ("v1.AAECAwQFBgcICQoLDA0ODw.1800000500." + GOOD_MAC + ".x", "malformed"),
        ("v1.AAECAwQFBgcICQoLDA0O.1800000500." + GOOD_MAC, "malformed"),  # a 13-byte nonce
        ("v1.AAECAwQFBgcICQoLDA0ODw==.1800000500." + GOOD_MAC, "malformed"),  # padded
        ("v1.AAECAwQFBgcICQoLDA0ODx.1800000500." + GOOD_MAC, "malformed"),  # stray bits in the last character
        ("v1.AAECAwQFBgcICQoLDA0OD!.1800000500." + GOOD_MAC, "malformed"),
        ("v1..1800000500." + GOOD_MAC, "malformed"),
        ("v1.AAECAwQFBgcICQoLDA0ODw.01800000500." + GOOD_MAC, "malformed"),  # a leading zero
        ("v1.AAECAwQFBgcICQoLDA0ODw.+1800000500." + GOOD_MAC, "malformed"),
        ("v1.AAECAwQFBgcICQoLDA0ODw.1e9." + GOOD_MAC, "malformed"),
        ("v1.AAECAwQFBgcICQoLDA0ODw.1234567890123." + GOOD_MAC, "malformed"),  # 13 digits
        ("v1.AAECAwQFBgcICQoLDA0ODw.1800000500." + b64(bytes(31)), "malformed"),
        ("v1.AAECAwQFBgcICQoLDA0ODw.1800000500.", "malformed"),
        ("v1.AAECAwQFBgcICQoLDA0ODw.1800000500." + GOOD_MAC[:-1] + "é", "malformed"),
        ("v1." + "A" * 130, "malformed"),
    ],
)
def test_malformed_tokens_are_refused_before_the_store(token: str, reason: str) -> None:
    """Each malformed shape is refused with its reason and never reaches the nonce store."""
    store = InMemoryNonceStore(clock=Clock(1_800_000_000))
    csrf = tokens(Clock(1_800_000_000), store=store)
    with pytest.raises(CsrfInvalid) as caught:
        csrf.verify_and_consume(SECRET, ORIGIN, token)
    assert caught.value.reason == reason
    assert len(store) == 0


def test_twelve_expiry_digits_are_still_well_formed() -> None:
    """An expiry of 12 digits parses (and, signed, verifies); the bound is 12."""
    token = expected_token(SECRET, ORIGIN, NONCE, 999_999_999_999)
    assert len(token) <= 128
    assert tokens(Clock(1_800_000_000), ttl=3600).verify_and_consume(SECRET, ORIGIN, token) == 999_999_996_399


def test_the_lifetime_must_be_positive() -> None:
    """ttl_seconds 0 is refused; 1 is accepted and exposed."""
    with pytest.raises(ValueError, match=r"^ttl_seconds must be greater than zero$"):
        CsrfTokens(nonces=InMemoryNonceStore(), ttl_seconds=0)
    assert CsrfTokens(nonces=InMemoryNonceStore(), ttl_seconds=1).ttl_seconds == 1
    assert CsrfTokens(nonces=InMemoryNonceStore()).ttl_seconds == 3600


def test_a_short_random_source_is_refused() -> None:
    """A random source that returns 15 bytes for a 16-byte nonce is an error, not a weaker token."""
    csrf = CsrfTokens(nonces=InMemoryNonceStore(), random_bytes=lambda n: b"x" * (n - 1))
    with pytest.raises(ValueError, match="returned 15 bytes, expected 16"):
        csrf.issue(SECRET, ORIGIN)


def test_the_in_memory_store_forgets_a_nonce_at_its_expiry() -> None:
    """A used nonce is refused until its expiry and accepted again from that second on."""
    clock = Clock(100.0)
    store = InMemoryNonceStore(clock=clock)
    assert store.consume("n", 150.0)
    clock.now = 149.9
    assert not store.consume("n", 150.0)
    assert len(store) == 1
    clock.now = 150.0
    assert len(store) == 0
    assert store.consume("n", 200.0)


# --- the DynamoDB store ----------------------------------------------------------------------------


@pytest.fixture
def dynamodb(moto_dynamodb: Any, moto_table: str) -> Any:
    """A fresh service table, deleted after the test."""
    return moto_dynamodb


def test_the_dynamodb_store_accepts_a_nonce_once_and_writes_its_item(dynamodb: Any) -> None:
    """The first consume writes csrf#<nonce> with the expiry rounded up; the second is refused."""
    clock = Clock(1_000.0)
    store = DynamoDBNonceStore(dynamodb, TABLE, clock=clock)
    assert store.consume("abc", 1_500.2)
    assert not DynamoDBNonceStore(dynamodb, TABLE, clock=clock).consume("abc", 1_500.2)
    stored = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "csrf#abc"}}, ConsistentRead=True)["Item"]
    assert stored == {"pk": {"S": "csrf#abc"}, "expiresAt": {"N": "1501"}}


def test_an_expired_item_ttl_has_not_removed_does_not_block(dynamodb: Any) -> None:
    """An item whose expiry lies in the past (DynamoDB deletes lazily) is overwritten; one at 'now' still blocks."""
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "csrf#old"}, "expiresAt": {"N": "999"}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "csrf#edge"}, "expiresAt": {"N": "1000"}})
    store = DynamoDBNonceStore(dynamodb, TABLE, clock=Clock(1_000.7))
    assert store.consume("old", 2_000.0)
    assert not store.consume("edge", 2_000.0)


def test_a_missing_table_is_unavailable(dynamodb: Any) -> None:
    """No such table: NonceStoreUnavailable naming the table and DynamoDB's error code."""
    store = DynamoDBNonceStore(dynamodb, "no-such-table", clock=Clock(1_000.0))
    with pytest.raises(NonceStoreUnavailable, match=r"\(no-such-table\) refused the write: ResourceNotFound"):
        store.consume("n", 2_000.0)


def test_an_error_without_a_code_is_unavailable_as_unknown() -> None:
    """A DynamoDB error carrying no code is still NonceStoreUnavailable, 'unknown error'."""
    client = boto3.client("dynamodb", region_name="eu-west-1")
    with Stubber(client) as stubber:
        stubber.add_client_error("put_item", service_error_code="", http_status_code=500)
        with pytest.raises(NonceStoreUnavailable, match=r"refused the write: unknown error"):
            DynamoDBNonceStore(client, TABLE, clock=Clock(1_000.0)).consume("n", 2_000.0)


def test_an_unreachable_endpoint_is_unavailable() -> None:
    """No DynamoDB listening (a closed loopback port): NonceStoreUnavailable, 'unreachable'."""
    client = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1),
    )
    with pytest.raises(NonceStoreUnavailable, match=rf"\({TABLE}\) unreachable: EndpointConnectionError"):
        DynamoDBNonceStore(client, TABLE, clock=Clock(1_000.0)).consume("n", 2_000.0)


def test_tokens_on_the_dynamodb_store_refuse_a_replay_from_another_environment(dynamodb: Any) -> None:
    """Two CsrfTokens (two environments) sharing the table: the token goes once."""
    clock = Clock(1_800_000_000)
    token = expected_token(SECRET, ORIGIN, NONCE, 1_800_000_500)
    first = tokens(clock, store=DynamoDBNonceStore(dynamodb, TABLE, clock=clock))
    second = tokens(clock, store=DynamoDBNonceStore(dynamodb, TABLE, clock=clock))
    first.verify_and_consume(SECRET, ORIGIN, token)
    with pytest.raises(CsrfInvalid, match="replayed"):
        second.verify_and_consume(SECRET, ORIGIN, token)


def test_an_origin_with_a_lone_surrogate_is_a_bad_signature_not_a_crash() -> None:
    """A header decoded from JSON can hold a lone surrogate; such an origin fails the signature like any other."""
    token = expected_token(SECRET, ORIGIN, NONCE, 1_800_000_500)
    with pytest.raises(CsrfInvalid) as caught:
        tokens(Clock(1_800_000_000)).verify_and_consume(SECRET, "https://a\ud800.example", token)
    assert caught.value.reason == "bad_signature"
