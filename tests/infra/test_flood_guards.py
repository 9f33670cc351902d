"""A stage a flood cannot drown: throttle, optional WAF, function alarms, synth guards and cdk-nag.

Expected names and figures are written out here (hand-computed), not read from the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import CONTEXT, INFRA, ROOT, WAF_CONTEXT, Synthesized, _synthesize
from tests.infra.test_cdk_stack import by_name, evaluate

# --- stage throttle and reserved concurrency ---------------------------------------------------------------


def test_reserved_concurrency_default_and_stage_throttle_agree(synthesized: Synthesized) -> None:
    """The ReservedConcurrency parameter defaults to the 20 slots the throttle (25 rps, burst 20) is sized for."""
    assert synthesized.template["Parameters"]["ReservedConcurrency"]["Default"] == 20
    (settings,) = synthesized.one("AWS::ApiGateway::Stage")["Properties"]["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (25, 20)


@pytest.mark.parametrize("variant", ["synthesized", "synthesized_with_domain", "synthesized_with_waf"])
def test_what_the_stage_admits_fits_the_reserved_slots_at_the_measured_p95(
    variant: str, request: pytest.FixtureRequest
) -> None:
    """Little's law, independently of the formula: admitted rate x 0.38 s (the measured p95) <= 20 slots,
    and the burst never exceeds the slots."""
    synthesized: Synthesized = request.getfixturevalue(variant)
    (settings,) = synthesized.one("AWS::ApiGateway::Stage")["Properties"]["MethodSettings"]
    slots = synthesized.template["Parameters"]["ReservedConcurrency"]["Default"]
    assert settings["ThrottlingRateLimit"] * 0.38 <= slots
    assert settings["ThrottlingBurstLimit"] <= slots


def test_the_stage_throttle_is_derived_from_the_reserved_slots_and_the_p95(synthesized_with_waf: Synthesized) -> None:
    """WAF_CONTEXT gives ``reservedConcurrency=40``, ``p95DurationMs=4000``, ``throttleHeadroom=1`` and no throttle:
    40 slots each busy 4 s serve 10 requests/s, burst 40, and the reservation's default is 40."""
    [setting] = synthesized_with_waf.one("AWS::ApiGateway::Stage")["Properties"]["MethodSettings"]
    assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (10, 40)
    assert synthesized_with_waf.template["Parameters"]["ReservedConcurrency"]["Default"] == 40


# --- WAF ------------------------------------------------------------------------------------------------------


def test_no_web_acl_unless_asked(synthesized: Synthesized) -> None:
    """The default stack has no WAF resources (they cost a monthly fee)."""
    assert not synthesized.resources("AWS::WAFv2::WebACL")
    assert not synthesized.resources("AWS::WAFv2::WebACLAssociation")


def test_the_web_acl_blocks_an_address_past_its_rate_with_a_contract_429(synthesized_with_waf: Synthesized) -> None:
    """REGIONAL ACL, default allow; rule 0 blocks one IP over 120 requests in 300 s with a JSON 429."""
    acl = synthesized_with_waf.one("AWS::WAFv2::WebACL")["Properties"]
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["PerIpRateLimit"]
    assert rate["Priority"] == 0
    assert rate["Statement"] == {
        "RateBasedStatement": {"AggregateKeyType": "IP", "Limit": 120, "EvaluationWindowSec": 300}
    }
    response = rate["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
    assert headers["Retry-After"] == "300"
    body = acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(body["Content"])["error"]["code"] == "rate_limited"
    for rule in acl["Rules"]:
        assert rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True


def test_managed_rules_count_body_rules_instead_of_blocking(synthesized_with_waf: Synthesized) -> None:
    """AWS's common rule set with its body rules counted (a message may say <script>, or run past 8 KB within the
    contract's 32 KiB) and the IP reputation list."""
    acl = synthesized_with_waf.one("AWS::WAFv2::WebACL")["Properties"]
    groups = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]: rule
        for rule in acl["Rules"]
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert set(groups) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesAmazonIpReputationList"}
    common = groups["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    overrides = {o["Name"]: o["ActionToUse"] for o in common["RuleActionOverrides"]}
    assert overrides == {
        "SizeRestrictions_BODY": {"Count": {}},
        "CrossSiteScripting_BODY": {"Count": {}},
        "GenericLFI_BODY": {"Count": {}},
        "GenericRFI_BODY": {"Count": {}},
        "EC2MetaDataSSRF_BODY": {"Count": {}},
    }
    priorities = [rule["Priority"] for rule in acl["Rules"]]
    assert len(set(priorities)) == len(priorities)


def test_the_web_acl_is_associated_with_the_stage(synthesized_with_waf: Synthesized) -> None:
    """The association names the stage's ARN and waits for the stage to exist."""
    association = synthesized_with_waf.one("AWS::WAFv2::WebACLAssociation")
    (stage_id,) = synthesized_with_waf.resources("AWS::ApiGateway::Stage")
    arn = evaluate(association["Properties"]["ResourceArn"])
    assert arn.startswith("arn:<Ref AWS::Partition>:apigateway:<Ref AWS::Region>::/restapis/<Ref Api")
    assert arn.endswith("/stages/<Ref " + stage_id + ">")
    assert evaluate(association["Properties"]["WebACLArn"]).startswith("<GetAtt FirewallWebAcl")
    assert stage_id in association["DependsOn"]


# --- manageApiGatewayAccount=false, allowedOrigins -------------------------------------------------------------


def test_manage_api_gateway_account_false_synthesizes_without_the_account_role(
    synthesized: Synthesized, synthesized_with_waf: Synthesized
) -> None:
    """With the flag off (it crashed the synth before) there is no account resource and no CloudWatch role."""
    assert synthesized.one("AWS::ApiGateway::Account")
    assert not synthesized_with_waf.resources("AWS::ApiGateway::Account")
    roles = synthesized_with_waf.resources("AWS::IAM::Role")
    assert not [k for k in roles if k.startswith("ApiCloudWatchRole")]
    assert synthesized_with_waf.one("AWS::ApiGateway::Stage")["Properties"]["AccessLogSetting"]


def _run_app(context: dict[str, Any], outdir: Path) -> subprocess.CompletedProcess[str]:
    """Run infra/app.py as the CDK CLI does: context in CDK_CONTEXT_JSON, output directory in CDK_OUTDIR."""
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(outdir),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(INFRA)]),
    }
    return subprocess.run(
        [sys.executable, "app.py"], cwd=INFRA, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_synth_without_allowed_origins_stops_with_a_clear_message(tmp_path: Path) -> None:
    """No origins: exit status 1, one sentence naming the key and an example, no traceback, no template."""
    result = _run_app({"environment": "prod"}, tmp_path)
    assert result.returncode == 1
    assert "context allowedOrigins is required" in result.stderr
    assert "-c allowedOrigins=https://" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.template.json"))


def test_a_bad_flag_stops_the_synth_with_its_name(tmp_path: Path) -> None:
    """A typo in a boolean flag is refused, not read as 'true'."""
    result = _run_app({**CONTEXT, "manageApiGatewayAccount": "flase"}, tmp_path)
    assert result.returncode == 1
    assert "manageApiGatewayAccount: expected true or false" in result.stderr
    assert "Traceback" not in result.stderr


# --- alarms on both functions -----------------------------------------------------------------------------------


def _alarm(synthesized: Synthesized, name: str) -> dict[str, Any]:
    return dict(by_name(synthesized, "AWS::CloudWatch::Alarm", "AlarmName", name)["Properties"])


@pytest.mark.parametrize("function", ["prod-contact-form-handler", "prod-contact-outbox-consumer"])
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_each_function_has_errors_and_throttles_alarms(synthesized: Synthesized, function: str, metric: str) -> None:
    """AWS/Lambda Errors and Throttles on both functions, by their FunctionName, alarming at one event."""
    matching = [
        alarm["Properties"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/Lambda"
        and alarm["Properties"]["MetricName"] == metric
        and alarm["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
    ]
    assert len(matching) == 1
    assert matching[0]["Threshold"] == 1
    assert matching[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_consumer_timeouts_are_counted_from_its_own_log_group(synthesized: Synthesized) -> None:
    """Two filters on the consumer's log group feed LambdaTimeouts-<consumer>, which the timeout alarm reads."""
    filters = [
        f["Properties"]
        for f in synthesized.resources("AWS::Logs::MetricFilter").values()
        if f["Properties"]["LogGroupName"] == "/aws/lambda/prod-contact-outbox-consumer"
    ]
    assert len(filters) == 2
    assert {f["MetricTransformations"][0]["MetricName"] for f in filters} == {
        "LambdaTimeouts-prod-contact-outbox-consumer"
    }
    alarm = _alarm(synthesized, "prod-portfolio-email-consumer-timeouts")
    assert alarm["MetricName"] == "LambdaTimeouts-prod-contact-outbox-consumer"
    assert alarm["Namespace"] == "Portfolio/EmailService/Logs"
    consumer_group = next(
        k
        for k, g in synthesized.resources("AWS::Logs::LogGroup").items()
        if g["Properties"]["LogGroupName"] == "/aws/lambda/prod-contact-outbox-consumer"
    )
    for logical_id, resource in synthesized.resources("AWS::Logs::MetricFilter").items():
        if "OutboxConsumer" in logical_id:
            assert consumer_group in resource["DependsOn"]


# --- cdk-nag ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["synthesized", "synthesized_with_domain", "synthesized_with_waf"])
def test_aws_solutions_checks_find_nothing_unacknowledged(variant: str, request: pytest.FixtureRequest) -> None:
    """cdk-nag's AwsSolutions pack reports no error or warning that is not acknowledged with a reason."""
    from cdk_nag import AwsSolutionsChecks

    synthesized: Synthesized = request.getfixturevalue(variant)
    report = AwsSolutionsChecks().validate_scope(synthesized.stack)
    findings = [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in report.violations]
    assert findings == []
    assert report.success


def _acknowledged(synthesized: Synthesized) -> dict[str, list[str]]:
    """Rule -> reasons, from every construct's ``aws:cdk:acknowledged-rules`` metadata (Validations.acknowledge)."""
    found: dict[str, list[str]] = {}
    for construct in synthesized.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                for rule, reason in entry.data.items():
                    found.setdefault(rule.removeprefix("Annotation::"), []).append(reason)
    return found


COMMON_ACKNOWLEDGMENTS = {
    "AwsSolutions-L1",
    "AwsSolutions-IAM5[Resource::*]",
    "AwsSolutions-APIG2",
    "AwsSolutions-APIG4",
    "AwsSolutions-COG4",
    "AwsSolutions-APIG6",
}
ACCOUNT_ROLE = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]"
)


def test_every_acknowledgment_is_known_and_gives_a_reason(
    synthesized: Synthesized, synthesized_with_waf: Synthesized
) -> None:
    """The acknowledged rules are exactly these; with the ACL on, APIG3 (no WAF) is met, not acknowledged."""
    default = _acknowledged(synthesized)
    assert set(default) == COMMON_ACKNOWLEDGMENTS | {"AwsSolutions-APIG3", ACCOUNT_ROLE}
    assert set(_acknowledged(synthesized_with_waf)) == COMMON_ACKNOWLEDGMENTS
    for rule, reasons in default.items():
        for reason in reasons:
            assert len(reason.split()) >= 12, (rule, reason)


def test_nag_runs_in_every_synth_and_fails_it(tmp_path: Path, placeholder_artifact: Path) -> None:
    """The pack is a policy-validation plugin of the app: an unacknowledged finding fails app.synth()."""
    from app import build_app
    from aws_cdk import aws_sqs as sqs

    app = build_app({**CONTEXT, "artifact": str(placeholder_artifact)}, outdir=str(tmp_path))
    (stack,) = [child for child in app.node.children if child.node.id == "contact-prod"]
    sqs.Queue(stack, "StrayQueue")  # no DLQ, no TLS-only policy: AwsSolutions-SQS3 and SQS4
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS3"):
        app.synth()


def test_without_managed_rules_only_the_rate_rule_remains(tmp_path: Path, placeholder_artifact: Path) -> None:
    """A variant with wafManagedRules=false has only the per-IP rule (and is nag-clean)."""
    from cdk_nag import AwsSolutionsChecks

    synthesized = _synthesize({**WAF_CONTEXT, "wafManagedRules": "false"}, tmp_path, placeholder_artifact)
    (rule,) = synthesized.one("AWS::WAFv2::WebACL")["Properties"]["Rules"]
    assert rule["Name"] == "PerIpRateLimit"
    assert AwsSolutionsChecks().validate_scope(synthesized.stack).success
