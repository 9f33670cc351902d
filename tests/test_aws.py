"""AWS calls inside the request's deadline: moto on loopback when healthy, scripted loopback servers when not.

What a user would notice: a healthy call works as botocore's own; a call that cannot finish in time is
not started, or is cut at the deadline with its connection closed; a service that just failed is skipped
by the following calls for a while (nothing reaches it), and one probe finds it back; an overloaded answer
is retried once only if the retry fits; every skipped, cut or failed call is reported by name.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from contact_sdk.aws import AwsService, DeadlineReached, DependencySkipped, ServiceLimits
from contact_sdk.deadline import Deadline, within
from contact_sdk.degraded import DependencyGuard, GuardState
from tests.budget.slow_servers import body_server, silent_server, stalled_connect_server
from tests.conftest import REGION
from tests.faults.conftest import closed_port
from tests.scripted_server import ScriptedServer

pytestmark = pytest.mark.integration


class ScriptedDynamoDB(ScriptedServer):
    """A loopback server answering each request with the next (status, JSON body) of its script, then 200 {}.

    With ``set_cookie``, every answer also sets that cookie (as a load balancer in front of an endpoint may);
    ``cookies_sent`` is the ``Cookie`` header of each request (``None``: none).
    """

    def __init__(self, script: list[tuple[int, dict[str, Any]]], *, set_cookie: str | None = None) -> None:
        self.script = list(script)
        self.set_cookie = set_cookie
        super().__init__(self._answer, keep_alive=False)  # the tests here leave their clients open

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        status, document = self.script.pop(0) if self.script else (200, {})
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        if self.set_cookie is not None:
            headers["Set-Cookie"] = self.set_cookie
        return status, headers, json.dumps(document).encode()

    def _headers(self, name: str) -> list[str | None]:
        return [{k.lower(): v for k, v in headers.items()}.get(name) for _, _, headers, _ in self.requests]

    @property
    def received(self) -> list[str]:
        """The ``X-Amz-Target`` (the operation) of each request."""
        return [target or "" for target in self._headers("x-amz-target")]

    @property
    def cookies_sent(self) -> list[str | None]:
        return self._headers("cookie")


@pytest.fixture
def reports() -> list[tuple[str, str, str]]:
    return []


def dynamodb_at(
    url: str, reports: list[tuple[str, str, str]], *, clock: Any = time.monotonic, limits: ServiceLimits | None = None
) -> AwsService:
    """The DynamoDB service as the runtime builds it, pointed at ``url``; ``clock`` is its guard's.

    Deadlines stay on the real clock: the servers here keep real time.
    """

    def factory(config: Any) -> Any:
        return boto3.client("dynamodb", endpoint_url=url, region_name=REGION, config=config)  # type: ignore[call-overload]

    return AwsService(
        "dynamodb",
        limits=limits,
        guard=DependencyGuard("dynamodb", clock=clock),
        on_degraded=lambda *report: reports.append(report),
        client_factory=factory,
    )


@pytest.fixture
def scripted() -> Iterator[Any]:
    with ExitStack() as servers:

        def make(*script: tuple[int, dict[str, Any]], set_cookie: str | None = None) -> ScriptedDynamoDB:
            return servers.enter_context(ScriptedDynamoDB(list(script), set_cookie=set_cookie))

        yield make


def test_a_healthy_service_answers_as_botocore_would(aws: str, reports: list[tuple[str, str, str]]) -> None:
    """moto behind the bounded client: items written and read, a failed condition is the usual ClientError,
    and nothing is reported degraded."""
    service = dynamodb_at(aws, reports)
    client = service.client()
    client.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with within(Deadline.after(2.0)):
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        assert client.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}
        with pytest.raises(ClientError) as refused:
            client.put_item(TableName="t", Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert reports == []
    assert service.guard is not None and service.guard.state == GuardState.HEALTHY


def test_requests_are_checked_by_the_service_not_by_botocore(
    scripted: Any, reports: list[tuple[str, str, str]]
) -> None:
    """botocore's client-side parameter check is off (the largest CPU cost under load): a request it would
    refuse (``Limit=0``; the model's minimum is 1) reaches the service, whose refusal is the usual ClientError."""
    server = scripted((400, {"__type": "com.amazon.coral.validate#ValidationException", "message": "Limit: 0 < 1"}))
    service = dynamodb_at(server.url, reports)
    with pytest.raises(ClientError) as refused, within(Deadline.after(2.0)):
        service.client().scan(TableName="t", Limit=0)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert server.received == ["DynamoDB_20120810.Scan"]


def test_too_little_time_left_and_nothing_is_sent(scripted: Any, reports: list[tuple[str, str, str]]) -> None:
    """30 ms left, 50 ms needed: DeadlineReached at once, the server never sees the call, the guard unmoved."""
    server = scripted()
    service = dynamodb_at(server.url, reports)
    expected = r"^dynamodb: only 30 ms left of the request's deadline; the call was not started$"
    with pytest.raises(DeadlineReached, match=expected), within(Deadline(100.03, lambda: 100.0)):
        service.client().get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert server.received == []
    assert reports == [("dynamodb", "cut", "GetItem: not started, 30 ms left")]
    assert service.guard is not None and service.guard.state == GuardState.HEALTHY


def test_a_slow_service_is_cut_then_skipped_then_found_back_by_one_probe(reports: list[tuple[str, str, str]]) -> None:
    """A body trickled a byte every 0.3 s: cut at the 0.5 s call timeout (connection closed), then skipped with
    nothing sent; 5 s later (on the guard's clock) one probe goes and a healthy answer ends the skipping."""
    clock = [1000.0]
    hung_up: list[float] = []
    with body_server(byte_every=0.3, hung_up=hung_up) as slow:
        service = dynamodb_at(
            slow, reports, clock=lambda: clock[0], limits=ServiceLimits(call_timeout=0.5, min_call_seconds=0.05)
        )
        client = service.client()
        started = time.monotonic()
        with pytest.raises(BotoCoreError, match="Read timeout"):
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
        assert time.monotonic() - started < 0.5 + 0.75
        for _ in range(50):
            if hung_up:
                break
            time.sleep(0.02)
        assert hung_up, "the cut call's connection was left open"
        with pytest.raises(DependencySkipped):
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert [how for _, how, _ in reports] == ["failed", "skipped"]
    assert service.guard is not None and service.guard.state == GuardState.SKIPPING


def test_a_probe_cut_by_the_requests_deadline_is_not_the_services_failure(
    reports: list[tuple[str, str, str]],
) -> None:
    """A service that never answers. A call with its own 2 s is cut at the call timeout and blamed: the next call
    is skipped. Once the skip is over, a probe in a request with 0.1 s left is cut by the request, not by the
    service's slowness (well under the 1.5 s that says "slow"): reported as cut, in milliseconds, and the next
    request probes again instead of skipping for longer."""
    clock = [1000.0]
    get = {"TableName": "t", "Key": {"pk": {"S": "a"}}}
    limits = ServiceLimits(call_timeout=2.0, min_call_seconds=0.05, slow_after=1.5)
    with body_server(byte_every=None) as hanging:
        service = dynamodb_at(hanging, reports, clock=lambda: clock[0], limits=limits)
        client = service.client()
        with pytest.raises(BotoCoreError, match="Read timeout"):
            client.get_item(**get)
        with pytest.raises(DependencySkipped, match=r"^dynamodb is skipped for now \(it failed or overran"):
            client.get_item(**get)
        clock[0] += 5.0  # the first skip is over: the next call is a probe
        for _ in range(2):
            with within(Deadline.after(0.1)), pytest.raises(BotoCoreError, match="Read timeout"):
                client.get_item(**get)
    assert [how for _, how, _ in reports] == ["failed", "skipped", "cut", "cut"]
    assert reports[1][2] == "GetItem: skipped for 5.0 s more"
    waits = [re.fullmatch(r"cut after (\d+) ms \(ReadTimeoutError\)", detail) for _, how, detail in reports]
    failed_ms, cut_ms = int(waits[0].group(1)), [int(w.group(1)) for w in waits[2:]]  # type: ignore[union-attr]
    assert failed_ms >= 2000 and all(50 <= ms < 1500 for ms in cut_ms)
    assert service.guard is not None and service.guard.state == GuardState.SKIPPING  # the probe's turn handed on


def test_a_refused_connection_is_a_failure_named_by_its_error(reports: list[tuple[str, str, str]]) -> None:
    """Nothing listening on the port: the call fails at once with botocore's connection error, reported as the
    service's failure under that error's name, and the next call is skipped."""
    service = dynamodb_at(f"http://127.0.0.1:{closed_port()}", reports)
    client = service.client()
    with within(Deadline.after(2.0)):
        with pytest.raises(BotoCoreError, match="Could not connect"):
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
        with pytest.raises(DependencySkipped):
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert [(name, how) for name, how, _ in reports] == [("dynamodb", "failed"), ("dynamodb", "skipped")]
    assert reports[0][2] == "EndpointConnectionError"


def test_a_refusal_of_the_request_itself_is_an_answer_not_an_outage(
    scripted: Any, reports: list[tuple[str, str, str]]
) -> None:
    """A 400 that is not throttling (a ValidationException) is the service answering in time: no retry, nothing
    reported, and as a probe it ends the skipping."""
    clock = [0.0]
    validation = (400, {"__type": "com.amazon.coral.validate#ValidationException", "message": "bad key"})
    server = scripted((500, {"__type": "InternalServerError"}), (500, {"__type": "InternalServerError"}), validation)
    service = dynamodb_at(server.url, reports, clock=lambda: clock[0])
    client = service.client()
    with within(Deadline.after(2.0)):
        with pytest.raises(ClientError):
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
        clock[0] = 5.0
        with pytest.raises(ClientError) as refused:
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert len(server.received) == 3  # the 500, its one retry, and the probe: the 400 was not sent again
    assert [how for _, how, _ in reports] == ["failed"]
    assert service.guard is not None and service.guard.state == GuardState.HEALTHY


def test_a_probe_without_time_to_start_hands_its_turn_to_the_next_call(
    scripted: Any, reports: list[tuple[str, str, str]]
) -> None:
    """The skip is over, but the request that would probe has 30 ms left: nothing is sent and the probe's turn
    passes on, so the next request (with time) probes at once and finds the service back."""
    clock = [0.0]
    server = scripted((500, {"__type": "InternalServerError"}), (500, {"__type": "InternalServerError"}))
    service = dynamodb_at(server.url, reports, clock=lambda: clock[0])
    client = service.client()
    with pytest.raises(ClientError), within(Deadline.after(2.0)):
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    clock[0] = 5.0
    with pytest.raises(DeadlineReached), within(Deadline(100.03, lambda: 100.0)):
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert len(server.received) == 2
    with within(Deadline.after(2.0)):
        assert client.get_item(TableName="t", Key={"pk": {"S": "a"}}) is not None
    assert len(server.received) == 3
    assert [how for _, how, _ in reports] == ["failed", "cut"]
    assert service.guard is not None and service.guard.state == GuardState.HEALTHY


def test_a_probe_after_the_skip_finds_a_recovered_service(scripted: Any, reports: list[tuple[str, str, str]]) -> None:
    """Failed once (a 500 twice: the one retry too); skipped; after 5 s the probe gets an answer: healthy again."""
    clock = [0.0]
    server = scripted((500, {"__type": "InternalServerError"}), (500, {"__type": "InternalServerError"}))
    service = dynamodb_at(server.url, reports, clock=lambda: clock[0])
    client = service.client()
    with pytest.raises(ClientError):
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert len(server.received) == 2  # the first answer and the one retry that fitted
    with pytest.raises(DependencySkipped):
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    clock[0] = 5.0
    assert client.get_item(TableName="t", Key={"pk": {"S": "a"}}) is not None
    assert len(server.received) == 3
    assert service.guard is not None and service.guard.state == GuardState.HEALTHY
    assert [how for _, how, _ in reports] == ["failed", "skipped"]


def test_a_cookie_an_endpoint_sets_is_never_sent_back(scripted: Any, reports: list[tuple[str, str, str]]) -> None:
    """AWS authenticates each call by its signature: a cookie set by whatever answers for the endpoint is not
    carried into the calls that follow (they may be for other visitors)."""
    server = scripted(set_cookie="AWSALB=instance-7; Path=/")
    service = dynamodb_at(server.url, reports)
    with within(Deadline.after(2.0)):
        service.client().get_item(TableName="t", Key={"pk": {"S": "a"}})
        service.client().get_item(TableName="t", Key={"pk": {"S": "b"}})
    assert server.received == ["DynamoDB_20120810.GetItem"] * 2
    assert server.cookies_sent == [None, None]


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"), (429, "ThrottlingException")],
)
def test_throttling_is_retried_once_if_the_retry_fits(
    scripted: Any, reports: list[tuple[str, str, str]], status: int, code: str
) -> None:
    """One throttling answer (DynamoDB's 400, or a 429 from SQS or Parameter Store's front) and then an answer:
    the call succeeds, the service is not degraded."""
    server = scripted((status, {"__type": code}))
    service = dynamodb_at(server.url, reports)
    with within(Deadline.after(2.0)):
        service.client().get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert len(server.received) == 2
    assert reports == []


def test_throttled_again_on_the_retry_is_the_services_failure(
    scripted: Any, reports: list[tuple[str, str, str]]
) -> None:
    """Throttled twice (the one retry too): the throttling error reaches the caller, the service is reported
    overloaded by the answer's status, and the next call skips it."""
    throttled = (400, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"})
    server = scripted(throttled, throttled)
    service = dynamodb_at(server.url, reports)
    client = service.client()
    with within(Deadline.after(2.0)):
        with pytest.raises(ClientError) as refused:
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
        with pytest.raises(DependencySkipped):
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert refused.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(server.received) == 2
    assert reports[0] == ("dynamodb", "failed", "GetItem: answered 400, overloaded")
    assert [how for _, how, _ in reports] == ["failed", "skipped"]


def test_no_retry_when_it_would_not_fit(scripted: Any, reports: list[tuple[str, str, str]]) -> None:
    """An overloaded answer with 60 ms left: no retry (it needs the pause and a call's minimum), a failure."""
    clock = [0.0]
    server = scripted((503, {"__type": "ServiceUnavailable"}))
    service = dynamodb_at(server.url, reports, clock=lambda: clock[0])
    with pytest.raises(ClientError), within(Deadline(0.06, lambda: clock[0])):
        service.client().get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert len(server.received) == 1
    assert reports == [("dynamodb", "failed", "GetItem: answered 503, overloaded")]


def test_the_outbox_queue_is_never_skipped(scripted: Any, reports: list[tuple[str, str, str]]) -> None:
    """SQS keeps the last durable copy: after a failed enqueue the next one is still sent, never skipped."""
    server = scripted(*([(500, {"__type": "InternalError"})] * 4))

    def factory(config: Any) -> Any:
        return boto3.client("sqs", endpoint_url=server.url, region_name=REGION, config=config)  # type: ignore[call-overload]

    service = AwsService(
        "sqs", guard=DependencyGuard("sqs"), on_degraded=lambda *r: reports.append(r), client_factory=factory
    )
    for _ in range(2):
        with pytest.raises(ClientError):
            service.client().send_message(QueueUrl=f"{server.url}/123456789012/outbox", MessageBody="{}")
    assert len(server.received) == 4  # each enqueue and its one retry reached the queue
    assert [how for _, how, _ in reports] == ["failed", "failed"]


def test_a_reset_drops_the_connections_and_forgets_the_failures(
    scripted: Any, reports: list[tuple[str, str, str]]
) -> None:
    """SnapStart's restore: the guard is healthy again and the next call opens a fresh connection."""
    server = scripted((500, {}), (500, {}))
    service = dynamodb_at(server.url, reports)
    client = service.client()
    with pytest.raises(ClientError):
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    service.reset()
    assert service.guard is not None and service.guard.state == GuardState.HEALTHY
    assert client.get_item(TableName="t", Key={"pk": {"S": "a"}}) is not None


def test_a_stand_in_that_is_not_a_botocore_client_is_used_as_it_is() -> None:
    """A client without botocore's events (a simulated queue in the day-long outage test) gets no hooks."""
    stand_in = object()
    assert AwsService("sqs", client_factory=lambda config: stand_in).client() is stand_in


def test_client_options_beside_a_factory_are_refused() -> None:
    """A factory makes its own client, so options for the one made here would be silently dropped: refused."""
    with pytest.raises(TypeError) as refused:
        AwsService("sqs", client_factory=lambda config: object(), client_options={"endpoint_url": "http://x"})
    assert str(refused.value) == "client_options are for the client made here; a client_factory makes its own"


def test_a_service_without_limits_of_its_own_gets_one_second_calls() -> None:
    """The three services the runtime calls have their own limits; any other gets a 1 s call worth starting
    with 50 ms."""
    assert AwsService("sts").limits == ServiceLimits(call_timeout=1.0, min_call_seconds=0.05)
    assert AwsService("ssm").limits == ServiceLimits(call_timeout=1.5, min_call_seconds=0.1)


def test_a_reset_closes_the_clients_own_pools_and_keeps_the_client() -> None:
    """A reset (SnapStart's restore) also closes botocore's own pools of the client it made (credential and
    endpoint discovery calls); the client itself stays, since the stores hold it."""

    class StandIn:
        closed = False

        def close(self) -> None:
            self.closed = True

    service = AwsService("sqs", client_factory=lambda config: StandIn())
    first = service.client()
    service.reset()
    assert first.closed
    assert service.client() is first


def test_without_a_factory_the_client_is_boto3s_for_the_service(aws: str, reports: list[tuple[str, str, str]]) -> None:
    """No factory: boto3's client for the service (``AWS_ENDPOINT_URL`` honoured), made with the service's config:
    a request botocore's own check would refuse (``Limit=0``) reaches the emulator, and the emulator's answer
    comes back."""
    service = AwsService("dynamodb", on_degraded=lambda *report: reports.append(report))
    with within(Deadline.after(2.0)), pytest.raises(ClientError) as refused:
        service.client().scan(TableName="nowhere", Limit=0)
    assert refused.value.response["Error"]["Code"] in ("ResourceNotFoundException", "ValidationException")
    assert service.client().meta.endpoint_url == aws
    assert reports == []


def test_a_call_not_started_says_how_long_was_left() -> None:
    """A call needing 2 s with 1 s left: not started; the report and the error say 1000 ms."""
    reports: list[tuple[str, str, str]] = []
    limits = ServiceLimits(call_timeout=5.0, min_call_seconds=2.0)
    service = dynamodb_at(f"http://127.0.0.1:{closed_port()}", reports, limits=limits)
    expected = r"^dynamodb: only 1000 ms left of the request's deadline; the call was not started$"
    with pytest.raises(DeadlineReached, match=expected), within(Deadline(101.0, lambda: 100.0)):
        service.client().get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert reports == [("dynamodb", "cut", "GetItem: not started, 1000 ms left")]


@pytest.mark.parametrize(
    ("server", "error"),
    [
        ("stalled connect", "ConnectTimeoutError"),
        ("silent", "ReadTimeoutError"),
        ("nothing listening", "EndpointConnectionError"),
        ("hangs up", "ConnectionClosedError"),
    ],
)
def test_each_transport_failure_is_botocores_own_error_naming_the_endpoint(server: str, error: str) -> None:
    """Every way a call can fail below HTTP surfaces as the botocore error for it, with the endpoint's URL in
    its message (what the stores and the operator read), and is reported under that error's name."""
    reports: list[tuple[str, str, str]] = []
    servers = {
        "stalled connect": stalled_connect_server,
        "silent": silent_server,
        "hangs up": lambda: silent_server(close=True),
    }
    with servers[server]() if server in servers else nullcontext(f"http://127.0.0.1:{closed_port()}") as url:
        service = dynamodb_at(url, reports, limits=ServiceLimits(call_timeout=0.3, min_call_seconds=0.05))
        with pytest.raises(BotoCoreError) as failed:
            service.client().get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert type(failed.value).__name__ == error
    assert url in str(failed.value)
    assert [how for _, how, _ in reports] == ["failed"]
    assert reports[0][2] == error or reports[0][2].endswith(f"({error})")


@pytest.mark.parametrize(
    ("waited", "how", "detail"), [(0.2, "cut", "200"), (0.5, "failed", "500"), (0.7, "failed", "700")]
)
def test_a_timeout_is_the_services_failure_from_slow_after_on(waited: float, how: str, detail: str) -> None:
    """The request's deadline cuts a call to a silent service. Whether the service is blamed depends on how long
    the call had waited on the service's clock: under ``slow_after`` (0.5 s) it was the request running out of
    time (``cut``); from 0.5 s on, the service was slow (``failed``). The report says how long, in ms."""
    reports: list[tuple[str, str, str]] = []
    clock = [50.0]

    def waited_there() -> None:
        clock[0] += waited

    def factory(config: Any) -> Any:
        return boto3.client("dynamodb", endpoint_url=url, region_name=REGION, config=config)  # type: ignore[call-overload]

    with silent_server(waited_there) as url:
        service = AwsService(
            "dynamodb",
            guard=DependencyGuard("dynamodb", clock=lambda: clock[0]),
            on_degraded=lambda *report: reports.append(report),
            client_factory=factory,
            clock=lambda: clock[0],
        )
        with within(Deadline.after(0.3)), pytest.raises(BotoCoreError):
            service.client().get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert reports == [("dynamodb", how, f"cut after {detail} ms (ReadTimeoutError)")]


def test_a_failed_probe_doubles_the_skip(scripted: Any, reports: list[tuple[str, str, str]]) -> None:
    """Failed, skipped for 5 s; the probe after it fails too: skipped for 10 s now, and the probe's own failure is
    reported like any other."""
    clock = [0.0]
    server_error = (500, {"__type": "InternalServerError"})
    server = scripted(*([server_error] * 4))
    service = dynamodb_at(server.url, reports, clock=lambda: clock[0])
    client = service.client()
    for _ in range(2):
        with within(Deadline.after(2.0)), pytest.raises(ClientError):
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
        assert service.guard is not None and service.guard.state == GuardState.SKIPPING
        skipped = service.guard.seconds_skipped()
        clock[0] += skipped
    assert skipped == 10.0
    assert len(server.received) == 4
    assert [how for _, how, _ in reports] == ["failed", "failed"]


def test_the_one_retry_pauses_50_ms_before_it_and_nothing_after_it(scripted: Any) -> None:
    """Overloaded twice: one 50 ms pause before the retry, none after the last answer (the caller gets it at once)."""
    pauses: list[float] = []
    server = scripted((503, {"__type": "ServiceUnavailable"}), (503, {"__type": "ServiceUnavailable"}))

    def factory(config: Any) -> Any:
        return boto3.client("dynamodb", endpoint_url=server.url, region_name=REGION, config=config)  # type: ignore[call-overload]

    service = AwsService("dynamodb", client_factory=factory, sleep=pauses.append)
    with within(Deadline.after(2.0)), pytest.raises(ClientError):
        service.client().get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert len(server.received) == 2
    assert pauses == [0.05]
