"""A real stack for handler tests: moto (SSM SecureStrings under a KMS key, DynamoDB) and the Resend sandbox.

Events are built the way API Gateway builds REST proxy (payload 1.0) events.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import handler
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.devtools.sandbox import ResendSandbox
from contact_sdk.metrics import ListSink
from contact_sdk.settings import Settings
from tests.clocks import StackClock
from tests.conftest import LOOPBACK_AWS_CALL_TIMEOUT_MS, aws_client

ORIGIN = "https://www.example.com"
API_KEY = "re_test_key_1"
CONFIG_PARAMETER = "/portfolio/test/resend/api-key"
CSRF_PARAMETER = "/portfolio/test/contact/csrf-secret"
CSRF_SECRET = "a-test-csrf-secret-that-is-long-enough-0123456789"


def resend_config(api_key: str = API_KEY, **changes: Any) -> str:
    """The Resend config parameter's JSON value."""
    value = {
        "apiKey": api_key,
        "domain": "example.com",
        "fromEmail": "no-reply@example.com",
        "toEmail": "owner@example.com",
        "version": 1,
        "rotatedAt": "2026-11-01T10:00:00Z",
    }
    value.update(changes)
    return json.dumps(value)


class FakeLambdaContext:
    """The parts of a Lambda context the handler reads."""

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "contact-form-handler"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def api_gateway_event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    source_ip: str = "203.0.113.10",
    request_id: str | None = None,
    is_base64: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST proxy event as API Gateway builds it (headers twice, identity, request id)."""
    headers = dict(headers or {})
    headers.setdefault("Host", "abc123.execute-api.eu-west-1.amazonaws.com")
    headers.setdefault("User-Agent", "Mozilla/5.0 (test)")
    headers.setdefault("X-Forwarded-For", source_ip)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/test{path}",
            "stage": "test",
            "requestId": request_id or str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": headers["User-Agent"]},
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def submission(**changes: Any) -> dict[str, Any]:
    """A legitimate form submission (started 10 s ago)."""
    value: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "subject": "Analytical engine",
        "message": "Hello! I would like to talk about your engine and its notes.",
        "consent": True,
        "website": "",
        "formStartedAt": int(time.time() * 1000) - 10_000,
    }
    value.update(changes)
    return {k: v for k, v in value.items() if v is not ...}


@dataclass
class Stack:
    """A built service over real local servers, plus what tests look at."""

    aws: str
    sandbox: ResendSandbox
    table: str
    kms_key_id: str
    sink: ListSink
    components: Components
    sleeps: list[float]
    logs: list[str] = field(default_factory=list)

    def call(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Invoke the real Lambda entry point."""
        return handler.lambda_handler(event, context or FakeLambdaContext())

    def token(self, origin: str = ORIGIN, source_ip: str = "203.0.113.10") -> str:
        """Fetch a CSRF token the way the page does."""
        response = self.call(
            api_gateway_event("GET", "/contact/token", headers={"Origin": origin}, source_ip=source_ip)
        )
        assert response["statusCode"] == 200, response
        return str(json.loads(response["body"])["token"])

    def submit(
        self,
        payload: Any,
        *,
        origin: str | None = ORIGIN,
        token: str | None = "fetch",
        source_ip: str = "203.0.113.10",
        content_type: str = "application/json",
        raw: str | None = None,
    ) -> dict[str, Any]:
        """POST /contact with a fresh token unless told otherwise."""
        headers = {"Content-Type": content_type}
        if origin is not None:
            headers["Origin"] = origin
        if token == "fetch":
            token = self.token(origin or ORIGIN, source_ip=source_ip)
        if token is not None:
            headers["X-CSRF-Token"] = token
        body = raw if raw is not None else json.dumps(payload)
        return self.call(api_gateway_event("POST", "/contact", body=body, headers=headers, source_ip=source_ip))

    def put_parameter(self, name: str, value: str) -> None:
        """Write a SecureString under the test KMS key."""
        aws_client(self.aws, "ssm").put_parameter(
            Name=name, Value=value, Type="SecureString", KeyId=self.kms_key_id, Overwrite=True
        )

    def log_lines(self) -> list[dict[str, Any]]:
        """Every log line so far, as the JSON Powertools wrote it."""
        return [json.loads(line) for line in self.logs]


class _Capture(logging.Handler):
    """Keeps each line formatted at emit time, as Powertools writes it (thread-safe keys included)."""

    def __init__(self, lines: list[str], formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines = lines
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class LogCaptures:
    """One capture per built stack on the service's loggers; :meth:`close` detaches them all."""

    LOGGERS = ("contact-form", "contact_sdk")

    def __init__(self) -> None:
        self._captures: list[_Capture] = []

    def attach(self, lines: list[str], formatter: logging.Formatter) -> None:
        """Keep every line the service logs from now on in ``lines``."""
        capture = _Capture(lines, formatter)
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(capture)
        self._captures.append(capture)

    def close(self) -> None:
        """Detach every capture."""
        for capture in self._captures:
            for name in self.LOGGERS:
                logging.getLogger(name).removeHandler(capture)
        self._captures.clear()


def seed_stack(
    aws: str, contact_table: str, sandbox: ResendSandbox, monkeypatch: pytest.MonkeyPatch, **extra_env: str
) -> str:
    """Both SecureStrings under a fresh KMS key in moto, and the service's environment; returns the key id."""
    kms_key_id = aws_client(aws, "kms").create_key(Description="contact-test")["KeyMetadata"]["KeyId"]
    ssm = aws_client(aws, "ssm")
    ssm.put_parameter(Name=CONFIG_PARAMETER, Value=resend_config(), Type="SecureString", KeyId=kms_key_id)
    ssm.put_parameter(Name=CSRF_PARAMETER, Value=CSRF_SECRET, Type="SecureString", KeyId=kms_key_id)
    environ = {
        "CONTACT_CONFIG_PARAMETER": CONFIG_PARAMETER,
        "CONTACT_CSRF_SECRET_PARAMETER": CSRF_PARAMETER,
        "CONTACT_ALLOWED_ORIGINS": f"{ORIGIN},http://localhost:8000",
        "CONTACT_ENVIRONMENT": "test",
        "CONTACT_TABLE_NAME": contact_table,
        "RESEND_API_URL": sandbox.url,
        # moto on a loaded test machine is not a brownout: only the response budget cuts its calls here (the
        # brownout tests keep the default, and a proxy that holds the answers for 30 s).
        "CONTACT_AWS_CALL_TIMEOUT_MS": str(LOOPBACK_AWS_CALL_TIMEOUT_MS),
        **extra_env,
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return kms_key_id


@pytest.fixture(scope="session")
def session_sandbox() -> Iterator[ResendSandbox]:
    """One Resend sandbox for the session; each test resets it."""
    # No rate limit: the suites sharing it send in bursts; Resend's 429 is exercised through scripted faults.
    with ResendSandbox(api_key=API_KEY, rate_limit_per_second=None) as sandbox:
        yield sandbox


@pytest.fixture
def make_stack(
    aws: str, contact_table: str, session_sandbox: ResendSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Stack]]:
    """Build a stack: parameters seeded in moto, handler wired to the sandbox. Keyword args override settings."""
    session_sandbox.reset()
    kms_key_id = seed_stack(aws, contact_table, session_sandbox, monkeypatch)
    captures = LogCaptures()
    built: list[Components] = []

    def build(*, clock: Callable[[], float] | None = None, **overrides: Any) -> Stack:
        sink = ListSink()
        sleeps: list[float] = []
        # These tests post the instant they fetch a token, which the fill-time rule rightly judges spam.
        # They are about other things, so the rule is off here unless a test turns it on; the rule's own
        # tests (tests/entrypoint/test_fill_time.py) do, and move ``clock`` instead of sleeping.
        overrides.setdefault("min_fill_seconds", 0)
        components = build_components(Settings.from_env(**overrides), sink=sink, clock=StackClock(clock, sleeps))
        stack = Stack(aws, session_sandbox, contact_table, kms_key_id, sink, components, sleeps)
        captures.attach(stack.logs, components.api.logger.registered_formatter)
        built.append(components)
        handler.environment.use_components(components)
        return stack

    yield build
    for components in built:
        components.close()
    captures.close()
    handler.environment.use_components(None)
    session_sandbox.reset()


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """The default stack."""
    return make_stack()
