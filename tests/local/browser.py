"""A headless Chromium driven over the DevTools protocol on a pipe: enough to use a page like a person.

No driver package and no WebSocket: Chromium's ``--remote-debugging-pipe`` reads commands on fd 3
and writes answers on fd 4, one JSON document per NUL-terminated message. Typing goes through
``Input.insertText`` and clicks through ``Input.dispatchMouseEvent``, the same events a person's
keyboard and mouse produce.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from types import TracebackType
from typing import Any

__all__ = ["CHROMIUM", "Browser", "BrowserError"]

# Debian's /usr/bin/chromium is a shell wrapper that loses the debugging pipe; start the binary itself.
_DEBIAN_BINARY = "/usr/lib/chromium/chromium"
CHROMIUM = (
    _DEBIAN_BINARY
    if os.access(_DEBIAN_BINARY, os.X_OK)
    else shutil.which("chromium") or shutil.which("chromium-browser")
)

# The flags this workplace's machines need: no sandbox as root, and no background calls home.
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1000,1400",
    "--remote-debugging-pipe",
)


class BrowserError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


class Browser:
    """One headless Chromium with one page; ``with Browser() as page: page.goto(url)``."""

    def __init__(self, *, timeout: float = 20.0) -> None:
        if CHROMIUM is None:
            raise BrowserError("chromium is not installed")
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="contact-sdk-chromium-")
        pipe_in, self._to_browser = os.pipe()
        self._from_browser, pipe_out = os.pipe()
        # Move the child's ends above 9, so putting them on 3 and 4 can never clobber one another.
        to_browser_read = fcntl.fcntl(pipe_in, fcntl.F_DUPFD, 10)
        from_browser_write = fcntl.fcntl(pipe_out, fcntl.F_DUPFD, 10)
        os.close(pipe_in)
        os.close(pipe_out)
        flags = " ".join(_FLAGS)
        # bash puts our pipe ends on the descriptors Chromium expects: 3 (commands) and 4 (answers).
        # (dash takes one-digit descriptors only.)
        command = (
            f'exec "$0" {flags} --user-data-dir="$1" about:blank '
            f"3<&{to_browser_read} 4>&{from_browser_write} {to_browser_read}<&- {from_browser_write}>&-"
        )
        self._process = subprocess.Popen(
            ["/bin/bash", "-c", command, CHROMIUM, self._profile.name],
            pass_fds=(to_browser_read, from_browser_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None

    def __enter__(self) -> Browser:
        """Open one page and attach to it."""
        target = self.command("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self._session = self.command("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)[
            "sessionId"
        ]
        self.command("Page.enable")
        self.command("Runtime.enable")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the browser and its profile."""
        with contextlib.suppress(BrowserError, OSError):
            self.command("Browser.close", session=False)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()

    # -- protocol ----------------------------------------------------------------------------------

    def command(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True) -> dict[str, Any]:
        """Send one command and wait for its answer (events in between are dropped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self._session is not None:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                result = answer.get("result", {})
                return result if isinstance(result, dict) else {}

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise BrowserError("the browser did not answer in time")
            chunk = os.read(self._from_browser, 65536)
            if not chunk:
                raise BrowserError("the browser closed the pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        data = json.loads(raw)
        return data if isinstance(data, dict) else {}

    # -- what a test does --------------------------------------------------------------------------

    def goto(self, url: str) -> None:
        """Navigate and wait until the document is complete."""
        self.command("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.command(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, *, timeout: float | None = None) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression!r}")
            time.sleep(0.05)

    def type_into(self, element_id: str, text: str) -> None:
        """Focus the element and type ``text`` into it as keyboard input."""
        self.evaluate(f"document.getElementById({json.dumps(element_id)}).focus()")
        self.command("Input.insertText", {"text": text})

    def type_text(self, text: str) -> None:
        """Type ``text`` into whatever has the keyboard focus (no script moves the focus first)."""
        self.command("Input.insertText", {"text": text})

    #: ``key`` -> (``code``, Windows virtual key code, text typed) for :meth:`press`.
    _KEYS: dict[str, tuple[str, int, str]] = {  # noqa: RUF012 - a constant table
        "Tab": ("Tab", 9, ""),
        "Enter": ("Enter", 13, "\r"),
        " ": ("Space", 32, " "),
    }

    def press(self, key: str, *, shift: bool = False) -> None:
        """Press and release one key on the keyboard (``"Tab"``, ``"Enter"`` or ``" "``), as a person would."""
        code, virtual, text = self._KEYS[key]
        params: dict[str, Any] = {
            "key": key,
            "code": code,
            "windowsVirtualKeyCode": virtual,
            "modifiers": 8 if shift else 0,
        }
        self.command("Input.dispatchKeyEvent", {"type": "keyDown" if text else "rawKeyDown", **params, "text": text})
        self.command("Input.dispatchKeyEvent", {"type": "keyUp", **params})

    def click(self, element_id: str) -> None:
        """A left click in the middle of the element."""
        self.click_on(f"#{element_id}")

    def click_on(self, selector: str) -> None:
        """A left click in the middle of the first element matching the CSS ``selector``."""
        box = self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.command("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def add_script_on_load(self, source: str) -> None:
        """Run ``source`` in every document this page loads from now on, before the page's own scripts.

        DevTools puts it there, so the page's Content-Security-Policy does not apply to it (nor to
        :meth:`evaluate`): a test can watch a page under a strict CSP without weakening it.
        """
        self.command("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    def prefer_color_scheme(self, scheme: str) -> None:
        """Emulate ``prefers-color-scheme: light`` or ``dark`` for the page's CSS."""
        self.command("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def accessibility_node(self, selector: str) -> dict[str, Any]:
        """The accessibility tree's node for the first element matching ``selector`` (``ignored`` when not in it)."""
        root = self.command("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = self.command("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        if not node:
            raise BrowserError(f"no element matches {selector!r}")
        nodes = self.command("Accessibility.getPartialAXTree", {"nodeId": node, "fetchRelatives": False})["nodes"]
        return dict(nodes[0])

    def axe_violations(self, axe_source: str) -> list[dict[str, Any]]:
        """Run axe-core (its source given) on the page as it is now: each violation's rule, impact and targets."""
        if not self.evaluate("typeof window.axe === 'object'"):
            self.evaluate(axe_source + "\n;0")
        found = self.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({"
            "id: v.id, impact: v.impact, help: v.help,"
            " targets: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)})))"
        )
        assert isinstance(found, list)
        return found

    def screenshot(self, path: str) -> None:
        """Save a PNG of the page."""
        import base64

        data = self.command("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))
