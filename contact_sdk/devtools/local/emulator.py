"""The local AWS: moto's server in a process of its own, and the resources the stack seeds into it.

The stack runs ``python -m contact_sdk.devtools.local.emulator --host 127.0.0.1 --port 5000`` so the emulator
has its own interpreter (and its own GIL) beside the API. It serves until SIGTERM/SIGINT, or until its
standard input closes, so it never outlives a stack that died without cleaning up.

:func:`seed` creates what the deployed stack creates with the CDK app: a KMS key, the Resend config and
the CSRF secret as SecureStrings encrypted with it, the DynamoDB table, and the outbox queue with its
dead-letter queue (redrive after :data:`MAX_RECEIVE_COUNT` receives).

Example::

    resources = seed("http://127.0.0.1:5000", names=ResourceNames(), resend_config={...}, csrf_secret="...")
    resources.queue_url
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from contact_sdk.devtools.local.serving import POLL_SECONDS
from contact_sdk.devtools.loopback import is_loopback
from contact_sdk.devtools.tables import create_table

__all__ = [
    "MAX_RECEIVE_COUNT",
    "REGION",
    "ResourceNames",
    "SeededResources",
    "aws_client",
    "main",
    "running_emulator",
    "seed",
]

REGION = "eu-west-1"
#: Receives of one outbox message before SQS moves it to the dead-letter queue. As deployed
#: (infra/contact_stack/settings.py): the consumer's hides grow to 5 min per receive, so 450
#: receives ride out a day-long provider outage (docs/guarantees.md).
MAX_RECEIVE_COUNT = 450
#: Credentials the emulator accepts; they can never reach a real account.
FAKE_CREDENTIALS: Mapping[str, str] = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True, slots=True)
class ResourceNames:
    """What the stack calls its resources (the ``local`` twins of the deployed names)."""

    config_parameter: str = "/portfolio/local/resend/api-key"
    csrf_secret_parameter: str = "/portfolio/local/contact/csrf-secret"  # noqa: S105 - a parameter name
    webhook_secret_parameter: str = "/portfolio/local/resend/webhook-secret"  # noqa: S105 - a parameter name
    #: Written only with ``--turnstile`` (one of Cloudflare's test secrets).
    turnstile_secret_parameter: str = "/portfolio/local/contact/turnstile-secret"  # noqa: S105 - a parameter name
    table_name: str = "contact-local"
    queue_name: str = "contact-outbox-local"
    dead_letter_queue_name: str = "contact-outbox-local-dlq"
    key_alias: str = "alias/contact-local"


@dataclass(frozen=True, slots=True)
class SeededResources:
    """Where the seeded resources are."""

    key_id: str
    config_parameter: str
    csrf_secret_parameter: str
    webhook_secret_parameter: str
    table_name: str
    queue_url: str
    dead_letter_queue_url: str


def aws_client(
    endpoint: str,
    service: str,
    *,
    region: str = REGION,
    max_pool_connections: int = 64,
    parameter_validation: bool = True,
    read_timeout: float = 10,
) -> Any:
    """A boto3 client for ``service`` on the emulator, with fake credentials and a pool sized for a threaded server.

    ``parameter_validation=False`` for the clients the local API serves with: the service's own clients skip
    botocore's client-side check (:mod:`contact_sdk.aws`), and the local stack should cost what Lambda does.
    ``read_timeout`` (seconds a call may take) is for the measuring tools: moto sorts a whole table for every page
    of a ``Scan`` or ``Query``, which takes longer than 10 s on a table of hundreds of thousands of items.
    """
    import boto3  # noqa: PLC0415 - boto3 is slow to import; only the stack needs it
    from botocore.config import Config  # noqa: PLC0415

    config = Config(
        max_pool_connections=max_pool_connections,
        connect_timeout=2,
        read_timeout=read_timeout,
        retries={"max_attempts": 2, "mode": "standard"},
        parameter_validation=parameter_validation,
    )
    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint, region_name=region, config=config, **FAKE_CREDENTIALS
    )


def seed(
    endpoint: str,
    *,
    names: ResourceNames,
    resend_config: Mapping[str, Any],
    csrf_secret: str,
    webhook_secret: str,
    region: str = REGION,
) -> SeededResources:
    """Create the key, the three SecureStrings, the table and the queues in the emulator at ``endpoint``."""
    with contextlib.ExitStack() as clients:
        kms, ssm, dynamodb, sqs = (
            clients.enter_context(contextlib.closing(aws_client(endpoint, service, region=region)))
            for service in ("kms", "ssm", "dynamodb", "sqs")
        )
        return _seed(
            kms,
            ssm,
            dynamodb,
            sqs,
            names=names,
            resend_config=resend_config,
            csrf_secret=csrf_secret,
            webhook_secret=webhook_secret,
        )


def _seed(
    kms: Any,
    ssm: Any,
    dynamodb: Any,
    sqs: Any,
    *,
    names: ResourceNames,
    resend_config: Mapping[str, Any],
    csrf_secret: str,
    webhook_secret: str,
) -> SeededResources:
    key_id = kms.create_key(Description="contact-sdk local stack", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=names.key_alias, TargetKeyId=key_id)
    for name, value, description in (
        (names.config_parameter, json.dumps(dict(resend_config)), "Resend config (local stack)"),
        (names.csrf_secret_parameter, csrf_secret, "CSRF signing secret (local stack)"),
        (names.webhook_secret_parameter, webhook_secret, "Resend webhook signing secret (local stack)"),
    ):
        ssm.put_parameter(
            Name=name, Value=value, Type="SecureString", KeyId=key_id, Description=description, Overwrite=True
        )
    create_table(dynamodb, names.table_name)
    dlq_url = sqs.create_queue(
        QueueName=names.dead_letter_queue_name, Attributes={"MessageRetentionPeriod": "1209600"}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)})
    queue_url = sqs.create_queue(
        QueueName=names.queue_name, Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "60"}
    )["QueueUrl"]
    return SeededResources(
        key_id=key_id,
        config_parameter=names.config_parameter,
        csrf_secret_parameter=names.csrf_secret_parameter,
        webhook_secret_parameter=names.webhook_secret_parameter,
        table_name=names.table_name,
        queue_url=queue_url,
        dead_letter_queue_url=dlq_url,
    )


@contextlib.contextmanager
def running_emulator(*, start_timeout: float = 60.0) -> Iterator[str]:
    """This module's server in a process of its own on an ephemeral loopback port; yields its URL, stops it after.

    For the measuring tools (``tools/scale_records.py``): the emulator's work runs beside theirs, not in their
    interpreter.
    """
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "contact_sdk.devtools.local.emulator", "--host", "127.0.0.1", "--port", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                log.seek(0)
                if match := re.search(r"moto listening on (http://\S+)", log.read()):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"the emulator did not start (exit status {process.poll()}): {log.read()[-2000:]}"
                    )
                time.sleep(0.05)
            yield match.group(1)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class OneDynamoDBCallAtATime:
    """WSGI middleware: DynamoDB's requests one at a time, every other service's as they come.

    Real DynamoDB isolates a ``TransactWriteItems`` from every other write and serialises the writes to one
    item. moto's threaded server does neither: a transaction deep-copies the table (its rollback) while other
    threads write to it and fails with a 500, "dictionary changed size during iteration" (186 of them in one
    60 s ``make load`` run, each a fallback the service would never take against DynamoDB), and two conditional
    writes to one item can both pass their condition. One lock around DynamoDB's calls restores both promises
    and costs no throughput (moto's work holds the interpreter's lock anyway). Other services stay concurrent:
    an SQS long poll must not hold up the table.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))  # the whole answer, made under the lock


def back_up_only_what_a_transaction_touches() -> Callable[[], None]:
    """Make moto's ``TransactWriteItems`` cost what the transaction touches, not what the table holds.

    moto backs a transaction up for its rollback by deep-copying every table it touches, once per item: an
    admission (three items) on a table of 3,000 items copied 9,000 items, ~85 ms of the emulator's CPU, and a
    ``make load`` run slowed down as its own table grew (57 ms of emulator CPU per request by the end of a
    60 s run; real DynamoDB's transactions do not slow down with the table). The backup is now a shallow
    copy of the table whose item map is copied by reference, with deep copies of the transaction's own items
    only: every item the transaction does not address is left untouched by it, so the rollback (moto's own
    code, unchanged) restores the same state. A table with a stream keeps moto's full copy (its stream
    records are part of what a rollback restores).

    Installed only where :class:`OneDynamoDBCallAtATime` serialises DynamoDB's calls: the transaction's keys
    are handed to the backup through this process's state. Returns what puts moto back as it was.
    """
    import copy  # noqa: PLC0415
    from collections import defaultdict  # noqa: PLC0415

    from moto.dynamodb import models as dynamodb_models  # noqa: PLC0415 - only this process imports moto
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    backend_class: Any = dynamodb_models.DynamoDBBackend
    original = backend_class.transact_write_items
    touched: dict[int, list[tuple[Any, Any]]] = {}

    def snapshot(table: Any, keys: list[tuple[Any, Any]]) -> Any:
        backup = copy.copy(table)
        if table.has_range_key:
            items: Any = defaultdict(dict, {key: dict(ranges) for key, ranges in table.items.items()})
            for hash_key, range_key in keys:
                if range_key in items.get(hash_key, {}):
                    items[hash_key][range_key] = copy.deepcopy(items[hash_key][range_key])
        else:
            items = defaultdict(dict, table.items)
            for hash_key, _ in keys:
                if hash_key in items:
                    items[hash_key] = copy.deepcopy(items[hash_key])
        backup.items = items
        return backup

    class BackupCopier:
        """``copy`` as moto's DynamoDB module sees it: a touched table's backup is the cheap snapshot."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            keys = touched.get(id(value))
            return copy.deepcopy(value, memo) if keys is None else snapshot(value, keys)

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched.clear()
        full: set[int] = set()  # tables moto backs up itself, in full
        for entry in transact_items:
            op = next(iter(entry.values()), None) if isinstance(entry, dict) else None
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None or not isinstance(op, dict):
                continue
            raw = op.get("Key") or op.get("Item") or {}
            hash_value = raw.get(table.hash_key_attr) if isinstance(raw, dict) else None
            range_value = raw.get(table.range_key_attr) if isinstance(raw, dict) and table.has_range_key else None
            if (
                not isinstance(hash_value, dict)
                or (table.has_range_key and not isinstance(range_value, dict))
                or table.stream_shard is not None
            ):
                full.add(id(table))  # a key moto will refuse (its own error), or stream records to restore
                continue
            key = (DynamoType(hash_value), DynamoType(range_value) if range_value is not None else None)
            touched.setdefault(id(table), []).append(key)
        for table_id in full:
            touched.pop(table_id, None)
        try:
            original(self, transact_items)
        finally:
            touched.clear()

    setattr(dynamodb_models, "copy", BackupCopier())  # noqa: B010 - the module's own name for ``copy``
    backend_class.transact_write_items = transact_write_items

    def undo() -> None:
        setattr(dynamodb_models, "copy", copy)  # noqa: B010
        backend_class.transact_write_items = original

    return undo


def main(argv: Sequence[str] | None = None) -> int:
    """Serve moto on ``--host:--port`` until SIGTERM or SIGINT; 2 when it cannot listen there."""
    parser = argparse.ArgumentParser(prog="python -m contact_sdk.devtools.local.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        # Its fake credentials open everything it holds, and its reset endpoint has no authentication.
        parser.error(f"--host {args.host!r} is not a loopback address: the AWS emulator listens on this machine only")
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - heavy; only this process needs it
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    back_up_only_what_a_transaction_touches()

    class QuietRequestHandler(MotoRequestHandler):
        """moto's handler without one access-log line per AWS call (the stack logs the API's requests)."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return

    werkzeug_said = io.StringIO()
    try:
        # What moto's ThreadedMotoServer does, but binding here so a taken port is an error, not a hang. werkzeug
        # catches a failed bind itself: it prints the reason and exits 1, so the reason is kept and said here.
        with contextlib.redirect_stderr(werkzeug_said):
            server = make_server(
                args.host,
                args.port,
                OneDynamoDBCallAtATime(DomainDispatcherApplication(create_backend_app)),
                threaded=True,
                request_handler=QuietRequestHandler,
            )
    except (OSError, SystemExit) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else " ".join(werkzeug_said.getvalue().split())
        print(f"the AWS emulator cannot listen on {args.host}:{args.port}: {reason or exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, name="moto", daemon=True
    )
    serving.start()
    print(f"moto listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        stop.wait()
    finally:
        server.shutdown()
        serving.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
