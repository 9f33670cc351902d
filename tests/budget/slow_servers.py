"""Loopback servers that misbehave below HTTP: a trickled body, a hang mid-body, a connect that never completes."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
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
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    port = listener.getsockname()[1]

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

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


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
def unread_server(*, hold_seconds: float = 5.0) -> Iterator[str]:
    """Accepts connections and never reads from them: once the socket buffers are full, a client's write blocks.

    Each connection is closed after ``hold_seconds`` (a client whose write never times out then fails with a
    reset instead of hanging the test).
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        held: list[tuple[float, socket.socket]] = []
        while not stop.is_set():
            with suppress(TimeoutError):
                conn, _ = listener.accept()
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up sooner
                held.append((time.monotonic() + hold_seconds, conn))
            for entry in [entry for entry in held if entry[0] <= time.monotonic()]:
                held.remove(entry)
                entry[1].close()
        for _, conn in held:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()
