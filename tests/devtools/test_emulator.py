"""The local AWS emulator keeps DynamoDB's promises under concurrency: a transaction is isolated, writes serialise.

Real DynamoDB isolates a ``TransactWriteItems`` from every other write and serialises the writes to one item.
moto's threaded server does neither by itself: a transaction deep-copies the table for its rollback while
another thread writes to it, and fails with a 500 ("dictionary changed size during iteration"). The local stack,
the load tests and this suite all run on it, so a burst of visitors must not see errors real DynamoDB would
never give.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from contact_sdk.devtools.tables import create_table
from tests.conftest import REGION

pytestmark = pytest.mark.integration

THREADS = 8
CALLS_PER_THREAD = 40


def client(endpoint: str) -> Any:
    """A DynamoDB client with a connection per thread and no retry: a 500 is seen, not retried away."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(max_pool_connections=THREADS, retries={"total_max_attempts": 1}),
    )


def test_concurrent_transactions_and_writes_never_fail(aws: str) -> None:
    """8 threads, each alternating a 3-item transaction and a plain write, 320 calls: every one succeeds."""
    dynamodb = client(aws)
    create_table(dynamodb, "emulator-race")
    failures: list[str] = []

    def work(n: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(CALLS_PER_THREAD):
                try:
                    if i % 2:
                        dynamodb.put_item(TableName="emulator-race", Item={"pk": {"S": f"w#{n}#{i}"}})
                    else:
                        dynamodb.transact_write_items(
                            TransactItems=[
                                {
                                    "Update": {
                                        "TableName": "emulator-race",
                                        "Key": {"pk": {"S": f"t#{n}#{i}#{k}"}},
                                        "UpdateExpression": "ADD hits :one",
                                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                                    }
                                }
                                for k in range(3)
                            ]
                        )
                except Exception as exc:  # noqa: BLE001 - every failure is the finding
                    failures.append(f"{type(exc).__name__}: {exc}")

        return run

    threads = [threading.Thread(target=work(n)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    count = dynamodb.scan(TableName="emulator-race", Select="COUNT")["Count"]
    assert count == THREADS * CALLS_PER_THREAD // 2 * 3 + THREADS * CALLS_PER_THREAD // 2


def _update(table: str, pk: str, *, condition: str | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": {"S": pk}},
        "UpdateExpression": "ADD hits :one SET note = :note",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":note": {"S": "changed"}},
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(aws: str) -> None:
    """The last item's condition fails: the in-place update, the new item and the deletion before it are undone."""
    dynamodb = client(aws)
    create_table(dynamodb, "emulator-rollback")
    for n in range(50):  # items the transaction never addresses, which must come through untouched
        dynamodb.put_item(TableName="emulator-rollback", Item={"pk": {"S": f"other#{n}"}, "n": {"N": str(n)}})
    dynamodb.put_item(TableName="emulator-rollback", Item={"pk": {"S": "kept"}, "hits": {"N": "5"}})
    dynamodb.put_item(TableName="emulator-rollback", Item={"pk": {"S": "doomed"}, "hits": {"N": "1"}})
    before = sorted(
        (item["pk"]["S"], item.get("hits", item.get("n"))["N"])
        for item in dynamodb.scan(TableName="emulator-rollback")["Items"]
    )
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                _update("emulator-rollback", "kept"),
                {"Put": {"TableName": "emulator-rollback", "Item": {"pk": {"S": "new"}, "hits": {"N": "1"}}}},
                {"Delete": {"TableName": "emulator-rollback", "Key": {"pk": {"S": "doomed"}}}},
                _update("emulator-rollback", "missing", condition="attribute_exists(pk)"),
            ]
        )
    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    after = sorted(
        (item["pk"]["S"], item.get("hits", item.get("n"))["N"])
        for item in dynamodb.scan(TableName="emulator-rollback")["Items"]
    )
    assert after == before
    kept = dynamodb.get_item(TableName="emulator-rollback", Key={"pk": {"S": "kept"}})["Item"]
    assert kept == {"pk": {"S": "kept"}, "hits": {"N": "5"}}, "the update in place is undone, attribute by attribute"


def test_a_transaction_that_succeeds_writes_every_item(aws: str) -> None:
    dynamodb = client(aws)
    create_table(dynamodb, "emulator-commit")
    dynamodb.put_item(TableName="emulator-commit", Item={"pk": {"S": "kept"}, "hits": {"N": "5"}})
    dynamodb.transact_write_items(
        TransactItems=[
            _update("emulator-commit", "kept"),
            _update("emulator-commit", "fresh", condition="attribute_not_exists(pk)"),
        ]
    )
    items = {item["pk"]["S"]: item for item in dynamodb.scan(TableName="emulator-commit")["Items"]}
    assert items["kept"]["hits"] == {"N": "6"} and items["kept"]["note"] == {"S": "changed"}
    assert items["fresh"]["hits"] == {"N": "1"}


def test_a_malformed_key_is_refused_as_moto_refuses_it(aws: str) -> None:
    """A key without the table's partition key: moto's own validation error, and nothing written."""
    dynamodb = client(aws)
    create_table(dynamodb, "emulator-malformed")
    with pytest.raises(dynamodb.exceptions.ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                _update("emulator-malformed", "first"),
                {"Update": {**_update("emulator-malformed", "x")["Update"], "Key": {"wrong": {"S": "x"}}}},
            ]
        )
    assert dynamodb.scan(TableName="emulator-malformed")["Items"] == []


# -- the command ---------------------------------------------------------------------------------------------------

EMULATOR = [sys.executable, "-m", "contact_sdk.devtools.local.emulator"]


def test_the_command_listens_on_the_host_it_is_given() -> None:
    """``--host 127.0.0.2 --port 0`` (a loopback address, not the default 127.0.0.1): the emulator says it listens
    there, and moto answers there."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    command = [*EMULATOR, "--host", "127.0.0.2", "--port", "0"]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            listening = re.match(r"moto listening on (http://\S+)", process.stdout.readline())
            assert listening is not None
            url = listening.group(1)
            assert url.startswith("http://127.0.0.2:")
            assert httpx.post(f"{url}/moto-api/reset", timeout=10).status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_the_command_says_why_it_cannot_listen() -> None:
    """A port another program holds: exit 2 and a line naming the address and the reason (werkzeug used to print
    only the reason and exit 1)."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [*EMULATOR, "--host", "127.0.0.1", "--port", str(port)]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"the AWS emulator cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])  # noqa: S104 - the point: refused
def test_the_command_refuses_an_address_beyond_this_machine(host: str) -> None:
    """Its fake credentials open everything it holds: every interface, or another address, is refused before
    anything is bound, exit 2 with the address named."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    command = [*EMULATOR, "--host", host, "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 2
    assert f"--host {host!r} is not a loopback address" in result.stderr
    assert "Traceback" not in result.stderr
