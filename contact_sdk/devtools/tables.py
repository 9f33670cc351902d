"""Creating the service's DynamoDB table where no CDK app does: the local stack's emulator and the tests.

Production's table comes from ``infra/`` (the CDK stack); this makes the same key schema and TTL on moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact_sdk.dynamo import PARTITION_KEY, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["create_table"]


def create_table(client: DynamoDBClient, name: str) -> None:
    """Create the table (on-demand, TTL enabled) and wait until it is active. For tests and the local stack;
    production creates it through the CDK app."""
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})  # type: ignore[typeddict-item]
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
