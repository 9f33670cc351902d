"""Every item the service writes expires: driven through ``lambda_handler`` by several visitors, judged by a Scan.

Whatever a request writes — a rate-limit counter of either route, a used nonce, a submission record, a delivery
record, a webhook marker — must carry ``expiresAt``, or DynamoDB's TTL never removes it and the table grows with
every visitor ever seen. A new kind of item written without one fails here. The bounds per kind are written out
by hand: the 900-second window (a counter lives until the end of the window after its last hit, plus 60 s), the
3,600-second token (its nonce lives as long), 7 days for spam, 30 days for the rest.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from tests.conftest import aws_client
from tests.entrypoint.conftest import Stack, submission
from tests.entrypoint.test_webhooks import SECRET, WEBHOOK_PARAMETER, delivery, signed_event

pytestmark = pytest.mark.integration

DAY = 86400
#: The longest and shortest life of each kind of item after the request that last wrote it, in seconds.
LIFETIMES = {
    "rate": (900 + 60, 2 * 900 + 60),
    "csrf": (3600 - 2, 3600),
    "archive": (7 * DAY, 30 * DAY),
    "delivery": (30 * DAY, 30 * DAY),
    "webhook": (30 * DAY, 30 * DAY),
}


def test_every_item_written_for_visitors_carries_a_ttl_within_its_kinds_bounds(stack: Stack) -> None:
    """Four visitors (IPv4 and IPv6; a sent message and its delivery webhook, spam, a replayed token, a 429): every
    item in the table has a numeric expiresAt, and each kind's lies within the bounds above."""
    stack.put_parameter(WEBHOOK_PARAMETER, SECRET)
    before = time.time()
    sent = stack.submit(submission(), source_ip="203.0.113.10")
    assert sent["statusCode"] == 200
    [email] = stack.sandbox.emails()
    assert stack.call(signed_event(delivery("email.delivered", email["id"])))["statusCode"] == 200
    spam = stack.submit(submission(website="http://spam.example"), source_ip="2001:db8:1:2:3:4:5:6")
    assert spam["statusCode"] == 200
    token = stack.token(source_ip="198.51.100.7")
    first = stack.submit(submission(message="A first message, long enough."), token=token, source_ip="198.51.100.7")
    replay = stack.submit(submission(message="The same token once more."), token=token, source_ip="198.51.100.7")
    assert (first["statusCode"], replay["statusCode"]) == (200, 403)
    statuses = [
        stack.submit(submission(message=f"Message number {n}, long enough."), source_ip="192.0.2.55")["statusCode"]
        for n in range(6)
    ]
    assert statuses == [200, 200, 200, 200, 200, 429]
    after = time.time()

    items = aws_client(stack.aws, "dynamodb").scan(TableName=stack.table)["Items"]
    kinds: Counter[str] = Counter()
    for item in items:
        kind = item["pk"]["S"].split("#", 1)[0]
        kinds[kind] += 1
        assert "N" in item.get("expiresAt", {}), f"{item['pk']['S']} is written without expiresAt: it never expires"
        shortest, longest = LIFETIMES[kind]
        expires = float(item["expiresAt"]["N"])
        assert before + shortest <= expires + 1 and expires <= after + longest + 1, (item["pk"]["S"], expires - after)
    # Every kind a visitor's requests write is here. Two counters per visitor (the token and the submit route);
    # a nonce per accepted token (1 + 1 + 1 + 5: the replay and the 429 spend none); a record per submission (the
    # spam copy of the first message is that submission again, so 1 + 1 + 5).
    assert kinds == Counter({"rate": 8, "csrf": 8, "archive": 7, "delivery": 1, "webhook": 1})
    assert json.loads(replay["body"])["error"]["code"] == "csrf_invalid"
