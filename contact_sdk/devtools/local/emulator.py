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
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from contact_sdk.devtools.local.serving import POLL_SECONDS
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


def main(argv: Sequence[str] | None = None) -> int:
    """Serve moto on ``--host:--port`` until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m contact_sdk.devtools.local.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - heavy; only this process needs it
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    class QuietRequestHandler(MotoRequestHandler):
        """moto's handler without one access-log line per AWS call (the stack logs the API's requests)."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return

    try:
        # What moto's ThreadedMotoServer does, but binding here so a taken port is an error, not a hang.
        server = make_server(
            args.host,
            args.port,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=QuietRequestHandler,
        )
    except OSError as exc:
        print(f"the AWS emulator cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
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
