"""The floor: the work of one contact submission done by the bare libraries, with none of our code.

Parse the JSON body, validate it with pydantic, one HMAC, one ``httpx`` POST to the provider, print one EMF
line. The warm-path benchmarks are reported as a ratio to this, measured in the same run against the same
server, so the figure is our overhead rather than an absolute time that drifts with the machine.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import IO, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

#: What the import floor imports: the libraries the handler cannot do without.
IMPORT_FLOOR = "import boto3, httpx, pydantic, tenacity, pybreaker; from aws_lambda_powertools import Logger"


class FloorSubmission(BaseModel):
    """The form's fields with the contract's bounds, and nothing more."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    subject: str | None = Field(default=None, max_length=200)
    message: str = Field(min_length=10, max_length=5000)
    consent: bool
    website: str = ""
    formStartedAt: int | None = None  # noqa: N815 - the wire name


def floor_pipeline(
    event: dict[str, Any], *, http: httpx.Client, secret: bytes, api_key: str, out: IO[str]
) -> dict[str, Any]:
    """Serve one submission event the minimum way: the same work, no guards, no retries, no logging."""
    submission = FloorSubmission.model_validate(json.loads(event["body"]))
    token = event["headers"].get("X-CSRF-Token", "")
    mac = hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()
    response = http.post(
        "/emails",
        json={
            "from": "Contact form <no-reply@example.com>",
            "to": ["owner@example.com"],
            "subject": f"Contact: {submission.subject or submission.name}",
            "text": submission.message,
            "reply_to": [submission.email],
        },
        headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": mac[:64]},
    )
    response.raise_for_status()
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": "Portfolio/EmailService",
                    "Dimensions": [["Environment"]],
                    "Metrics": [{"Name": "EmailsSent", "Unit": "Count"}],
                }
            ],
        },
        "Environment": "bench",
        "EmailsSent": 1,
    }
    out.write(json.dumps(document, separators=(",", ":")) + "\n")
    return {"statusCode": 200, "body": json.dumps({"status": "sent", "id": response.json()["id"]})}
