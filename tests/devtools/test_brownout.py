"""The brownout proxy on its own, in front of real upstreams on loopback (moto's server, the siteverify stand-in).

Held answers are released by moving the proxy's injected clock, never by waiting out a delay.
"""

from __future__ import annotations

import functools
import http.client
import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from contact_sdk.devtools.brownout import ENDPOINT_VARIABLES, POLL_SECONDS, BrownoutProxy, Exchange, Mode, aws_operation
from contact_sdk.devtools.local.turnstile import DUMMY_TOKEN, PASS_SECRET, SITEVERIFY_PATH, SiteverifyStandIn
from tests.conftest import REGION, aws_client, refusing_port

pytestmark = pytest.mark.integration

TABLE = "brownout-proxy-test"


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 5_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """The proxy's clock."""
    return FakeClock()


@pytest.fixture
def standin() -> Iterator[SiteverifyStandIn]:
    """The siteverify stand-in: an upstream that keeps every body it received."""
    with SiteverifyStandIn(("127.0.0.1", 0), hostname="www.example.com") as server:
        yield server


@pytest.fixture
def proxy_to(clock: FakeClock) -> Iterator[Callable[[str], BrownoutProxy]]:
    """``proxy_to(upstream_url)``: a started proxy on the fake clock, stopped afterwards."""
    started: list[BrownoutProxy] = []

    def start(upstream: str) -> BrownoutProxy:
        proxy = BrownoutProxy(upstream, clock=clock).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def dynamodb_through(proxy: BrownoutProxy, monkeypatch: pytest.MonkeyPatch, *, read_timeout: float = 10) -> Any:
    """A boto3 DynamoDB client configured the ordinary way, reaching the proxy through AWS_ENDPOINT_URL_DYNAMODB."""
    monkeypatch.setenv(ENDPOINT_VARIABLES["dynamodb"], proxy.url)
    config = Config(connect_timeout=2, read_timeout=read_timeout, retries={"mode": "standard", "max_attempts": 1})
    return boto3.client("dynamodb", region_name=REGION, config=config)


def create_table(client: Any) -> None:
    """A one-key table."""
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def siteverify(proxy: BrownoutProxy, *, timeout: float = 10.0, response: str = DUMMY_TOKEN) -> httpx.Response:
    """One siteverify call through the proxy."""
    return httpx.post(proxy.url + SITEVERIFY_PATH, data={"secret": PASS_SECRET, "response": response}, timeout=timeout)


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``call`` in a thread; the list gets its result or the exception it raised."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # noqa: BLE001 - handed to the test to judge
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def wait_for(condition: Callable[[], bool], *, seconds: float = 5.0) -> None:
    """Poll until ``condition`` holds (the proxy's threads are asynchronous to the test); fail after ``seconds``."""
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "the proxy did not get there in time"
        time.sleep(POLL_SECONDS)


def only(exchanges: list[Exchange]) -> Exchange:
    """The one exchange recorded."""
    assert len(exchanges) == 1, exchanges
    return exchanges[0]


# -- healthy: a transparent proxy ------------------------------------------------------------------


def test_only_the_named_service_goes_through_the_proxy(
    aws: str, proxy_to: Callable[[str], BrownoutProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_ENDPOINT_URL_DYNAMODB sends DynamoDB's calls through it, named by operation; SQS still goes to moto."""
    proxy = proxy_to(aws)
    dynamodb = dynamodb_through(proxy, monkeypatch)
    create_table(dynamodb)
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}})
    sqs = boto3.client("sqs", region_name=REGION)  # AWS_ENDPOINT_URL (moto) from the ``aws`` fixture
    sqs.create_queue(QueueName="not-through-the-proxy")
    assert [(e.operation, e.method, e.path, e.status) for e in proxy.exchanges()] == [
        ("CreateTable", "POST", "/", 200),
        ("PutItem", "POST", "/", 200),
    ]
    assert all(e.forwarded is not None and e.gave_up is None and not e.pending for e in proxy.exchanges())
    assert aws_client(aws, "dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}}


def test_bodies_of_hundreds_of_kilobytes_pass_both_ways_intact(
    aws: str, proxy_to: Callable[[str], BrownoutProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 390 KB item is written and read back through the proxy byte for byte."""
    proxy = proxy_to(aws)
    dynamodb = dynamodb_through(proxy, monkeypatch)
    create_table(dynamodb)
    value = "".join(chr(0x41 + (i * 7) % 26) for i in range(390_000))
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "big"}, "v": {"S": value}})
    read = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "big"}}, ConsistentRead=True)
    assert read["Item"]["v"]["S"] == value
    assert read["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.0"


def test_requests_share_one_kept_alive_connection(
    standin: SiteverifyStandIn, proxy_to: Callable[[str], BrownoutProxy]
) -> None:
    """Three requests on one HTTP/1.1 connection are all answered on it, and none is refused."""
    proxy = proxy_to(standin.origin)
    host, port = proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    sockets = []
    for number in range(3):
        connection.request(
            "POST",
            SITEVERIFY_PATH,
            body=f"secret={PASS_SECRET}&response={DUMMY_TOKEN}&n={number}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        answer = connection.getresponse()
        assert answer.status == 200
        assert b'"success": true' in answer.read()
        assert answer.getheader("Connection") is None  # hop-by-hop headers are the proxy's own
        sockets.append(connection.sock)
    connection.close()
    assert sockets[0] is not None and sockets[0] is sockets[1] is sockets[2]
    assert [r["n"] for r in standin.received] == ["0", "1", "2"]


class _LargeAnswer(http.server.BaseHTTPRequestHandler):
    """An upstream whose every answer is :data:`LARGE_ANSWER_BYTES` long: more than loopback's socket buffers."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(LARGE_ANSWER_BYTES))
        self.end_headers()
        self.wfile.write(b"x" * LARGE_ANSWER_BYTES)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


LARGE_ANSWER_BYTES = 48 * 1024 * 1024


def test_an_answer_is_recorded_before_its_first_byte_reaches_the_client(
    proxy_to: Callable[[str], BrownoutProxy],
) -> None:
    """A client that has the status line finds the exchange answered with that status, even while the body is
    still on its way (here: one too large for the socket buffers, which the client has not read yet). Recorded
    after the body was written, a test reading ``exchanges()`` right after its calls raced the proxy: a CI run saw
    ``None`` for the last of eight concurrent sends."""
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LargeAnswer)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        proxy = proxy_to(f"http://127.0.0.1:{upstream.server_address[1]}")
        host, port = proxy.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as client:
            client.sendall(b"GET /big HTTP/1.1\r\nHost: upstream\r\nConnection: close\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += client.recv(1)
            assert head.startswith(b"HTTP/1.1 200")
            [exchange] = proxy.exchanges()
            assert (exchange.status, exchange.answered is not None) == (200, True)
            received = len(head.split(b"\r\n\r\n", 1)[1])
            while chunk := client.recv(1 << 20):
                received += len(chunk)
        assert received == LARGE_ANSWER_BYTES
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_a_chunked_request_body_reaches_the_upstream_whole(
    standin: SiteverifyStandIn, proxy_to: Callable[[str], BrownoutProxy]
) -> None:
    """A body sent in chunks is reassembled and forwarded with its length."""
    proxy = proxy_to(standin.origin)
    host, port = proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    # Many chunks of different sizes; under the stand-in's own 64 KiB limit in all.
    notes = [bytes([0x61 + n % 26]) * (997 * n) for n in range(1, 11)]
    parts = [f"secret={PASS_SECRET}".encode(), b"&response=", DUMMY_TOKEN.encode(), b"&note=", *notes]
    connection.request(
        "POST",
        SITEVERIFY_PATH,
        body=iter(parts),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    answer = connection.getresponse()
    assert answer.status == 200
    assert b'"success": true' in answer.read()
    connection.close()
    [received] = standin.received
    assert received["response"] == DUMMY_TOKEN
    assert received["note"] == b"".join(notes).decode()


def test_a_head_answer_keeps_the_upstreams_status_and_length_and_has_no_body(
    aws: str, proxy_to: Callable[[str], BrownoutProxy]
) -> None:
    """HEAD is passed on like any method; the answer carries the upstream's Content-Length and no body."""
    proxy = proxy_to(aws)
    direct = httpx.head(f"{aws}/moto-api/", timeout=10)
    through = httpx.head(f"{proxy.url}/moto-api/", timeout=10)
    assert through.status_code == direct.status_code
    assert through.headers.get("content-length") == direct.headers.get("content-length")
    assert through.content == b""
    assert proxy.settle(5) == []
    assert only(proxy.exchanges()).label == "HEAD /moto-api/"


@pytest.mark.parametrize(
    "head",
    [
        "Transfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n0\r\n\r\n",
        "Content-Length: twelve\r\n\r\nsecret=x",
    ],
    ids=["bad-chunk-size", "bad-content-length"],
)
def test_a_body_it_cannot_read_closes_the_connection_and_reaches_nobody(
    standin: SiteverifyStandIn, proxy_to: Callable[[str], BrownoutProxy], head: str
) -> None:
    """A malformed chunk size or Content-Length: the connection is closed unanswered, nothing is forwarded."""
    proxy = proxy_to(standin.origin)
    host, port = proxy.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as caller:
        caller.sendall(f"POST {SITEVERIFY_PATH} HTTP/1.1\r\nHost: {host}\r\n{head}".encode())
        assert caller.recv(65536) == b""
    assert proxy.exchanges() == [] and standin.received == []


def test_an_upstream_that_is_down_is_a_502_that_says_so(proxy_to: Callable[[str], BrownoutProxy]) -> None:
    """Nothing listens upstream: the client gets 502 with a JSON reason, recorded as answered 502."""
    proxy = proxy_to(f"http://127.0.0.1:{refusing_port()}")
    answer = httpx.get(f"{proxy.url}/anything", timeout=10)
    assert answer.status_code == 502
    assert "upstream failed: ConnectionRefusedError" in answer.json()["error"]
    assert proxy.settle(5) == []
    assert only(proxy.exchanges()).status == 502


# -- slow: the upstream acts at once, the answer comes late ----------------------------------------


def test_slow_writes_at_once_and_holds_the_answer_until_the_delay_has_passed(
    aws: str, proxy_to: Callable[[str], BrownoutProxy], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """slow:30: the item is in the table at once, the caller's answer only once 30 s have passed on the clock."""
    proxy = proxy_to(aws)
    dynamodb = dynamodb_through(proxy, monkeypatch)
    create_table(dynamodb)
    proxy.set_mode(Mode.slow(30))
    thread, outcome = in_thread(lambda: dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "late"}}))
    direct = aws_client(aws, "dynamodb")
    wait_for(lambda: "Item" in direct.get_item(TableName=TABLE, Key={"pk": {"S": "late"}}, ConsistentRead=True))
    [held] = proxy.pending()
    clock.advance(29.9)
    time.sleep(5 * POLL_SECONDS)  # five chances to release it too early
    assert outcome == [] and proxy.pending() == [held]
    clock.advance(0.1)
    thread.join(timeout=5)
    assert outcome and outcome[0]["ResponseMetadata"]["HTTPStatusCode"] == 200
    answered = proxy.exchanges()[-1]
    assert (answered.operation, answered.mode, answered.status) == ("PutItem", Mode.slow(30), 200)
    assert answered.answered is not None and answered.answered - answered.arrived == pytest.approx(30.0)


def test_a_client_that_gives_up_is_recorded_with_the_time_it_did(
    standin: SiteverifyStandIn, proxy_to: Callable[[str], BrownoutProxy], clock: FakeClock
) -> None:
    """A caller that closes its connection while the answer is held: the proxy notes when, and answers nothing."""
    proxy = proxy_to(standin.origin)
    proxy.set_mode(Mode.slow(30))
    body = f"secret={PASS_SECRET}&response={DUMMY_TOKEN}".encode()
    host, port = proxy.url.removeprefix("http://").split(":")
    caller = socket.create_connection((host, int(port)), timeout=10)
    caller.sendall(
        f"POST {SITEVERIFY_PATH} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    wait_for(lambda: len(proxy.pending()) == 1)
    wait_for(lambda: bool(standin.received))  # forwarded at once: the upstream has it
    clock.advance(2.5)
    caller.close()  # what a bounded caller does at its deadline
    wait_for(lambda: not proxy.pending())
    gone = only(proxy.exchanges())
    assert gone.gave_up is not None and gone.gave_up - gone.arrived == pytest.approx(2.5)
    assert (gone.answered, gone.status, gone.dropped) == (None, None, None)


def test_a_client_timeout_is_a_give_up_too(
    aws: str, proxy_to: Callable[[str], BrownoutProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's own read timeout closes the connection: the proxy records the give-up, not an answer."""
    proxy = proxy_to(aws)
    dynamodb = dynamodb_through(proxy, monkeypatch, read_timeout=0.3)
    create_table(dynamodb)
    proxy.set_mode(Mode.slow(30))
    with pytest.raises(ReadTimeoutError):
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "abandoned"}})
    assert proxy.settle(5) == []
    given_up = [e for e in proxy.exchanges() if e.operation == "PutItem"]
    assert given_up and all(e.gave_up is not None and e.answered is None for e in given_up)


# -- hang: nothing reaches the upstream ------------------------------------------------------------


def test_hang_forwards_nothing_until_switched_back_then_answers(
    standin: SiteverifyStandIn, proxy_to: Callable[[str], BrownoutProxy], clock: FakeClock
) -> None:
    """A hung request never reaches the upstream, however long; back to healthy, it is forwarded and answered."""
    proxy = proxy_to(standin.origin)
    proxy.set_mode(Mode.hang())
    thread, outcome = in_thread(lambda: siteverify(proxy, timeout=30))
    wait_for(lambda: len(proxy.pending()) == 1)
    clock.advance(86_400)
    time.sleep(5 * POLL_SECONDS)
    assert standin.received == [] and outcome == []
    assert only(proxy.pending()).forwarded is None
    proxy.set_mode(Mode.healthy())
    thread.join(timeout=5)
    assert outcome[0].status_code == 200 and outcome[0].json()["success"] is True
    assert len(standin.received) == 1
    done = only(proxy.exchanges())
    assert done.mode == Mode.hang() and done.forwarded is not None and done.status == 200


def test_switching_to_slow_releases_what_has_waited_long_enough(
    standin: SiteverifyStandIn, proxy_to: Callable[[str], BrownoutProxy], clock: FakeClock
) -> None:
    """Held requests are judged by the current mode: slow:10 releases the one held 12 s, keeps the one held 4 s."""
    proxy = proxy_to(standin.origin)
    proxy.set_mode(Mode.hang())
    first, first_outcome = in_thread(lambda: siteverify(proxy, timeout=30, response="first"))
    wait_for(lambda: len(proxy.pending()) == 1)
    clock.advance(8)
    second, second_outcome = in_thread(lambda: siteverify(proxy, timeout=30, response="second"))
    wait_for(lambda: len(proxy.pending()) == 2)
    clock.advance(4)
    proxy.set_mode(Mode.slow(10))
    first.join(timeout=5)
    assert first_outcome[0].status_code == 200
    time.sleep(5 * POLL_SECONDS)
    assert second_outcome == [] and [r["response"] for r in standin.received] == ["first"]
    clock.advance(6)
    second.join(timeout=5)
    assert second_outcome[0].status_code == 200


def test_many_held_requests_are_all_released_by_one_switch(
    standin: SiteverifyStandIn, proxy_to: Callable[[str], BrownoutProxy]
) -> None:
    """Twelve concurrent callers held in hang all get their answer when the mode goes back to healthy."""
    proxy = proxy_to(standin.origin)
    proxy.set_mode(Mode.hang())
    callers = [in_thread(functools.partial(siteverify, proxy, timeout=30, response=f"r{n}")) for n in range(12)]
    wait_for(lambda: len(proxy.pending()) == 12)
    proxy.set_mode(Mode.healthy())
    for thread, _ in callers:
        thread.join(timeout=5)
    assert [outcome[0].status_code for _, outcome in callers] == [200] * 12
    assert sorted(r["response"] for r in standin.received) == sorted(f"r{n}" for n in range(12))
    assert proxy.settle(5) == []


def test_stop_releases_hung_callers_at_once_and_frees_the_port(
    standin: SiteverifyStandIn, proxy_to: Callable[[str], BrownoutProxy]
) -> None:
    """stop() closes a hung request and an idle kept-alive connection unanswered; the port is free afterwards."""
    proxy = proxy_to(standin.origin)
    host, port = proxy.url.removeprefix("http://").split(":")
    idle = http.client.HTTPConnection(host, int(port), timeout=10)
    idle.request("GET", "/idle")
    idle.getresponse().read()
    wait_for(lambda: proxy.pending() == [])  # the proxy marks an answer after its last byte: the client may be first
    proxy.set_mode(Mode.hang())
    thread, outcome = in_thread(lambda: siteverify(proxy, timeout=60))
    wait_for(lambda: [e.path for e in proxy.pending()] == [SITEVERIFY_PATH])
    started = time.monotonic()
    proxy.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 5  # released, not waited out (the caller would have waited 60 s)
    assert isinstance(outcome[0], httpx.HTTPError)
    stopped = [e for e in proxy.exchanges() if e.path == SITEVERIFY_PATH]
    assert only(stopped).dropped is not None and standin.received == []
    assert idle.sock is not None and idle.sock.recv(1) == b""  # the idle connection was closed too
    idle.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5)


def test_botocore_sees_a_stopped_proxy_as_a_closed_connection(
    aws: str, proxy_to: Callable[[str], BrownoutProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call hung in the proxy when it stops fails at once for boto3: the connection closed, the port shut."""
    proxy = proxy_to(aws)
    dynamodb = dynamodb_through(proxy, monkeypatch, read_timeout=60)
    create_table(dynamodb)
    proxy.set_mode(Mode.hang())
    thread, outcome = in_thread(lambda: dynamodb.describe_table(TableName=TABLE))
    wait_for(lambda: len(proxy.pending()) == 1)
    proxy.stop()
    thread.join(timeout=5)
    assert isinstance(outcome[0], ConnectionClosedError | EndpointConnectionError)


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode"),
    [("healthy", Mode.healthy()), ("hang", Mode.hang()), ("slow:10", Mode.slow(10)), (" slow:2.5 ", Mode.slow(2.5))],
)
def test_modes_are_read_from_their_names(text: str, mode: Mode) -> None:
    """healthy, hang and slow:SECONDS are the three spellings."""
    assert Mode.parse(text) == mode
    assert Mode.parse(str(mode)) == mode


@pytest.mark.parametrize(
    "text", ["", "slow", "slow:", "slow:0", "slow:-3", "slow:soon", "slow:nan", "slow:inf", "down", "hang:5"]
)
def test_a_bad_mode_is_refused_with_the_spellings(text: str) -> None:
    """Anything else is a ValueError that says what is expected or what is wrong with the delay."""
    with pytest.raises(ValueError, match=r"healthy, hang or slow:SECONDS|above zero"):
        Mode.parse(text)


def test_a_mode_of_unknown_kind_cannot_be_built() -> None:
    """Only the three kinds exist."""
    with pytest.raises(ValueError, match="unknown brownout mode 'flaky'"):
        Mode("flaky")


@pytest.mark.parametrize(
    ("upstream", "host", "message"),
    [
        ("https://127.0.0.1:8025", "127.0.0.1", "must be an http:// URL"),
        ("127.0.0.1:8025", "127.0.0.1", "must be an http:// URL"),
        ("http://", "127.0.0.1", "must be an http:// URL"),
        ("http://api.resend.com", "127.0.0.1", "upstream 'api.resend.com' is not a loopback address"),
        ("http://10.0.0.5:5000", "127.0.0.1", "upstream '10.0.0.5' is not a loopback address"),
        ("http://127.0.0.1:5000", "0.0.0.0", "host '0.0.0.0' is not a loopback address"),  # noqa: S104
    ],
)
def test_it_works_on_loopback_only(upstream: str, host: str, message: str) -> None:
    """A non-loopback upstream or listening address, or an upstream that is not an http:// URL, is refused."""
    with pytest.raises(ValueError, match=message):
        BrownoutProxy(upstream, host=host)


@pytest.mark.parametrize(
    ("headers", "path", "body", "operation"),
    [
        ({"X-Amz-Target": "DynamoDB_20120810.UpdateItem"}, "/", b"{}", "UpdateItem"),
        ({"X-Amz-Target": "AmazonSQS.SendMessage"}, "/", b"{}", "SendMessage"),
        ({"X-Amz-Target": "AmazonSSM.GetParameter"}, "/", b"{}", "GetParameter"),
        (
            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            "/",
            b"Action=SendMessage&Version=2012-11-05&QueueUrl=x",
            "SendMessage",
        ),
        ({}, "/?Action=GetQueueUrl&QueueName=q", b"", "GetQueueUrl"),
        ({"Content-Type": "application/json"}, "/emails", b'{"Action": "x"}', None),
        ({"Content-Type": "text/plain"}, "/", b"Action=SendMessage", None),
    ],
    ids=["dynamodb", "sqs-json", "ssm", "query-body", "query-string", "resend", "not-a-form"],
)
def test_the_aws_operation_is_read_from_the_target_or_the_action(
    headers: dict[str, str], path: str, body: bytes, operation: str | None
) -> None:
    """X-Amz-Target's last part, or the query protocol's Action (in the URL or a form body); else none."""
    assert aws_operation(headers, path, body) == operation
