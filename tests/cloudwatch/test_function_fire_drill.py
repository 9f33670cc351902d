"""Fire drill for the function alarms: what Lambda publishes and logs during a flood or a crash trips them.

The healthy background is the same as test_fire_drill (EMF documents printed by the real handler). The
incident is what AWS itself would publish, written out here: ``AWS/Lambda`` ``Errors``/``Throttles``
datapoints for a function, and the runtime's timeout line in one function's log group, turned into
datapoints by the metric filters of *that* log group only.
"""

from __future__ import annotations

from typing import Any

import pytest

from contact_sdk.ops.cloudwatch.evaluate import (
    AlarmState,
    Datapoint,
    datapoints_from_emf,
    datapoints_from_logs,
    evaluate_alarms,
)
from contact_sdk.ops.cloudwatch.render import DeploymentParameters, render_alarms, render_metric_filters
from tests.cloudwatch.drill import handler_source
from tests.cloudwatch.test_fire_drill import HOUR, INCIDENT_START, MINUTE, T0, healthy_history, healthy_hour, play

API = "prod-contact-form-handler"
CONSUMER = "prod-contact-outbox-consumer"
TIMEOUT_LINE = "2025-01-01T00:12:00.000Z 6f1c1e4e-8a8f-4a57-9d3e-2f0c0b1a9e11 Task timed out after 30.03 seconds"


def lambda_points(function: str, metric: str, count: int) -> list[Datapoint]:
    """``count`` one-per-minute datapoints of value 1 from the incident's start, as AWS/Lambda publishes them."""
    return [
        Datapoint("AWS/Lambda", metric, (("FunctionName", function),), INCIDENT_START + i * MINUTE, 1.0)
        for i in range(count)
    ]


def timeout_in(log_group: str, params: DeploymentParameters) -> list[Datapoint]:
    """The datapoints the filters on ``log_group`` publish for one timeout line written there."""
    filters = [f for f in render_metric_filters(params) if f["logGroupName"] == log_group]
    return datapoints_from_logs([(INCIDENT_START + 2 * MINUTE, TIMEOUT_LINE)], filters)


@pytest.fixture(scope="module")
def background() -> list[Datapoint]:
    """A healthy day and hour of the real handler's metrics (trains the anomaly band; no alarm fires)."""
    return datapoints_from_emf(play(handler_source("prod"), healthy_history() + healthy_hour(T0)))


SCENARIOS: dict[str, tuple[Any, set[str]]] = {
    "API function throttled by a flood": (
        lambda p: lambda_points(API, "Throttles", 3),
        {"api-function-throttles"},
    ),
    "API function crashing": (
        lambda p: lambda_points(API, "Errors", 2),
        {"api-function-errors"},
    ),
    "API function timing out": (
        lambda p: timeout_in(f"/aws/lambda/{API}", p) + lambda_points(API, "Errors", 1),
        {"lambda-timeouts", "api-function-errors"},
    ),
    "consumer timing out": (
        lambda p: timeout_in(f"/aws/lambda/{CONSUMER}", p) + lambda_points(CONSUMER, "Errors", 1),
        {"consumer-timeouts", "consumer-function-errors"},
    ),
    "consumer throttled": (
        lambda p: lambda_points(CONSUMER, "Throttles", 1),
        {"consumer-function-throttles"},
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_only_the_matching_function_alarms_fire(
    scenario: str, full_params: DeploymentParameters, background: list[Datapoint]
) -> None:
    """Each incident trips its alarms and no other, over the hour it happens in."""
    make_incident, expected = SCENARIOS[scenario]
    incident = make_incident(full_params)
    assert incident
    alarms = render_alarms(full_params)
    timelines = evaluate_alarms(alarms, [*background, *incident], start_ms=T0, end_ms=T0 + HOUR)
    prefix = "prod-portfolio-email-"
    fired = {name.removeprefix(prefix) for name, timeline in timelines.items() if timeline.entered(AlarmState.ALARM)}
    assert fired == expected


def test_a_timeout_in_one_log_group_is_not_counted_for_the_other(full_params: DeploymentParameters) -> None:
    """The consumer's filters publish only the consumer's metric, and the API's only the API's."""
    consumer = {point.name for point in timeout_in(f"/aws/lambda/{CONSUMER}", full_params)}
    api = {point.name for point in timeout_in(f"/aws/lambda/{API}", full_params)}
    assert consumer == {f"LambdaTimeouts-{CONSUMER}"}
    assert api == {f"LambdaTimeouts-{API}"}
