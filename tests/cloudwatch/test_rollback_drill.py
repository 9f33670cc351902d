"""Fire drill for canary deploys: a bad new version trips a rollback alarm of its function inside the canary window.

CodeDeploy, as far as these deploys go, is modelled in :func:`outcome`: a deployment that finds one of its
group's alarms in ALARM when it starts, or sees one enter ALARM while the canary holds 10 % of the traffic, stops
and rolls back; otherwise it completes. The groups' alarms are ``ROLLBACK_ALARMS`` (the synthesized groups are
checked against the same list in tests/infra/test_canary_deploys.py). The traffic is what the real handler prints
(``handler_source``), 90 % from the old version and 10 % from the new one, over a 10-minute canary; what AWS itself
publishes (``AWS/Lambda`` errors, ``AWS/ApiGateway`` 5XX) is written out as datapoints, as in the function drill.
A new version whose environment the service refuses never reaches the canary: the pre-traffic hook fails it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from contact_sdk.deployment_check import answer_api_check, run_pre_traffic_hook
from contact_sdk.devtools.fakes import InMemoryParameterSource
from contact_sdk.metrics import ListSink, Metric, MetricsRecorder
from contact_sdk.ops.cloudwatch.evaluate import AlarmState, Datapoint, datapoints_from_emf, evaluate_alarms
from contact_sdk.ops.cloudwatch.render import (
    ROLLBACK_ALARMS,
    DeploymentParameters,
    render_alarms,
    rollback_alarm_names,
)
from tests.cloudwatch.drill import EmfSource, SimulatedRequest
from tests.cloudwatch.test_fire_drill import MINUTE, T0, Schedule, healthy_history, healthy_hour, play

DEPLOY_AT = T0 + 10 * MINUTE
CANARY_MINUTES = 10  # CodeDeployDefault.LambdaCanary10Percent10Minutes, the stack's default
API = "prod-contact-form-handler"
CONSUMER = "prod-contact-outbox-consumer"


def canary_traffic(new: SimulatedRequest, *, per_minute: int = 20) -> Schedule:
    """``per_minute`` submissions a minute for the canary's 10 minutes: every tenth one served by the new version.

    A busy hour for a contact form: at 10 % of a quiet site's traffic a canary may carry no request at all, and
    then only the pre-traffic check stands between a broken version and the visitors (docs/deploy.md).
    """
    schedule: Schedule = []
    for i in range(CANARY_MINUTES * per_minute):
        request = new if i % 10 == 9 else SimulatedRequest(response_time_ms=250 + (i * 37) % 300)
        schedule.append((DEPLOY_AT + i * MINUTE // per_minute, request))
    return schedule


def slow_requests(count: int, milliseconds: float) -> list[dict[str, Any]]:
    """EMF documents of ``count`` requests the new version served slowly on every route (token and submission).

    The handler's own slowness comes only from the provider, which the response budget cuts at 4 s; a version
    slow everywhere (a heavy import, a blocking call) is written out, two ``ResponseTime`` values a visitor.
    """
    documents = []
    for i in range(count):
        sink = ListSink()
        recorder = MetricsRecorder(environment="prod", sink=sink, clock_ms=lambda i=i: DEPLOY_AT + i * MINUTE // 2)
        recorder.timing(Metric.RESPONSE_TIME, milliseconds)
        recorder.timing(Metric.RESPONSE_TIME, milliseconds)
        recorder.flush()
        documents += sink.documents
    return documents


def lambda_errors(function: str, count: int) -> list[Datapoint]:
    """``count`` AWS/Lambda Errors, one a minute from the deploy, as Lambda publishes them per function."""
    return [
        Datapoint("AWS/Lambda", "Errors", (("FunctionName", function),), DEPLOY_AT + i * MINUTE, 1.0)
        for i in range(count)
    ]


def api_5xx(count: int) -> list[Datapoint]:
    """``count`` API Gateway 5XX answers in the first five minutes of the canary."""
    dimensions = (("ApiName", "prod-portfolio-api"), ("Stage", "prod"))
    return [Datapoint("AWS/ApiGateway", "5XXError", dimensions, DEPLOY_AT + i * MINUTE // 2, 1.0) for i in range(count)]


def degraded_requests(count: int) -> list[dict[str, Any]]:
    """EMF documents of ``count`` requests that skipped an AWS dependency, one every 30 s from the deploy."""
    documents = []
    for i in range(count):
        sink = ListSink()
        recorder = MetricsRecorder(environment="prod", sink=sink, clock_ms=lambda i=i: DEPLOY_AT + i * MINUTE // 2)
        recorder.count(Metric.DEPENDENCY_DEGRADED)
        recorder.flush()
        documents += sink.documents
    return documents


def outcome(timelines: dict[str, Any], group_alarms: list[str], *, start: int, minutes: int) -> str:
    """What CodeDeploy does: ``stopped`` (an alarm in ALARM at the start), ``rolled back`` or ``completed``."""
    for name in group_alarms:
        before = [state for at, state in timelines[name].states if at <= start]
        if before and before[-1] is AlarmState.ALARM:
            return "stopped"
    window = range(start, start + minutes * MINUTE + 1)
    for name in group_alarms:
        if any(at in window and state is AlarmState.ALARM for at, state in timelines[name].states):
            return "rolled back"
    return "completed"


@pytest.fixture(scope="module")
def drill_params() -> DeploymentParameters:
    """The stack's deployment, named as the stack names it."""
    return DeploymentParameters(
        region="eu-west-1",
        function_name=API,
        api_name="prod-portfolio-api",
        stage="prod",
        environment="prod",
        alarm_topic_arn="arn:aws:sns:eu-west-1:123456789012:prod-portfolio-email-alarms",
        outbox_queue_name="prod-contact-outbox",
        dead_letter_queue_name="prod-contact-outbox-dlq",
        consumer_function_name=CONSUMER,
    )


@pytest.fixture(scope="module")
def old_version_history(make_module_source: Callable[[], EmfSource]) -> list[dict[str, Any]]:
    """A healthy day and the hour before the deploy, from the real handler (no alarm fires)."""
    return play(make_module_source(), healthy_history() + healthy_hour(T0))


@pytest.fixture(scope="module")
def make_module_source() -> Callable[[], EmfSource]:
    """A fresh source of what the real handler prints, for this module's drills."""
    from tests.cloudwatch.drill import handler_source

    return lambda: handler_source("prod")


#: Each bad version: what it does to its share of the traffic, what AWS publishes, and who must roll back.
SCENARIOS: dict[
    str, tuple[SimulatedRequest, Callable[[], list[Datapoint]], Callable[[], list[dict[str, Any]]], set[str]]
] = {
    "a healthy new version": (SimulatedRequest(), list, list, set()),
    "the new API version crashes on its share": (SimulatedRequest(), lambda: lambda_errors(API, 3), list, {"api"}),
    "the new API version answers 500 (API Gateway 5XX)": (SimulatedRequest(), lambda: api_5xx(6), list, {"api"}),
    "the new API version is slow on every route": (SimulatedRequest(), list, lambda: slow_requests(20, 7000), {"api"}),
    "the new version cannot send": (
        SimulatedRequest(provider="down", response_time_ms=900),
        list,
        list,
        {"api", "consumer"},
    ),
    "the new version degrades DynamoDB": (SimulatedRequest(), list, lambda: degraded_requests(8), {"api", "consumer"}),
    "the new consumer crashes": (SimulatedRequest(), lambda: lambda_errors(CONSUMER, 2), list, {"consumer"}),
    "a spam wave during the deploy (not the version's fault)": (SimulatedRequest(spam=True), list, list, set()),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_bad_version_is_rolled_back_and_a_good_one_completes(
    scenario: str,
    drill_params: DeploymentParameters,
    old_version_history: list[dict[str, Any]],
    make_module_source: Callable[[], EmfSource],
) -> None:
    """Each function's deployment rolls back exactly when its new version is worse; the others complete."""
    new_version, aws_points, extra_documents, expected = SCENARIOS[scenario]
    canary = play(make_module_source(), canary_traffic(new_version))
    points = datapoints_from_emf([*old_version_history, *canary, *extra_documents()]) + aws_points()
    timelines = evaluate_alarms(render_alarms(drill_params), points, start_ms=T0, end_ms=DEPLOY_AT + 30 * MINUTE)
    rolled_back = {
        function
        for function in ROLLBACK_ALARMS
        if outcome(timelines, rollback_alarm_names(drill_params, function), start=DEPLOY_AT, minutes=CANARY_MINUTES)
        == "rolled back"
    }
    assert rolled_back == expected
    for function in ROLLBACK_ALARMS:
        names = rollback_alarm_names(drill_params, function)
        assert outcome(timelines, names, start=DEPLOY_AT, minutes=CANARY_MINUTES) != "stopped"


def test_a_deploy_into_an_incident_is_stopped_at_once(drill_params: DeploymentParameters) -> None:
    """A rollback alarm already in ALARM when the deployment starts stops it before any traffic moves."""
    error = Datapoint("AWS/Lambda", "Errors", (("FunctionName", API),), DEPLOY_AT - 4 * MINUTE, 1.0)
    timelines = evaluate_alarms(render_alarms(drill_params), [error], start_ms=T0, end_ms=DEPLOY_AT + 30 * MINUTE)
    api, consumer = rollback_alarm_names(drill_params, "api"), rollback_alarm_names(drill_params, "consumer")
    assert outcome(timelines, api, start=DEPLOY_AT, minutes=CANARY_MINUTES) == "stopped"
    assert outcome(timelines, consumer, start=DEPLOY_AT, minutes=CANARY_MINUTES) == "completed"


class _Recorder:
    def __init__(self) -> None:
        self.statuses: list[str] = []

    def put_lifecycle_event_hook_execution_status(self, **kwargs: str) -> dict[str, str]:
        self.statuses.append(kwargs["status"])
        return {}


class _InProcess:
    """Runs the new version's check in this process, answering as boto3's ``invoke`` does."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.environ = environ

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        import io

        from contact_sdk.bootstrap import build_components
        from contact_sdk.settings import Settings

        environ = self.environ
        answer = answer_api_check(
            json.loads(Payload),
            lambda: build_components(Settings.from_env(environ), parameters=InMemoryParameterSource()),
            environ=environ,
        )
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


def test_a_version_the_service_refuses_is_rolled_back_before_any_traffic() -> None:
    """The issue's synth-then-500 case, caught by the hook: Failed, so CodeDeploy never shifts a request to it."""
    deploy = _Recorder()
    version = _InProcess({"CONTACT_ALLOWED_ORIGINS": "https://example.com/contact"})
    event = {"DeploymentId": "d-DRILL", "LifecycleEventHookExecutionId": "drill"}
    report = run_pre_traffic_hook(
        event, target=f"{API}:8", checks=["service"], lambda_client=version, codedeploy=deploy
    )  # type: ignore[arg-type]
    assert deploy.statuses == ["Failed"]
    assert report["ok"] is False
