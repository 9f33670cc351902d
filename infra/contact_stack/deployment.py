"""Canary deploys with automatic rollback: a CodeDeploy deployment group on each function's ``live`` alias.

A ``cdk deploy`` that publishes a new version no longer points ``live`` at it at once. CloudFormation hands
the alias update to CodeDeploy (the alias's ``CodeDeployLambdaAliasUpdate`` update policy), which::

    1. runs the pre-traffic hook: a small function that invokes the NEW version with a check event
       (contact_sdk.deployment_check: the service builds, the Resend config loads from Parameter Store,
       the key is valid at Resend's domains API, a CSRF token signs and verifies) and reports
       Succeeded or Failed; no mail is sent
    2. shifts traffic by the deployment config (default Canary10Percent10Minutes: 10 % of invocations for
       10 minutes, then all), watching the rollback alarms (ROLLBACK_ALARMS: errors, 5XX, p95, failed
       sends, degraded dependencies)
    3. a failed hook, an alarm in ALARM, or a stopped deployment: ``live`` goes back to the old version,
       the deployment fails, and CloudFormation rolls the stack update back (so the next deploy starts
       from the old version again, not from the bad one)

Everything is written out in CloudFormation's own resources rather than CDK's ``LambdaDeploymentGroup``,
which attaches AWS's ``AWSCodeDeployRoleForLambdaLimited`` to the service role: that policy lets CodeDeploy
update any alias in the account. The role here may update this stack's two aliases, read its rollback
alarms and invoke its two hooks, nothing else. Each hook's own role may invoke its one new version and
report to its one deployment group.

Example::

    deployment = CanaryDeployment(stack, "ApiDeployment", function=parts, ..., checks=("service", "config"))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    CfnCodeDeployLambdaAliasUpdate,
    CfnUpdatePolicy,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

__all__ = ["HOOK_HANDLER", "CanaryDeployment", "DeploymentTarget"]

#: The hook functions' entry point in the Lambda artifact.
HOOK_HANDLER = "contact_sdk.deployment_check.pre_traffic_hook"
_HOOK_TIMEOUT = Duration.seconds(60)


@dataclass(frozen=True, slots=True)
class DeploymentTarget:
    """One function to deploy by canary: its name, its function, its ``live`` alias."""

    name: str
    function: lambda_.Function
    alias: lambda_.Alias


class CanaryDeployment(Construct):
    """The deployment group of one function's alias, its pre-traffic hook, and the alias's update policy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: DeploymentTarget,
        application: codedeploy.CfnApplication,
        service_role: iam.Role,
        config_name: str,
        alarm_names: Sequence[str],
        checks: Sequence[str],
        code: lambda_.Code,
        group_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.group_name = group_name
        self.group_arn = stack.format_arn(
            service="codedeploy",
            resource="deploymentgroup",
            resource_name=f"{application.ref}/{group_name}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.alarm_names = tuple(alarm_names)
        self.checks = tuple(checks)
        hook_name = f"{target.name}-predeploy-check"
        self.hook_log_group = logs.LogGroup(
            self,
            "HookLogGroup",
            log_group_name=f"/aws/lambda/{hook_name}",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "HookRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{hook_name}: invoke the new version of {target.name}, report to its deployment group",
        )
        version_arn = target.function.current_version.function_arn
        self.hook_policy = iam.Policy(
            self,
            "HookPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.hook_log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="InvokeTheNewVersion", actions=["lambda:InvokeFunction"], resources=[version_arn]
                ),
                iam.PolicyStatement(
                    sid="ReportToTheDeployment",
                    actions=["codedeploy:PutLifecycleEventHookExecutionStatus"],
                    resources=[self.group_arn],
                ),
            ],
        )
        self.hook = lambda_.Function(
            self,
            "Hook",
            function_name=hook_name,
            description=f"CodeDeploy pre-traffic check of {target.name}: invokes the new version, sends no mail",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=256,
            timeout=_HOOK_TIMEOUT,
            handler=HOOK_HANDLER,
            code=code,
            role=role,
            log_group=self.hook_log_group,
            environment={
                "CONTACT_CHECK_TARGET": version_arn,
                "CONTACT_CHECKS": ",".join(checks),
                "POWERTOOLS_SERVICE_NAME": "contact-form-deploy",
            },
        )
        self.hook.node.add_dependency(self.hook_policy)
        Validations.of(self.hook).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="Pinned to python3.13 with the service's functions: the hook runs the same artifact, built from "
                "cp313 aarch64 wheels and CPython 3.13 bytecode (tools/build_lambda.py).",
            )
        )
        self.group = codedeploy.CfnDeploymentGroup(
            self,
            "Group",
            application_name=application.ref,
            deployment_group_name=group_name,
            service_role_arn=service_role.role_arn,
            deployment_config_name=config_name,
            deployment_style=codedeploy.CfnDeploymentGroup.DeploymentStyleProperty(
                deployment_type="BLUE_GREEN", deployment_option="WITH_TRAFFIC_CONTROL"
            ),
            alarm_configuration=codedeploy.CfnDeploymentGroup.AlarmConfigurationProperty(
                enabled=True,
                ignore_poll_alarm_failure=False,
                alarms=[codedeploy.CfnDeploymentGroup.AlarmProperty(name=name) for name in alarm_names],
            ),
            auto_rollback_configuration=codedeploy.CfnDeploymentGroup.AutoRollbackConfigurationProperty(
                enabled=True,
                events=["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"],
            ),
        )
        self.group.node.add_dependency(service_role)  # and its policy: the stack adds that dependency
        alias = cast(lambda_.CfnAlias, target.alias.node.default_child)
        alias.cfn_options.update_policy = CfnUpdatePolicy(
            code_deploy_lambda_alias_update=CfnCodeDeployLambdaAliasUpdate(
                application_name=application.ref,
                deployment_group_name=self.group.ref,
                before_allow_traffic_hook=self.hook.function_name,
            )
        )
        # The hook must hold the new version's ARN before CodeDeploy calls it: update it (and its grants) first.
        target.alias.node.add_dependency(self.hook, self.hook_policy, self.group)
