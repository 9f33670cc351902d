"""Fire drill: what the function prints during an incident trips the matching alarm, and only that one.

EMF documents come from one place, the ``make_emf_source`` fixture (tests/cloudwatch/conftest.py):
what the real ``handler.lambda_handler`` prints for each simulated request (see tests/cloudwatch/drill.py).
Each scenario plays 24 healthy hours (which also train the Parameter
Store anomaly band), one more healthy hour, and the incident within that hour; the alarms are then
evaluated, as rendered for deployment, over that hour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contact_sdk.ops.cloudwatch.evaluate import AlarmState, datapoints_from_emf, evaluate_alarms
from contact_sdk.ops.cloudwatch.render import DeploymentParameters, render_alarms
from tests.cloudwatch.drill import EmfSource, SimulatedRequest

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z, on an hour boundary
MINUTE = 60_000
HOUR = 60 * MINUTE

Schedule = list[tuple[int, SimulatedRequest]]


def spread(start: int, count: int, duration: int, request: SimulatedRequest) -> Schedule:
    """``count`` copies of ``request`` evenly over ``duration`` ms from ``start``."""
    return [(start + i * duration // count, request) for i in range(count)]


def healthy_hour(start: int, *, cold_starts: int = 1) -> Schedule:
    """A normal hour: 30 submissions, mostly sent, one invalid, one spam, ``cold_starts`` new environments."""
    schedule: Schedule = []
    for i in range(30):
        request = SimulatedRequest(response_time_ms=250 + (i * 37) % 600, cold_start=i < cold_starts)
        if i == 10:
            request = SimulatedRequest(valid=False, response_time_ms=20)
        elif i == 20:
            request = SimulatedRequest(spam=True, response_time_ms=30)
        schedule.append((start + i * 2 * MINUTE, request))
    return schedule


def healthy_history(hours: int = 24) -> Schedule:
    """The day before the drill: one or two cold starts an hour."""
    schedule: Schedule = []
    for hour in range(hours, 0, -1):
        schedule += healthy_hour(T0 - hour * HOUR, cold_starts=1 + hour % 2)
    return schedule


def play(source: EmfSource, schedule: Schedule) -> list[dict[str, Any]]:
    """Feed every request to the source, stamping its documents with the simulated time."""
    documents = []
    for at, request in sorted(schedule, key=lambda item: item[0]):
        for document in source(request):
            document["_aws"]["Timestamp"] = at
            documents.append(document)
    return documents


INCIDENT_START = T0 + 10 * MINUTE
SCENARIOS: dict[str, tuple[Schedule, set[str]]] = {
    "healthy": ([], set()),
    "provider outage": (
        spread(INCIDENT_START, 20, 5 * MINUTE, SimulatedRequest(provider="down", response_time_ms=1800)),
        {"error-rate", "failed-sends", "circuit-opened", "emails-queued"},
    ),
    "spam wave": (
        spread(INCIDENT_START, 60, 5 * MINUTE, SimulatedRequest(spam=True, response_time_ms=40)),
        {"spam-wave"},
    ),
    "slow provider": (
        spread(INCIDENT_START, 20, 5 * MINUTE, SimulatedRequest(provider="slow", response_time_ms=6000)),
        {"response-time-p95"},
    ),
    "DynamoDB unreachable": (
        spread(INCIDENT_START, 20, 5 * MINUTE, SimulatedRequest(dynamodb="down", response_time_ms=400)),
        {"dependency-degraded"},
    ),
    "cold-start storm": (
        spread(INCIDENT_START, 30, 10 * MINUTE, SimulatedRequest(cold_start=True, response_time_ms=900)),
        {"parameter-access-anomaly"},
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_matching_alarms_go_to_alarm_and_no_other(
    scenario: str, full_params: DeploymentParameters, make_emf_source: Callable[[str], EmfSource]
) -> None:
    """Only the alarms that match the incident enter ALARM; a healthy run leaves them all OK."""
    incident, expected = SCENARIOS[scenario]
    documents = play(make_emf_source(full_params.environment), healthy_history() + healthy_hour(T0) + incident)
    alarms = render_alarms(full_params)
    timelines = evaluate_alarms(alarms, datapoints_from_emf(documents), start_ms=T0, end_ms=T0 + HOUR)
    prefix = f"{full_params.environment}-portfolio-email-"
    fired = {name.removeprefix(prefix) for name, timeline in timelines.items() if timeline.entered(AlarmState.ALARM)}
    assert fired == expected
    assert len(timelines) == len(alarms)
    for timeline in timelines.values():
        assert timeline.states, timeline.alarm_name
        if timeline.alarm_name.removeprefix(prefix) not in expected:
            assert {state for _, state in timeline.states} == {AlarmState.OK}, timeline


def test_the_outage_alarms_recover_once_the_provider_is_back(
    full_params: DeploymentParameters, make_emf_source: Callable[[str], EmfSource]
) -> None:
    """After the outage, healthy traffic brings the error-rate alarm back to OK."""
    incident, _ = SCENARIOS["provider outage"]
    documents = play(make_emf_source(full_params.environment), healthy_hour(T0) + incident)
    (alarm,) = [a for a in render_alarms(full_params) if a["AlarmName"].endswith("error-rate")]
    timelines = evaluate_alarms([alarm], datapoints_from_emf(documents), start_ms=T0, end_ms=T0 + HOUR)
    timeline = timelines[alarm["AlarmName"]]
    assert timeline.entered(AlarmState.ALARM)
    assert timeline.final_state is AlarmState.OK


def test_the_source_emits_what_the_contract_lists(make_emf_source: Callable[[str], EmfSource]) -> None:
    """The documents carry the contract's namespace and Environment dimension; a failed send emits these."""
    source = make_emf_source("prod")
    token_document, document = source(SimulatedRequest(provider="down"))
    assert {m["Name"] for m in token_document["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {"ResponseTime"}
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Portfolio/EmailService"
    assert directive["Dimensions"] == [["Environment"]]
    assert document["Environment"] == "prod"
    assert {m["Name"] for m in directive["Metrics"]} == {
        "BudgetExhausted",
        "EmailsFailed",
        "EmailsQueued",
        "ProviderLatency",
        "ProviderRetries",
        "ResponseTime",
    }
