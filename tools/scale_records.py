"""How the operator's submissions commands scale: time, peak memory and DynamoDB reads at 1,000 to 100,000 records.

Usage, from the repository root::

    .venv/bin/python tools/scale_records.py                                   # 1,000, 10,000 and 100,000
    .venv/bin/python tools/scale_records.py --sizes 1000,10000 --json out.json --svg docs/scale-records.svg
    .venv/bin/python tools/scale_records.py --sizes 100000 --no-before        # the indexed commands only

Starts moto's server on loopback in a process of its own (as the tests and the local stack do), and for each
size n:

1. creates the service's table (``contact_sdk.devtools.tables.create_table``: both indexes) and seeds n archived
   submissions spread evenly over the last 30 days, shaped exactly like the runtime's: one record of each state,
   and the delivery record and webhook markers of a delivered email, are written through
   ``DynamoDBSubmissionRecords`` and ``DynamoDBWebhookStore``, read back, and cloned with ``BatchWriteItem``
   (25 items a call, four threads). 70 % sent, 20 % spam, 5 % queued, 3 % parked, 2 % released; every sent or
   released one has a delivery record with two events and their two markers, so the table holds about 3.2 n
   items. One person, ada@example.org, has three of the n (one sent and delivered, one spam, one queued);
2. runs each command in a fresh interpreter (``_measure``, below) and records: the seconds the command took
   (wall clock, against moto on loopback), the peak RSS of that process, and every DynamoDB call it made, as
   seen by its client: requests by operation, items read (``ScannedCount`` of a ``Query`` or ``Scan``, items
   returned by ``GetItem``/``BatchGetItem``), and the read units DynamoDB would bill for them
   (``contact_sdk.devtools.capacity``, from the sizes of what was read; a ``Scan``'s filtered-out items are
   counted at the table's mean item size);
3. runs the same commands as they were before the indexes (a filtered ``Scan``: ``records.py`` at commit
   ``1cc758f``, read with ``git show``) for comparison, unless ``--no-before``.

The commands: ``show`` (Ada's sent submission), ``erase --email ada@example.org`` (checked: six items erased),
``list`` and ``export --format csv --reveal`` over everything and over the last day (checked: the row counts).
``--budget`` seconds bound the run: a size is skipped when the time spent so far, plus the previous size's time
scaled to this size and by 1.5, would pass it (the first size always runs).

On moto every ``Query`` walks the whole table (moto keeps no index: it filters and sorts all items per page),
so moto's seconds grow with the table for every command; the items read are what DynamoDB itself would read.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import copy
import datetime as dt
import importlib.util
import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's package, not an installed one
    sys.path.insert(0, str(ROOT))

from contact_sdk.devtools.arguments import positive_seconds  # noqa: E402
from contact_sdk.devtools.capacity import item_size, read_units, write_units  # noqa: E402

__all__ = ["Measurement", "SeedStats", "main"]

DAY = 86400.0
TABLE = "contact-scale"
PERSON = "ada@example.org"
#: The commit whose records.py read the archive with a filtered Scan.
BEFORE_COMMIT = "1cc758f"
SIZES = (1_000, 10_000, 100_000)
#: The commands measured, as ``(name, argv after "submissions")``; ``{since}``, ``{person}``, ``{show}`` filled in.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("show", ("show", "{show}")),
    ("list 1 day", ("list", "--since", "{since}")),
    ("export 1 day", ("export", "--format", "csv", "--reveal", "--since", "{since}")),
    ("list all", ("list",)),
    ("export all", ("export", "--format", "csv", "--reveal")),
    ("erase", ("erase", "--email", "{person}")),
)
COMMAND_NAMES = tuple(name for name, _ in COMMANDS)
#: The Scan-based commands measured at every size, and above ``--all-before-up-to`` (each reads the whole table).
BEFORE_ALL = tuple(name for name, _ in COMMANDS)
BEFORE_SOME = ("list 1 day", "erase")


@dataclass
class SeedStats:
    """What one size's seeding wrote, and how long it took."""

    records: int
    items: int
    bytes: int
    seconds: float


@dataclass
class Measurement:
    """One command at one size: its time, memory, and what it read."""

    size: int
    command: str
    variant: str  # "indexed" or "before (Scan)"
    seconds: float
    peak_rss_mb: float
    requests: dict[str, int] = field(default_factory=dict)
    items_read: int = 0
    read_units: float = 0.0
    items_written: int = 0
    write_units: int = 0
    rows: int = 0


# --- seeding -------------------------------------------------------------------------------------------------


def _client(endpoint: str) -> Any:
    from contact_sdk.devtools.local.emulator import aws_client  # noqa: PLC0415 - kept out of the measured child's memory

    return aws_client(endpoint, "dynamodb")


def _templates(client: Any, now: float) -> dict[str, dict[str, Any]]:
    """One item of each kind, written by the runtime's own stores, read back: the shapes every clone copies."""
    from contact_sdk.models import ContactSubmission  # noqa: PLC0415 - kept out of the measured child's memory
    from contact_sdk.record import Draft, DynamoDBSubmissionRecords, RecordState, payload_json  # noqa: PLC0415 - kept out of the measured child's memory
    from contact_sdk.webhooks.store import DynamoDBWebhookStore  # noqa: PLC0415 - kept out of the measured child's memory
    from contact_sdk.webhooks.verifier import parse_event  # noqa: PLC0415 - kept out of the measured child's memory

    records = DynamoDBSubmissionRecords(client, TABLE)
    submission = ContactSubmission.model_validate(
        {
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "subject": "About the analytical engine",
            "message": (
                "Hello! I read your notes on the engine and would like to ask about the loops in the third "
                "table. Could we talk next week? I am free on Tuesday and Thursday afternoons."
            ),
            "consent": True,
        }
    )
    plans: dict[str, tuple[RecordState, tuple[RecordState, ...], tuple[str, ...]]] = {
        "sent": (RecordState.RECEIVED, (RecordState.SENT,), ()),
        "spam": (RecordState.SPAM, (), ("honeypot_filled",)),
        "queued": (RecordState.RECEIVED, (RecordState.QUEUED,), ("ProviderServerError",)),
        "parked": (RecordState.RECEIVED, (RecordState.PARKED,), ("ProviderRequestError 403 validation_error",)),
        "released": (RecordState.SPAM, (RecordState.RELEASED,), ("submitted_too_fast",)),
    }
    templates: dict[str, dict[str, Any]] = {}
    for number, (state, (first, moves, reasons)) in enumerate(plans.items(), start=1):
        key = f"contact-{number:016x}" + "0" * 48
        draft = Draft.of(
            submission,
            key=key,
            request_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            client_ip="203.0.113.7",
            state=first,
            now=now,
            reasons=reasons if not moves else (),
        )
        cycle = records.claim(draft).record.cycle
        for to in moves:
            email_id = (
                "4ef9a417-02e9-4d39-ad75-9611e0fcc33c" if to in (RecordState.SENT, RecordState.RELEASED) else None
            )
            payload = payload_json({"to": ["owner@example.com"], "subject": "x"}, key=key) if to == "parked" else None
            records.move(key, to, cycle=cycle, now=now + 1, reasons=reasons, email_id=email_id, payload=payload)
        templates[state] = client.get_item(TableName=TABLE, Key={"pk": {"S": f"archive#{number:016x}"}})["Item"]
    store = DynamoDBWebhookStore(client, TABLE)
    for svix_id, kind in (("msg_template_sent", "email.sent"), ("msg_template_delivered", "email.delivered")):
        body = json.dumps(
            {
                "type": kind,
                "created_at": dt.datetime.fromtimestamp(now + 2, dt.UTC).isoformat(),
                "data": {"email_id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"},
            }
        )
        store.record(parse_event(svix_id, body.encode(), fallback_created_at=0), now=now + 2)
    templates["delivery"] = client.get_item(
        TableName=TABLE, Key={"pk": {"S": "delivery#4ef9a417-02e9-4d39-ad75-9611e0fcc33c"}}
    )["Item"]
    templates["marker"] = client.get_item(TableName=TABLE, Key={"pk": {"S": "webhook#msg_template_sent"}})["Item"]
    for page in client.get_paginator("scan").paginate(TableName=TABLE):  # the templates themselves go
        for item in page["Items"]:
            client.delete_item(TableName=TABLE, Key={"pk": item["pk"]})
    return templates


def _state_of(index: int) -> str:
    share = index % 100
    if share < 70:
        return "sent"
    if share < 90:
        return "spam"
    if share < 95:
        return "queued"
    if share < 98:
        return "parked"
    return "released"


def person_indexes(size: int) -> dict[int, str]:
    """The indexes of Ada's three records among ``size``, and their states (sent, spam, queued)."""
    return {1: "sent", 71 + 100 * ((size // 2) // 100): "spam", 91 + 100 * ((size - 100) // 100): "queued"}


def _number(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


def _clone(template: dict[str, Any], index: int, *, email: str, received: float, expires: float) -> dict[str, Any]:
    """The record ``index``: the template with its own id, key, times, address and email id."""
    item = copy.deepcopy(template)
    identifier = f"{index:016x}"
    key = f"contact-{identifier}" + f"{index:048x}"
    email_id = f"em-{index:08d}"
    item["pk"] = {"S": f"archive#{identifier}"}
    item["submissionId"] = {"S": identifier}
    item["idempotencyKey"] = {"S": key}
    item["keys"] = {"L": [{"S": key}] + ([{"S": key + ".r1"}] if len(item["keys"]["L"]) > 1 else [])}
    item["requestId"] = {"S": f"{index:08x}-4b5a-6978-8796-a5b4c3d2e1f0"}
    item["email"] = {"S": email}
    item["emailNormalized"] = {"S": email.lower()}
    for name in ("receivedAt", "cycleStartedAt"):
        item[name] = _number(received)
    item["updatedAt"] = _number(received + 1)
    item["expiresAt"] = {"N": str(math.ceil(expires))}
    for position, entry in enumerate(item["history"]["L"]):
        entry["M"]["at"] = _number(received + position)
        if "emailId" in entry["M"]:
            entry["M"]["emailId"] = {"S": email_id}
    if "emailId" in item:
        item["emailId"] = {"S": email_id}
    return item


def _delivery_items(templates: dict[str, dict[str, Any]], index: int, *, at: float) -> list[dict[str, Any]]:
    """The delivery record of record ``index``'s email and its two webhook markers."""
    email_id = f"em-{index:08d}"
    delivery = copy.deepcopy(templates["delivery"])
    delivery["pk"] = {"S": f"delivery#{email_id}"}
    delivery["emailId"] = {"S": email_id}
    delivery["updatedAt"] = _number(at)
    items = [delivery]
    for position, event in enumerate(delivery["events"]["L"]):
        svix_id = f"msg_{index:08d}_{position}"
        event["M"]["svixId"] = {"S": svix_id}
        event["M"]["createdAt"] = {"S": dt.datetime.fromtimestamp(at + position, dt.UTC).isoformat()}
        marker = copy.deepcopy(templates["marker"])
        marker["pk"] = {"S": f"webhook#{svix_id}"}
        marker["eventType"] = event["M"]["type"]
        marker["emailId"] = {"S": email_id}
        marker["receivedAt"] = _number(at + position)
        items.append(marker)
    return items


def _items(size: int, templates: dict[str, dict[str, Any]], now: float) -> Iterator[dict[str, Any]]:
    person = person_indexes(size)
    spacing = 30 * DAY / size
    for index in range(size):
        state = person.get(index) or _state_of(index)
        email = PERSON if index in person else f"visitor{index}@example.org"
        received = now - (index + 0.5) * spacing
        yield _clone(templates[state], index, email=email, received=received, expires=now + 30 * DAY)
        if state in ("sent", "released"):
            yield from _delivery_items(templates, index, at=received + 2)


def _batch_write(endpoint: str, batches: Iterator[list[dict[str, Any]]]) -> int:
    client = _client(endpoint)
    written = 0
    for batch in batches:
        pending: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in batch]
        while pending:
            left = client.batch_write_item(RequestItems={TABLE: pending}).get("UnprocessedItems", {})
            pending = list(left.get(TABLE, []))
        written += len(batch)
    return written


def seed(endpoint: str, size: int, now: float) -> tuple[SeedStats, list[dict[str, Any]]]:
    """Create the table and write ``size`` records (and their delivery items); the stats, and Ada's items."""
    from contact_sdk.devtools.tables import create_table  # noqa: PLC0415 - kept out of the measured child's memory

    client = _client(endpoint)
    with contextlib.suppress(Exception):
        client.delete_table(TableName=TABLE)
    create_table(client, TABLE)
    templates = _templates(client, now)
    person = set(person_indexes(size))
    person_items: list[dict[str, Any]] = []
    total_bytes = 0
    count = 0

    def batches() -> Iterator[list[dict[str, Any]]]:
        nonlocal total_bytes, count
        batch: list[dict[str, Any]] = []
        for item in _items(size, templates, now):
            total_bytes += item_size(item)
            count += 1
            pk = item["pk"]["S"]
            ada_record = pk.startswith("archive#") and int(pk.removeprefix("archive#"), 16) in person
            ada_delivery = pk.startswith(("delivery#", "webhook#")) and item.get("emailId") == {"S": "em-00000001"}
            if ada_record or ada_delivery:
                person_items.append(item)
            batch.append(item)
            if len(batch) == 25:
                yield batch
                batch = []
        if batch:
            yield batch

    started = time.perf_counter()
    source = batches()
    lock = _Lock()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(_batch_write, endpoint, lock.guarded(source)) for _ in range(4)]
        written = sum(future.result() for future in futures)
    seconds = time.perf_counter() - started
    if written != count:
        raise RuntimeError(f"wrote {written} items of {count}")
    return SeedStats(records=size, items=count, bytes=total_bytes, seconds=seconds), person_items


class _Lock:
    """Hands batches out of one generator to several threads, one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def guarded(self, source: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        while True:
            with self._lock:
                batch = next(source, None)
            if batch is None:
                return
            yield batch


# --- measuring (in a fresh interpreter per command) ----------------------------------------------------------


class _Calls:
    """Every DynamoDB call of this process, from its clients' own events."""

    def __init__(self, mean_item_bytes: float) -> None:
        self.mean_item_bytes = mean_item_bytes
        self.requests: Counter[str] = Counter()
        self.items_read = 0
        self.read_units = 0.0
        self.items_written = 0
        self.write_units = 0

    def record(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        name = model.name
        self.requests[name] += 1
        if name == "GetItem":  # every GetItem here is strongly consistent
            item = parsed.get("Item")
            self.items_read += item is not None
            self.read_units += read_units(item_size(item) if item else 0, consistent=True)
        elif name == "BatchGetItem":  # eventually consistent, each item rounded on its own
            for items in parsed.get("Responses", {}).values():
                self.items_read += len(items)
                self.read_units += sum(read_units(item_size(item), consistent=False) for item in items)
        elif name == "Query":  # index entries, summed per request
            self.items_read += int(parsed.get("ScannedCount", 0))
            self.read_units += read_units(sum(item_size(i) for i in parsed.get("Items", [])), consistent=False)
        elif name == "Scan":  # every item of the page was read, most of them filtered out
            scanned = int(parsed.get("ScannedCount", 0))
            self.items_read += scanned
            self.read_units += read_units(round(scanned * self.mean_item_bytes), consistent=False)
        elif name == "DeleteItem":
            old = parsed.get("Attributes")
            if old:
                self.items_written += 1
                self.write_units += write_units(item_size(old))


def _before_module() -> Any:
    """records.py as it was before the indexes (the filtered Scan), loaded from git under another name."""
    source = subprocess.run(  # noqa: S603 - our own repository, a fixed revision
        ["git", "show", f"{BEFORE_COMMIT}:contact_sdk/ops/submissions/records.py"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "records_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("records_before", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _run_before(client: Any, argv: Sequence[str], sink: io.TextIOBase) -> int:
    """What the command did before the indexes, with the functions of that commit (same output, to ``sink``)."""
    before = _before_module()
    now = time.time()
    command = argv[0]
    since = before.parse_since(argv[argv.index("--since") + 1], now=now) if "--since" in argv else None
    if command == "show":
        return int(before.find_submission(client, TABLE, argv[1], now=now) is not None)
    if command == "erase":
        return int(before.erase_address(client, TABLE, argv[2]).total)
    found = before.scan_submissions(client, TABLE, now=now, since=since)
    if command == "list":
        for s in found:
            sink.write(f"{s.submission_id:<16}  {s.state:<10}  {s.received_at}  {s.source:<22}  {s.email}\n")
        return len(found)
    found.reverse()
    sink.write(before.export_csv(found, reveal=True))
    return len(found)


#: The read timeout of the measured clients. The operator's own client gives DynamoDB 10 s a call, which moto
#: exceeds on a big table: it sorts every item of the table for every page of a Query or a Scan (DynamoDB reads
#: a page in milliseconds). One attempt, so a retry never doubles what is counted.
MOTO_READ_TIMEOUT = 900


def _moto_client(session: Any, region: str | None = None) -> Any:
    from botocore.config import Config  # noqa: PLC0415 - kept out of the measured child's memory

    # total_max_attempts counts the first try (botocore reads a client's max_attempts as retries after it).
    config = Config(
        connect_timeout=5, read_timeout=MOTO_READ_TIMEOUT, retries={"mode": "standard", "total_max_attempts": 1}
    )
    return session.client("dynamodb", region_name=region, config=config)


def _run_indexed(session: Any, argv: Sequence[str], result: dict[str, Any]) -> int:
    """The command as shipped: ``contact-sdk submissions ...`` with the table named, its output counted; its
    client is the operator's but for the read timeout (:data:`MOTO_READ_TIMEOUT`)."""
    from contact_sdk.ops.cli import main as cli  # noqa: PLC0415 - kept out of the measured child's memory
    from contact_sdk.ops.submissions import command  # noqa: PLC0415 - kept out of the measured child's memory

    command.dynamodb_client = lambda region: _moto_client(session, region)
    out = _CountingSink()
    with contextlib.redirect_stdout(out):
        status = cli(["submissions", *argv, "--table", TABLE])
    if status != 0:
        raise RuntimeError(f"contact-sdk submissions {' '.join(argv)} exited {status}")
    result["output_lines"] = out.lines
    return out.lines


class _CountingSink(io.TextIOBase):
    """Standard output that keeps nothing: it counts lines (and erase's "erased N item(s)")."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)


def measure_child(argv: Sequence[str]) -> int:
    """``_measure``: run one command in this (fresh) interpreter and write what it cost as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--variant", choices=("indexed", "before"), required=True)
    parser.add_argument("--mean-item-bytes", type=float, required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": args.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    import boto3  # noqa: PLC0415 - kept out of the measured child's memory

    boto3.setup_default_session()
    calls = _Calls(args.mean_item_bytes)
    session: Any = boto3.DEFAULT_SESSION
    session.events.register("after-call.dynamodb", calls.record)
    result: dict[str, Any] = {}
    started = time.perf_counter()
    if args.variant == "indexed":
        rows = _run_indexed(session, args.command, result)
    else:
        rows = _run_before(_moto_client(session), args.command, _CountingSink())
    seconds = time.perf_counter() - started
    result.update(
        {
            "seconds": seconds,
            "rows": rows,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "requests": dict(calls.requests),
            "items_read": calls.items_read,
            "read_units": calls.read_units,
            "items_written": calls.items_written,
            "write_units": calls.write_units,
        }
    )
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _measure(
    endpoint: str, size: int, name: str, argv: Sequence[str], *, variant: str, mean_item_bytes: float
) -> Measurement:
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "result.json"
        child = subprocess.run(  # noqa: S603 - this script, by the running interpreter
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "_measure",
                "--endpoint",
                endpoint,
                "--variant",
                variant,
                "--mean-item-bytes",
                str(mean_item_bytes),
                "--result",
                str(result),
                *argv,
            ],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if child.returncode != 0:
            raise RuntimeError(f"measuring {variant} {name} failed:\n{child.stdout}{child.stderr}")
        data = json.loads(result.read_text(encoding="utf-8"))
    return Measurement(
        size=size,
        command=name,
        variant="indexed" if variant == "indexed" else "before (Scan)",
        seconds=data["seconds"],
        peak_rss_mb=data["peak_rss_mb"],
        requests=data["requests"],
        items_read=data["items_read"],
        read_units=data["read_units"],
        items_written=data["items_written"],
        write_units=data["write_units"],
        rows=data["rows"],
    )


def _restore(endpoint: str, items: list[dict[str, Any]]) -> None:
    """Put Ada's items back (after an erase), for the next erase to find."""
    client = _client(endpoint)
    for item in items:
        client.put_item(TableName=TABLE, Item=item)


def run_size(
    endpoint: str,
    size: int,
    *,
    before: Sequence[str],
    report: Callable[[str], None],
    commands: Sequence[str] = COMMAND_NAMES,
) -> tuple[SeedStats, list[Measurement]]:
    """Seed ``size`` records and measure ``commands``, and the Scan predecessors of those of them in ``before``."""
    import httpx  # noqa: PLC0415 - kept out of the measured child's memory

    httpx.post(f"{endpoint}/moto-api/reset").raise_for_status()
    now = time.time()
    stats, person_items = seed(endpoint, size, now)
    report(
        f"n={size:,}: seeded {stats.items:,} items ({stats.bytes / 1e6:.1f} MB) in {stats.seconds:.1f} s "
        f"({stats.items / stats.seconds:,.0f} items/s)"
    )
    since = dt.datetime.fromtimestamp(math.floor(now - DAY), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = {"since": since, "person": PERSON, "show": f"{1:016x}"}
    mean_item_bytes = stats.bytes / stats.items
    measurements = []
    runs = [("indexed", command) for command in COMMANDS if command[0] in commands]
    runs += [("before", command) for command in COMMANDS if command[0] in before and command[0] in commands]
    for variant, (name, template) in runs:
        argv = [part.format(**values) for part in template]
        measurement = _measure(endpoint, size, name, argv, variant=variant, mean_item_bytes=mean_item_bytes)
        _check(measurement, size=size, now=now, since=since)
        measurements.append(measurement)
        report(
            f"  {measurement.variant:<13} {name:<13} {measurement.seconds:8.2f} s  "
            f"{measurement.peak_rss_mb:7.1f} MB  {measurement.items_read:>9,} items read  "
            f"{measurement.read_units:>9,.1f} RCU  {sum(measurement.requests.values()):>6,} requests"
        )
        if name == "erase":
            _restore(endpoint, person_items)
    return stats, measurements


def _expected_rows(size: int, *, now: float, since: str | None) -> int:
    if since is None:
        return size
    start = dt.datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
    spacing = 30 * DAY / size
    return sum(1 for index in range(size) if now - (index + 0.5) * spacing >= start)


def _check(measurement: Measurement, *, size: int, now: float, since: str) -> None:
    """The command did its job: every row there, six items erased."""
    name = measurement.command
    if name == "erase":
        erased = measurement.items_written if measurement.variant == "indexed" else measurement.rows
        if erased != 6:
            raise RuntimeError(f"{measurement.variant} erase erased {erased} items, not Ada's 6")
    elif name != "show":
        expected = _expected_rows(size, now=now, since=since if "1 day" in name else None)
        rows = measurement.rows
        if measurement.variant == "indexed":
            rows -= 2 if name.startswith("list") else 1  # list's header and count lines; the CSV header
        if rows != expected:
            raise RuntimeError(f"{measurement.variant} {name}: {rows} rows, expected {expected}")


# --- report --------------------------------------------------------------------------------------------------


def _order(m: Measurement) -> tuple[int, int, bool]:
    names = [name for name, _ in COMMANDS]
    return m.size, names.index(m.command) if m.command in names else len(names), m.variant == "indexed"


def markdown(seeds: dict[int, SeedStats], measurements: Sequence[Measurement]) -> str:
    """The table for docs/performance.md: by size, then command, the Scan of before above the indexed read."""
    lines = [
        "| n | command | reads through | time (s) | peak RSS (MB) | requests | items read | read units |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in sorted(measurements, key=_order):
        lines.append(
            f"| {m.size:,} | {m.command} | {'indexes' if m.variant == 'indexed' else 'Scan (before)'} | "
            f"{m.seconds:.2f} | {m.peak_rss_mb:.0f} | {sum(m.requests.values()):,} | {m.items_read:,} | "
            f"{m.read_units:,.1f} |"
        )
    lines.append("")
    for size, stats in sorted(seeds.items()):
        lines.append(
            f"- n = {size:,}: {stats.items:,} items, {stats.bytes / 1e6:.1f} MB (mean {stats.bytes / stats.items:.0f} "
            f"bytes), seeded in {stats.seconds:.0f} s ({stats.items / stats.seconds:,.0f} items/s)"
        )
    return "\n".join(lines) + "\n"


def svg(measurements: Sequence[Measurement]) -> str:
    """Two log-log panels, time and items read against n, one line per command and variant."""
    width, height, margin = 460, 300, 58
    series: dict[tuple[str, str], list[Measurement]] = {}
    for m in measurements:
        series.setdefault((m.command, m.variant), []).append(m)
    colours = {
        "show": "#1b9e77",
        "erase": "#d95f02",
        "list all": "#7570b3",
        "export all": "#e7298a",
        "list 1 day": "#66a61e",
        "export 1 day": "#e6ab02",
    }
    sizes = sorted({m.size for m in measurements})

    def panel(x0: int, title: str, value: Callable[[Measurement], float], unit: str) -> list[str]:
        values = [max(value(m), 1e-3) for m in measurements]
        low = 10 ** math.floor(math.log10(min(values)))
        high = 10 ** math.ceil(math.log10(max(values)))
        n_low, n_high = math.log10(sizes[0]), math.log10(sizes[-1]) if len(sizes) > 1 else math.log10(sizes[0]) + 1

        def x(n: float) -> float:
            return x0 + margin + (math.log10(n) - n_low) / (n_high - n_low) * (width - margin - 20)

        def y(v: float) -> float:
            top, bottom = 30, height - 40
            return bottom - (math.log10(max(v, 1e-3)) - math.log10(low)) / (math.log10(high) - math.log10(low)) * (
                bottom - top
            )

        parts = [
            f'<text x="{x0 + width / 2:.0f}" y="18" text-anchor="middle" font-weight="bold">{title}</text>',
            f'<line x1="{x0 + margin}" y1="{height - 40}" x2="{x0 + width - 20}" y2="{height - 40}" stroke="#333"/>',
            f'<line x1="{x0 + margin}" y1="30" x2="{x0 + margin}" y2="{height - 40}" stroke="#333"/>',
            f'<text x="{x0 + width / 2:.0f}" y="{height - 8}" text-anchor="middle">archived submissions (n)</text>',
            f'<text x="{x0 + 14}" y="{height / 2:.0f}" text-anchor="middle" '
            f'transform="rotate(-90 {x0 + 14} {height / 2:.0f})">{unit}</text>',
        ]
        for n in sizes:
            parts.append(f'<text x="{x(n):.1f}" y="{height - 26}" text-anchor="middle">{n:,}</text>')
        decade = low
        while decade <= high:
            parts.append(
                f'<text x="{x0 + margin - 4}" y="{y(decade) + 4:.1f}" text-anchor="end">{decade:g}</text>'
                f'<line x1="{x0 + margin}" y1="{y(decade):.1f}" x2="{x0 + width - 20}" y2="{y(decade):.1f}" '
                'stroke="#ddd"/>'
            )
            decade *= 10
        for (command, variant), unordered in sorted(series.items()):
            points = sorted(unordered, key=lambda m: m.size)
            path = " ".join(f"{x(m.size):.1f},{y(value(m)):.1f}" for m in points)
            dash = ' stroke-dasharray="5,4"' if variant != "indexed" else ""
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colours.get(command, "#666")}" '
                f'stroke-width="2"{dash}/>'
            )
        return parts

    body = [
        *panel(0, "time on moto", lambda m: m.seconds, "seconds"),
        *panel(width, "items read (what DynamoDB reads)", lambda m: float(m.items_read), "items"),
    ]
    legend_y = height + 8
    for row, command in enumerate(colours):
        lx = 20 + (row % 3) * 300
        ly = legend_y + (row // 3) * 18
        body.append(
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="{colours[command]}" stroke-width="2"/>'
            f'<text x="{lx + 30}" y="{ly + 4}">{command}</text>'
        )
    body.append(
        f'<text x="20" y="{legend_y + 44}">solid: through the indexes; dashed: the filtered Scan before them</text>'
    )
    total_height = legend_y + 56
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{total_height}" '
        f'viewBox="0 0 {2 * width} {total_height}" font-family="sans-serif" font-size="11">\n'
        f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )


def main(argv: Sequence[str] | None = None, *, clock: Callable[[], float] = time.monotonic) -> int:
    """Measure every size asked for; print the table; write the JSON and the plot when asked.

    ``clock`` (monotonic seconds) is what ``--budget`` is spent on.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["_measure"]:
        return measure_child(arguments[1:])
    parser = argparse.ArgumentParser(prog="tools/scale_records.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="comma-separated record counts")
    parser.add_argument("--no-before", action="store_true", help="skip the Scan-based commands of before")
    names = [name for name, _ in COMMANDS]
    parser.add_argument(
        "--commands",
        default=",".join(names),
        help=f"comma-separated, of: {', '.join(names)} (default: all)",
    )
    parser.add_argument(
        "--all-before-up-to",
        type=int,
        default=10_000,
        help="above this n, of the Scan-based commands only erase and 'list 1 day' (every one reads the whole table)",
    )
    parser.add_argument(
        "--budget",
        type=positive_seconds,
        default=3 * 3600,
        help="seconds the whole run may take (default 10800: 3 hours)",
    )
    parser.add_argument("--json", type=Path, help="write the measurements here (read again with --from-json)")
    parser.add_argument(
        "--from-json",
        type=Path,
        action="append",
        help="measure nothing: report these measurements (--json files; repeat to merge several runs)",
    )
    parser.add_argument("--svg", type=Path, help="write the plot here")
    args = parser.parse_args(arguments)
    try:
        sizes = sorted({int(part) for part in args.sizes.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--sizes: expected comma-separated whole numbers, got {args.sizes!r}")
    if not sizes or min(sizes) < 300:
        parser.error("--sizes: each size must be at least 300 (Ada's three records are spread over hundreds)")
    commands = [part.strip() for part in args.commands.split(",") if part.strip()]
    unknown = sorted(set(commands) - set(names))
    if unknown or not commands:
        parser.error(f"--commands: {', '.join(unknown) or 'none given'}: not among {', '.join(names)}")
    seeds: dict[int, SeedStats] = {}
    measurements: list[Measurement] = []
    if args.from_json:
        for path in args.from_json:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                seeds.update({int(k): SeedStats(**v) for k, v in data["seeds"].items()})
                measurements += [Measurement(**m) for m in data["measurements"]]
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                parser.error(
                    f"--from-json {path}: not a file this tool wrote with --json ({type(exc).__name__}: {exc})"
                )
    else:
        from contact_sdk.devtools.local.emulator import running_emulator  # noqa: PLC0415 - kept out of the measured child's memory

        started = clock()
        with running_emulator() as endpoint:
            previous: tuple[int, float] | None = None
            for size in sizes:
                spent = clock() - started
                if previous is not None:
                    # Mostly linear on moto (per item read), plus its walk of the whole table for every page.
                    projected = 1.5 * previous[1] * size / previous[0]
                    if spent + projected > args.budget:
                        print(f"n={size:,}: skipped, projected {projected:,.0f} s past the budget", file=sys.stderr)
                        continue
                size_started = clock()
                before = () if args.no_before else BEFORE_ALL if size <= args.all_before_up_to else BEFORE_SOME
                stats, found = run_size(
                    endpoint, size, before=before, commands=commands, report=lambda line: print(line, flush=True)
                )
                seeds[size] = stats
                measurements.extend(found)
                previous = (size, clock() - size_started)
                if args.json is not None:  # after each size: a long run that stops keeps what it measured
                    args.json.write_text(
                        json.dumps(
                            {
                                "seeds": {str(k): asdict(v) for k, v in seeds.items()},
                                "measurements": [asdict(m) for m in measurements],
                            },
                            indent=1,
                        ),
                        encoding="utf-8",
                    )
    print(markdown(seeds, measurements))
    if args.svg is not None:
        args.svg.write_text(svg(measurements), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
