"""The whole service on loopback, with no AWS account: emulator, Resend sandbox, contact API, demo page.

::

    demo page (127.0.0.1:8000) ──fetch──▶ contact API (127.0.0.1:8080) ──▶ handler.lambda_handler
                                               │ SSM · KMS · DynamoDB · SQS        │ POST /emails
                                               ▼                                    ▼
                                    AWS emulator, moto (:5000)          Resend sandbox (:8025, inbox page)

:class:`LocalStack` checks every fixed port first (a taken one is a :class:`PortInUseError` naming the flag
that moves it), starts moto and the sandbox as child processes (each with its own interpreter, tied
to this one's lifetime), seeds the emulator like the CDK app seeds AWS — a KMS key, the Resend config
and the CSRF secret as SecureStrings under it, the DynamoDB table, the outbox queue and its
dead-letter queue — then builds the service through :func:`~contact_sdk.bootstrap.build_components`,
installs it in its own instance of ``handler.py`` (``environment.use_components``) and serves it with
:class:`~contact_sdk.devtools.local.api_server.LocalApiServer`. The demo page is served from its own origin,
which is in ``CONTACT_ALLOWED_ORIGINS`` (with its ``localhost`` twin) beside any origin asked for with
``StackOptions.allowed_origins`` (``--allowed-origin``): your own site, served on another port, can use
the local API. ``StackOptions.provider_fault`` (``--provider-fault``) holds one of the provider faults
of :mod:`~contact_sdk.devtools.local.provider_faults` from the start.

The rate limits are the production defaults unless asked otherwise: load runs keep them and give each
simulated visitor its own loopback source address instead (see ``docs/load-testing.md``).

Example::

    with LocalStack(StackOptions(ports=StackPorts.any())) as stack:
        httpx.get(f"{stack.api_url}/contact/token", headers={"Origin": stack.page_url})
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import errno
import importlib.util
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Any

import httpx

from contact_sdk.bootstrap import build_components
from contact_sdk.devtools.brownout import ENDPOINT_VARIABLES, BrownoutProxy, Mode
from contact_sdk.devtools.local.api_server import ApiServerOptions, LocalApiServer
from contact_sdk.devtools.local.console import Console, ConsoleStream, DiscardingSink
from contact_sdk.devtools.local.emulator import (
    FAKE_CREDENTIALS,
    REGION,
    ResourceNames,
    SeededResources,
    aws_client,
    seed,
)
from contact_sdk.devtools.local.event_source import SqsEventSource
from contact_sdk.devtools.local.page_server import PageServer
from contact_sdk.devtools.local.provider_faults import ProviderFault, provider_fault
from contact_sdk.devtools.local.turnstile import PASS_SITEKEY, SITEVERIFY_PATH, TEST_SECRETS, SiteverifyStandIn
from contact_sdk.devtools.loopback import is_loopback
from contact_sdk.errors import ConfigurationError
from contact_sdk.logs import SERVICE_NAME
from contact_sdk.security.origin import OriginPolicy
from contact_sdk.settings import Settings

__all__ = ["LocalStack", "PortInUseError", "StackOptions", "StackPorts", "StackStartError"]

logger = logging.getLogger(__name__)

_CHILD_START_SECONDS = 60.0
#: What the children print once they listen (``emulator.main``, ``resend-sandbox``); group 1 is their URL.
_EMULATOR_LISTENING = re.compile(r"^moto listening on (http://\S+)")
_SANDBOX_LISTENING = re.compile(r"^Resend sandbox on (http://\S+) ")


class StackStartError(Exception):
    """A part of the stack did not come up; the message says which and why."""


class PortInUseError(StackStartError):
    """One or more of the stack's ports are taken. ``taken`` lists ``(what, port, flag)``."""

    def __init__(self, host: str, taken: list[tuple[str, int, str]]) -> None:
        self.host = host
        self.taken = taken
        lines = [f"  {what}: {host}:{port} is already in use (pick another: {flag})" for what, port, flag in taken]
        super().__init__("cannot start the local stack:\n" + "\n".join(lines))


@dataclass(frozen=True, slots=True)
class StackPorts:
    """Where each part listens; ``0`` picks a free port (tests, load runs beside a running stack).

    A ``0`` is picked by the server that listens on it, when it binds (the kernel's choice, read back from the
    socket or from the child's "listening on" line): a port picked earlier and bound later could be handed to
    another process in between, as the test suite's parallel workers showed.
    """

    page: int = 8000
    api: int = 8080
    sandbox: int = 8025
    aws: int = 5000

    @classmethod
    def any(cls) -> StackPorts:
        """Every port picked free at start."""
        return cls(page=0, api=0, sandbox=0, aws=0)


@dataclass(frozen=True, slots=True)
class StackOptions:
    """How to run the stack. The defaults are what ``make run`` uses."""

    host: str = "127.0.0.1"
    ports: StackPorts = field(default_factory=StackPorts)
    #: Latency the sandbox adds to every Resend call, uniform in ``(min, max)`` ms; ``None`` for none.
    sandbox_latency_ms: tuple[int, int] | None = None
    #: The sandbox's Resend rate limit in requests per second; 0 (the default) for none, so load runs
    #: measure the service rather than the sandbox's 429s (Resend's own default is 5).
    sandbox_rate_limit: int = 0
    #: ``CONTACT_RATE_LIMIT``: submissions per source IP per window (production default: 5).
    rate_limit: int = 5
    rate_limit_window_seconds: int = 900
    token_rate_limit: int = 30
    #: ``CONTACT_MIN_FILL_SECONDS``: the fill-time spam rule (production default 3; ``0`` turns it off, for
    #: scripted clients such as the schemathesis run, which submits right after fetching its token).
    min_fill_seconds: int = 3
    #: ``CONTACT_RESPONSE_BUDGET_MS``: how long ``POST /contact`` may spend on the provider before queueing
    #: (production default 4000; a short one shows at once what a visitor sees when the provider is down).
    response_budget_ms: int = 4000
    #: ``CONTACT_AWS_CALL_TIMEOUT_MS``: the longest one call to the emulator may take before the service treats
    #: the service as degraded and skips it for a while (production default 1500). The test suite raises it:
    #: moto on a loaded test machine is not a brownout.
    aws_call_timeout_ms: int = 1500
    #: ``--turnstile``: ``None`` (off), or ``"pass"``, ``"fail"``, ``"spent"`` -- which of Cloudflare's test
    #: secrets the API verifies with, against the local siteverify stand-in; the demo page gets the widget.
    turnstile: str | None = None
    #: Origins the API allows besides the demo page's own (``--allowed-origin``): a site of yours, served from
    #: another port, that should use the local API. Each must be an origin (``scheme://host[:port]``).
    allowed_origins: tuple[str, ...] = ()
    #: ``--provider-fault``: ``None``, or a name in :data:`~contact_sdk.devtools.local.provider_faults.PROVIDER_FAULTS`
    #: (``slow``, ``down``, ``flaky``) held by the sandbox from the start.
    provider_fault: str | None = None
    #: ``--brownout``: ``(dependency, mode)`` to put a :class:`~contact_sdk.devtools.brownout.BrownoutProxy` in
    #: front of one dependency (``dynamodb``, ``sqs``, ``ssm``, ``siteverify`` with ``turnstile``, or ``resend``)
    #: for the whole run; ``None`` for none. :attr:`LocalStack.brownout` switches its mode at runtime.
    brownout: tuple[str, Mode] | None = None
    #: One console line per API request (off for load runs: printing costs CPU the API needs).
    access_log: bool = True
    #: The service's log level in the console (WARNING shows only what needs attention).
    service_log_level: str = "WARNING"
    names: ResourceNames = field(default_factory=ResourceNames)


def _port_flags() -> dict[str, tuple[str, str]]:
    return {
        "page": ("demo page", "--page-port or CONTACT_LOCAL_PAGE_PORT"),
        "api": ("contact API", "--api-port or CONTACT_LOCAL_API_PORT"),
        "sandbox": ("Resend sandbox", "--sandbox-port or CONTACT_LOCAL_SANDBOX_PORT"),
        "aws": ("AWS emulator", "--aws-port or CONTACT_LOCAL_AWS_PORT"),
    }


def _is_taken(host: str, port: int) -> bool:
    """Whether binding ``host:port`` as the servers will is refused (in use, or a port this user may not bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
        return False


def check_fixed_ports(host: str, ports: StackPorts) -> None:
    """Check every fixed (non-zero) port is free; raises :class:`PortInUseError` naming all that are taken.

    The ``0`` ones are left to the servers, which pick them as they bind (see :class:`StackPorts`).
    """
    wanted = {"page": ports.page, "api": ports.api, "sandbox": ports.sandbox, "aws": ports.aws}
    fixed = [p for p in wanted.values() if p]
    if len(fixed) != len(set(fixed)):
        raise StackStartError(f"two parts of the stack cannot share a port: {wanted}")
    taken: list[tuple[str, int, str]] = []
    for key, port in wanted.items():
        if port and _is_taken(host, port):
            what, flag = _port_flags()[key]
            taken.append((what, port, flag))
    if taken:
        raise PortInUseError(host, taken)


def _not_serving_yet(event: Any, context: Any) -> Any:  # pragma: no cover - the server serves once replaced
    raise RuntimeError("the contact API is bound but not serving yet")


def _closed(stream: Any) -> bool:
    return bool(getattr(stream, "closed", False))


def _swap_stream(handler: logging.StreamHandler[Any], stream: Any) -> Any:
    """``handler.setStream(stream)``, except that a stream already closed (an earlier owner's, such as a finished
    test's captured output) is dropped without the flush that would raise; returns the live stream replaced."""
    if not _closed(handler.stream):
        return handler.setStream(stream)
    with handler.lock or contextlib.nullcontext():
        handler.stream = stream
    return None


def load_handler_module() -> ModuleType:
    """A private instance of the repository's ``handler.py`` (the Lambda entry point), for one stack.

    The file is executed as Lambda imports it, but the module is not the process's ``handler``: each stack gets
    its own ``environment`` (the execution environment's components), so two stacks in one process (the test
    suites run several at once) never answer with each other's configuration.
    """
    path = Path(__file__).resolve().parents[3] / "handler.py"
    spec = importlib.util.spec_from_file_location("handler", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise StackStartError("handler.py was not found: run the stack from a clone of the repository")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Child:
    """A child process whose output goes to the console and which stops when told, or when we die.

    ``listening`` matches the line the child prints once it listens; its first group is the URL, whose port
    :meth:`wait_until_listening` returns (the child may have been given port ``0``).
    """

    def __init__(
        self, label: str, module: str, args: list[str], console: Console, *, listening: re.Pattern[str]
    ) -> None:
        self.label = label
        self._asked = False
        self._listening = listening
        self._url: str | None = None
        self._heard = threading.Event()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter running our own modules
            [sys.executable, "-m", "contact_sdk.devtools.local.child", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the stack only; the stack stops its children in order
        )
        assert self.process.stdout is not None  # noqa: S101 - Popen with stdout=PIPE
        self.pump = console.pump(label, self.process.stdout, observe=self._observe)

    def _observe(self, line: str) -> None:
        if self._url is None and (match := self._listening.search(line)):
            self._url = match.group(1)
            self._heard.set()

    def wait_until_listening(self, deadline: float) -> int:
        """The port the child says it listens on, once it says so; :class:`StackStartError` if it exits first.

        Its own word, not a connection to the port: a port another process took would accept that connection.
        """
        while not self._heard.wait(0.05):
            code = self.process.poll()
            if code is not None:
                self.pump.join(timeout=2)
                raise StackStartError(f"the {self.label} exited during start-up (exit status {code}); see its output")
            if time.monotonic() > deadline:
                raise StackStartError(f"the {self.label} did not say it was listening in time")
        assert self._url is not None  # noqa: S101 - set before the event
        return int(self._url.rsplit(":", 1)[1].rstrip("/"))

    def ask_to_stop(self) -> None:
        """Send SIGTERM once, without waiting (a second one would interrupt the child's clean shutdown)."""
        if not self._asked and self.process.poll() is None:
            self.process.terminate()
        self._asked = True

    def stop(self) -> None:
        self.ask_to_stop()
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        self.pump.join(timeout=2)
        if self.process.stdout is not None:
            with contextlib.suppress(OSError):
                self.process.stdout.close()


class LocalStack:
    """The emulator, the sandbox, the contact API and the demo page, started and stopped together."""

    def __init__(self, options: StackOptions | None = None, *, console: Console | None = None) -> None:
        self.options = options or StackOptions()
        if not is_loopback(self.options.host):
            raise StackStartError(f"the local stack listens on loopback only, not on {self.options.host!r}")
        if self.options.turnstile is not None and self.options.turnstile not in TEST_SECRETS:
            raise StackStartError(
                f"--turnstile must be one of {', '.join(TEST_SECRETS)}, not {self.options.turnstile!r}"
            )
        try:
            self._extra_origins = tuple(sorted(OriginPolicy(self.options.allowed_origins).allowed_origins))
        except ConfigurationError as exc:
            raise StackStartError(f"--allowed-origin: {exc}") from exc
        try:
            self.provider_fault: ProviderFault | None = (
                provider_fault(self.options.provider_fault) if self.options.provider_fault is not None else None
            )
        except ValueError as exc:
            raise StackStartError(f"--provider-fault: {exc}") from exc
        if self.options.brownout is not None:
            dependency = self.options.brownout[0]
            if dependency not in (*ENDPOINT_VARIABLES, "siteverify", "resend"):
                raise StackStartError(f"--brownout cannot stand in front of {dependency!r}")
            if dependency == "siteverify" and self.options.turnstile is None:
                raise StackStartError("--brownout siteverify needs --turnstile: without it nothing calls siteverify")
        self._brownout: BrownoutProxy | None = None
        self._siteverify: SiteverifyStandIn | None = None
        self._captcha: Any = None
        self.console = console or Console()
        self.ports: StackPorts | None = None
        self.resources: SeededResources | None = None
        self.sandbox_api_key = f"re_local_{secrets.token_hex(12)}"
        # The sandbox signs its delivery webhooks with this; the API verifies them (POST /contact/events).
        self.webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self._event_source: SqsEventSource | None = None
        self.environment: dict[str, str] = {}
        self._children: list[_Child] = []
        self._api_server: LocalApiServer | None = None
        self._page_server: PageServer | None = None
        self._handler: ModuleType | None = None
        self._aws_clients: list[Any] = []
        self._resend_client: Any = None
        self._components: Any = None
        self._log_handler: logging.StreamHandler[Any] | None = None
        self._saved_stream: IO[str] | None = None
        self._saved_levels: dict[str, int] = {}
        self._stopped = threading.Event()

    # -- where things are -------------------------------------------------------------------------

    def _url(self, port: int) -> str:
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        return f"http://{host}:{port}"

    def _ports(self) -> StackPorts:
        if self.ports is None:
            raise StackStartError("the stack is not started")
        return self.ports

    @property
    def api_url(self) -> str:
        """The contact API's base URL."""
        return self._url(self._ports().api)

    @property
    def page_url(self) -> str:
        """The demo page, and the origin the API allows."""
        return self._url(self._ports().page)

    @property
    def sandbox_url(self) -> str:
        """The Resend sandbox (API and inbox page)."""
        return self._url(self._ports().sandbox)

    @property
    def aws_url(self) -> str:
        """The AWS emulator's endpoint (``AWS_ENDPOINT_URL``)."""
        return self._url(self._ports().aws)

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """``CONTACT_ALLOWED_ORIGINS``: the page's origin, its ``localhost`` twin on 127.0.0.1, then the extra ones.

        The extra origins (``StackOptions.allowed_origins``) in their canonical form, each once.
        """
        origins = [self.page_url]
        if self.options.host == "127.0.0.1":
            origins.append(f"http://localhost:{self._ports().page}")
        return tuple(origins + [origin for origin in self._extra_origins if origin not in origins])

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Bring every part up, in order; on any failure, stop what started and raise :class:`StackStartError`.

        Each part learns the ports of those before it: the API's socket is bound first (the sandbox posts its
        webhooks there), then the children say where they listen, then the page (its origin is the one the
        service allows) and the service, which the API serves last.
        """
        options = self.options
        check_fixed_ports(options.host, options.ports)
        self.ports = options.ports
        try:
            self._bind_api()
            self._start_children()
            self._start_page()
            self.resources = self._seed()
            self._start_api()
            self._hold_provider_fault()
        except StackStartError:
            self.stop()
            raise
        except Exception as exc:
            self.stop()
            raise StackStartError(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:  # Ctrl-C during start-up: leave nothing running
            self.stop()
            raise
        return self

    def _bind_api(self) -> None:
        """The API's socket, bound (and its port known) before anything needs its URL; it serves later."""
        options = self.options
        server = LocalApiServer(
            (options.host, self._ports().api),
            _not_serving_yet,
            options=ApiServerOptions(region=REGION),
            access_log=self.console.access if options.access_log else None,
        )
        self._api_server = server
        self.ports = dataclasses.replace(self._ports(), api=int(server.server_address[1]))

    def _start_children(self) -> None:
        ports = self._ports()
        host = self.options.host
        emulator = _Child(
            "aws",
            "contact_sdk.devtools.local.emulator",
            ["--host", host, "--port", str(ports.aws)],
            self.console,
            listening=_EMULATOR_LISTENING,
        )
        self._children.append(emulator)
        sandbox_args = ["--host", host, "--port", str(ports.sandbox), "--api-key", self.sandbox_api_key]
        sandbox_args += ["--webhook-url", f"{self.api_url}/contact/events", "--webhook-secret", self.webhook_secret]
        sandbox_args += ["--rate-limit", str(self.options.sandbox_rate_limit), "--domain", "example.com:verified"]
        if self.options.sandbox_latency_ms is not None:
            low, high = self.options.sandbox_latency_ms
            sandbox_args += ["--latency-ms", f"{low}-{high}"]
        sandbox = _Child(
            "sandbox", "contact_sdk.devtools.sandbox", sandbox_args, self.console, listening=_SANDBOX_LISTENING
        )
        self._children.append(sandbox)
        deadline = time.monotonic() + _CHILD_START_SECONDS
        aws = emulator.wait_until_listening(deadline)
        self.ports = dataclasses.replace(self._ports(), aws=aws, sandbox=sandbox.wait_until_listening(deadline))

    def _seed(self) -> SeededResources:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return seed(
            self.aws_url,
            names=self.options.names,
            resend_config={
                "apiKey": self.sandbox_api_key,
                "domain": "example.com",
                "fromEmail": "contact@example.com",
                "toEmail": "owner@example.com",
                "version": 1,
                "rotatedAt": now,
            },
            csrf_secret=secrets.token_urlsafe(48),
            webhook_secret=self.webhook_secret,
        )

    def _start_api(self) -> None:
        options, resources = self.options, self.resources
        assert resources is not None  # noqa: S101 - seeded just before
        self.environment = {
            "CONTACT_CONFIG_PARAMETER": resources.config_parameter,
            "CONTACT_CSRF_SECRET_PARAMETER": resources.csrf_secret_parameter,
            "CONTACT_WEBHOOK_SECRET_PARAMETER": resources.webhook_secret_parameter,
            "CONTACT_ALLOWED_ORIGINS": ",".join(self.allowed_origins),
            "CONTACT_ENVIRONMENT": "local",
            "CONTACT_TABLE_NAME": resources.table_name,
            "CONTACT_OUTBOX_QUEUE_URL": resources.queue_url,
            # As the CDK stack does: a permanently refused submission is parked on the DLQ with its reason.
            "CONTACT_PARKED_QUEUE_URL": resources.dead_letter_queue_url,
            "RESEND_API_URL": self.sandbox_url,
            "CONTACT_RATE_LIMIT": str(options.rate_limit),
            "CONTACT_RATE_LIMIT_WINDOW_SECONDS": str(options.rate_limit_window_seconds),
            "CONTACT_TOKEN_RATE_LIMIT": str(options.token_rate_limit),
            "CONTACT_MIN_FILL_SECONDS": str(options.min_fill_seconds),
            "CONTACT_RESPONSE_BUDGET_MS": str(options.response_budget_ms),
            "CONTACT_AWS_CALL_TIMEOUT_MS": str(options.aws_call_timeout_ms),
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_REGION": REGION,
        }
        self._start_siteverify(resources)
        self._start_brownout()
        settings = Settings.from_env(environ=self.environment)
        # build_logger sets process-wide logger levels; put them back on stop (tests share the process).
        self._saved_levels = {name: logging.getLogger(name).level for name in ("contact_sdk", SERVICE_NAME)}
        # The service builds its own AWS clients, as in Lambda (one attempt, the call timeout), on the emulator
        # or on the brownout proxy in front of it; the event source's poller is AWS's own in Lambda, and here ours.
        endpoints = dict.fromkeys(("ssm", "dynamodb", "sqs"), self.aws_url)
        if self._brownout is not None and options.brownout is not None and options.brownout[0] in endpoints:
            endpoints[options.brownout[0]] = self._brownout.url
        sqs = aws_client(self.aws_url, "sqs")
        self._aws_clients = [sqs]
        components = build_components(
            dataclasses.replace(settings, log_level=options.service_log_level),
            sink=DiscardingSink(),
            aws_client_options={
                service: {"endpoint_url": url, "region_name": REGION, **FAKE_CREDENTIALS}
                for service, url in endpoints.items()
            },
        )
        self._components = components
        self._resend_client = components.client
        self._captcha = components.captcha
        handler = components.api.logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            self._log_handler = handler
            self._saved_stream = _swap_stream(handler, ConsoleStream(self.console, "service"))
        self._handler = load_handler_module()
        self._handler.environment.use_components(components)
        # Lambda's SQS event source mapping, played locally: queued submissions drain once the provider is back.
        self._event_source = SqsEventSource(sqs, resources.queue_url, self._handler.outbox_handler, region=REGION)
        self._event_source.start()
        server = self._api_server
        assert server is not None  # noqa: S101 - bound first, by _bind_api
        server.handler = self._handler.lambda_handler
        server.serve_in_thread()

    def _start_siteverify(self, resources: SeededResources) -> None:
        """With ``--turnstile``: the siteverify stand-in, and its test secret as a SecureString like production's."""
        mode = self.options.turnstile
        if mode is None:
            return
        standin = SiteverifyStandIn((self.options.host, 0), hostname=self.options.host, action="contact")
        standin.serve_in_thread()
        self._siteverify = standin
        parameter = self.options.names.turnstile_secret_parameter
        ssm = aws_client(self.aws_url, "ssm")
        try:
            ssm.put_parameter(
                Name=parameter, Value=TEST_SECRETS[mode], Type="SecureString", KeyId=resources.key_id, Overwrite=True
            )
        finally:
            ssm.close()
        self.environment["CONTACT_TURNSTILE_SECRET_PARAMETER"] = parameter
        self.environment["CONTACT_TURNSTILE_SITEVERIFY_URL"] = standin.url

    def _hold_provider_fault(self) -> None:
        """With ``--provider-fault``: the sandbox holds it from now on (until its faults are cleared)."""
        if self.provider_fault is None:
            return
        answer = httpx.post(f"{self.sandbox_url}/_sandbox/faults", json=dict(self.provider_fault.settings), timeout=10)
        if answer.status_code != 200:
            raise StackStartError(f"the sandbox refused the provider fault: {answer.status_code} {answer.text}")

    def _start_brownout(self) -> None:
        """With ``--brownout``: the proxy in front of that dependency, and the service pointed at it.

        An AWS service's client (built by ``build_components`` as every one of them is, as Lambda builds it) is
        given the proxy's URL as its endpoint; ``AWS_ENDPOINT_URL_<SERVICE>`` in :attr:`environment` says so. The
        process environment is not touched: another stack in the same process keeps its own endpoints.
        """
        if self.options.brownout is None:
            return
        dependency, mode = self.options.brownout
        upstreams = {"resend": self.sandbox_url}
        if self._siteverify is not None:
            upstreams["siteverify"] = self._siteverify.origin
        proxy = BrownoutProxy(upstreams.get(dependency, self.aws_url), mode=mode).start()
        self._brownout = proxy
        if dependency in ENDPOINT_VARIABLES:
            variable = ENDPOINT_VARIABLES[dependency]
            self.environment[variable] = proxy.url
        elif dependency == "resend":
            self.environment["RESEND_API_URL"] = proxy.url
        else:
            self.environment["CONTACT_TURNSTILE_SITEVERIFY_URL"] = proxy.url + SITEVERIFY_PATH

    @property
    def brownout(self) -> BrownoutProxy | None:
        """The brownout proxy (``--brownout``), else ``None``: switch its mode, read what it saw."""
        return self._brownout

    @property
    def siteverify(self) -> SiteverifyStandIn | None:
        """The siteverify stand-in (``--turnstile``), else ``None``."""
        return self._siteverify

    def _start_page(self) -> None:
        server = PageServer(
            (self.options.host, self._ports().page),
            config={
                "apiUrl": self.api_url,
                "sandboxUrl": self.sandbox_url,
                "minFillSeconds": self.options.min_fill_seconds,
            },
            turnstile_sitekey=PASS_SITEKEY if self.options.turnstile is not None else None,
        )
        self._page_server = server
        self.ports = dataclasses.replace(self._ports(), page=int(server.server_address[1]))
        server.serve_in_thread()

    def stop(self) -> None:
        """Stop everything that started, newest first. Safe to call twice."""
        if self._brownout is not None:  # first: it releases the calls the API's threads may be waiting on
            self._brownout.stop()
            self._brownout = None
        if self._page_server is not None:
            self._page_server.close()
            self._page_server = None
        if self._api_server is not None:
            self._api_server.close()
            self._api_server = None
        if self._event_source is not None:
            self._event_source.stop()
            self._event_source = None
        if self._captcha is not None:
            self._captcha.close()
            self._captcha = None
        if self._siteverify is not None:
            self._siteverify.close()
            self._siteverify = None
        if self._handler is not None:
            self._handler.environment.use_components(None)
            self._handler = None
        if self._components is not None:  # every connection the service holds, the browned-out service's too
            self._components.close()
            self._components = None
        for client in self._aws_clients:
            client.close()
        self._aws_clients.clear()
        if self._resend_client is not None:
            self._resend_client.close()
            self._resend_client = None
        if self._log_handler is not None:
            saved = self._saved_stream
            _swap_stream(self._log_handler, saved if saved is not None and not _closed(saved) else sys.stdout)
            self._log_handler = None
        for name, level in self._saved_levels.items():
            logging.getLogger(name).setLevel(level)
        self._saved_levels.clear()
        for child in reversed(self._children):  # all at once: each takes a moment to wind down
            child.ask_to_stop()
        for child in reversed(self._children):
            child.stop()
        self._children.clear()
        self._stopped.set()

    def banner(self) -> str:
        """What a person needs: the URLs, the limits, how to stop."""
        options = self.options
        latency = (
            f"{options.sandbox_latency_ms[0]}-{options.sandbox_latency_ms[1]} ms added to each Resend call"
            if options.sandbox_latency_ms
            else "no added latency"
        )
        return "\n".join(
            [
                "",
                "contact-sdk local stack is up (loopback only, no AWS account):",
                f"  demo page       {self.page_url}/   <- open this, fill in the form, press Send",
                f"  sandbox inbox   {self.sandbox_url}/   <- the emails the API sent ({latency})",
                f"  contact API     {self.api_url}   (GET /contact/token, POST /contact, POST /contact/events)",
                f"  API description {self.page_url}/openapi.yaml   (OpenAPI 3.1)",
                "  outbox          drained by a local SQS event source into outbox_handler",
                f"  AWS emulator    {self.aws_url}   (moto: SSM, KMS, DynamoDB, SQS)",
                f"  allowed origins {', '.join(self.allowed_origins)}",
                f"  rate limit      {options.rate_limit} submissions per {options.rate_limit_window_seconds} s "
                "per source IP",
                *(
                    [
                        f"  provider fault  {self.provider_fault.name}: {self.provider_fault.description} "
                        f"(end it: curl -X DELETE {self.sandbox_url}/_sandbox/faults)"
                    ]
                    if self.provider_fault is not None
                    else []
                ),
                *(
                    [f"  turnstile       on ({options.turnstile}), siteverify stand-in {self._siteverify.url}"]
                    if self._siteverify is not None
                    else []
                ),
                *(
                    [
                        f"  brownout        {options.brownout[0]} behind a proxy at {self._brownout.url}, "
                        f"{options.brownout[1]} (healthy | slow:SECONDS | hang)"
                    ]
                    if self._brownout is not None and options.brownout is not None
                    else []
                ),
                "Press Ctrl-C to stop.",
                "",
            ]
        )

    def wait(self) -> None:
        """Block until :meth:`stop` is called from another thread (Ctrl-C raises here as usual)."""
        while not self._stopped.wait(0.5):
            pass

    def __enter__(self) -> LocalStack:
        """Start on entry."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop on exit."""
        self.stop()


def environment_summary(environment: Mapping[str, str]) -> str:
    """The variables the API runs with, one per line (for ``--verbose``)."""
    return "\n".join(f"  {name}={value}" for name, value in sorted(environment.items()))
