"""Fixtures for the deploy checks: one CDK synthesis and one Lambda build per test session.

Synthesis starts a Node.js process (jsii) and takes seconds, the build downloads wheels from PyPI
(cached under ``.venv/lambda-wheels``): both happen once and are shared by every test here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BUILD_TOOL = ROOT / "tools" / "build_lambda.py"
WHEEL_CACHE = ROOT / ".venv" / "lambda-wheels"

# The CDK app imports its own package (contact_stack) the way `cdk` runs it: from infra/.
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))
# jsii prints a banner when Node.js is past its end of life; the deploy docs say which Node to use.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

CONTEXT = {
    "environment": "prod",
    "allowedOrigins": "https://example.com,https://www.example.com",
}
DOMAIN_CONTEXT = {
    "environment": "staging",
    "stage": "v1",
    "allowedOrigins": "https://staging.example.com",
    "domainName": "api.staging.example.com",
    "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555",
    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
    "hostedZoneName": "staging.example.com",
    "deploymentConfig": "AllAtOnce",
    # The first of the two deployments that give an existing table its archive indexes (docs/deploy.md).
    "archiveIndexes": "1",
    # Every other value away from its default, so the template shows each one arriving (test_cdk_stack.py).
    "configParameter": "/contact/staging/resend-config",
    "csrfSecretParameter": "/contact/staging/csrf",
    "webhookSecretParameter": "/contact/staging/webhook",
    "resendApiUrl": "https://resend.example.test/",
    "logLevel": "debug",
    "throttleRateLimit": "7",
    "throttleBurstLimit": "9",
    "outboxMaxReceiveCount": "5",
}
#: The flood-hardened variant: the optional web ACL on, and an account whose API Gateway logging role exists.
WAF_CONTEXT = {
    "environment": "edge",
    "allowedOrigins": "https://example.com",
    "waf": "true",
    "wafRateLimit": "120",
    "manageApiGatewayAccount": "false",
    "deploymentConfig": "Linear10PercentEvery1Minute",
    # The stage throttle derived from these (not given): 40 slots x 1.0 / 4 s = 10 requests/s, burst 40.
    "reservedConcurrency": "40",
    "p95DurationMs": "4000",
    "throttleHeadroom": "1",
}


@dataclass(frozen=True)
class Synthesized:
    """One synthesized stack: the construct (to resolve tokens), its template, where it was written."""

    stack: Any
    template: dict[str, Any]
    template_path: Path
    seconds: float

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource, for every resource of ``resource_type``."""
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> dict[str, Any]:
        """The single resource of ``resource_type`` (fails if there is not exactly one)."""
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
        return found[0]


def _synthesize(context: dict[str, Any], outdir: Path, artifact: Path) -> Synthesized:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the AWS CDK cannot synthesize (CI has it; see docs/deploy.md)")
    from app import build_app

    started = time.monotonic()
    app = build_app({**context, "artifact": str(artifact)}, outdir=str(outdir))
    assembly = app.synth()
    seconds = time.monotonic() - started
    (stack_artifact,) = assembly.stacks
    stack = app.node.find_child(stack_artifact.stack_name)
    path = outdir / stack_artifact.template_file
    return Synthesized(stack, json.loads(path.read_text(encoding="utf-8")), path, seconds)


@pytest.fixture(scope="session")
def placeholder_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny zip standing in for the Lambda artifact: synthesis only hashes and copies it."""
    path = tmp_path_factory.mktemp("artifact") / "lambda-arm64.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context): ...\n")
    return path


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, placeholder_artifact: Path) -> Synthesized:
    """The production-shaped stack (no custom domain), synthesized once."""
    return _synthesize(CONTEXT, tmp_path_factory.mktemp("cdk.out"), placeholder_artifact)


@pytest.fixture(scope="session")
def synthesized_with_domain(tmp_path_factory: pytest.TempPathFactory, placeholder_artifact: Path) -> Synthesized:
    """A second environment with a custom domain and a Route 53 record, synthesized once."""
    return _synthesize(DOMAIN_CONTEXT, tmp_path_factory.mktemp("cdk.out-domain"), placeholder_artifact)


@pytest.fixture(scope="session")
def synthesized_with_waf(tmp_path_factory: pytest.TempPathFactory, placeholder_artifact: Path) -> Synthesized:
    """The WAF_CONTEXT variant (web ACL, manageApiGatewayAccount=false), synthesized once."""
    return _synthesize(WAF_CONTEXT, tmp_path_factory.mktemp("cdk.out-waf"), placeholder_artifact)


@dataclass(frozen=True)
class BuiltArtifact:
    """The Lambda zip built by tools/build_lambda.py, its JSON report and its unpacked tree."""

    path: Path
    report: dict[str, Any]
    unpacked: Path
    names: list[str]


@pytest.fixture(scope="session")
def lambda_artifact(tmp_path_factory: pytest.TempPathFactory) -> BuiltArtifact:
    """Run the real build command once (wheels cached under .venv/lambda-wheels) and unpack the result."""
    out = tmp_path_factory.mktemp("dist")
    path = out / "lambda-arm64.zip"
    result = subprocess.run(
        [sys.executable, str(BUILD_TOOL), "--output", str(path), "--wheel-cache", str(WHEEL_CACHE), "--json"],
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
    return BuiltArtifact(path, json.loads(result.stdout), unpacked, names)
