"""IAM exactly as used: each function's policy grants the AWS actions its code calls, and nothing more.

The calls are read from the source (``tools/boto3_calls.py``: mypy's types, a call graph from each Lambda entry
point), so the comparison follows the code: a new boto3 call in the runtime fails here until the stack grants
it, and a grant the code no longer needs fails here until it is removed. What the code does not call itself but
its function needs anyway is listed below, each with its reason.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest

from tests.infra.conftest import ROOT, Synthesized
from tools.boto3_calls import ENTRY_POINTS, CallGraph, build_graph, derive_actions, iam_action

#: Actions a function needs that its own code never calls, and why.
PLATFORM: dict[str, dict[str, str]] = {
    "api": {
        "logs:CreateLogStream": "the Lambda service writes the function's output to its log group with its role",
        "logs:PutLogEvents": "the same",
        "xray:PutTraceSegments": "active tracing: the Lambda service sends the trace with the function's role",
        "xray:PutTelemetryRecords": "the same",
    },
    "consumer": {
        "logs:CreateLogStream": "the Lambda service writes the function's output to its log group with its role",
        "logs:PutLogEvents": "the same",
        "xray:PutTraceSegments": "active tracing: the Lambda service sends the trace with the function's role",
        "xray:PutTelemetryRecords": "the same",
        "sqs:ReceiveMessage": "the SQS event source mapping polls the outbox with the function's role",
        "sqs:DeleteMessage": "the event source mapping deletes each message the batch response does not list",
        "sqs:GetQueueAttributes": "the event source mapping reads the queue's attributes",
    },
    "hook": {
        "logs:CreateLogStream": "the Lambda service writes the hook's output to its log group with its role",
        "logs:PutLogEvents": "the same",
    },
}
#: What a call implies at KMS: the parameters are SecureStrings under the stack's key (decrypted via SSM), and
#: the table is encrypted with the same key (DynamoDB uses it on the caller's behalf).
IMPLIED = {
    "ssm:GetParameter": {"kms:Decrypt"},
    "ssm:GetParameters": {"kms:Decrypt"},
    "dynamodb:": {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"},
}
#: Runtime call sites no Lambda entry point reaches, and who calls them instead.
NOT_CALLED_BY_A_FUNCTION = {
    ("contact_sdk.breaker_store", "dynamodb:PutItem"): "DynamoDBBreakerStore.reset: `contact-sdk breaker reset`",
    ("contact_sdk.webhooks.store", "dynamodb:GetItem"): "DynamoDBWebhookStore.status: `contact-sdk status --email-id`",
    ("contact_sdk.webhooks.store", "dynamodb:Scan"): "DynamoDBWebhookStore.recent: `contact-sdk status`",
}
#: Each deployed function's role (logical id prefix) and the entry point its code starts from.
ROLES = {
    "ApiRole": "api",
    "OutboxConsumerRole": "consumer",
    "ApiDeploymentHookRole": "hook",
    "ConsumerDeploymentHookRole": "hook",
}


@pytest.fixture(scope="module")
def graph() -> CallGraph:
    """The runtime's call graph, type-checked once for this module (about 10 s)."""
    return build_graph()


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted(synthesized: Synthesized, role: str) -> set[str]:
    """Every action any policy attached to the role allows."""
    (role_id,) = [k for k in synthesized.resources("AWS::IAM::Role") if k.startswith(role)]
    actions: set[str] = set()
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow"
                actions.update(_as_list(statement["Action"]))
    return actions


def expected(code: frozenset[str], function: str) -> set[str]:
    """What the code calls, what those calls imply at KMS, and what the platform needs."""
    wanted = set(code) | set(PLATFORM[function])
    for prefix, implied in IMPLIED.items():
        if any(action.startswith(prefix) for action in code):
            wanted |= implied
    return wanted


@pytest.mark.parametrize(("role", "function"), list(ROLES.items()))
def test_each_function_is_granted_exactly_what_its_code_calls(
    synthesized: Synthesized, graph: CallGraph, role: str, function: str
) -> None:
    """The synthesised policy of each function equals the actions derived from its code (plus the listed needs)."""
    code = derive_actions(graph=graph)[function]
    have = granted(synthesized, role)
    want = expected(code, function)
    assert not want - have, f"{function} calls but is not granted: {sorted(want - have)}"
    assert not have - want, f"{function} is granted but never calls: {sorted(have - want)}"


def test_the_functions_call_what_they_did_when_the_policies_were_written(graph: CallGraph) -> None:
    """Today's derivation, by hand: a change here is a change in what the code calls (update the stack with it)."""
    actions = derive_actions(graph=graph)
    assert actions["api"] == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "ssm:GetParameter",
        "ssm:GetParameters",
    }
    # The consumer shares the parameter cache, so it can reach GetParameters; it never reads the CSRF secret,
    # the only parameter that brings another along, and its grant covers its one parameter only.
    assert actions["consumer"] == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
        "ssm:GetParameter",
        "ssm:GetParameters",
    }
    assert actions["hook"] == {"lambda:InvokeFunction", "codedeploy:PutLifecycleEventHookExecutionStatus"}


def _plain_call_sites() -> set[tuple[str, int, str]]:
    """Every ``x.<operation>(...)`` in the runtime's source whose name is an operation of a service the runtime calls.

    A second reading, by name only and without types, so a call the typed walk cannot see is still found.
    """
    sites = set()
    paths = [ROOT / "handler.py", *sorted((ROOT / "contact_sdk").rglob("*.py"))]
    for path in paths:
        relative = path.relative_to(ROOT)
        if relative.parts[:2] in (("contact_sdk", "ops"), ("contact_sdk", "devtools")):
            continue
        module = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                for service in ("ssm", "dynamodb", "sqs", "lambda", "codedeploy"):
                    action = iam_action(service, node.func.attr)
                    if action is not None:
                        sites.add((module, node.lineno, action))
    return sites


def test_every_aws_call_in_the_runtime_is_attributed(graph: CallGraph) -> None:
    """Each call site a plain reading finds is one the typed walk found, and one a function reaches unless listed."""
    typed = {site for sites in graph.sites.values() for site in sites}
    plain = _plain_call_sites()
    assert {(m, a) for m, _, a in plain} <= {(m, a) for m, _, a in typed}, "a call the typed walk cannot see"
    roots = [entry for entries in ENTRY_POINTS.values() for entry in entries]
    roots += [node for node in graph.edges if node.startswith("handler.<module>")]
    reached = graph.sites_from(roots)
    unreached = {(module, action) for module, _, action in typed - reached}
    assert unreached == set(NOT_CALLED_BY_A_FUNCTION)


def test_iam_action_names_come_from_botocore() -> None:
    """A boto3 method maps to its service's operation name; a client helper is not an action."""
    assert iam_action("dynamodb", "update_item") == "dynamodb:UpdateItem"
    assert iam_action("sqs", "change_message_visibility") == "sqs:ChangeMessageVisibility"
    assert iam_action("ssm", "get_parameter") == "ssm:GetParameter"
    assert iam_action("dynamodb", "get_paginator") is None


def test_a_transaction_is_granted_as_the_actions_of_its_items() -> None:
    """A reachable TransactWriteItems counts as the PutItem/UpdateItem of the items reached, never as itself."""
    graph = CallGraph(
        edges={"handler": {"admit", "build_put", "build_update"}},
        actions={"admit": {"dynamodb:TransactWriteItems", "sqs:SendMessage"}},
        items={"build_put": {"dynamodb:PutItem"}, "build_update": {"dynamodb:UpdateItem"}, "elsewhere": {"x:Y"}},
    )
    assert graph.actions_from(["handler"]) == {"dynamodb:PutItem", "dynamodb:UpdateItem", "sqs:SendMessage"}


def test_a_transaction_without_a_visible_item_is_an_error_not_an_empty_grant() -> None:
    """A transaction reached with none of its items fails the derivation instead of granting less."""
    graph = CallGraph(edges={"handler": {"admit"}}, actions={"admit": {"dynamodb:TransactWriteItems"}})
    with pytest.raises(ValueError, match="TransactWriteItems is reachable"):
        graph.actions_from(["handler"])
