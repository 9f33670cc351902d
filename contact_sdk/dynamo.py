"""The one DynamoDB table the service uses: its key schema and its two indexes (created by the CDK stack, or for
the local stack and the tests by :mod:`contact_sdk.devtools.tables`).

Items of every kind (rate-limit counters, used CSRF nonces, submission records, delivery events,
webhook markers, the breaker's state) share the table, told apart by the prefix of their partition
key, and expire through DynamoDB's TTL on :data:`TTL_ATTRIBUTE` (epoch seconds). DynamoDB deletes
expired items lazily (within about 48 hours), so every reader also checks the attribute itself.

**Two indexes, both for the operator's commands** (``contact-sdk submissions``); the request path
never reads them. Both are *sparse*: an item is in an index only when it carries the index's key
attributes, and only submission records carry them, so neither index holds a rate-limit counter, a
nonce or a delivery event. Both project the keys only: a few dozen bytes per record, and a state
move writes the time index (its key changes) but never the address index.

- :data:`EMAIL_INDEX` (``archive-by-email``): partition key ``emailNormalized``. Erasing an address
  reads that person's records and nothing else.
- :data:`TIME_INDEX` (``archive-by-state``): partition key ``state``, sort key ``receivedAt``.
  Listing or exporting a time range reads that range of each state (newest or oldest first, in key
  order), and ``--state`` reads one state only. Keyed on the state rather than on one constant: the
  writes spread over six partition keys, and a state filter is a key condition, not a filter.

Every record ever written has both key attributes (the archive wrote them from its first version), so
the indexes need no backfill of ours: DynamoDB indexes the existing items when an index is added.
"""

from __future__ import annotations

__all__ = ["EMAIL_INDEX", "PARTITION_KEY", "TIME_INDEX", "TTL_ATTRIBUTE"]

PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expiresAt"
#: The sparse index of submission records by address (partition key ``emailNormalized``), keys only.
EMAIL_INDEX = "archive-by-email"
#: The sparse index of submission records by state and arrival (``state``, sort key ``receivedAt``), keys only.
TIME_INDEX = "archive-by-state"
