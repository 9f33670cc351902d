"""What the submissions commands read: only the range, the address or the id asked for, lazily, against moto.

Every DynamoDB call the code under test makes is recorded at the client (operation, and what came back), so a
test can say how many requests and how many items a command cost; expected ids and counts are written out by
hand. Erasure is judged by scanning the whole table afterwards, independently of the code under test.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from contact_sdk.dynamo import EMAIL_INDEX, TIME_INDEX
from contact_sdk.ops.submissions import records
from contact_sdk.ops.submissions.records import ArchivedSubmission, iter_submissions
from contact_sdk.record import DynamoDBSubmissionRecords, RecordState
from contact_sdk.webhooks.store import DynamoDBWebhookStore
from contact_sdk.webhooks.verifier import parse_event
from tests.conftest import aws_client
from tests.ops.test_submissions_command import form, key, seed

DAY = 86400
HOUR = 3600


@dataclass
class Wire:
    """Every call a client made: the operation, and what DynamoDB answered."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, parsed))

    def operations(self) -> Counter[str]:
        """How many calls of each operation."""
        return Counter(name for name, _ in self.calls)

    def index_items(self) -> int:
        """How many index entries the ``Query`` calls read (what DynamoDB bills them for)."""
        return sum(int(parsed.get("ScannedCount", 0)) for name, parsed in self.calls if name == "Query")

    def fetched(self) -> int:
        """How many items ``GetItem`` and ``BatchGetItem`` returned."""
        total = 0
        for name, parsed in self.calls:
            if name == "GetItem":
                total += "Item" in parsed
            elif name == "BatchGetItem":
                total += sum(len(items) for items in parsed.get("Responses", {}).values())
        return total

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def dynamodb(aws: str) -> Any:
    """A DynamoDB client on the emulator."""
    return aws_client(aws, "dynamodb")


@pytest.fixture
def wire(dynamodb: Any) -> Wire:
    """The client's calls, from now on."""
    recorded = Wire()
    dynamodb.meta.events.register("after-call.dynamodb", recorded.record)
    return recorded


def noise(dynamodb: Any, table: str, count: int) -> None:
    """Items of other kinds, as many as ``count`` of each: rate-limit counters, used nonces, delivery records."""
    expires = {"N": str(int(time.time()) + DAY)}
    for number in range(count):
        for item in (
            {"pk": {"S": f"rate#submit#198.51.100.{number}"}, "w1764547200": {"N": "1"}, "expiresAt": expires},
            {"pk": {"S": f"csrf#nonce{number:04d}"}, "expiresAt": expires},
            {"pk": {"S": f"delivery#em-other-{number}"}, "emailId": {"S": f"em-other-{number}"}, "expiresAt": expires},
        ):
            dynamodb.put_item(TableName=table, Item=item)


def delivered(dynamodb: Any, table: str, svix_id: str, email_id: str, *, at: float) -> None:
    """Resend's email.delivered for ``email_id`` at ``at``, recorded by the service's webhook store."""
    body = json.dumps(
        {
            "type": "email.delivered",
            "created_at": dt.datetime.fromtimestamp(at, dt.UTC).isoformat(),
            "data": {"email_id": email_id},
        }
    )
    DynamoDBWebhookStore(dynamodb, table).record(parse_event(svix_id, body.encode(), fallback_created_at=0), now=at)


def people(dynamodb: Any, table: str, count: int, *, now: float) -> None:
    """``count`` other people's sent and delivered submissions: the first recorded by the service's stores, the rest
    copies of its record, delivery record and webhook marker under their own keys, addresses and email ids (written
    25 to a request, so hundreds of people cost seconds, not minutes)."""
    seed(dynamodb, table, 100, RecordState.SENT, submission=form(email="p100@example.org"), email_id="em-100")
    delivered(dynamodb, table, "msg_100", "em-100", at=now)
    stored = everything(dynamodb, table)
    record, delivery, marker = stored["archive#0000000000000064"], stored["delivery#em-100"], stored["webhook#msg_100"]
    copies: list[dict[str, Any]] = []
    for number in range(101, 100 + count):
        identifier = f"{number:016x}"
        copies.append(
            record
            | {
                "pk": {"S": f"archive#{identifier}"},
                "submissionId": {"S": identifier},
                "idempotencyKey": {"S": key(number)},
                "keys": {"L": [{"S": key(number)}]},
                "email": {"S": f"p{number}@example.org"},
                "emailNormalized": {"S": f"p{number}@example.org"},
                "emailId": {"S": f"em-{number}"},
                "history": {"L": []},
            }
        )
        events = [{"M": delivery["events"]["L"][0]["M"] | {"svixId": {"S": f"msg_{number}"}}}]
        copies.append(
            delivery | {"pk": {"S": f"delivery#em-{number}"}, "emailId": {"S": f"em-{number}"}, "events": {"L": events}}
        )
        copies.append(marker | {"pk": {"S": f"webhook#msg_{number}"}, "emailId": {"S": f"em-{number}"}})
    for start in range(0, len(copies), 25):
        batch = [{"PutRequest": {"Item": item}} for item in copies[start : start + 25]]
        assert not dynamodb.batch_write_item(RequestItems={table: batch}).get("UnprocessedItems")


def ids(found: Iterator[ArchivedSubmission]) -> list[str]:
    return [submission.submission_id for submission in found]


# --- list and export ----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_range_reads_only_the_records_in_it(contact_table: str, dynamodb: Any, wire: Wire) -> None:
    """Twelve records a day apart (in four states) and 90 other items: [7 days ago, 3 days ago) costs four index
    entries and four records, newest first, and no Scan; its start is part of it, its end is not."""
    now = time.time()
    states = (RecordState.SENT, RecordState.SPAM, RecordState.QUEUED, RecordState.PARKED)
    for number in range(1, 13):
        seed(dynamodb, contact_table, number, states[number % 4], at=now - number * DAY)
    noise(dynamodb, contact_table, 30)
    wire.clear()
    found = ids(iter_submissions(dynamodb, contact_table, now=now, since=now - 7 * DAY, until=now - 3 * DAY))
    assert found == ["0000000000000004", "0000000000000005", "0000000000000006", "0000000000000007"]
    operations = wire.operations()
    assert "Scan" not in operations
    assert operations["Query"] == 6  # one per state: received, sent, queued, parked, spam, released
    assert wire.index_items() == 4
    assert wire.fetched() == 4  # the records; none of them has an email id, so no delivery records


@pytest.mark.integration
def test_newest_first_and_oldest_first_merge_the_states_in_time_order(contact_table: str, dynamodb: Any) -> None:
    """Records of five states with interleaved times come out in exact time order both ways."""
    now = time.time()
    plan = [
        (1, RecordState.SENT, 50),
        (2, RecordState.SPAM, 40),
        (3, RecordState.SENT, 30),
        (4, RecordState.QUEUED, 20),
        (5, RecordState.RELEASED, 10),
        (6, RecordState.PARKED, 5),
    ]
    for number, state, minutes_ago in plan:
        seed(dynamodb, contact_table, number, state, at=now - minutes_ago * 60)
    newest = ids(iter_submissions(dynamodb, contact_table, now=now))
    assert newest == [f"{n:016x}" for n in (6, 5, 4, 3, 2, 1)]
    oldest = ids(iter_submissions(dynamodb, contact_table, now=now, newest_first=False))
    assert oldest == [f"{n:016x}" for n in (1, 2, 3, 4, 5, 6)]


@pytest.mark.integration
def test_a_state_filter_reads_that_state_only(contact_table: str, dynamodb: Any, wire: Wire) -> None:
    """--state spam is one Query of the spam part of the index: the sent records are never read."""
    now = time.time()
    for number in range(1, 7):
        seed(dynamodb, contact_table, number, RecordState.SPAM if number <= 2 else RecordState.SENT, at=now - number)
    wire.clear()
    assert ids(iter_submissions(dynamodb, contact_table, now=now, state="spam")) == [
        "0000000000000001",
        "0000000000000002",
    ]
    assert wire.operations()["Query"] == 1
    assert (wire.index_items(), wire.fetched()) == (2, 2)


@pytest.mark.integration
def test_delivered_is_looked_for_among_sent_and_released(contact_table: str, dynamodb: Any) -> None:
    """A sent submission whose email Resend delivered lists as delivered; --state sent no longer lists it."""
    now = time.time()
    seed(dynamodb, contact_table, 1, RecordState.SENT, at=now - 60, email_id="em-1")
    seed(dynamodb, contact_table, 2, RecordState.SENT, at=now - 30, email_id="em-2")
    delivered(dynamodb, contact_table, "msg_1", "em-1", at=now - 50)
    assert ids(iter_submissions(dynamodb, contact_table, now=now, state="delivered")) == ["0000000000000001"]
    assert ids(iter_submissions(dynamodb, contact_table, now=now, state="sent")) == ["0000000000000002"]


@pytest.mark.integration
def test_listing_is_lazy_it_holds_one_page_per_state_not_the_archive(
    contact_table: str, dynamodb: Any, wire: Wire
) -> None:
    """With 5 keys a page and 5 records a batch, the first of 40 sent submissions arrives after one page of each
    state and one batch: 5 index entries and 5 records read, not 40."""
    now = time.time()
    for number in range(1, 41):
        seed(dynamodb, contact_table, number, RecordState.SENT, at=now - number)
    wire.clear()
    found = iter_submissions(dynamodb, contact_table, now=now, page_size=5, batch_size=5)
    assert wire.calls == []  # nothing is read before the first submission is asked for
    assert next(found).submission_id == "0000000000000001"
    assert wire.operations() == Counter({"Query": 6, "BatchGetItem": 1})
    assert (wire.index_items(), wire.fetched()) == (5, 5)
    rest = ids(found)
    assert rest == [f"{n:016x}" for n in range(2, 41)]
    assert wire.index_items() == 40


@pytest.mark.integration
def test_a_submission_that_changes_state_while_listed_is_listed_once(contact_table: str, dynamodb: Any) -> None:
    """Queued X is read from the queued part of the index, then moves to sent before the sent part reaches it:
    both parts name it, the listing shows it once, as it is now."""
    now = time.time()
    seed(dynamodb, contact_table, 1, RecordState.SENT, at=now - 10)  # A, newest
    seed(dynamodb, contact_table, 2, RecordState.QUEUED, at=now - 20)  # X
    seed(dynamodb, contact_table, 3, RecordState.SENT, at=now - 30)  # B
    found = iter_submissions(dynamodb, contact_table, now=now, page_size=1, batch_size=1)
    first = next(found)
    DynamoDBSubmissionRecords(dynamodb, contact_table).move(
        key(2), RecordState.SENT, cycle=None, now=now, email_id="em-x"
    )
    rest = list(found)
    assert [s.submission_id for s in (first, *rest)] == ["0000000000000001", "0000000000000002", "0000000000000003"]
    assert rest[0].state == "sent"


@pytest.mark.integration
def test_a_range_that_ends_before_it_starts_is_refused_before_any_read(
    contact_table: str, dynamodb: Any, wire: Wire
) -> None:
    """since after until, or an unknown state: ValueError at once, nothing read."""
    with pytest.raises(ValueError, match="starts after it ends"):
        iter_submissions(dynamodb, contact_table, now=time.time(), since=200.0, until=100.0)
    with pytest.raises(ValueError, match="is not a state"):
        iter_submissions(dynamodb, contact_table, now=time.time(), state="lost")
    with pytest.raises(ValueError, match="batch_size"):
        iter_submissions(dynamodb, contact_table, now=time.time(), batch_size=101)
    assert wire.calls == []


def submission(number: int) -> ArchivedSubmission:
    """A submission as the reader builds it (for the writers, which need no table)."""
    return ArchivedSubmission(
        submission_id=f"{number:016x}",
        idempotency_key=key(number),
        request_id=f"req-{number}",
        state="sent",
        reasons=(),
        received_at=1_764_547_200.0 + number,
        updated_at=1_764_547_200.0 + number,
        expires_at=1_767_139_200.0,
        source="203.0.113.7",
        name="Ada Lovelace",
        email="ada@example.org",
        subject=None,
        message="Hello, I would like to talk about the engine.",
        email_id=None,
    )


class Pulls:
    """A source of submissions that notes, at each pull, how much of the output was written already."""

    def __init__(self, count: int, stream: io.StringIO) -> None:
        self.count = count
        self.stream = stream
        self.written_at_pull: list[int] = []

    def __iter__(self) -> Iterator[ArchivedSubmission]:
        for number in range(1, self.count + 1):
            self.written_at_pull.append(self.stream.getvalue().count("\n"))
            yield submission(number)


@pytest.mark.parametrize(
    ("write", "lines_before_first"),
    [(records.write_csv, 1), (records.write_jsonl, 0)],
)
def test_exports_write_each_row_before_asking_for_the_next(write: Any, lines_before_first: int) -> None:
    """CSV (after its header) and JSON Lines are written row by row: when submission k is pulled, the k-1 before it
    are in the output already, so nothing holds the export in memory."""
    stream = io.StringIO(newline="")
    source = Pulls(5, stream)
    assert write(iter(source), stream, reveal=False) == 5
    assert source.written_at_pull == [lines_before_first + k for k in range(5)]


def test_a_json_array_is_written_element_by_element_and_parses_back() -> None:
    """write_json_array writes what json.dumps(indent=2) would, one element at a time; empty is []."""
    import json

    stream = io.StringIO()
    documents = [{"id": "a", "n": [1, 2]}, {"id": "b", "text": "line\nbreak é"}]
    pulled: list[int] = []

    def source() -> Iterator[dict[str, Any]]:
        for document in documents:
            pulled.append(len(stream.getvalue()))
            yield document

    assert records.write_json_array(source(), stream) == 2
    assert stream.getvalue() == json.dumps(documents, indent=2, ensure_ascii=False) + "\n"
    assert pulled[0] == 0 and pulled[1] > 0
    empty = io.StringIO()
    assert records.write_json_array(iter(()), empty) == 0
    assert empty.getvalue() == "[]\n"


class Throttling:
    """A DynamoDB client whose BatchGetItem serves only ``served[i]`` keys on its i-th call (all once past the list)
    and returns the rest as UnprocessedKeys, as DynamoDB does when throttled."""

    def __init__(self, served: list[int]) -> None:
        self.served = served
        self.batch_calls = 0

    def query(self, **request: Any) -> dict[str, Any]:
        if request["ExpressionAttributeValues"][":state"]["S"] != "spam":
            return {"Items": []}
        return {"Items": [{"pk": {"S": f"archive#{n:016x}"}, "receivedAt": {"N": str(100 - n)}} for n in (1, 2, 3)]}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        [(table, request)] = RequestItems.items()
        keys = request["Keys"]
        count = self.served[self.batch_calls] if self.batch_calls < len(self.served) else len(keys)
        self.batch_calls += 1
        answer: dict[str, Any] = {"Responses": {table: [_record_item(k["pk"]["S"]) for k in keys[:count]]}}
        if keys[count:]:
            answer["UnprocessedKeys"] = {table: {"Keys": keys[count:]}}
        return answer


def _record_item(pk: str) -> dict[str, Any]:
    number = int(pk.removeprefix("archive#"), 16)
    return {
        "pk": {"S": pk},
        "submissionId": {"S": pk.removeprefix("archive#")},
        "idempotencyKey": {"S": key(number)},
        "state": {"S": "spam"},
        "name": {"S": "Ada"},
        "email": {"S": "ada@example.org"},
        "message": {"S": "Hello there, engine."},
        "receivedAt": {"N": str(100 - number)},
    }


def test_keys_dynamodb_leaves_unprocessed_are_asked_for_again_with_growing_waits() -> None:
    """Two throttled answers: the keys left are asked for again (waits 0.1 s, 0.2 s), all three come out in order."""
    client = Throttling(served=[1, 1])
    waits: list[float] = []
    found = iter_submissions(client, "t", now=0.0, state="spam", sleep=waits.append)  # type: ignore[arg-type]
    assert ids(found) == ["0000000000000001", "0000000000000002", "0000000000000003"]
    assert waits == [0.1, 0.2]
    assert client.batch_calls == 3


def test_a_batch_still_throttled_after_every_try_is_an_error_not_a_short_list() -> None:
    """DynamoDB serves one key and never the other two: ArchiveUnreadable saying so, after eight tries."""
    client = Throttling(served=[1] + [0] * 20)
    waits: list[float] = []
    found = iter_submissions(client, "t", now=0.0, state="spam", sleep=waits.append)  # type: ignore[arg-type]
    with pytest.raises(records.ArchiveUnreadable, match="left 2 of 3 keys unread after 8 tries"):
        list(found)
    assert len(waits) == 7


# --- show ---------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_show_is_two_gets_whatever_the_table_holds(contact_table: str, dynamodb: Any, wire: Wire) -> None:
    """One record among fifty and 60 other items: show reads the record and its delivery record, nothing else."""
    now = time.time()
    for number in range(1, 51):
        seed(dynamodb, contact_table, number, RecordState.SENT, at=now - number, email_id=f"em-{number}")
    delivered(dynamodb, contact_table, "msg_7", "em-7", at=now)
    noise(dynamodb, contact_table, 20)
    wire.clear()
    shown = records.find_submission(dynamodb, contact_table, "0000000000000007", now=now)
    assert shown is not None and shown.state == "delivered"
    assert wire.operations() == Counter({"GetItem": 2})


# --- erase --------------------------------------------------------------------------------------------------


def everything(dynamodb: Any, table: str) -> dict[str, dict[str, Any]]:
    """The whole table, by partition key (a Scan of our own: the independent reading)."""
    pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    return {item["pk"]["S"]: item for page in pages for item in page["Items"]}


@pytest.mark.integration
@pytest.mark.parametrize("others", [10, 200])
def test_erase_reads_that_persons_items_only(contact_table: str, dynamodb: Any, wire: Wire, others: int) -> None:
    """Ada's two records (one sent, delivered, with two webhook markers) among 10 or 200 other people's records with
    their deliveries: the same calls and the same items read whatever the others' number (O(her submissions), not
    O(the table)): one Query, a GetItem per record, ledger key and email, a delete per item."""
    now = time.time()
    seed(dynamodb, contact_table, 1, RecordState.SENT, submission=form(email="ada@example.org"), email_id="em-ada")
    delivered(dynamodb, contact_table, "msg_ada_1", "em-ada", at=now)
    delivered(dynamodb, contact_table, "msg_ada_2", "em-ada", at=now + 1)
    seed(dynamodb, contact_table, 2, RecordState.SPAM, submission=form(email="ada@example.org", message="Again, hi."))
    people(dynamodb, contact_table, others, now=now)
    before = everything(dynamodb, contact_table)
    assert sum(pk.startswith("archive#") for pk in before) == 2 + others
    assert sum(pk.startswith("webhook#") for pk in before) == 2 + others
    wire.clear()

    report = records.erase_address(dynamodb, contact_table, "ada@example.org")

    assert report.archive == ("archive#0000000000000001", "archive#0000000000000002")
    assert report.deliveries == ("delivery#em-ada",)
    assert report.webhook_markers == ("webhook#msg_ada_1", "webhook#msg_ada_2")
    operations = wire.operations()
    assert "Scan" not in operations
    # 2 records + 2 ledger keys (none there) + 1 delivery record; 2 markers + 1 delivery + 2 records deleted.
    assert operations == Counter({"Query": 1, "GetItem": 5, "DeleteItem": 5})
    assert wire.index_items() == 2
    assert wire.fetched() == 3  # her two records and her one delivery record: nobody else's item is read
    after = everything(dynamodb, contact_table)
    assert set(before) - set(after) == {
        "archive#0000000000000001",
        "archive#0000000000000002",
        "delivery#em-ada",
        "webhook#msg_ada_1",
        "webhook#msg_ada_2",
    }
    assert all(after[pk] == before[pk] for pk in after)  # nobody else's item changed


@pytest.mark.integration
def test_records_written_before_the_indexes_existed_are_listed_and_erased(aws: str, dynamodb: Any) -> None:
    """A table made the old way (no index), a record as the first archive wrote it; the indexes are added one per
    update as the stack's upgrade does: the record is listed, shown and erased, with no backfill of ours."""
    table = "contact-before-indexes"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    now = time.time()
    identifier = "00000000000000a1"
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"archive#{identifier}"},
            "submissionId": {"S": identifier},
            "idempotencyKey": {"S": key(0xA1)},
            "requestId": {"S": "req-old"},
            "state": {"S": "sent"},
            "receivedAt": {"N": repr(now - 2 * DAY)},
            "updatedAt": {"N": repr(now - 2 * DAY)},
            "source": {"S": "203.0.113.7"},
            "name": {"S": "Ada Lovelace"},
            "email": {"S": "Ada@Example.org"},
            "emailNormalized": {"S": "ada@example.org"},
            "message": {"S": "Written before the indexes."},
            "history": {"L": [{"M": {"state": {"S": "sent"}, "at": {"N": repr(now - 2 * DAY)}}}]},
            "expiresAt": {"N": str(int(now + 28 * DAY))},
        },
    )
    with pytest.raises(Exception, match=TIME_INDEX):
        list(iter_submissions(dynamodb, table, now=now))
    for name, schema, definitions in (
        (EMAIL_INDEX, [("emailNormalized", "HASH")], [("emailNormalized", "S")]),
        (TIME_INDEX, [("state", "HASH"), ("receivedAt", "RANGE")], [("state", "S"), ("receivedAt", "N")]),
    ):
        dynamodb.update_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in definitions],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": name,
                        "KeySchema": [{"AttributeName": a, "KeyType": k} for a, k in schema],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                }
            ],
        )
    assert ids(iter_submissions(dynamodb, table, now=now, since=now - 3 * DAY)) == [identifier]
    assert records.erase_address(dynamodb, table, "ada@example.org").archive == (f"archive#{identifier}",)
    assert everything(dynamodb, table) == {}
