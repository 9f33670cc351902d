"""The staging load shape: ramp up, hold the peak, then soak at a lower level; then stop by itself.

Load it beside the scenarios (a shape in its own file, so local runs keep ``--users``/``--run-time``)::

    locust -f loadtests/locustfile.py,loadtests/staging_shape.py --headless \\
        --host https://API_ID.execute-api.eu-west-1.amazonaws.com/staging \\
        --site-origin https://staging.example.com --target-rate-limit 100000 \\
        --peak-users 100 --ramp-seconds 300 --peak-seconds 600 --soak-users 40 --soak-seconds 1800 \\
        --csv reports/staging --html reports/staging.html

============  ==========================  ====================================================
phase         users                       how long
============  ==========================  ====================================================
ramp          1 -> ``--peak-users``       ``--ramp-seconds`` (linear)
peak          ``--peak-users``            ``--peak-seconds``
soak          ``--soak-users``            ``--soak-seconds``
============  ==========================  ====================================================

The whole run lasts ramp + peak + soak seconds (defaults: 5 + 10 + 30 minutes), then the shape
returns ``None`` and Locust stops, so a forgotten run cannot go on.
"""

from __future__ import annotations

import math
from typing import Any

from locust import LoadTestShape
from locust import events as _events

events: Any = _events


def add_shape_options(parser: Any) -> None:
    """The shape's phases."""
    group = parser.add_argument_group("staging load shape")
    group.add_argument("--peak-users", type=int, default=100, help="users at the peak (default 100)")
    group.add_argument("--ramp-seconds", type=int, default=300, help="ramp from 1 to the peak (default 300)")
    group.add_argument("--peak-seconds", type=int, default=600, help="time at the peak (default 600)")
    group.add_argument("--soak-users", type=int, default=40, help="users during the soak (default 40)")
    group.add_argument("--soak-seconds", type=int, default=1800, help="time of the soak (default 1800)")
    group.add_argument("--shape-spawn-rate", type=float, default=5.0, help="users started per second (default 5)")


events.init_command_line_parser.add_listener(add_shape_options)


def users_at(elapsed: float, *, peak: int, ramp: float, hold: float, soak_users: int, soak: float) -> int | None:
    """How many users the shape wants ``elapsed`` seconds into the run; ``None`` once it is over."""
    if elapsed < ramp:
        return max(1, math.ceil(peak * elapsed / ramp))
    if elapsed < ramp + hold:
        return peak
    if elapsed < ramp + hold + soak:
        return soak_users
    return None


class StagingShape(LoadTestShape):
    """Ramp, peak, soak, stop (see the module docstring)."""

    def tick(self) -> tuple[int, float] | None:
        """The user count and spawn rate for now, or ``None`` to stop."""
        options: Any = self.runner.environment.parsed_options if self.runner is not None else None
        shape: Any = self  # Locust's get_run_time is untyped
        users = users_at(
            float(shape.get_run_time()),
            peak=int(getattr(options, "peak_users", 100)),
            ramp=float(getattr(options, "ramp_seconds", 300)),
            hold=float(getattr(options, "peak_seconds", 600)),
            soak_users=int(getattr(options, "soak_users", 40)),
            soak=float(getattr(options, "soak_seconds", 1800)),
        )
        if users is None:
            return None
        return users, float(getattr(options, "shape_spawn_rate", 5.0))
