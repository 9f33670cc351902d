"""``GET /emails/metrics``: account-level counts over the emails the sandbox holds, as Resend's endpoint shapes them.

What the sandbox simulates is counted from each email's fate (``last_event``, see the delivery plan in
:mod:`.webhook_sender`): ``sent`` (accepted and not held back by a schedule), ``delivered`` (delivered, or
complained after delivery), ``bounced`` (all permanent here), ``complained``, ``delivery_delayed`` (an email
still delayed), and ``received`` (inbound email). What it does not simulate (opens, clicks, unsubscribes,
suppressions, failures) is 0. Rates are fractions of their base (``delivery_rate`` = delivered / sent,
``bounce_rate`` = bounced / sent, ``complaint_rate`` = complained / delivered ...), 0 when the base is 0.

Parameters, checked as Resend describes them: ``start_date`` / ``end_date`` (ISO date or date-time; the end
defaults to now, the start to six days before it; a future end is clamped to now), ``timezone`` (IANA),
``granularity`` (hourly, daily, weekly, monthly), ``metrics`` and ``dimensions`` (comma-separated or repeated;
``email`` and ``broadcast`` do not mix), ``domain_id`` / ``email_id`` / ``broadcast_id`` (UUIDs, at most 100).
Anything else malformed is 422 ``validation_error`` (a malformed UUID 422 ``invalid_parameter``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contact_sdk.devtools.sandbox.errors import ApiError
from contact_sdk.devtools.sandbox.exchange import Answer, ApiRequest, json_answer, require_uuid
from contact_sdk.devtools.sandbox.store import Clock, EmailRecord, iso_time

__all__ = ["COUNTS", "METRICS", "RATES", "MetricsRoutes", "compute_metrics"]

COUNTS = (
    "received",
    "delivered",
    "complained",
    "suppressed",
    "bounced",
    "bounced_transient",
    "bounced_permanent",
    "bounced_undetermined",
    "opened",
    "clicked",
    "unsubscribed",
    "delivery_delayed",
    "failed",
    "sent",
    "unique_opened",
    "unique_clicked",
)
#: Each rate: (numerator, denominator).
RATES: dict[str, tuple[str, str]] = {
    "delivery_rate": ("delivered", "sent"),
    "open_rate": ("unique_opened", "delivered"),
    "click_rate": ("unique_clicked", "delivered"),
    "bounce_rate": ("bounced", "sent"),
    "complaint_rate": ("complained", "delivered"),
    "unsubscribe_rate": ("unsubscribed", "delivered"),
}
METRICS = (*COUNTS, *RATES)
DIMENSIONS = ("period", "domain", "email", "broadcast")
GRANULARITIES = ("hourly", "daily", "weekly", "monthly")
_MAX_PERIODS = 10_000
_MAX_IDS = 100


@dataclass(frozen=True, slots=True)
class _Item:
    """One email counted: when, its id, its sending domain, and the counts it adds."""

    at: float
    email_id: str
    domain: str | None
    counts: Mapping[str, int]


def _counts_of(record: EmailRecord) -> dict[str, int]:
    event = record.last_event
    held = event in ("scheduled", "canceled")
    return {
        "sent": 0 if held else 1,
        "delivered": int(event in ("delivered", "complained")),
        "bounced": int(event == "bounced"),
        "bounced_permanent": int(event == "bounced"),
        "complained": int(event == "complained"),
        "delivery_delayed": int(event == "delivery_delayed"),
    }


def _sender_domain(record: EmailRecord) -> str | None:
    sender = str(record.body.get("from", ""))
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rsplit("@", 1)[1].lower() if "@" in address else None


def _list_parameter(request: ApiRequest, name: str, allowed: Sequence[str] | None = None) -> list[str]:
    values = [part.strip() for raw in request.query_lists.get(name, ()) for part in raw.split(",") if part.strip()]
    if allowed is not None:
        unknown = [value for value in values if value not in allowed]
        if unknown:
            raise ApiError(
                422, "validation_error", f"Invalid `{name}`: {unknown[0]!r} is not one of {', '.join(allowed)}."
            )
    return list(dict.fromkeys(values))


def _moment(text: str, name: str, zone: ZoneInfo) -> datetime:
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time(), zone)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422, "validation_error", f"The `{name}` parameter must be an ISO 8601 date or datetime."
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _period(moment: datetime, granularity: str) -> str:
    if granularity == "hourly":
        return moment.strftime("%Y-%m-%dT%H:00:00")
    if granularity == "weekly":
        return (moment.date() - timedelta(days=moment.weekday())).isoformat()
    if granularity == "monthly":
        return moment.strftime("%Y-%m")
    return moment.date().isoformat()


def _with_rates(counts: Mapping[str, int], metrics: Iterable[str]) -> dict[str, float | int]:
    values: dict[str, float | int] = {}
    for metric in metrics:
        if metric in RATES:
            numerator, denominator = RATES[metric]
            base = counts.get(denominator, 0)
            values[metric] = round(counts.get(numerator, 0) / base, 4) if base else 0
        else:
            values[metric] = counts.get(metric, 0)
    return values


def compute_metrics(
    request: ApiRequest,
    *,
    now: float,
    emails: Sequence[EmailRecord],
    received: Sequence[float],
    domain_ids: Mapping[str, str],
) -> dict[str, object]:
    """The ``GetEmailsMetricsResponse`` for ``request`` over ``emails`` (and ``received`` arrival times).

    ``domain_ids`` maps a sending domain's name to its id. Raises :class:`ApiError` for a bad parameter.
    """
    try:
        zone = ZoneInfo(request.query.get("timezone", "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(422, "validation_error", "The `timezone` parameter must be an IANA time zone.") from None
    granularity = request.query.get("granularity", "daily")
    if granularity not in GRANULARITIES:
        raise ApiError(
            422, "validation_error", f"The `granularity` parameter must be one of {', '.join(GRANULARITIES)}."
        )
    now_moment = datetime.fromtimestamp(now, UTC)
    end = (
        min(_moment(request.query["end_date"], "end_date", zone), now_moment)
        if "end_date" in request.query
        else now_moment
    )
    start = (
        _moment(request.query["start_date"], "start_date", zone)
        if "start_date" in request.query
        else end - timedelta(days=6)
    )
    if start > end:
        raise ApiError(422, "validation_error", "`start_date` must be on or before `end_date`.")
    metrics = _list_parameter(request, "metrics", METRICS) or list(METRICS)
    dimensions = _list_parameter(request, "dimensions", DIMENSIONS)
    filters = {
        name: [require_uuid(v) for v in _list_parameter(request, name)]
        for name in ("domain_id", "email_id", "broadcast_id")
    }
    for name, values in filters.items():
        if len(values) > _MAX_IDS:
            raise ApiError(422, "validation_error", f"`{name}` takes at most {_MAX_IDS} ids.")
    if ("email" in dimensions or filters["email_id"]) and ("broadcast" in dimensions or filters["broadcast_id"]):
        raise ApiError(
            422, "validation_error", "The `email` dimension and `email_id` cannot be combined with broadcasts."
        )
    if "period" in dimensions:
        step = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 28 * 86400}[granularity]
        if (end - start).total_seconds() / step > _MAX_PERIODS:
            raise ApiError(422, "validation_error", f"The date range makes more than {_MAX_PERIODS} periods.")

    items = [
        _Item(record.created_at, record.id, _sender_domain(record), _counts_of(record))
        for record in emails
        if start.timestamp() <= record.created_at <= end.timestamp()
    ] + [_Item(at, "", None, {"received": 1}) for at in received if start.timestamp() <= at <= end.timestamp()]
    if filters["broadcast_id"]:
        items = []  # the sandbox sends no broadcasts
    if filters["email_id"]:
        items = [item for item in items if item.email_id in filters["email_id"]]
    if filters["domain_id"]:
        items = [item for item in items if domain_ids.get(item.domain or "") in filters["domain_id"]]

    totals: Counter[str] = Counter()
    for item in items:
        totals.update(item.counts)
    document: dict[str, object] = {
        "object": "metrics",
        "start_date": iso_time(start.timestamp()),
        "end_date": iso_time(end.timestamp()),
        "metrics": metrics,
        "dimensions": dimensions,
        "granularity": granularity,
        "totals": _with_rates(totals, metrics),
    }
    if dimensions:
        document["data"] = _rows(items, dimensions, metrics, granularity=granularity, zone=zone, domain_ids=domain_ids)
    return document


def _rows(
    items: Sequence[_Item],
    dimensions: Sequence[str],
    metrics: Sequence[str],
    *,
    granularity: str,
    zone: ZoneInfo,
    domain_ids: Mapping[str, str],
) -> list[dict[str, object]]:
    if "broadcast" in dimensions:
        return []  # no broadcasts: no row carries a broadcast
    groups: dict[tuple[tuple[str, object], ...], Counter[str]] = defaultdict(Counter)
    key_of: dict[str, Callable[[_Item], list[tuple[str, object]] | None]] = {
        "period": lambda item: [("period", _period(datetime.fromtimestamp(item.at, zone), granularity))],
        "domain": lambda item: (
            [("domain_id", domain_ids[item.domain]), ("domain_name", item.domain)]
            if item.domain is not None and item.domain in domain_ids
            else None
        ),
        "email": lambda item: [("email_id", item.email_id)] if item.email_id else None,
    }
    for item in items:
        key: list[tuple[str, object]] = []
        for dimension in dimensions:
            part = key_of[dimension](item)
            if part is None:
                break
            key += part
        else:
            groups[tuple(key)].update(item.counts)
    return [
        {**dict(key), **_with_rates(counts, metrics)} for key, counts in sorted(groups.items(), key=lambda g: str(g[0]))
    ]


class MetricsRoutes:
    """The metrics endpoint over the sandbox's stores."""

    def __init__(
        self,
        clock: Clock,
        emails: Callable[[], Sequence[EmailRecord]],
        received: Callable[[], Sequence[float]],
        domain_ids: Callable[[], Mapping[str, str]],
    ) -> None:
        """Read the emails, received arrival times and domain ids through the given callables."""
        self._clock = clock
        self._emails = emails
        self._received = received
        self._domain_ids = domain_ids

    def get(self, request: ApiRequest, params: dict[str, str]) -> Answer:
        """``GET /emails/metrics``."""
        document = compute_metrics(
            request,
            now=self._clock(),
            emails=self._emails(),
            received=self._received(),
            domain_ids=self._domain_ids(),
        )
        return json_answer(200, document)
