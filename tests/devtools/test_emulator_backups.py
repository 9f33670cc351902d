"""The emulator's transaction backups, in process (moto's ``mock_aws``): every kind of table, every path.

``tests/devtools/test_emulator.py`` checks the emulator the stack runs, over HTTP; this module reaches the
branches that table does not have (a sort key, a stream) and looks inside moto's backend to tell which backup a
rollback restored: the cheap one keeps every untouched item as the same object, moto's full copy does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from contact_sdk.devtools.local.emulator import back_up_only_what_a_transaction_touches

REGION = "eu-west-1"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """DynamoDB in process, with the emulator's backups installed, and moto put back afterwards."""
    with mock_aws():
        undo = back_up_only_what_a_transaction_touches()
        try:
            yield boto3.client("dynamodb", region_name=REGION)
        finally:
            undo()


def table(client: Any, name: str, *, sort_key: bool = False, stream: bool = False) -> None:
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": "S"})
    extra: dict[str, Any] = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    client.create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        **(extra if stream else {}),
    )


def key(pk: str, sk: str | None) -> dict[str, Any]:
    return {"pk": {"S": pk}, **({"sk": {"S": sk}} if sk is not None else {})}


def moto_items(name: str) -> dict[tuple[str, str | None], Any]:
    """The Item objects moto holds for ``name``, by key (identity tells a shallow backup from a deep copy)."""
    stored = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[name]
    out: dict[tuple[str, str | None], Any] = {}
    for hash_key, value in stored.items.items():
        if stored.has_range_key:
            for range_key, item in value.items():
                out[(hash_key.value, range_key.value)] = item
        else:
            out[(hash_key.value, None)] = value
    return out


def cancelled_transaction(client: Any, name: str, sk: Callable[[str], str | None]) -> None:
    """Update one item in place, put a new one, delete a third; the last item's condition fails."""
    update = {
        "TableName": name,
        "Key": key("kept", sk("a")),
        "UpdateExpression": "ADD hits :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    failing = {**update, "Key": key("missing", sk("a")), "ConditionExpression": "attribute_exists(pk)"}
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Update": update},
                {"Put": {"TableName": name, "Item": {**key("new", sk("a")), "hits": {"N": "1"}}}},
                {"Delete": {"TableName": name, "Key": key("doomed", sk("a"))}},
                {"Update": failing},
            ]
        )


@pytest.mark.parametrize("sort_key", [False, True], ids=["partition key", "partition and sort key"])
def test_a_rollback_restores_what_it_touched_and_shares_the_rest(dynamodb: Any, sort_key: bool) -> None:
    name = f"backups-{sort_key}"
    table(dynamodb, name, sort_key=sort_key)

    def sk(value: str) -> str | None:
        return value if sort_key else None

    for pk in ("kept", "doomed", *(f"other{n}" for n in range(20))):
        dynamodb.put_item(TableName=name, Item={**key(pk, sk("a")), "hits": {"N": "5"}})
    before = moto_items(name)
    cancelled_transaction(dynamodb, name, sk)
    after = moto_items(name)
    assert after.keys() == before.keys(), "the new item is gone, the deleted one is back"
    assert dynamodb.get_item(TableName=name, Key=key("kept", sk("a")))["Item"]["hits"] == {"N": "5"}
    untouched = [k for k in before if k[0].startswith("other")]
    assert all(after[k] is before[k] for k in untouched), "untouched items were not copied: the cheap backup"
    assert after[("kept", sk("a"))] is not before[("kept", sk("a"))], "the touched item was copied, then restored"


def test_a_table_with_a_stream_keeps_moto_s_full_backup(dynamodb: Any) -> None:
    table(dynamodb, "streamed", stream=True)
    for pk in ("kept", "doomed", "other"):
        dynamodb.put_item(TableName="streamed", Item={**key(pk, None), "hits": {"N": "5"}})
    before = moto_items("streamed")
    cancelled_transaction(dynamodb, "streamed", lambda value: None)
    after = moto_items("streamed")
    assert after.keys() == before.keys()
    assert after[("other", None)] is not before[("other", None)], "moto's own deep copy restored the table"


def test_a_key_moto_refuses_keeps_moto_s_backup_and_its_error(dynamodb: Any) -> None:
    table(dynamodb, "malformed")
    dynamodb.put_item(TableName="malformed", Item={**key("other", None), "hits": {"N": "5"}})
    before = moto_items("malformed")
    good = {"TableName": "malformed", "Key": key("x", None), "UpdateExpression": "SET a = :a"}
    good["ExpressionAttributeValues"] = {":a": {"S": "1"}}
    with pytest.raises(dynamodb.exceptions.ClientError):
        dynamodb.transact_write_items(
            TransactItems=[{"Update": good}, {"Update": {**good, "Key": {"wrong": {"S": "x"}}}}]
        )
    assert moto_items("malformed").keys() == before.keys()


def test_undo_puts_moto_back() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        table(client, "undone")
        client.put_item(TableName="undone", Item={**key("other", None), "hits": {"N": "5"}})
        back_up_only_what_a_transaction_touches()()
        before = moto_items("undone")
        cancelled_transaction(client, "undone", lambda value: None)
        assert moto_items("undone")[("other", None)] is not before[("other", None)], "moto's own backup again"
