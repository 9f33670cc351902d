"""One Lambda execution environment's service: built from the environment on first use, then reused.

``handler.py`` holds one :class:`ExecutionEnvironment` and delegates to it; nothing is built at import, so a
cold start pays for the object graph on its first invocation (or before the SnapStart snapshot).
Whoever embeds the handler elsewhere (the local stack, the test suite) installs components it built
itself with :meth:`ExecutionEnvironment.use_components`, instead of the handler growing seams of its own.

Example::

    environment = ExecutionEnvironment()
    response = environment.components().api.handle(event, context)
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from contact_sdk.api import ContactApi
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.settings import Settings

__all__ = ["ExecutionEnvironment"]


def _build_from_environment() -> Components:
    # Imported above, built here: the import happens in the init phase (or before a SnapStart snapshot),
    # the build on the first invocation.
    return build_components(Settings.from_env())


class ExecutionEnvironment:
    """The components of one execution environment: built once by ``build`` (thread-safe), or installed."""

    def __init__(self, build: Callable[[], Components] = _build_from_environment) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._components: Components | None = None
        self._built_here = False  # whether ``_components`` came from ``build`` (then closing them is ours)

    def components(self) -> Components:
        """The components, built on first use. Raises ``ConfigurationError`` when the environment is malformed."""
        components = self._components
        if components is None:
            with self._lock:
                if self._components is None:
                    self._components = self._build()
                    self._built_here = True
                components = self._components
        return components

    def built(self) -> Components | None:
        """The components if they exist already (``None`` before the first build): for the SnapStart hooks."""
        return self._components

    def api(self) -> ContactApi:
        """The API adapter of the components (built on first use)."""
        return self.components().api

    def use_components(self, components: Components | None) -> None:
        """Install components built elsewhere (the local stack, tests), or ``None`` to build from the environment.

        Components this environment built itself are closed as they are replaced (their connections would
        otherwise stay open until the garbage collector found them); installed ones stay their owner's to close.
        """
        with self._lock:
            replaced = self._components if self._built_here else None
            self._components, self._built_here = components, False
        if replaced is not None and replaced is not components:
            replaced.close()
