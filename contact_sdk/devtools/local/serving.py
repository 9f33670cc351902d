"""The local stack's HTTP servers, served from a daemon thread and stopped at once.

``ThreadedServer`` is ``ThreadingHTTPServer`` plus what the page server, the local API and the
siteverify stand-in each need: serve from a named daemon thread, and stop promptly (socketserver's
default poll is 0.5 s, so each stop waited up to that long), then release the socket.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

__all__ = ["POLL_SECONDS", "ThreadedServer"]

#: How often a serving thread looks for a stop request: a stop is answered within this.
POLL_SECONDS = 0.05


class ThreadedServer(ThreadingHTTPServer):
    """A threading HTTP server with :meth:`serve_in_thread` and :meth:`close`."""

    daemon_threads = True
    #: The serving thread's name; the port is appended.
    thread_name = "local-server"
    _thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        """``http://host:port`` this server answers on."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_in_thread(self) -> threading.Thread:
        """Serve from a daemon thread; returns it."""
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name=f"{self.thread_name}-{self.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._thread = thread
        return thread

    def close(self) -> None:
        """Stop serving (if serving) and release the socket."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
