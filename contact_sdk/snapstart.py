"""Lambda SnapStart readiness: what to do before the runtime snapshots an initialised environment, and after it
restores a copy of that snapshot.

SnapStart runs the function's init once, snapshots the memory, and resumes *many* copies from that one
snapshot, possibly days later. What the hooks take care of:

* **pseudo-random state**: every copy would resume with the same ``random`` state, so botocore's retry jitter
  (and anything else drawing from :mod:`random`) would be identical across copies. The hooks re-seed it from
  the OS. CSRF nonces never come from there: they are ``secrets.token_bytes`` (the OS CSPRNG, read on every
  call, nothing seeded at import), and request ids come from ``uuid.uuid4`` (also ``os.urandom``);
* **connections**: a pooled keep-alive socket to Resend or AWS was opened by a process that no longer exists.
  The hooks drop the Resend pool and the AWS clients' pools; the next call opens fresh ones;
* **what a plain cold start defers**: ``import handler`` leaves the submission model and email-validator to
  the first request; before the snapshot both are loaded, so a restored copy's first request does not pay
  them (the snapshot is taken once, the restore happens on every cold start);
* **the config cache's age**: its clock is monotonic, and time spent in the snapshot may not count, so a
  secret cached before the snapshot could be served past its TTL. The hooks note the wall-clock time at
  snapshot and, after restore, mark for refresh every entry whose age plus the time spent in the snapshot
  reaches the TTL (entries stay as stale fallbacks, as after any failed refresh).

The hooks are registered with the runtime's ``snapshot_restore_py`` when that package is importable (it is in
the Lambda Python runtime); elsewhere :func:`register` does nothing and says so, so the same code runs in
tests and on a laptop. Tests call :meth:`SnapStartHooks.before_snapshot` and
:meth:`SnapStartHooks.after_restore` directly.

Example::

    hooks = SnapStartHooks(environment.built, prime=environment.components)
    register(hooks)      # True in the Lambda runtime, False where snapshot_restore_py is absent
"""

from __future__ import annotations

import importlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contact_sdk.bootstrap import Components

__all__ = ["RestoreReport", "SnapStartHooks", "register"]

logger = logging.getLogger(__name__)

RUNTIME_HOOKS_MODULE = "snapshot_restore_py"


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What :meth:`SnapStartHooks.after_restore` did, for the log line and for tests."""

    reseeded: bool
    connections_dropped: int
    seconds_in_snapshot: float | None
    parameters_expired: tuple[str, ...]


def _reseed() -> None:
    # random.seed() with no argument draws from os.urandom: each restored copy gets its own state.
    random.seed()


def _load_what_the_first_request_loads() -> None:
    """Load before the snapshot what ``import handler`` leaves to the first request, so no restored copy pays it.

    ``import handler`` defers the submission model (pydantic builds its validators) and the address rule's
    email-validator (its import compiles Unicode-range regexes) to the first request that needs them, to keep
    a plain cold start short (docs/performance.md). Under SnapStart the init phase is not the visitor's time,
    so both are loaded here and come back loaded in every copy. No I/O.
    """
    from contact_sdk.addresses import normalize_address  # noqa: PLC0415 - the handler has loaded it by now

    importlib.import_module("contact_sdk.models")
    # A plain address is checked without the library; this one is not plain, so the library and IDNA's
    # tables load here, for the first visitor whose address has another shape.
    normalize_address("snapshot@b\u00fccher.example")


def _drop_connections(components: Components) -> int:
    """Close pooled connections to the provider and AWS; every client reopens on its next call."""
    dropped = 0
    components.client.reconnect()
    dropped += 1
    reset = getattr(components.parameter_source, "reset_client", None)
    if callable(reset):
        reset()
        dropped += 1
    reset = getattr(components.outbox, "reset_client", None)
    if callable(reset):
        reset()
        dropped += 1
    for service in components.aws_services:
        # Its HTTP pool is dropped and its guard forgets past failures; the boto3 client stays usable.
        service.reset()
        dropped += 1
    if components.captcha is not None:  # Turnstile's siteverify connections
        components.captcha.reconnect()
        dropped += 1
    return dropped


def _parameter_names(components: Components) -> tuple[str, ...]:
    config = components.intake.config
    return (config.config_parameter, config.csrf_secret_parameter)


class SnapStartHooks:
    """The before-snapshot and after-restore hooks over one execution environment's components.

    ``components`` returns the components built so far (``None`` before the first build). ``prime``, when
    given, builds them before the snapshot (no network I/O: clients connect on first use), so a restored copy
    starts with the object graph and boto3 already loaded. ``wall_clock`` and ``reseed`` are injectable.
    """

    def __init__(
        self,
        components: Callable[[], Components | None],
        *,
        prime: Callable[[], Components] | None = None,
        wall_clock: Callable[[], float] = time.time,
        reseed: Callable[[], None] = _reseed,
    ) -> None:
        self._components = components
        self._prime = prime
        self._wall_clock = wall_clock
        self._reseed = reseed
        self._snapshot_at: float | None = None
        self._lock = threading.Lock()

    def before_snapshot(self) -> None:
        """Build what init can build without I/O, then close every connection so none is frozen in the snapshot."""
        from contact_sdk.errors import ConfigurationError  # noqa: PLC0415 - the handler has loaded it by now

        components = self._components()
        if components is None and self._prime is not None:
            try:
                components = self._prime()
            except ConfigurationError as exc:
                # Misconfigured: the first request reports it the usual way; the snapshot is still taken.
                logger.warning("snapstart: could not build before the snapshot", extra={"error": str(exc)})
        _load_what_the_first_request_loads()
        if components is not None:
            _drop_connections(components)
        with self._lock:
            self._snapshot_at = self._wall_clock()

    def after_restore(self) -> RestoreReport:
        """Re-seed randomness, drop and reopen connections, and expire config the snapshot may have aged."""
        self._reseed()
        with self._lock:
            snapshot_at = self._snapshot_at
        components = self._components()
        if components is None:
            report = RestoreReport(True, 0, None, ())
            logger.info("snapstart: restored before any build", extra={"report": repr(report)})
            return report
        dropped = _drop_connections(components)
        cache = components.cache
        in_snapshot = None if snapshot_at is None else max(0.0, self._wall_clock() - snapshot_at)
        # Without a snapshot time (hook not seen), assume the worst: everything cached is due for refresh.
        threshold = 0.0 if in_snapshot is None else max(0.0, cache.ttl_seconds - in_snapshot)
        expired = tuple(
            name for name in _parameter_names(components) if (age := cache.age(name)) is not None and age >= threshold
        )
        cache.expire_older_than(threshold)
        report = RestoreReport(True, dropped, in_snapshot, expired)
        logger.info("snapstart: restored", extra={"report": repr(report)})
        return report


def register(hooks: SnapStartHooks, *, runtime: Any = None) -> bool:
    """Register ``hooks`` with the Lambda runtime's ``snapshot_restore_py``; ``False`` when it is absent.

    ``runtime`` stands in for that module in tests (anything with ``register_before_snapshot`` and
    ``register_after_restore``).
    """
    if runtime is None:
        try:
            runtime = importlib.import_module(RUNTIME_HOOKS_MODULE)
        except ImportError:
            return False
    runtime.register_before_snapshot(hooks.before_snapshot)
    runtime.register_after_restore(hooks.after_restore)
    return True
