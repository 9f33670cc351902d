"""The README's example of the Resend client on its own runs as written, against the Resend sandbox.

Only the two values a reader replaces are replaced (the API key and the base URL); the code is the README's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.devtools.sandbox import ResendSandbox
from tests.integration.conftest import SANDBOX_API_KEY, sandbox

__all__ = ["sandbox"]  # the integration tier's fixture: a fresh sandbox per test

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def readme_client_example(base_url: str) -> str:
    """The README's ``python`` block that uses ``ResendClient`` on its own, pointed at ``base_url``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "ResendClient(" in b]
    assert 'api_key="re_..."' in block and 'base_url="https://api.resend.com"' in block, block
    return block.replace('api_key="re_..."', f'api_key="{SANDBOX_API_KEY}"').replace(
        'base_url="https://api.resend.com"', f'base_url="{base_url}"'
    )


def run(example: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example, on purpose
    return namespace


def test_the_example_sends_and_keeps_the_email_id(sandbox: ResendSandbox) -> None:
    namespace = run(readme_client_example(sandbox.url))
    [stored] = sandbox.emails()
    assert namespace["email_id"] == stored["id"]
    namespace["client"].close()


@pytest.mark.parametrize("step", ["429;retry-after=60", "503;retry-after=30"])
def test_a_provider_that_says_not_now_is_caught_by_the_examples_except(sandbox: ResendSandbox, step: str) -> None:
    """A rate limit or an outage asking for a long wait ends in the example's ``except``: nothing escapes."""
    sandbox.script([step])
    namespace = run(readme_client_example(sandbox.url))
    assert "email_id" not in namespace
    assert sandbox.emails() == []
    namespace["client"].close()
