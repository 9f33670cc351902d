"""The dashboards' Logs Insights queries read fields, and compare them with values, that the service really logs.

The oracle is the log output of real requests: submissions sent, judged spam, queued and then delivered by
the outbox consumer, parked, and sent while DynamoDB was unreachable (a record gap), plus Resend's four
delivery webhooks, all through ``handler.lambda_handler`` and ``handler.outbox_handler`` against moto and
the Resend sandbox. The queries are read from ``dashboards/*.json`` as shipped (:mod:`tests.cloudwatch.logs_insights`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import handler
from contact_sdk.devtools.local.event_source import sqs_event
from tests.cloudwatch.logs_insights import Query, parse_query, tokenize
from tests.conftest import REGION, aws_client, create_outbox_queues
from tests.entrypoint.conftest import FakeLambdaContext, Stack, submission
from tests.entrypoint.test_webhooks import SECRET, WEBHOOK_PARAMETER, delivery, signed_event

ROOT = Path(__file__).resolve().parents[2]
EVENT_TYPES = ("email.delivered", "email.bounced", "email.complained", "email.delivery_delayed")
#: The query of "Submissions by state per day" before the record replaced the archive: the fields it read
#: were never logged again, and the widget showed nothing but webhooks.
ARCHIVE_ERA_QUERY = (
    "SOURCE '${LogGroupName}' | filter ispresent(archive_state) or ispresent(archive_gap) or "
    "(outcome = 'webhook_recorded' and event_type in ['email.delivered', 'email.bounced', 'email.complained', "
    "'email.delivery_delayed'])\n| fields coalesce(archive_state, archive_gap, replace(replace(event_type, "
    "'email.delivery_', ''), 'email.', '')) as state\n| stats count(*) as submissions by bin(1d) as day, state\n"
    "| sort day desc, submissions desc"
)


def dashboard_queries() -> dict[str, str]:
    """Every log widget's query in ``dashboards/*.json``, by ``<file>: <widget title>``."""
    queries = {}
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        for widget in json.loads(path.read_text(encoding="utf-8")).get("widgets", []):
            if widget.get("type") == "log":
                queries[f"{path.name}: {widget['properties']['title']}"] = widget["properties"]["query"]
    return queries


def problems(query: Query, lines: Sequence[Mapping[str, Any]]) -> list[str]:
    """What in ``query`` the real ``lines`` do not bear out: a field no kept line carries, a compared value
    no line carries, a filter that keeps nothing."""
    kept = [line for line in lines if query.matches(line)]
    found = []
    if not kept:
        found.append("its filter keeps none of the service's log lines")
    for name in query.fields:
        if not any(line.get(name) is not None for line in kept):
            found.append(f"reads {name}, which no line it keeps carries")
    for name, values in sorted(query.compared.items()):
        carried = {str(line[name]) for line in lines if line.get(name) is not None}
        for value in sorted(values - carried):
            found.append(f"compares {name} with {value!r}, a value no line carries")
    return found


# -- the reader itself ------------------------------------------------------------------------------


def test_the_reader_lists_the_fields_and_values_of_a_query() -> None:
    """Functions, keywords, aliases and @ fields are not log fields; compared literals are listed per field."""
    query = parse_query(
        "SOURCE '${LogGroupName}' | SOURCE '/aws/lambda/other' | fields @timestamp, status\n"
        "| filter (outcome in ['sent', 'queued'] or message = 'x') and not ispresent(error) and route like /^\\/c/\n"
        "| stats count(*) as requests, avg(duration_ms) as avg_ms by bin(5m) as period, status\n"
        "| sort period desc, requests desc"
    )
    assert query.sources == ("${LogGroupName}", "/aws/lambda/other")
    assert query.fields == ("status", "outcome", "message", "error", "route", "duration_ms")
    assert query.aliases == {"requests", "avg_ms", "period"}
    assert dict(query.compared) == {"outcome": {"sent", "queued"}, "message": {"x"}}


def test_the_reader_evaluates_a_filter_as_logs_insights_does() -> None:
    """and/or/not/parentheses; a comparison on a field the line lacks is false, and so is ``in``."""
    query = parse_query("SOURCE 'g' | filter (outcome in ['sent'] or message = 'done') and not ispresent(error)")
    assert query.matches({"outcome": "sent"})
    assert query.matches({"message": "done", "outcome": "spam"})
    assert not query.matches({"outcome": "sent", "error": "boom"})
    assert not query.matches({"outcome": "queued"})
    assert not query.matches({})
    assert not parse_query("SOURCE 'g' | filter outcome != 'sent'").matches({})


def test_the_reader_refuses_what_it_does_not_know() -> None:
    """A command or an operator outside the subset is an error, never silently skipped."""
    with pytest.raises(ValueError, match="unknown Logs Insights command"):
        parse_query("SOURCE 'g' | parse @message 'a * b' as x")
    with pytest.raises(ValueError, match="does not know"):
        parse_query("SOURCE 'g' | filter duration_ms > 3").matches({"duration_ms": 4})
    with pytest.raises(ValueError, match="cannot read"):
        tokenize("filter a = 1 ; b")


# -- the queries against the real log lines ---------------------------------------------------------


def run_every_kind_of_submission(make_stack: Callable[..., Stack], aws: str, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """Sent, spam, queued then delivered by the consumer, queued then parked by it, parked at once, four webhooks,
    and a record gap; the stack whose capture saw all of it."""
    queues = create_outbox_queues(aws, max_receive_count=3)
    stack = make_stack(outbox_queue_url=queues["url"], parked_queue_url=queues["dlq"])
    handler.environment.use_components(stack.components)
    stack.put_parameter(WEBHOOK_PARAMETER, SECRET)

    assert stack.submit(submission())["statusCode"] == 200
    spam = stack.submit(submission(message="Cheap watches, the best watches, buy now.", website="http://x.example"))
    assert json.loads(spam["body"])["status"] == "sent"
    stack.sandbox.script(["500", "500", "500", "500"])
    assert stack.submit(submission(message="The provider is down while I write this."))["statusCode"] == 202
    sqs = aws_client(aws, "sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queues["url"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    batch = sqs_event(sqs, queues["url"], queue_arn=arn, region=REGION)
    sqs.close()  # its pooled connection to moto is not left for the garbage collector to find in a later test
    assert handler.outbox_handler(batch, FakeLambdaContext()) == {"batchItemFailures": []}
    # Queued, then refused for good when the consumer replays it: parked by the consumer.
    stack.sandbox.script(["500", "500", "500", "500"])
    assert stack.submit(submission(message="Queued now, and refused for good on the replay."))["statusCode"] == 202
    stack.sandbox.script(["422"])
    sqs = aws_client(aws, "sqs")
    batch = sqs_event(sqs, queues["url"], queue_arn=arn, region=REGION)
    sqs.close()
    assert handler.outbox_handler(batch, FakeLambdaContext()) == {"batchItemFailures": []}
    stack.sandbox.script(["422"])
    assert stack.submit(submission(message="Refused for good by the provider, parked."))["statusCode"] == 202
    first_email = stack.sandbox.emails()[0]
    for event_type in EVENT_TYPES:
        webhook = stack.call(signed_event(delivery(event_type, email_id=str(first_email["id"]))))
        assert webhook["statusCode"] == 200

    # DynamoDB unreachable: the submission goes out without its record, and the dependency is reported degraded.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    down = make_stack()
    assert down.submit(submission(message="Written while the table could not be reached."))["statusCode"] == 200
    assert len(stack.sandbox.emails()) == 3  # sent, delivered from the outbox, sent without a record
    return stack


@pytest.mark.integration
def test_every_dashboard_query_reads_what_the_service_logs(
    make_stack: Callable[..., Stack], aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Logs Insights widget keeps some real lines, every field it reads is in them, every value it compares a
    field with is one the logs carry; the state widget sees each kind of submission; the archive-era query fails."""
    lines = run_every_kind_of_submission(make_stack, aws, monkeypatch).log_lines()
    queries = {title: parse_query(text) for title, text in dashboard_queries().items()}
    assert len(queries) == 3
    assert {title: problems(query, lines) for title, query in queries.items()} == {title: [] for title in queries}

    [by_state] = [query for title, query in queries.items() if "Submissions by state" in title]
    seen = {
        line.get("record_state") or line.get("record_gap") or line.get("event_type")
        for line in lines
        if by_state.matches(line)
    }
    assert seen == {"sent", "spam", "queued", "parked", "received", *EVENT_TYPES}
    parked = [line for line in lines if by_state.matches(line) and line.get("record_state") == "parked"]
    assert sorted(line["message"] for line in parked) == ["outbox message parked", "request handled"]

    assert problems(parse_query(ARCHIVE_ERA_QUERY), lines) == [
        "reads archive_state, which no line it keeps carries",
        "reads archive_gap, which no line it keeps carries",
    ]
