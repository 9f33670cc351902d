"""The one DynamoDB table the service uses: its key schema (created by the CDK stack, or for the local stack
and the tests by :mod:`contact_sdk.devtools.tables`).

Items of every kind (rate-limit counters, used CSRF nonces, submission records, delivery
events) share the table, told apart by the prefix of their partition key, and expire through
DynamoDB's TTL on :data:`TTL_ATTRIBUTE` (epoch seconds). DynamoDB deletes expired items lazily
(within about 48 hours), so every reader also checks the attribute itself.
"""

from __future__ import annotations

__all__ = ["PARTITION_KEY", "TTL_ATTRIBUTE"]

PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expiresAt"
