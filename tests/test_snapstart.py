"""SnapStart hooks, called directly: re-seeding, dropped connections, the config cache's age, registration."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.bootstrap import Components, build_components
from contact_sdk.devtools.fakes import InMemoryOutbox, InMemoryParameterSource
from contact_sdk.errors import ConfigurationError
from contact_sdk.logs import build_logger
from contact_sdk.metrics import ListSink
from contact_sdk.resend import OutgoingEmail
from contact_sdk.security.csrf import CsrfTokens, InMemoryNonceStore
from contact_sdk.settings import Settings
from contact_sdk.snapstart import RestoreReport, SnapStartHooks, register
from tests.clocks import ManualClock
from tests.log_lines import printed

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "/test/resend"
CSRF = "/test/csrf"
TTL = 3600


class _Emails(BaseHTTPRequestHandler):
    """A keep-alive ``POST /emails`` that records the client port of each request (one port = one connection)."""

    protocol_version = "HTTP/1.1"
    ports: list[int]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.ports.append(self.client_address[1])
        body = json.dumps({"id": f"email-{len(self.ports)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def provider() -> Iterator[tuple[str, list[int]]]:
    """A keep-alive provider on loopback; yields its URL and the client port of each request it served."""
    ports: list[int] = []
    handler = type("Emails", (_Emails,), {"ports": ports})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ports
    server.shutdown()
    server.server_close()


class RecordingAwsClient:
    """Stands in for a boto3 client: ``close()`` empties its pools (here: counts), and it stays usable."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        """Drop pooled connections."""
        self.closed += 1


class ResettableSource(InMemoryParameterSource):
    """An in-memory Parameter Store that, like ``SsmParameterSource``, can forget its client."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.resets = 0

    def reset_client(self) -> None:
        """Forget the (imaginary) client."""
        self.resets += 1


class ResettableOutbox(InMemoryOutbox):
    """An in-memory outbox that, like ``SqsOutbox``, can forget its client."""

    def __init__(self) -> None:
        super().__init__()
        self.resets = 0

    def reset_client(self) -> None:
        """Forget the (imaginary) client."""
        self.resets += 1


def _config() -> str:
    return json.dumps(
        {
            "apiKey": "re_test",
            "domain": "example.com",
            "fromEmail": "no-reply@example.com",
            "toEmail": "owner@example.com",
            "version": 1,
            "rotatedAt": "2026-11-01T10:00:00Z",
        }
    )


def _components(base_url: str = "http://127.0.0.1:9", **kwargs: Any) -> Components:
    settings = Settings.from_env(
        {},
        config_parameter=CONFIG,
        csrf_secret_parameter=CSRF,
        allowed_origins=("https://www.example.com",),
        resend_api_url=base_url,
        config_ttl_seconds=TTL,
        table_name="contact-test",
    )
    kwargs.setdefault("parameters", ResettableSource({CONFIG: _config(), CSRF: "s" * 48}))
    kwargs.setdefault("aws", {"dynamodb": RecordingAwsClient()})
    kwargs.setdefault("outbox", ResettableOutbox())
    return build_components(settings, sink=ListSink(), **kwargs)


class Clock:
    """A settable wall clock."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _email() -> OutgoingEmail:
    return OutgoingEmail(sender="no-reply@example.com", to=("owner@example.com",), subject="hi", text="hello")


def test_after_restore_reseeds_random_so_restored_copies_diverge() -> None:
    """Two copies restored from one random state draw different numbers after the hook."""
    hooks = SnapStartHooks(lambda: None)
    snapshot = random.getstate()
    hooks.after_restore()
    first = [random.random() for _ in range(4)]
    random.setstate(snapshot)
    hooks.after_restore()
    second = [random.random() for _ in range(4)]
    assert first != second


def test_csrf_nonces_never_repeat_across_copies_restored_from_one_state() -> None:
    """CSRF nonces come from the OS CSPRNG, so identical ``random`` states still give different tokens."""
    snapshot = random.getstate()
    tokens = []
    for _ in range(2):
        random.setstate(snapshot)
        csrf = CsrfTokens(nonces=InMemoryNonceStore(), clock=lambda: 1_800_000_000.0)
        tokens.append(csrf.issue(b"k" * 48, "https://www.example.com"))
    assert tokens[0] != tokens[1]


def test_importing_the_handler_neither_seeds_nor_draws_from_random() -> None:
    """Nothing random is seeded (or consumed) at import: the global state is untouched by ``import handler``.

    httpx imports its optional command-line client when rich and click are installed, and ``rich.console``
    draws from ``random`` at import. The development environment has them (through other tools); the Lambda
    artifact does not, so they are hidden here as they are there (the artifact test checks the real zip).
    """
    code = (
        "import sys; sys.modules.update(rich=None, click=None); "
        "import random; random.seed(7); before = random.getstate(); import handler; "
        "assert random.getstate() == before, 'import handler touched random'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_after_restore_drops_the_provider_connection(provider: tuple[str, list[int]]) -> None:
    """Sends before the restore share one keep-alive connection; the first send after it opens a new one."""
    url, ports = provider
    components = _components(url)
    hooks = SnapStartHooks(lambda: components)
    try:
        components.client.send(_email())
        components.client.send(_email())
        hooks.after_restore()
        components.client.send(_email())
    finally:
        components.close()
    assert ports[0] == ports[1]
    assert ports[2] != ports[1]


def test_after_restore_resets_every_aws_client() -> None:
    """Parameter Store, the outbox and each AWS service (DynamoDB's client among them) drop their connections."""
    components = _components()
    report = SnapStartHooks(lambda: components).after_restore()
    source, outbox = components.parameter_source, components.outbox
    assert isinstance(source, ResettableSource) and isinstance(outbox, ResettableOutbox)
    services = {service.name: service for service in components.aws_services}
    assert set(services) == {"dynamodb", "sqs", "ssm"}
    dynamodb = services["dynamodb"].client()
    assert (source.resets, outbox.resets, dynamodb.closed) == (1, 1, 1)
    assert report.connections_dropped == 6  # the Resend pool, Parameter Store, the outbox, three AWS services


def test_config_cached_before_a_long_snapshot_is_refetched_after_restore() -> None:
    """A restore more than the TTL after the snapshot expires the cached secrets: the next read fetches."""
    components = _components()
    source = components.parameter_source
    assert isinstance(source, InMemoryParameterSource)
    components.intake.config.resend()
    components.intake.config.csrf_secret()
    clock = Clock()
    hooks = SnapStartHooks(lambda: components, wall_clock=clock)
    hooks.before_snapshot()
    clock.now += TTL + 1
    report = hooks.after_restore()
    assert report.parameters_expired == (CONFIG, CSRF)
    fetches = source.fetches
    components.intake.config.resend()
    assert source.fetches == fetches + 1


def test_config_cached_just_before_a_short_snapshot_is_kept() -> None:
    """A restore soon after the snapshot keeps entries that are still young: no extra Parameter Store read."""
    components = _components()
    source = components.parameter_source
    assert isinstance(source, InMemoryParameterSource)
    components.intake.config.resend()
    clock = Clock()
    hooks = SnapStartHooks(lambda: components, wall_clock=clock)
    hooks.before_snapshot()
    clock.now += 60
    report = hooks.after_restore()
    assert report.parameters_expired == ()
    assert report.seconds_in_snapshot == 60
    fetches = source.fetches
    components.intake.config.resend()
    assert source.fetches == fetches


def test_restore_without_a_snapshot_time_expires_everything_cached() -> None:
    """If the before hook never ran, the hook cannot know the age, so every entry is due for refresh."""
    components = _components()
    components.intake.config.resend()
    report = SnapStartHooks(lambda: components).after_restore()
    assert report.seconds_in_snapshot is None
    assert report.parameters_expired == (CONFIG,)


def test_before_snapshot_primes_the_components_and_closes_their_connections() -> None:
    """With nothing built yet, the before hook builds (no I/O) and leaves no pooled connection behind."""
    built: list[Components] = []

    def prime() -> Components:
        built.append(_components())
        return built[-1]

    hooks = SnapStartHooks(lambda: built[-1] if built else None, prime=prime)
    hooks.before_snapshot()
    assert len(built) == 1
    services = {service.name: service for service in built[0].aws_services}
    assert services["dynamodb"].client().closed == 1


def test_before_snapshot_survives_a_misconfiguration() -> None:
    """A configuration error while priming is logged; the snapshot proceeds and the first request reports it."""

    def prime() -> Components:
        raise ConfigurationError("CONTACT_ALLOWED_ORIGINS is not set")

    hooks = SnapStartHooks(lambda: None, prime=prime)
    hooks.before_snapshot()
    assert hooks.after_restore().connections_dropped == 0


def test_register_is_a_no_op_where_the_runtime_module_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``snapshot_restore_py`` (tests, laptops) registration returns False and raises nothing."""
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    assert register(SnapStartHooks(lambda: None)) is False


def test_register_hands_both_hooks_to_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the runtime module present, one before-snapshot and one after-restore hook are registered."""
    runtime = _fake_runtime()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    hooks = SnapStartHooks(lambda: None)
    assert register(hooks) is True
    assert runtime.before == [hooks.before_snapshot]
    assert runtime.after == [hooks.after_restore]


#: For a fresh interpreter: ``snapshot_restore_py`` stood in for by a module recording the hooks (``rt.before``,
#: ``rt.after``), then ``import handler`` as the Lambda runtime would.
FAKE_RUNTIME_THEN_IMPORT_HANDLER = (
    "import sys, types\n"
    "rt = types.ModuleType('snapshot_restore_py'); rt.before = []; rt.after = []\n"
    "rt.register_before_snapshot = rt.before.append; rt.register_after_restore = rt.after.append\n"
    "sys.modules['snapshot_restore_py'] = rt\n"
    "import handler\n"
)


def test_the_handler_registers_its_hooks_at_import() -> None:
    """``import handler`` in the Lambda runtime registers the hooks once (checked in a fresh interpreter)."""
    code = (
        FAKE_RUNTIME_THEN_IMPORT_HANDLER + "assert (len(rt.before), len(rt.after)) == (1, 1), (rt.before, rt.after)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def _fake_runtime() -> Any:
    """A stand-in for ``snapshot_restore_py`` with its two registration functions."""
    runtime: Any = types.ModuleType("snapshot_restore_py")
    runtime.before = []
    runtime.after = []
    runtime.register_before_snapshot = runtime.before.append
    runtime.register_after_restore = runtime.after.append
    return runtime


def test_the_snapshot_holds_what_a_plain_cold_start_defers_to_the_first_request() -> None:
    """In a fresh interpreter: after ``import handler`` the submission model, email-validator and IDNA's tables are
    not loaded (a plain cold start pays the model on its first request, the others with the first address that is
    not of the plain shape); after the before-snapshot hook all are, so every copy restored from the snapshot has
    them."""
    code = (
        FAKE_RUNTIME_THEN_IMPORT_HANDLER + "deferred = ('contact_sdk.models', 'email_validator', 'idna.uts46data')\n"
        "assert not [m for m in deferred if m in sys.modules], [m for m in deferred if m in sys.modules]\n"
        "rt.before[0]()\n"
        "assert all(m in sys.modules for m in deferred), [m for m in deferred if m not in sys.modules]\n"
        "assert handler.environment.built() is not None, 'the components are in the snapshot too'\n"
    )
    environment = {
        **os.environ,
        "CONTACT_ALLOWED_ORIGINS": "https://www.example.com",
        "CONTACT_TABLE_NAME": "contact-snapshot",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60, env=environment)


# --- what the report and the log say, and the edges of the snapshot's age ---------------------------------------


def test_stores_that_keep_no_client_are_passed_over_and_the_report_counts_what_was_dropped() -> None:
    """In-memory Parameter Store and outbox (the local stack's): nothing to reset there, nothing raised; the
    report counts the Resend pool and the three AWS services, and says randomness was re-seeded."""
    reseeds: list[bool] = []
    components = _components(
        parameters=InMemoryParameterSource({CONFIG: _config(), CSRF: "s" * 48}), outbox=InMemoryOutbox()
    )
    report = SnapStartHooks(lambda: components, reseed=lambda: reseeds.append(True)).after_restore()
    assert reseeds == [True]
    assert (report.reseeded, report.connections_dropped) == (True, 4)


def test_a_restore_also_reconnects_turnstile() -> None:
    """With Turnstile configured its siteverify pool is dropped too: one more connection in the report."""
    with_turnstile = _components_with_turnstile()
    assert with_turnstile.captcha is not None
    report = SnapStartHooks(lambda: with_turnstile).after_restore()
    assert report.connections_dropped == 7  # the Resend pool, Parameter Store, the outbox, 3 AWS services, siteverify


def _components_with_turnstile() -> Components:
    settings = Settings.from_env(
        {},
        config_parameter=CONFIG,
        csrf_secret_parameter=CSRF,
        allowed_origins=("https://www.example.com",),
        resend_api_url="http://127.0.0.1:9",
        table_name="contact-test",
        turnstile_secret_parameter="/test/turnstile",
        turnstile_siteverify_url="http://127.0.0.1:9/siteverify",
    )
    parameters = ResettableSource({CONFIG: _config(), CSRF: "s" * 48, "/test/turnstile": "0x4AAA-secret"})
    return build_components(
        settings,
        sink=ListSink(),
        parameters=parameters,
        aws={"dynamodb": RecordingAwsClient()},
        outbox=ResettableOutbox(),
    )


def test_the_before_hook_closes_the_connections_of_what_is_already_built() -> None:
    """Built before the snapshot (a warm-up invoke): its connections are closed and nothing is built again."""
    components = _components()
    primed: list[bool] = []
    hooks = SnapStartHooks(lambda: components, prime=lambda: primed.append(True) or components)  # type: ignore[func-returns-value]
    hooks.before_snapshot()
    assert primed == []
    services = {service.name: service for service in components.aws_services}
    assert services["dynamodb"].client().closed == 1


def test_no_time_in_the_snapshot_is_zero_seconds_even_when_the_wall_clock_went_back() -> None:
    """Restored at the instant of the snapshot, or on a host whose clock is behind: 0 s in the snapshot."""
    for step in (0.0, -30.0):
        components = _components()
        clock = Clock()
        hooks = SnapStartHooks(lambda: components, wall_clock=clock)  # noqa: B023 - called before the loop moves
        hooks.before_snapshot()
        clock.now += step
        assert hooks.after_restore().seconds_in_snapshot == 0.0


def test_an_entry_whose_age_plus_the_snapshot_reaches_the_ttl_exactly_is_refetched() -> None:
    """The boundary: 100 s old when the snapshot was taken, TTL - 100 s in it: due, reported and read again."""
    monotonic = ManualClock()
    components = _components(clock=monotonic)
    source = components.parameter_source
    assert isinstance(source, InMemoryParameterSource)
    components.intake.config.resend()
    monotonic.advance(100)
    wall = Clock()
    hooks = SnapStartHooks(lambda: components, wall_clock=wall)
    hooks.before_snapshot()
    wall.now += TTL - 100
    report = hooks.after_restore()
    assert report.parameters_expired == (CONFIG,)
    fetches = source.fetches
    components.intake.config.resend()
    assert source.fetches == fetches + 1


def test_the_hooks_log_what_they_did() -> None:
    """One line per hook an operator can find: a failed build before the snapshot (a warning, with its error),
    a restore before any build, and a restore with the report."""
    components = _components()

    def prime() -> Components:
        raise ConfigurationError("CONTACT_ALLOWED_ORIGINS is not set")

    with printed(build_logger()) as out:
        unbuilt = SnapStartHooks(lambda: None, prime=prime)
        unbuilt.before_snapshot()
        empty_report = unbuilt.after_restore()
        report = SnapStartHooks(lambda: components).after_restore()
    [warning] = out.lines("snapstart: could not build before the snapshot")
    assert (warning["level"], warning["error"]) == ("WARNING", "CONTACT_ALLOWED_ORIGINS is not set")
    [before_any] = out.lines("snapstart: restored before any build")
    assert (before_any["level"], before_any["report"]) == ("INFO", repr(empty_report))
    assert empty_report == RestoreReport(
        reseeded=True, connections_dropped=0, seconds_in_snapshot=None, parameters_expired=()
    )
    [restored] = out.lines("snapstart: restored")
    assert (restored["level"], restored["report"]) == ("INFO", repr(report))
