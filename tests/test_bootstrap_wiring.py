"""What the service's wiring (contact_sdk.bootstrap) adds to its AWS calls: the log lines an operator reads when a
dependency degrades and recovers, the ``DependencyDegraded`` count, and what it refuses to be handed.

The DynamoDB client is boto3's, pointed at a loopback server that answers every call with a 500 (an outage, not a
closed port), through ``AwsServices.build`` as ``build_components`` builds it. The lines are read as printed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest

from contact_sdk import timings
from contact_sdk.aws import DependencySkipped
from contact_sdk.bootstrap import AwsServices, Components, _BuiltOnFirstDelivery, build_components
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource
from contact_sdk.logs import build_logger
from contact_sdk.metrics import ListSink, MetricsRecorder, recording
from contact_sdk.settings import Settings
from tests.clocks import ManualClock
from tests.conftest import REGION
from tests.log_lines import printed
from tests.scripted_server import ScriptedServer

OUTAGE = (500, {"Content-Type": "application/x-amz-json-1.0"}, b'{"__type": "InternalServerError", "message": "down"}')


@pytest.fixture
def failing_dynamodb() -> Iterator[AwsServices]:
    """The runtime's AWS services, DynamoDB's and SSM's clients handed in and pointed at a server in an outage."""
    with ScriptedServer(lambda *_: OUTAGE) as server:
        clients = {
            name: boto3.client(name, endpoint_url=server.url, region_name=REGION) for name in ("dynamodb", "ssm")
        }
        services = AwsServices.build(clients=clients, call_timeout=2.0)
        yield services
        for service in services.all():
            service.close()


def describe(services: AwsServices) -> None:
    """One DynamoDB call through the bounded client (it fails or is skipped)."""
    services.dynamodb.client().describe_table(TableName="contact")


@pytest.mark.integration
def test_a_failing_dependency_is_logged_skipped_and_counted_once_a_request(failing_dynamodb: AwsServices) -> None:
    """The first failure: a ``dependency degraded`` line (the dashboard's widget reads ``dependency`` and
    ``degraded``) and a line saying the following requests skip it; the next call is skipped and logged, and the
    request counts one ``DependencyDegraded`` for both, and one more for the next dependency that degrades."""
    sink = ListSink()
    recorder = MetricsRecorder(environment="test", sink=sink)
    with printed(build_logger()) as out, recording(recorder), timings.spending():
        with pytest.raises(Exception):  # noqa: B017, PT011 - botocore's error for the 500; what matters is logged
            describe(failing_dynamodb)
        with pytest.raises(DependencySkipped):
            describe(failing_dynamodb)
        with pytest.raises(Exception):  # noqa: B017, PT011 - botocore's error for the 500
            failing_dynamodb.ssm.client().get_parameter(Name="/contact/config")
    recorder.flush()
    degraded = [(line["level"], line["dependency"], line["degraded"]) for line in out.lines("dependency degraded")]
    assert degraded == [
        ("WARNING", "dynamodb", "failed"),
        ("WARNING", "dynamodb", "skipped"),
        ("WARNING", "ssm", "failed"),
    ]
    assert [line["detail"].split(":")[0] for line in out.lines("dependency degraded")] == [
        "DescribeTable",
        "DescribeTable",
        "GetParameter",
    ]
    [skipping] = out.lines("dependency dynamodb: skipped by the following requests for a while")
    assert (skipping["level"], skipping["dependency"]) == ("WARNING", "dynamodb")
    assert sink.totals().get("DependencyDegraded") == 2


@pytest.mark.integration
def test_a_dependency_found_back_is_logged(failing_dynamodb: AwsServices) -> None:
    """Back to healthy (here through the reset a SnapStart restore does): one line says the dependency answers again."""
    with printed(build_logger()) as out:
        with pytest.raises(Exception):  # noqa: B017, PT011 - the outage's error
            describe(failing_dynamodb)
        failing_dynamodb.dynamodb.reset()
    [back] = out.lines("dependency dynamodb: answering again")
    assert (back["level"], back["dependency"]) == ("WARNING", "dynamodb")


def test_a_client_for_a_service_it_does_not_call_is_refused_by_name() -> None:
    """Handing in a client the service never uses is a mistake in the caller's wiring: refused, the names given."""
    with pytest.raises(TypeError) as refused:
        AwsServices.build(clients={"s3": object(), "dynamodb": object(), "lambda": object()})
    assert str(refused.value) == "no AWS service lambda, s3: the service calls dynamodb, sqs and ssm"


def test_a_service_not_handed_a_client_builds_boto3s_own() -> None:
    """Only DynamoDB handed in: SQS and Parameter Store still get boto3 clients of their own, bounded the same way."""
    handed = boto3.client("dynamodb", region_name=REGION)
    services = AwsServices.build(clients={"dynamodb": handed})
    assert services.dynamodb.client() is handed
    assert [
        services.sqs.client().meta.service_model.service_name,
        services.ssm.client().meta.service_model.service_name,
    ] == ["sqs", "ssm"]
    for service in services.all():
        service.close()


@pytest.mark.integration
def test_client_options_point_a_built_client_at_an_emulator_with_the_runtimes_configuration(moto_server: str) -> None:
    """``client_options`` (the local stack's emulator): the client is built here, so it keeps the runtime's one
    attempt and call timeout, talks to the endpoint given with the credentials given, and its calls work."""
    options = {"endpoint_url": moto_server, "region_name": "us-west-2", "aws_access_key_id": "local"}
    options["aws_secret_access_key"] = "local"
    services = AwsServices.build(client_options={"sqs": options}, call_timeout=0.75)
    client = services.sqs.client()
    try:
        assert client.meta.endpoint_url == moto_server
        assert client.meta.region_name == "us-west-2"
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
        assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (0.75, 0.75)
        url = client.create_queue(QueueName="client-options")["QueueUrl"]
        assert url.startswith(moto_server) and "client-options" in url
    finally:
        for service in services.all():
            service.close()


@pytest.mark.parametrize(
    ("clients", "client_options", "message"),
    [
        ({}, {"sns": {}}, "no AWS service sns: the service calls dynamodb, sqs and ssm"),
        (
            {"dynamodb": object(), "sqs": object()},
            {"sqs": {"endpoint_url": "http://127.0.0.1:5000"}, "dynamodb": {}},
            "dynamodb, sqs: a client handed in is used as it is; client_options cannot apply",
        ),
    ],
)
def test_client_options_for_no_service_or_a_handed_in_client_are_refused(
    clients: dict[str, Any], client_options: dict[str, Any], message: str
) -> None:
    """Options for a service the runtime never calls, or for one whose client was handed in (and is used as it is),
    are the caller's wiring mistake: refused by name rather than ignored."""
    with pytest.raises(TypeError) as refused:
        AwsServices.build(clients=clients, client_options=client_options)
    assert str(refused.value) == message


def test_the_call_timeout_given_bounds_every_service() -> None:
    """``CONTACT_AWS_CALL_TIMEOUT_MS`` (in seconds here) replaces each service's own limit; none given keeps them."""
    bounded = AwsServices.build(call_timeout=0.25)
    assert [service.limits.call_timeout for service in bounded.all()] == [0.25, 0.25, 0.25]
    assert [service.name for service in bounded.all()] == ["dynamodb", "sqs", "ssm"]
    own = AwsServices.build()
    assert all(service.limits.call_timeout != 0.25 for service in own.all())


def components_over(dynamodb: Any) -> Components:
    """The service built with a table, DynamoDB's client handed in, everything else in memory."""
    settings = Settings.from_env(
        {},
        config_parameter="/test/resend",
        csrf_secret_parameter="/test/csrf",
        allowed_origins=("https://www.example.com",),
        table_name="contact-test",
    )
    return build_components(
        settings,
        sink=ListSink(),
        aws={"dynamodb": dynamodb},
        parameters=InMemoryParameterSource({}),
        outbox=InMemoryOutbox(),
    )


@pytest.mark.integration
@pytest.mark.parametrize("endpoint", ["outage", "refused"])
def test_dynamodb_time_is_counted_once_failed_calls_included(endpoint: str) -> None:
    """The request's ``dynamodb_ms`` holds a call that failed (answered 500, or no connection at all), once, even
    when two builds share the client (a process that rebuilds its service): a part of the call's time, never more
    than the whole."""
    with ScriptedServer(lambda *_: OUTAGE) as server:
        url = server.url if endpoint == "outage" else "http://127.0.0.1:9"
        client = boto3.client("dynamodb", endpoint_url=url, region_name=REGION)
        built = [components_over(client) for _ in range(2)]
        with timings.spending() as tally:
            started = time.perf_counter()
            with pytest.raises(Exception):  # noqa: B017, PT011 - botocore's error for the 500
                client.describe_table(TableName="contact-test")
            wall_ms = (time.perf_counter() - started) * 1000
        for components in built:
            components.close()
    counted = tally.as_log_fields().get("dynamodb_ms", 0.0)
    assert 0 < counted <= wall_ms


def resend_config(version: int) -> str:
    """A Resend config parameter's JSON at ``version``."""
    return json.dumps(
        {
            "apiKey": "re_wiring_key",
            "domain": "example.com",
            "fromEmail": "no-reply@example.com",
            "toEmail": "owner@example.com",
            "version": version,
            "rotatedAt": "2026-11-01T10:00:00Z",
        }
    )


def test_the_config_ttl_setting_decides_when_parameter_store_is_read_again() -> None:
    """``CONTACT_CONFIG_TTL_SECONDS=60``: a config rotated in Parameter Store is used once 60 s have passed on the
    service's clock, and not a second before (the default would keep the old one for an hour)."""
    clock = ManualClock()
    source = InMemoryParameterSource({"/test/resend": resend_config(1), "/test/csrf": "c" * 48})
    settings = Settings.from_env(
        {},
        config_parameter="/test/resend",
        csrf_secret_parameter="/test/csrf",
        allowed_origins=("https://www.example.com",),
        config_ttl_seconds=60,
    )
    components = build_components(settings, sink=ListSink(), clock=clock, parameters=source, outbox=InMemoryOutbox())
    assert components.intake.config.resend().version == "1"
    source.values["/test/resend"] = resend_config(2)
    clock.advance(59)
    assert components.intake.config.resend().version == "1"
    clock.advance(1)
    assert components.intake.config.resend().version == "2"
    components.close()


def test_the_aws_call_timeout_setting_bounds_each_service_the_service_builds() -> None:
    """``CONTACT_AWS_CALL_TIMEOUT_MS=300`` (milliseconds): every AWS service the service builds waits 0.3 s a call."""
    settings = Settings.from_env(
        {"CONTACT_AWS_CALL_TIMEOUT_MS": "300"},
        config_parameter="/test/resend",
        csrf_secret_parameter="/test/csrf",
        allowed_origins=("https://www.example.com",),
    )
    components = build_components(
        settings, sink=ListSink(), parameters=InMemoryParameterSource({}), outbox=InMemoryOutbox()
    )
    assert {service.name: service.limits.call_timeout for service in components.aws_services} == {
        "dynamodb": 0.3,
        "sqs": 0.3,
        "ssm": 0.3,
    }
    components.close()


def test_the_log_level_setting_is_the_one_read_from_the_functions_environment() -> None:
    """``POWERTOOLS_LOG_LEVEL=DEBUG`` in the environment the service is built from (here a mapping, not the
    process's): the service's logger and the modules' log at DEBUG."""
    names = ("contact-form", "contact_sdk")
    saved = {name: logging.getLogger(name).level for name in names}
    settings = Settings.from_env(
        {"POWERTOOLS_LOG_LEVEL": "DEBUG"},
        config_parameter="/test/resend",
        csrf_secret_parameter="/test/csrf",
        allowed_origins=("https://www.example.com",),
    )
    try:
        components = build_components(
            settings, sink=ListSink(), parameters=InMemoryParameterSource({}), outbox=InMemoryOutbox()
        )
        assert [logging.getLogger(name).getEffectiveLevel() for name in names] == [logging.DEBUG, logging.DEBUG]
        components.close()
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_the_webhook_route_is_built_by_its_first_delivery_once_however_many_arrive_together() -> None:
    """``POST /contact/events`` is built when Resend's first delivery reaches it, not with the service: four
    deliveries arriving at once build it once, and each is answered by it with its own headers (the signature),
    body and request deadline."""
    builds: list[int] = []
    answered: list[tuple[Mapping[str, str], bytes, Any]] = []
    start = threading.Barrier(4)
    deadlines = [object() for _ in range(4)]

    class Route:
        def receive(self, headers: Mapping[str, str], body: bytes, *, deadline: Any = None) -> Any:
            answered.append((headers, body, deadline))
            return f"recorded {body.decode()}"

    def build() -> Route:
        builds.append(1)
        time.sleep(0.05)  # long enough for the other deliveries to arrive while it is being built
        return Route()

    route = _BuiltOnFirstDelivery(build)
    assert builds == []
    results: list[Any] = []

    def deliver(n: int) -> None:
        start.wait()
        results.append(route.receive({"svix-id": f"msg_{n}"}, str(n).encode(), deadline=deadlines[n]))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert builds == [1]
    assert sorted(results) == ["recorded 0", "recorded 1", "recorded 2", "recorded 3"]
    assert sorted(answered, key=lambda seen: seen[1]) == [
        ({"svix-id": f"msg_{n}"}, str(n).encode(), deadlines[n]) for n in range(4)
    ]
