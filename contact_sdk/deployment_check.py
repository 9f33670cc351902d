"""The pre-traffic check of a canary deploy: a new version proves it can work before it gets a request.

CodeDeploy shifts the ``live`` alias to a new version in steps (docs/deploy.md, "Rollout and rollback"). Before
the first step it runs a hook function, :func:`run_pre_traffic_hook`, which invokes the *new version itself*
(its code, its environment variables, its role) with a check event instead of a request::

    CodeDeploy ──► hook function ──invoke {"contactSdkDeploymentCheck": {"checks": [...]}}──► new version
                       │          service  builds its whole service from its environment
                       │          config   reads the Resend config from Parameter Store
                       │          resend   asks GET /domains with the key
                       │          csrf     signs a token, verifies it once, sees it refused twice
                       ◄────────────── {"ok": true|false, "checks": [...]} ◄──────────────┘
                       └─► PutLifecycleEventHookExecutionStatus Succeeded | Failed
                           ─► CodeDeploy shifts traffic, or stops and rolls back

No email is sent, no record is written (the token's nonce is spent in memory), no metric is emitted. A check
that fails names what failed and why, never a secret. The hook always reports a status, even when the invoke
itself fails, so a deployment never waits out CodeDeploy's hour for a hook that crashed.

Resend's ``GET /domains`` answers ``200`` for a full-access key (then the configured domain must be listed and
``verified``) and ``401 restricted_api_key`` for a sending-only key, which proves the key is real without
showing the domains; a refused key, an unknown domain, or Resend unreachable fails the check.

Example::

    # in the function (handler.py): an event that is a check is answered by the check
    if is_deployment_check(event):
        return answer_api_check(event, environment.components)
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

from contact_sdk._version import __version__
from contact_sdk.check_event import CHECK_EVENT_KEY, is_deployment_check
from contact_sdk.config import ParameterCache, ResendConfig, parse_csrf_secret, sender_is_at
from contact_sdk.deadline import Deadline, lambda_deadline, within
from contact_sdk.errors import ContactSdkError
from contact_sdk.security.csrf import CsrfInvalid, CsrfTokens, InMemoryNonceStore
from contact_sdk.security.origin import OriginPolicy
from contact_sdk.settings import Settings
from contact_sdk.transport import ApiClient, DeadlineTransport

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_lambda import LambdaClient

__all__ = [
    "CHECKS",
    "CHECK_EVENT_KEY",
    "CheckResult",
    "StatusReporter",
    "answer_api_check",
    "answer_consumer_check",
    "invoke_read_timeout",
    "is_deployment_check",
    "pre_traffic_hook",
    "pre_traffic_hook_from_environment",
    "report_timeouts",
    "run_checks",
    "run_pre_traffic_hook",
]

logger = logging.getLogger(__name__)

#: Every check, in the order they run; a function asks for the ones its role allows.
CHECKS = ("service", "config", "resend", "csrf")
#: The longest the Resend question may take in all, however Resend answers (the hook waits at most 50 s for the whole
#: check): connect, request and every byte of the answer, not each of them.
RESEND_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict: its name, whether it passed, and what it found (never a secret)."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        """The verdict as the check event's answer lists it."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


class _Components(Protocol):
    """What the check needs of a built service: its Parameter Store cache."""

    @property
    def cache(self) -> ParameterCache: ...


def _requested(event: Mapping[str, Any]) -> tuple[str, ...]:
    body = event.get(CHECK_EVENT_KEY)
    asked = body.get("checks", list(CHECKS)) if isinstance(body, Mapping) else None
    if not isinstance(asked, list) or not asked or not all(isinstance(name, str) and name in CHECKS for name in asked):
        raise ValueError(f"{CHECK_EVENT_KEY}.checks must be a non-empty list of {', '.join(CHECKS)}")
    return tuple(name for name in CHECKS if name in asked)


def answer_api_check(
    event: Mapping[str, Any],
    build: Callable[[], _Components],
    *,
    environ: Mapping[str, str] | None = None,
    http: httpx.Client | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, object]:
    """The API function's answer to a check event: any of :data:`CHECKS`."""
    return _answer(event, build, csrf=_check_csrf, environ=environ, http=http, clock=clock)


def answer_consumer_check(
    event: Mapping[str, Any],
    build: Callable[[], _Components],
    *,
    environ: Mapping[str, str] | None = None,
    http: httpx.Client | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, object]:
    """The outbox consumer's answer: ``service``, ``config``, ``resend`` (its role cannot read the CSRF secret)."""
    return _answer(event, build, csrf=None, environ=environ, http=http, clock=clock)


_CsrfCheck = Callable[[Settings, ParameterCache, Callable[[], float]], CheckResult]


def _answer(
    event: Mapping[str, Any],
    build: Callable[[], _Components],
    *,
    csrf: _CsrfCheck | None,
    environ: Mapping[str, str] | None,
    http: httpx.Client | None,
    clock: Callable[[], float],
) -> dict[str, object]:
    """Run the checks the event asks for in this execution environment and answer ``{"ok", "checks"}``.

    ``build`` returns the service's components (``ExecutionEnvironment.components``): building them is the first
    check. A malformed check event, or one asking for a check this function cannot run, answers ``ok: false``
    with the reason rather than raising.
    """
    try:
        names = _requested(event)
        if "csrf" in names and csrf is None:
            raise ValueError("this function cannot run the csrf check (its role cannot read the CSRF secret)")
    except ValueError as exc:
        return {"ok": False, "checks": [CheckResult("event", ok=False, detail=str(exc)).to_json()]}
    results = run_checks(names, build, csrf=csrf, environ=environ, http=http, clock=clock)
    answer: dict[str, object] = {"ok": all(r.ok for r in results), "checks": [r.to_json() for r in results]}
    logger.info("deployment check", extra={"deployment_check": answer})
    return answer


def run_checks(
    names: Sequence[str],
    build: Callable[[], _Components],
    *,
    csrf: _CsrfCheck | None = None,
    environ: Mapping[str, str] | None = None,
    http: httpx.Client | None = None,
    clock: Callable[[], float] = time.time,
) -> list[CheckResult]:
    """Run ``names`` in order; a check that cannot run because an earlier one failed says so.

    ``csrf`` is the CSRF check, given only where the function may read the secret (the API function).
    """
    results: list[CheckResult] = []
    try:
        settings = Settings.from_env(environ)
        components = build()
    except ContactSdkError as exc:
        return [CheckResult("service", ok=False, detail=f"the service cannot be built: {exc}")]
    if "service" in names:
        results.append(CheckResult("service", ok=True, detail="built from the function's environment"))
    config: ResendConfig | None = None
    if "config" in names or "resend" in names:
        try:
            config = ResendConfig.parse(
                settings.config_parameter, components.cache.get(settings.config_parameter, force=True)
            )
        except ContactSdkError as exc:
            results.append(CheckResult("config", ok=False, detail=str(exc)))
        else:
            results.append(_check_sender(settings.config_parameter, config))
    if "resend" in names:
        if config is None:
            results.append(CheckResult("resend", ok=False, detail="not asked: the Resend config did not load"))
        else:
            results.append(_check_resend(config, settings.resend_api_url, http))
    if "csrf" in names and csrf is not None:
        results.append(csrf(settings, components.cache, clock))
    return results


def _check_sender(parameter: str, config: ResendConfig) -> CheckResult:
    # The operator's `config put` holds fromEmail to the domain; a parameter written another way may not, and then
    # the resend check would vouch for a domain mail is not sent from.
    if not sender_is_at(config.from_email, config.domain):
        detail = (
            f"{parameter}: fromEmail is not an address at {config.domain} "
            "(Resend sends only from a verified domain, and the resend check asks about that one)"
        )
        return CheckResult("config", ok=False, detail=detail)
    return CheckResult("config", ok=True, detail=f"{parameter}: version {config.version}, domain {config.domain}")


def _check_resend(config: ResendConfig, api_url: str, http: httpx.Client | None) -> CheckResult:
    headers = {
        "Authorization": f"Bearer {config.api_key}",
        "User-Agent": f"contact-sdk/{__version__} deployment-check",
        "Accept": "application/json",
    }
    owned = http is None
    # The runtime's own client: its transport ends every socket operation by the deadline, so an answer trickled a
    # byte at a time is cut at RESEND_TIMEOUT_SECONDS (httpx's timeouts alone bound each read, not the whole).
    client = http or ApiClient(transport=DeadlineTransport())
    try:
        with within(Deadline.after(RESEND_TIMEOUT_SECONDS)):
            response = client.get(f"{api_url}/domains", headers=headers, timeout=RESEND_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return CheckResult("resend", ok=False, detail=f"Resend could not be reached at {api_url}: {type(exc).__name__}")
    finally:
        if owned:
            client.close()
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    name = body.get("name") if isinstance(body, dict) else None
    if response.status_code == 401 and name == "restricted_api_key":
        return CheckResult(
            "resend", ok=True, detail="the key is valid and restricted to sending (the domain's status is not visible)"
        )
    if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list):
        said = f"{response.status_code} {name}" if name else str(response.status_code)
        return CheckResult("resend", ok=False, detail=f"Resend answered GET /domains with {said}")
    domains = {
        str(item.get("name", "")).lower(): str(item.get("status", "unknown"))
        for item in body["data"]
        if isinstance(item, dict)
    }
    status = domains.get(config.domain.lower())
    if status is None:
        return CheckResult("resend", ok=False, detail=f"{config.domain} is not a domain of this Resend account")
    if status != "verified":
        return CheckResult("resend", ok=False, detail=f"{config.domain} is {status} in Resend: it cannot send yet")
    return CheckResult("resend", ok=True, detail=f"the key is valid and {config.domain} is verified")


def _check_csrf(settings: Settings, cache: ParameterCache, clock: Callable[[], float]) -> CheckResult:
    try:
        secret, _ = parse_csrf_secret(
            settings.csrf_secret_parameter, cache.get(settings.csrf_secret_parameter, force=True).strip()
        )
        origins = sorted(OriginPolicy(settings.allowed_origins).allowed_origins)
    except ContactSdkError as exc:
        return CheckResult("csrf", ok=False, detail=str(exc))
    if not origins:
        return CheckResult("csrf", ok=False, detail="CONTACT_ALLOWED_ORIGINS is empty: no browser could get a token")
    tokens = CsrfTokens(nonces=InMemoryNonceStore(clock=clock), clock=clock)
    token = tokens.issue(secret, origins[0])
    try:
        tokens.verify_and_consume(secret, origins[0], token)
    except ContactSdkError as exc:
        return CheckResult("csrf", ok=False, detail=f"a token it signed did not verify: {exc}")
    try:
        tokens.verify_and_consume(secret, origins[0], token)
    except CsrfInvalid:
        return CheckResult("csrf", ok=True, detail=f"a token for {origins[0]} signed, verified once, refused twice")
    return CheckResult("csrf", ok=False, detail="a token was accepted twice")


class StatusReporter(Protocol):
    """What the hook needs of CodeDeploy's client: the one call that reports the hook's status."""

    def put_lifecycle_event_hook_execution_status(
        self,
        *,
        deploymentId: str,  # noqa: N803 - boto3's names
        lifecycleEventHookExecutionId: str,  # noqa: N803
        status: Literal["Succeeded", "Failed"],
    ) -> Any:
        """Report ``status`` for this hook execution."""


def run_pre_traffic_hook(
    event: Mapping[str, Any],
    *,
    target: str,
    checks: Sequence[str],
    lambda_client: LambdaClient,
    codedeploy: CodeDeployClient | StatusReporter,
) -> dict[str, object]:
    """CodeDeploy's ``BeforeAllowTraffic`` hook: invoke ``target`` (the new version) with the checks, report.

    Always reports ``Succeeded`` or ``Failed`` to CodeDeploy once the event names a deployment; returns what it
    reported and why. Raises ``ValueError`` only for an event without a deployment id (nothing to report to).
    """
    deployment = event.get("DeploymentId")
    execution = event.get("LifecycleEventHookExecutionId")
    if not isinstance(deployment, str) or not isinstance(execution, str):
        raise ValueError("not a CodeDeploy lifecycle event: DeploymentId and LifecycleEventHookExecutionId missing")
    try:
        answer = _invoke(lambda_client, target, list(checks))
    except Exception as exc:  # noqa: BLE001 - whatever broke, CodeDeploy must hear Failed, not wait an hour
        answer = {"ok": False, "checks": [], "error": f"the check could not run: {type(exc).__name__}: {exc}"}
    status: Literal["Succeeded", "Failed"] = "Succeeded" if answer.get("ok") is True else "Failed"
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment, lifecycleEventHookExecutionId=execution, status=status
    )
    report: dict[str, object] = {"deploymentId": deployment, "target": target, "status": status, **answer}
    logger.info("pre-traffic hook", extra={"pre_traffic_hook": report})
    return report


def _invoke(lambda_client: LambdaClient, target: str, checks: list[str]) -> dict[str, Any]:
    response = lambda_client.invoke(
        FunctionName=target,
        InvocationType="RequestResponse",
        Payload=json.dumps({CHECK_EVENT_KEY: {"checks": checks}}).encode(),
    )
    payload = response["Payload"].read().decode("utf-8", errors="replace")
    if response.get("FunctionError"):
        return {"ok": False, "checks": [], "error": f"the new version failed: {payload[:500]}"}
    answer = json.loads(payload)
    if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
        return {"ok": False, "checks": [], "error": f"the new version did not answer a check: {payload[:200]}"}
    return answer


#: The environment variables of a hook function (set by the CDK stack).
TARGET_VARIABLE = "CONTACT_CHECK_TARGET"
CHECKS_VARIABLE = "CONTACT_CHECKS"

#: Both clients' connect timeout.
CONNECT_TIMEOUT_SECONDS = 5.0
#: The longest the hook waits for the new version's answer (a restore, two parameters and one question to Resend).
INVOKE_READ_TIMEOUT_SECONDS = 50.0
#: The longest one report to CodeDeploy waits for its answer (it gets three tries).
REPORT_READ_TIMEOUT_SECONDS = 10.0
#: The tries of a report, and what botocore's standard retry mode may sleep between them (a throttled try: up to
#: 1 s, then 2 s; 50 and 100 ms otherwise), and a second of slack for the rest of the function.
REPORT_TRIES = 3
REPORT_BACKOFF_SECONDS = 3.0
REPORT_SLACK_SECONDS = 1.0


def invoke_read_timeout(remaining_seconds: float | None) -> float:
    """How long the invoke may wait, so that one whole report still fits in the hook function's time left.

    The invoke's connect and one report's connect and answer are kept back from ``remaining_seconds``; never more
    than :data:`INVOKE_READ_TIMEOUT_SECONDS`, never under one second. ``None`` (no Lambda context) gives the most.
    """
    if remaining_seconds is None:
        return INVOKE_READ_TIMEOUT_SECONDS
    reserve = 2 * CONNECT_TIMEOUT_SECONDS + REPORT_READ_TIMEOUT_SECONDS
    return max(1.0, min(INVOKE_READ_TIMEOUT_SECONDS, remaining_seconds - reserve))


def report_timeouts(left_seconds: float | None) -> tuple[float, float]:
    """``(connect, read)`` for each try of the report to CodeDeploy, made once the invoke is over.

    All :data:`REPORT_TRIES` tries, the backoff between them and a second of slack fit in ``left_seconds`` (the hook
    function's time left then), so CodeDeploy hears a status before the function ends even when its first tries
    hang: at most 5 s and 10 s, at least 0.5 s and 1 s. ``None`` (no Lambda context) gives the most.
    """
    if left_seconds is None:
        return CONNECT_TIMEOUT_SECONDS, REPORT_READ_TIMEOUT_SECONDS
    per_try = (left_seconds - REPORT_BACKOFF_SECONDS - REPORT_SLACK_SECONDS) / REPORT_TRIES
    connect = min(CONNECT_TIMEOUT_SECONDS, max(0.5, per_try / 3))
    return connect, min(REPORT_READ_TIMEOUT_SECONDS, max(1.0, per_try - connect))


class _ReportWhenDone:
    """CodeDeploy's client, made when the status is known: its tries sized to the time left then."""

    def __init__(self, time_left: Callable[[], float | None]) -> None:
        self._time_left = time_left

    def put_lifecycle_event_hook_execution_status(self, **report: Any) -> Any:
        """Make the client, sized to the time left now, and send ``report`` (:class:`StatusReporter`'s arguments)."""
        import boto3  # noqa: PLC0415 - the hook function's own client, as in pre_traffic_hook_from_environment
        from botocore.config import Config  # noqa: PLC0415

        connect, read = report_timeouts(self._time_left())
        config = Config(
            connect_timeout=connect,
            read_timeout=read,
            retries={"mode": "standard", "total_max_attempts": REPORT_TRIES},
        )
        client = boto3.client("codedeploy", config=config)
        try:
            return client.put_lifecycle_event_hook_execution_status(**report)
        finally:
            client.close()


def pre_traffic_hook_from_environment(
    event: Mapping[str, Any], environ: Mapping[str, str], *, remaining_seconds: float | None = None
) -> dict[str, object]:
    """:func:`run_pre_traffic_hook` with its target and checks from the hook function's environment.

    ``CONTACT_CHECK_TARGET`` is the new version's ARN, ``CONTACT_CHECKS`` a comma-separated subset of
    :data:`CHECKS`. The Lambda client invokes once (a second invoke would hide the first one's failure) and waits
    :func:`invoke_read_timeout` for the answer: up to 50 s, less when ``remaining_seconds`` (the hook function's
    time left) would not also hold one report, so CodeDeploy always hears a status. The report's client is made
    when the status is known, its three tries sized by :func:`report_timeouts` to the time left then.
    """
    import boto3  # noqa: PLC0415 - deferred: only the hook function pays for these clients
    from botocore.config import Config  # noqa: PLC0415

    target = environ.get(TARGET_VARIABLE, "").strip()
    checks = [name.strip() for name in environ.get(CHECKS_VARIABLE, ",".join(CHECKS)).split(",") if name.strip()]
    if not target or not checks or any(name not in CHECKS for name in checks):
        raise ValueError(f"{TARGET_VARIABLE} must name a version and {CHECKS_VARIABLE} a subset of {', '.join(CHECKS)}")
    # botocore reads a client's ``max_attempts`` as retries after the first try; ``total_max_attempts`` counts them all.
    invoke_config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=invoke_read_timeout(remaining_seconds),
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    started = time.monotonic()

    def time_left() -> float | None:
        return None if remaining_seconds is None else remaining_seconds - (time.monotonic() - started)

    return run_pre_traffic_hook(
        event,
        target=target,
        checks=checks,
        lambda_client=boto3.client("lambda", config=invoke_config),
        codedeploy=_ReportWhenDone(time_left),
    )


def pre_traffic_hook(event: dict[str, Any], context: Any) -> dict[str, object]:
    """The hook function's Lambda entry point (handler ``contact_sdk.deployment_check.pre_traffic_hook``).

    Its own entry point, not one of ``handler.py``'s: the hook function imports this module only, so it never
    builds (or may reach) the service it checks, and its role holds nothing but what the hook calls.
    """
    ends = lambda_deadline(context, margin_ms=0, clock=time.monotonic)
    seconds = ends.remaining() if ends is not None else None
    return pre_traffic_hook_from_environment(event, os.environ, remaining_seconds=seconds)
