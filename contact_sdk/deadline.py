"""One deadline per request: made when the request arrives, handed to every call it makes.

A :class:`Deadline` is an absolute time on a clock. The API adapter makes one per request, from
receipt: the earlier of ``CONTACT_RESPONSE_BUDGET_MS`` and the Lambda's own deadline (less its
margin); the outbox consumer makes one per batch from its Lambda deadline. Every layer below takes it
as a parameter (``deadline=``) and decides with it: whether an attempt is worth starting
(:meth:`Deadline.allows`), how long a wait may be (:meth:`Deadline.remaining`), and the extra
:data:`QUEUE_ALLOWANCE_SECONDS` the contract grants to keep a submission durably and answer
(:meth:`Deadline.extended`).

Where a call leaves our code for a library that cannot take a deadline (botocore, httpx), the
caller opens a scope, ``with within(deadline): client.put_item(...)``. Inside it, every socket
operation of a bounded transport (:mod:`contact_sdk.transport`, which the AWS clients and the HTTP
clients of the runtime use) has its timeout cut to what is left, so the call ends by the deadline
whatever the other side does, and its connection is closed. Scopes nest and the innermost one is in
force: the layer that opens a scope knows the deadline it means (the request's, or the request's plus
the allowance to queue). This is the shape of Go's ``context.Context`` and of anyio's ``fail_after``
scopes.

Example::

    deadline = Deadline.after(4.0)                 # the response budget, from receipt
    if deadline.allows(0.25):
        with within(deadline):
            dynamodb.put_item(...)                 # connect, send, read: each cut to what is left
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DELIVERY_RESERVE_SECONDS",
    "OUTBOX_RESERVE_SECONDS",
    "QUEUE_ALLOWANCE_SECONDS",
    "Deadline",
    "current",
    "lambda_deadline",
    "within",
]

#: What the contract allows past the response budget "to queue and answer" is 500 ms; keeping the
#: submission durably (the outbox, its record) may use this much of it, the rest is for the answer.
QUEUE_ALLOWANCE_SECONDS = 0.4
#: With an outbox to fall back on, the provider's attempts end this much before the response budget (at most a
#: quarter of what is left when delivery starts), so keeping a submission the provider could not take gets this
#: plus :data:`QUEUE_ALLOWANCE_SECONDS`: a first connection to SQS (its TLS handshake, the client's service
#: model) or a stalled CPU then still ends in ``202 queued``, not ``503``.
OUTBOX_RESERVE_SECONDS = 0.5
#: The checks before a submission is delivered (the secrets, the rate limits and the token's single use, the
#: record's claim, siteverify) end this much before the response budget (at most half of what is left when they
#: begin), so a slow or hanging DynamoDB or siteverify costs the checks their share, never the delivery: the
#: provider's attempts and, failing them, the outbox keep time of their own.
DELIVERY_RESERVE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Deadline:
    """An absolute time (``at``, on ``clock``) by which a request's work must end; ``inf`` for none."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """``seconds`` from now on ``clock``."""
        return cls(clock() + seconds, clock)

    @classmethod
    def never(cls, *, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """No deadline: local tools and tests that bound their calls by the calls' own timeouts."""
        return cls(math.inf, clock)

    @property
    def bounded(self) -> bool:
        """Whether there is a deadline at all."""
        return math.isfinite(self.at)

    def remaining(self) -> float:
        """Seconds left (0 once passed, ``inf`` without a deadline)."""
        return max(0.0, self.at - self.clock()) if self.bounded else math.inf

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.bounded and self.clock() >= self.at

    def allows(self, seconds: float) -> bool:
        """Whether at least ``seconds`` are left: a call that needs them is worth starting."""
        return self.remaining() >= seconds

    def cap(self, seconds: float) -> float:
        """``seconds``, or what is left if that is less: the longest a wait or a timeout may be."""
        return min(seconds, self.remaining())

    def extended(self, seconds: float) -> Deadline:
        """The same deadline ``seconds`` later (the allowance to queue and answer); unchanged without one."""
        return Deadline(self.at + seconds, self.clock) if self.bounded else self

    def sooner(self, seconds: float) -> Deadline:
        """The same deadline ``seconds`` earlier (a share kept back for what comes after); unchanged without one."""
        return Deadline(self.at - seconds, self.clock) if self.bounded else self

    def keeping(self, seconds: float, *, at_most: float) -> Deadline:
        """What a step may use when the steps after it need ``seconds`` of this deadline kept for them.

        The deadline ``seconds`` earlier, or ``at_most`` (a fraction) of what is left earlier if that is less;
        unchanged without one.
        """
        if not self.bounded:
            return self
        return self.sooner(min(seconds, self.remaining() * at_most))

    def earliest(self, seconds: float) -> Deadline:
        """This deadline or ``seconds`` from now, whichever comes first: a call's own timeout under the request's."""
        other = self.clock() + seconds
        return self if self.at <= other else Deadline(other, self.clock)


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("contact_sdk_deadline", default=None)


def current() -> Deadline | None:
    """The deadline of the innermost :func:`within` scope, or ``None`` outside any."""
    return _current.get()


class within:  # noqa: N801 - used as a context manager, reads like a function
    """A scope in which every bounded socket operation ends by ``deadline`` (the innermost scope is in force).

    ``None`` leaves the enclosing scope as it is; an unbounded deadline lifts it. ``as`` gives the deadline in
    force. A class rather than ``@contextmanager``: a request opens about fifteen of these, and a generator-based
    scope costs three times as much to enter and leave.
    """

    __slots__ = ("_deadline", "_token")

    def __init__(self, deadline: Deadline | None) -> None:
        self._deadline = deadline
        self._token: contextvars.Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline | None:
        deadline = self._deadline
        if deadline is None:
            return _current.get()
        self._token = _current.set(deadline if deadline.bounded else None)
        return deadline

    def __exit__(self, *exc_info: object) -> None:
        token, self._token = self._token, None
        if token is not None:
            _current.reset(token)


def lambda_deadline(context: Any, *, margin_ms: float, clock: Callable[[], float]) -> Deadline | None:
    """When the work must stop: the Lambda's remaining time minus ``margin_ms``, on ``clock``.

    ``None`` without a usable Lambda context (local tools, tests): each call's own timeouts and the
    client's retry limits then bound the work.
    """
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        budget_ms = float(remaining()) - margin_ms
    except (TypeError, ValueError):
        return None
    return Deadline.after(max(budget_ms, 0.0) / 1000, clock=clock)
