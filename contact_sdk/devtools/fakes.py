"""Stand-ins for the service's collaborators, with failure switches: for tests and local tools, never the runtime.

The runtime talks to Parameter Store, SQS and the parking queue through protocols
(:class:`~contact_sdk.config.ParameterSource`, :class:`~contact_sdk.outbox.Outbox`,
:class:`~contact_sdk.parking.ParkingLot`); these keep what they are given in memory and raise what the real
one raises when ``fail`` is set. They live with the development tools so that no test seam ships in the
Lambda artifact (``tests/test_layers.py`` keeps the runtime from importing them).

Example::

    parameters = InMemoryParameterSource({"/portfolio/prod/resend/api-key": config_json})
    components = build_components(settings, parameters=parameters, outbox=InMemoryOutbox())
    parameters.fail = True          # Parameter Store is down from now on
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from contact_sdk.errors import ConfigUnavailableError, ConfigurationError
from contact_sdk.outbox import OutboxUnavailable, QueuedEmail
from contact_sdk.parking import ParkingUnavailable

__all__ = ["InMemoryOutbox", "InMemoryParameterSource", "InMemoryParkingLot"]


class InMemoryParameterSource:
    """Parameters held in a dict: tests and local tools. ``fail`` simulates an outage."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(values or {})
        self.fail = False
        self.fetches = 0

    def fetch(self, name: str) -> str:
        """Return the value, or raise like Parameter Store would."""
        self.fetches += 1
        if self.fail:
            raise ConfigUnavailableError(f"parameter {name}: Parameter Store unreachable (simulated)")
        if name not in self.values:
            raise ConfigurationError(f"parameter {name}: not found in Parameter Store")
        return self.values[name]


class InMemoryOutbox:
    """An outbox in a list: tests and the local stack without SQS. ``fail`` simulates an outage."""

    def __init__(self) -> None:
        self.messages: list[QueuedEmail] = []
        #: The delay each kept message was sent with, in the order they came (a list never drained).
        self.delays: list[int] = []
        self.fail = False
        self._lock = threading.Lock()

    def enqueue(self, queued: QueuedEmail, *, delay_seconds: int = 0) -> None:
        """Keep it (at once: the delay is noted, not kept), or raise like an unreachable queue."""
        if self.fail:
            raise OutboxUnavailable("the outbox is unavailable (simulated)")
        with self._lock:
            self.messages.append(queued)
            self.delays.append(delay_seconds)

    def drain(self) -> list[QueuedEmail]:
        """Take every kept message."""
        with self._lock:
            messages, self.messages = self.messages, []
        return messages

    def as_dicts(self) -> list[dict[str, Any]]:
        """Kept messages as plain dicts."""
        with self._lock:
            return [json.loads(m.to_json()) for m in self.messages]


class InMemoryParkingLot:
    """Parked submissions in a list (tests, the local stack). ``fail`` simulates an outage."""

    def __init__(self) -> None:
        self.parked: list[tuple[QueuedEmail, str]] = []
        self.unreadable: list[tuple[str, str]] = []
        self.fail = False
        self._lock = threading.Lock()

    def park(self, queued: QueuedEmail, *, reason: str) -> None:
        """Keep it, or raise like an unreachable queue."""
        if self.fail:
            raise ParkingUnavailable("the parking lot is unavailable (simulated)")
        with self._lock:
            self.parked.append((queued, reason))

    def park_unreadable(self, body: str, *, reason: str) -> None:
        """Keep the raw body, or raise like an unreachable queue."""
        if self.fail:
            raise ParkingUnavailable("the parking lot is unavailable (simulated)")
        with self._lock:
            self.unreadable.append((body, reason))
