"""Canary deploys in the synthesized template: each alias shifted by CodeDeploy, checked first, rolled back by alarms.

Expected names and values are written out here; the alarm names are the templates' names with this environment.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synthesized
from tests.infra.test_cdk_stack import as_list, by_name, evaluate

API = "prod-contact-form-handler"
CONSUMER = "prod-contact-outbox-consumer"
ROLLBACK = {
    API: [
        "prod-portfolio-email-api-function-errors",
        "prod-portfolio-email-api-5xx",
        "prod-portfolio-email-response-time-p95",
        "prod-portfolio-email-failed-sends",
        "prod-portfolio-email-dependency-degraded",
    ],
    CONSUMER: [
        "prod-portfolio-email-consumer-function-errors",
        "prod-portfolio-email-failed-sends",
        "prod-portfolio-email-dependency-degraded",
    ],
}


def group(synthesized: Synthesized, name: str) -> dict[str, Any]:
    """The deployment group called ``name``."""
    return by_name(synthesized, "AWS::CodeDeploy::DeploymentGroup", "DeploymentGroupName", name)


def logical_id(synthesized: Synthesized, resource_type: str, key: str, name: str) -> str:
    """The logical id of the resource of ``resource_type`` whose ``key`` property is ``name``."""
    (found,) = [k for k, v in synthesized.resources(resource_type).items() if v["Properties"].get(key) == name]
    return found


@pytest.mark.parametrize("function", [API, CONSUMER])
def test_each_alias_is_shifted_by_codedeploy_through_its_hook(synthesized: Synthesized, function: str) -> None:
    """The live alias carries CodeDeploy's update policy: its application, its group, its pre-traffic hook."""
    function_id = logical_id(synthesized, "AWS::Lambda::Function", "FunctionName", function)
    (alias,) = [
        a
        for a in synthesized.resources("AWS::Lambda::Alias").values()
        if a["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    policy = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert policy["ApplicationName"] == {
        "Ref": logical_id(synthesized, "AWS::CodeDeploy::Application", "ApplicationName", "prod-contact-form")
    }
    assert policy["DeploymentGroupName"] == {
        "Ref": logical_id(synthesized, "AWS::CodeDeploy::DeploymentGroup", "DeploymentGroupName", function)
    }
    hook_id = logical_id(synthesized, "AWS::Lambda::Function", "FunctionName", f"{function}-predeploy-check")
    assert policy["BeforeAllowTrafficHook"] == {"Ref": hook_id}
    assert hook_id in alias["DependsOn"], "the hook must hold the new version before CodeDeploy calls it"


@pytest.mark.parametrize("function", [API, CONSUMER])
def test_groups_roll_back_on_the_alarms_that_mean_the_new_version_is_worse(
    synthesized: Synthesized, function: str
) -> None:
    """A blue/green group with traffic control, the default canary, rolled back on failure, alarm or stop."""
    properties = group(synthesized, function)["Properties"]
    assert properties["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent10Minutes"
    assert properties["DeploymentStyle"] == {"DeploymentType": "BLUE_GREEN", "DeploymentOption": "WITH_TRAFFIC_CONTROL"}
    assert properties["AlarmConfiguration"] == {
        "Enabled": True,
        "IgnorePollAlarmFailure": False,
        "Alarms": [{"Name": name} for name in ROLLBACK[function]],
    }
    assert properties["AutoRollbackConfiguration"] == {
        "Enabled": True,
        "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"],
    }


def test_every_rollback_alarm_is_an_alarm_of_the_stack(synthesized: Synthesized) -> None:
    """The groups watch alarms the stack creates (a name with no alarm behind it would never stop a deploy)."""
    alarms = {a["Properties"]["AlarmName"]: k for k, a in synthesized.resources("AWS::CloudWatch::Alarm").items()}
    for function, names in ROLLBACK.items():
        depends = group(synthesized, function)["DependsOn"]
        for name in names:
            assert name in alarms
            assert alarms[name] in depends


@pytest.mark.parametrize(
    ("variant", "config"),
    [("synthesized_with_domain", "AllAtOnce"), ("synthesized_with_waf", "Linear10PercentEvery1Minute")],
)
def test_the_deployment_config_comes_from_context(variant: str, config: str, request: pytest.FixtureRequest) -> None:
    """-c deploymentConfig picks CodeDeploy's predefined config for both groups."""
    synthesized: Synthesized = request.getfixturevalue(variant)
    configs = {
        g["Properties"]["DeploymentConfigName"]
        for g in synthesized.resources("AWS::CodeDeploy::DeploymentGroup").values()
    }
    assert configs == {f"CodeDeployDefault.Lambda{config}"}


@pytest.mark.parametrize(
    ("function", "checks"), [(API, "service,config,resend,csrf"), (CONSUMER, "service,config,resend")]
)
def test_each_hook_checks_its_own_new_version(synthesized: Synthesized, function: str, checks: str) -> None:
    """The hook runs the artifact's hook entry point and targets the function's current version, with its checks."""
    hook = by_name(synthesized, "AWS::Lambda::Function", "FunctionName", f"{function}-predeploy-check")["Properties"]
    assert hook["Handler"] == "contact_sdk.deployment_check.pre_traffic_hook"
    assert (hook["Runtime"], hook["Architectures"], hook["Timeout"]) == ("python3.13", ["arm64"], 60)
    variables = hook["Environment"]["Variables"]
    function_id = logical_id(synthesized, "AWS::Lambda::Function", "FunctionName", function)
    (version_id,) = [
        k
        for k, v in synthesized.resources("AWS::Lambda::Version").items()
        if v["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert variables["CONTACT_CHECK_TARGET"] == {"Ref": version_id}
    assert variables["CONTACT_CHECKS"] == checks


def test_each_hook_may_invoke_only_its_version_and_report_only_to_its_group(synthesized: Synthesized) -> None:
    """The hook's role: its version's ARN to invoke, its own deployment group's ARN to report to."""
    for prefix, function in (("ApiDeploymentHookPolicy", API), ("ConsumerDeploymentHookPolicy", CONSUMER)):
        (policy,) = [p for k, p in synthesized.resources("AWS::IAM::Policy").items() if k.startswith(prefix)]
        statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
        assert evaluate(statements["InvokeTheNewVersion"]["Resource"]).startswith("<Ref ")
        assert evaluate(statements["ReportToTheDeployment"]["Resource"]) == (
            "arn:<Ref AWS::Partition>:codedeploy:<Ref AWS::Region>:<Ref AWS::AccountId>:deploymentgroup:"
            f"<Ref DeploymentApplication>/{function}"
        )


def test_codedeploy_may_shift_only_this_stacks_aliases(synthesized: Synthesized) -> None:
    """CodeDeploy's role: no managed policy; aliases of the two functions, their two hooks, the rollback alarms."""
    (role_id,) = [k for k in synthesized.resources("AWS::IAM::Role") if k.startswith("DeploymentRole")]
    role = synthesized.template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "codedeploy.amazonaws.com"}
    (policy,) = [p for k, p in synthesized.resources("AWS::IAM::Policy").items() if k.startswith("DeploymentPolicy")]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"ShiftTheAliases", "RunTheHooks", "WatchTheRollbackAlarms"}
    shift = [str(r) for r in evaluate(as_list(statements["ShiftTheAliases"]["Resource"]))]
    assert len(shift) == 4
    assert sum(r.endswith(":live") for r in shift) == 2
    hooks = evaluate(as_list(statements["RunTheHooks"]["Resource"]))
    assert all(h.startswith("<GetAtt ") and "DeploymentHook" in h for h in hooks)
    assert len(hooks) == 2
    alarms = sorted(evaluate(as_list(statements["WatchTheRollbackAlarms"]["Resource"])))
    expected = sorted({name for names in ROLLBACK.values() for name in names})
    assert alarms == [
        f"arn:<Ref AWS::Partition>:cloudwatch:<Ref AWS::Region>:<Ref AWS::AccountId>:alarm:{n}" for n in expected
    ]
    for statement in statements.values():
        assert "*" not in as_list(statement["Resource"])
