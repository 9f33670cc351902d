"""Operator tools: the ``contact-sdk`` command line and what only it uses.

One package per concept, each with a ``command`` module (``register(subparsers)``, the argparse side)
beside the logic it drives: ``config`` (the SecureString parameters), ``outbox`` (stats, peek, redrive),
``dns`` (SPF/DKIM/DMARC), ``cloudwatch`` (dashboard and alarm authoring), ``status`` (delivery status),
``submissions`` (the submission archive: list, show, export, release, erase).

Layering: this package imports the runtime (``contact_sdk`` outside ``ops`` and ``devtools``); the
runtime never imports it, and it is left out of the Lambda artifact (docs/architecture.md).
"""
