"""The optional AWS WAF web ACL in front of the API stage (context ``waf=true``).

Rules, in priority order:

1. ``PerIpRateLimit``: a rate-based rule that blocks a source IP address once it has sent more than
   ``wafRateLimit`` requests in the last 5 minutes, answered ``429`` with the contract's error body and
   a ``Retry-After``. WAF counts before API Gateway and the function, so a single-source flood never
   reaches the stage's throttle bucket that real visitors share.
2. ``AwsCommonRules`` (``wafManagedRules``, on by default): AWS's core rule set for headers, paths and
   query strings. Its body rules are set to count, not block (see :data:`COUNTED_BODY_RULES`): the body
   is a visitor's free text (or a Resend webhook), never run or rendered as HTML, and a real person who
   writes ``<script>`` or ``../`` in a message must not lose it to a ``403`` the page cannot explain.
   ``SizeRestrictions_BODY`` blocks bodies over 8 KB while the contract allows 32 KiB (a long message in
   a non-Latin script, JSON-escaped, passes 8 KB); the function answers ``413`` above 32 KiB itself.
3. ``AwsIpReputation`` (``wafManagedRules``): AWS's list of addresses seen in bot traffic and attacks.

Everything else is allowed. Each rule and the ACL emit CloudWatch metrics (``AWS/WAFV2``) and keep
sampled requests, so a blocked flood is visible in the console.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

__all__ = ["COUNTED_BODY_RULES", "RATE_LIMIT_WINDOW_SECONDS", "StageFirewall"]

#: Core-rule-set rules that inspect the body: counted (visible in metrics and samples), never blocking.
COUNTED_BODY_RULES = (
    "SizeRestrictions_BODY",
    "CrossSiteScripting_BODY",
    "GenericLFI_BODY",
    "GenericRFI_BODY",
    "EC2MetaDataSSRF_BODY",
)
#: The window the per-IP rate-based rule counts over (WAF allows 60, 120, 300 or 600 s).
RATE_LIMIT_WINDOW_SECONDS = 300
_RESPONSE_BODY_KEY = "rateLimited"


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _managed_rule(name: str, priority: int, group: str, *, count: tuple[str, ...] = ()) -> Any:
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
        )
        for rule in count
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_visibility(name),
    )


class StageFirewall(Construct):
    """A REGIONAL web ACL with the rules above, associated with ``stage``.

    Example::

        StageFirewall(self, "Firewall", stage=api.deployment_stage, name="prod-portfolio-api",
                      rate_limit=300, managed_rules=True)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: apigw.Stage,
        name: str,
        rate_limit: int,
        managed_rules: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        body = {"error": {"code": "rate_limited", "message": "Too many requests; try again shortly."}}
        rules: list[Any] = [
            wafv2.CfnWebACL.RuleProperty(
                name="PerIpRateLimit",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(
                    block=wafv2.CfnWebACL.BlockActionProperty(
                        custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                            response_code=429,
                            custom_response_body_key=_RESPONSE_BODY_KEY,
                            response_headers=[
                                wafv2.CfnWebACL.CustomHTTPHeaderProperty(
                                    name="Retry-After", value=str(RATE_LIMIT_WINDOW_SECONDS)
                                ),
                                wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Cache-Control", value="no-store"),
                            ],
                        )
                    )
                ),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=rate_limit,
                        evaluation_window_sec=RATE_LIMIT_WINDOW_SECONDS,
                    )
                ),
                visibility_config=_visibility("PerIpRateLimit"),
            )
        ]
        if managed_rules:
            rules.append(_managed_rule("AwsCommonRules", 1, "AWSManagedRulesCommonRuleSet", count=COUNTED_BODY_RULES))
            rules.append(_managed_rule("AwsIpReputation", 2, "AWSManagedRulesAmazonIpReputationList"))
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{name}-waf",
            description=f"{name} per-IP rate limit {rate_limit} requests per {RATE_LIMIT_WINDOW_SECONDS} s",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            custom_response_bodies={
                _RESPONSE_BODY_KEY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=json.dumps(body)
                )
            },
            rules=rules,
            visibility_config=_visibility(f"{name}-waf"),
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        # The stage must exist before it can be associated (its ARN is a plain string, not a reference).
        self.association.node.add_dependency(stage)
