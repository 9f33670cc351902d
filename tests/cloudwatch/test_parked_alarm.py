"""The parked-over-a-day alarm, evaluated over a day and a half of the dead-letter queue's age (issue 21 item 6)."""

from __future__ import annotations

from contact_sdk.ops.cloudwatch.evaluate import AlarmState, Datapoint, evaluate_alarm
from contact_sdk.ops.cloudwatch.render import DeploymentParameters, render_alarms

T0 = 1_796_000_100_000  # ms, a multiple of the 5-minute period
FIVE_MINUTES_MS = 300_000


def test_a_submission_parked_for_more_than_a_day_alarms_until_it_is_redriven(
    full_params: DeploymentParameters,
) -> None:
    """SQS reports the DLQ's oldest message age every 5 min: OK for the first day, ALARM after 86,400 s, OK again
    once the operator redrove it and the queue is empty (no datapoint)."""
    [alarm] = [a for a in render_alarms(full_params) if a["AlarmName"] == "prod-portfolio-email-parked-over-a-day"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "prod-contact-outbox-dlq"}]
    assert alarm["AlarmActions"] == alarm["OKActions"] == [full_params.alarm_topic_arn]
    dimensions = (("QueueName", "prod-contact-outbox-dlq"),)
    parked_for_ms = 30 * 3600 * 1000  # redriven after 30 hours
    points = [
        Datapoint("AWS/SQS", "ApproximateAgeOfOldestMessage", dimensions, T0 + at, at / 1000)
        for at in range(0, parked_for_ms, FIVE_MINUTES_MS)
    ]
    timeline = evaluate_alarm(alarm, points, start_ms=T0, end_ms=T0 + 36 * 3600 * 1000)
    state_at = dict(timeline.states)
    assert state_at[T0 + 24 * 3600 * 1000] == AlarmState.OK  # exactly a day: not yet
    assert state_at[T0 + 24 * 3600 * 1000 + 2 * FIVE_MINUTES_MS] == AlarmState.ALARM
    assert state_at[T0 + 29 * 3600 * 1000] == AlarmState.ALARM
    assert timeline.final_state == AlarmState.OK
    first_alarm = next(at for at, state in timeline.states if state == AlarmState.ALARM)
    assert first_alarm - T0 == 24 * 3600 * 1000 + 2 * FIVE_MINUTES_MS  # the first 5-minute window whose age > a day


def test_another_queue_growing_old_does_not_trip_it(full_params: DeploymentParameters) -> None:
    """The outbox's own age (a provider outage) is the outbox-not-draining alarm's, not this one's."""
    [alarm] = [a for a in render_alarms(full_params) if a["AlarmName"] == "prod-portfolio-email-parked-over-a-day"]
    points = [
        Datapoint("AWS/SQS", "ApproximateAgeOfOldestMessage", (("QueueName", "prod-contact-outbox"),), T0 + at, 2e5)
        for at in range(0, 3600 * 1000, FIVE_MINUTES_MS)
    ]
    timeline = evaluate_alarm(alarm, points, start_ms=T0, end_ms=T0 + 3600 * 1000)
    assert not timeline.entered(AlarmState.ALARM)
