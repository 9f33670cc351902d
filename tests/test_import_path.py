"""What ``import handler`` loads beyond the floor: a list checked in here, so a new eager import fails by name.

The floor is the bare import of the libraries any implementation needs (``tests/benchmarks/floor.py``,
``IMPORT_FLOOR``: boto3, httpx, pydantic, tenacity, pybreaker and Powertools' logger). Every module a fresh
``import handler`` loads that the floor does not is a cold-start cost of ours, so each one is listed below.
The comparison is of module names, not of times: it is the same on a quiet machine and a loaded one.

What is deliberately *not* on the list, because only a request, a configuration or an error path needs it
(docs/performance.md, "Cold start: what loads when"): ``contact_sdk.models`` and pydantic's model machinery
(the first submission), ``httpcore`` (the first HTTP client), ``contact_sdk.security.turnstile`` (only with
``CONTACT_TURNSTILE_SECRET_PARAMETER``), ``importlib.metadata`` (an error message of ``contact_sdk.metrics``),
``contact_sdk.webhooks`` (the delivery-status route, built on Resend's first webhook delivery) and boto3 itself
(the first AWS call).

When this test fails because a module was added on purpose, add it to :data:`BEYOND_FLOOR` with the reason
it must load before the first request; otherwise import it where it is used.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks.floor import IMPORT_FLOOR

ROOT = Path(__file__).resolve().parents[1]

#: Every module a fresh ``import handler`` loads that the import floor does not. Our own modules only:
#: no third-party module is on the path beyond the floor's.
BEYOND_FLOOR = frozenset(
    {
        "gc",  # built into the interpreter: handler.py pauses the collector while its imports load
        "handler",
        "contact_sdk",
        "contact_sdk._version",
        "contact_sdk.addresses",
        "contact_sdk.admission",
        "contact_sdk.api",
        "contact_sdk.aws",
        "contact_sdk.bootstrap",
        "contact_sdk.breaker",
        "contact_sdk.breaker_store",
        "contact_sdk.check_event",
        "contact_sdk.clock",
        "contact_sdk.compose",
        "contact_sdk.config",
        "contact_sdk.deadline",
        "contact_sdk.degraded",
        "contact_sdk.delivery",
        "contact_sdk.dynamo",
        "contact_sdk.errors",
        "contact_sdk.execution_environment",
        "contact_sdk.intake",
        "contact_sdk.logs",
        "contact_sdk.metrics",
        "contact_sdk.outbox",
        "contact_sdk.outbox_consumer",
        "contact_sdk.outcome",
        "contact_sdk.parking",
        "contact_sdk.record",
        "contact_sdk.resend",
        "contact_sdk.security",
        "contact_sdk.security.csrf",
        "contact_sdk.security.fallback",
        "contact_sdk.security.origin",
        "contact_sdk.security.ratelimit",
        "contact_sdk.security.spam",
        "contact_sdk.settings",
        "contact_sdk.snapstart",
        "contact_sdk.text",
        "contact_sdk.timings",
        "contact_sdk.transport",
    }
)

#: Loaded later on purpose; named here so that the failure message can say so when one comes back.
DEFERRED = ("contact_sdk.models", "pydantic.main", "httpcore", "contact_sdk.security.turnstile", "importlib.metadata")


def loaded_modules(code: str) -> set[str]:
    """The names in ``sys.modules`` after a fresh interpreter runs ``code``.

    ``-I``: no ``PYTHON*`` variable, no user site and no coverage hook from the test run reaches the child, so
    both sides start alike; the project root is put on the path by hand, as the Lambda's ``/var/task`` is.
    """
    program = (
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", program], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    names: list[str] = json.loads(result.stdout.splitlines()[-1])
    return set(names)


@pytest.fixture(scope="module")
def floor_modules() -> set[str]:
    """What the import floor loads, in a fresh interpreter."""
    return loaded_modules(IMPORT_FLOOR)


@pytest.fixture(scope="module")
def handler_modules() -> set[str]:
    """What ``import handler`` loads, in a fresh interpreter."""
    return loaded_modules("import handler")


def test_import_handler_loads_only_the_listed_modules_beyond_the_floor(
    floor_modules: set[str], handler_modules: set[str]
) -> None:
    """A module that ``import handler`` loads and the floor does not must be on the list: a new one fails by name."""
    added = sorted(handler_modules - floor_modules - BEYOND_FLOOR)
    deferred_again = [name for name in added if name.startswith(DEFERRED)]
    assert not added, (
        f"import handler now also loads {', '.join(added)}"
        + (
            f" ({', '.join(deferred_again)} is deliberately deferred: see the module docstring)"
            if deferred_again
            else ""
        )
        + "; import it where it is used, or add it to BEYOND_FLOOR with the reason it must load at import"
    )


def test_the_list_names_only_modules_that_still_load(floor_modules: set[str], handler_modules: set[str]) -> None:
    """A listed module that ``import handler`` no longer loads beyond the floor is named, so the list stays true."""
    stale = sorted(BEYOND_FLOOR - (handler_modules - floor_modules))
    assert not stale, f"no longer loaded by import handler beyond the floor: {', '.join(stale)}; drop from BEYOND_FLOOR"


def test_the_security_package_still_offers_the_turnstile_names() -> None:
    """``contact_sdk.security`` re-exports Turnstile's names, loaded on first access, and refuses unknown ones."""
    from contact_sdk import security
    from contact_sdk.security import turnstile

    assert security.TurnstileVerifier is turnstile.TurnstileVerifier
    assert security.CaptchaVerdict is turnstile.CaptchaVerdict
    assert {"CaptchaResult", "CaptchaVerdict", "TurnstileVerifier"} <= set(security.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'Turnstile'"):
        _ = security.Turnstile
