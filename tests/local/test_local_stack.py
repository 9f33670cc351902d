"""The local stack over loopback: seeded emulator, sandbox, contact API and demo page working together."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contact_sdk.devtools.brownout import ENDPOINT_VARIABLES, Mode
from contact_sdk.devtools.local.console import Console
from contact_sdk.devtools.local.emulator import MAX_RECEIVE_COUNT, aws_client
from contact_sdk.devtools.local.stack import LocalStack, PortInUseError, StackOptions, StackPorts, StackStartError
from contact_sdk.logs import build_logger
from contact_sdk.settings import Settings
from tests.conftest import LOOPBACK_AWS_CALL_TIMEOUT_MS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def console_output() -> io.StringIO:
    """Everything the stack printed."""
    return io.StringIO()


@pytest.fixture(scope="module")
def stack(console_output: io.StringIO) -> Iterator[LocalStack]:
    """One stack on free ports for the module."""
    # The tests below post the instant they fetch a token; the fill-time rule has its own tests.
    options = StackOptions(ports=StackPorts.any(), min_fill_seconds=0, aws_call_timeout_ms=LOOPBACK_AWS_CALL_TIMEOUT_MS)
    with LocalStack(options, console=Console(console_output)) as running:
        yield running


@contextlib.contextmanager
def aws(stack: LocalStack, service: str) -> Iterator[Any]:
    """A boto3 client on the stack's emulator, closed afterwards."""
    client = aws_client(stack.aws_url, service)
    try:
        yield client
    finally:
        client.close()


def client_from(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (its own rate-limit identity)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def submission(**changes: Any) -> dict[str, Any]:
    """A valid submission, filled in 10 s ago."""
    payload: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "subject": "Engines",
        "message": f"Hello, a note about the analytical engine ({time.time_ns()}).",
        "consent": True,
        "formStartedAt": int(time.time() * 1000) - 10_000,
    }
    payload.update(changes)
    return payload


def send(stack: LocalStack, client: httpx.Client, payload: dict[str, Any]) -> httpx.Response:
    """Token from the page's origin, then the submission."""
    origin = {"Origin": stack.page_url}
    token = client.get(f"{stack.api_url}/contact/token", headers=origin)
    assert token.status_code == 200, token.text
    return client.post(
        f"{stack.api_url}/contact",
        json=payload,
        headers={**origin, "X-CSRF-Token": token.json()["token"]},
    )


def sandbox_emails(stack: LocalStack) -> list[dict[str, Any]]:
    """What the sandbox accepted."""
    data = httpx.get(f"{stack.sandbox_url}/_sandbox/emails").json()
    emails = data["data"] if isinstance(data, dict) else data
    assert isinstance(emails, list)
    return emails


def test_a_submission_from_the_page_origin_arrives_in_the_sandbox(stack: LocalStack) -> None:
    """Token, submit, ``200 sent``, and the email is in the sandbox: to the owner, reply-to the sender."""
    payload = submission(email="first@example.org")
    with client_from("127.0.0.11") as client:
        response = send(stack, client, payload)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "sent"
    assert response.headers["Access-Control-Allow-Origin"] == stack.page_url
    bodies = [email["body"] for email in sandbox_emails(stack)]
    sent = next(body for body in bodies if payload["message"] in body.get("text", ""))
    assert sent["to"] in ("owner@example.com", ["owner@example.com"])
    assert "contact@example.com" in sent["from"]
    assert sent["reply_to"] in ("first@example.org", ["first@example.org"])


def test_next_token_is_good_for_the_next_submission(stack: LocalStack) -> None:
    """The ``nextToken`` of one answer is accepted for the following submission."""
    with client_from("127.0.0.12") as client:
        first = send(stack, client, submission())
        second = client.post(
            f"{stack.api_url}/contact",
            json=submission(),
            headers={"Origin": stack.page_url, "X-CSRF-Token": first.json()["nextToken"]},
        )
    assert second.status_code == 200, second.text


def test_the_localhost_twin_of_the_page_origin_is_allowed(stack: LocalStack) -> None:
    """Opening the page as http://localhost:PORT works too."""
    twin = f"http://localhost:{stack.page_url.rsplit(':', 1)[1]}"
    assert twin in stack.allowed_origins
    response = httpx.get(f"{stack.api_url}/contact/token", headers={"Origin": twin})
    assert response.status_code == 200


def test_preflight_from_the_page_origin_is_granted(stack: LocalStack) -> None:
    """The browser's preflight for the page's POST gets 204 and the CORS headers."""
    response = httpx.options(
        f"{stack.api_url}/contact",
        headers={
            "Origin": stack.page_url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-csrf-token",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == stack.page_url
    assert "X-CSRF-Token" in response.headers["Access-Control-Allow-Headers"]


def test_another_origin_is_refused(stack: LocalStack) -> None:
    """A token request from an origin the stack does not list gets ``403 origin_not_allowed``, no CORS grant."""
    response = httpx.get(f"{stack.api_url}/contact/token", headers={"Origin": "https://attacker.example"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_production_rate_limit_holds_per_source_address(stack: LocalStack) -> None:
    """Five submissions from one address pass; the sixth gets 429 with Retry-After; another address is unaffected."""
    with client_from("127.0.0.13") as client:
        statuses = [send(stack, client, submission()).status_code for _ in range(5)]
        token = client.get(f"{stack.api_url}/contact/token", headers={"Origin": stack.page_url}).json()["token"]
        sixth = client.post(
            f"{stack.api_url}/contact",
            json=submission(),
            headers={"Origin": stack.page_url, "X-CSRF-Token": token},
        )
    assert statuses == [200] * 5
    assert sixth.status_code == 429
    assert int(sixth.headers["Retry-After"]) >= 1
    with client_from("127.0.0.14") as other:
        assert send(stack, other, submission()).status_code == 200


def wait_for(predicate: Any, *, seconds: float = 15.0) -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded); that value, or fail."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not true within {seconds} s")


def test_provider_unavailable_queues_then_the_outbox_drains(stack: LocalStack) -> None:
    """503 with ``Retry-After: 1`` through the response budget: ``202 queued``; the message waits in SQS for that
    second, then the local event source delivers it, once."""
    faults = f"{stack.sandbox_url}/_sandbox/faults"
    httpx.post(faults, json={"script": ["503;retry-after=1"] * 10}).raise_for_status()
    try:
        payload = submission(message=f"Queued while the provider is out ({time.time_ns()}).")
        with client_from("127.0.0.15") as client:
            response = send(stack, client, payload)
    finally:
        httpx.delete(faults)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"

    def delivered() -> list[dict[str, Any]]:
        return [e for e in sandbox_emails(stack) if payload["message"] in e["body"].get("text", "")]

    assert len(wait_for(delivered)) == 1
    time.sleep(2.5)  # another poll round: nothing is delivered twice
    assert len(delivered()) == 1


def test_delivery_webhooks_loop_back_through_the_api(stack: LocalStack) -> None:
    """The sandbox signs delivery events to POST /contact/events; the API verifies and records them."""
    payload = submission(message=f"Track my delivery please ({time.time_ns()}).")
    with client_from("127.0.0.16") as client:
        assert send(stack, client, payload).status_code == 200
    emails = sandbox_emails(stack)
    email = next((e for e in emails if payload["message"] in e["body"].get("text", "")), None)
    assert email is not None, [e["body"].get("text", "")[-80:] for e in emails]

    def answered() -> list[dict[str, Any]]:
        log = httpx.get(f"{stack.sandbox_url}/_sandbox/webhooks").json()
        attempts = log["data"] if isinstance(log, dict) else log
        return [a for a in attempts if a.get("email_id") == email["id"] and a.get("status") == 200]

    types = {attempt["type"] for attempt in wait_for(lambda: len(answered()) >= 2 and answered())}
    assert types == {"email.sent", "email.delivered"}
    assert stack.resources is not None
    with aws(stack, "dynamodb") as dynamodb:
        item = dynamodb.get_item(TableName=stack.resources.table_name, Key={"pk": {"S": f"delivery#{email['id']}"}})
    recorded = {event["M"]["type"]["S"] for event in item["Item"]["events"]["L"]}
    assert recorded == {"email.sent", "email.delivered"}


def test_emulator_is_seeded_like_the_deployed_stack(stack: LocalStack) -> None:
    """Both parameters are SecureStrings under the seeded KMS key; the table exists; the outbox has a DLQ."""
    resources = stack.resources
    assert resources is not None
    with aws(stack, "ssm") as ssm:
        for name in (
            resources.config_parameter,
            resources.csrf_secret_parameter,
            resources.webhook_secret_parameter,
        ):
            found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
            assert found[0]["Type"] == "SecureString"
            assert resources.key_id in found[0]["KeyId"]
        raw_config = ssm.get_parameter(Name=resources.config_parameter, WithDecryption=True)["Parameter"]["Value"]
        secret = ssm.get_parameter(Name=resources.csrf_secret_parameter, WithDecryption=True)["Parameter"]["Value"]
    assert set(json.loads(raw_config)) == {"apiKey", "domain", "fromEmail", "toEmail", "version", "rotatedAt"}
    assert len(secret) >= 32
    with aws(stack, "dynamodb") as dynamodb:
        assert dynamodb.describe_table(TableName=resources.table_name)["Table"]["TableStatus"] == "ACTIVE"
    with aws(stack, "sqs") as sqs:
        attributes = sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["RedrivePolicy"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":contact-outbox-local-dlq")
    assert int(redrive["maxReceiveCount"]) == MAX_RECEIVE_COUNT


def test_demo_page_is_served_from_the_allowed_origin(stack: LocalStack) -> None:
    """The page, its script and ``config.json`` (the API, the sandbox, the fill-time rule) come from the page origin."""
    page = httpx.get(f"{stack.page_url}/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f"connect-src 'self' {stack.api_url}" in page.headers["Content-Security-Policy"]
    assert httpx.get(f"{stack.page_url}/contact.js").status_code == 200
    assert httpx.get(f"{stack.page_url}/contact.css").status_code == 200
    config = httpx.get(f"{stack.page_url}/config.json").json()
    # The page's client must know the API's fill-time rule: this stack runs it at 0 (off).
    assert config == {"apiUrl": stack.api_url, "sandboxUrl": stack.sandbox_url, "minFillSeconds": 0}
    assert stack.environment["CONTACT_MIN_FILL_SECONDS"] == "0"
    assert stack.page_url in stack.allowed_origins
    assert httpx.get(f"{stack.page_url}/../pyproject.toml").status_code == 404


def test_console_shows_one_readable_line_per_request(stack: LocalStack, console_output: io.StringIO) -> None:
    """The access log names the method, path, status, outcome and source address."""
    httpx.get(f"{stack.api_url}/contact/token", headers={"Origin": stack.page_url})
    lines = console_output.getvalue().splitlines()
    assert any(" api " in line and "GET /contact/token 200 token" in line and "127.0.0.1" in line for line in lines)


def test_the_stack_refuses_taken_ports_naming_the_flag() -> None:
    """A taken port stops the start before anything runs, with the flag that moves it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        stack = LocalStack(StackOptions(ports=StackPorts(page=0, api=taken, sandbox=0, aws=0)))
        with pytest.raises(PortInUseError) as caught:
            stack.start()
    assert f"127.0.0.1:{taken}" in str(caught.value)
    assert "--api-port" in str(caught.value)


ANY_OTHER_PORTS = ("--api-port", "0", "--sandbox-port", "0", "--aws-port", "0")


def test_the_command_exits_2_with_a_clear_message_when_a_port_is_taken() -> None:
    """``python -m contact_sdk.devtools.local`` with a taken port prints which one and exits 2."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "contact_sdk.devtools.local", "--page-port", str(taken), *ANY_OTHER_PORTS],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"demo page: 127.0.0.1:{taken} is already in use" in result.stderr
    assert "--page-port" in result.stderr


def test_the_stack_never_listens_beyond_loopback() -> None:
    """A non-loopback host is refused."""
    with pytest.raises(StackStartError):
        LocalStack(StackOptions(host="0.0.0.0"))  # noqa: S104 - the point of the test


class PortGrabbingNeighbour(io.StringIO):
    """A console stream that, at the stack's first console line (a child's output), binds every port it has
    announced so far, as another process on a busy machine may: the test suite's parallel workers start stacks,
    emulators and clients all the time, and the kernel hands a port nobody holds to the next one who asks."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: LocalStack | None = None
        self.held: list[socket.socket] = []
        self.tried: list[int] = []

    def write(self, text: str) -> int:
        if self.stack is not None and self.stack.ports is not None and not self.tried:
            ports = self.stack.ports
            self.tried = [port for port in (ports.page, ports.api, ports.sandbox, ports.aws) if port]
            for port in self.tried:
                grab = socket.socket()
                try:
                    grab.bind(("127.0.0.1", port))
                    grab.listen()
                except OSError:
                    grab.close()
                else:
                    self.held.append(grab)
        return super().write(text)


def test_a_neighbour_grabbing_ports_during_start_up_finds_every_announced_one_held() -> None:
    """Each free port is picked by the server that listens on it, when it binds: none is announced and then
    left free for another process to take before the stack binds it (which failed the suite's run once with
    ``Address already in use``, the API's port taken between the check and the bind)."""
    neighbour = PortGrabbingNeighbour()
    stack = LocalStack(StackOptions(ports=StackPorts.any(), min_fill_seconds=0), console=Console(neighbour))
    neighbour.stack = stack
    try:
        with stack:
            assert neighbour.tried, "the neighbour never saw a port: nothing was announced before the children spoke"
            assert [grab.getsockname()[1] for grab in neighbour.held] == []
            ports = stack.ports
            assert ports is not None
            assert len({ports.page, ports.api, ports.sandbox, ports.aws} - {0}) == 4
            token = httpx.get(f"{stack.api_url}/contact/token", headers={"Origin": stack.page_url}, timeout=30)
            assert token.status_code == 200
            assert httpx.get(stack.page_url, timeout=30).status_code == 200
            assert httpx.get(f"{stack.sandbox_url}/", timeout=30).status_code == 200
            with aws(stack, "sqs") as sqs:
                assert stack.resources is not None
                assert stack.resources.queue_url in sqs.list_queues()["QueueUrls"]
    finally:
        for grab in neighbour.held:
            grab.close()


def test_a_service_logger_left_on_a_closed_stream_is_taken_over_and_left_on_a_live_one() -> None:
    """An earlier user of the service's logger in the process (a test whose captured output is gone) can leave its
    handler writing to a closed stream: the stack still starts, shows the service's lines in its console, and on
    stop leaves the handler on a stream that works (standard output) rather than on the closed one."""
    handler = build_logger().registered_handler
    assert isinstance(handler, logging.StreamHandler)
    gone = io.StringIO()
    before = handler.setStream(gone)
    gone.close()
    output = io.StringIO()
    options = StackOptions(ports=StackPorts.any(), min_fill_seconds=0, service_log_level="INFO")
    try:
        with LocalStack(options, console=Console(output)) as stack:
            answer = httpx.get(f"{stack.api_url}/contact/token", headers={"Origin": stack.page_url}, timeout=30)
            assert answer.status_code == 200
        assert "service  INFO request handled" in output.getvalue()
        assert handler.stream is sys.stdout
    finally:
        handler.setStream(before if before is not None and not getattr(before, "closed", False) else sys.stdout)


def test_stop_releases_every_port() -> None:
    """After ``stop`` every port is free again and the child processes are gone."""
    stack = LocalStack(StackOptions(ports=StackPorts.any()), console=Console(io.StringIO()))
    stack.start()
    ports = stack.ports
    children = [child.process for child in stack._children]
    stack.stop()
    assert ports is not None
    assert all(process.poll() is not None for process in children)
    for port in (ports.page, ports.api, ports.sandbox, ports.aws):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))


# -- your own site, and a provider fault from the start ------------------------------------------------

MY_SITE = "http://localhost:3000"


@pytest.fixture(scope="module")
def own_site_stack() -> Iterator[LocalStack]:
    """A stack that also allows a site of the owner's (spelled as a person might) and holds the provider down."""
    options = StackOptions(
        aws_call_timeout_ms=LOOPBACK_AWS_CALL_TIMEOUT_MS,
        ports=StackPorts.any(),
        min_fill_seconds=0,
        response_budget_ms=1000,
        allowed_origins=("HTTP://LOCALHOST:3000/", "https://staging.example.org:443"),
        provider_fault="down",
    )
    with LocalStack(options, console=Console(io.StringIO())) as running:
        yield running


def test_an_extra_origin_is_allowed_beside_the_page(own_site_stack: LocalStack) -> None:
    """``--allowed-origin``: the preflight and the token from the owner's site are granted, with readable headers."""
    stack = own_site_stack
    assert stack.allowed_origins[-2:] == (MY_SITE, "https://staging.example.org")
    assert stack.page_url in stack.allowed_origins
    assert stack.environment["CONTACT_ALLOWED_ORIGINS"].split(",") == list(stack.allowed_origins)
    preflight = httpx.options(
        f"{stack.api_url}/contact",
        headers={
            "Origin": MY_SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-csrf-token",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == MY_SITE
    token = httpx.get(f"{stack.api_url}/contact/token", headers={"Origin": MY_SITE})
    assert token.status_code == 200
    assert token.headers["Access-Control-Expose-Headers"] == "Retry-After, X-Request-Id"
    refused = httpx.get(f"{stack.api_url}/contact/token", headers={"Origin": "http://localhost:3001"})
    assert refused.status_code == 403


def test_a_provider_fault_is_held_from_the_start(own_site_stack: LocalStack) -> None:
    """``--provider-fault down``: the sandbox is in an outage from the start, so a submission is ``202 queued``."""
    stack = own_site_stack
    faults = httpx.get(f"{stack.sandbox_url}/_sandbox/faults").json()
    assert faults["outage_remaining_seconds"] > 86_000
    with client_from("127.0.0.21") as client:
        token = client.get(f"{stack.api_url}/contact/token", headers={"Origin": MY_SITE}).json()["token"]
        answer = client.post(
            f"{stack.api_url}/contact", json=submission(), headers={"Origin": MY_SITE, "X-CSRF-Token": token}
        )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued"
    assert answer.headers["Access-Control-Allow-Origin"] == MY_SITE


def test_the_banner_shows_the_extra_origins_and_the_fault(own_site_stack: LocalStack) -> None:
    """A person sees which origins may call the API and which fault is on, with how to end it."""
    lines = own_site_stack.banner().splitlines()
    origins = next(line for line in lines if line.strip().startswith("allowed origins"))
    assert origins.endswith(f"{MY_SITE}, https://staging.example.org")
    fault = next(line for line in lines if line.strip().startswith("provider fault"))
    assert "down: every Resend call is answered 503" in fault
    assert f"curl -X DELETE {own_site_stack.sandbox_url}/_sandbox/faults" in fault


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (StackOptions(allowed_origins=("http://localhost:3000/contact",)), "--allowed-origin: allowed origins"),
        (StackOptions(allowed_origins=("*",)), "is not an origin"),
        (StackOptions(provider_fault="outage"), "--provider-fault: expected one of slow, down, flaky"),
    ],
)
def test_bad_stack_options_are_refused_before_anything_starts(options: StackOptions, reason: str) -> None:
    """An origin with a path, ``*``, or an unknown fault: :class:`StackStartError` naming the option."""
    with pytest.raises(StackStartError, match=reason):
        LocalStack(options)


DYNAMODB_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems"}


def test_a_brownout_puts_a_proxy_in_front_of_that_service_alone() -> None:
    """``--brownout dynamodb:...``: every DynamoDB call of the service goes through the proxy, nothing else does.

    The proxy starts healthy here, so the submission is sent. The process environment is left alone: the
    service's client is given the proxy as its endpoint (another stack in the process keeps the emulator).
    """
    variable = ENDPOINT_VARIABLES["dynamodb"]
    assert variable not in os.environ
    output = io.StringIO()
    options = StackOptions(ports=StackPorts.any(), min_fill_seconds=0, brownout=("dynamodb", Mode.healthy()))
    with LocalStack(options, console=Console(output)) as stack:
        proxy = stack.brownout
        assert proxy is not None
        assert variable not in os.environ
        assert stack.environment[variable] == proxy.url
        assert f"dynamodb behind a proxy at {proxy.url}, healthy" in stack.banner()
        with client_from("127.0.0.1") as client:
            answer = send(stack, client, submission())
        assert answer.status_code == 200 and answer.json()["status"] == "sent"
        operations = [exchange.operation for exchange in proxy.exchanges()]
        assert "UpdateItem" in operations  # the rate limits and the nonce, at least
        assert set(operations) <= DYNAMODB_OPERATIONS, operations
        port = int(proxy.url.rsplit(":", 1)[1])
    assert variable not in os.environ
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    gc.collect()  # the service's connections were closed on stop: none is left for the collector to warn about


def test_a_siteverify_brownout_needs_turnstile() -> None:
    """Nothing calls siteverify without Turnstile: the stack says so instead of starting a proxy nobody uses."""
    with pytest.raises(StackStartError, match="--brownout siteverify needs --turnstile"):
        LocalStack(StackOptions(brownout=("siteverify", Mode.hang())))


def test_the_service_gets_the_aws_call_timeout_it_was_given(stack: LocalStack) -> None:
    """``StackOptions.aws_call_timeout_ms`` reaches the service as ``CONTACT_AWS_CALL_TIMEOUT_MS``."""
    assert stack.environment["CONTACT_AWS_CALL_TIMEOUT_MS"] == str(LOOPBACK_AWS_CALL_TIMEOUT_MS)
    assert Settings.from_env(environ=stack.environment).aws_call_timeout_ms == LOOPBACK_AWS_CALL_TIMEOUT_MS


def test_the_services_aws_clients_are_built_as_in_lambda(stack: LocalStack) -> None:
    """The service's DynamoDB, SQS and Parameter Store clients make one attempt each (the service retries an
    overloaded answer once, inside the deadline) and time out at the call timeout, as Lambda's do: the stack's
    emulator clients had botocore's retry with its backoff sleep, which production never waits through."""
    components = stack._components
    assert components is not None
    seen = {}
    for service in components.aws_services:
        config = service.client().meta.config
        seen[service.name] = (config.retries, config.read_timeout, config.connect_timeout)
        assert service.client().meta.endpoint_url == stack.aws_url
    one_attempt = {"mode": "standard", "total_max_attempts": 1}
    timeout = LOOPBACK_AWS_CALL_TIMEOUT_MS / 1000
    assert seen == dict.fromkeys(("dynamodb", "sqs", "ssm"), (one_attempt, timeout, timeout))


def test_two_stacks_in_one_process_each_answer_with_their_own_configuration(stack: LocalStack) -> None:
    """A second stack in the same process (the browser suites run several) does not take over the first's API:
    each answers with its own allowed origins, before and after the other stops."""
    other_site = "https://other.example"
    options = StackOptions(
        ports=StackPorts.any(), allowed_origins=(other_site,), aws_call_timeout_ms=LOOPBACK_AWS_CALL_TIMEOUT_MS
    )

    def token_status(api_url: str, origin: str) -> int:
        return httpx.get(f"{api_url}/contact/token", headers={"Origin": origin}, timeout=30).status_code

    with LocalStack(options, console=Console(io.StringIO())) as other:
        assert token_status(other.api_url, other_site) == 200
        assert token_status(stack.api_url, other_site) == 403
        assert token_status(stack.api_url, stack.page_url) == 200
        assert token_status(other.api_url, stack.page_url) == 403
    assert token_status(stack.api_url, stack.page_url) == 200
