"""Fault injection: what the sandbox does instead of answering normally, and when.

Two kinds of control, both values here, applied by the server:

* :class:`Faults` — standing settings: added latency, a random failure rate, random timeouts,
  an outage window, and a script of answers consumed one per ``POST /emails``.
* :class:`Step` — one answer: a status (``"500"``, ``"429:daily_quota_exceeded;retry-after=7"``),
  a hang (``"timeout"``, ``"timeout-accept"``), a non-JSON page (``"502-html"``, ``"empty-500"``)
  or a dropped connection (``"reset"``). ``"200"`` means "process normally".

Step grammar (strings)::

    step    := head (";" param)*
    head    := STATUS [":" name] | "timeout" | "timeout-accept" | "reset" | STATUS "-html" | "empty-" STATUS
    param   := "retry-after=" (seconds | HTTP-date) | "seconds=" float | "message=" text

Dict steps say the same with keys: ``status``, ``name``, ``message``, ``retry_after``,
``kind`` (``status``/``timeout``/``timeout-accept``/``html``/``empty``/``reset``) and ``seconds``.

Example::

    faults = parse_faults({"latency_ms": [50, 150], "script": ["500", "429;retry-after=2", "200"]}, now=0.0)
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from random import Random
from typing import Literal, cast

__all__ = [
    "DEFAULT_ERROR_NAMES",
    "FaultSpecError",
    "FaultState",
    "Faults",
    "Step",
    "StepKind",
    "parse_faults",
    "parse_latency",
    "parse_step",
]

StepKind = Literal["status", "timeout", "timeout-accept", "html", "empty", "reset"]
FailureBody = Literal["json", "html", "empty", "reset"]

#: The ``name`` an error step gets when the script does not say one.
DEFAULT_ERROR_NAMES: dict[int, str] = {
    400: "validation_error",
    401: "missing_api_key",
    403: "invalid_api_key",
    404: "not_found",
    405: "method_not_allowed",
    409: "concurrent_idempotent_requests",
    422: "validation_error",
    429: "rate_limit_exceeded",
    451: "security_error",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
_KINDS: tuple[StepKind, ...] = ("status", "timeout", "timeout-accept", "html", "empty", "reset")
_FAILURE_BODIES: tuple[FailureBody, ...] = ("json", "html", "empty", "reset")
_STATUS_HEAD = re.compile(r"^(\d{3})(?::([A-Za-z0-9_.-]+))?$")
_HTML_HEAD = re.compile(r"^(\d{3})-html$")
_EMPTY_HEAD = re.compile(r"^empty-(\d{3})$")


class FaultSpecError(ValueError):
    """A fault setting or script step the sandbox cannot understand; the message says why."""


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted (or randomly drawn) answer to a request."""

    kind: StepKind = "status"
    status: int = 200
    name: str | None = None
    message: str | None = None
    retry_after: str | None = None
    seconds: float | None = None  # hang length; ``None`` means the standing ``timeout_seconds``

    @property
    def passes(self) -> bool:
        """True for ``"200"``: the request is processed normally."""
        return self.kind == "status" and self.status == 200

    def error_name(self) -> str:
        """The ``name`` of the JSON error this step answers."""
        return self.name or DEFAULT_ERROR_NAMES.get(self.status, "application_error")

    def describe(self) -> str:
        """The step in the string grammar (what ``GET /_sandbox/faults`` shows)."""
        if self.kind == "status":
            head = f"{self.status}:{self.name}" if self.name else str(self.status)
        elif self.kind == "html":
            head = f"{self.status}-html"
        elif self.kind == "empty":
            head = f"empty-{self.status}"
        else:
            head = self.kind
        params = [f"retry-after={self.retry_after}"] if self.retry_after else []
        if self.seconds is not None:
            params.append(f"seconds={self.seconds:g}")
        if self.message:
            params.append(f"message={self.message}")
        return ";".join([head, *params])


@dataclass(frozen=True, slots=True)
class Faults:
    """Standing fault settings. The default value injects nothing."""

    latency_ms: tuple[float, float] | None = None
    failure_rate: float = 0.0
    failure_status: int = 500
    failure_name: str = "internal_server_error"
    failure_body: FailureBody = "json"
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    timeout_accept: bool = False
    outage_until: float | None = None
    script: tuple[Step, ...] = field(default=())

    def failure_step(self) -> Step:
        """The answer one random failure gives."""
        if self.failure_body == "json":
            return Step("status", self.failure_status, self.failure_name)
        if self.failure_body == "reset":
            return Step("reset")
        return Step(self.failure_body, self.failure_status)

    def timeout_step(self) -> Step:
        """The answer one random timeout gives."""
        return Step("timeout-accept" if self.timeout_accept else "timeout", seconds=self.timeout_seconds)

    def to_json(self, now: float) -> dict[str, object]:
        """The settings as ``GET /_sandbox/faults`` shows them (``now`` from the sandbox clock)."""
        return {
            "latency_ms": list(self.latency_ms) if self.latency_ms else None,
            "failure_rate": self.failure_rate,
            "failure_status": self.failure_status,
            "failure_name": self.failure_name,
            "failure_body": self.failure_body,
            "timeout_rate": self.timeout_rate,
            "timeout_seconds": self.timeout_seconds,
            "timeout_accept": self.timeout_accept,
            "outage_until": self.outage_until,
            "outage_remaining_seconds": max(0.0, self.outage_until - now) if self.outage_until else 0.0,
            "script": [step.describe() for step in self.script],
        }


def parse_latency(value: object) -> tuple[float, float] | None:
    """``[min, max]``, ``"min-max"`` or one number (ms) as a range; ``None``/``0`` for none."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.split("-")
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            raise FaultSpecError(f"latency_ms: expected 'MIN-MAX' milliseconds, got {value!r}") from None
    elif _is_number(value):
        numbers = [float(cast(float, value))]
    elif isinstance(value, list | tuple) and all(_is_number(item) for item in value):
        numbers = [float(item) for item in value]
    else:
        raise FaultSpecError(f"latency_ms: expected [min, max] milliseconds, got {value!r}")
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) != 2 or not 0 <= numbers[0] <= numbers[1] or not all(map(math.isfinite, numbers)):
        raise FaultSpecError(f"latency_ms: expected 0 <= min <= max, got {value!r}")
    return None if numbers[1] == 0 else (numbers[0], numbers[1])


def parse_step(spec: object) -> Step:
    """One script step from the string grammar or a dict; raises :class:`FaultSpecError`."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        spec = str(spec)
    if isinstance(spec, Mapping):
        return _step_from_dict(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise FaultSpecError(f"script step: expected a string like '500' or an object, got {spec!r}")
    head, *params = (part.strip() for part in spec.strip().split(";"))
    step = _step_from_head(head, spec)
    for param in params:
        key, sep, value = param.partition("=")
        key = key.strip().lower()
        if not sep or not value:
            raise FaultSpecError(f"script step {spec!r}: parameter {param!r} is not key=value")
        if key == "retry-after":
            step = replace(step, retry_after=_retry_after(value, spec))
        elif key == "seconds":
            step = replace(step, seconds=_seconds(value, spec))
        elif key == "message":
            step = replace(step, message=value)
        else:
            raise FaultSpecError(f"script step {spec!r}: unknown parameter {key!r} (retry-after, seconds, message)")
    return _checked(step, spec)


def parse_faults(data: Mapping[str, object], *, now: float, base: Faults | None = None) -> Faults:
    """Apply the keys of ``data`` (the ``POST /_sandbox/faults`` body) on top of ``base``.

    ``outage_seconds`` opens an outage window of that length from ``now`` (0 closes it); every
    other key is a field of :class:`Faults`. Unknown keys and bad values raise :class:`FaultSpecError`.
    """
    faults = base or Faults()
    known = {*Faults.__dataclass_fields__, "outage_seconds"} - {"outage_until"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise FaultSpecError(f"unknown fault setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    changes: dict[str, object] = {}
    for key, value in data.items():
        if key == "latency_ms":
            changes[key] = parse_latency(value)
        elif key in ("failure_rate", "timeout_rate"):
            changes[key] = _rate(key, value)
        elif key == "failure_status":
            changes[key] = _status(value, key)
        elif key == "failure_name":
            if not isinstance(value, str) or not value:
                raise FaultSpecError("failure_name: expected a non-empty string")
            changes[key] = value
        elif key == "failure_body":
            if value not in _FAILURE_BODIES:
                raise FaultSpecError(f"failure_body: expected one of {', '.join(_FAILURE_BODIES)}, got {value!r}")
            changes[key] = value
        elif key == "timeout_seconds":
            changes[key] = _seconds(value, key)
        elif key == "timeout_accept":
            if not isinstance(value, bool):
                raise FaultSpecError("timeout_accept: expected true or false")
            changes[key] = value
        elif key == "outage_seconds":
            seconds = _seconds(value, key)
            changes["outage_until"] = now + seconds if seconds > 0 else None
        elif key == "script":
            if not isinstance(value, list):
                raise FaultSpecError("script: expected a list of steps such as ['500', '500', '200']")
            changes[key] = tuple(parse_step(item) for item in value)
    return replace(faults, **changes)  # type: ignore[arg-type]


def _step_from_head(head: str, spec: str) -> Step:
    word = head.lower()
    if word in ("timeout", "timeout-accept", "reset"):
        return Step(word)  # type: ignore[arg-type]  # checked against the words just above
    if match := _HTML_HEAD.match(word):
        return Step("html", int(match.group(1)))
    if match := _EMPTY_HEAD.match(word):
        return Step("empty", int(match.group(1)))
    if match := _STATUS_HEAD.match(head):
        return Step("status", int(match.group(1)), match.group(2))
    raise FaultSpecError(
        f"script step {spec!r}: expected STATUS[:name], 'timeout', 'timeout-accept', 'reset', "
        "'NNN-html' or 'empty-NNN' (e.g. '503', '429:daily_quota_exceeded;retry-after=7')"
    )


def _step_from_dict(spec: Mapping[object, object]) -> Step:
    allowed = {"kind", "status", "name", "message", "retry_after", "seconds"}
    unknown = sorted(str(key) for key in set(spec) - allowed)
    if unknown:
        raise FaultSpecError(f"script step {dict(spec)!r}: unknown key {unknown[0]!r}; known: {sorted(allowed)}")
    kind = spec.get("kind", "status")
    if kind not in _KINDS:
        raise FaultSpecError(f"script step {dict(spec)!r}: kind must be one of {', '.join(_KINDS)}")
    default_status = 200 if kind == "status" else 500 if kind == "empty" else 502
    status = _status(spec.get("status", default_status), "status")
    for key in ("name", "message"):
        if spec.get(key) is not None and not isinstance(spec.get(key), str):
            raise FaultSpecError(f"script step {dict(spec)!r}: {key} must be a string")
    step = Step(
        kind=kind,
        status=status,
        name=cast("str | None", spec.get("name")),
        message=cast("str | None", spec.get("message")),
        retry_after=_retry_after(spec["retry_after"], spec) if spec.get("retry_after") is not None else None,
        seconds=_seconds(spec["seconds"], "seconds") if spec.get("seconds") is not None else None,
    )
    return _checked(step, spec)


def _checked(step: Step, spec: object) -> Step:
    if step.kind in ("status", "html", "empty") and step.status != 200 and not 400 <= step.status <= 599:
        raise FaultSpecError(f"script step {spec!r}: status must be 200 (process normally) or 400-599")
    if step.kind in ("html", "empty") and step.status == 200:
        raise FaultSpecError(f"script step {spec!r}: a non-JSON page needs an error status (400-599)")
    if step.seconds is not None and step.kind not in ("timeout", "timeout-accept"):
        raise FaultSpecError(f"script step {spec!r}: seconds= only applies to 'timeout' and 'timeout-accept'")
    return step


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _rate(key: str, value: object) -> float:
    if not _is_number(value) or not 0.0 <= float(cast(float, value)) <= 1.0:
        raise FaultSpecError(f"{key}: expected a probability between 0 and 1, got {value!r}")
    return float(cast(float, value))


def _status(value: object, key: str) -> int:
    try:
        status = int(cast(int, value)) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        status = -1
    if not (status == 200 or 400 <= status <= 599):
        raise FaultSpecError(f"{key}: expected an HTTP status 400-599 (or 200), got {value!r}")
    return status


def _seconds(value: object, where: object) -> float:
    try:
        seconds = float(cast(float, value)) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds >= 0):
        raise FaultSpecError(f"{where!r}: expected a number of seconds >= 0, got {value!r}")
    return seconds


def _retry_after(value: object, spec: object) -> str:
    text = str(value).strip()
    if text.isdigit():
        return text
    try:
        parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise FaultSpecError(
            f"script step {spec!r}: retry-after must be whole seconds or an HTTP date, got {value!r}"
        ) from None
    return text


class FaultState:
    """The live fault settings of one sandbox: read and changed from many request threads.

    ``random`` is the source of chance for latency, failures and timeouts (seed it to make a
    run repeatable); the script is consumed one step per ``POST /emails`` or ``/emails/batch``.
    """

    def __init__(self, initial: Faults, random: Random) -> None:
        """Live settings starting from ``initial``."""
        self._lock = threading.Lock()
        self._faults = initial
        self._random = random

    def current(self) -> Faults:
        """The settings now (the script shows only the steps not yet used)."""
        with self._lock:
            return self._faults

    def update(self, data: Mapping[str, object], now: float) -> Faults:
        """Merge ``data`` (the admin endpoint's keys) into the settings; returns the result."""
        with self._lock:
            self._faults = parse_faults(data, now=now, base=self._faults)
            return self._faults

    def clear(self) -> None:
        """Back to no faults at all."""
        with self._lock:
            self._faults = Faults()

    def in_outage(self, now: float) -> bool:
        """True while the outage window is open."""
        until = self.current().outage_until
        return until is not None and now < until

    def draw(self, *, sends: bool) -> Step | None:
        """The fault for one API request, or ``None``: the next script step, else a random one.

        Only requests that send (``sends``) consume script steps; a ``"200"`` step returns
        itself so the caller processes normally without drawing random faults.
        """
        with self._lock:
            faults = self._faults
            if sends and faults.script:
                self._faults = replace(faults, script=faults.script[1:])
                return faults.script[0]
            if faults.timeout_rate and self._random.random() < faults.timeout_rate:
                return faults.timeout_step()
            if faults.failure_rate and self._random.random() < faults.failure_rate:
                return faults.failure_step()
            return None

    def latency_seconds(self) -> float:
        """A latency to add to one request, uniform in ``latency_ms`` (0 when unset)."""
        with self._lock:
            latency = self._faults.latency_ms
            if latency is None:
                return 0.0
            return self._random.uniform(*latency) / 1000.0
