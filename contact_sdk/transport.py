"""HTTP that keeps the request's deadline: every socket operation ends by it, and a cut connection is closed.

httpx's timeouts are per phase and per read: a body trickled a byte at a time, or a slow connect
followed by a slow answer, adds up past any one of them. botocore's timeouts are fixed per client.
Neither can say "this call must be over by 12:00:04.000". So the runtime's HTTP clients (the Resend
client, the Turnstile verifier, and through :mod:`contact_sdk.aws` every AWS call) run on a
:class:`DeadlineTransport`: an ``httpx.HTTPTransport`` whose network backend cuts the timeout of
each connect, TLS handshake, write and read (and the pause between connect retries, for a transport
built with ``retries=``) to what is left of the deadline in force (:func:`contact_sdk.deadline.within`).
When it runs out, the blocked socket operation times out in the caller's own thread, httpcore closes that
connection (it never goes back to the pool), and the caller sees ``httpx.TimeoutException``. Nothing is
left running: no thread, no half-read connection that a later request (or, in Lambda, the next thaw)
would pick up.

Why not a thread per call, abandoned at the deadline (the Resend client did that before): the
abandoned thread kept its connection and could still send after the handler had returned; Lambda
froze it mid-flight and it sent on the next thaw, inside another invocation.

Why the network backend and not the transport's API: httpx builds its connection pool itself and
takes no backend, so :class:`DeadlineTransport` hands its pool a wrapping backend after building it
(``_pool._network_backend``, the one httpcore attribute every pool and proxy class keeps). The
constructor checks the attribute is there and refuses to build otherwise, and
``tests/test_transport.py`` proves the cut against a server that trickles, stalls and hangs, so an
httpx/httpcore upgrade that moved it fails loudly instead of silently unbounding every call.
DNS resolution (``getaddrinfo``) is the one step no socket timeout reaches; Lambda's resolver
answers in milliseconds.

Why the wrappers do not subclass httpcore's ``NetworkStream``/``NetworkBackend``: importing httpcore costs
about 15 ms, and ``import httpx`` does not import it (``httpx.HTTPTransport`` does, when the first client is
built). httpcore calls a backend and its streams by their methods only, so the wrappers keep the same
methods and this module imports httpcore where it is used: when a transport is built and on the timeout
path. ``import handler`` stays free of it (``tests/test_import_path.py``).

One TLS context for all: a transport built with the default verification shares
:func:`shared_ssl_context` instead of building its own. Building one reads certifi's CA bundle (about 28 ms
here), and a cold start builds three transports (Resend, DynamoDB, Parameter Store; SQS later): the profile
of a cold first answer showed 85 ms in ``load_verify_locations``. An ``ssl.SSLContext`` is meant to be shared
by client connections; a caller who passes ``verify``, ``cert`` or ``trust_env`` gets its own, as before.

No cookies: each of the runtime's clients is an :class:`ApiClient`, which keeps no cookie from one request to the
next. httpx's ``Client`` stores every ``Set-Cookie`` it is answered with and sends it back on later requests;
the APIs the runtime calls authenticate each request by its key or signature, so a cookie (one a CDN in front
of an API sets, say) would only be carried from one visitor's request to another's, for as long as the
execution environment lives. Reading them is not free either: httpx hands each response to the standard
library's cookie jar through ``urllib`` stand-ins, ~45 us of a warm submission's ~550 us of our own work
(docs/performance.md). Resend's official Python SDK keeps none (``requests.request`` per call, or an
``httpx.AsyncClient`` per call); httpx's maintainers suggest a jar that keeps nothing (encode/httpx#2992),
which still builds the stand-ins, so :class:`ApiClient` skips the extraction itself.

Example::

    http = ApiClient(transport=DeadlineTransport())
    with within(Deadline.after(1.5)):
        http.get("https://api.resend.com/domains")   # over by then, whatever the server does
"""

from __future__ import annotations

import functools
import ssl
import typing
from typing import TYPE_CHECKING, Any, Literal

import httpx

from contact_sdk.deadline import current

if TYPE_CHECKING:
    import httpcore

__all__ = ["ApiClient", "DeadlineBackend", "DeadlineTransport", "cut_timeout", "shared_ssl_context"]


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The verifying TLS context every default :class:`DeadlineTransport` uses, built once per process.

    httpx's own default (certifi's bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set).
    """
    return httpx.create_ssl_context()


@typing.overload
def cut_timeout(timeout: float) -> float: ...
@typing.overload
def cut_timeout(timeout: float | None) -> float | None: ...
def cut_timeout(timeout: float | None) -> float | None:
    """``timeout`` cut to what is left of the deadline in force (``None``: no limit, as httpcore means it)."""
    deadline = current()
    if deadline is None or not deadline.bounded:
        return timeout
    left = deadline.remaining()
    return left if timeout is None else min(timeout, left)


_Step = Literal["connect", "TLS handshake", "read", "write"]


def _check_time(timeout: float | None, what: _Step) -> float | None:
    cut = cut_timeout(timeout)
    if cut is not None and cut <= 0:
        import httpcore  # noqa: PLC0415 - loaded by then (httpx.HTTPTransport imports it); see the docstring

        error = {"read": httpcore.ReadTimeout, "write": httpcore.WriteTimeout}.get(what, httpcore.ConnectTimeout)
        raise error(f"the request's deadline passed before the {what}")
    return cut


class _DeadlineStream:
    """A connection whose every read, write and TLS handshake ends by the deadline in force.

    Has the methods of ``httpcore.NetworkStream`` (see the module docstring for why it is not a subclass).
    """

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _check_time(timeout, "read"))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _check_time(timeout, "write"))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> _DeadlineStream:
        try:
            cut = _check_time(timeout, "TLS handshake")
        except BaseException:
            self._stream.close()  # as httpcore's own streams do when a handshake fails: nothing else would
            raise
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, cut))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend:
    """Wraps a network backend so that connections and their operations keep the deadline in force.

    Has the methods of ``httpcore.NetworkBackend`` (see the module docstring for why it is not a subclass).
    """

    def __init__(self, backend: httpcore.NetworkBackend | None = None) -> None:
        if backend is None:
            import httpcore  # noqa: PLC0415 - see the module docstring

            backend = httpcore.SyncBackend()
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> _DeadlineStream:
        stream = self._backend.connect_tcp(
            host,
            port,
            _check_time(timeout, "connect"),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[Any] | None = None
    ) -> _DeadlineStream:
        stream = self._backend.connect_unix_socket(path, _check_time(timeout, "connect"), socket_options=socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        # httpcore sleeps only between connect retries (a transport built with ``retries=``): never past the
        # deadline, after which the next connect is refused at once.
        self._backend.sleep(max(cut_timeout(seconds), 0.0))


class DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` (same options: ``limits``, ``verify``, proxies from the environment...) whose
    connections keep the deadline in force. See the module docstring."""

    def __init__(self, **options: Any) -> None:
        if not {"verify", "cert", "trust_env"} & options.keys():
            options["verify"] = shared_ssl_context()
        super().__init__(**options)
        import httpcore  # noqa: PLC0415 - imported by the line above; see the module docstring

        pool = getattr(self, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(backend, httpcore.NetworkBackend):
            raise RuntimeError(
                "this httpx/httpcore keeps its network backend elsewhere: calls could not be bounded by a deadline"
            )
        pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]


class _NoCookies(httpx.Cookies):
    """A client's cookies that no response adds to."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep nothing the response sets (see :class:`ApiClient`)."""


class ApiClient(httpx.Client):
    """``httpx.Client`` (same options, except ``cookies``) that keeps no cookie between requests.

    For APIs that authenticate every request by its own key or signature (Resend, Cloudflare's siteverify, AWS):
    a ``Set-Cookie`` in an answer is neither stored nor sent back. See the module docstring.
    """

    def __init__(self, **options: Any) -> None:
        if "cookies" in options:
            raise TypeError("an ApiClient keeps no cookies")
        super().__init__(**options)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty: nothing a response sets is kept."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("an ApiClient keeps no cookies")
