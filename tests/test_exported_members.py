"""Pins the public face of ``contact_sdk`` (like httpx's ``tests/test_exported_members.py``)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import contact_sdk

EXPECTED = [
    "CircuitOpenError",
    "ConfigUnavailableError",
    "ConfigurationError",
    "ContactSdkError",
    "Metric",
    "MetricsRecorder",
    "OutgoingEmail",
    "PermanentProviderError",
    "ProviderAuthError",
    "ProviderBreaker",
    "ProviderDeferredError",
    "ProviderError",
    "ProviderQuotaError",
    "ResendClient",
    "RetryPolicy",
    "Settings",
    "Timeouts",
    "TransientProviderError",
    "__version__",
]


def test_all_is_pinned_and_sorted() -> None:
    """``contact_sdk.__all__`` is exactly the agreed public names, in sorted order."""
    assert contact_sdk.__all__ == EXPECTED
    assert contact_sdk.__all__ == sorted(contact_sdk.__all__)


def test_every_public_attribute_is_exported() -> None:
    """Every public, non-module attribute of the package is listed in ``__all__`` and every listed name exists."""
    public = {
        name
        for name, value in vars(contact_sdk).items()
        if (not name.startswith("_") or name == "__version__") and not inspect.ismodule(value)
    }
    assert public == set(contact_sdk.__all__)


def test_every_exported_class_has_a_docstring() -> None:
    """Every exported class documents itself."""
    for name in contact_sdk.__all__:
        value = getattr(contact_sdk, name)
        if inspect.isclass(value):
            assert inspect.getdoc(value), name


def test_version_is_a_string() -> None:
    """``__version__`` is the distribution version string used in the User-Agent."""
    assert isinstance(contact_sdk.__version__, str)
    assert contact_sdk.__version__.count(".") >= 2


def test_importing_reads_no_environment_and_opens_no_connection() -> None:
    """Importing the package touches neither ``os.environ`` nor a socket."""
    script = """
import os, socket, sys

class Watched(dict):
    def __getitem__(self, key):
        raise AssertionError(f"read {key} at import")
    def get(self, key, default=None):
        raise AssertionError(f"read {key} at import")

os.environ = Watched(os.environ)

def refuse(*args, **kwargs):
    raise AssertionError("connected at import")

socket.socket.connect = refuse
socket.create_connection = refuse
import contact_sdk
print("ok")
"""
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"
