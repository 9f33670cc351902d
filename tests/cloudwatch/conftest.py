"""Fixtures for the CloudWatch definitions: deployment parameters and the fire drill's EMF source."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.ops.cloudwatch.render import DeploymentParameters
from contact_sdk.ops.cloudwatch.templates import TEMPLATES_DIR_VARIABLE, templates_root
from tests.cloudwatch.drill import EmfSource, handler_source
from tests.entrypoint.conftest import make_stack, session_sandbox

__all__ = ["make_stack", "session_sandbox"]  # re-exported: the log-query test runs the handler on a real stack

TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:prod-portfolio-email-alarms"


@pytest.fixture
def params() -> DeploymentParameters:
    """A deployment as the seed describes it, without the optional queues."""
    return DeploymentParameters(
        region="eu-west-1",
        function_name="prod-contact-form-handler",
        api_name="prod-portfolio-api",
        stage="prod",
        environment="prod",
        alarm_topic_arn=TOPIC_ARN,
    )


@pytest.fixture
def full_params() -> DeploymentParameters:
    """The same deployment with every optional parameter set (queues and the outbox consumer included)."""
    return DeploymentParameters(
        region="eu-west-1",
        function_name="prod-contact-form-handler",
        api_name="prod-portfolio-api",
        stage="prod",
        environment="prod",
        alarm_topic_arn=TOPIC_ARN,
        log_group_name="/aws/lambda/prod-contact-form-handler",
        dashboard_name="prod-portfolio-email-dashboard",
        outbox_queue_name="prod-contact-outbox",
        dead_letter_queue_name="prod-contact-outbox-dlq",
        consumer_function_name="prod-contact-outbox-consumer",
        consumer_log_group_name="/aws/lambda/prod-contact-outbox-consumer",
    )


@pytest.fixture
def make_emf_source() -> Callable[[str], EmfSource]:
    """The fire drill's only source of EMF documents: ``make_emf_source(environment)`` -> a fresh source.

    The documents are the ones the real ``handler.lambda_handler`` prints for each simulated
    request (:func:`tests.cloudwatch.drill.handler_source`); :func:`~tests.cloudwatch.drill.recorder_source`
    remains as the contract's statement of what that should be, checked against it in test_fire_drill.
    """
    return handler_source


@pytest.fixture
def template_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of ``dashboards/`` and ``alarms/``, selected through ``CONTACT_SDK_TEMPLATES_DIR``."""
    root = templates_root()
    for directory in ("dashboards", "alarms"):
        shutil.copytree(root / directory, tmp_path / directory)
    monkeypatch.setenv(TEMPLATES_DIR_VARIABLE, str(tmp_path))
    return tmp_path


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    """Apply ``change`` to the parsed JSON file at ``path`` and write it back."""
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def create_referenced_resources(endpoint: str, params: DeploymentParameters) -> None:
    """Create in the emulator what ``params`` names: the functions, their log groups, the queues, the API stage."""
    import io
    import json
    import zipfile

    from tests.conftest import aws_client

    role = aws_client(endpoint, "iam").create_role(
        RoleName="contact-test-function",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    lambda_, logs = aws_client(endpoint, "lambda"), aws_client(endpoint, "logs")
    for name in filter(None, (params.function_name, params.consumer_function_name)):
        lambda_.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="handler.lambda_handler",
            Code={"ZipFile": code.getvalue()},
        )
    for group in filter(None, (params.resolved_log_group_name, params.resolved_consumer_log_group_name)):
        logs.create_log_group(logGroupName=group)
    for queue in filter(None, (params.outbox_queue_name, params.dead_letter_queue_name)):
        aws_client(endpoint, "sqs").create_queue(QueueName=queue)
    apigateway = aws_client(endpoint, "apigateway")
    api = apigateway.create_rest_api(name=params.api_name)["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api, stageName=params.stage)
