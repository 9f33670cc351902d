"""ExecutionEnvironment: the handler's components, built once on first use, or installed by an embedder."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from contact_sdk.errors import ConfigurationError
from contact_sdk.execution_environment import ExecutionEnvironment


class Built:
    """A stand-in for Components: only identity and the two attributes the handler reads matter here."""

    def __init__(self, tag: str) -> None:
        self.api = f"api-{tag}"
        self.consumer = f"consumer-{tag}"
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_nothing_is_built_before_first_use_and_then_exactly_once_across_threads() -> None:
    """Sixteen first invocations at once share one build."""
    builds: list[Built] = []
    gate = threading.Barrier(16)

    def build() -> Any:
        builds.append(Built(str(len(builds))))
        return builds[-1]

    environment = ExecutionEnvironment(build)
    assert environment.built() is None
    seen: list[Any] = []

    def first_use() -> None:
        gate.wait()
        seen.append(environment.components())

    threads = [threading.Thread(target=first_use) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert all(components is builds[0] for components in seen)
    assert environment.built() is builds[0]
    assert environment.api() == "api-0"


def test_a_failed_build_is_not_cached_and_the_next_invocation_builds_again() -> None:
    """A malformed environment fails this invocation; once it is fixed, the next one builds."""
    attempts: list[int] = []

    def build() -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConfigurationError("CONTACT_RATE_LIMIT: expected a whole number, got 'five'")
        return Built("ok")

    environment = ExecutionEnvironment(build)
    with pytest.raises(ConfigurationError, match="CONTACT_RATE_LIMIT"):
        environment.api()
    assert environment.api() == "api-ok"
    assert len(attempts) == 2


def test_installed_components_replace_the_build_and_none_goes_back_to_it() -> None:
    """The local stack and the tests install what they built; ``None`` restores building from the environment."""
    environment = ExecutionEnvironment(lambda: Built("env"))  # type: ignore[arg-type,return-value]
    environment.use_components(Built("installed"))  # type: ignore[arg-type]
    assert environment.api() == "api-installed"
    assert environment.components().consumer == "consumer-installed"  # type: ignore[comparison-overlap]
    environment.use_components(None)
    assert environment.api() == "api-env"


def test_what_the_environment_built_is_closed_when_replaced_and_what_was_installed_is_not() -> None:
    """Replacing its own build closes its connections once; an installed one is left to whoever installed it."""
    builds: list[Built] = []
    environment = ExecutionEnvironment(lambda: builds.append(Built(str(len(builds)))) or builds[-1])  # type: ignore[arg-type,return-value,func-returns-value]
    environment.api()
    installed = Built("installed")
    environment.use_components(installed)  # type: ignore[arg-type]
    assert builds[0].closed == 1
    environment.use_components(None)
    assert installed.closed == 0
    environment.api()
    environment.use_components(None)
    assert [built.closed for built in builds] == [1, 1]
