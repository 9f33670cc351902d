"""The runtime-only artifact, built for this machine, serves real requests in a fresh interpreter.

The artifact leaves out our operator and development modules, aiohttp and its family, and every botocore
model but three. A module it still needs would only fail when the function first runs in AWS; here it fails
the build instead: the zip is unpacked and driven from ``python -I -S`` (no site-packages, no environment
paths: nothing on ``sys.path`` but the artifact and the standard library) against moto and the sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.devtools.local.event_source import sqs_event
from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.models import ContactSubmission
from contact_sdk.outbox import SqsOutbox
from tests.conftest import REGION, aws_client, create_outbox_queues
from tests.entrypoint.conftest import API_KEY, ORIGIN, api_gateway_event, seed_stack, submission
from tests.infra.conftest import BUILD_TOOL, ROOT
from tests.queued import queued_email

pytestmark = pytest.mark.integration

HOST_WHEEL_CACHE = ROOT / ".venv" / "lambda-wheels-host"

#: Runs inside the fresh interpreter: the artifact first on the path, one event per line in, one answer out.
DRIVER = """
import json, random, sys
artifact = sys.argv[1]
sys.path.insert(0, artifact)
random.seed(7)
before = random.getstate()
import handler
untouched_random = random.getstate() == before

class Context:
    aws_request_id = "artifact-test"
    function_name = "contact-form-handler"
    def get_remaining_time_in_millis(self):
        return 25_000

answers = []
for line in open(sys.argv[2], encoding="utf-8"):
    step = json.loads(line)
    if step["kind"] == "api" and step.get("token_from") is not None:
        step["event"]["headers"]["X-CSRF-Token"] = json.loads(answers[step["token_from"]]["body"]).get("token", "")
    entry = handler.lambda_handler if step["kind"] == "api" else handler.outbox_handler
    answers.append(entry(step["event"], Context()))
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and module.__file__ != __file__ and not (
        module.__file__.startswith(artifact) or module.__file__.startswith(sys.base_prefix)
    )
)
print(json.dumps({
    "answers": answers, "modules": sorted(sys.modules), "outside": outside, "untouched_random": untouched_random
}))
"""


@dataclass(frozen=True)
class HostArtifact:
    """The artifact built for this machine, unpacked."""

    unpacked: Path
    names: list[str]


@pytest.fixture(scope="module")
def host_artifact(tmp_path_factory: pytest.TempPathFactory) -> HostArtifact:
    """``tools/build_lambda.py --target host``, run for real once, and unpacked."""
    out = tmp_path_factory.mktemp("host-dist")
    path = out / "lambda-host.zip"
    result = subprocess.run(
        [
            sys.executable,
            str(BUILD_TOOL),
            "--target",
            "host",
            "--output",
            str(path),
            "--wheel-cache",
            str(HOST_WHEEL_CACHE),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"build failed:\n{result.stdout}\n{result.stderr}"
    unpacked = out / "unpacked"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        archive.extractall(unpacked)
    return HostArtifact(unpacked, names)


@pytest.fixture
def sandbox() -> Iterator[ResendSandbox]:
    """A Resend sandbox of this test's own."""
    # No rate limit: the artifact's requests come in a burst; Resend's 429 is not what this test is about.
    with ResendSandbox(api_key=API_KEY, rate_limit_per_second=None) as running:
        yield running


def run_fresh(artifact: HostArtifact, steps: list[dict[str, Any]], tmp_path: Path, env: dict[str, str]) -> Any:
    """Drive the unpacked artifact's handler from ``python -I -S`` with ``steps``; its answers and modules."""
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(step) + "\n" for step in steps), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(driver), str(artifact.unpacked), str(events)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, f"the artifact failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Seeded:
    """moto seeded like a deployment (parameters, table, outbox) and the sandbox the config points at."""

    aws: str
    queue_url: str
    sandbox: ResendSandbox


@pytest.fixture
def seeded(aws: str, contact_table: str, sandbox: ResendSandbox, monkeypatch: pytest.MonkeyPatch) -> Seeded:
    """The environment a deployed function would have, pointing at moto and the sandbox."""
    queues = create_outbox_queues(aws)
    # The driver posts right after fetching its token: the fill-time rule (from the token's issue) is off here.
    seed_stack(
        aws, contact_table, sandbox, monkeypatch, CONTACT_OUTBOX_QUEUE_URL=queues["url"], CONTACT_MIN_FILL_SECONDS="0"
    )
    return Seeded(aws, queues["url"], sandbox)


def test_artifact_serves_a_token_a_submission_and_an_outbox_batch_alone(
    host_artifact: HostArtifact, seeded: Seeded, tmp_path: Path
) -> None:
    """From the artifact alone: a token, a sent submission and a delivered outbox message; no aiohttp loaded."""
    sqs = aws_client(seeded.aws, "sqs")
    queued = queued_email(
        ContactSubmission.model_validate(
            submission(name="Grace Hopper", email="grace@example.org") | {"consent": True}
        ),
        now=time.time(),
        reason="provider_unavailable",
        idempotency_key="contact-artifact-test-0001",
        request_id="req-queued-earlier",
    )
    SqsOutbox(seeded.queue_url, client=sqs).enqueue(queued)
    attributes = sqs.get_queue_attributes(QueueUrl=seeded.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    batch = sqs_event(sqs, seeded.queue_url, queue_arn=attributes["QueueArn"], region=REGION)
    assert len(batch["Records"]) == 1

    post_headers = {"Origin": ORIGIN, "Content-Type": "application/json"}
    steps: list[dict[str, Any]] = [
        {"kind": "api", "event": api_gateway_event("GET", "/contact/token", headers={"Origin": ORIGIN})},
        {
            "kind": "api",
            "token_from": 0,
            "event": api_gateway_event("POST", "/contact", body=json.dumps(submission()), headers=post_headers),
        },
        {"kind": "outbox", "event": batch},
    ]
    outcome = run_fresh(host_artifact, steps, tmp_path, dict(os.environ))

    token, sent, drained = outcome["answers"]
    assert token["statusCode"] == 200, token
    assert sent["statusCode"] == 200, sent
    assert json.loads(sent["body"])["status"] == "sent"
    assert drained == {"batchItemFailures": []}
    received = sorted(email["body"]["reply_to"][0] for email in seeded.sandbox.emails())  # type: ignore[index]
    assert received == ["ada@example.org", "grace@example.org"]
    assert outcome["untouched_random"], "import handler seeded or drew from random (SnapStart restores share it)"
    assert outcome["outside"] == [], "modules were loaded from outside the artifact and the standard library"
    loaded = set(outcome["modules"])
    assert not {"aiohttp", "multidict", "yarl", "frozenlist", "aiosignal"} & loaded
    assert not any(
        name.startswith(("contact_sdk.devtools.sandbox", "contact_sdk.devtools.local", "contact_sdk.ops.cli"))
        for name in loaded
    )
