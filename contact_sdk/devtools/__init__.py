"""Development tools: the Resend sandbox and the local stack that runs the whole service on loopback.

Layering: these import the runtime (never the operator tools); the runtime
and the operator tools never import them, and they are left out of the Lambda artifact
(docs/architecture.md).
"""
