"""The pre-traffic check of a canary deploy: what a new version proves before traffic, and what the hook reports.

The checks run the real service build, the real parameter parsing and CSRF code, and ask the Resend sandbox on
loopback for ``GET /domains``. The hook is driven with stand-ins for the Lambda and CodeDeploy clients (moto runs
no function code and has no ``PutLifecycleEventHookExecutionStatus``): the Lambda stand-in invokes the real
``handler.lambda_handler`` in this process, as the new version would run it, and returns what boto3 returns.
"""

from __future__ import annotations

import functools
import importlib.metadata
import io
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import httpx
import pytest

import handler
from contact_sdk import deployment_check
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.deployment_check import (
    CHECK_EVENT_KEY,
    answer_api_check,
    answer_consumer_check,
    invoke_read_timeout,
    is_deployment_check,
    pre_traffic_hook_from_environment,
    report_timeouts,
    run_pre_traffic_hook,
)
from contact_sdk.devtools.brownout import BrownoutProxy, Mode
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.logs import build_logger
from contact_sdk.security.csrf import CsrfInvalid, CsrfTokens, InMemoryNonceStore
from contact_sdk.settings import Settings
from tests.budget.slow_servers import body_server
from tests.entrypoint.conftest import FakeLambdaContext
from tests.log_lines import printed
from tests.scripted_server import Answer, ScriptedServer

API_KEY = "re_deploy_check_key_1"
CONFIG = "/portfolio/check/resend/api-key"
CSRF = "/portfolio/check/contact/csrf-secret"
SECRET = "a-deployment-check-csrf-secret-that-is-long-enough-0123"
TARGET = "arn:aws:lambda:eu-west-1:123456789012:function:prod-contact-form-handler:7"


def resend_config(**changes: object) -> str:
    """The Resend config parameter's JSON for example.com."""
    value: dict[str, object] = {
        "apiKey": API_KEY,
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "owner@example.com",
        "version": 3,
        "rotatedAt": "2026-11-01T10:00:00Z",
    }
    value.update(changes)
    return json.dumps(value)


@pytest.fixture
def sandbox() -> Iterator[ResendSandbox]:
    """A Resend sandbox on loopback whose account has example.com, verified."""
    with ResendSandbox(api_key=API_KEY, rate_limit_per_second=None) as running:
        running.add_domain("example.com", status="verified")
        yield running


def environment(sandbox: ResendSandbox, **changes: str) -> dict[str, str]:
    """The function's environment variables, pointed at the sandbox."""
    return {
        "CONTACT_CONFIG_PARAMETER": CONFIG,
        "CONTACT_CSRF_SECRET_PARAMETER": CSRF,
        "CONTACT_ALLOWED_ORIGINS": "https://www.example.com",
        "RESEND_API_URL": sandbox.url,
        **changes,
    }


def builder(environ: Mapping[str, str], parameters: Mapping[str, str]) -> Callable[[], Components]:
    """Build the service as the function does, from ``environ``, with parameters from memory."""
    return lambda: build_components(Settings.from_env(environ), parameters=InMemoryParameterSource(parameters))


PARAMETERS = {CONFIG: resend_config(), CSRF: SECRET}


def check(names: list[str] | None = None) -> dict[str, Any]:
    """A check event (all checks when ``names`` is None)."""
    return {CHECK_EVENT_KEY: {} if names is None else {"checks": names}}


def verdicts(answer: Mapping[str, Any]) -> dict[str, bool]:
    """Each check's name and whether it passed."""
    return {item["name"]: item["ok"] for item in answer["checks"]}


def detail(answer: Mapping[str, Any], name: str) -> str:
    """What one check said."""
    return next(str(item["detail"]) for item in answer["checks"] if item["name"] == name)


def test_only_a_check_event_is_a_check() -> None:
    """API Gateway and SQS events are never taken for a check; a check event carries its key alone."""
    assert is_deployment_check(check())
    assert not is_deployment_check({"httpMethod": "GET", "path": "/contact/token", CHECK_EVENT_KEY: {}})
    assert not is_deployment_check({"Records": []})
    assert not is_deployment_check([CHECK_EVENT_KEY])


@pytest.mark.integration
def test_a_healthy_version_passes_every_check(sandbox: ResendSandbox) -> None:
    """Service built, config read, key valid with the domain verified, a token signed and refused on reuse."""
    environ = environment(sandbox)
    answer = answer_api_check(check(), builder(environ, PARAMETERS), environ=environ)
    assert answer["ok"] is True
    assert verdicts(answer) == {"service": True, "config": True, "resend": True, "csrf": True}
    assert detail(answer, "config") == f"{CONFIG}: version 3, domain example.com"
    assert detail(answer, "resend") == "the key is valid and example.com is verified"
    assert "https://www.example.com" in detail(answer, "csrf")
    assert [(r["method"], r["path"]) for r in sandbox.requests()] == [("GET", "/domains")]
    assert sandbox.emails() == []


@pytest.mark.integration
def test_no_secret_appears_in_an_answer(sandbox: ResendSandbox) -> None:
    """Neither the API key nor the CSRF secret is in what the check answers (the hook logs it)."""
    environ = environment(sandbox)
    text = json.dumps(answer_api_check(check(), builder(environ, PARAMETERS), environ=environ))
    assert API_KEY not in text
    assert SECRET not in text


def test_an_environment_the_service_refuses_fails_before_anything_else() -> None:
    """The issue's case: an origin with a path; the service does not build, and the check says why."""
    environ = {"CONTACT_ALLOWED_ORIGINS": "https://example.com/contact", "RESEND_API_URL": "http://127.0.0.1:9"}
    answer = answer_api_check(check(), builder(environ, PARAMETERS), environ=environ)
    assert answer["ok"] is False
    assert verdicts(answer) == {"service": False}
    assert "'https://example.com/contact' is not an origin" in detail(answer, "service")


def test_a_fifo_outbox_fails_the_service_check_before_any_outage_needs_it() -> None:
    """A FIFO queue as the outbox would only fail when the provider is down; the canary refuses the version now."""
    environ = {
        "CONTACT_ALLOWED_ORIGINS": "https://example.com",
        "RESEND_API_URL": "http://127.0.0.1:9",
        "CONTACT_OUTBOX_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/contact-outbox.fifo",
    }
    answer = answer_api_check(check(), builder(environ, PARAMETERS), environ=environ)
    assert verdicts(answer) == {"service": False}
    assert "'contact-outbox.fifo' is a FIFO queue" in detail(answer, "service")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("status", "expected"),
    [("pending", "example.com is pending in Resend: it cannot send yet"), ("failed", "example.com is failed")],
)
def test_an_unverified_domain_fails_the_resend_check(sandbox: ResendSandbox, status: str, expected: str) -> None:
    """A full-access key that shows the domain not verified: mail from it would be refused, so the deploy is."""
    sandbox.set_domain_status("example.com", status)
    environ = environment(sandbox)
    answer = answer_api_check(check(["resend"]), builder(environ, PARAMETERS), environ=environ)
    assert verdicts(answer) == {"config": True, "resend": False}
    assert detail(answer, "resend").startswith(expected)


@pytest.mark.integration
def test_a_domain_missing_from_the_account_fails(sandbox: ResendSandbox) -> None:
    """The config names a domain the key's account does not have."""
    environ = environment(sandbox)
    parameters = {CONFIG: resend_config(domain="other.example", fromEmail="a@other.example"), CSRF: SECRET}
    answer = answer_api_check(check(["resend"]), builder(environ, parameters), environ=environ)
    assert detail(answer, "resend") == "other.example is not a domain of this Resend account"


@pytest.mark.integration
def test_a_refused_key_fails(sandbox: ResendSandbox) -> None:
    """A key Resend does not know: 403 invalid_api_key, named."""
    environ = environment(sandbox)
    parameters = {CONFIG: resend_config(apiKey="re_not_the_key_123"), CSRF: SECRET}
    answer = answer_api_check(check(["resend"]), builder(environ, parameters), environ=environ)
    assert detail(answer, "resend") == "Resend answered GET /domains with 403 invalid_api_key"


def test_resend_unreachable_fails() -> None:
    """Nothing listening at the Resend URL: the check fails and says where it tried."""
    environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": "http://127.0.0.1:9"}
    answer = answer_api_check(check(["resend"]), builder(environ, PARAMETERS), environ=environ)
    assert answer["ok"] is False
    assert verdicts(answer) == {"config": True, "resend": False}
    assert detail(answer, "resend") == "Resend could not be reached at http://127.0.0.1:9: ConnectError"


@pytest.mark.integration
def test_a_restricted_key_passes_without_the_domain(sandbox: ResendSandbox) -> None:
    """A sending-only key gets 401 restricted_api_key from the domains API: a real key, so the check passes."""
    made = httpx.post(
        f"{sandbox.url}/api-keys",
        headers={"Authorization": f"Bearer {API_KEY}", "User-Agent": "test"},
        json={"name": "contact form", "permission": "sending_access"},
    ).json()
    environ = environment(sandbox)
    parameters = {CONFIG: resend_config(apiKey=made["token"]), CSRF: SECRET}
    answer = answer_api_check(check(["resend"]), builder(environ, parameters), environ=environ)
    assert verdicts(answer) == {"config": True, "resend": True}
    assert "restricted to sending" in detail(answer, "resend")
    assert sandbox.requests()[-1]["name"] == "restricted_api_key"


def test_a_missing_config_parameter_fails_config_and_skips_resend() -> None:
    """No Resend config in Parameter Store: config fails with the parameter named; Resend is not asked."""
    environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": "http://127.0.0.1:9"}
    answer = answer_api_check(check(["config", "resend"]), builder(environ, {}), environ=environ)
    assert verdicts(answer) == {"config": False, "resend": False}
    assert CONFIG in detail(answer, "config")
    assert detail(answer, "resend") == "not asked: the Resend config did not load"


def test_a_short_csrf_secret_fails_the_csrf_check() -> None:
    """A CSRF secret the service would refuse fails the check, the parameter named, the value not shown."""
    environ = {"CONTACT_CSRF_SECRET_PARAMETER": CSRF, "CONTACT_ALLOWED_ORIGINS": "https://www.example.com"}
    answer = answer_api_check(check(["csrf"]), builder(environ, {CSRF: "short"}), environ=environ)
    assert verdicts(answer) == {"csrf": False}
    assert CSRF in detail(answer, "csrf")
    assert "short" not in detail(answer, "csrf").replace(CSRF, "")


@pytest.mark.parametrize("event", [{CHECK_EVENT_KEY: {"checks": ["send"]}}, {CHECK_EVENT_KEY: {"checks": []}}])
def test_a_malformed_check_event_is_answered_not_raised(event: dict[str, Any]) -> None:
    """An unknown or empty list of checks answers ok false with the valid names."""
    answer = answer_api_check(event, builder({}, PARAMETERS), environ={})
    assert answer["ok"] is False
    assert "service, config, resend, csrf" in detail(answer, "event")


# --- the hook ------------------------------------------------------------------------------------------------


class RecordingCodeDeploy:
    """Stands in for boto3's CodeDeploy client: records each status reported."""

    def __init__(self) -> None:
        self.reports: list[dict[str, str]] = []

    def put_lifecycle_event_hook_execution_status(self, **kwargs: str) -> dict[str, str]:
        self.reports.append(kwargs)
        return {"lifecycleEventHookExecutionId": kwargs["lifecycleEventHookExecutionId"]}


class InProcessLambda:
    """Stands in for boto3's Lambda client: ``invoke`` runs ``function`` here, answering in boto3's shape.

    An exception in the function becomes ``FunctionError: Unhandled`` with the error document as the payload,
    as Lambda answers a synchronous invoke whose handler raised.
    """

    def __init__(self, function: Callable[[dict[str, Any], Any], Any]) -> None:
        self.function = function
        self.invoked: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        assert InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.invoked.append((FunctionName, event))
        try:
            result = self.function(event, None)
        except Exception as exc:  # noqa: BLE001 - the stand-in reports it as Lambda does
            body = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(body).encode())}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}


LIFECYCLE = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJ-hook-execution"}


@pytest.fixture
def new_version(sandbox: ResendSandbox) -> Iterator[None]:
    """``handler`` as a new version runs it: its environment and its parameters (in memory), Resend the sandbox."""
    environ = environment(sandbox)
    handler.environment.use_components(builder(environ, PARAMETERS)())
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        yield
    handler.environment.use_components(None)


@pytest.mark.integration
@pytest.mark.usefixtures("new_version")
def test_the_hook_invokes_the_new_version_and_reports_succeeded() -> None:
    """The hook sends the check event to the version it was given and reports Succeeded for its execution."""
    lam, deploy = InProcessLambda(handler.lambda_handler), RecordingCodeDeploy()
    checks = ["service", "config", "resend", "csrf"]
    report = run_pre_traffic_hook(LIFECYCLE, target=TARGET, checks=checks, lambda_client=lam, codedeploy=deploy)  # type: ignore[arg-type]
    assert lam.invoked == [(TARGET, {CHECK_EVENT_KEY: {"checks": checks}})]
    assert deploy.reports == [
        {"deploymentId": "d-ABCDEF123", "lifecycleEventHookExecutionId": "eyJ-hook-execution", "status": "Succeeded"}
    ]
    assert report["status"] == "Succeeded"


def test_a_failed_check_is_reported_failed() -> None:
    """A version whose service does not build: the hook reports Failed, with the check's reason in its report."""
    environ = {"CONTACT_ALLOWED_ORIGINS": "https://example.com/contact"}
    version = InProcessLambda(lambda event, _: answer_api_check(event, builder(environ, PARAMETERS), environ=environ))
    deploy = RecordingCodeDeploy()
    report = run_pre_traffic_hook(
        LIFECYCLE, target=TARGET, checks=["service"], lambda_client=version, codedeploy=deploy
    )  # type: ignore[arg-type]
    assert [r["status"] for r in deploy.reports] == ["Failed"]
    assert report["ok"] is False
    assert "is not an origin" in json.dumps(report["checks"])


def test_a_version_that_crashes_is_reported_failed() -> None:
    """An unhandled error in the new version (Lambda's FunctionError): Failed, the error quoted."""

    def crash(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("ImportError in the new build")

    deploy = RecordingCodeDeploy()
    report = run_pre_traffic_hook(
        LIFECYCLE, target=TARGET, checks=["service"], lambda_client=InProcessLambda(crash), codedeploy=deploy
    )  # type: ignore[arg-type]
    assert [r["status"] for r in deploy.reports] == ["Failed"]
    assert "ImportError in the new build" in str(report["error"])


def test_an_answer_that_is_not_a_check_answer_fails() -> None:
    """A version that answers something else (an old handler without the check): Failed."""
    version = InProcessLambda(lambda event, _: {"statusCode": 404, "body": "{}"})
    deploy = RecordingCodeDeploy()
    run_pre_traffic_hook(LIFECYCLE, target=TARGET, checks=["service"], lambda_client=version, codedeploy=deploy)  # type: ignore[arg-type]
    assert [r["status"] for r in deploy.reports] == ["Failed"]


def test_an_event_without_a_deployment_raises() -> None:
    """With no deployment to report to, the hook raises rather than pretend."""
    with pytest.raises(ValueError, match="DeploymentId"):
        run_pre_traffic_hook({}, target=TARGET, checks=["service"], lambda_client=None, codedeploy=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "environ",
    [{}, {"CONTACT_CHECK_TARGET": TARGET, "CONTACT_CHECKS": "service,send"}, {"CONTACT_CHECK_TARGET": " "}],
)
def test_the_hook_refuses_a_malformed_environment(environ: dict[str, str]) -> None:
    """No target, or an unknown check: the hook function is misconfigured and says which variables to fix."""
    expected = "CONTACT_CHECK_TARGET must name a version and CONTACT_CHECKS a subset of service, config, resend, csrf"
    with pytest.raises(ValueError, match=f"^{expected}$"):
        pre_traffic_hook_from_environment(LIFECYCLE, environ)


@pytest.mark.integration
@pytest.mark.usefixtures("new_version")
def test_the_outbox_handler_answers_a_check_instead_of_a_batch() -> None:
    """The consumer's handler takes a check event for a check, not for an SQS batch, and runs its own checks."""
    answer = handler.outbox_handler(check(["service", "config", "resend"]), None)
    assert answer == {
        "ok": True,
        "checks": [
            {"name": "service", "ok": True, "detail": "built from the function's environment"},
            {"name": "config", "ok": True, "detail": f"{CONFIG}: version 3, domain example.com"},
            {"name": "resend", "ok": True, "detail": "the key is valid and example.com is verified"},
        ],
    }


# --- what the checks send, and what they make of each answer ---------------------------------------------------


def json_answer(status: int, document: object) -> Answer:
    """Every request answered ``status`` with ``document`` as JSON."""
    return lambda *_: (status, {"Content-Type": "application/json"}, json.dumps(document).encode())


VERIFIED = "the key is valid and example.com is verified"


def resend_check_against(answer: Answer) -> dict[str, Any]:
    """The ``resend`` check's verdict with Resend answering ``answer``."""
    with ScriptedServer(answer) as resend:
        environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": resend.url}
        answer_doc = answer_api_check(check(["resend"]), builder(environ, PARAMETERS), environ=environ)
    return next(item for item in answer_doc["checks"] if item["name"] == "resend")


@pytest.mark.integration
def test_the_resend_check_asks_with_the_key_and_names_itself() -> None:
    """One ``GET /domains`` with the configured key; the User-Agent tells a check from a send in Resend's logs."""
    domains = {"data": [{"name": "example.com", "status": "verified"}]}
    with ScriptedServer(json_answer(200, domains)) as resend:
        environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": resend.url}
        answer_api_check(check(["resend"]), builder(environ, PARAMETERS), environ=environ)
    [(method, path, headers, _)] = resend.requests
    assert (method, path) == ("GET", "/domains")
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["User-Agent"] == f"contact-sdk/{importlib.metadata.version('contact-sdk')} deployment-check"
    assert headers["Accept"] == "application/json"


#: Answers Resend (or a proxy in front of it) may give to ``GET /domains``, and the verdict each must get.
RESEND_ANSWERS = [
    # Not JSON at all: a proxy's error page.
    (502, b"<html><body>Bad gateway</body></html>", False, "Resend answered GET /domains with 502"),
    # JSON of the wrong shapes.
    (200, b'{"data": "example.com"}', False, "Resend answered GET /domains with 200"),
    (200, b'["example.com"]', False, "Resend answered GET /domains with 200"),
    (500, b'{"name": "internal_server_error"}', False, "Resend answered GET /domains with 500 internal_server_error"),
    # restricted_api_key proves a key only with Resend's 401.
    (403, b'{"name": "restricted_api_key"}', False, "Resend answered GET /domains with 403 restricted_api_key"),
    (401, b'{"name": "missing_api_key"}', False, "Resend answered GET /domains with 401 missing_api_key"),
    (
        401,
        b'{"name": "restricted_api_key"}',
        True,
        "the key is valid and restricted to sending (the domain's status is not visible)",
    ),
    # Names compare without case; entries that are not objects are skipped; no status is not verified.
    (200, b'{"data": [{"name": "EXAMPLE.com", "status": "verified"}]}', True, VERIFIED),
    (
        200,
        b'{"data": ["example.com", {"name": "example.com"}]}',
        False,
        "example.com is unknown in Resend: it cannot send yet",
    ),
    (200, b'{"data": []}', False, "example.com is not a domain of this Resend account"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("status", "body", "ok", "expected"), RESEND_ANSWERS)
def test_the_resend_check_reads_every_answer_for_what_it_is(status: int, body: bytes, ok: bool, expected: str) -> None:
    """Each answer in :data:`RESEND_ANSWERS`, and the verdict the deploy gets for it."""
    verdict = resend_check_against(lambda *_: (status, {"Content-Type": "application/json"}, body))
    assert verdict == {"name": "resend", "ok": ok, "detail": expected}


@pytest.mark.integration
def test_a_resend_that_hangs_fails_the_check_after_its_timeout() -> None:
    """Slow is not down: a Resend that takes the request and never answers fails the check at its 5 s timeout,
    even through a caller's client that has no timeout of its own.

    The hook waits 50 s for the whole check (its function has 60 s); a check that waited on Resend for ever would
    leave CodeDeploy without a verdict. Bounded here by a thread, so a check without a timeout fails, not hangs.
    """
    domains = {"data": [{"name": "example.com", "status": "verified"}]}
    with (
        ScriptedServer(json_answer(200, domains)) as resend,
        BrownoutProxy(resend.url) as proxy,
        httpx.Client(timeout=None) as unbounded,  # noqa: S113 - the point: the check must bound it itself
    ):
        proxy.set_mode(Mode.hang())
        environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": proxy.url}
        answers: list[dict[str, Any]] = []
        worker = threading.Thread(
            target=lambda: answers.append(
                answer_api_check(check(["resend"]), builder(environ, PARAMETERS), environ=environ, http=unbounded)
            ),
            daemon=True,
        )
        worker.start()
        worker.join(timeout=30)
        assert answers, "the check was still waiting on a hanging Resend after 30 s"
        assert proxy.settle(5.0) == []
        assert [exchange.gave_up is not None for exchange in proxy.exchanges()] == [True]
    assert detail(answers[0], "resend") == f"Resend could not be reached at {proxy.url}: ReadTimeout"
    assert answers[0]["ok"] is False


@pytest.mark.integration
def test_a_resend_that_trickles_its_answer_is_cut_at_the_checks_5_s_in_all() -> None:
    """Slow is not down, byte by byte: an answer trickled a byte every 0.6 s (14 s for the whole) never lets one
    read wait 5 s, so only a bound on the whole question ends it; the check fails at 5 s and hangs up.

    Without it the check would wait out the trickle (or, slower still, the function's own timeout) and vouch for
    nothing better; bounded here by a thread, so a check that waits fails rather than hangs.
    """
    hung_up: list[float] = []
    with body_server(byte_every=0.6, hung_up=hung_up) as url:
        environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": url}
        answers: list[dict[str, Any]] = []
        worker = threading.Thread(
            target=lambda: answers.append(
                answer_api_check(check(["resend"]), builder(environ, PARAMETERS), environ=environ)
            ),
            daemon=True,
        )
        worker.start()
        worker.join(timeout=30)
        assert answers, "the check was still reading a trickled answer after 30 s"
        assert detail(answers[0], "resend") == f"Resend could not be reached at {url}: ReadTimeout"
        assert answers[0]["ok"] is False
    assert len(hung_up) == 1, "the cut connection is closed, not left reading"


@pytest.mark.integration
def test_the_check_asks_resend_through_the_client_it_is_given() -> None:
    """A caller's client (its proxy, its TLS settings) is the one used, for the API and the consumer alike."""
    domains = {"data": [{"name": "example.com", "status": "verified"}]}
    with ScriptedServer(json_answer(200, domains)) as resend:
        environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": resend.url}
        for answer_check in (answer_api_check, answer_consumer_check):
            seen: list[httpx.Request] = []
            with httpx.Client(event_hooks={"request": [seen.append]}) as http:
                answer = answer_check(check(["resend"]), builder(environ, PARAMETERS), environ=environ, http=http)
            assert answer["ok"] is True
            assert [(r.method, r.url.path) for r in seen] == [("GET", "/domains")]


# --- the config and CSRF checks read Parameter Store now, not the cache -----------------------------------------


def test_the_config_check_alone_reads_the_parameter_as_it_is_now() -> None:
    """A config changed since the service cached it: the check reads it again (a deploy often comes with one)."""
    environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": "http://127.0.0.1:9"}
    source = InMemoryParameterSource(PARAMETERS)
    components = build_components(Settings.from_env(environ), parameters=source)
    components.cache.get(CONFIG)  # the service has read (and cached) version 3
    source.values[CONFIG] = resend_config(version=4)
    answer = answer_api_check(check(["config"]), lambda: components, environ=environ)
    assert answer == {
        "ok": True,
        "checks": [{"name": "config", "ok": True, "detail": f"{CONFIG}: version 4, domain example.com"}],
    }


def test_a_config_that_does_not_parse_fails_with_the_parameter_named() -> None:
    """A Resend config missing a field: the check names the parameter and the field, never a value."""
    environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": "http://127.0.0.1:9"}
    parameters = {CONFIG: json.dumps({"apiKey": API_KEY, "domain": "example.com"}), CSRF: SECRET}
    answer = answer_api_check(check(["config"]), builder(environ, parameters), environ=environ)
    assert answer["ok"] is False
    assert detail(answer, "config") == f"parameter {CONFIG}: missing field(s) fromEmail, toEmail, version, rotatedAt"


@pytest.mark.parametrize("sender", ["no-reply@mail.example.com", "no-reply@example.org"])
def test_a_sender_outside_the_configured_domain_fails_the_config_check(sender: str) -> None:
    """A config written by hand whose fromEmail is not at its domain: the resend check would vouch for the wrong
    domain, so the config check fails and says why."""
    environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": "http://127.0.0.1:9"}
    parameters = {CONFIG: resend_config(fromEmail=sender), CSRF: SECRET}
    answer = answer_api_check(check(["config"]), builder(environ, parameters), environ=environ)
    assert answer == {
        "ok": False,
        "checks": [
            {
                "name": "config",
                "ok": False,
                "detail": f"{CONFIG}: fromEmail is not an address at example.com (Resend sends only from a verified "
                "domain, and the resend check asks about that one)",
            }
        ],
    }


def test_a_sender_at_the_domain_in_other_letters_passes() -> None:
    """Domain names compare without case: ``Example.COM`` in the config, mail from ``no-reply@example.com``."""
    environ = {"CONTACT_CONFIG_PARAMETER": CONFIG, "RESEND_API_URL": "http://127.0.0.1:9"}
    parameters = {CONFIG: resend_config(domain="Example.COM"), CSRF: SECRET}
    answer = answer_api_check(check(["config"]), builder(environ, parameters), environ=environ)
    assert answer["ok"] is True
    assert detail(answer, "config") == f"{CONFIG}: version 3, domain Example.COM"


def csrf_environ(origins: str = "https://www.example.com") -> dict[str, str]:
    """The API function's environment for the CSRF check alone."""
    return {"CONTACT_CSRF_SECRET_PARAMETER": CSRF, "CONTACT_ALLOWED_ORIGINS": origins}


def test_the_csrf_check_reads_the_secret_as_it_is_now() -> None:
    """A CSRF secret rotated to a bad value after the service cached the old one fails the check."""
    environ = csrf_environ()
    source = InMemoryParameterSource(PARAMETERS)
    components = build_components(Settings.from_env(environ), parameters=source)
    components.cache.get(CSRF)
    source.values[CSRF] = "short"
    answer = answer_api_check(check(["csrf"]), lambda: components, environ=environ)
    assert verdicts(answer) == {"csrf": False}
    assert CSRF in detail(answer, "csrf")


def test_the_csrf_check_signs_for_the_first_origin_and_takes_a_secret_with_a_newline() -> None:
    """Origins in any order: the token is for the first in sorted order; a secret pasted with a newline works."""
    environ = csrf_environ("https://www.example.com, https://blog.example.com")
    answer = answer_api_check(check(["csrf"]), builder(environ, {CSRF: SECRET + "\n"}), environ=environ)
    assert answer == {
        "ok": True,
        "checks": [
            {
                "name": "csrf",
                "ok": True,
                "detail": "a token for https://blog.example.com signed, verified once, refused twice",
            }
        ],
    }


def test_no_allowed_origin_fails_the_csrf_check() -> None:
    """The service builds without an origin, but no browser could ever get a token from it."""
    environ = {"CONTACT_CSRF_SECRET_PARAMETER": CSRF}
    answer = answer_api_check(check(["csrf"]), builder(environ, PARAMETERS), environ=environ)
    assert answer == {
        "ok": False,
        "checks": [
            {"name": "csrf", "ok": False, "detail": "CONTACT_ALLOWED_ORIGINS is empty: no browser could get a token"}
        ],
    }


class _RefusesEveryToken(CsrfTokens):
    """A build whose verification is broken: it refuses even the token it just signed."""

    def verify_and_consume(self, *args: Any, **kwargs: Any) -> Any:
        raise CsrfInvalid("signature mismatch")


class _ForgetsNonces(InMemoryNonceStore):
    """A build whose single-use store is broken: it never remembers a nonce."""

    def consume(self, *args: Any, **kwargs: Any) -> bool:
        return True


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ({"CsrfTokens": _RefusesEveryToken}, f"a token it signed did not verify: {CsrfInvalid('signature mismatch')}"),
        ({"InMemoryNonceStore": _ForgetsNonces}, "a token was accepted twice"),
    ],
)
def test_a_version_whose_csrf_code_is_broken_fails_the_check(
    broken: dict[str, type], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the CSRF check is for: a build that refuses its own tokens, or takes one twice, is not deployed."""
    for name, stand_in in broken.items():
        monkeypatch.setattr(deployment_check, name, stand_in)
    environ = csrf_environ()
    answer = answer_api_check(check(["csrf"]), builder(environ, PARAMETERS), environ=environ)
    assert answer == {"ok": False, "checks": [{"name": "csrf", "ok": False, "detail": expected}]}


def test_the_csrf_check_keeps_to_the_clock_it_is_given() -> None:
    """Signing, the single-use store and verification read one clock: the check passes at any instant it is run."""
    environ = csrf_environ()
    for instant in (946_684_800.0, 4_102_444_800.0):  # 2000-01-01 and 2100-01-01, UTC
        clock = functools.partial(float, instant)
        answer = answer_api_check(check(["csrf"]), builder(environ, PARAMETERS), environ=environ, clock=clock)
        assert verdicts(answer) == {"csrf": True}, (instant, answer)


# --- what the function answers and logs ------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, "all", ["service"]])
def test_a_check_event_whose_body_is_not_an_object_is_answered(body: object) -> None:
    """``{"contactSdkDeploymentCheck": <not an object>}``: answered ok false with the valid names, never raised."""
    answer = answer_api_check({CHECK_EVENT_KEY: body}, builder({}, PARAMETERS), environ={})
    assert answer == {
        "ok": False,
        "checks": [
            {
                "name": "event",
                "ok": False,
                "detail": f"{CHECK_EVENT_KEY}.checks must be a non-empty list of service, config, resend, csrf",
            }
        ],
    }


def test_the_consumer_refuses_the_csrf_check_with_its_reason() -> None:
    """The whole answer when the consumer is asked for the check its role cannot run."""
    answer = answer_consumer_check(check(["config", "csrf"]), builder({}, PARAMETERS), environ={})
    assert answer == {
        "ok": False,
        "checks": [
            {
                "name": "event",
                "ok": False,
                "detail": "this function cannot run the csrf check (its role cannot read the CSRF secret)",
            }
        ],
    }


def test_the_function_logs_its_answer() -> None:
    """The new version's log says what it answered (CodeDeploy shows only Failed): one line, the answer in it."""
    environ = {"CONTACT_ALLOWED_ORIGINS": "https://example.com/contact"}
    with printed(build_logger()) as out:
        answer = answer_api_check(check(["service"]), builder(environ, PARAMETERS), environ=environ)
    [line] = out.lines("deployment check")
    assert line["level"] == "INFO"
    assert line["deployment_check"] == answer


# --- the hook: what it makes of the new version's answer, and what it reports -------------------------------------


def hook_report_for(version: Callable[[dict[str, Any], Any], Any]) -> tuple[dict[str, object], list[str]]:
    """The hook's report and the statuses CodeDeploy heard, the new version being ``version``."""
    deploy = RecordingCodeDeploy()
    report = run_pre_traffic_hook(
        LIFECYCLE, target=TARGET, checks=["service"], lambda_client=InProcessLambda(version), codedeploy=deploy
    )  # type: ignore[arg-type]
    return report, [r["status"] for r in deploy.reports]


class _RawLambda:
    """A Lambda client whose invoke answers ``payload`` bytes as they are, with a ``FunctionError`` if given."""

    def __init__(self, payload: bytes, function_error: str | None = None) -> None:
        self.payload, self.function_error = payload, function_error

    def invoke(self, **_: Any) -> dict[str, Any]:
        answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(self.payload)}
        if self.function_error is not None:
            answer["FunctionError"] = self.function_error
        return answer


def raw_report(payload: bytes, function_error: str | None = None) -> tuple[dict[str, object], list[str]]:
    """The hook's report and the statuses reported, the new version answering ``payload`` raw."""
    deploy = RecordingCodeDeploy()
    report = run_pre_traffic_hook(
        LIFECYCLE,
        target=TARGET,
        checks=["service"],
        lambda_client=_RawLambda(payload, function_error),  # type: ignore[arg-type]
        codedeploy=deploy,  # type: ignore[arg-type]
    )
    return report, [r["status"] for r in deploy.reports]


def report_of(status: str, **answer: object) -> dict[str, object]:
    """The hook's whole report for this deployment and target: the status it reported and the answer's fields."""
    return {"deploymentId": "d-ABCDEF123", "target": TARGET, "status": status, **answer}


def test_the_report_carries_the_deployment_the_target_and_the_answer() -> None:
    """What the hook returns (and logs) for a passing version: where it looked, what it reported, what it was told."""
    checks = [{"name": "service", "ok": True, "detail": "built"}]
    report, statuses = hook_report_for(lambda event, _: {"ok": True, "checks": checks})
    assert statuses == ["Succeeded"]
    assert report == report_of("Succeeded", ok=True, checks=checks)


def test_a_crash_is_quoted_up_to_500_characters() -> None:
    """Lambda's error document for an unhandled error, quoted in the report (first 500 characters)."""
    document = json.dumps({"errorMessage": "x" * 1000, "errorType": "ImportError"}).encode()
    report, statuses = raw_report(document, function_error="Unhandled")
    assert statuses == ["Failed"]
    assert report == report_of(
        "Failed", ok=False, checks=[], error="the new version failed: " + document.decode()[:500]
    )


def test_an_answer_in_bytes_that_are_not_utf8_is_still_reported() -> None:
    """A crash whose output is not UTF-8 is quoted with replacement characters, and reported, not raised."""
    report, statuses = raw_report(b'{"errorMessage": "\xff\xfe boom"}', function_error="Unhandled")
    assert statuses == ["Failed"]
    assert report["error"] == 'the new version failed: {"errorMessage": "\ufffd\ufffd boom"}'


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps({"statusCode": 200, "body": "y" * 400}).encode(),  # an old handler's API answer
        b'{"ok": "true", "checks": []}',  # ok must be the JSON boolean
        b'[{"ok": true}]',
    ],
)
def test_an_answer_that_is_not_a_check_answer_is_quoted_up_to_200_characters(payload: bytes) -> None:
    """Not ``{"ok": <bool>, ...}``: Failed, and the first 200 characters of what came back are in the report."""
    report, statuses = raw_report(payload)
    assert statuses == ["Failed"]
    assert report["ok"] is False
    assert report["checks"] == []
    assert report["error"] == "the new version did not answer a check: " + payload.decode()[:200]


def test_an_answer_that_is_not_json_is_reported_failed() -> None:
    """A payload that does not parse: Failed, with the parser's reason."""
    report, statuses = raw_report(b"Task timed out after 60.00 seconds")
    assert statuses == ["Failed"]
    assert report["ok"] is False
    assert report["checks"] == []
    assert str(report["error"]).startswith("the check could not run: JSONDecodeError: Expecting value")


def test_an_invoke_that_raises_is_reported_with_the_whole_reason() -> None:
    """The report of an invoke refused by IAM, in full: no checks ran, and the error says which and why."""

    class Refusing:
        def invoke(self, **_: Any) -> dict[str, Any]:
            raise PermissionError("AccessDeniedException: not authorized to perform lambda:InvokeFunction")

    deploy = RecordingCodeDeploy()
    report = run_pre_traffic_hook(
        LIFECYCLE, target=TARGET, checks=["service"], lambda_client=Refusing(), codedeploy=deploy
    )  # type: ignore[arg-type]
    refusal = "AccessDeniedException: not authorized to perform lambda:InvokeFunction"
    error = f"the check could not run: PermissionError: {refusal}"
    assert report == report_of("Failed", ok=False, checks=[], error=error)


@pytest.mark.parametrize(
    "event",
    [{"DeploymentId": "d-ABCDEF123"}, {"LifecycleEventHookExecutionId": "eyJ-hook-execution"}],
)
def test_an_event_missing_either_id_raises_with_both_named(event: dict[str, str]) -> None:
    """CodeDeploy needs both ids to hear a status; without either the hook cannot report, and says what is missing."""
    expected = "not a CodeDeploy lifecycle event: DeploymentId and LifecycleEventHookExecutionId missing"
    with pytest.raises(ValueError, match=f"^{expected}$"):
        run_pre_traffic_hook(event, target=TARGET, checks=["service"], lambda_client=None, codedeploy=None)  # type: ignore[arg-type]


def test_the_hook_logs_its_report() -> None:
    """The hook function's log holds the report: what an operator reads when CodeDeploy says only Failed."""
    with printed(build_logger()) as out:
        report, _ = hook_report_for(lambda event, _: {"ok": False, "checks": []})
    [line] = out.lines("pre-traffic hook")
    assert line["level"] == "INFO"
    assert line["pre_traffic_hook"] == report


# --- the hook function: its environment, and its clients on the wire ---------------------------------------------


class AwsStub:
    """Lambda's Invoke and CodeDeploy's PutLifecycleEventHookExecutionStatus on loopback, answered from scripts.

    Each script is a list of (status, headers, body); a request takes the next answer, the last one repeating.
    The hook function's real boto3 clients reach it through ``AWS_ENDPOINT_URL``.
    """

    INVOKE_PATH = "/2015-03-31/functions/"
    REPORT_TARGET = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"

    def __init__(
        self, invoke: list[tuple[int, dict[str, str], bytes]], report: list[tuple[int, dict[str, str], bytes]]
    ) -> None:
        self.scripts = {"invoke": list(invoke), "report": list(report)}
        self.server = ScriptedServer(self._answer)
        #: While set, an Invoke is held unanswered (up to 4 s): a new version that hangs.
        self.hanging = threading.Event()
        self.released = threading.Event()
        #: How many reports, from the first, are held unanswered (up to 6 s): a CodeDeploy that hangs.
        self.reports_held = 0

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        invoke = path.startswith(self.INVOKE_PATH)
        if invoke and self.hanging.is_set():
            self.released.wait(timeout=4.0)
        if not invoke and self.reports_held > 0:
            self.reports_held -= 1
            self.released.wait(timeout=6.0)
        script = self.scripts["invoke" if invoke else "report"]
        return script.pop(0) if len(script) > 1 else script[0]

    def invokes(self) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        """Each Invoke: the function name from the path, the headers, the event."""
        return [
            (
                urllib.parse.unquote(path[len(self.INVOKE_PATH) :].removesuffix("/invocations")),
                headers,
                json.loads(body),
            )
            for _, path, headers, body in self.server.requests
            if path.startswith(self.INVOKE_PATH)
        ]

    def reports(self) -> list[dict[str, Any]]:
        """Each status reported to CodeDeploy, as sent."""
        return [
            json.loads(body)
            for _, _, headers, body in self.server.requests
            if headers.get("X-Amz-Target") == self.REPORT_TARGET
        ]


PASSED = (200, {"Content-Type": "application/json"}, json.dumps({"ok": True, "checks": []}).encode())
HEARD = (
    200,
    {"Content-Type": "application/x-amz-json-1.1"},
    b'{"lifecycleEventHookExecutionId": "eyJ-hook-execution"}',
)


@pytest.fixture
def aws_stub(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AwsStub]:
    """Start an :class:`AwsStub` and point boto3 at it."""
    started: list[AwsStub] = []

    def start(
        invoke: list[tuple[int, dict[str, str], bytes]], report: list[tuple[int, dict[str, str], bytes]]
    ) -> AwsStub:
        stub = AwsStub(invoke, report)
        stub.server.__enter__()
        started.append(stub)
        monkeypatch.setenv("AWS_ENDPOINT_URL", stub.server.url)
        return stub

    yield start  # type: ignore[misc]
    for stub in started:
        stub.server.__exit__(None, None, None)


@pytest.fixture
def client_configs(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The ``Config`` each boto3 client made from now on was given, by service; the clients are the real ones."""
    made: dict[str, Any] = {}
    real_client = boto3.client

    def spy(service: str, **kwargs: Any) -> Any:
        made[service] = kwargs["config"]
        return real_client(service, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(boto3, "client", spy)
    return made


@pytest.mark.integration
def test_the_hook_function_checks_the_version_its_environment_names(
    aws_stub: Callable[..., AwsStub], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Lambda entry point: the target and checks from its environment (spaces and empty entries ignored),
    one synchronous invoke of that version, one status to CodeDeploy for this hook execution."""
    stub = aws_stub([PASSED], [HEARD])
    monkeypatch.setenv("CONTACT_CHECK_TARGET", f"  {TARGET} ")
    monkeypatch.setenv("CONTACT_CHECKS", " service , config,, ")
    report = deployment_check.pre_traffic_hook(dict(LIFECYCLE), None)
    [(function, headers, event)] = stub.invokes()
    assert function == TARGET
    assert headers["X-Amz-Invocation-Type"] == "RequestResponse"
    assert event == {CHECK_EVENT_KEY: {"checks": ["service", "config"]}}
    assert stub.reports() == [
        {"deploymentId": "d-ABCDEF123", "lifecycleEventHookExecutionId": "eyJ-hook-execution", "status": "Succeeded"}
    ]
    assert report["status"] == "Succeeded"


@pytest.mark.integration
def test_without_a_list_the_hook_function_asks_for_every_check(aws_stub: Callable[..., AwsStub]) -> None:
    """``CONTACT_CHECKS`` unset: every check, in their order."""
    stub = aws_stub([PASSED], [HEARD])
    pre_traffic_hook_from_environment(LIFECYCLE, {"CONTACT_CHECK_TARGET": TARGET})
    assert [event for _, _, event in stub.invokes()] == [
        {CHECK_EVENT_KEY: {"checks": ["service", "config", "resend", "csrf"]}}
    ]


@pytest.mark.integration
def test_a_throttled_invoke_is_not_tried_again_and_is_reported_failed(aws_stub: Callable[..., AwsStub]) -> None:
    """One invoke only: a second try could pass and hide that the version was refused the first time."""
    throttled = (
        429,
        {"Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequestsException"},
        b'{"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}',
    )
    stub = aws_stub([throttled, PASSED], [HEARD])
    report = pre_traffic_hook_from_environment(LIFECYCLE, {"CONTACT_CHECK_TARGET": TARGET, "CONTACT_CHECKS": "service"})
    assert len(stub.invokes()) == 1
    assert [r["status"] for r in stub.reports()] == ["Failed"]
    assert "TooManyRequestsException" in str(report["error"])


@pytest.mark.integration
def test_a_report_codedeploy_fails_to_take_is_sent_again(aws_stub: Callable[..., AwsStub]) -> None:
    """CodeDeploy answering 503 once: the status is sent again, so the deployment is not left waiting an hour."""
    unavailable = (503, {"Content-Type": "application/x-amz-json-1.1"}, b'{"__type": "ServiceUnavailableException"}')
    stub = aws_stub([PASSED], [unavailable, HEARD])
    report = pre_traffic_hook_from_environment(LIFECYCLE, {"CONTACT_CHECK_TARGET": TARGET, "CONTACT_CHECKS": "service"})
    assert [r["status"] for r in stub.reports()] == ["Succeeded", "Succeeded"]
    assert report["status"] == "Succeeded"


@pytest.mark.integration
def test_the_hook_function_waits_50_s_for_the_version_and_10_s_for_codedeploy(
    aws_stub: Callable[..., AwsStub], client_configs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clients' time limits, as docs/deploy.md states them: connect 5 s; the invoke at most 50 s (a restore, two
    parameters and a question to Resend; without a Lambda context, as here, the most); each report 10 s."""
    made = client_configs
    aws_stub([PASSED], [HEARD])
    pre_traffic_hook_from_environment(LIFECYCLE, {"CONTACT_CHECK_TARGET": TARGET, "CONTACT_CHECKS": "service"})
    invoke, report = made["lambda"], made["codedeploy"]
    assert (invoke.connect_timeout, invoke.read_timeout, invoke.retries["total_max_attempts"]) == (5, 50, 1)
    assert (report.connect_timeout, report.read_timeout, report.retries["total_max_attempts"]) == (5, 10, 3)
    monkeypatch.setenv("CONTACT_CHECK_TARGET", TARGET)
    deployment_check.pre_traffic_hook(dict(LIFECYCLE), FakeLambdaContext(remaining_ms=60_000))
    # The stack's 60 s function: one report's 20 s kept back (the time left read a moment before the client is made).
    assert made["lambda"].read_timeout == pytest.approx(40, abs=1.0)
    unreadable = FakeLambdaContext()
    unreadable.get_remaining_time_in_millis = lambda: "soon"  # type: ignore[assignment,method-assign,return-value]
    deployment_check.pre_traffic_hook(dict(LIFECYCLE), unreadable)
    assert made["lambda"].read_timeout == 50  # a time left it cannot read: the most, and the hook still reports


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [(None, 50.0), (120.0, 50.0), (70.0, 50.0), (60.0, 40.0), (25.5, 5.5), (20.5, 1.0), (3.0, 1.0)],
)
def test_the_invoke_waits_only_as_long_as_one_report_still_fits(remaining: float | None, expected: float) -> None:
    """Kept back from the hook function's time left: the invoke's connect (5 s) and one whole report (5 s + 10 s).
    The stack's 60 s function gives the new version 40 s; never more than 50 s, never under 1 s."""
    assert invoke_read_timeout(remaining) == expected


def hook_beside_a_hanging_version(stub: AwsStub, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The hook function's entry point with 21 s left and the new version held unanswered; what it reported."""
    stub.hanging.set()
    monkeypatch.setenv("CONTACT_CHECK_TARGET", TARGET)
    monkeypatch.setenv("CONTACT_CHECKS", "service")
    try:
        return deployment_check.pre_traffic_hook(dict(LIFECYCLE), FakeLambdaContext(remaining_ms=21_000))
    finally:
        stub.released.set()


@pytest.mark.integration
def test_a_version_that_hangs_is_reported_failed_before_the_hook_function_runs_out(
    aws_stub: Callable[..., AwsStub], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook function with 21 s left and a new version that does not answer: the invoke gives up after 1 s,
    CodeDeploy hears Failed, and the report says the invoke timed out. Without the cap the invoke would wait 50 s,
    past the function's end, and CodeDeploy would wait out its hour."""
    stub = aws_stub([PASSED], [HEARD])
    report = hook_beside_a_hanging_version(stub, monkeypatch)
    assert len(stub.invokes()) == 1
    assert [r["status"] for r in stub.reports()] == ["Failed"]
    assert "Read timeout" in str(report["error"])


@pytest.mark.parametrize(
    ("left", "connect", "read"),
    [
        (None, 5.0, 10.0),
        (60.0, 5.0, 10.0),  # 18.7 s a try: both at their most
        (40.0, 4.0, 8.0),  # 12 s a try: 3 x 12 + 3 s of backoff + 1 s = 40
        (20.0, 16 / 9, 32 / 9),  # the stack's function after a new version that hung: 5.3 s a try
        (10.0, 2 / 3, 4 / 3),
        (5.0, 0.5, 1.0),  # too little for three: the shortest tries, still one whole report
    ],
)
def test_each_report_try_fits_the_time_left(left: float | None, connect: float, read: float) -> None:
    """Three tries of (connect + read), botocore's backoff between them (3 s at most) and 1 s of slack fit in what the
    hook function has left once the invoke is over; never more than 5 s and 10 s, never under 0.5 s and 1 s."""
    assert report_timeouts(left) == pytest.approx((connect, read))


@pytest.mark.integration
def test_a_codedeploy_that_hangs_still_hears_the_status_before_the_function_ends(
    aws_stub: Callable[..., AwsStub], client_configs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook function with 21 s left, a new version that hangs (the invoke gives up after 1 s), and CodeDeploy
    holding the first two reports: the tries are sized to the ~20 s left, so the third goes out and is heard in
    time. With a try's 10 s read, the second would still be waiting when the function ends, and CodeDeploy would
    wait out its hour."""
    made = client_configs
    stub = aws_stub([PASSED], [HEARD])
    stub.reports_held = 2
    report = hook_beside_a_hanging_version(stub, monkeypatch)
    assert [r["status"] for r in stub.reports()] == ["Failed", "Failed", "Failed"]
    assert report["status"] == "Failed"
    tries = made["codedeploy"]
    assert tries.retries["total_max_attempts"] == 3
    assert 3 * (tries.connect_timeout + tries.read_timeout) + 3 + 1 <= 20.0
    # Sized to what was left after the 1 s invoke (about 20 s), not to a floor: 1.8 s and 3.6 s.
    assert (tries.connect_timeout, tries.read_timeout) == pytest.approx((16 / 9, 32 / 9), abs=0.5)
