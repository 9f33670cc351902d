"""``handler.lambda_handler`` end to end: real API Gateway events, moto over loopback, the Resend sandbox."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from contact_sdk.metrics import NAMESPACE
from tests.conftest import aws_client
from tests.entrypoint.conftest import (
    API_KEY,
    CONFIG_PARAMETER,
    ORIGIN,
    Stack,
    api_gateway_event,
    resend_config,
    submission,
)

pytestmark = pytest.mark.integration

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
CORS_HEADERS = {
    "Access-Control-Allow-Origin": ORIGIN,
    "Vary": "Origin",
    "Access-Control-Allow-Headers": "Content-Type, X-CSRF-Token",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Max-Age": "600",
    # Contract section 3: so a page on another origin can read when to retry and which request to quote.
    "Access-Control-Expose-Headers": "Retry-After, X-Request-Id",
}


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    """The JSON body, checked to carry the request id of the X-Request-Id header."""
    body = json.loads(response["body"])
    assert body["requestId"] == response["headers"]["X-Request-Id"]
    return dict(body)


def assert_contract_headers(response: dict[str, Any], *, cors: bool) -> None:
    """Content type, security headers and request id on every answer; CORS only for an allowed origin."""
    headers = response["headers"]
    assert headers["Content-Type"] == "application/json"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    assert headers["X-Request-Id"]
    if cors:
        for name, value in CORS_HEADERS.items():
            assert headers[name] == value
    else:
        assert not any(name.startswith("Access-Control-") for name in headers)
    assert headers.get("Access-Control-Allow-Origin") != "*"


def assert_error(response: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    """The contract's error shape with this status and code."""
    assert response["statusCode"] == status, response["body"]
    body = body_of(response)
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


def metric_totals(stack: Stack) -> dict[str, float]:
    """Sum of every metric the invocation documents carried; also checks their namespace and dimension."""
    for document in stack.sink.documents:
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == NAMESPACE
        assert directive["Dimensions"] == [["Environment"]]
        assert document["Environment"] == "test"
    return stack.sink.totals()


# -- routes and headers ------------------------------------------------------------------------


def test_token_route_issues_a_token_with_contract_headers(stack: Stack) -> None:
    """GET /contact/token answers 200 with a token, expiresIn 3600 and the contract's headers."""
    response = stack.call(api_gateway_event("GET", "/contact/token", headers={"Origin": ORIGIN}, request_id="rid-1"))
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["expiresIn"] == 3600
    assert isinstance(body["token"], str) and len(body["token"]) > 40
    assert body["requestId"] == "rid-1"
    assert_contract_headers(response, cors=True)


def test_preflight_for_an_allowed_origin_is_204_with_cors(stack: Stack) -> None:
    """OPTIONS from an allowed origin answers 204 with the CORS headers, on both browser routes."""
    for path in ("/contact", "/contact/token"):
        response = stack.call(api_gateway_event("OPTIONS", path, headers={"Origin": ORIGIN}))
        assert response["statusCode"] == 204
        assert_contract_headers(response, cors=True)


def test_preflight_for_another_origin_is_403_without_cors(stack: Stack) -> None:
    """OPTIONS from an unlisted origin answers 403 origin_not_allowed and no CORS headers."""
    response = stack.call(api_gateway_event("OPTIONS", "/contact", headers={"Origin": "https://evil.example"}))
    assert_error(response, 403, "origin_not_allowed")
    assert_contract_headers(response, cors=False)


def test_unknown_path_is_404_and_wrong_method_is_405_with_allow(stack: Stack) -> None:
    """Any other path is 404 not_found; any other method on a route is 405 with an Allow header."""
    assert_error(stack.call(api_gateway_event("GET", "/nope", headers={"Origin": ORIGIN})), 404, "not_found")
    response = stack.call(api_gateway_event("DELETE", "/contact", headers={"Origin": ORIGIN}))
    assert_error(response, 405, "method_not_allowed")
    assert response["headers"]["Allow"] == "OPTIONS, POST"
    response = stack.call(api_gateway_event("POST", "/contact/token", headers={"Origin": ORIGIN}))
    assert response["headers"]["Allow"] == "GET, OPTIONS"


# -- origin and CSRF ---------------------------------------------------------------------------


def test_post_without_origin_or_from_an_unlisted_origin_is_refused(stack: Stack) -> None:
    """A POST with no Origin, or an unlisted one, is 403 origin_not_allowed and counts CsrfRejected."""
    token = stack.token()
    assert_error(stack.submit(submission(), origin=None, token=token), 403, "origin_not_allowed")
    response = stack.submit(submission(), origin="https://evil.example", token=token)
    assert_error(response, 403, "origin_not_allowed")
    assert_contract_headers(response, cors=False)
    assert metric_totals(stack)["CsrfRejected"] == 2
    assert stack.sandbox.emails() == []


def test_missing_forged_replayed_and_other_origin_tokens_are_refused(stack: Stack) -> None:
    """csrf_missing without a token; csrf_invalid for a forged, replayed or other-origin token."""
    assert_error(stack.submit(submission(), token=None), 403, "csrf_missing")
    token = stack.token()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert_error(stack.submit(submission(), token=forged), 403, "csrf_invalid")
    other = stack.token(origin="http://localhost:8000")
    assert_error(stack.submit(submission(), token=other), 403, "csrf_invalid")
    assert stack.submit(submission(), token=token)["statusCode"] == 200
    assert_error(stack.submit(submission(message="A second, different message."), token=token), 403, "csrf_invalid")
    assert metric_totals(stack)["CsrfRejected"] == 4
    assert len(stack.sandbox.emails()) == 1


# -- the happy path and the email --------------------------------------------------------------


def test_a_legitimate_submission_sends_exactly_the_contract_email(stack: Stack) -> None:
    """200 sent with a nextToken; the sandbox holds one email with the contract's fields, escaped."""
    response = stack.submit(
        submission(name="Ada <script>alert(1)</script>", message='Hi "there" & <b>bold</b>\nsecond line')
    )
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["status"] == "sent"
    assert body["nextToken"]
    assert_contract_headers(response, cors=True)
    [email] = stack.sandbox.emails()
    sent = email["body"]
    assert sent["from"] == "Contact Form <no-reply@example.com>"
    assert sent["to"] == ["owner@example.com"]
    assert sent["reply_to"] == ["ada@example.org"]
    assert sent["subject"] == "Contact Form: Message from Ada <script>alert(1)</script> — Analytical engine"
    assert sent["tags"] == [{"name": "source", "value": "contact-form"}]
    assert "<script>" not in sent["html"] and "&lt;script&gt;" in sent["html"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in sent["html"] and "&quot;there&quot; &amp;" in sent["html"]
    assert 'Hi "there" & <b>bold</b>\nsecond line' in sent["text"]
    assert email["headers"]["idempotency-key"].startswith("contact-")
    totals = metric_totals(stack)
    assert totals["EmailsSent"] == 1
    assert totals["ParameterAccess"] == 2  # the config and the CSRF secret, fetched once each
    assert "ResponseTime" in totals


def test_the_next_token_works_for_the_next_submission(stack: Stack) -> None:
    """The nextToken of an accepted submission is accepted once for the following one (rolling refresh)."""
    first = body_of(stack.submit(submission()))
    second = stack.submit(submission(message="Another message, different words."), token=first["nextToken"])
    assert second["statusCode"] == 200
    assert len(stack.sandbox.emails()) == 2


def test_the_same_submission_posted_twice_sends_one_email(stack: Stack) -> None:
    """A double click (same fields, two tokens) answers sent twice and the sandbox holds one email."""
    assert body_of(stack.submit(submission()))["status"] == "sent"
    assert body_of(stack.submit(submission()))["status"] == "sent"
    assert len(stack.sandbox.emails()) == 1


def test_parameter_store_is_read_once_per_ttl(stack: Stack) -> None:
    """Later requests hit the cache: ParameterAccess counts the two real fetches only."""
    for i in range(3):
        stack.submit(submission(message=f"Message number {i} with enough text."))
    assert metric_totals(stack)["ParameterAccess"] == 2


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (submission(name="   "), "name"),
        (submission(name="x" * 101), "name"),
        (submission(name="Ada\r\nBcc: evil@example.com"), "name"),
        (submission(email="not-an-email"), "email"),
        (submission(email="a@b.c, evil@example.com"), "email"),
        (submission(email=("a" * 250) + "@example.com"), "email"),
        (submission(subject="Hi\r\nBcc: evil@example.com"), "subject"),
        (submission(subject="s" * 151), "subject"),
        (submission(message="too short"), "message"),
        (submission(message="m" * 5001), "message"),
        (submission(consent=False), "consent"),
        (submission(consent="true"), "consent"),
        (submission(consent=...), "consent"),
        (submission(name=...), "name"),
        (submission(formStartedAt="yesterday"), "formStartedAt"),
        ({**submission(), "admin": True}, "admin"),
    ],
)
def test_invalid_fields_are_400_with_a_message_per_field(stack: Stack, payload: dict[str, Any], field: str) -> None:
    """Each broken rule answers 400 validation_error naming the field, sends nothing and counts ValidationErrors."""
    body = assert_error(stack.submit(payload), 400, "validation_error")
    assert field in body["error"]["fields"]
    assert stack.sandbox.emails() == []
    assert metric_totals(stack)["ValidationErrors"] == 1


def test_a_validation_error_spends_the_token_and_hands_back_the_next(stack: Stack) -> None:
    """Contract §6: fields are judged after the token is consumed; the 400's error carries the nextToken to resend."""
    token = stack.token()
    refused = stack.submit(submission(email="nope"), token=token)
    assert refused["statusCode"] == 400
    error = json.loads(refused["body"])["error"]
    assert set(error) == {"code", "message", "fields", "nextToken"}
    assert stack.submit(submission(), token=token)["statusCode"] == 403
    assert stack.submit(submission(), token=error["nextToken"])["statusCode"] == 200


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("v2.forged", id="forged"),
        pytest.param("reused", id="reused"),
        pytest.param("foreign", id="foreign"),
    ],
)
def test_without_a_valid_token_nobody_learns_the_field_rules(stack: Stack, token: str) -> None:
    """A forged, reused or other-origin token gets 403 csrf_invalid for a body full of field errors (contract §6)."""
    bad_body = submission(email="nope", message="short", consent=False, surprise="field")
    if token == "reused":
        token = stack.token()
        assert stack.submit(submission(), token=token)["statusCode"] == 200
    elif token == "foreign":
        token = stack.token(origin="http://localhost:8000")  # an allowed origin, but not the one posting
    response = stack.submit(bad_body, token=token)
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"] == {
        "code": "csrf_invalid",
        "message": "The form's security token is invalid or has expired. Reload the page and try again.",
    }


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(stack: Stack, constant: str) -> None:
    """RFC 8259 has no NaN or Infinity: a body using them is 400 invalid_json, before the token is looked at."""
    raw = json.dumps(submission()).replace('"consent": true', f'"consent": true, "formStartedAt": {constant}')
    assert constant in raw
    response = stack.submit(None, raw=raw)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_json"


def test_body_format_errors(stack: Stack) -> None:
    """415 for a non-JSON media type, 400 invalid_json for bad JSON or a non-object, 413 over 32 KiB."""
    assert_error(stack.submit(submission(), content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(stack.submit(None, raw="{not json"), 400, "invalid_json")
    assert_error(stack.submit(None, raw="[1, 2]"), 400, "invalid_json")
    big = json.dumps(submission(message="x" * 33_000))
    assert_error(stack.submit(None, raw=big), 413, "payload_too_large")
    assert stack.submit(submission(), content_type="application/json; charset=utf-8")["statusCode"] == 200
    assert metric_totals(stack)["ValidationErrors"] == 4


def test_a_base64_encoded_body_is_decoded(stack: Stack) -> None:
    """API Gateway's isBase64Encoded bodies are read like plain ones; undecodable ones are 400."""
    token = stack.token()
    raw = base64.b64encode(json.dumps(submission()).encode()).decode()
    headers = {"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token}
    response = stack.call(api_gateway_event("POST", "/contact", body=raw, headers=headers, is_base64=True))
    assert response["statusCode"] == 200
    response = stack.call(api_gateway_event("POST", "/contact", body="%%%", headers=headers, is_base64=True))
    assert_error(response, 400, "invalid_json")


# -- spam --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        submission(website="http://spam.example"),
        submission(website=" "),
        submission(website="\t\n"),
        submission(message="Buy now http://a.example http://b.example http://c.example http://d.example"),
    ],
    ids=["honeypot", "honeypot-space", "honeypot-whitespace", "links"],
)
def test_spam_looks_sent_but_sends_nothing(stack: Stack, payload: dict[str, Any]) -> None:
    """Spam answers exactly like a success (200 sent + nextToken), sends no email and counts SpamBlocked."""
    response = stack.submit(payload)
    assert response["statusCode"] == 200
    body = body_of(response)
    assert set(body) == {"status", "nextToken", "requestId"} and body["status"] == "sent"
    assert stack.sandbox.emails() == []
    assert metric_totals(stack)["SpamBlocked"] == 1


def test_an_empty_honeypot_is_not_spam(stack: Stack) -> None:
    """Absent, null or empty: a person left it alone. (Timing rules: tests/entrypoint/test_fill_time.py.)"""
    for honeypot in ("", None, ...):
        response = stack.submit(submission(website=honeypot, message=f"Hello there, honeypot case {honeypot!r}."))
        assert response["statusCode"] == 200
    assert len(stack.sandbox.emails()) == 3
    assert metric_totals(stack).get("SpamBlocked", 0) == 0


# -- rate limiting -----------------------------------------------------------------------------


def test_the_sixth_submission_in_the_window_is_429_with_retry_after(stack: Stack) -> None:
    """Five submissions per IP per 15 minutes; the sixth is 429 rate_limited with whole-second Retry-After."""
    for i in range(5):
        assert stack.submit(submission(message=f"Message number {i}, long enough."))["statusCode"] == 200
    response = stack.submit(submission(message="The sixth message, long enough."))
    assert_error(response, 429, "rate_limited")
    retry_after = int(response["headers"]["Retry-After"])
    # Contract §6/§7 (round 3): a Retry-After never longer than the rate window.
    assert 1 <= retry_after <= 900
    assert (
        stack.submit(submission(message="From elsewhere, long enough."), source_ip="198.51.100.7")["statusCode"] == 200
    )
    assert metric_totals(stack)["RateLimited"] == 1


def test_a_spoofed_forwarded_for_header_does_not_dodge_the_limit(stack: Stack) -> None:
    """The limit keys on requestContext.identity.sourceIp, never on X-Forwarded-For."""
    for i in range(5):
        assert stack.submit(submission(message=f"Message number {i}, long enough."))["statusCode"] == 200
    token = stack.token()
    event = api_gateway_event(
        "POST",
        "/contact",
        body=json.dumps(submission(message="Spoofing my address here.")),
        headers={"Origin": ORIGIN, "Content-Type": "application/json", "X-CSRF-Token": token},
    )
    event["headers"]["X-Forwarded-For"] = "192.0.2.99"
    event["multiValueHeaders"]["X-Forwarded-For"] = ["192.0.2.99"]
    assert stack.call(event)["statusCode"] == 429


def test_the_dynamodb_limit_holds_across_two_separately_built_services(make_stack: Callable[..., Stack]) -> None:
    """Two execution environments sharing one table accept 5 submissions in total, not 10."""
    import handler

    first = make_stack()
    second = make_stack()
    statuses = []
    for i in range(10):
        stack = first if i % 2 == 0 else second
        handler.environment.use_components(stack.components)
        statuses.append(stack.submit(submission(message=f"Message number {i}, long enough."))["statusCode"])
    assert statuses.count(200) == 5
    assert statuses.count(429) == 5


# -- provider failures -------------------------------------------------------------------------


def test_transient_provider_errors_are_retried_with_the_same_key(stack: Stack) -> None:
    """500, 500 then success: sent after two retries (1 s, 2 s), one key, one email, ProviderRetries 2."""
    stack.sandbox.script(["500", "500", "200"])
    assert body_of(stack.submit(submission()))["status"] == "sent"
    assert stack.sleeps == [1.0, 2.0]
    keys = {r["idempotency_key"] for r in stack.sandbox.requests() if r["path"] == "/emails"}
    assert len(keys) == 1
    assert len(stack.sandbox.emails()) == 1
    assert metric_totals(stack)["ProviderRetries"] == 2


def test_provider_down_without_an_outbox_is_503_and_the_message_is_logged(stack: Stack) -> None:
    """Retries exhausted and no durable store: 503 with Retry-After, EmailsFailed, the full submission at ERROR."""
    stack.sandbox.script(["503", "503", "503", "503"])
    response = stack.submit(submission(message="Please keep this message safe."))
    assert_error(response, 503, "service_unavailable")
    assert int(response["headers"]["Retry-After"]) > 0
    assert stack.sleeps == [1.0, 2.0]  # the next 4 s wait would overrun the 4 s response budget
    assert metric_totals(stack)["EmailsFailed"] == 1
    assert metric_totals(stack)["BudgetExhausted"] == 1
    [kept] = [line for line in stack.log_lines() if line["level"] == "ERROR" and "submission" in line]
    assert "Please keep this message safe." in kept["submission"]
    assert kept["correlation_id"] == response["headers"]["X-Request-Id"]


def test_the_breaker_opens_after_five_failed_attempts_and_counts_circuit_opened(stack: Stack) -> None:
    """Two failing submissions (4 + 1 attempts) open the breaker; the next is refused without a request."""
    stack.sandbox.set_faults(failure_rate=1.0, failure_status=500)
    stack.submit(submission(message="First failing message here."))
    stack.submit(submission(message="Second failing message here."), source_ip="198.51.100.8")
    assert stack.components.client.breaker.state == "open"
    before = len(stack.sandbox.requests())
    stack.submit(submission(message="Third message, breaker open."), source_ip="198.51.100.9")
    assert len(stack.sandbox.requests()) == before
    assert metric_totals(stack)["CircuitOpened"] == 1


def test_a_rotated_api_key_takes_effect_at_once(stack: Stack) -> None:
    """A 403 from Resend re-reads Parameter Store once; the rotated key is used for one more attempt."""
    stack.put_parameter(CONFIG_PARAMETER, resend_config(api_key="re_old_revoked_key"))
    response = stack.submit(submission(message="Sent with a revoked key first."))
    assert response["statusCode"] == 503
    stack.put_parameter(CONFIG_PARAMETER, resend_config(api_key=API_KEY, version=2))
    response = stack.submit(submission(message="After the operator rotated the key."), source_ip="198.51.100.3")
    assert body_of(response)["status"] == "sent"
    assert len(stack.sandbox.emails()) == 1


# -- configuration -----------------------------------------------------------------------------


def test_a_csrf_secret_rotated_with_keep_previous_still_accepts_open_forms(stack: Stack) -> None:
    """Tokens issued before a graceful rotation verify; new ones are signed with the new secret."""
    from tests.entrypoint.conftest import CSRF_PARAMETER, CSRF_SECRET

    before = stack.token()
    new_secret = "n" * 48
    stack.put_parameter(CSRF_PARAMETER, json.dumps({"current": new_secret, "previous": CSRF_SECRET}))
    stack.components.cache.expire_older_than(0)
    assert stack.submit(submission(), token=before)["statusCode"] == 200
    stack.put_parameter(CSRF_PARAMETER, new_secret)  # the next rotation drops the old secret
    stack.components.cache.expire_older_than(0)
    signed_with_old = stack.components.intake.csrf.issue(CSRF_SECRET.encode(), ORIGIN)
    late = submission(message="Another message, after the rotation.")
    assert stack.submit(late, token=signed_with_old)["statusCode"] == 403
    assert stack.submit(late)["statusCode"] == 200


def test_missing_config_is_a_clear_503_never_a_stack_trace(stack: Stack) -> None:
    """Without the parameters in Parameter Store the token route answers 503 service_unavailable."""
    ssm = aws_client(stack.aws, "ssm")
    ssm.delete_parameter(Name="/portfolio/test/contact/csrf-secret")
    response = stack.call(api_gateway_event("GET", "/contact/token", headers={"Origin": ORIGIN}))
    body = assert_error(response, 503, "service_unavailable")
    assert "Traceback" not in response["body"] and "csrf-secret" not in body["error"]["message"]


def test_malformed_config_names_the_field_and_never_the_secret(stack: Stack) -> None:
    """A config without toEmail: the log names the parameter and field; the API key appears nowhere."""
    stack.put_parameter(CONFIG_PARAMETER, json.dumps({"apiKey": "re_secret_value_123", "domain": "example.com"}))
    response = stack.submit(submission())
    assert response["statusCode"] == 503
    logs = json.dumps(stack.log_lines())
    assert "toEmail" in logs and CONFIG_PARAMETER in logs
    assert "re_secret_value_123" not in logs and "re_secret_value_123" not in response["body"]


# -- observability -----------------------------------------------------------------------------


def test_every_request_writes_one_summary_line_and_one_metrics_flush(stack: Stack) -> None:
    """One 'request handled' line with outcome, status and duration per request; no message body logged."""
    response = stack.submit(submission(message="A private message body that must not be logged."))
    request_id = response["headers"]["X-Request-Id"]
    lines = [line for line in stack.log_lines() if line["message"] == "request handled"]
    assert [line["route"] for line in lines] == ["/contact/token", "/contact"]
    summary = lines[-1]
    assert summary["correlation_id"] == request_id
    assert summary["outcome"] == "sent" and summary["status"] == 200 and summary["duration_ms"] >= 0
    assert "A private message body" not in json.dumps(stack.log_lines())
    assert len(stack.sink.documents) == 2
    assert stack.sink.documents[-1]["requestId"] == request_id


def test_a_bug_is_a_500_internal_error_with_metrics_still_flushed(stack: Stack) -> None:
    """An unexpected exception answers 500 internal_error (no trace in the body), logs it, flushes metrics."""

    def boom() -> bytes:
        raise RuntimeError("a bug")

    stack.components.intake.config.csrf_secret = boom  # type: ignore[method-assign]
    response = stack.call(api_gateway_event("GET", "/contact/token", headers={"Origin": ORIGIN}))
    assert_error(response, 500, "internal_error")
    assert "RuntimeError" not in response["body"] and "Traceback" not in response["body"]
    assert any(line["level"] == "ERROR" for line in stack.log_lines())
    assert "ResponseTime" in metric_totals(stack)


def test_emf_documents_go_to_stdout_in_lambda(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    """With the default sink, each invocation prints one EMF JSON line CloudWatch can extract."""
    import handler
    from contact_sdk.bootstrap import build_components
    from contact_sdk.settings import Settings

    components = build_components(Settings.from_env())
    handler.environment.use_components(components)
    capsys.readouterr()
    try:
        handler.lambda_handler(api_gateway_event("GET", "/contact/token", headers={"Origin": ORIGIN}), None)
    finally:
        components.close()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(lines) == 1
    assert lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Portfolio/EmailService"
