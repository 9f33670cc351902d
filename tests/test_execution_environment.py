"""ExecutionEnvironment: the handler's components, built once on first use, or installed by an embedder."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.errors import ConfigurationError
from contact_sdk.execution_environment import ExecutionEnvironment

ROOT = Path(__file__).resolve().parents[1]


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


class Collections:
    """Counts the cyclic garbage collector's runs (``gc.callbacks``) while registered."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.runs += 1

    def __enter__(self) -> Collections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


@pytest.fixture
def default_thresholds() -> Iterator[None]:
    """CPython's default collector thresholds for the test (an in-process mypy run elsewhere in the suite raises
    them for the rest of its worker), the previous ones after."""
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


@pytest.mark.usefixtures("default_thresholds")
def test_the_build_runs_without_the_collector_and_what_it_keeps_is_frozen_out_of_its_way() -> None:
    """A build that allocates 50 times the collector's threshold of tracked objects (dozens of runs if it were on)
    triggers none; afterwards the collector is on again, and every object the build kept is frozen: in the
    permanent generation, out of what any collection walks."""
    assert gc.isenabled()
    kept: list[list[int]] = []

    def build() -> Any:
        kept.extend([n] for n in range(50 * 700))  # lists are always tracked by the collector
        return Built("big")

    frozen_before = gc.get_freeze_count()
    environment = ExecutionEnvironment(build)
    with Collections() as collections:
        environment.components()
    assert collections.runs == 0
    assert gc.isenabled()
    tracked = {id(obj) for obj in gc.get_objects()}
    assert not any(id(item) in tracked for item in kept)
    assert gc.get_freeze_count() - frozen_before >= len(kept)


def test_a_failed_build_leaves_the_collector_on() -> None:
    """A build that raises (a malformed environment) does not leave the process without a collector."""

    def build() -> Any:
        raise ConfigurationError("CONTACT_ALLOWED_ORIGINS is empty")

    with pytest.raises(ConfigurationError):
        ExecutionEnvironment(build).components()
    assert gc.isenabled()


def test_a_collector_the_embedder_paused_stays_paused() -> None:
    """Whoever turned the collector off before the build (an embedder's own start-up) turns it back on."""
    gc.disable()
    try:
        ExecutionEnvironment(lambda: Built("paused")).components()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_importing_the_handler_runs_no_collection_and_freezes_what_it_loaded() -> None:
    """In a fresh interpreter: once ``import handler`` starts loading the service's modules, no collector run happens
    (there were about 80 before); the collector is on afterwards, the modules' objects frozen out of its way."""
    probe = (
        "import gc, json, sys\n"
        "runs = []\n"
        "def count(phase, info):\n"
        "    if phase == 'start' and 'contact_sdk' in sys.modules:\n"
        "        runs.append(info['generation'])\n"
        "gc.callbacks.append(count)\n"
        "import handler\n"
        "print(json.dumps({'runs': len(runs), 'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT, timeout=120
    )
    report = json.loads(result.stdout)
    assert report["runs"] == 0
    assert report["enabled"] is True
    assert report["frozen"] > 20_000  # boto3 is not imported yet; httpx, pydantic, Powertools and ours are ~60,000


def test_by_default_the_components_are_built_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the Lambda does: the settings come from the environment variables (docs/configuration.md)."""
    monkeypatch.setenv("CONTACT_ALLOWED_ORIGINS", "https://from-env.example")
    monkeypatch.setenv("CONTACT_ENVIRONMENT", "from-env")
    monkeypatch.setenv("CONTACT_RESPONSE_BUDGET_MS", "2500")
    environment = ExecutionEnvironment()
    components = environment.components()
    try:
        assert components.api.environment == "from-env"
        assert components.api.response_budget_ms == 2500
        assert components.api.origins.is_allowed("https://from-env.example")
    finally:
        environment.use_components(None)  # closes what it built
