"""The whole service on loopback: AWS emulator, Resend sandbox, contact API and demo page.

Run it with ``make run`` or ``python -m contact_sdk.devtools.local`` (see ``docs/local-stack.md``).

Example::

    from contact_sdk.devtools.local import LocalStack, StackOptions, StackPorts

    with LocalStack(StackOptions(ports=StackPorts.any())) as stack:
        stack.api_url, stack.page_url, stack.sandbox_url
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contact_sdk.devtools.local.api_server import ApiServerOptions, LambdaContext, LocalApiServer, build_event
    from contact_sdk.devtools.local.stack import LocalStack, PortInUseError, StackOptions, StackPorts, StackStartError

__all__ = [
    "ApiServerOptions",
    "LambdaContext",
    "LocalApiServer",
    "LocalStack",
    "PortInUseError",
    "StackOptions",
    "StackPorts",
    "StackStartError",
    "build_event",
]

_HOMES = {
    "ApiServerOptions": "api_server",
    "LambdaContext": "api_server",
    "LocalApiServer": "api_server",
    "build_event": "api_server",
    "LocalStack": "stack",
    "PortInUseError": "stack",
    "StackOptions": "stack",
    "StackPorts": "stack",
    "StackStartError": "stack",
}


def __getattr__(name: str) -> Any:
    # Lazy, so ``python -m contact_sdk.devtools.local.child`` does not import the stack (and boto3) it does not need.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'contact_sdk.devtools.local' has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(f"contact_sdk.devtools.local.{home}"), name)
