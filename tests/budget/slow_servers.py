"""Loopback servers that misbehave below HTTP: a trickled body, a hang mid-body, a connect that never completes, a
server that stops reading, one that never answers."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

JSON_ANSWER = b'{"id": "trickled-0000"}'


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        rest += chunk


def _client_gone(conn: socket.socket) -> bool:
    """Whether the client closed its end (EOF or a reset is waiting to be read)."""
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


@contextmanager
def body_server(*, byte_every: float | None, hung_up: list[float] | None = None) -> Iterator[str]:
    """Answers 200 with its headers at once, then the body one byte every ``byte_every`` s (``None``: never).

    ``hung_up`` gets the ``time.monotonic()`` at which the server saw a client close its connection before
    the body was complete (the client gave up and closed, rather than leaving the connection open).
    """
    stop = threading.Event()

    def note_hang_up() -> None:
        if hung_up is not None:
            hung_up.append(time.monotonic())

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                _read_request(conn)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(JSON_ANSWER)}\r\n\r\n".encode()
                )
                for byte in JSON_ANSWER:
                    waited = 0.0
                    while byte_every is None or waited < byte_every:
                        if stop.wait(0.02):
                            return
                        waited += 0.02
                        if _client_gone(conn):
                            note_hang_up()
                            return
                    conn.sendall(bytes([byte]))
            except OSError:
                note_hang_up()
                return

    def serve_apart(conn: socket.socket) -> None:
        threading.Thread(target=serve, args=(conn,), daemon=True).start()

    try:
        with _accepting(serve_apart) as url:
            yield url
    finally:
        stop.set()  # ends the connections still being served


@contextmanager
def stalled_connect_server() -> Iterator[str]:
    """A listener whose accept queue is full and never drained: a new connect's SYN goes unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # Linux admits backlog + 1 connections; fill them all without ever accepting
            filler = socket.socket()
            filler.setblocking(False)
            with suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@contextmanager
def _accepting(
    on_connection: Callable[[socket.socket], None], *, tick: Callable[[], None] = lambda: None
) -> Iterator[str]:
    """A loopback listener whose accept loop hands each connection to ``on_connection`` (in the loop's own thread)
    and calls ``tick`` between accepts; yields its URL, and stops and closes it on the way out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            with suppress(TimeoutError):
                conn, _ = listener.accept()
                on_connection(conn)
            tick()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


@contextmanager
def unread_server(*, hold_seconds: float = 5.0) -> Iterator[str]:
    """Accepts connections and never reads from them: once the socket buffers are full, a client's write blocks.

    Each connection is closed after ``hold_seconds`` (a client whose write never times out then fails with a
    reset instead of hanging the test).
    """
    held: list[tuple[float, socket.socket]] = []

    def hold(conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up sooner
        held.append((time.monotonic() + hold_seconds, conn))

    def close_expired() -> None:
        for entry in [entry for entry in held if entry[0] <= time.monotonic()]:
            held.remove(entry)
            entry[1].close()

    try:
        with _accepting(hold, tick=close_expired) as url:
            yield url
    finally:
        for _, conn in held:
            conn.close()


@contextmanager
def silent_server(on_request: Callable[[], None] = lambda: None, *, close: bool = False) -> Iterator[str]:
    """Reads each request, calls ``on_request``, then never answers (or, with ``close``, hangs up without one)."""
    held: list[socket.socket] = []

    def take(conn: socket.socket) -> None:
        conn.recv(65536)
        on_request()
        if close:
            conn.close()
        else:
            held.append(conn)

    try:
        with _accepting(take) as url:
            yield url
    finally:
        for conn in held:
            conn.close()
