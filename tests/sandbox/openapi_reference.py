"""Resend's published OpenAPI description, read strictly, as the oracle for the sandbox's answers.

``reference/resend-openapi.yaml`` is Resend's own description (MIT, ``reference/resend-openapi.LICENSE``),
copied unchanged. Its response schemas mark nothing required and allow any extra key, so an answer
missing half its fields would pass them as written. :func:`problems` reads them strictly instead: every
property a response object documents must be present, no undocumented key may appear, and ``nullable``
(an OpenAPI 3.0 word the 3.1 document still uses) admits ``null``.

The exceptions are listed, each with its witness (the description's own sentence, or the official Node
SDK's response type, which follows the API): keys that may be absent (:data:`SOMETIMES_ABSENT`) or
``null`` (:data:`SOMETIMES_NULL`), keys Resend answers beyond the description (:data:`UNDOCUMENTED`), and
the two operations whose documented answer is another operation's schema (:data:`CORRECTIONS`).

Example::

    problems("GET", "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c", 200, body)   # [] when it matches
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

__all__ = [
    "CORRECTIONS",
    "SOMETIMES_ABSENT",
    "SOMETIMES_NULL",
    "UNDOCUMENTED",
    "operation_id",
    "problems",
    "template_for",
]

REFERENCE = Path(__file__).parent / "reference" / "resend-openapi.yaml"

#: Response keys that may be left out: by schema name, the key and the sentence of Resend's own that says so.
SOMETIMES_ABSENT: dict[str, dict[str, str]] = {
    "GetEmailsMetricsResponse": {"data": "description: Omitted when `dimensions` is empty."},
    "EmailMetricsDataRow": dict.fromkeys(
        ("period", "domain_id", "domain_name", "email_id", "broadcast_id", "broadcast_name"),
        "description: One row per unique combination of the requested `dimensions`.",
    ),
    "ListAttachmentsResponse.data": {"content_id": "description: The content ID for inline attachments."},
    "RetrievedAttachment": {"content_id": "description: The content ID for inline attachments."},
    "ListReceivedEmailsResponse.data.attachments": {
        "content_id": "description: The content ID for inline attachments."
    },
    "GetReceivedEmailResponse.attachments": {"content_id": "description: The content ID for inline attachments."},
    "DomainRecord": {"priority": "description: only applicable for MX records"},
    "Domain": {"tracking_subdomain": "Node SDK Domain type: tracking_subdomain?: string"},
    "CreateDomainResponse": {"tracking_subdomain": "Node SDK CreateDomainResponseSuccess: tracking_subdomain?"},
    "Email": {"tags": "Node SDK GetEmailResponseSuccess: tags?: {name, value}[]"},
}
#: Documented keys Resend answers ``null`` when the email has none, with the witness.
SOMETIMES_NULL: dict[str, dict[str, str]] = {
    "Email": {
        key: f"Node SDK GetEmailResponseSuccess: {key}: ... | null" for key in ("bcc", "cc", "reply_to", "text", "html")
    },
}
#: Keys Resend answers that the description leaves out, with their schema and the witness.
UNDOCUMENTED: dict[str, dict[str, tuple[dict[str, Any], str]]] = {
    "Email": {
        "scheduled_at": ({"type": ["string", "null"]}, "Node SDK GetEmailResponseSuccess: scheduled_at"),
        "tags": (
            {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
            "Node SDK GetEmailResponseSuccess: tags?",
        ),
    },
    "CreateBatchEmailsResponse": {
        "errors": (
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"index": {"type": "integer"}, "message": {"type": "string"}},
                },
            },
            "Node SDK CreateBatchSuccessResponse.errors, only present when batchValidation is permissive",
        ),
    },
    "GetReceivedEmailResponse": {
        "raw": (
            {
                "type": ["object", "null"],
                "properties": {"download_url": {"type": "string"}, "expires_at": {"type": "string"}},
            },
            "Node SDK GetReceivingEmailResponseSuccess.raw, which receiving.forward downloads",
        ),
    },
}


_OBJECT_AND_ID = {
    "type": "object",
    "properties": {"object": {"type": "string", "const": "email"}, "id": {"type": "string"}},
}
#: Answers the description gets wrong, by operation id: (the schema to use instead, why).
CORRECTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "emails/update": (
        _OBJECT_AND_ID,
        "documented as UpdateEmailOptions, the request body; the API reference's example and both SDKs'"
        " UpdateEmailResponse types answer {object, id}",
    ),
    "emails/cancel": (
        _OBJECT_AND_ID,
        "documented as a whole Email; the API reference's example and both SDKs'"
        " CancelScheduledEmailResponse types answer {object, id}",
    ),
}


@functools.cache
def _document() -> dict[str, Any]:
    loaded = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def template_for(method: str, path: str) -> str | None:
    """The documented path template ``path`` falls under for ``method`` (literal paths before templated ones)."""
    candidates: list[tuple[int, str]] = []
    for template, operations in _document()["paths"].items():
        if method.lower() not in operations:
            continue
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            candidates.append((template.count("{"), template))
    return min(candidates)[1] if candidates else None


def operation_id(method: str, template: str) -> str:
    """The description's ``operationId`` for one operation."""
    return str(_document()["paths"][template][method.lower()]["operationId"])


def _resolve(schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        return name, _document()["components"]["schemas"][name]
    return None, schema


def _strict(schema: Any, where: str) -> Any:
    """``schema`` with every documented property required and nothing undocumented allowed."""
    if isinstance(schema, list):
        return [_strict(item, where) for item in schema]
    if not isinstance(schema, dict):
        return schema
    name, target = _resolve(schema)
    if name is not None:
        where = name
    out = {key: value for key, value in copy.deepcopy(target).items() if key not in ("example", "description")}
    if out.pop("nullable", False) is True and "type" in out:
        kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*kinds, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    properties = out.get("properties")
    if isinstance(properties, dict):
        out["properties"] = {key: _strict(value, f"{where}.{key}") for key, value in properties.items()}
        for key in SOMETIMES_NULL.get(where, {}):
            out["properties"][key] = {"anyOf": [out["properties"][key], {"type": "null"}]}
        absent = SOMETIMES_ABSENT.get(where, {})
        out["required"] = [key for key in properties if key not in absent]
        for key, (extra, _witness) in UNDOCUMENTED.get(where, {}).items():
            out["properties"][key] = _strict(extra, f"{where}.{key}")
        out.setdefault("additionalProperties", False)
    elif isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _strict(out["additionalProperties"], where)
    if "items" in out:
        out["items"] = _strict(out["items"], where)
    for combinator in ("oneOf", "anyOf", "allOf"):
        if combinator in out:
            out[combinator] = _strict(out[combinator], where)
    return out


def response_schema(method: str, template: str, status: int) -> dict[str, Any]:
    """The strict schema of one documented answer."""
    corrected = CORRECTIONS.get(operation_id(method, template))
    if corrected is not None:
        return _strict(corrected[0], template)
    responses = _document()["paths"][template][method.lower()]["responses"]
    response = responses.get(str(status))
    if response is None:
        raise KeyError(f"{method} {template} documents no {status} answer (it documents {sorted(responses)})")
    schema = response["content"]["application/json"]["schema"]
    return _strict(schema, template)


def problems(method: str, path: str, status: int, body: object) -> list[str]:
    """How ``body`` (the answer to ``method path``) departs from the description; empty when it does not."""
    template = template_for(method, path)
    if template is None:
        return [f"{method} {path} is not in Resend's description"]
    validator = Draft202012Validator(response_schema(method, template, status))
    return [
        f"{operation_id(method, template)} {'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}"
        for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]
