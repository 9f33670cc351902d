"""The whole contact-form service as one CloudFormation stack.

::

    browser ──► [optional WAF web ACL: per-IP rate rule, AWS managed rules]  (contact_stack.waf)
            ──► API Gateway (REST, regional, stage throttle sized from the reservation, access logs, X-Ray)
                   │  POST /contact · GET /contact/token · OPTIONS (both) · POST /contact/events · ANY -> 405
                   ▼
                Lambda "<env>-contact-form-handler" (alias live -> published version, SnapStart)
                   │ ssm:GetParameter ─► SecureStrings ─► kms:Decrypt (via ssm only)
                   │ DynamoDB table (rate limits, nonces, submission records, delivery events; two
                   │   keys-only indexes of the records that only the operator's commands read)
                   │ sqs:SendMessage ─► outbox queue ──► Lambda "<env>-contact-outbox-consumer" (alias live) ─► DLQ
                   ▼
                CloudWatch: EMF metrics, dashboard + alarms from the JSON templates ─► SNS topic (KMS)
                (Errors, Throttles and timeouts of both functions among them)
                CodeDeploy: each alias shifted to a new version by canary after a pre-traffic check,
                rolled back by the rollback alarms (contact_stack.deployment)

Design choices, each in one place:

* **CORS preflight goes to the function**, not to an API Gateway MOCK integration: the function
  answers ``OPTIONS`` from the same ``CONTACT_ALLOWED_ORIGINS`` allow-list it enforces on every
  other request, so the list lives in one place and a refused origin gets no CORS headers at all.
* **Request size guard**: API Gateway's own limit is 10 MB and cannot be lowered on a REST API; the
  function refuses bodies over 32 KiB with the contract's ``413 payload_too_large`` before parsing.
  No API Gateway body validator/model: its ``400`` would not carry the contract's error body, and
  the field rules would live in two places.
* **Roles are written out**, no managed policies, **exactly as used**: ``ssm:GetParameter`` on the parameter
  ARNs, ``kms:Decrypt`` only via SSM and only for those parameters, the table actions each function's code
  calls on the table's ARN (so nothing on its indexes, which are the operator's; the table's key only via
  DynamoDB), the queue's actions, log streams in the function's own log
  group. ``tests/infra/test_iam_as_used.py`` derives each function's actions from its code's boto3 calls
  (``tools/boto3_calls.py``) and compares. The only ``*`` resource is X-Ray's
  ``PutTraceSegments``/``PutTelemetryRecords``, which support no resource-level permissions.
* **A flood** meets, in order: the optional web ACL's per-IP rule, the stage throttle (rate = reserved
  concurrency x headroom / p95 duration, burst = reserved concurrency; docs/deploy.md has the
  arithmetic), then the function's own guards. The ``Throttles`` alarms say when it got through.
* **cdk-nag**: ``infra/app.py`` runs the AwsSolutions pack on every synth; each acknowledgment is made
  below, beside its construct, with its reason.
* **Encryption**: parameters and the alarm topic with the customer-managed key (CloudWatch alarms
  can only publish to a topic whose key policy admits them, which an AWS-managed key cannot);
  the table (which holds the submission archive) with the same customer-managed key, used by the
  functions only via DynamoDB; the queues with SSE-SQS (no key policy to get wrong
  on the Lambda poller path); CloudWatch Logs encrypt at rest always.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    Aws,
    CfnCondition,
    CfnOutput,
    CfnParameter,
    Duration,
    Environment,
    Fn,
    RemovalPolicy,
    Stack,
    Tags,
    Token,
    Validations,
)
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from contact_sdk.dynamo import EMAIL_INDEX, PARTITION_KEY, TIME_INDEX, TTL_ATTRIBUTE
from contact_sdk.ops.cloudwatch.render import DeploymentParameters, rollback_alarm_names
from contact_stack.deployment import CanaryDeployment, DeploymentTarget
from contact_stack.monitoring import Monitoring
from contact_stack.settings import StackSettings, check_function_environment, deployment_config_name
from contact_stack.waf import StageFirewall

__all__ = ["ALIAS_NAME", "API_DYNAMODB_ACTIONS", "CONSUMER_DYNAMODB_ACTIONS", "ContactStack"]

#: The alias API Gateway and the event source invoke. CodeDeploy shifts it to a new version by canary and back on
#: a rollback (contact_stack.deployment); an operator stops a deployment rather than moving it by hand.
ALIAS_NAME = "live"

#: The DynamoDB actions each function's code calls, granted on the table ARN only. Derived from the code by
#: tools/boto3_calls.py; tests/infra/test_iam_as_used.py fails when the code and these lists part ways. The API
#: function: the submission records, the breaker, CSRF nonces (PutItem), rate limits, the delivery events; its two
#: TransactWriteItems (the admission's rate limit + nonce + record claim, the webhook's marker + event) are
#: authorized by their items' PutItem and UpdateItem, TransactWriteItems being no IAM action of its own. The
#: consumer: the records, the breaker.
API_DYNAMODB_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
CONSUMER_DYNAMODB_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")
#: What a function needs of the customer-managed key to read and write the table through DynamoDB (named
#: one by one: no wildcard for cdk-nag's IAM5 to acknowledge).
TABLE_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")

#: Outbox consumer actions: the event source mapping polls with the function's role (receive, delete, read the
#: queue's attributes: AWS's list for SQS event sources); the code hides a failed message longer each receive.
_CONSUMER_SQS_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)

_FUNCTION_TIMEOUT = Duration.seconds(30)
#: AWS's advice for SQS event sources: visibility timeout at least six times the function timeout.
_OUTBOX_VISIBILITY = Duration.seconds(6 * 30)

_SECURITY_HEADERS = {
    "Content-Type": "'application/json'",
    "Strict-Transport-Security": "'max-age=31536000; includeSubDomains'",
    "X-Content-Type-Options": "'nosniff'",
    "Cache-Control": "'no-store'",
    "Referrer-Policy": "'no-referrer'",
    "Content-Security-Policy": "'default-src \\'none\\'; frame-ancestors \\'none\\''",
}

#: Answers API Gateway gives itself (no route, its own throttle, its own failures), in the contract's shape.
_GATEWAY_RESPONSES = (
    (apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "404", "not_found", "No such route.", None),
    (apigw.ResponseType.THROTTLED, "429", "rate_limited", "Too many requests; try again shortly.", "1"),
    (apigw.ResponseType.REQUEST_TOO_LARGE, "413", "payload_too_large", "The request body is too large.", None),
    (apigw.ResponseType.DEFAULT_5_XX, None, "service_unavailable", "The service is unavailable; try again.", "5"),
)

_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "errorType": "$context.error.responseType",
    "xrayTraceId": "$context.xrayTraceId",
    "userAgent": "$context.identity.userAgent",
}


def _as_deployed(environment: dict[str, str]) -> dict[str, str]:
    """The functions' environment with each unresolved token (a resource's name or URL, known only once deployed)
    replaced by a value of the kind CloudFormation will put there: a queue's URL as SQS gives it, else a name."""
    deployed = dict(environment)
    for name, value in environment.items():
        if Token.is_unresolved(value):
            queue_url = f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name.lower()}"
            deployed[name] = queue_url if name.endswith("_QUEUE_URL") else name.lower()
    return deployed


def _acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept one cdk-nag finding on ``scope`` (and below), with the reason beside the construct it is about."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


@dataclass(frozen=True, slots=True)
class _FunctionParts:
    name: str
    log_group_name: str
    function: lambda_.Function
    alias: lambda_.Alias
    log_group: logs.LogGroup
    policy: iam.Policy


class ContactStack(Stack):
    """The contact-form service for one environment. Construct it with :class:`StackSettings`.

    Example::

        app = App()
        ContactStack(app, "contact-prod", settings=StackSettings.from_context(app.node.try_get_context),
                     code=lambda_.Code.from_asset("../dist/lambda-arm64.zip"))
        app.synth()
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        code: lambda_.Code,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description=f"Contact form service ({settings.environment}): API Gateway, Lambda, Resend via SSM",
        )
        self.settings = settings
        prefix = settings.prefix
        Tags.of(self).add("project", "contact-form")
        Tags.of(self).add("environment", settings.environment)

        # --- Parameters an operator may change without a new synth -------------------------------
        alarm_email = CfnParameter(
            self,
            "AlarmEmail",
            type="String",
            default="",
            description="E-mail address subscribed to the alarm topic (empty: no subscription).",
            allowed_pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            constraint_description="an e-mail address, or empty",
        )
        reserved = CfnParameter(
            self,
            "ReservedConcurrency",
            type="Number",
            default=settings.reserved_concurrency,
            min_value=-1,
            description=(
                "Reserved concurrency of the API function; -1 leaves it unreserved (accounts whose concurrency "
                "quota is 10 cannot reserve any), 0 stops it (an emergency brake)."
            ),
        )
        has_email = CfnCondition(
            self, "HasAlarmEmail", expression=Fn.condition_not(Fn.condition_equals(alarm_email, ""))
        )
        has_reservation = CfnCondition(
            self, "HasReservedConcurrency", expression=Fn.condition_not(Fn.condition_equals(reserved, "-1"))
        )

        # --- Keys, parameters, data ---------------------------------------------------------------
        self.key = kms.Key(
            self,
            "ParametersKey",
            alias=f"alias/{prefix}-portfolio-parameters",
            description=f"Contact form ({prefix}): SSM SecureString parameters, the alarm topic and the table",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.parameter_arns = {
            name: self.format_arn(service="ssm", resource="parameter", resource_name=name.lstrip("/"))
            for name in settings.parameter_names
        }

        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The archive keeps what visitors wrote: under the stack's own key, whose use CloudTrail shows
            # and whose key policy the owner controls (an AWS-managed key offers neither).
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The operator's two sparse, keys-only indexes (contact_sdk.dynamo has the why). One per deployment when the
        # table exists already: DynamoDB creates one index per table update (settings.archive_indexes).
        indexes = (
            (EMAIL_INDEX, dynamodb.Attribute(name="emailNormalized", type=dynamodb.AttributeType.STRING), None),
            (
                TIME_INDEX,
                dynamodb.Attribute(name="state", type=dynamodb.AttributeType.STRING),
                dynamodb.Attribute(name="receivedAt", type=dynamodb.AttributeType.NUMBER),
            ),
        )
        for index_name, partition_key, sort_key in indexes[: settings.archive_indexes]:
            self.table.add_global_secondary_index(
                index_name=index_name,
                partition_key=partition_key,
                sort_key=sort_key,
                projection_type=dynamodb.ProjectionType.KEYS_ONLY,
            )

        self.dead_letter_queue = sqs.Queue(
            self,
            "OutboxDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.outbox = sqs.Queue(
            self,
            "OutboxQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            visibility_timeout=_OUTBOX_VISIBILITY,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=settings.outbox_max_receive_count
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"{prefix}-portfolio-email-alarms",
            display_name=f"Contact form alarms ({prefix})",
            master_key=self.key,
            enforce_ssl=True,
        )
        subscription = sns.CfnSubscription(
            self, "AlarmEmailSubscription", protocol="email", endpoint=alarm_email.value_as_string,
            topic_arn=self.alarm_topic.topic_arn,
        )  # fmt: skip
        subscription.cfn_options.condition = has_email

        # --- Functions ----------------------------------------------------------------------------
        environment = {
            **settings.function_environment(),
            "CONTACT_TABLE_NAME": self.table.table_name,
            "CONTACT_OUTBOX_QUEUE_URL": self.outbox.queue_url,
            # A permanently refused submission is parked on the DLQ with its reason (contact_sdk.parking).
            "CONTACT_PARKED_QUEUE_URL": self.dead_letter_queue.queue_url,
        }
        # The whole environment through the runtime's parsers once more: a variable added here that the
        # function would refuse stops the synth (the resources' names and URLs, tokens until deployed, are read
        # as values of their kind: the runtime checks a queue URL's shape).
        check_function_environment(_as_deployed(environment))
        self.api_function = self._function(
            "Api",
            name=f"{prefix}-contact-form-handler",
            handler="handler.lambda_handler",
            description="Contact form API: token, submit, CORS preflight, delivery webhooks",
            code=code,
            environment=environment,
            parameters=settings.parameter_names,
            table_actions=API_DYNAMODB_ACTIONS,
            statements=[
                iam.PolicyStatement(sid="SendToOutbox", actions=["sqs:SendMessage"], resources=[self.outbox.queue_arn]),
                iam.PolicyStatement(
                    sid="ParkOnDeadLetterQueue",
                    actions=["sqs:SendMessage"],
                    resources=[self.dead_letter_queue.queue_arn],
                ),
            ],
        )
        self.api_function.function.node.default_child.add_property_override(  # type: ignore[union-attr]
            "ReservedConcurrentExecutions",
            Fn.condition_if(has_reservation.logical_id, reserved.value_as_number, Aws.NO_VALUE),
        )
        self.consumer_function = self._function(
            "OutboxConsumer",
            name=f"{prefix}-contact-outbox-consumer",
            handler="handler.outbox_handler",
            description="Contact form outbox: delivers queued submissions when Resend is back",
            code=code,
            environment=environment,
            parameters=(settings.config_parameter,),
            table_actions=CONSUMER_DYNAMODB_ACTIONS,
            statements=[
                iam.PolicyStatement(
                    sid="ConsumeOutbox", actions=list(_CONSUMER_SQS_ACTIONS), resources=[self.outbox.queue_arn]
                ),
                iam.PolicyStatement(
                    sid="ParkOnDeadLetterQueue",
                    actions=["sqs:SendMessage"],
                    resources=[self.dead_letter_queue.queue_arn],
                ),
            ],
        )
        mapping = lambda_.EventSourceMapping(
            self,
            "OutboxEventSource",
            target=self.consumer_function.alias,
            event_source_arn=self.outbox.queue_arn,
            batch_size=10,
            max_batching_window=Duration.seconds(5),
            report_batch_item_failures=True,
            max_concurrency=2,
        )
        # The mapping is validated against the role on creation: its permissions must exist first.
        mapping.node.add_dependency(self.consumer_function.policy)

        # --- API ----------------------------------------------------------------------------------
        self.api = self._api(settings)
        self.firewall = (
            StageFirewall(
                self,
                "Firewall",
                stage=self.api.deployment_stage,
                name=self.api.rest_api_name,
                rate_limit=settings.waf_rate_limit,
                managed_rules=settings.waf_managed_rules,
            )
            if settings.waf
            else None
        )

        # --- Monitoring from the JSON templates ---------------------------------------------------
        # Names this stack chooses go in as plain strings (stable logical ids, readable templates);
        # only what CloudFormation names (queues, topic) or the deploy target decides (region) is a token.
        self.monitoring_parameters = DeploymentParameters(
            region=self.region,
            function_name=self.api_function.name,
            api_name=self.api.rest_api_name,
            stage=settings.stage,
            environment=settings.environment,
            alarm_topic_arn=self.alarm_topic.topic_arn,
            log_group_name=self.api_function.log_group_name,
            dashboard_name=f"{prefix}-portfolio-email-dashboard",
            outbox_queue_name=self.outbox.queue_name,
            dead_letter_queue_name=self.dead_letter_queue.queue_name,
            consumer_function_name=self.consumer_function.name,
            consumer_log_group_name=self.consumer_function.log_group_name,
        )
        self.monitoring = Monitoring.add(
            self,
            self.monitoring_parameters,
            depends_on=[self.api_function.log_group, self.consumer_function.log_group],
        )

        self._admit_alarms(self.alarm_names())

        # --- Canary deploys: CodeDeploy shifts each alias, after a pre-traffic check, and rolls back ----------
        self.deployments = self._canary_deployments(settings, code)

        # --- Outputs --------------------------------------------------------------------------------
        outputs = {
            "ApiUrl": (self.api.url_for_path("/contact"), "POST here; GET /contact/token first"),
            "ConfigParameterName": (settings.config_parameter, "SecureString: contact-sdk config put"),
            "CsrfSecretParameterName": (settings.csrf_secret_parameter, "SecureString: config put-csrf-secret"),
            "WebhookSecretParameterName": (settings.webhook_secret_parameter, "SecureString: put-webhook-secret"),
            "ParametersKeyAlias": (f"alias/{prefix}-portfolio-parameters", "--kms-key-id for contact-sdk config"),
            "ParametersKeyArn": (self.key.key_arn, "the customer-managed key"),
            "AlarmTopicArn": (self.alarm_topic.topic_arn, "alarm notifications"),
            "ApiFunctionName": (self.api_function.name, "--function-name for contact-sdk dashboard/alarms"),
            "ApiFunctionAlias": (ALIAS_NAME, "the alias API Gateway invokes; CodeDeploy shifts it"),
            "DeploymentApplicationName": (
                f"{prefix}-contact-form",
                "CodeDeploy application: aws deploy list-deployments",
            ),
            "ApiDeploymentGroupName": (self.api_function.name, "CodeDeploy deployment group of the API function"),
            "ConsumerDeploymentGroupName": (self.consumer_function.name, "deployment group of the consumer"),
            "ConsumerFunctionName": (self.consumer_function.name, "outbox consumer"),
            "Environment": (settings.environment, "the Environment metric dimension"),
            "ApiName": (self.api.rest_api_name, "--api-name for contact-sdk dashboard/alarms"),
            "StageName": (settings.stage, "--stage"),
            "OutboxQueueName": (self.outbox.queue_name, "--outbox-queue-name"),
            "DeadLetterQueueName": (self.dead_letter_queue.queue_name, "--dead-letter-queue-name"),
            "TableName": (self.table.table_name, "DynamoDB table"),
            "OutboxQueueUrl": (self.outbox.queue_url, "durable outbox"),
            "DeadLetterQueueUrl": (self.dead_letter_queue.queue_url, "outbox dead letters: redrive when fixed"),
            "DashboardName": (f"{prefix}-portfolio-email-dashboard", "CloudWatch dashboard"),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)

    def _canary_deployments(self, settings: StackSettings, code: lambda_.Code) -> dict[str, CanaryDeployment]:
        """A deployment group per function on its ``live`` alias, with its hook, its rollback alarms, one role."""
        prefix = settings.prefix
        application = codedeploy.CfnApplication(
            self, "DeploymentApplication", application_name=f"{prefix}-contact-form", compute_platform="Lambda"
        )
        service_role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("codedeploy.amazonaws.com"),
            description=f"CodeDeploy for {prefix}-contact-form: shift this stack's aliases, run its hooks, read alarms",
        )
        targets = {
            "api": (self.api_function, ("service", "config", "resend", "csrf")),
            # The consumer's role cannot read the CSRF secret: its check stops at Resend.
            "consumer": (self.consumer_function, ("service", "config", "resend")),
        }
        deployments = {
            key: CanaryDeployment(
                self,
                f"{key.title()}Deployment",
                target=DeploymentTarget(parts.name, parts.function, parts.alias),
                application=application,
                service_role=service_role,
                config_name=deployment_config_name(settings.deployment_config),
                alarm_names=rollback_alarm_names(self.monitoring_parameters, key),
                checks=checks,
                code=code,
                group_name=parts.name,
            )
            for key, (parts, checks) in targets.items()
        }
        functions = [parts.function.function_arn for parts, _ in targets.values()]
        # The aliases' ARNs written from the functions': a reference to an alias would make the alias wait for this
        # policy, which waits for the deployment group, which the alias's update policy names (a cycle).
        aliases = [f"{parts.function.function_arn}:{ALIAS_NAME}" for parts, _ in targets.values()]
        rollback_alarms = sorted({name for d in deployments.values() for name in d.alarm_names})
        alarm_arns = [
            self.format_arn(
                service="cloudwatch", resource="alarm", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
            for name in rollback_alarms
        ]
        policy = iam.Policy(
            self,
            "DeploymentPolicy",
            roles=[service_role],
            statements=[
                iam.PolicyStatement(
                    sid="ShiftTheAliases",
                    actions=["lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetProvisionedConcurrencyConfig"],
                    resources=[*functions, *aliases],
                ),
                iam.PolicyStatement(
                    sid="RunTheHooks",
                    actions=["lambda:InvokeFunction"],
                    resources=[d.hook.function_arn for d in deployments.values()],
                ),
                iam.PolicyStatement(
                    sid="WatchTheRollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=alarm_arns
                ),
            ],
        )
        alarms_by_name = dict(zip(self.monitoring.alarm_names, self.monitoring.alarms, strict=True))
        for deployment in deployments.values():
            deployment.group.node.add_dependency(policy, *(alarms_by_name[name] for name in deployment.alarm_names))
        return deployments

    def alarm_names(self) -> list[str]:
        """Every CloudWatch alarm this stack creates, by name."""
        return list(self.monitoring.alarm_names)

    def _admit_alarms(self, names: list[str]) -> None:
        """Let exactly these alarms of this account publish to the encrypted topic (key and topic policy).

        CloudWatch needs the key to publish to a KMS-encrypted topic. ``aws:SourceAccount`` and
        ``aws:SourceArn`` keep the grant to this stack's alarms: without them any alarm of any account could use
        the key that also protects the secrets and the table through the CloudWatch service (a confused deputy).
        """
        arns = [
            self.format_arn(
                service="cloudwatch", resource="alarm", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
            for name in names
        ]
        conditions = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}, "ArnEquals": {"aws:SourceArn": arns}}
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublishToTheEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions=conditions,
            )
        )
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions=conditions,
            )
        )

    def _function(
        self,
        construct_id: str,
        *,
        name: str,
        handler: str,
        description: str,
        code: lambda_.Code,
        environment: dict[str, str],
        parameters: tuple[str, ...],
        table_actions: tuple[str, ...],
        statements: list[iam.PolicyStatement],
    ) -> _FunctionParts:
        """One function with its own log group, role, policy, published version and alias."""
        log_group = logs.LogGroup(
            self,
            f"{construct_id}LogGroup",
            log_group_name=f"/aws/lambda/{name}",  # the name Lambda would choose
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name}: least privilege, no managed policies",
        )
        arns = [self.parameter_arns[parameter] for parameter in parameters]
        policy = iam.Policy(
            self,
            f"{construct_id}Policy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
                # GetParameters: the API reads the CSRF secret and the config in one call on a cold start.
                iam.PolicyStatement(
                    sid="ReadParameters", actions=["ssm:GetParameter", "ssm:GetParameters"], resources=arns
                ),
                iam.PolicyStatement(
                    sid="DecryptParametersViaSsm",
                    actions=["kms:Decrypt"],
                    resources=[self.key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"ssm.{Aws.REGION}.amazonaws.com",
                            "kms:EncryptionContext:PARAMETER_ARN": arns,
                        }
                    },
                ),
                iam.PolicyStatement(sid="UseTable", actions=list(table_actions), resources=[self.table.table_arn]),
                iam.PolicyStatement(
                    sid="UseTableKeyViaDynamoDB",
                    actions=list(TABLE_KEY_ACTIONS),
                    resources=[self.key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Aws.REGION}.amazonaws.com"}},
                ),
                *statements,
            ],
        )
        function = lambda_.Function(
            self,
            f"{construct_id}Function",
            function_name=name,
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=256,
            timeout=_FUNCTION_TIMEOUT,
            handler=handler,
            code=code,
            role=role,
            environment=environment,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
        )
        # Publishing a SnapStart version runs the init phase: its permissions must exist by then.
        function.node.add_dependency(policy)
        _acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to python3.13 on purpose: tools/build_lambda.py builds the zip from cp313 aarch64 wheels and "
            "CPython 3.13 bytecode, so a newer runtime needs a rebuilt artifact and a test run first, not a "
            "silent upgrade at synth time.",
        )
        _acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only X-Ray's xray:PutTraceSegments and xray:PutTelemetryRecords (added by tracing=ACTIVE to the role's "
            "default policy), which support no resource-level permissions; every other statement names its ARNs.",
        )
        alias = lambda_.Alias(self, f"{construct_id}Alias", alias_name=ALIAS_NAME, version=function.current_version)
        return _FunctionParts(
            name=name,
            log_group_name=f"/aws/lambda/{name}",
            function=function,
            alias=alias,
            log_group=log_group,
            policy=policy,
        )

    def _api(self, settings: StackSettings) -> apigw.RestApi:
        access_logs = logs.LogGroup(
            self,
            "ApiAccessLogGroup",
            log_group_name=f"/aws/apigateway/{settings.prefix}-portfolio-api",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
        )
        api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{settings.prefix}-portfolio-api",
            description="Contact form API (contract: docs/http-contract)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=settings.manage_api_gateway_account,
            # CDK refuses a removal policy for a role it is told not to create, so only with one.
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if settings.manage_api_gateway_account else None,
            deploy_options=apigw.StageOptions(
                stage_name=settings.stage,
                tracing_enabled=True,
                throttling_rate_limit=settings.throttle_rate_limit,
                throttling_burst_limit=settings.throttle_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FORMAT)),
                logging_level=apigw.MethodLoggingLevel.OFF,
                data_trace_enabled=False,
                metrics_enabled=False,
            ),
        )
        _acknowledge(
            api,
            "AwsSolutions-APIG2",
            "No API Gateway request validator: its 400 would not carry the contract's error body and the field "
            "rules would live twice; the function validates every body and answers 400 validation_error.",
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            _acknowledge(
                api,
                rule,
                "A public contact form has no signed-in users: callers are authorised per request by the Origin "
                "allow-list, a signed single-use CSRF token, per-address rate limits and (webhooks) Svix signatures.",
            )
        _acknowledge(
            api.deployment_stage,
            "AwsSolutions-APIG6",
            "Execution logging stays off: the JSON access log records every request (status, error type, latency, "
            "source IP, X-Ray id) and the function logs its own errors; execution logs would add a CloudWatch Logs "
            "bill that grows with a flood, and data tracing would log visitors' messages.",
        )
        if settings.manage_api_gateway_account:
            _acknowledge(
                api,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "The account-wide role API Gateway needs to write access logs; AWS's managed policy is the one "
                "made for exactly that role (manageApiGatewayAccount=false leaves the account's own role alone).",
            )
        if not settings.waf:
            _acknowledge(
                api.deployment_stage,
                "AwsSolutions-APIG3",
                "The web ACL is optional (-c waf=true) because it costs a monthly fee per ACL and rule; without it "
                "the stage throttle, sized from the reserved concurrency, and the function's per-address limits "
                "bound a flood. docs/deploy.md says when to turn it on.",
            )
        integration = apigw.LambdaIntegration(self.api_function.alias, proxy=True, allow_test_invoke=False)
        contact = api.root.add_resource("contact")
        token = contact.add_resource("token")
        events = contact.add_resource("events")
        routes = ((contact, ("POST", "OPTIONS")), (token, ("GET", "OPTIONS")), (events, ("POST",)))
        for resource, methods in routes:
            for method in (*methods, "ANY"):  # ANY: the function answers 405 with an Allow header
                resource.add_method(method, integration)

        for response_type, status, code, message, retry_after in _GATEWAY_RESPONSES:
            headers = dict(_SECURITY_HEADERS)
            if retry_after:
                headers["Retry-After"] = f"'{retry_after}'"
            body = {"error": {"code": code, "message": message}, "requestId": "$context.requestId"}
            api.add_gateway_response(
                f"GatewayResponse{code.title().replace('_', '')}",
                type=response_type,
                status_code=status,
                response_headers=headers,
                templates={"application/json": json.dumps(body)},
            )

        if settings.domain_name and settings.certificate_arn:
            domain = api.add_domain_name(
                "CustomDomain",
                domain_name=settings.domain_name,
                certificate=acm.Certificate.from_certificate_arn(self, "Certificate", settings.certificate_arn),
                endpoint_type=apigw.EndpointType.REGIONAL,
                security_policy=apigw.SecurityPolicy.TLS_1_2,
            )
            CfnOutput(
                self,
                "CustomDomainTarget",
                value=domain.domain_name_alias_domain_name,
                description="point the domain's DNS alias (or CNAME) here",
            )
            if settings.hosted_zone_id and settings.hosted_zone_name:
                zone = route53.HostedZone.from_hosted_zone_attributes(
                    self, "Zone", hosted_zone_id=settings.hosted_zone_id, zone_name=settings.hosted_zone_name
                )
                route53.ARecord(
                    self,
                    "CustomDomainRecord",
                    zone=zone,
                    record_name=settings.domain_name,
                    target=route53.RecordTarget.from_alias(route53_targets.ApiGatewayDomain(domain)),
                )
        return api
