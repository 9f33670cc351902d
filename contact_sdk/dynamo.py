"""The one DynamoDB table the service uses: its key schema, and how to create it.

Items of every kind (rate-limit counters, used CSRF nonces, idempotency records, delivery
events) share the table, told apart by the prefix of their partition key, and expire through
DynamoDB's TTL on :data:`TTL_ATTRIBUTE` (epoch seconds). DynamoDB deletes expired items lazily
(within about 48 hours), so every reader also checks the attribute itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["PARTITION_KEY", "TTL_ATTRIBUTE", "create_table"]

PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expiresAt"


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
