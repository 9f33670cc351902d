"""The local contact API: an HTTP server that runs the Lambda handler the way API Gateway would.

Each request becomes the event an API Gateway **REST API, Lambda proxy integration (payload 1.0)**
sends: ``resource``, ``path``, ``httpMethod``, ``headers`` and ``multiValueHeaders`` (names as sent),
``queryStringParameters`` and their multi-value twin, ``body`` (base64 with ``isBase64Encoded`` when it
is not UTF-8), and a ``requestContext`` with a fresh ``requestId``, ``requestTimeEpoch``, the stage, and
``identity.sourceIp`` taken from the TCP socket — never from a client header, exactly like API Gateway.
The handler's answer is turned back into a response the way API Gateway does it: status, ``headers``
merged with ``multiValueHeaders``, the body (decoded when ``isBase64Encoded``), and ``502`` with
``{"message": "Internal server error"}`` when the function raises or answers something malformed.

Requests are served concurrently, one thread each (a warm Lambda fleet, not one environment). A
client cannot hold a thread forever: every socket read has a timeout, the whole body must arrive
within ``body_timeout_seconds``, and a ``Content-Length`` above ``max_body_bytes`` is refused with
``413`` before a byte of the body is read (API Gateway refuses above 10 MB; the service's own limit,
32 KiB, is answered by the function as the contract says).

Example::

    server = LocalApiServer(("127.0.0.1", 8080), handler.lambda_handler)
    server.serve_in_thread()
    ...
    server.close()
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from contact_sdk.devtools.local.serving import ThreadedServer
from contact_sdk.security.origin import SECURITY_HEADERS

__all__ = [
    "AccessRecord",
    "ApiServerOptions",
    "InvalidLambdaResponse",
    "LambdaContext",
    "LambdaHandler",
    "LocalApiServer",
    "build_event",
    "response_from_result",
]

logger = logging.getLogger(__name__)

#: A Lambda handler: ``(event, context) -> proxy result``.
LambdaHandler = Callable[[dict[str, Any], Any], Mapping[str, Any]]

#: The resources the deployed API defines (infra: ``/contact``, ``/contact/token``, ``/contact/events``).
#: Any other path reaches the function through a ``/{proxy+}`` resource, so it can answer ``404``.
DEFAULT_RESOURCES: tuple[str, ...] = ("/contact", "/contact/token", "/contact/events")
#: Methods a request may use; API Gateway's ``ANY`` covers these.
PROXIED_METHODS: tuple[str, ...] = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
#: Response headers API Gateway sets itself; the function's values are dropped.
_HOP_BY_HOP = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive", "date", "server"})
_ERROR_CODES: dict[int, str] = {
    400: "bad_request",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    431: "headers_too_large",
    501: "not_implemented",
    502: "bad_gateway",
}


class InvalidLambdaResponse(ValueError):  # noqa: N818 - API Gateway's own wording for this case
    """The function answered something API Gateway could not turn into a response (API Gateway: 502)."""


@dataclass(frozen=True, slots=True)
class ApiServerOptions:
    """How the local API behaves; every default mirrors the deployed stack or a safe local bound."""

    stage: str = "local"
    #: The function's timeout: what ``context.get_remaining_time_in_millis()`` counts down from.
    function_timeout_seconds: float = 30.0
    #: Longest wait for any single read from a client socket (headers and body alike).
    socket_timeout_seconds: float = 10.0
    #: Longest time the whole body may take to arrive (a slow-loris body is cut off here).
    body_timeout_seconds: float = 15.0
    #: Largest ``Content-Length`` read at all; larger bodies get ``413`` unread.
    max_body_bytes: int = 1024 * 1024
    resources: tuple[str, ...] = DEFAULT_RESOURCES
    function_name: str = "contact-form-local"
    region: str = "eu-west-1"
    account_id: str = "123456789012"


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One handled request, for the access log."""

    method: str
    path: str
    status: int
    duration_ms: float
    source_ip: str
    request_id: str
    outcome: str


class LambdaContext:
    """The parts of Lambda's context object a handler reads, with a real countdown to the timeout."""

    def __init__(self, *, options: ApiServerOptions, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline = clock() + options.function_timeout_seconds
        self.function_name = options.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{options.region}:{options.account_id}:function:{options.function_name}:{options.stage}"
        )
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{options.function_name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the function's timeout, never negative."""
        return max(0, int((self._deadline - self._clock()) * 1000))


def _resource_of(path: str, resources: Iterable[str]) -> tuple[str, dict[str, str] | None]:
    trimmed = path.rstrip("/") or "/"
    if trimmed in resources:
        return trimmed, None
    return "/{proxy+}", {"proxy": path.lstrip("/")}


def build_event(
    *,
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    source_ip: str,
    request_id: str,
    options: ApiServerOptions,
    now: float,
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload 1.0) for one request.

    ``target`` is the request target as sent (``/contact/token?x=1``); ``now`` epoch seconds.
    """
    parts = urlsplit(target)
    path = unquote(parts.path) or "/"
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        # API Gateway keeps the names as sent; a repeated header is the last value in ``headers``.
        single[name] = value
        multi.setdefault(name, []).append(value)
    query_multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query_multi.setdefault(key, []).append(value)
    resource, path_parameters = _resource_of(path, options.resources)
    try:
        text: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text = base64.b64encode(body).decode("ascii")
        is_base64 = True
    host = single.get("Host") or next((v for k, v in single.items() if k.lower() == "host"), "localhost")
    user_agent = next((v for k, v in single.items() if k.lower() == "user-agent"), None)
    epoch_ms = int(now * 1000)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in query_multi.items()} or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": options.account_id,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode("ascii"),
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            "path": f"/{options.stage}{path}",
            "protocol": protocol,
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": epoch_ms,
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, resource).hex[:6],
            "resourcePath": resource,
            "stage": options.stage,
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def response_from_result(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` from a proxy result, merged as API Gateway merges it.

    ``multiValueHeaders`` win over ``headers`` for the same name. Raises :class:`InvalidLambdaResponse`.
    """
    if not isinstance(result, Mapping):
        raise InvalidLambdaResponse(f"the function returned {type(result).__name__}, not an object")
    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidLambdaResponse(f"statusCode {status!r} is not an HTTP status")
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, Mapping) or not isinstance(multi, Mapping):
        raise InvalidLambdaResponse("headers and multiValueHeaders must be objects")
    merged: list[tuple[str, str]] = []
    multi_names = set()
    for name, values in multi.items():
        if not isinstance(values, list):
            raise InvalidLambdaResponse(f"multiValueHeaders[{name!r}] is not a list")
        multi_names.add(str(name).lower())
        merged.extend((str(name), str(value)) for value in values)
    merged.extend((str(name), str(value)) for name, value in single.items() if str(name).lower() not in multi_names)
    for name, value in merged:
        if any(c in name + value for c in "\r\n\0"):
            raise InvalidLambdaResponse(f"header {name!r} contains a line break")
    merged = [(name, value) for name, value in merged if name.lower() not in _HOP_BY_HOP]
    raw_body = result.get("body")
    if raw_body is None:
        body = b""
    elif not isinstance(raw_body, str):
        raise InvalidLambdaResponse("body must be a string")
    elif result.get("isBase64Encoded") is True:
        try:
            body = base64.b64decode(raw_body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidLambdaResponse("isBase64Encoded is set but the body is not base64") from exc
    else:
        body = raw_body.encode("utf-8")
    return status, merged, body


def _outcome_of(status: int, body: bytes) -> str:
    """A short word for the access log: the body's ``status`` or ``error.code``."""
    if not body:
        return "-"
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "-"
    if isinstance(data, dict):
        if isinstance(data.get("status"), str):
            return str(data["status"])
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return str(error["code"])
        if "token" in data:
            return "token"
    return "-" if status < 500 else "error"


class _ClientTimeoutError(Exception):
    """The client did not send what it announced in time."""


class _ClientGoneError(Exception):
    """The client closed the connection before sending the whole body."""


class _ProxyRequestHandler(BaseHTTPRequestHandler):
    """One connection: keep-alive HTTP/1.1, each request proxied to the function."""

    protocol_version = "HTTP/1.1"
    server_version = "contact-sdk-local"

    def version_string(self) -> str:
        """The ``Server`` header: the name only."""
        return self.server_version

    server: LocalApiServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.options.socket_timeout_seconds)
        # Headers and body are two writes; without this, Nagle's algorithm and the client's delayed ACK
        # hold the body back ~40 ms on every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("local api: " + format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the server answers itself (bad request line, timeouts...), shaped like the contract's."""
        request_id = str(uuid.uuid4())
        phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
        payload = {
            "error": {"code": _ERROR_CODES.get(code, "error"), "message": message or phrase},
            "requestId": request_id,
        }
        body = json.dumps(payload).encode("utf-8")
        self.close_connection = True
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.send_header("X-Request-Id", request_id)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if getattr(self, "command", "") != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass

    def _read_body(self) -> bytes:
        if "Transfer-Encoding" in self.headers:
            self.send_error(411, "Send the body with a Content-Length.")
            raise _ClientGoneError
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "The Content-Length header is not a number.")
            raise _ClientGoneError
        options = self.server.options
        if length > options.max_body_bytes:
            self.send_error(413, f"The body is larger than {options.max_body_bytes} bytes.")
            raise _ClientGoneError
        deadline = time.monotonic() + options.body_timeout_seconds
        chunks: list[bytes] = []
        remaining = length
        try:
            while remaining > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _ClientTimeoutError
                self.connection.settimeout(min(left, options.socket_timeout_seconds))
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    raise _ClientGoneError
                chunks.append(chunk)
                remaining -= len(chunk)
        except TimeoutError:
            raise _ClientTimeoutError from None
        finally:
            self.connection.settimeout(options.socket_timeout_seconds)
        return b"".join(chunks)

    def _proxy(self) -> None:
        started = time.perf_counter()
        source_ip = str(self.client_address[0])
        try:
            body = self._read_body()
        except _ClientTimeoutError:
            self.send_error(408, "The request body did not arrive in time.")
            return
        except _ClientGoneError:
            self.close_connection = True
            return
        request_id = str(uuid.uuid4())
        options = self.server.options
        event = build_event(
            method=self.command,
            target=self.path,
            headers=self.headers.items(),
            body=body,
            source_ip=source_ip,
            request_id=request_id,
            options=options,
            now=time.time(),
            protocol=self.request_version,
        )
        context = LambdaContext(options=options)
        try:
            status, headers, payload = response_from_result(self.server.handler(event, context))
        except Exception:
            # API Gateway's answer when the function fails or returns garbage; the details go to the log.
            logger.exception("the function failed", extra={"request_id": request_id})
            status, headers = 502, [("Content-Type", "application/json")]
            payload = b'{"message": "Internal server error"}'
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("x-amzn-RequestId", request_id)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True
        finally:
            self.server.record_access(
                AccessRecord(
                    method=self.command,
                    path=urlsplit(self.path).path,
                    status=status,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    source_ip=source_ip,
                    request_id=request_id,
                    outcome=_outcome_of(status, payload),
                )
            )

    do_DELETE = do_GET = do_HEAD = do_OPTIONS = do_PATCH = do_POST = do_PUT = _proxy  # noqa: N815 - stdlib dispatch names


class LocalApiServer(ThreadedServer):
    """The local API Gateway in front of ``handler``. Bind with port ``0`` for any free port."""

    thread_name = "local-api"
    request_queue_size = 256

    def __init__(
        self,
        address: tuple[str, int],
        handler: LambdaHandler,
        *,
        options: ApiServerOptions | None = None,
        access_log: Callable[[AccessRecord], None] | None = None,
    ) -> None:
        self.handler = handler
        self.options = options or ApiServerOptions()
        self._access_log = access_log
        super().__init__(address, _ProxyRequestHandler)

    @property
    def url(self) -> str:
        """``http://host:port`` this server answers on."""
        return self.origin

    def record_access(self, record: AccessRecord) -> None:
        """Hand one finished request to the access log (errors there never reach the client)."""
        if self._access_log is None:
            return
        try:
            self._access_log(record)
        except Exception:
            logger.exception("the access log failed")
