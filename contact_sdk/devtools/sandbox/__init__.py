"""A local Resend API: for tests, the local stack, and staging load runs that must not send mail.

It speaks what the official SDKs call on emails, batch, domains, API keys, receiving and attachments
as Resend documents it (validation, auth and restricted keys, idempotency keys, rate-limit headers,
error bodies), shows what it received at ``GET /`` and ``/_sandbox/*``, injects faults on demand,
and can send signed delivery webhooks. Standard library only. See ``docs/sandbox.md``.

Example::

    from contact_sdk.devtools.sandbox import ResendSandbox

    with ResendSandbox(api_key="re_test_key") as sandbox:
        sandbox.url          # "http://127.0.0.1:54321"
        sandbox.script(["503", "200"])
"""

from __future__ import annotations

from contact_sdk.devtools.sandbox.errors import ApiError
from contact_sdk.devtools.sandbox.faults import Faults, FaultSpecError, Step, parse_faults, parse_step
from contact_sdk.devtools.sandbox.server import DEFAULT_API_KEY, ResendSandbox, is_loopback
from contact_sdk.devtools.sandbox.webhook_sender import sign

__all__ = [
    "DEFAULT_API_KEY",
    "ApiError",
    "FaultSpecError",
    "Faults",
    "ResendSandbox",
    "Step",
    "is_loopback",
    "parse_faults",
    "parse_step",
    "sign",
]
