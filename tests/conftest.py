"""Shared fixtures: a real local AWS emulator (moto's server) on loopback, and safe AWS credentials."""

from __future__ import annotations

import atexit
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from contact_sdk.bootstrap import Components
from contact_sdk.devtools.local.emulator import running_emulator
from contact_sdk.devtools.tables import create_table

REGION = "eu-west-1"


@pytest.fixture(scope="session", autouse=True)
def _fake_aws_credentials() -> Iterator[None]:
    """Never let a test reach a real AWS account: fake credentials, a fixed region, no profile."""
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server in a process of its own on an ephemeral loopback port, for the whole session; yields its URL.

    Its own process, as in the local stack: the emulator's work is neither traced by coverage nor competing with
    the test for this interpreter's lock (in-process it was most of the CPU time of every test that seeds AWS).
    """
    with running_emulator() as url:
        yield url


@pytest.fixture(scope="session")
def serial_moto_server() -> Iterator[str]:
    """moto behind a server that handles one request at a time; yields its URL.

    Real DynamoDB serialises the writes to one item, so a conditional ``UpdateItem`` is atomic. moto's
    threaded server does not lock its backend, so concurrent conditional writes can race *inside the
    emulator*. Tests that prove our guards hold under concurrency run against this server, so what
    they test is our one-conditional-write design, not moto's thread safety.
    """
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        request_handler=MotoRequestHandler,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def serial_contact_table(serial_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A clean emulator that answers one request at a time, with the service's table; (URL, table name)."""
    httpx.post(f"{serial_moto_server}/moto-api/reset").raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", serial_moto_server)
    name = "contact-test-serial"
    create_table(aws_client(serial_moto_server, "dynamodb"), name)
    return serial_moto_server, name


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean emulator for one test: state reset, ``AWS_ENDPOINT_URL`` pointing at it. Yields the URL."""
    httpx.post(f"{moto_server}/moto-api/reset").raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def aws_client(endpoint: str, service: str) -> Any:
    """A boto3 client for ``service`` talking to the emulator at ``endpoint``."""
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)  # type: ignore[call-overload]


@pytest.fixture
def contact_table(aws: str) -> str:
    """The service's DynamoDB table, created in the emulator. Yields its name."""
    name = "contact-test"
    create_table(aws_client(aws, "dynamodb"), name)
    return name


#: The service's table in the in-process DynamoDB (:func:`moto_table`).
IN_PROCESS_TABLE = "contact-in-process"


@pytest.fixture(scope="module")
def moto_dynamodb() -> Iterator[Any]:
    """moto's DynamoDB in this process (no server: the fast tier), started once per test module; yields a client.

    Per module, not per session: while it runs, ``mock_aws`` patches botocore for the whole process, so it must
    not outlive the module into the tests that talk to the loopback emulator.
    """
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def moto_table(moto_dynamodb: Any) -> Iterator[str]:
    """The service's table (:data:`IN_PROCESS_TABLE`) in the in-process DynamoDB, dropped after the test."""
    create_table(moto_dynamodb, IN_PROCESS_TABLE)
    yield IN_PROCESS_TABLE
    moto_dynamodb.delete_table(TableName=IN_PROCESS_TABLE)


def create_outbox_queues(endpoint: str, *, max_receive_count: int = 3) -> dict[str, str]:
    """The outbox queue with a dead-letter queue after ``max_receive_count`` receives; their URLs."""
    sqs = aws_client(endpoint, "sqs")
    dlq_url = sqs.create_queue(QueueName="contact-outbox-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    url = sqs.create_queue(QueueName="contact-outbox", Attributes={"RedrivePolicy": json.dumps(redrive)})["QueueUrl"]
    return {"url": url, "dlq": dlq_url}


INFRA = Path(__file__).resolve().parent / "infra"


#: Modules whose tests share only session fixtures and mostly wait (on a proxy holding a call, on a budget):
#: each test is a scope of its own, so the module's minutes are spread over the workers instead of one.
SPREAD = ("tests/faults/test_brownout.py",)

#: Run first, so their long waits (servers, a browser, Locust, CDK synths, Lambda builds) overlap the rest.
SLOW_FIRST = (INFRA, Path(__file__).resolve().parent / "local")


@pytest.fixture
def built() -> Iterator[list[Components]]:
    """The in-process services a test builds (append them), closed after it."""
    made: list[Components] = []
    yield made
    for components in made:
        components.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/infra is a deployment check (``-m "not deploy"`` leaves them out).

    The deployment checks and the local-stack tests come first (each module's tests stay together and in
    their order): on xdist workers the long ones start while the short ones fill the gaps.
    """
    for item in items:
        if INFRA in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.deploy)

    def rank(item: pytest.Item) -> int:
        parents = Path(str(item.path)).parents
        return next((i for i, folder in enumerate(SLOW_FIRST) if folder in parents), len(SLOW_FIRST))

    items.sort(key=rank)  # stable


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under xdist, each module's tests run on one worker (but :data:`SPREAD`'s), the deployment checks all on one.

    A module's tests share its fixtures (a local stack, a browser, a moto server), so splitting a module
    between workers builds them twice; the deployment checks share session fixtures that are expensive to
    build twice (three CDK synths, two Lambda builds). xdist's own ``--dist loadgroup`` would do this, but
    with pytest 9 its group suffix no longer reaches the node id, so the scheduler is told directly. Its
    default reordering (biggest scope first, by test count) is turned off: a module's count says nothing
    of its time, and the collection already puts the slow ones first.
    """
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class DeployChecksTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/infra/"):
                return "tests/infra"
            module = nodeid.split("::", 1)[0]
            return nodeid if module in SPREAD else module

    return DeployChecksTogether(config, log)


#: The fault suite's accounting, (label, counts) per test: printed once at the end of the run, also when the
#: tests ran on xdist workers (each worker hands its records to the controller when it finishes).
#: ``CONTACT_AWS_CALL_TIMEOUT_MS`` for services the tests run against moto: a loaded test machine's emulator is
#: slow, not browned out, so only the response budget (or a brownout proxy) should cut its calls here.
LOOPBACK_AWS_CALL_TIMEOUT_MS = 4000

_REFUSING: list[socket.socket] = []


def refusing_port() -> int:
    """A loopback port that refuses every connection at once, for the rest of the test run.

    The port stays bound and never listens, so a connection gets a reset and no other process (another worker's
    server, a client's ephemeral port) can be handed it later, as it could a port bound and released at once.
    """
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    if not _REFUSING:
        atexit.register(_release_refusing_ports)
    _REFUSING.append(holder)
    return int(holder.getsockname()[1])


def _release_refusing_ports() -> None:
    while _REFUSING:
        _REFUSING.pop().close()


ACCOUNTING: list[tuple[str, dict[str, int]]] = []
_FIELDS = ("accepted", "delivered", "queued", "parked", "duplicates", "lost")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand the accounting to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_accounting"] = json.dumps(ACCOUNTING)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller: collect a finished worker's accounting."""
    raw = getattr(node, "workeroutput", {}).get("fault_accounting")
    if raw:
        ACCOUNTING.extend((label, counts) for label, counts in json.loads(raw))


#: The SDK call matrix (tests/sandbox/test_sdk_matrix_*.py): (SDK, call) -> passed, failed or skipped, read off
#: each matrix test's reports (on xdist the controller sees every worker's reports through this same hook).
SDK_MATRIX: dict[tuple[str, str], str] = {}
_MATRIX_TESTS = {
    "tests/sandbox/test_sdk_matrix_python.py::test_python_sdk_call": "Python",
    "tests/sandbox/test_sdk_matrix_node.py::test_node_sdk_call": "Node",
}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record one SDK call's outcome: failed if any phase failed, skipped if skipped, else passed."""
    head, _, rest = report.nodeid.partition("[")
    sdk = _MATRIX_TESTS.get(head)
    if sdk is None or not rest:
        return
    key = (sdk, rest.removesuffix("]"))
    if report.failed:
        SDK_MATRIX[key] = "failed"
    elif report.skipped:
        SDK_MATRIX[key] = "skipped"
    elif report.when == "call" and SDK_MATRIX.get(key) != "failed":
        SDK_MATRIX[key] = "passed"


def _sdk_matrix_summary(terminalreporter: Any) -> None:
    """One line per SDK: calls that answered as documented out of the calls run, and any that did not."""
    terminalreporter.section("SDK call matrix (docs/sandbox.md)")
    for sdk in ("Python", "Node"):
        outcomes = {call: outcome for (name, call), outcome in SDK_MATRIX.items() if name == sdk}
        if not outcomes:
            continue
        passed = sum(outcome == "passed" for outcome in outcomes.values())
        share = 100 * passed // len(outcomes)
        terminalreporter.line(f"{sdk} SDK: {passed}/{len(outcomes)} calls answer as Resend documents ({share} %)")
        for call, outcome in sorted(outcomes.items()):
            if outcome != "passed":
                terminalreporter.line(f"  {call}: {outcome}")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the SDK call matrix and the fault suite's accounting, per test and in total (on the controller only)."""
    if hasattr(config, "workerinput"):
        return
    if SDK_MATRIX:
        _sdk_matrix_summary(terminalreporter)
    if not ACCOUNTING:
        return
    terminalreporter.section("fault suite accounting")
    total = dict.fromkeys(_FIELDS, 0)
    for label, counts in sorted(ACCOUNTING):
        terminalreporter.line(f"{label}: " + " ".join(f"{name}={counts.get(name, 0)}" for name in _FIELDS))
        if not label.startswith("concurrency"):
            total = {name: total[name] + counts.get(name, 0) for name in _FIELDS}
    terminalreporter.line("TOTAL (single-request faults): " + " ".join(f"{name}={total[name]}" for name in _FIELDS))
