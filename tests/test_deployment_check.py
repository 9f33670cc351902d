"""The pre-traffic check of a canary deploy: what a new version proves before traffic, and what the hook reports.

The checks run the real service build, the real parameter parsing and CSRF code, and ask the Resend sandbox on
loopback for ``GET /domains``. The hook is driven with stand-ins for the Lambda and CodeDeploy clients (moto runs
no function code and has no ``PutLifecycleEventHookExecutionStatus``): the Lambda stand-in invokes the real
``handler.lambda_handler`` in this process, as the new version would run it, and returns what boto3 returns.
"""

from __future__ import annotations

import io
import json
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
    is_deployment_check,
    pre_traffic_hook_from_environment,
    run_pre_traffic_hook,
)
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.settings import Settings
from tests.scripted_server import ScriptedServer

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


def test_the_consumer_cannot_be_asked_for_the_csrf_check() -> None:
    """The consumer's role cannot read the CSRF secret: asking it for that check answers why, not a crash."""
    answer = answer_consumer_check(check(["csrf"]), builder({}, PARAMETERS), environ={})
    assert answer["ok"] is False
    assert "cannot run the csrf check" in detail(answer, "event")


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


def test_an_invoke_that_fails_is_still_reported() -> None:
    """The invoke itself raising (throttled, no permission): CodeDeploy still hears Failed, not silence."""

    class Refusing:
        def invoke(self, **_: Any) -> dict[str, Any]:
            raise PermissionError("AccessDeniedException: not authorized to perform lambda:InvokeFunction")

    deploy = RecordingCodeDeploy()
    report = run_pre_traffic_hook(
        LIFECYCLE, target=TARGET, checks=["service"], lambda_client=Refusing(), codedeploy=deploy
    )  # type: ignore[arg-type]
    assert [r["status"] for r in deploy.reports] == ["Failed"]
    assert "AccessDeniedException" in str(report["error"])


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
    with pytest.raises(ValueError, match="CONTACT_CHECK_TARGET must name a version and CONTACT_CHECKS a subset"):
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

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        script = self.scripts["invoke" if path.startswith(self.INVOKE_PATH) else "report"]
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
    aws_stub: Callable[..., AwsStub], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clients' time limits, as docs/deploy.md states them: connect 5 s; the invoke 50 s (a restore, two
    parameters and a question to Resend), inside the hook function's 60 s; each report 10 s."""
    made: dict[str, Any] = {}
    real_client = boto3.client

    def spy(service: str, **kwargs: Any) -> Any:
        made[service] = kwargs["config"]
        return real_client(service, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(boto3, "client", spy)
    aws_stub([PASSED], [HEARD])
    pre_traffic_hook_from_environment(LIFECYCLE, {"CONTACT_CHECK_TARGET": TARGET, "CONTACT_CHECKS": "service"})
    invoke, report = made["lambda"], made["codedeploy"]
    assert (invoke.connect_timeout, invoke.read_timeout, invoke.retries["total_max_attempts"]) == (5, 50, 1)
    assert (report.connect_timeout, report.read_timeout, report.retries["total_max_attempts"]) == (5, 10, 3)
