"""The fire drill's vocabulary: simulated requests, and a stand-in for what the handler prints for each.

A :class:`SimulatedRequest` describes a situation (provider up, down or slow; spam; an invalid
form; a cold start), not metrics, so the same scenarios can later be played against the real
handler. :func:`recorder_source` is the stand-in: it records, through the SDK's own
:class:`~contact_sdk.metrics.MetricsRecorder` and :class:`~contact_sdk.metrics.ListSink`, exactly
the metrics the contract's section 10 says the handler emits for that situation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from contact_sdk.metrics import ListSink, Metric, MetricsRecorder

#: Turns one simulated request into the EMF documents the function printed for it.
EmfSource = Callable[["SimulatedRequest"], list[dict[str, Any]]]

#: Consecutive failed sends after which the breaker opens (the service's breaker setting).
BREAKER_FAILURE_THRESHOLD = 5
#: Retries of a provider call before the attempt sequence is given up.
PROVIDER_RETRIES = 2
#: Parameters fetched on a cold start: the Resend config and the CSRF secret.
PARAMETERS_PER_COLD_START = 2


@dataclass(frozen=True, slots=True)
class SimulatedRequest:
    """One contact-form submission in a drill, described by its situation."""

    provider: Literal["up", "down", "slow"] = "up"
    spam: bool = False
    valid: bool = True
    cold_start: bool = False
    response_time_ms: float = 350.0


def recorder_source(environment: str) -> EmfSource:
    """A stand-in for the handler: per request, the EMF documents the contract says it prints.

    Keeps the little state the real function keeps: the breaker's consecutive failures.
    """
    consecutive_failures = 0
    breaker_open = False

    def documents(request: SimulatedRequest) -> list[dict[str, Any]]:
        nonlocal consecutive_failures, breaker_open
        sink = ListSink()
        recorder = MetricsRecorder(environment=environment, sink=sink, clock_ms=lambda: 0)
        if request.cold_start:
            recorder.count(Metric.PARAMETER_ACCESS, PARAMETERS_PER_COLD_START)
        if not request.valid:
            recorder.count(Metric.VALIDATION_ERRORS)
        elif request.spam:
            recorder.count(Metric.SPAM_BLOCKED)
        elif request.provider == "down":
            if not breaker_open:
                recorder.count(Metric.PROVIDER_RETRIES, PROVIDER_RETRIES)
                consecutive_failures += 1
                if consecutive_failures >= BREAKER_FAILURE_THRESHOLD:
                    breaker_open = True
                    recorder.count(Metric.CIRCUIT_OPENED)
            recorder.count(Metric.EMAILS_FAILED)
            recorder.count(Metric.EMAILS_QUEUED)
        else:
            consecutive_failures = 0
            recorder.count(Metric.EMAILS_SENT)
        recorder.timing(Metric.RESPONSE_TIME, request.response_time_ms)
        recorder.flush()
        return sink.documents

    return documents
