"""``tools/boto3_calls.py``'s command line: the table and ``--json`` say the same, in the two forms."""

from __future__ import annotations

import json

import pytest

from tools.boto3_calls import main


def test_json_and_the_table_list_the_same_actions_per_function(capsys: pytest.CaptureFixture[str]) -> None:
    """``--json`` prints ``{function: [actions]}`` (sorted), the table one ``function: a, b`` line each; read back,
    they agree, and the API function's list holds what its first request needs (Parameter Store's batch read and
    the table's conditional update)."""
    assert main([]) == 0
    table = {}
    for line in capsys.readouterr().out.splitlines():
        name, _, actions = line.partition(": ")
        table[name] = actions.split(", ")
    assert main(["--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == table
    assert all(actions == sorted(actions) for actions in document.values())
    assert {"ssm:GetParameters", "dynamodb:UpdateItem"} <= set(document["api"])


def test_an_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--yaml"])
    assert exited.value.code == 2
    assert "--yaml" in capsys.readouterr().err
