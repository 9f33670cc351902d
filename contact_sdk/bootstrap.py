"""Builds the whole service from :class:`~contact_sdk.settings.Settings`, once per execution environment.

The handler, the local stack and the benchmarks all build through :func:`build_components`, so they run
the same object graph. What the service talks to can be handed in, each behind a protocol of its own: the
clock (:class:`~contact_sdk.clock.Clock`), the AWS clients (boto3's, or anything with the calls the service
makes), where parameters come from (:class:`~contact_sdk.config.ParameterSource`), the outbox
(:class:`~contact_sdk.outbox.Outbox`), the HTTP client for Resend and the metrics sink. Everything else
follows from the settings.

Example::

    components = build_components(Settings.from_env())
    components.api.handle(event, context)
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from contact_sdk import timings
from contact_sdk.admission import Admission, SeparateAdmission, TransactionalAdmission
from contact_sdk.api import ContactApi, EventsEndpoint
from contact_sdk.aws import SERVICE_LIMITS, AwsService
from contact_sdk.breaker import OPEN, ProviderBreaker
from contact_sdk.breaker_store import DynamoDBBreakerStore
from contact_sdk.clock import SYSTEM_CLOCK, Clock
from contact_sdk.config import (
    BatchParameterSource,
    ParameterCache,
    ParameterSource,
    ServiceConfig,
    SsmParameterSource,
)
from contact_sdk.degraded import DependencyGuard, GuardState
from contact_sdk.delivery import Delivery
from contact_sdk.intake import Intake
from contact_sdk.logs import build_logger
from contact_sdk.metrics import Metric, MetricsSink, StdoutSink, record, record_timing
from contact_sdk.outbox import Outbox, SqsOutbox
from contact_sdk.outbox_consumer import OutboxConsumer
from contact_sdk.parking import ParkingLot, SqsParkingLot
from contact_sdk.record import DynamoDBSubmissionRecords, InMemorySubmissionRecords, SubmissionRecords
from contact_sdk.resend import ResendClient, RetryEvent
from contact_sdk.security.csrf import CsrfTokens, DynamoDBNonceStore, InMemoryNonceStore, NonceStore
from contact_sdk.security.fallback import FallbackNonceStore, FallbackRateLimitStore
from contact_sdk.security.origin import OriginPolicy
from contact_sdk.security.ratelimit import DynamoDBRateLimitStore, InMemoryRateLimitStore, RateLimiter, RateLimitStore
from contact_sdk.settings import Settings

if TYPE_CHECKING:
    from contact_sdk.deadline import Deadline
    from contact_sdk.outcome import Outcome
    from contact_sdk.security.turnstile import TurnstileVerifier

__all__ = ["Components", "build_components"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Components:
    """Handles on the parts :func:`build_components` made, for SnapStart hooks and operators."""

    api: ContactApi
    intake: Intake
    delivery: Delivery
    #: Every submission's record (in the table, or in this process without one).
    records: SubmissionRecords
    client: ResendClient
    cache: ParameterCache
    parameter_source: ParameterSource
    outbox: Outbox | None
    consumer: OutboxConsumer
    #: The AWS services the components call (DynamoDB, SQS, Parameter Store); SnapStart resets them on restore.
    aws_services: tuple[AwsService, ...] = ()
    #: The Turnstile verifier when ``CONTACT_TURNSTILE_SECRET_PARAMETER`` is set (its HTTP client is closed with it).
    captcha: TurnstileVerifier | None = None

    def close(self) -> None:
        """Close every connection the components hold: Resend's, Turnstile's and each AWS service's."""
        self.client.close()
        if self.captcha is not None:
            self.captcha.close()
        for service in self.aws_services:
            service.close()


class _BuiltOnFirstDelivery:
    """``POST /contact/events``, built on the first webhook delivery it receives (thread-safe, once).

    Only Resend's servers call the route; no visitor's request needs it, so its modules (the verifier, the event
    store) and its store stay out of a cold start's import and first request (docs/performance.md).
    """

    def __init__(self, build: Callable[[], EventsEndpoint]) -> None:
        self._build = build
        self._route: EventsEndpoint | None = None
        self._lock = threading.Lock()

    def receive(self, headers: Mapping[str, str], body: bytes, *, deadline: Deadline | None = None) -> Outcome:
        """Build the route if this is its first delivery, then let it verify and record this one."""
        route = self._route
        if route is None:
            with self._lock:
                if self._route is None:
                    self._route = self._build()
                route = self._route
        return route.receive(headers, body, deadline=deadline)


def _report_degraded(service: str, how: str, detail: str) -> None:
    """A call to ``service`` was skipped, cut or failed: the log names it; ``DependencyDegraded`` counts the request."""
    logger.warning("dependency degraded", extra={"dependency": service, "degraded": how, "detail": detail})
    if timings.first_degradation(service):
        record(Metric.DEPENDENCY_DEGRADED)


def _on_guard_change(name: str, old: GuardState, new: GuardState) -> None:
    if new == GuardState.SKIPPING:
        logger.warning("dependency %s: skipped by the following requests for a while", name, extra={"dependency": name})
    elif new == GuardState.HEALTHY:
        logger.warning("dependency %s: answering again", name, extra={"dependency": name})


@dataclass(slots=True)
class AwsServices:
    """The AWS services the runtime calls, each bounded by the deadline in force (:mod:`contact_sdk.aws`)."""

    dynamodb: AwsService
    sqs: AwsService
    ssm: AwsService

    @classmethod
    def build(
        cls,
        *,
        clients: Mapping[str, Any] | None = None,
        client_options: Mapping[str, Mapping[str, Any]] | None = None,
        call_timeout: float | None = None,
    ) -> AwsServices:
        """One :class:`AwsService` per service, with its guard; a client handed in is bounded the same way.

        ``client_options`` gives, by service, more keywords for ``boto3.client`` (an emulator's ``endpoint_url``,
        its region and credentials) for a client built here, with the runtime's own configuration.
        """
        handed_in = dict(clients or {})
        options = dict(client_options or {})
        unknown = sorted((set(handed_in) | set(options)) - {"dynamodb", "sqs", "ssm"})
        if unknown:
            raise TypeError(f"no AWS service {', '.join(unknown)}: the service calls dynamodb, sqs and ssm")
        both = sorted(set(handed_in) & set(options))
        if both:
            raise TypeError(f"{', '.join(both)}: a client handed in is used as it is; client_options cannot apply")

        def service(name: str) -> AwsService:
            limits = SERVICE_LIMITS[name]
            if call_timeout is not None:
                limits = dataclasses.replace(limits, call_timeout=call_timeout)
            injected = handed_in.get(name)
            return AwsService(
                name,
                limits=limits,
                guard=DependencyGuard(name, on_change=_on_guard_change),
                on_degraded=_report_degraded,
                client_factory=(lambda config: injected) if injected is not None else None,
                client_options=options.get(name),
            )

        return cls(dynamodb=service("dynamodb"), sqs=service("sqs"), ssm=service("ssm"))

    def all(self) -> tuple[AwsService, ...]:
        """Every service, for SnapStart's restore and for closing."""
        return (self.dynamodb, self.sqs, self.ssm)


def _on_breaker_change(old: str | None, new: str) -> None:
    if new == OPEN:
        record(Metric.CIRCUIT_OPENED)


def _on_retry(event: RetryEvent) -> None:
    record(Metric.PROVIDER_RETRIES)


def _on_attempt(milliseconds: float) -> None:
    record_timing(Metric.PROVIDER_LATENCY, milliseconds)


class _TimedParameterSource:
    """Counts each real Parameter Store fetch against the request's ``parameter_store`` time."""

    def __init__(self, source: ParameterSource) -> None:
        self._source = source

    def fetch(self, name: str) -> str:
        with timings.measuring(timings.PARAMETER_STORE):
            return self._source.fetch(name)


class _TimedBatchParameterSource(_TimedParameterSource):
    """The same, for a source that reads several parameters in one call."""

    def __init__(self, source: BatchParameterSource) -> None:
        super().__init__(source)
        self._batch = source

    def fetch_many(self, names: Sequence[str]) -> dict[str, str]:
        with timings.measuring(timings.PARAMETER_STORE):
            return self._batch.fetch_many(names)


def _time_dynamodb(client: Any) -> None:
    """Count every DynamoDB API call of ``client`` (retries included) against the request's time.

    botocore's ``before-call``/``after-call`` events wrap one operation, so the tally holds what the
    guards and the records waited for, without touching their code. A client without botocore's event
    system (a test double) is left as it is.
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return
    started: dict[int, float] = {}

    def before(context: Any = None, **_: Any) -> None:
        if isinstance(context, dict):
            started[id(context)] = time.perf_counter()

    def after(context: Any = None, **_: Any) -> None:
        begun = started.pop(id(context), None) if isinstance(context, dict) else None
        if begun is not None:
            timings.add(timings.DYNAMODB, (time.perf_counter() - begun) * 1000)

    events.register("before-call.dynamodb", before, unique_id="contact-sdk-timing-before")
    events.register("after-call.dynamodb", after, unique_id="contact-sdk-timing-after")
    events.register("after-call-error.dynamodb", after, unique_id="contact-sdk-timing-error")


def build_components(
    settings: Settings,
    *,
    sink: MetricsSink | None = None,
    clock: Clock = SYSTEM_CLOCK,
    aws: Mapping[str, Any] | None = None,
    aws_client_options: Mapping[str, Mapping[str, Any]] | None = None,
    parameters: ParameterSource | None = None,
    outbox: Outbox | None = None,
    http: httpx.Client | None = None,
) -> Components:
    """Build every collaborator; nothing connects until first used.

    * ``sink``: where the metrics go (EMF lines on standard output by default);
    * ``clock``: one time source and one way to wait for everything that keeps time (the deadlines, the
      retries' waits, the breaker, CSRF expiry and the single use of its tokens, rate-limit windows, the
      fill-time rule, the records, the webhooks' timestamp tolerance); a simulation runs a day in a second
      with its own;
    * ``aws``: boto3 clients to use instead of building them, by service (``dynamodb``, ``sqs``, ``ssm``);
      each is bounded by the request's deadline like a built one, but keeps its own timeouts and retries;
    * ``aws_client_options``: by service, more keywords for ``boto3.client`` (``endpoint_url``, ``region_name``,
      credentials) for the clients built here: an emulator's clients, configured as in Lambda (one attempt,
      the call timeout, no client-side validation);
    * ``parameters``: where Parameter Store's values come from (SSM through the ``ssm`` client by default);
    * ``outbox``: where a submission Resend cannot take now is kept (SQS at ``CONTACT_OUTBOX_QUEUE_URL``);
    * ``http``: the HTTP client for Resend (one with keep-alive and the deadline's transport by default).
    """
    log = build_logger(level=settings.log_level)
    services = AwsServices.build(
        clients=aws,
        client_options=aws_client_options,
        call_timeout=settings.aws_call_timeout_ms / 1000,
    )
    source = parameters or SsmParameterSource(client_factory=services.ssm.client)
    timed: ParameterSource = _TimedParameterSource(source)
    if isinstance(source, BatchParameterSource):
        timed = _TimedBatchParameterSource(source)
    cache = ParameterCache(
        timed,
        ttl_seconds=settings.config_ttl_seconds,
        clock=clock.monotonic,
        on_fetch=lambda name: record(Metric.PARAMETER_ACCESS),
        # A visitor's first token and POST need both: one GetParameters call on the API's cold start, not two.
        read_with={settings.csrf_secret_parameter: (settings.config_parameter,)},
    )
    config = ServiceConfig(
        cache, config_parameter=settings.config_parameter, csrf_secret_parameter=settings.csrf_secret_parameter
    )
    # With the table, the breaker's state is shared by every execution environment (docs/guarantees.md).
    breaker_store = None
    if settings.table_name:
        breaker_store = DynamoDBBreakerStore(services.dynamodb.client(), settings.table_name)
    breaker = ProviderBreaker(
        on_state_change=_on_breaker_change,
        store=breaker_store,
        clock=clock.monotonic,
        wall_clock=clock.time,
    )
    client = ResendClient(
        api_key=lambda: config.resend().api_key,
        base_url=settings.resend_api_url,
        http=http,
        breaker=breaker,
        on_retry=_on_retry,
        on_attempt=_on_attempt,
        sleep=clock.sleep,
        clock=clock.monotonic,
        wall_clock=clock.time,
    )
    rate_store: RateLimitStore
    nonce_store: NonceStore
    records: SubmissionRecords
    shared: tuple[Any, DynamoDBRateLimitStore, DynamoDBNonceStore, DynamoDBSubmissionRecords] | None = None
    if settings.table_name:
        dynamodb_client = services.dynamodb.client()
        _time_dynamodb(dynamodb_client)
        rate_table = DynamoDBRateLimitStore(dynamodb_client, settings.table_name)
        nonce_table = DynamoDBNonceStore(dynamodb_client, settings.table_name, clock=clock.time)
        record_table = DynamoDBSubmissionRecords(
            dynamodb_client, settings.table_name, days=settings.archive_days, spam_days=settings.archive_spam_days
        )
        shared = (dynamodb_client, rate_table, nonce_table, record_table)
        rate_store = FallbackRateLimitStore(rate_table)
        nonce_store = FallbackNonceStore(nonce_table, InMemoryNonceStore(clock=clock.time))
        records = record_table
    else:
        log.warning("CONTACT_TABLE_NAME is not set: rate limits and CSRF single use hold per instance only")
        rate_store = InMemoryRateLimitStore()
        nonce_store = InMemoryNonceStore(clock=clock.time)
        records = InMemorySubmissionRecords(days=settings.archive_days, spam_days=settings.archive_spam_days)
        log.warning(
            "CONTACT_TABLE_NAME is not set: submissions are recorded in this instance only (nothing is kept for "
            "review, and a repeat is recognised only by the instance that saw it first)"
        )
    if outbox is None and settings.outbox_queue_url:
        outbox = SqsOutbox(settings.outbox_queue_url, client_factory=services.sqs.client)
    if outbox is None:
        log.warning(
            "CONTACT_OUTBOX_QUEUE_URL is not set: when the provider is unavailable, submissions are refused "
            "with 503 and Retry-After (and logged at ERROR), not queued"
        )
    origins = OriginPolicy(settings.allowed_origins)
    captcha: TurnstileVerifier | None = None
    if settings.turnstile_secret_parameter:
        # Imported only where Turnstile is configured: most deployments never load it.
        from contact_sdk.security.turnstile import TurnstileVerifier, hostnames_of  # noqa: PLC0415

        turnstile_parameter = settings.turnstile_secret_parameter
        captcha = TurnstileVerifier(
            secret=lambda: cache.get(turnstile_parameter).strip(),
            hostnames=hostnames_of(origins.allowed_origins),
            action=settings.turnstile_action,
            url=settings.turnstile_siteverify_url,
            timeout_seconds=settings.turnstile_timeout_ms / 1000,
            clock=clock.monotonic,
            guard=DependencyGuard("siteverify", on_change=_on_guard_change),
        )
    parking: ParkingLot | None = None
    if settings.parked_queue_url:
        parking = SqsParkingLot(settings.parked_queue_url, client_factory=services.sqs.client)
    if parking is None and outbox is not None:
        log.warning(
            "CONTACT_PARKED_QUEUE_URL is not set: a permanently refused submission stays in the outbox "
            "and reaches its dead-letter queue only after maxReceiveCount receives"
        )
    csrf = CsrfTokens(nonces=nonce_store, clock=clock.time)
    submit_limiter = RateLimiter(
        rate_store,
        scope="submit",
        limit=settings.submit_limit,
        window_seconds=settings.submit_window_seconds,
        ipv6_prefix=settings.rate_limit_ipv6_prefix,
        clock=clock.time,
    )
    separate = SeparateAdmission(submit_limiter, csrf, records)
    admission: Admission = separate
    if shared is not None:
        dynamodb_client, rate_table, nonce_table, record_table = shared
        admission = TransactionalAdmission(
            dynamodb_client,
            limiter=submit_limiter,
            rate_store=rate_table,
            nonces=nonce_table,
            records=record_table,
            fallback=separate,
        )
    intake = Intake(
        config=config,
        origins=origins,
        csrf=csrf,
        token_limiter=RateLimiter(
            rate_store,
            scope="token",
            limit=settings.token_limit,
            window_seconds=settings.token_window_seconds,
            ipv6_prefix=settings.rate_limit_ipv6_prefix,
            clock=clock.time,
        ),
        admission=admission,
        min_fill_seconds=settings.min_fill_seconds,
        captcha=captcha,
        captcha_strict=settings.turnstile_strict,
        clock=clock.time,
        record_metric=record,
    )
    delivery = Delivery(
        config=config,
        client=client,
        records=records,
        outbox=outbox,
        parking=parking,
        clock=clock.time,
        record_metric=record,
    )
    sink = sink or StdoutSink()

    def build_events() -> EventsEndpoint:
        from contact_sdk.webhooks import (  # noqa: PLC0415 - on the first webhook delivery, never a visitor's request
            DynamoDBWebhookStore,
            InMemoryWebhookStore,
            WebhookRoute,
            WebhookStore,
        )

        table = settings.table_name
        store: WebhookStore = (
            DynamoDBWebhookStore(shared[0], table) if shared is not None and table else InMemoryWebhookStore()
        )
        return WebhookRoute(
            config_cache=cache,
            secret_parameter=settings.webhook_secret_parameter,
            store=store,
            record_metric=record,
            clock=clock.time,
        )

    events = _BuiltOnFirstDelivery(build_events)
    consumer = OutboxConsumer(
        delivery,
        environment=settings.environment,
        sink=sink,
        logger=log,
        queue_url=settings.outbox_queue_url,
        sqs_client=services.sqs.client,
        deadline_margin_ms=settings.deadline_margin_ms,
        clock=clock.time,
        deadline_clock=clock.monotonic,
    )
    api = ContactApi(
        intake,
        delivery,
        environment=settings.environment,
        sink=sink,
        logger=log,
        events=events,
        deadline_margin_ms=settings.deadline_margin_ms,
        response_budget_ms=settings.response_budget_ms,
        deadline_clock=clock.monotonic,
    )
    return Components(
        api=api,
        intake=intake,
        delivery=delivery,
        records=records,
        client=client,
        cache=cache,
        parameter_source=source,
        outbox=outbox,
        consumer=consumer,
        aws_services=services.all(),
        captcha=captcha,
    )
