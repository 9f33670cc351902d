"""The CDK app: ``cdk synth`` / ``cdk deploy`` run this file (see ``cdk.json`` and docs/deploy.md).

Usage, from ``infra/`` with the project's virtual environment active::

    cdk synth -c environment=prod -c allowedOrigins=https://example.com
    cdk deploy -c environment=prod -c allowedOrigins=https://example.com --parameters AlarmEmail=ops@example.com

The Lambda code is the artifact ``tools/build_lambda.py`` writes (context ``artifact``, default
``../dist/lambda-arm64.zip``); synthesis refuses to run without it rather than package the source tree.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from contact_stack import ContactStack, StackSettings

HERE = Path(__file__).resolve().parent


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` block of ``cdk.json`` (feature flags and defaults), as the CDK CLI would pass it."""
    context: dict[str, Any] = json.loads((HERE / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    return context


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None) -> cdk.App:
    """The app with one stack, ``contact-<environment>``; ``context`` overrides ``cdk.json``'s."""
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    try:
        settings = StackSettings.from_context(app.node.try_get_context)
    except ValueError as exc:  # a context value is missing or wrong: say which, not where in the code
        raise SystemExit(f"cannot synthesize the contact stack: {exc}") from None
    artifact = Path(settings.artifact)
    if not artifact.is_absolute():
        artifact = (HERE / artifact).resolve()
    if not artifact.is_file():
        raise SystemExit(f"no Lambda artifact at {artifact}: run `python tools/build_lambda.py` first")
    # cdk-nag 3 runs as a policy-validation plugin: an unacknowledged AwsSolutions error fails the synth.
    # Each acknowledgment, with its reason, is made beside its construct in contact_stack.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    ContactStack(
        app,
        f"contact-{settings.environment}",
        settings=settings,
        code=lambda_.Code.from_asset(str(artifact)),
        env=env,
    )
    return app


if __name__ == "__main__":
    build_app().synth()
