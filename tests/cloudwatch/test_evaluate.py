"""Tests for contact_sdk.ops.cloudwatch.evaluate: datapoints, statistics, math, missing data, filter patterns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contact_sdk.metrics import ListSink, Metric, MetricsRecorder
from contact_sdk.ops.cloudwatch.evaluate import (
    AlarmState,
    AlarmTimeline,
    Datapoint,
    EvaluationError,
    datapoints_from_emf,
    datapoints_from_logs,
    evaluate_alarm,
    filter_pattern_matches,
)
from contact_sdk.ops.cloudwatch.render import DeploymentParameters, render_alarms, render_metric_filters

T0 = 1_735_689_600_000
MINUTE = 60_000
ENV = (("Environment", "prod"),)

TEXT_TIMEOUT = "2025-01-01T00:03:07.123Z 8f5c2a1e-3b4d-4c6e-9f10-112233445566 Task timed out after 30.03 seconds"
JSON_TIMEOUT = json.dumps(
    {
        "time": "2025-01-01T00:03:07.123Z",
        "type": "platform.report",
        "record": {"requestId": "8f5c2a1e", "metrics": {"durationMs": 30030.0}, "status": "timeout"},
    }
)
JSON_SUCCESS = JSON_TIMEOUT.replace('"timeout"', '"success"')


def simple_alarm(**overrides: Any) -> dict[str, Any]:
    """A single-metric alarm on EmailsFailed Sum > 5 over 5 minutes, with overrides."""
    alarm: dict[str, Any] = {
        "AlarmName": "test",
        "Namespace": "Portfolio/EmailService",
        "MetricName": "EmailsFailed",
        "Dimensions": [{"Name": "Environment", "Value": "prod"}],
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 5,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    alarm.update(overrides)
    return alarm


def failed(at: int, value: float = 1.0) -> Datapoint:
    """One EmailsFailed datapoint at ``at``."""
    return Datapoint("Portfolio/EmailService", "EmailsFailed", ENV, at, value)


def states(timeline: AlarmTimeline) -> list[AlarmState]:
    """Just the states, in order."""
    return [state for _, state in timeline.states]


def test_emf_documents_become_datapoints() -> None:
    """Every value of every metric, with its dimensions and the document's timestamp."""
    sink = ListSink()
    recorder = MetricsRecorder(environment="prod", sink=sink, clock_ms=lambda: T0)
    recorder.count(Metric.EMAILS_SENT)
    recorder.timing(Metric.RESPONSE_TIME, 120)
    recorder.timing(Metric.RESPONSE_TIME, 480)
    recorder.flush()
    points = datapoints_from_emf(sink.documents)
    assert sorted((p.name, p.value) for p in points) == [
        ("EmailsSent", 1.0),
        ("ResponseTime", 120.0),
        ("ResponseTime", 480.0),
    ]
    assert {(p.namespace, p.dimensions, p.timestamp_ms) for p in points} == {("Portfolio/EmailService", ENV, T0)}


def test_a_threshold_breach_over_one_period() -> None:
    """Six failures in one 5-minute period breach "> 5"; five do not."""
    six = [failed(T0 + i * 1000) for i in range(6)]
    assert states(evaluate_alarm(simple_alarm(), six, start_ms=T0, end_ms=T0 + 300_000)) == [AlarmState.ALARM]
    assert states(evaluate_alarm(simple_alarm(), six[:5], start_ms=T0, end_ms=T0 + 300_000)) == [AlarmState.OK]


def test_periods_are_aligned_and_evaluated_at_each_end() -> None:
    """The alarm is judged at every period end; a breach in one period is over in the next."""
    points = [failed(T0 + 310_000, 10)]
    timeline = evaluate_alarm(simple_alarm(), points, start_ms=T0, end_ms=T0 + 900_000)
    assert timeline.states == (
        (T0 + 300_000, AlarmState.OK),
        (T0 + 600_000, AlarmState.ALARM),
        (T0 + 900_000, AlarmState.OK),
    )


@pytest.mark.parametrize(
    ("treat", "expected"),
    [
        ("notBreaching", AlarmState.OK),
        ("breaching", AlarmState.ALARM),
        ("missing", AlarmState.INSUFFICIENT_DATA),
        ("ignore", AlarmState.INSUFFICIENT_DATA),
    ],
)
def test_treat_missing_data(treat: str, expected: AlarmState) -> None:
    """With no datapoints the state follows TreatMissingData (ignore keeps the initial state)."""
    timeline = evaluate_alarm(simple_alarm(TreatMissingData=treat), [], start_ms=T0, end_ms=T0 + 300_000)
    assert timeline.final_state is expected


def test_ignore_keeps_the_last_state() -> None:
    """With TreatMissingData ignore, an alarm stays in ALARM through a silent period."""
    points = [failed(T0, 10)]
    timeline = evaluate_alarm(simple_alarm(TreatMissingData="ignore"), points, start_ms=T0, end_ms=T0 + 600_000)
    assert states(timeline) == [AlarmState.ALARM, AlarmState.ALARM]


def test_m_out_of_n() -> None:
    """DatapointsToAlarm 2 of EvaluationPeriods 3 needs two breaching periods."""
    alarm = simple_alarm(EvaluationPeriods=3, DatapointsToAlarm=2)
    one = [failed(T0, 10)]
    two = [*one, failed(T0 + 600_000, 10)]
    assert not evaluate_alarm(alarm, one, start_ms=T0, end_ms=T0 + 900_000).entered(AlarmState.ALARM)
    assert evaluate_alarm(alarm, two, start_ms=T0, end_ms=T0 + 900_000).final_state is AlarmState.ALARM


def test_percentile_is_nearest_rank() -> None:
    """p95 of 1..100 is 95; one slow request among twenty is the p95."""
    alarm = simple_alarm(MetricName="ResponseTime", ExtendedStatistic="p95", Threshold=94)
    del alarm["Statistic"]
    points = [Datapoint("Portfolio/EmailService", "ResponseTime", ENV, T0 + i, float(i)) for i in range(1, 101)]
    assert evaluate_alarm(alarm, points, start_ms=T0, end_ms=T0 + 300_000).final_state is AlarmState.ALARM
    alarm["Threshold"] = 95
    assert evaluate_alarm(alarm, points, start_ms=T0, end_ms=T0 + 300_000).final_state is AlarmState.OK


def test_metric_math_fills_gaps_and_skips_empty_periods(params: DeploymentParameters) -> None:
    """The error rate is 100 % with failures and no sends (FILL), and absent with no traffic at all."""
    (alarm,) = [a for a in render_alarms(params) if a["AlarmName"].endswith("error-rate")]
    only_failures = [failed(T0)]
    timeline = evaluate_alarm(alarm, only_failures, start_ms=T0, end_ms=T0 + 600_000)
    assert states(timeline) == [AlarmState.ALARM, AlarmState.OK]


def test_division_by_zero_is_no_datapoint() -> None:
    """Metric math that divides by zero yields no datapoint, then TreatMissingData applies."""
    alarm = {
        "AlarmName": "ratio",
        "Metrics": [
            {
                "Id": "f",
                "MetricStat": {
                    "Metric": {"Namespace": "Portfolio/EmailService", "MetricName": "EmailsFailed", "Dimensions": []},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "r", "Expression": "f / (f - f)", "ReturnData": True},
        ],
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "missing",
    }
    points = [Datapoint("Portfolio/EmailService", "EmailsFailed", (), T0, 1.0)]
    assert evaluate_alarm(alarm, points, start_ms=T0, end_ms=T0 + 60_000).final_state is AlarmState.INSUFFICIENT_DATA


def test_unmodelled_math_is_refused() -> None:
    """An expression the model cannot evaluate raises rather than guessing."""
    alarm = {
        "AlarmName": "rate",
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "Metrics": [
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": "Portfolio/EmailService", "MetricName": "EmailsFailed", "Dimensions": []},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "e", "Expression": "RATE(m)", "ReturnData": True},
        ],
    }
    points = [Datapoint("Portfolio/EmailService", "EmailsFailed", (), T0, 1.0)]
    with pytest.raises(EvaluationError, match="RATE"):
        evaluate_alarm(alarm, points, start_ms=T0, end_ms=T0 + 60_000)


def test_an_untrained_band_is_missing_data(params: DeploymentParameters) -> None:
    """Without three earlier periods to learn from, the anomaly alarm cannot breach."""
    (alarm,) = [a for a in render_alarms(params) if a["AlarmName"].endswith("parameter-access-anomaly")]
    points = [Datapoint("Portfolio/EmailService", "ParameterAccess", ENV, T0, 500.0)]
    timeline = evaluate_alarm(alarm, points, start_ms=T0, end_ms=T0 + 3_600_000)
    assert timeline.final_state is AlarmState.OK


@pytest.mark.parametrize(
    ("pattern", "message", "matches"),
    [
        ('"Task timed out after"', TEXT_TIMEOUT, True),
        ('"Task timed out after"', "START RequestId: 8f5c Version: $LATEST", False),
        ("ERROR -debug", "ERROR boom", True),
        ("ERROR -debug", "ERROR debug boom", False),
        ("?timeout ?throttled", "call throttled", True),
        ('{ $.type = "platform.report" && $.record.status = "timeout" }', JSON_TIMEOUT, True),
        ('{ $.type = "platform.report" && $.record.status = "timeout" }', JSON_SUCCESS, False),
        ('{ $.type = "platform.report" && $.record.status = "timeout" }', TEXT_TIMEOUT, False),
        ("{ $.record.metrics.durationMs = 30030 }", JSON_TIMEOUT, True),
        ('{ $.type != "platform.report" }', JSON_TIMEOUT, False),
    ],
)
def test_filter_patterns(pattern: str, message: str, matches: bool) -> None:
    """Term and JSON filter patterns match the way CloudWatch Logs matches them."""
    assert filter_pattern_matches(pattern, message) is matches


def test_an_unmodelled_filter_pattern_is_refused() -> None:
    """Mixing optional and required terms is not guessed at."""
    with pytest.raises(EvaluationError):
        filter_pattern_matches("?a b", "a b")


def test_lambda_timeout_lines_trip_the_timeout_alarm(params: DeploymentParameters) -> None:
    """Drill: the runtime's timeout line, in text or JSON log format, reaches the timeout alarm via the filters."""
    filters = render_metric_filters(params)
    (alarm,) = [a for a in render_alarms(params) if a["AlarmName"].endswith("lambda-timeouts")]
    for line in (TEXT_TIMEOUT, JSON_TIMEOUT):
        events = [(T0 + 1000, "START RequestId: 8f5c Version: $LATEST"), (T0 + 2000, line)]
        points = datapoints_from_logs(events, filters)
        assert len(points) == 1
        timeline = evaluate_alarm(alarm, points, start_ms=T0, end_ms=T0 + 5 * MINUTE)
        assert states(timeline) == [AlarmState.ALARM, AlarmState.OK, AlarmState.OK, AlarmState.OK, AlarmState.OK]
    quiet = datapoints_from_logs([(T0, JSON_SUCCESS)], filters)
    assert evaluate_alarm(alarm, quiet, start_ms=T0, end_ms=T0 + MINUTE).final_state is AlarmState.OK


def test_api_gateway_5xx_drill(params: DeploymentParameters) -> None:
    """Drill: four 5XX responses in five minutes trip the API alarm; three do not."""
    (alarm,) = [a for a in render_alarms(params) if a.get("MetricName") == "5XXError"]
    dimensions = (("ApiName", params.api_name), ("Stage", params.stage))
    points = [Datapoint("AWS/ApiGateway", "5XXError", dimensions, T0 + i * MINUTE, 1.0) for i in range(4)]
    assert evaluate_alarm(alarm, points, start_ms=T0, end_ms=T0 + 5 * MINUTE).final_state is AlarmState.ALARM
    assert evaluate_alarm(alarm, points[:3], start_ms=T0, end_ms=T0 + 5 * MINUTE).final_state is AlarmState.OK


def test_dead_letter_queue_drill(full_params: DeploymentParameters) -> None:
    """Drill: one message in the dead-letter queue trips its alarm; an empty queue is OK."""
    (alarm,) = [a for a in render_alarms(full_params) if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    dimensions = (("QueueName", str(full_params.dead_letter_queue_name)),)
    empty = [Datapoint("AWS/SQS", "ApproximateNumberOfMessagesVisible", dimensions, T0, 0.0)]
    one = [Datapoint("AWS/SQS", "ApproximateNumberOfMessagesVisible", dimensions, T0, 1.0)]
    assert evaluate_alarm(alarm, empty, start_ms=T0, end_ms=T0 + 5 * MINUTE).final_state is AlarmState.OK
    assert evaluate_alarm(alarm, one, start_ms=T0, end_ms=T0 + 5 * MINUTE).final_state is AlarmState.ALARM


def test_outbox_not_draining_drill(full_params: DeploymentParameters) -> None:
    """Drill: the oldest outbox message over an hour old trips its alarm; a draining queue is OK."""
    (alarm,) = [a for a in render_alarms(full_params) if a["AlarmName"] == "prod-portfolio-email-outbox-not-draining"]
    dimensions = (("QueueName", str(full_params.outbox_queue_name)),)
    draining = [Datapoint("AWS/SQS", "ApproximateAgeOfOldestMessage", dimensions, T0, 120.0)]
    stuck = [Datapoint("AWS/SQS", "ApproximateAgeOfOldestMessage", dimensions, T0, 5400.0)]
    assert evaluate_alarm(alarm, draining, start_ms=T0, end_ms=T0 + 5 * MINUTE).final_state is AlarmState.OK
    assert evaluate_alarm(alarm, stuck, start_ms=T0, end_ms=T0 + 5 * MINUTE).final_state is AlarmState.ALARM


def test_bounce_complaint_rate_drill(params: DeploymentParameters) -> None:
    """Drill: 2 bounces and 1 complaint among 20 delivery outcomes in an hour exceed 5 %."""
    (alarm,) = [a for a in render_alarms(params) if a["AlarmName"].endswith("bounce-complaint-rate")]
    sink = ListSink()
    recorder = MetricsRecorder(environment="prod", sink=sink, clock_ms=lambda: T0)
    recorder.count(Metric.EMAILS_DELIVERED, 18)
    recorder.count(Metric.EMAILS_BOUNCED, 2)
    recorder.count(Metric.EMAILS_COMPLAINED, 1)
    recorder.flush()
    timeline = evaluate_alarm(alarm, datapoints_from_emf(sink.documents), start_ms=T0, end_ms=T0 + 3_600_000)
    assert timeline.final_state is AlarmState.ALARM
