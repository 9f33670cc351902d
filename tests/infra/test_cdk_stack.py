"""The synthesized CloudFormation template: every setting the issue and the seed architecture ask for."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import pytest

from contact_sdk.ops.cloudwatch.render import (
    DeploymentParameters,
    render_alarms,
    render_dashboard,
    render_metric_filters,
)
from tests.infra.conftest import CONTEXT, Synthesized


def evaluate(node: Any) -> Any:
    """Evaluate CloudFormation intrinsics into readable sentinels: ``{"Ref": "X"}`` becomes ``"<Ref X>"``."""
    if isinstance(node, list):
        return [evaluate(item) for item in node]
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return f"<Ref {node['Ref']}>"
        if set(node) == {"Fn::GetAtt"}:
            return f"<GetAtt {'.'.join(node['Fn::GetAtt'])}>"
        if set(node) == {"Fn::Join"}:
            separator, parts = node["Fn::Join"]
            return separator.join(str(evaluate(part)) for part in parts)
        return {key: evaluate(value) for key, value in node.items()}
    return node


def expected_parameters(synthesized: Synthesized) -> DeploymentParameters:
    """The stack's DeploymentParameters with every token evaluated the way :func:`evaluate` reads the template."""
    params = synthesized.stack.monitoring_parameters
    values = {}
    for field in fields(params):
        value = getattr(params, field.name)
        values[field.name] = None if value is None else evaluate(synthesized.stack.resolve(value))
    return DeploymentParameters(**values)


def statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    """Every statement of every identity policy in the template (inline policies and roles' policies)."""
    found = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        found += policy["Properties"]["PolicyDocument"]["Statement"]
    for role in synthesized.resources("AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def by_name(synthesized: Synthesized, resource_type: str, key: str, name: str) -> dict[str, Any]:
    for resource in synthesized.resources(resource_type).values():
        if resource["Properties"].get(key) == name:
            return resource
    raise AssertionError(f"no {resource_type} with {key}={name}")


# --- Lambda ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "handler"),
    [
        ("prod-contact-form-handler", "handler.lambda_handler"),
        ("prod-contact-outbox-consumer", "handler.outbox_handler"),
    ],
)
def test_functions_are_python_313_on_arm64_with_the_seed_sizes(
    synthesized: Synthesized, name: str, handler: str
) -> None:
    """Both functions: Python 3.13, arm64, 256 MB, 30 s, X-Ray active, SnapStart on published versions."""
    props = by_name(synthesized, "AWS::Lambda::Function", "FunctionName", name)["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 256
    assert props["Timeout"] == 30
    assert props["Handler"] == handler
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert "LogGroup" in props["LoggingConfig"]


def test_functions_get_the_service_environment(synthesized: Synthesized) -> None:
    """Every variable the handler reads is set: parameters, origins, table, outbox, Resend URL, Powertools."""
    props = by_name(synthesized, "AWS::Lambda::Function", "FunctionName", "prod-contact-form-handler")["Properties"]
    variables = props["Environment"]["Variables"]
    assert variables["CONTACT_CONFIG_PARAMETER"] == "/portfolio/prod/resend/api-key"
    assert variables["CONTACT_CSRF_SECRET_PARAMETER"] == "/portfolio/prod/contact/csrf-secret"
    assert variables["CONTACT_WEBHOOK_SECRET_PARAMETER"] == "/portfolio/prod/resend/webhook-secret"
    assert variables["CONTACT_ALLOWED_ORIGINS"] == CONTEXT["allowedOrigins"]
    assert variables["CONTACT_ENVIRONMENT"] == "prod"
    assert evaluate(variables["CONTACT_TABLE_NAME"]).startswith("<Ref Table")
    assert evaluate(variables["CONTACT_OUTBOX_QUEUE_URL"]).startswith("<Ref OutboxQueue")
    assert evaluate(variables["CONTACT_PARKED_QUEUE_URL"]).startswith("<Ref OutboxDeadLetterQueue")
    assert variables["RESEND_API_URL"] == "https://api.resend.com"
    assert set(variables) >= {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"}


def test_every_context_value_reaches_the_template(synthesized_with_domain: Synthesized) -> None:
    """DOMAIN_CONTEXT gives each value other than its default (environment staging, its own parameter names, a
    Resend URL with a trailing slash, log level debug, a 7/9 throttle, 5 receives before the dead-letter queue):
    each is in the template where it acts, and no prod default is left beside it."""
    template = synthesized_with_domain.template
    names = {"/contact/staging/resend-config", "/contact/staging/csrf", "/contact/staging/webhook"}
    api = by_name(synthesized_with_domain, "AWS::Lambda::Function", "FunctionName", "staging-contact-form-handler")
    consumer = by_name(
        synthesized_with_domain, "AWS::Lambda::Function", "FunctionName", "staging-contact-outbox-consumer"
    )
    for function in (api, consumer):
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["CONTACT_CONFIG_PARAMETER"] == "/contact/staging/resend-config"
        assert (variables["CONTACT_ENVIRONMENT"], variables["POWERTOOLS_LOG_LEVEL"]) == ("staging", "DEBUG")
        assert variables["RESEND_API_URL"] == "https://resend.example.test"
    api_variables = api["Properties"]["Environment"]["Variables"]
    assert api_variables["CONTACT_CSRF_SECRET_PARAMETER"] == "/contact/staging/csrf"
    assert api_variables["CONTACT_WEBHOOK_SECRET_PARAMETER"] == "/contact/staging/webhook"
    outputs = {key: output["Value"] for key, output in template["Outputs"].items()}
    assert outputs["Environment"] == "staging"
    assert {outputs[k] for k in ("ConfigParameterName", "CsrfSecretParameterName", "WebhookSecretParameterName")} == (
        names
    )
    policies = json.dumps([p["Properties"] for p in synthesized_with_domain.resources("AWS::IAM::Policy").values()])
    assert all(f"parameter{name}" in policies for name in names)
    assert "/portfolio/" not in json.dumps(template)
    [setting] = synthesized_with_domain.one("AWS::ApiGateway::Stage")["Properties"]["MethodSettings"]
    assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (7, 9)
    queues = synthesized_with_domain.resources("AWS::SQS::Queue")
    outbox = next(queue for key, queue in queues.items() if key.startswith("OutboxQueue"))
    assert outbox["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5


@pytest.mark.parametrize("variant", ["synthesized", "synthesized_with_domain", "synthesized_with_waf"])
def test_the_runtime_builds_a_service_from_the_deployed_environment(
    variant: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each function's environment, as synthesised, is one the runtime builds its whole service from (no 500s)."""
    from contact_sdk.bootstrap import build_components
    from contact_sdk.devtools.fakes import InMemoryParameterSource
    from contact_sdk.settings import Settings

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    synthesized: Synthesized = request.getfixturevalue(variant)
    for function in synthesized.resources("AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        # Resource names are CloudFormation references until deployed: give them deployed-looking values.
        resolved = {
            name: value if isinstance(value, str) else f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name}"
            for name, value in variables.items()
        }
        components = build_components(Settings.from_env(resolved), parameters=InMemoryParameterSource())
        components.close()


def test_log_groups_keep_seven_days(synthesized: Synthesized) -> None:
    """Both function log groups and the API access log group expire after 7 days."""
    groups = {g["Properties"]["LogGroupName"]: g for g in synthesized.resources("AWS::Logs::LogGroup").values()}
    assert set(groups) == {
        "/aws/lambda/prod-contact-form-handler",
        "/aws/lambda/prod-contact-outbox-consumer",
        "/aws/lambda/prod-contact-form-handler-predeploy-check",
        "/aws/lambda/prod-contact-outbox-consumer-predeploy-check",
        "/aws/apigateway/prod-portfolio-api",
    }
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {7}


def test_each_function_has_a_published_version_behind_the_live_alias(synthesized: Synthesized) -> None:
    """SnapStart only applies to versions: each alias points at a published AWS::Lambda::Version."""
    versions = synthesized.resources("AWS::Lambda::Version")
    aliases = synthesized.resources("AWS::Lambda::Alias")
    assert len(versions) == len(aliases) == 2
    for alias in aliases.values():
        assert alias["Properties"]["Name"] == "live"
        version_ref = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
        assert version_ref in versions


def test_reserved_concurrency_is_a_parameter_with_an_unreserved_escape(synthesized: Synthesized) -> None:
    """ReservedConcurrency drives the API function's reservation; -1 removes it (AWS::NoValue)."""
    parameter = synthesized.template["Parameters"]["ReservedConcurrency"]
    assert parameter["Type"] == "Number"
    props = by_name(synthesized, "AWS::Lambda::Function", "FunctionName", "prod-contact-form-handler")["Properties"]
    assert props["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    condition = synthesized.template["Conditions"]["HasReservedConcurrency"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "-1"]}]}


def test_outbox_consumer_reads_the_queue_with_partial_batch_responses(synthesized: Synthesized) -> None:
    """The SQS event source targets the consumer's alias and reports per-message failures."""
    mapping = synthesized.one("AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert evaluate(props["EventSourceArn"]).startswith("<GetAtt OutboxQueue")
    target = str(evaluate(props["FunctionName"]))
    assert "<Ref OutboxConsumerAlias" in target
    assert target.endswith(":live")
    assert props["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert any(dep.startswith("OutboxConsumerPolicy") for dep in mapping["DependsOn"])


# --- Queues, table, topic, key ----------------------------------------------------------------------


def test_outbox_has_an_encrypted_dead_letter_queue(synthesized: Synthesized) -> None:
    """Outbox and DLQ use SSE-SQS; after 450 receives a message moves to the DLQ; visibility 6x the timeout."""
    queues = synthesized.resources("AWS::SQS::Queue")
    outbox = next(q for k, q in queues.items() if k.startswith("OutboxQueue"))
    dlq_id = next(k for k in queues if k.startswith("OutboxDeadLetterQueue"))
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert queue["DeletionPolicy"] == "Retain"
    assert outbox["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 450,
    }
    assert outbox["Properties"]["VisibilityTimeout"] == 180


def test_queues_and_topic_refuse_plain_http(synthesized: Synthesized) -> None:
    """Queue and topic policies deny any request without TLS (aws:SecureTransport false)."""
    policies = [
        *synthesized.resources("AWS::SQS::QueuePolicy").values(),
        *synthesized.resources("AWS::SNS::TopicPolicy").values(),
    ]
    assert len(policies) == 3
    for policy in policies:
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_table_is_on_demand_with_ttl_pitr_and_encryption(synthesized: Synthesized) -> None:
    """DynamoDB: pk (S) key, pay per request, TTL on expiresAt, point-in-time recovery, SSE with the stack's key,
    retained."""
    table = synthesized.one("AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert evaluate(props["SSESpecification"]["KMSMasterKeyId"]).startswith("<GetAtt ParametersKey")
    assert table["DeletionPolicy"] == "Retain"


def test_table_has_the_two_keys_only_archive_indexes(
    synthesized: Synthesized, synthesized_with_domain: Synthesized
) -> None:
    """archive-by-email (emailNormalized) and archive-by-state (state, receivedAt), keys only, as create_table
    makes them for the local stack; archiveIndexes=1 (an upgrade's first deployment) defines the first alone."""
    props = synthesized.one("AWS::DynamoDB::Table")["Properties"]
    assert sorted(props["AttributeDefinitions"], key=lambda d: d["AttributeName"]) == [
        {"AttributeName": "emailNormalized", "AttributeType": "S"},
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "receivedAt", "AttributeType": "N"},
        {"AttributeName": "state", "AttributeType": "S"},
    ]
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "archive-by-email",
            "KeySchema": [{"AttributeName": "emailNormalized", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
        {
            "IndexName": "archive-by-state",
            "KeySchema": [
                {"AttributeName": "state", "KeyType": "HASH"},
                {"AttributeName": "receivedAt", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
    ]
    first_step = synthesized_with_domain.one("AWS::DynamoDB::Table")["Properties"]
    assert [index["IndexName"] for index in first_step["GlobalSecondaryIndexes"]] == ["archive-by-email"]


def test_key_rotates_is_aliased_and_retained(synthesized: Synthesized) -> None:
    """The customer-managed key: yearly rotation, the seed's alias, RETAIN, 30-day deletion window."""
    key = synthesized.one("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 30
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    alias = synthesized.one("AWS::KMS::Alias")
    assert alias["Properties"]["AliasName"] == "alias/prod-portfolio-parameters"


def test_alarm_topic_is_encrypted_and_only_this_stacks_alarms_may_use_it(synthesized: Synthesized) -> None:
    """The topic uses the CMK; CloudWatch may use the key and publish to the topic only for this account's alarms
    that this stack creates (aws:SourceAccount and aws:SourceArn), never for anyone's alarm."""
    topic = synthesized.one("AWS::SNS::Topic")
    assert evaluate(topic["Properties"]["KmsMasterKeyId"]).startswith("<GetAtt ParametersKey")
    names = sorted(a["Properties"]["AlarmName"] for a in synthesized.resources("AWS::CloudWatch::Alarm").values())
    assert len(names) >= 18
    arns = [f"arn:<Ref AWS::Partition>:cloudwatch:<Ref AWS::Region>:<Ref AWS::AccountId>:alarm:{n}" for n in names]
    key_statements = synthesized.one("AWS::KMS::Key")["Properties"]["KeyPolicy"]["Statement"]
    (grant,) = [s for s in key_statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    topic_statements = synthesized.one("AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    (publish,) = [s for s in topic_statements if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    for statement in (grant, publish):
        condition = evaluate(statement["Condition"])
        assert condition["StringEquals"] == {"aws:SourceAccount": "<Ref AWS::AccountId>"}
        assert sorted(condition["ArnEquals"]["aws:SourceArn"]) == arns


def test_alarm_email_subscription_is_a_parameter(synthesized: Synthesized) -> None:
    """AlarmEmail subscribes an address to the topic; left empty, no subscription is created."""
    subscription = synthesized.one("AWS::SNS::Subscription")
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert synthesized.template["Parameters"]["AlarmEmail"]["Default"] == ""


# --- IAM --------------------------------------------------------------------------------------------


def test_no_identity_policy_grants_a_wildcard_resource_except_xray(synthesized: Synthesized) -> None:
    """Only X-Ray's trace upload (no resource-level permissions exist for it) has Resource "*"."""
    for statement in statements(synthesized):
        actions = set(as_list(statement["Action"]))
        assert not any(action == "*" or action.endswith(":*") for action in actions), statement
        if "*" in as_list(statement["Resource"]):
            assert actions == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, statement


def test_function_roles_have_no_managed_policies(synthesized: Synthesized) -> None:
    """Function roles carry only the inline policies written in the stack (no AWSLambdaBasicExecutionRole)."""
    roles = synthesized.resources("AWS::IAM::Role")
    function_roles = {k: r for k, r in roles.items() if k.startswith(("ApiRole", "OutboxConsumerRole"))}
    assert len(function_roles) == 2
    for role in function_roles.values():
        assert "ManagedPolicyArns" not in role["Properties"]


def _policy(synthesized: Synthesized, prefix: str) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in synthesized.resources("AWS::IAM::Policy").items() if k.startswith(prefix)]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def _sid(statements_: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    return next(s for s in statements_ if s.get("Sid") == sid)


def _parameter_arn(name: str) -> str:
    return f"arn:<Ref AWS::Partition>:ssm:<Ref AWS::Region>:<Ref AWS::AccountId>:parameter{name}"


def test_api_function_reads_exactly_its_three_parameters(synthesized: Synthesized) -> None:
    """ssm:GetParameter(s) on the config, CSRF and webhook parameter ARNs, nothing broader."""
    statement = _sid(_policy(synthesized, "ApiPolicy"), "ReadParameters")
    assert statement["Action"] == ["ssm:GetParameter", "ssm:GetParameters"]
    assert evaluate(statement["Resource"]) == [
        _parameter_arn("/portfolio/prod/resend/api-key"),
        _parameter_arn("/portfolio/prod/contact/csrf-secret"),
        _parameter_arn("/portfolio/prod/resend/webhook-secret"),
    ]


@pytest.mark.parametrize(("prefix", "count"), [("ApiPolicy", 3), ("OutboxConsumerPolicy", 1)])
def test_kms_decrypt_only_via_ssm_and_only_for_the_parameters(
    synthesized: Synthesized, prefix: str, count: int
) -> None:
    """kms:Decrypt on the key ARN, conditioned on kms:ViaService = ssm.<region> and the parameters' ARNs."""
    statement = _sid(_policy(synthesized, prefix), "DecryptParametersViaSsm")
    assert statement["Action"] == "kms:Decrypt"
    assert evaluate(statement["Resource"]).startswith("<GetAtt ParametersKey")
    condition = evaluate(statement["Condition"])["StringEquals"]
    assert condition["kms:ViaService"] == "ssm.<Ref AWS::Region>.amazonaws.com"
    assert len(as_list(condition["kms:EncryptionContext:PARAMETER_ARN"])) == count


@pytest.mark.parametrize("prefix", ["ApiPolicy", "OutboxConsumerPolicy"])
def test_the_table_key_is_usable_only_via_dynamodb(synthesized: Synthesized, prefix: str) -> None:
    """The functions may use the table's customer-managed key only through DynamoDB, for no other service."""
    statement = _sid(_policy(synthesized, prefix), "UseTableKeyViaDynamoDB")
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}
    assert evaluate(statement["Resource"]).startswith("<GetAtt ParametersKey")
    condition = evaluate(statement["Condition"])["StringEquals"]
    assert condition == {"kms:ViaService": "dynamodb.<Ref AWS::Region>.amazonaws.com"}


@pytest.mark.parametrize(
    ("prefix", "actions"),
    [
        ("ApiPolicy", {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}),
        ("OutboxConsumerPolicy", {"dynamodb:GetItem", "dynamodb:UpdateItem"}),
    ],
)
def test_table_actions_are_the_ones_each_function_calls(
    synthesized: Synthesized, prefix: str, actions: set[str]
) -> None:
    """The table actions each function calls today (tests/infra/test_iam_as_used.py derives them), on its ARN only:
    no Query or Scan (neither function reads more than one item), no DeleteItem (neither deletes), and nothing on
    the operator's indexes (an index ARN is the table ARN + /index/<name>, which this grant does not cover)."""
    statement = _sid(_policy(synthesized, prefix), "UseTable")
    assert set(as_list(statement["Action"])) == actions
    assert evaluate(statement["Resource"]).startswith("<GetAtt Table")
    assert "/index/" not in json.dumps(statement["Resource"])
    for other in _policy(synthesized, prefix):
        granted = set(as_list(other["Action"]))
        assert not granted & {"dynamodb:Query", "dynamodb:Scan", "dynamodb:DeleteItem"}, other


def test_queue_actions_are_split_between_producer_and_consumer(synthesized: Synthesized) -> None:
    """The API function may only send (to the outbox, and park on the DLQ); the consumer may receive, delete,
    extend visibility on the outbox, and only send to the DLQ (parking)."""
    api = _policy(synthesized, "ApiPolicy")
    consumer = _policy(synthesized, "OutboxConsumerPolicy")
    assert _sid(api, "SendToOutbox")["Action"] == "sqs:SendMessage"
    for policy in (api, consumer):
        parking = _sid(policy, "ParkOnDeadLetterQueue")
        assert parking["Action"] == "sqs:SendMessage"
        assert evaluate(parking["Resource"]).startswith("<GetAtt OutboxDeadLetterQueue")
    assert set(_sid(consumer, "ConsumeOutbox")["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    consume = _sid(consumer, "ConsumeOutbox")
    assert "sqs:SendMessage" not in as_list(consume["Action"])
    senders = [s for s in consumer if "sqs:SendMessage" in as_list(s["Action"])]
    assert [s.get("Sid") for s in senders] == ["ParkOnDeadLetterQueue"]
    assert not any(s.get("Sid") == "ReadParameters" and len(as_list(s["Resource"])) > 1 for s in consumer)


def test_functions_write_only_their_own_log_group(synthesized: Synthesized) -> None:
    """logs:CreateLogStream/PutLogEvents on the function's own log group; no logs:CreateLogGroup anywhere."""
    for prefix, group in (("ApiPolicy", "ApiLogGroup"), ("OutboxConsumerPolicy", "OutboxConsumerLogGroup")):
        statement = _sid(_policy(synthesized, prefix), "WriteOwnLogs")
        assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
        assert evaluate(statement["Resource"]).startswith(f"<GetAtt {group}")
    assert not any("logs:CreateLogGroup" in as_list(s["Action"]) for s in statements(synthesized))


# --- API Gateway ------------------------------------------------------------------------------------


def _routes(synthesized: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    paths = {}
    resources = synthesized.resources("AWS::ApiGateway::Resource")
    for logical_id, resource in resources.items():
        parent = resource["Properties"]["ParentId"]
        prefix = "" if "Fn::GetAtt" in parent else paths.get(parent["Ref"], "")
        paths[logical_id] = f"{prefix}/{resource['Properties']['PathPart']}"
    for logical_id, resource in resources.items():  # second pass: children listed before parents
        parent = resource["Properties"]["ParentId"]
        if "Ref" in parent:
            paths[logical_id] = f"{paths[parent['Ref']]}/{resource['Properties']['PathPart']}"
    return {
        (m["Properties"]["HttpMethod"], paths[m["Properties"]["ResourceId"]["Ref"]]): m["Properties"]
        for m in synthesized.resources("AWS::ApiGateway::Method").values()
    }


def test_routes_of_the_contract_all_reach_the_function(synthesized: Synthesized) -> None:
    """POST /contact, GET /contact/token, OPTIONS on both, POST /contact/events, ANY (405) on each path."""
    routes = _routes(synthesized)
    assert set(routes) == {
        ("POST", "/contact"),
        ("OPTIONS", "/contact"),
        ("ANY", "/contact"),
        ("GET", "/contact/token"),
        ("OPTIONS", "/contact/token"),
        ("ANY", "/contact/token"),
        ("POST", "/contact/events"),
        ("ANY", "/contact/events"),
    }
    for method in routes.values():
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY", "preflight is the function's job, never a MOCK"
        assert "<Ref ApiAlias" in evaluate(integration["Uri"]), "API Gateway must invoke the alias (SnapStart)"
        assert method["AuthorizationType"] == "NONE"


def test_stage_throttles_traces_and_logs_access(synthesized: Synthesized) -> None:
    """Stage: 25 rps with a burst of 20 on every method (20 reserved x 0.5 / 0.4 s; docs/deploy.md), X-Ray on,
    JSON access logs to the 7-day group."""
    stage = synthesized.one("AWS::ApiGateway::Stage")["Properties"]
    assert stage["StageName"] == "prod"
    assert stage["TracingEnabled"] is True
    assert stage["MethodSettings"] == [
        {
            "DataTraceEnabled": False,
            "HttpMethod": "*",
            "LoggingLevel": "OFF",
            "MetricsEnabled": False,
            "ResourcePath": "/*",
            "ThrottlingBurstLimit": 20,
            "ThrottlingRateLimit": 25,
        }
    ]
    assert evaluate(stage["AccessLogSetting"]["DestinationArn"]).startswith("<GetAtt ApiAccessLogGroup")
    access_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert access_format["requestId"] == "$context.requestId"
    assert access_format["ip"] == "$context.identity.sourceIp"


def test_api_is_regional(synthesized: Synthesized) -> None:
    """A regional endpoint (a custom domain or CloudFront in front is the operator's choice)."""
    api = synthesized.one("AWS::ApiGateway::RestApi")["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert api["Name"] == "prod-portfolio-api"


@pytest.mark.parametrize(
    ("response_type", "status", "code"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", "404", "not_found"),
        ("THROTTLED", "429", "rate_limited"),
        ("REQUEST_TOO_LARGE", "413", "payload_too_large"),
        ("DEFAULT_5XX", None, "service_unavailable"),
    ],
)
def test_gateway_answers_use_the_contract_error_shape(
    synthesized: Synthesized, response_type: str, status: str | None, code: str
) -> None:
    """API Gateway's own answers carry the contract's JSON error body, request id and security headers."""
    (response,) = [
        r["Properties"]
        for r in synthesized.resources("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == response_type
    ]
    assert response.get("StatusCode") == status
    body = json.loads(response["ResponseTemplates"]["application/json"])
    assert body["error"]["code"] == code
    assert body["requestId"] == "$context.requestId"
    headers = response["ResponseParameters"]
    assert headers["gatewayresponse.header.Content-Type"] == "'application/json'"
    assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
    assert not any("Access-Control" in key for key in headers), "CORS headers only from the function's allow-list"


def test_custom_domain_is_optional_and_tls12(synthesized: Synthesized, synthesized_with_domain: Synthesized) -> None:
    """Without context there is no domain; with it, a regional TLS 1.2 domain, a mapping and an alias record."""
    assert not synthesized.resources("AWS::ApiGateway::DomainName")
    domain = synthesized_with_domain.one("AWS::ApiGateway::DomainName")["Properties"]
    assert domain["DomainName"] == "api.staging.example.com"
    assert domain["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert domain["SecurityPolicy"] == "TLS_1_2"
    assert domain["RegionalCertificateArn"].startswith("arn:aws:acm:")
    assert synthesized_with_domain.one("AWS::ApiGateway::BasePathMapping")
    record = synthesized_with_domain.one("AWS::Route53::RecordSet")["Properties"]
    assert record["Type"] == "A"
    assert record["HostedZoneId"] == "Z0123456789ABCDEFGHIJ"
    assert synthesized_with_domain.one("AWS::ApiGateway::Stage")["Properties"]["StageName"] == "v1"


# --- CloudWatch from the JSON templates -----------------------------------------------------------


def test_alarms_are_exactly_the_rendered_templates(synthesized: Synthesized) -> None:
    """Each AWS::CloudWatch::Alarm's properties equal one render_alarms() entry, and nothing else exists."""
    expected = sorted(render_alarms(expected_parameters(synthesized)), key=lambda a: a["AlarmName"])
    actual = sorted(
        (evaluate(a["Properties"]) for a in synthesized.resources("AWS::CloudWatch::Alarm").values()),
        key=lambda a: a["AlarmName"],
    )
    assert expected, "the templates render no alarm at all"
    assert actual == expected


def test_alarms_notify_the_topic(synthesized: Synthesized) -> None:
    """Every alarm's actions are the stack's alarm topic."""
    for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values():
        actions = evaluate(alarm["Properties"].get("AlarmActions", []))
        assert actions, alarm["Properties"]["AlarmName"]
        assert all(action.startswith("<Ref AlarmTopic") for action in actions)


def test_dashboard_is_exactly_the_rendered_template(synthesized: Synthesized) -> None:
    """The dashboard body is render_dashboard()'s object, with the stack's names and tokens filled in."""
    dashboard = synthesized.one("AWS::CloudWatch::Dashboard")["Properties"]
    assert dashboard["DashboardName"] == "prod-portfolio-email-dashboard"
    body = evaluate(dashboard["DashboardBody"])
    assert json.loads(body) == render_dashboard(expected_parameters(synthesized))


def test_metric_filters_are_the_rendered_templates(synthesized: Synthesized) -> None:
    """The log metric filters are render_metric_filters()' entries, translated to CloudFormation's names."""
    from contact_stack.monitoring import metric_filter_properties

    expected = sorted(
        (metric_filter_properties(f) for f in render_metric_filters(expected_parameters(synthesized))),
        key=lambda f: f["FilterName"],
    )
    actual = sorted(
        (evaluate(f["Properties"]) for f in synthesized.resources("AWS::Logs::MetricFilter").values()),
        key=lambda f: f["FilterName"],
    )
    assert actual == expected
    assert {f["LogGroupName"] for f in actual} == {
        "/aws/lambda/prod-contact-form-handler",
        "/aws/lambda/prod-contact-outbox-consumer",
    }


# --- Outputs and the whole ----------------------------------------------------------------------------


def test_outputs_name_what_an_operator_needs(synthesized: Synthesized) -> None:
    """The API URL, the three parameter names, the key alias and the topic ARN are stack outputs."""
    outputs = synthesized.template["Outputs"]
    assert {
        "ApiUrl",
        "ConfigParameterName",
        "CsrfSecretParameterName",
        "WebhookSecretParameterName",
        "ParametersKeyAlias",
        "AlarmTopicArn",
        "ApiFunctionName",
        "DashboardName",
    } <= set(outputs)
    assert outputs["ConfigParameterName"]["Value"] == "/portfolio/prod/resend/api-key"
    url = evaluate(outputs["ApiUrl"]["Value"])
    assert url.startswith("https://<Ref Api")
    assert url.endswith("/contact")


def test_synthesis_is_quick_enough_to_run_in_every_test_run(synthesized: Synthesized) -> None:
    """One synthesis (Node.js start included) stays well under a minute."""
    assert synthesized.seconds < 60
