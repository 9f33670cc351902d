"""Every ``contact-sdk`` example in the README and ``docs/`` runs as written, against moto and the Resend sandbox.

The examples are read out of the docs (:mod:`tests.docs.examples`); each code block has an entry in
:data:`BLOCKS` saying what the reader is assumed to have (a stack, a table with submissions, a KMS key...), made
here in moto, or why it is not run (it needs the internet). A block with no entry fails, so a new example is
run from the day it is written. Each block runs in one ``bash`` with ``.venv/bin`` first on the PATH, in a
fresh folder, with AWS pointed at moto through ``AWS_ENDPOINT_URL`` (the reader's account) and Resend at the
sandbox through ``RESEND_API_URL``. Three substitutions stand for the reader's machine, and nothing else is
changed: the local stack's emulator ``http://127.0.0.1:5000`` and sandbox ``http://127.0.0.1:8025`` become this
test's moto server and sandbox, and ``/tmp/`` becomes the block's folder; a placeholder the reader fills in
(:data:`PLACEHOLDERS`, e.g. the Resend key ``re_...``) gets a value.

Every ``contact-sdk`` command must exit 0 unless its entry says otherwise; where the doc shows the output, the
output must be the one shown, once times, UUIDs and DKIM tokens (which differ from run to run) are replaced by
placeholders on both sides (a doc that ends its output with ``...`` shows its first lines only).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.devtools.tables import create_table
from contact_sdk.models import ContactSubmission
from contact_sdk.parking import SqsParkingLot
from contact_sdk.record import Draft, DynamoDBSubmissionRecords, RecordState
from contact_sdk.webhooks.store import DynamoDBWebhookStore
from contact_sdk.webhooks.verifier import parse_event
from tests.conftest import aws_client
from tests.docs.examples import DocBlock, documented_blocks, normalize, run_block
from tests.queued import queued_email

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LOCAL_EMULATOR, LOCAL_SANDBOX = "http://127.0.0.1:5000", "http://127.0.0.1:8025"
#: The full-access key the dns examples name, and the sandbox's own.
RESEND_KEY = "re_full_access_key"
ACCOUNT = "123456789012"


@dataclass
class Reader:
    """The reader's machine for one block: moto, the sandbox, a folder, and the environment to run in."""

    aws: str
    sandbox: ResendSandbox
    folder: Path
    env: dict[str, str]

    def client(self, service: str) -> Any:
        """A boto3 client on moto."""
        return aws_client(self.aws, service)


@dataclass(frozen=True)
class Expect:
    """What one command must do: its exit status, and text its output must hold (beyond the output shown)."""

    status: int = 0
    holds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Runs:
    """A block that runs: what to make first, and per command what to expect (default: exit 0, output as shown)."""

    prepare: Callable[[Reader], None]
    expect: Mapping[str, Expect] = field(default_factory=dict)
    #: Commands of the block that are not ``contact-sdk`` and are not run, with the reason.
    not_run: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NotRun:
    """A block that cannot run here, and why."""

    reason: str


# -- what each block needs --------------------------------------------------------------------


STACK_OUTPUTS = {
    "ApiFunctionName": "prod-contact-form-handler",
    "ConsumerFunctionName": "prod-contact-outbox-consumer",
    "ApiName": "prod-portfolio-api",
    "StageName": "prod",
    "Environment": "prod",
    "AlarmTopicArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:prod-portfolio-email-alarms",
    "DashboardName": "prod-portfolio-email-dashboard",
    "OutboxQueueName": "contact-prod-OutboxQueue-1A2B3C",
    "DeadLetterQueueName": "contact-prod-OutboxDeadLetterQueue-4D5E6F",
}


def deployed_stack(reader: Reader) -> None:
    """The ``contact-prod`` stack as deployed: its outputs, and the functions, log groups, queues and API they name."""
    import io
    import zipfile

    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in STACK_OUTPUTS.items()},
    }
    reader.client("cloudformation").create_stack(StackName="contact-prod", TemplateBody=json.dumps(template))
    reader.client("sns").create_topic(Name="prod-portfolio-email-alarms")
    role = reader.client("iam").create_role(
        RoleName="contact-prod-function", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    for name in (STACK_OUTPUTS["ApiFunctionName"], STACK_OUTPUTS["ConsumerFunctionName"]):
        reader.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="handler.lambda_handler",
            Code={"ZipFile": code.getvalue()},
        )
        reader.client("logs").create_log_group(logGroupName=f"/aws/lambda/{name}")
    for queue in (STACK_OUTPUTS["OutboxQueueName"], STACK_OUTPUTS["DeadLetterQueueName"]):
        reader.client("sqs").create_queue(QueueName=queue)
    apigateway = reader.client("apigateway")
    api = apigateway.create_rest_api(name=STACK_OUTPUTS["ApiName"])["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api, stageName=STACK_OUTPUTS["StageName"])


def parameters_key(reader: Reader) -> None:
    """The stack's KMS key under its alias, the webhook secret Resend showed saved to whsec.txt, a new Resend key."""
    key = reader.client("kms").create_key()["KeyMetadata"]["KeyId"]
    reader.client("kms").create_alias(AliasName="alias/prod-portfolio-parameters", TargetKeyId=key)
    (reader.folder / "whsec.txt").write_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
    reader.env["NEW_RESEND_KEY"] = "re_NewKeyFromTheResendDashboard_0123"


def stored_config(reader: Reader) -> None:
    """The Resend config already in Parameter Store (what ``config rotate`` changes)."""
    parameters_key(reader)
    config = {
        "apiKey": "re_OldKey_0123456789",
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "you@example.com",
        "version": 1,
        "rotatedAt": "2025-01-01T00:00:00Z",
    }
    reader.client("ssm").put_parameter(
        Name="/portfolio/prod/resend/api-key",
        Value=json.dumps(config),
        Type="SecureString",
        KeyId="alias/prod-portfolio-parameters",
    )


def _submission(name: str, email: str, message: str) -> ContactSubmission:
    return ContactSubmission.model_validate({"name": name, "email": email, "message": message, "consent": True})


def _event(reader: Reader, svix_id: str, kind: str, email_id: str, at: float) -> None:
    created = dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")
    body = json.dumps({"type": kind, "created_at": created, "data": {"email_id": email_id}})
    DynamoDBWebhookStore(reader.client("dynamodb"), "contact-local").record(
        parse_event(svix_id, body.encode(), fallback_created_at=at), now=at
    )


def local_records(reader: Reader) -> None:
    """The local stack after the five submissions records.md describes, with the ids it shows."""
    dynamodb = reader.client("dynamodb")
    create_table(dynamodb, "contact-local")
    records = DynamoDBSubmissionRecords(dynamodb, "contact-local")
    start = time.time() - 60

    def claim(  # noqa: PLR0917 - reads as the table of submissions below
        number: int, name: str, email: str, ident: str, state: RecordState, reasons: tuple[str, ...] = (), **kw: Any
    ) -> tuple[str, int]:
        """The intake's claim of submission ``number`` as ``received`` or ``spam``; its key and the record's cycle."""
        message = kw.get("message", f"Question number {number} about the engine.")
        key = kw.get("key", f"contact-{ident}" + "0" * 48)
        submission = _submission(name, email, message)
        draft = Draft.of(
            submission,
            key=key,
            request_id=str(uuid.uuid4()),
            client_ip="127.0.0.1",
            state=state,
            now=start + number,
            reasons=reasons,
        )
        return key, records.claim(draft).record.cycle

    # One sent and delivered (its Resend events: sent, delivered).
    key, cycle = claim(0, "Ada Lovelace", "ada@example.org", "f8953b660f37bc87", RecordState.RECEIVED)
    first_email = str(uuid.uuid4())
    records.move(key, RecordState.SENT, cycle=cycle, now=start, email_id=first_email)
    _event(reader, "msg_16a636fc577025de968c886db0", "email.sent", first_email, start + 0.5)
    _event(reader, "msg_877bfdb60d7cac3ef7f58f9077", "email.delivered", first_email, start + 0.6)
    # The honeypot filled; sent too soon after its token.
    claim(1, "Grace Hopper", "grace@example.org", "6e22ee601ba5bdb8", RecordState.SPAM, ("honeypot_filled",))
    claim(2, "Ada Lovelace", "Ada@example.org", "3df7482665de8b95", RecordState.SPAM, ("token_too_recent",))
    # A daily quota: queued, then delivered by the outbox consumer.
    key, cycle = claim(3, "Alan Turing", "alan@example.org", "cb9b8c6aa71c41d4", RecordState.RECEIVED)
    records.move(key, RecordState.QUEUED, cycle=cycle, now=start + 3, reasons=("ProviderQuotaError",))
    second_email = str(uuid.uuid4())
    records.move(key, RecordState.SENT, cycle=cycle, now=start + 4, email_id=second_email)
    _event(reader, "msg_0d1e2f3a4b5c6d7e8f9a0b1c2d", "email.delivered", second_email, start + 5)
    # Refused with a 422: parked, the email kept in the record.
    parked_key = "contact-af514f25939e1cccd34d59d29d3c45be449d57e4b77957a37e1ea0f86dab0604"
    message = "Please write back about the engine's notes!!"  # 45 characters with the one below
    key, cycle = claim(
        4, "Edsger Dijkstra", "edsger@example.org", "", RecordState.RECEIVED, key=parked_key, message=message + "!"
    )
    reason = "ProviderRequestError 422 validation_error: Injected failure (422 validation_error)."
    records.move(key, RecordState.PARKED, cycle=cycle, now=start + 4, reasons=(reason,))
    reader.sandbox.add_domain("example.com", status="verified")
    config = {
        "apiKey": RESEND_KEY,
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "owner@example.com",
        "version": 1,
        "rotatedAt": "2025-01-01T00:00:00Z",
    }
    kms_key = reader.client("kms").create_key()["KeyMetadata"]["KeyId"]
    reader.client("ssm").put_parameter(
        Name="/portfolio/local/resend/api-key", Value=json.dumps(config), Type="SecureString", KeyId=kms_key
    )


def resend_domain(reader: Reader) -> None:
    """example.com in the Resend account: SPF verified, its three DKIM CNAMEs still pending."""
    reader.sandbox.add_domain("example.com")
    reader.sandbox.set_domain_status(
        "example.com", "partially_verified", ["verified", "verified", "pending", "pending", "pending"]
    )


def nothing(reader: Reader) -> None:
    """The example needs nothing from AWS or Resend."""


def parked_submission(reader: Reader) -> None:
    """The outbox and its dead-letter queue, with one submission Resend refused for good parked on it."""
    sqs = reader.client("sqs")
    dlq = sqs.create_queue(QueueName="contact-prod-OutboxDeadLetterQueue")["QueueUrl"]
    outbox = sqs.create_queue(QueueName="contact-prod-OutboxQueue")["QueueUrl"]
    queued = queued_email(
        _submission("Ada Lovelace", "ada@example.org", "Please keep this message safe while parked."),
        now=time.time(),
        reason="ProviderRejectedError",
        request_id="req-parked",
    )
    SqsParkingLot(dlq, client=sqs).park(queued, reason="422 invalid_from_address")
    reader.env.update(OUTBOX_DLQ_URL=dlq, OUTBOX_URL=outbox)


def parked_submission_and_its_table(reader: Reader) -> None:
    """:func:`parked_submission`, and the service's table (``CONTACT_TABLE_NAME``) that ``--recompose`` reads."""
    parked_submission(reader)
    create_table(reader.client("dynamodb"), "contact-prod")
    reader.env.update(CONTACT_TABLE_NAME="contact-prod")


def local_queues_and_table(reader: Reader) -> None:
    """The local stack's outbox queues and table (made by ``make run``), after one email was sent and delivered."""
    sqs = reader.client("sqs")
    sqs.create_queue(QueueName="contact-outbox-local")
    sqs.create_queue(QueueName="contact-outbox-local-dlq")
    create_table(reader.client("dynamodb"), "contact-local")
    _event(
        reader, "msg_1f2e3d4c5b6a79880796a5b4c3", "email.delivered", "5f0c7a2e-3d1b-4c8e-9a6f-2b7d4e1c9a30", time.time()
    )


RENDERED = Expect(holds=())
DEPLOYED = Expect(holds=("alarm prod-portfolio-email-api-function-errors",))

#: Every documented block, by ``file: first contact-sdk command``.
BLOCKS: dict[str, Runs | NotRun] = {
    "README.md: contact-sdk dashboard render --region eu-west-1 --function-name prod-contact-form-handler "
    "--api-name prod-portfolio-api --stage prod --environment prod --output dashboard.json": Runs(
        deployed_stack,
        expect={"contact-sdk alarms deploy --region eu-west-1 --stack contact-prod": DEPLOYED},
        not_run={
            "aws cloudwatch put-dashboard --dashboard-name prod-portfolio-email-dashboard "
            "--dashboard-body file://dashboard.json": "the AWS CLI is not part of this project (the hand import "
            "is what dashboard deploy does through boto3, run above)",
        },
    ),
    "docs/dashboards.md: contact-sdk dashboard render --region eu-west-1 --function-name prod-contact-form-handler "
    "--api-name prod-portfolio-api --stage prod --environment prod --output dashboard.json": Runs(
        deployed_stack,
        expect={
            "contact-sdk dashboard deploy --region eu-west-1 --stack contact-prod": Expect(
                holds=("dashboard prod-portfolio-email-dashboard",)
            ),
            "contact-sdk alarms deploy --region eu-west-1 --stack contact-prod": DEPLOYED,
        },
    ),
    "docs/records.md: contact-sdk submissions list": Runs(
        local_records,
        expect={
            "contact-sdk submissions release af514f25939e1ccc": Expect(status=1),
            "contact-sdk submissions release 6e22ee601ba5bdb8": Expect(status=1),
        },
    ),
    "docs/deploy.md: .venv/bin/contact-sdk config put --kms-key-id $KEY --file /tmp/resend.json "
    "&& shred -u /tmp/resend.json": Runs(
        parameters_key,
        expect={
            ".venv/bin/contact-sdk config show # values masked": Expect(holds=("re_...",)),
        },
    ),
    "docs/deploy.md: printf '%s\\n' \"$NEW_RESEND_KEY\" | .venv/bin/contact-sdk config rotate --api-key-stdin": Runs(
        stored_config
    ),
    "docs/dns.md: RESEND_API_KEY=re_full_access_key contact-sdk dns records --domain example.com "
    "--dmarc-policy quarantine": Runs(resend_domain),
    "docs/dns.md: contact-sdk dns records --domain example.com --offline --return-path bounces": Runs(nothing),
    "docs/architecture.md: contact-sdk submissions release ──────────────────────────────────────────► "
    "Delivery.release": NotRun("a drawing of the request path, not a command"),
    "docs/dns.md: RESEND_API_KEY=re_full_access_key contact-sdk dns check --domain example.com": NotRun(
        "asks the internet's DNS for example.com; tests/dns runs the same check against a DNS server on loopback"
    ),
    'docs/guarantees.md: contact-sdk outbox parked --queue-url "$OUTBOX_DLQ_URL" # reasons, sender masked': Runs(
        parked_submission_and_its_table,
        expect={
            'contact-sdk outbox parked --queue-url "$OUTBOX_DLQ_URL" # reasons, sender masked': Expect(
                holds=("PARKED: 422 invalid_from_address", "a***@e***.org")
            )
        },
    ),
    "docs/local-stack.md: AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_DEFAULT_REGION=eu-west-1 "
    "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing .venv/bin/contact-sdk outbox stats --queue-url "
    "http://127.0.0.1:5000/123456789012/contact-outbox-local --dlq-url "
    "http://127.0.0.1:5000/123456789012/contact-outbox-local-dlq": Runs(local_queues_and_table),
    "docs/local-stack.md: AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_DEFAULT_REGION=eu-west-1 "
    "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing .venv/bin/contact-sdk status --table contact-local": Runs(
        local_queues_and_table
    ),
    "docs/local-stack.md: AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_DEFAULT_REGION=eu-west-1 "
    "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing .venv/bin/contact-sdk submissions list "
    "--table contact-local": Runs(local_queues_and_table),
}

DOCUMENTED = {block.key: block for block in documented_blocks(ROOT)}


def test_every_documented_block_has_an_entry():
    """The docs' contact-sdk examples and :data:`BLOCKS` name the same blocks (a new example needs an entry)."""
    assert len(DOCUMENTED) >= 10
    assert sorted(DOCUMENTED) == sorted(BLOCKS)


@pytest.fixture
def reader(aws: str, tmp_path: Path) -> Iterator[Reader]:
    """moto (empty), a sandbox, a fresh folder with ``.venv`` in it, and the reader's environment."""
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": aws,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",  # stdout and stderr interleave as on a terminal, in the order written
    }
    with ResendSandbox(api_key=RESEND_KEY, rate_limit_per_second=None) as sandbox:
        env["RESEND_API_URL"] = sandbox.url
        yield Reader(aws, sandbox, tmp_path, env)


#: Placeholders the reader fills in, and what this test fills in.
PLACEHOLDERS = {'"apiKey": "re_..."': '"apiKey": "re_DocExampleKey_0123456789"'}


def substitute(text: str, reader: Reader) -> str:
    """The three substitutions for the reader's machine (see the module docstring), and the placeholders."""
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return (
        text.replace(LOCAL_EMULATOR, reader.aws)
        .replace(LOCAL_SANDBOX, reader.sandbox.url)
        .replace("/tmp/", f"{reader.folder}/")  # noqa: S108 - replacing the doc's /tmp, not using it
    )


RUNNABLE = [
    pytest.param(key, id=f"{DOCUMENTED[key].path}:{DOCUMENTED[key].line}" if key in DOCUMENTED else key)
    for key, entry in BLOCKS.items()
    if isinstance(entry, Runs)
]


@pytest.mark.parametrize("key", RUNNABLE)
def test_the_documented_example_runs(reader: Reader, key: str):
    """Each contact-sdk command of the block exits as expected and prints what the doc shows."""
    entry = BLOCKS[key]
    assert isinstance(entry, Runs)
    block: DocBlock = DOCUMENTED[key]
    entry.prepare(reader)
    commands = [command for command in block.commands if command.key not in entry.not_run]
    assert len(commands) + len(entry.not_run) == len(block.commands), "not_run names a command the block lacks"
    outcomes = run_block([substitute(command.text, reader) for command in commands], cwd=reader.folder, env=reader.env)
    for command, outcome in zip(commands, outcomes, strict=True):
        if not command.runs_contact_sdk:
            assert outcome.status == 0, f"{command.key}: {outcome.output}"
            continue
        expected = entry.expect.get(command.key, Expect())
        where = f"{block.path}:{block.line}: {command.key}"
        assert "Traceback" not in outcome.output, f"{where}\n{outcome.output}"
        assert outcome.status == expected.status, f"{where}: exit {outcome.status}\n{outcome.output}"
        for text in expected.holds:
            assert text in outcome.output, f"{where}: {text!r} not in\n{outcome.output}"
        if command.shown:
            shown = normalize(substitute("\n".join(command.shown), reader))
            printed = normalize(outcome.output)
            if shown.endswith("\n..."):  # the doc shows the first lines only
                shown, printed = shown.removesuffix("\n..."), "\n".join(printed.splitlines()[: shown.count("\n")])
            assert printed == shown, f"{where}: the output differs from the doc"
