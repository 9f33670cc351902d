"""Idempotency keys on refused requests: ``idempotency_on_refusal`` ``release`` (default) and ``record``, the
sender-domain 403, the key claimed before validation, and 409 ``concurrent_idempotent_requests``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from tests.sandbox.conftest import API_KEY

pytestmark = pytest.mark.integration

Email = Callable[..., dict[str, object]]
BAD_FROM = "not an address"
UNVERIFIED_MESSAGE = (
    "The example.com domain is not verified. Please, add and verify your domain on https://resend.com/domains"
)


def post(sandbox: ResendSandbox, body: dict[str, object], key: str = "contact-1") -> httpx.Response:
    """``POST /emails`` with the test key and ``Idempotency-Key: key``."""
    headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key}
    return httpx.post(f"{sandbox.url}/emails", json=body, headers=headers, timeout=10)


def error_of(response: httpx.Response) -> tuple[int, str]:
    """(status, Resend's error name), after checking the body is exactly Resend's error shape."""
    body = response.json()
    assert set(body) == {"statusCode", "name", "message"}, body
    assert body["statusCode"] == response.status_code
    return response.status_code, str(body["name"])


def replayed(sandbox: ResendSandbox) -> list[bool]:
    """Whether each request so far was answered from its key."""
    return [bool(request["replayed"]) for request in sandbox.requests()]


# -- release: a refused request gives its key back ----------------------------------------------


def test_by_default_a_refusal_releases_the_key_so_a_fixed_payload_sends(
    make_sandbox: Callable[..., ResendSandbox], email: Email
) -> None:
    """release: the same bad payload is validated again (422 again, not replayed); the fixed one under the same
    key sends one email."""
    sandbox = make_sandbox()
    assert sandbox.idempotency_on_refusal == "release"
    assert error_of(post(sandbox, email(**{"from": BAD_FROM}))) == (422, "invalid_from_address")
    assert error_of(post(sandbox, email(**{"from": BAD_FROM}))) == (422, "invalid_from_address")
    fixed = post(sandbox, email())
    assert fixed.status_code == 200
    assert [e["id"] for e in sandbox.emails()] == [fixed.json()["id"]]
    assert replayed(sandbox) == [False, False, False]


# -- record: a refused request keeps its key, payload and refusal --------------------------------


def test_record_replays_the_refusal_and_answers_409_to_another_payload(
    make_sandbox: Callable[..., ResendSandbox], email: Email, clock: Any
) -> None:
    """record: the same bad payload gets the same 422 from the key; a fixed payload under that key gets 409
    ``invalid_idempotent_request`` and sends nothing, until the key expires after 24 hours."""
    sandbox = make_sandbox(idempotency_on_refusal="record")
    first = post(sandbox, email(**{"from": BAD_FROM}))
    assert error_of(first) == (422, "invalid_from_address")
    again = post(sandbox, email(**{"from": BAD_FROM}))
    assert again.json() == first.json()
    assert error_of(post(sandbox, email())) == (409, "invalid_idempotent_request")
    assert sandbox.emails() == []
    assert replayed(sandbox) == [False, True, False]
    assert [request["name"] for request in sandbox.requests()] == [
        "invalid_from_address",
        "invalid_from_address",
        "invalid_idempotent_request",
    ]
    clock.advance(24 * 3600)
    assert post(sandbox, email()).status_code == 200
    assert len(sandbox.emails()) == 1


@pytest.mark.parametrize(("mode", "after_verifying"), [("release", 200), ("record", 403)])
def test_an_unverified_sender_domain_is_refused_and_the_mode_decides_the_same_payload_later(
    make_sandbox: Callable[..., ResendSandbox], email: Email, mode: str, after_verifying: int
) -> None:
    """require_verified_domain: 403 with Resend's message while example.com is not verified; once it is, the
    same payload under the same key sends (release) or gets the recorded 403 again (record)."""
    sandbox = make_sandbox(idempotency_on_refusal=mode, require_verified_domain=True, domains=["example.com"])
    body = email(**{"from": "Contact Form <noreply@example.com>"})
    refused = post(sandbox, body)
    assert error_of(refused) == (403, "validation_error")
    assert refused.json()["message"] == UNVERIFIED_MESSAGE
    sandbox.set_domain_status("example.com", "verified")
    later = post(sandbox, body)
    assert later.status_code == after_verifying
    assert len(sandbox.emails()) == (1 if after_verifying == 200 else 0)
    assert post(sandbox, body, key="a-new-key").status_code == 200  # a new key is always a fresh attempt


def test_the_domain_check_needs_the_exact_verified_domain(
    make_sandbox: Callable[..., ResendSandbox], email: Email
) -> None:
    """A verified example.com does not cover mail.example.com or other.org; the check is off by default."""
    sandbox = make_sandbox(require_verified_domain=True, domains=["example.com"])
    sandbox.set_domain_status("example.com", "verified")
    assert post(sandbox, email(**{"from": "a@example.com"}), key="k1").status_code == 200
    assert error_of(post(sandbox, email(**{"from": "a@mail.example.com"}), key="k2")) == (403, "validation_error")
    assert error_of(post(sandbox, email(**{"from": "a@other.org"}), key="k3")) == (403, "validation_error")
    assert post(make_sandbox(), email(**{"from": "a@other.org"})).status_code == 200


def test_a_batch_with_an_unverified_sender_is_refused_whole(
    make_sandbox: Callable[..., ResendSandbox], email: Email
) -> None:
    """One email of a batch from an unverified domain refuses the batch with 403; nothing is stored."""
    sandbox = make_sandbox(require_verified_domain=True, domains=["example.com"])
    sandbox.set_domain_status("example.com", "verified")
    batch = [email(**{"from": "a@example.com"}), email(**{"from": "a@other.org"})]
    response = httpx.post(
        f"{sandbox.url}/emails/batch", json=batch, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    )
    assert error_of(response) == (403, "validation_error")
    assert sandbox.emails() == []


@pytest.mark.parametrize(("mode", "fixed_status"), [("release", 200), ("record", 409)])
def test_a_key_restricted_to_a_domain_refuses_another_sender_inside_the_claim(
    make_sandbox: Callable[..., ResendSandbox], email: Email, mode: str, fixed_status: int
) -> None:
    """A sending key restricted to example.com refuses a ``from`` elsewhere with 403 under the key's claim: the
    payload fixed to example.com under the same key then sends (release) or gets 409 (record)."""
    sandbox = make_sandbox(idempotency_on_refusal=mode)
    domain = sandbox.add_domain("example.com", status="verified")
    created = httpx.post(
        f"{sandbox.url}/api-keys",
        json={"name": "site", "permission": "sending_access", "domain_id": domain["id"]},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {created.json()['token']}", "Idempotency-Key": "contact-restricted"}
    elsewhere = httpx.post(f"{sandbox.url}/emails", json=email(**{"from": "a@other.org"}), headers=headers, timeout=10)
    assert error_of(elsewhere) == (403, "validation_error")
    assert elsewhere.json()["message"] == "This API key can only send from example.com."
    fixed = httpx.post(f"{sandbox.url}/emails", json=email(**{"from": "a@example.com"}), headers=headers, timeout=10)
    assert fixed.status_code == fixed_status
    assert len(sandbox.emails()) == (1 if fixed_status == 200 else 0)


# -- the key is claimed before validation ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["release", "record"])
def test_a_used_key_with_an_invalid_body_answers_409_without_validating(
    make_sandbox: Callable[..., ResendSandbox], email: Email, mode: str
) -> None:
    """After a key sent an email, the same key with an invalid body is 409 ``invalid_idempotent_request``, not 422:
    the key is looked at first."""
    sandbox = make_sandbox(idempotency_on_refusal=mode)
    assert post(sandbox, email()).status_code == 200
    assert error_of(post(sandbox, email(**{"from": BAD_FROM}))) == (409, "invalid_idempotent_request")


@pytest.mark.parametrize("mode", ["release", "record"])
def test_a_key_in_flight_answers_409_concurrent_even_to_a_request_that_would_be_refused(
    make_sandbox: Callable[..., ResendSandbox], email: Email, mode: str
) -> None:
    """While a key's first request holds it (latency), a second request with that key gets 409
    ``concurrent_idempotent_requests`` (retry later), whatever its body; the first one's refusal then follows the
    mode."""
    sandbox = make_sandbox(idempotency_on_refusal=mode, latency_ms=[1000, 1000])
    results: list[httpx.Response] = []
    first = threading.Thread(target=lambda: results.append(post(sandbox, email(**{"from": BAD_FROM}))))
    first.start()
    deadline = time.monotonic() + 5
    while not sandbox.requests() and time.monotonic() < deadline:
        time.sleep(0.01)
    concurrent = post(sandbox, email(subject="another body"))
    first.join()
    assert error_of(concurrent) == (409, "concurrent_idempotent_requests")
    assert error_of(results[0]) == (422, "invalid_from_address")
    sandbox.clear_faults()
    retried = post(sandbox, email(subject="another body"))
    if mode == "release":
        assert retried.status_code == 200
    else:
        assert error_of(retried) == (409, "invalid_idempotent_request")


# -- the switch: constructor, Python, admin endpoint -------------------------------------------


def test_the_settings_endpoint_shows_and_changes_the_mode(
    make_sandbox: Callable[..., ResendSandbox], email: Email
) -> None:
    """``GET``/``POST /_sandbox/settings`` show and merge settings; the new mode applies to the next refusal."""
    sandbox = make_sandbox()
    admin = httpx.Client(base_url=sandbox.url, timeout=10)
    assert admin.get("/_sandbox/settings").json() == {
        "idempotency_on_refusal": "release",
        "rate_limit_per_second": None,
        "require_verified_domain": False,
        "strict": False,
        "webhook_delay_seconds": None,
    }
    changed = admin.post("/_sandbox/settings", json={"idempotency_on_refusal": "record", "strict": True}).json()
    assert changed["idempotency_on_refusal"] == "record"
    assert changed["strict"] is True
    post(sandbox, email(**{"from": BAD_FROM}))
    assert error_of(post(sandbox, email())) == (409, "invalid_idempotent_request")
    sandbox.reset()  # forgets the keys, keeps the settings
    assert sandbox.settings()["idempotency_on_refusal"] == "record"
    assert admin.post("/_sandbox/settings", json={"rate_limit_per_second": 2}).json()["rate_limit_per_second"] == 2
    admin.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"idempotency_on_refusal": "forget"}, "idempotency_on_refusal"),
        ({"idempotency_on_refusal": "record", "strict": "yes"}, "strict"),
        ({"require_verified_domain": 1}, "require_verified_domain"),
        ({"rate_limit_per_second": -1}, "rate_limit_per_second"),
        ({"rate_limit_per_second": True}, "rate_limit_per_second"),
        ({"latency_ms": [1, 2]}, "unknown setting"),
        ({"webhook_delay_seconds": 0.5}, "webhook_delay_seconds: this sandbox sends no webhooks"),
        ([1, 2], "JSON object"),
    ],
)
def test_a_bad_setting_is_400_and_changes_nothing(
    make_sandbox: Callable[..., ResendSandbox], body: object, message: str
) -> None:
    """A bad key or value answers 400 ``invalid_setting`` naming it; every setting stays as it was."""
    sandbox = make_sandbox()
    before = sandbox.settings()
    response = httpx.post(f"{sandbox.url}/_sandbox/settings", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["name"] == "invalid_setting"
    assert message in response.json()["message"]
    assert sandbox.settings() == before


def test_a_bad_mode_is_refused_when_the_sandbox_is_built() -> None:
    """``ResendSandbox(idempotency_on_refusal=...)`` accepts only release and record."""
    with pytest.raises(ValueError, match="idempotency_on_refusal"):
        ResendSandbox(idempotency_on_refusal="forget")
