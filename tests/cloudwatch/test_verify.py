"""contact_sdk.ops.cloudwatch.verify: names checked without AWS; existence asked of moto; AWS's refusals named."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from contact_sdk.ops.cloudwatch.deploy import DeployError
from contact_sdk.ops.cloudwatch.render import DeploymentParameters
from contact_sdk.ops.cloudwatch.verify import AwsClients, missing_resources, name_problems
from tests.cloudwatch.conftest import create_referenced_resources
from tests.conftest import aws_client


def test_well_formed_names_have_no_problem(full_params: DeploymentParameters) -> None:
    """The stack's own names pass."""
    assert name_problems(full_params) == []


@pytest.mark.parametrize(
    ("field", "value", "option"),
    [
        ("function_name", "f" * 65, "--function-name"),
        ("consumer_function_name", "consumer/1", "--consumer-function-name"),
        ("dead_letter_queue_name", "q" * 81, "--dead-letter-queue-name"),
        ("dashboard_name", "my dashboard", "--dashboard-name"),
        ("api_name", "api\tname", "--api-name"),
    ],
)
def test_each_malformed_name_is_named(full_params: DeploymentParameters, field: str, value: str, option: str) -> None:
    """Too long, a character the resource cannot have, a control character: one sentence naming the option."""
    values = {name: getattr(full_params, name) for name in full_params.__slots__}
    values[field] = value
    (problem,) = name_problems(DeploymentParameters(**values))
    assert problem.startswith(f"{option} {value!r} is not")


@pytest.mark.integration
def test_everything_present_is_nothing_missing(aws: str, full_params: DeploymentParameters) -> None:
    """With the functions, log groups, queues and API stage created, nothing is reported."""
    create_referenced_resources(aws, full_params)
    clients = AwsClients.for_region("eu-west-1", lambda service, **kw: aws_client(aws, service))
    assert missing_resources(full_params, clients=clients) == []


def test_a_refusal_to_answer_says_how_to_go_on() -> None:
    """No permission to ask (AccessDenied) is not "missing": the deploy stops and names --no-verify."""
    lambda_ = boto3.client("lambda", region_name="eu-west-1")
    params = DeploymentParameters(region="eu-west-1", function_name="f", api_name="a", stage="s", environment="prod")
    with Stubber(lambda_) as stub:
        stub.add_client_error("get_function", "AccessDeniedException", "not authorized to perform lambda:GetFunction")
        clients = AwsClients(lambda_=lambda_, logs=None, sqs=None, apigateway=None)
        with pytest.raises(
            DeployError, match=r"cannot check that the Lambda function f exists \(AccessDenied.*--no-verify"
        ):
            missing_resources(params, clients=clients)
