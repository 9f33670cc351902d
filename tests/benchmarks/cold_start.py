"""Run by the cold-path benchmarks in a fresh interpreter, so that every round is really cold.

Usage: ``python tests/benchmarks/cold_start.py MODE RESULT_PATH`` with the project root on ``PYTHONPATH``:

* ``import-handler``: import ``handler``, then (timed apart) ``boto3``, which the handler defers to its first
  request;
* ``import-floor``: import the floor libraries (boto3, httpx, pydantic, tenacity, pybreaker, Powertools' Logger);
* ``emf-core`` / ``emf-package``: import ``handler``, then time only loading aws-embedded-metrics' serializer
  the way :mod:`contact_sdk.metrics` does (without the package ``__init__``), or the usual way
  (``import aws_embedded_metrics``, which pulls in aiohttp for its EC2 probe);
* ``first-request``: import ``handler`` and serve the API Gateway event read from stdin, configured by the
  environment like a Lambda (config from Parameter Store, the email to ``RESEND_API_URL``);
* ``first-answer``: the cold first answer a visitor gets: import ``handler``, serve ``GET /contact/token``, then
  the ``POST /contact`` read from stdin with the token just issued;
* ``first-batch``: the outbox consumer's cold start: import ``handler`` and hand ``outbox_handler`` the SQS event
  read from stdin (queued emails whose provider is back), configured by the environment like the consumer
  function;
* ``first-answer-floor``: the same work by the floor's libraries alone (:func:`floor_first_answer`): import
  them, read both parameters from Parameter Store, issue an HMAC token, one DynamoDB write (the shared rate
  limit any implementation needs), then the floor pipeline's validation, POST and EMF line.

Writes one JSON object to ``RESULT_PATH``: milliseconds for the import and the request (measured inside the
interpreter, so without its start-up), the response status, and the peak RSS in MB.

Peak RSS: ``resource.getrusage(...).ru_maxrss`` is wrong in a child started by a large parent (pytest with
moto loaded): Linux keeps the high-water mark of the address space an ``exec`` replaces, and ``subprocess``
starts children with ``vfork``, so a child of a 250 MB parent reports 250 MB. ``VmHWM`` in
``/proc/self/status`` is the peak of this interpreter's own address space; ``ru_maxrss`` is the fallback where
``/proc`` is absent, and is reported too.
"""

import sys
import time
from typing import Any

_started = time.perf_counter()


def _peak_rss_kb() -> float:
    """This address space's peak resident set, in kB (``VmHWM``), else ``ru_maxrss``."""
    import resource

    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def token_event(post: dict[str, Any]) -> dict[str, Any]:
    """``GET /contact/token`` from the same visitor (origin, source address) as the ``POST /contact`` event."""
    headers = {k: v for k, v in post["headers"].items() if k not in ("Content-Type", "X-CSRF-Token")}
    context = {**post["requestContext"], "resourcePath": "/contact/token", "httpMethod": "GET"}
    context["path"] = context["path"].removesuffix("/contact") + "/contact/token"
    return {
        **post,
        "resource": "/contact/token",
        "path": "/contact/token",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "body": None,
        "requestContext": context,
    }


def floor_first_answer(event: dict[str, Any]) -> tuple[float, int, str]:
    """The cold first answer the floor's way, configured by the same environment as the handler's child.

    Returns (ms until the token was issued, status, body). Every client and model is built here, after the
    import was timed, as the handler builds its own on the first request.
    """
    import hashlib
    import hmac
    import json
    import os
    import secrets

    import boto3
    import httpx

    from tests.benchmarks.floor import floor_pipeline

    began = time.perf_counter()
    ssm = boto3.client("ssm")
    names = [os.environ["CONTACT_CONFIG_PARAMETER"], os.environ["CONTACT_CSRF_SECRET_PARAMETER"]]
    values = {p["Name"]: p["Value"] for p in ssm.get_parameters(Names=names, WithDecryption=True)["Parameters"]}
    config, secret = json.loads(values[names[0]]), values[names[1]].encode()
    origin = event["headers"]["Origin"]
    payload = f"{origin}.{int(time.time())}.{secrets.token_hex(16)}"
    token = payload + "." + hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    token_ms = (time.perf_counter() - began) * 1000
    boto3.client("dynamodb").update_item(
        TableName=os.environ["CONTACT_TABLE_NAME"],
        Key={"pk": {"S": f"floor#{event['requestContext']['identity']['sourceIp']}"}},
        UpdateExpression="ADD hits :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    event["headers"]["X-CSRF-Token"] = token
    # A generous timeout: the sandbox runs in the test process, which a loaded machine may hold for seconds.
    with (
        httpx.Client(base_url=os.environ["RESEND_API_URL"], timeout=30.0) as http,
        open(os.devnull, "w", encoding="utf-8") as out,
    ):
        response = floor_pipeline(event, http=http, secret=secret, api_key=config["apiKey"], out=out)
    return token_ms, response["statusCode"], response["body"]


def main() -> None:
    """Do what MODE says and write the figures."""
    mode, result_path = sys.argv[1], sys.argv[2]
    start = time.perf_counter()
    if mode in ("import-floor", "first-answer-floor"):
        import boto3
        import httpx  # noqa: F401
        import pybreaker  # noqa: F401
        import pydantic  # noqa: F401
        import tenacity  # noqa: F401
        from aws_lambda_powertools import Logger  # noqa: F401
    else:
        import handler
    imported = time.perf_counter()
    result: dict[str, object] = {"mode": mode, "import_ms": (imported - start) * 1000}
    if mode == "import-handler":
        # The handler defers boto3 to the first request that needs AWS; the floor imports it. Timed apart so
        # the report can also compare like with like (handler + boto3 against the floor).
        before = time.perf_counter()
        import boto3  # noqa: F401

        result["boto3_ms"] = (time.perf_counter() - before) * 1000
    if mode.startswith("emf-"):
        before = time.perf_counter()
        if mode == "emf-package":
            import aws_embedded_metrics  # noqa: F401
        from contact_sdk.metrics import _emf

        _emf()
        result["emf_ms"] = (time.perf_counter() - before) * 1000
    if mode == "first-answer-floor":
        import json

        event = json.loads(sys.stdin.read())
        before = time.perf_counter()
        result["token_ms"], result["status"], result["body"] = floor_first_answer(event)
        result["request_ms"] = (time.perf_counter() - before) * 1000
    if mode == "first-answer":
        import json

        event = json.loads(sys.stdin.read())
        before = time.perf_counter()
        answer = handler.lambda_handler(token_event(event), None)
        result["token_ms"] = (time.perf_counter() - before) * 1000
        event["headers"]["X-CSRF-Token"] = json.loads(answer["body"])["token"]
        event["multiValueHeaders"]["X-CSRF-Token"] = [event["headers"]["X-CSRF-Token"]]
        response = handler.lambda_handler(event, None)
        result["request_ms"] = (time.perf_counter() - before) * 1000
        result["status"] = response["statusCode"]
        result["body"] = response["body"]
    if mode == "first-batch":
        import json

        event = json.loads(sys.stdin.read())
        before = time.perf_counter()
        response = handler.outbox_handler(event, None)
        result["request_ms"] = (time.perf_counter() - before) * 1000
        result["failures"] = len(response["batchItemFailures"])
    if mode == "first-request":
        import json

        event = json.loads(sys.stdin.read())
        before = time.perf_counter()
        response = handler.lambda_handler(event, None)
        result["request_ms"] = (time.perf_counter() - before) * 1000
        result["status"] = response["statusCode"]
        result["body"] = response["body"]
    import json
    import resource

    result["total_ms"] = (time.perf_counter() - _started) * 1000
    result["maxrss_mb"] = _peak_rss_kb() / 1024
    result["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["modules"] = len(sys.modules)
    result["aiohttp_loaded"] = "aiohttp" in sys.modules
    result["xray_loaded"] = "aws_xray_sdk" in sys.modules
    result["dev_tools_loaded"] = sorted(
        name
        for name in sys.modules
        if name.startswith(("contact_sdk.devtools.sandbox", "contact_sdk.devtools.local", "contact_sdk.ops.cli"))
    )
    result["boto3_loaded"] = "boto3" in sys.modules
    result["webhooks_loaded"] = sorted(name for name in sys.modules if name.startswith("contact_sdk.webhooks"))
    with open(result_path, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
