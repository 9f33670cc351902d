"""Creating the service's DynamoDB table where no CDK app does: the local stack's emulator and the tests.

Production's table comes from ``infra/`` (the CDK stack); this makes the same key schema, indexes and TTL on moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact_sdk.dynamo import EMAIL_INDEX, PARTITION_KEY, TIME_INDEX, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["create_table"]


def create_table(client: DynamoDBClient, name: str) -> None:
    """Create the table (on-demand, TTL enabled, both indexes) and wait until it is active. For tests and the
    local stack; production creates it through the CDK app."""
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": "emailNormalized", "AttributeType": "S"},
            {"AttributeName": "state", "AttributeType": "S"},
            {"AttributeName": "receivedAt", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": EMAIL_INDEX,
                "KeySchema": [{"AttributeName": "emailNormalized", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": TIME_INDEX,
                "KeySchema": [
                    {"AttributeName": "state", "KeyType": "HASH"},
                    {"AttributeName": "receivedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})  # type: ignore[typeddict-item]
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
