"""One Lambda execution environment's service: built from the environment on first use, then reused.

``handler.py`` holds one :class:`ExecutionEnvironment` and delegates to it; nothing is built at import, so a
cold start pays for the object graph on its first invocation (or before the SnapStart snapshot).
Whoever embeds the handler elsewhere (the local stack, the test suite) installs components it built
itself with :meth:`ExecutionEnvironment.use_components`, instead of the handler growing seams of its own.

**Start-up and the garbage collector.** The start-up work (``import handler``, then the build: boto3, its service
models, the clients, the components) creates some 85,000 objects that live as long as the execution
environment. Each run of the cyclic garbage collector meanwhile walks the objects of its generations, and the
build alone triggered a hundred of them, about 30 ms of a cold start's ~400 ms: work that can find nothing, since
none of those objects becomes garbage. :func:`long_lived` runs the build with the collector paused, then freezes
what exists (``gc.freeze``: the permanent generation, which no later collection walks) and resumes it;
``handler.py`` does the same around its imports. The cyclic garbage start-up leaves behind (a few hundred
objects, measured) is frozen with the rest instead of being collected: a one-off, bounded cost.

Example::

    environment = ExecutionEnvironment()
    response = environment.components().api.handle(event, context)
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from contact_sdk.api import ContactApi
from contact_sdk.bootstrap import Components, build_components
from contact_sdk.settings import Settings

__all__ = ["ExecutionEnvironment", "long_lived"]


@contextmanager
def long_lived() -> Iterator[None]:
    """Run the block with the cyclic garbage collector paused, then freeze every object and resume it.

    For work whose objects live as long as the process (see the module docstring). Nested, the outer block
    resumes the collector; a block that raises resumes it too.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


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
                    with long_lived():
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
