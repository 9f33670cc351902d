"""The circuit breaker's fleet-wide state: one item in the service's DynamoDB table.

Each Lambda execution environment used to have its own breaker; on a personal site's traffic one
environment rarely saw 5 consecutive failures, so the breaker seldom opened where it would help.
With ``CONTACT_TABLE_NAME`` set, :class:`~contact_sdk.breaker.ProviderBreaker` keeps its state in
one item, ``breaker#<name>`` (``breaker#resend``), and every change is **one conditional write**,
which DynamoDB applies atomically to the item however many environments write at once:

=================  ===============================================================================
``phase``          ``"closed"`` or ``"open"``; half-open is *open whose reset timeout has passed*
``failures``       consecutive transient failures while closed (``ADD failures 1``)
``openedAt``       epoch seconds of the latest opening, and ``resetTimeout`` how long it stays open
``generation``     how many times it opened; the fifth failure's "open" write is conditioned on
                   ``phase = closed AND failures >= 5``, so exactly one environment opens it
``successes``      consecutive successful trials of this opening (half-open)
``leaseToken``     the one trial in flight fleet-wide, and ``leaseUntil`` (epoch seconds) when its
                   lease lapses if its environment died mid-call
``expiresAt``      TTL: 30 days after the last write
=================  ===============================================================================

No item means closed with no failures. The TTL only tidies away a breaker nobody used for a month:
whatever such an item says is still true enough (an opening that old is long past half-open), so
unlike the other items, readers do not check it.

Every method raises :class:`BreakerStoreUnavailable` when DynamoDB cannot be asked (client errors
other than a failed condition, timeouts, connection errors); the breaker then decides alone in
this environment (``docs/guarantees.md``). A failed condition is an answer, not an error: the
methods return ``None`` or ``False``.

Example::

    store = DynamoDBBreakerStore(boto3.client("dynamodb"), "contact-prod")
    state = store.read()
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE
from contact_sdk.errors import ContactSdkError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["BreakerStoreUnavailable", "DynamoDBBreakerStore", "SharedBreakerState"]

#: How long a breaker item outlives its last write (DynamoDB TTL).
ITEM_LIFETIME_SECONDS = 30 * 24 * 3600

CLOSED = "closed"
OPEN = "open"


class BreakerStoreUnavailable(ContactSdkError):  # noqa: N818 - named like the other stores' Unavailable errors
    """DynamoDB could not be asked; the breaker carries on in this environment alone."""


@dataclass(frozen=True, slots=True)
class SharedBreakerState:
    """One reading of the breaker item."""

    phase: str = CLOSED
    failures: int = 0
    opened_at: float = 0.0
    generation: int = 0
    successes: int = 0
    lease_token: str | None = None
    lease_until: float = 0.0
    #: Seconds the opening lasts, as the breaker that opened it was configured (0 if never opened).
    reset_timeout: float = 0.0

    def half_open(self, now: float, reset_timeout: float) -> bool:
        """Open and its reset timeout has passed at ``now`` (epoch seconds)."""
        return self.phase == OPEN and now >= self.opened_at + reset_timeout


def _number(item: dict[str, Any], name: str) -> float:
    value = item.get(name, {}).get("N")
    return float(value) if value is not None else 0.0


def _state_of(item: dict[str, Any] | None) -> SharedBreakerState:
    if not item:
        return SharedBreakerState()
    phase = item.get("phase", {}).get("S", CLOSED)
    token = item.get("leaseToken", {}).get("S")
    return SharedBreakerState(
        phase=OPEN if phase == OPEN else CLOSED,
        failures=int(_number(item, "failures")),
        opened_at=_number(item, "openedAt"),
        generation=int(_number(item, "generation")),
        successes=int(_number(item, "successes")),
        lease_token=token,
        lease_until=_number(item, "leaseUntil"),
        reset_timeout=_number(item, "resetTimeout"),
    )


def _names_in(*expressions: str) -> dict[str, str]:
    """``#name`` placeholders for every attribute the expressions use (some, like ``phase``, may be reserved
    words; DynamoDB refuses a placeholder that is not used)."""
    names = {name for expression in expressions for name in re.findall(r"#(\w+)", expression)}
    return {f"#{name}": TTL_ATTRIBUTE if name == "expires" else name for name in sorted(names)}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(float(value)) if isinstance(value, float) else str(value)}


class DynamoDBBreakerStore:
    """The breaker item ``breaker#<name>`` in the service's table; every change one conditional write.

    ``now`` arguments are epoch seconds from the caller's wall clock (Lambda environments' clocks
    are NTP-synchronised; a few milliseconds of skew move a half-open by as much).
    """

    def __init__(self, client: DynamoDBClient, table_name: str, *, name: str = "resend") -> None:
        self._client = client
        self._table_name = table_name
        self.key = f"breaker#{name}"

    # -- reading ---------------------------------------------------------------------------------

    def read(self) -> SharedBreakerState:
        """The item as it is now (a strongly consistent read)."""
        try:
            response = self._client.get_item(
                TableName=self._table_name, Key={PARTITION_KEY: {"S": self.key}}, ConsistentRead=True
            )
        except ClientError as exc:
            raise self._unavailable("refused the read", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("unreachable", exc) from exc
        return _state_of(response.get("Item"))

    # -- closed ----------------------------------------------------------------------------------

    def add_failure(self, now: float) -> SharedBreakerState | None:
        """Count one consecutive failure while closed; the new state, or ``None`` if it is not closed."""
        return self._update(
            "ADD #failures :one SET #phase = if_not_exists(#phase, :closed), #expires = :expires",
            "attribute_not_exists(#phase) OR #phase = :closed",
            {":one": _n(1), ":closed": {"S": CLOSED}},
            now,
        )

    def clear_failures(self, now: float) -> SharedBreakerState | None:
        """A success while closed: the count starts again. ``None`` if there was nothing to clear."""
        return self._update(
            "SET #failures = :zero, #expires = :expires",
            "#phase = :closed AND #failures > :zero",
            {":zero": _n(0), ":closed": {"S": CLOSED}},
            now,
        )

    def open(self, now: float, *, fail_max: int, reset_timeout: float) -> SharedBreakerState | None:
        """Open it if it is closed with ``fail_max`` failures counted; ``None`` if another write came first."""
        return self._update(
            "SET #phase = :open, #openedAt = :now, #resetTimeout = :reset, #failures = :zero, #successes = :zero, "
            "#expires = :expires, "
            "#generation = if_not_exists(#generation, :zero) + :one REMOVE #leaseToken, #leaseUntil",
            "#phase = :closed AND #failures >= :fail_max",
            {
                ":open": {"S": OPEN},
                ":closed": {"S": CLOSED},
                ":now": _n(now),
                ":zero": _n(0),
                ":one": _n(1),
                ":fail_max": _n(fail_max),
                ":reset": _n(reset_timeout),
            },
            now,
        )

    # -- half-open -------------------------------------------------------------------------------

    def acquire_lease(
        self, now: float, *, generation: int, token: str, reset_timeout: float, lease_seconds: float
    ) -> SharedBreakerState | None:
        """Take the one trial of this opening (``generation``) once its reset timeout has passed and no
        other trial holds an unexpired lease; ``None`` if it cannot be had."""
        return self._update(
            "SET #leaseToken = :token, #leaseUntil = :until, #expires = :expires",
            "#phase = :open AND #generation = :generation AND #openedAt <= :due "
            "AND (attribute_not_exists(#leaseUntil) OR #leaseUntil <= :now)",
            {
                ":token": {"S": token},
                ":until": _n(now + lease_seconds),
                ":open": {"S": OPEN},
                ":generation": _n(generation),
                ":due": _n(now - reset_timeout),
                ":now": _n(now),
            },
            now,
        )

    def trial_succeeded(
        self, now: float, *, generation: int, token: str, successes_before: int, success_threshold: int
    ) -> SharedBreakerState | None:
        """Count the lease holder's successful trial and release the lease; the trial that reaches
        ``success_threshold`` closes the breaker. ``None`` if the lease was lost meanwhile."""
        condition = "#phase = :open AND #generation = :generation AND #leaseToken = :token AND #successes = :before"
        values = {
            ":open": {"S": OPEN},
            ":generation": _n(generation),
            ":token": {"S": token},
            ":before": _n(successes_before),
        }
        if successes_before + 1 >= success_threshold:
            return self._update(
                "SET #phase = :closed, #failures = :zero, #successes = :zero, #expires = :expires "
                "REMOVE #leaseToken, #leaseUntil",
                condition,
                {**values, ":closed": {"S": CLOSED}, ":zero": _n(0)},
                now,
            )
        return self._update(
            "ADD #successes :one SET #expires = :expires REMOVE #leaseToken, #leaseUntil",
            condition,
            {**values, ":one": _n(1)},
            now,
        )

    def trial_failed(
        self, now: float, *, generation: int, token: str, reset_timeout: float
    ) -> SharedBreakerState | None:
        """The lease holder's trial failed: open again for a full reset timeout (a new generation)."""
        return self._update(
            "SET #openedAt = :now, #resetTimeout = :reset, #successes = :zero, #expires = :expires, "
            "#generation = #generation + :one "
            "REMOVE #leaseToken, #leaseUntil",
            "#phase = :open AND #generation = :generation AND #leaseToken = :token",
            {
                ":open": {"S": OPEN},
                ":generation": _n(generation),
                ":token": {"S": token},
                ":now": _n(now),
                ":zero": _n(0),
                ":one": _n(1),
                ":reset": _n(reset_timeout),
            },
            now,
        )

    def release_lease(self, now: float, *, token: str) -> SharedBreakerState | None:
        """The trial ended without a verdict on the provider's health: let the next trial go now."""
        return self._update(
            "SET #expires = :expires REMOVE #leaseToken, #leaseUntil",
            "#leaseToken = :token",
            {":token": {"S": token}},
            now,
        )

    def reset(self, now: float) -> None:
        """Closed with no failures, whatever it was (operators, tests)."""
        item = {PARTITION_KEY: {"S": self.key}, "phase": {"S": CLOSED}, "failures": _n(0)}
        item[TTL_ATTRIBUTE] = _n(int(now) + ITEM_LIFETIME_SECONDS)
        try:
            self._client.put_item(TableName=self._table_name, Item=item)
        except ClientError as exc:
            raise self._unavailable("refused the write", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("unreachable", exc) from exc

    # -- plumbing --------------------------------------------------------------------------------

    def _update(
        self, expression: str, condition: str, values: dict[str, dict[str, str]], now: float
    ) -> SharedBreakerState | None:
        try:
            response = self._client.update_item(
                TableName=self._table_name,
                Key={PARTITION_KEY: {"S": self.key}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=_names_in(expression, condition),
                ExpressionAttributeValues={**values, ":expires": _n(int(now) + ITEM_LIFETIME_SECONDS)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise self._unavailable("refused the write", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("unreachable", exc) from exc
        return _state_of(response.get("Attributes"))

    def _unavailable(self, what: str, exc: Exception) -> BreakerStoreUnavailable:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        return BreakerStoreUnavailable(f"DynamoDB breaker store ({self._table_name}) {what}: {code or 'unknown error'}")
