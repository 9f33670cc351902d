"""``contact-sdk config``: write, read and rotate the service's SecureString parameters.

Usage::

    contact-sdk config put --kms-key-id alias/prod-portfolio-parameters --file resend.json
    contact-sdk config show
    printf '%s' "$NEW_KEY" | contact-sdk config rotate --api-key-stdin
    contact-sdk config put-csrf-secret --kms-key-id alias/prod-portfolio-parameters
    contact-sdk config put-webhook-secret --kms-key-id alias/prod-portfolio-parameters < whsec.txt

Parameter names default to the service's own environment variables (``CONTACT_CONFIG_PARAMETER``,
``CONTACT_CSRF_SECRET_PARAMETER``, ``CONTACT_WEBHOOK_SECRET_PARAMETER``) and then the contract's
defaults. Secrets are read from a file or standard input, never from the command line (where they
would land in shell history and ``ps``), and every value printed is masked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from contact_sdk.config import parse_csrf_secret
from contact_sdk.errors import ConfigurationError
from contact_sdk.ops.config import parameters
from contact_sdk.ops.files import FileArgumentError, read_input, readable_input
from contact_sdk.settings import ENVIRONMENT_VARIABLES

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

__all__ = ["register"]

_WEBHOOK_SECRET_VARIABLE = "CONTACT_WEBHOOK_SECRET_PARAMETER"  # noqa: S105 - a variable name, not a secret
_WEBHOOK_SECRET_DEFAULT = "/portfolio/prod/resend/webhook-secret"  # noqa: S105 - a parameter name, not a secret


def _default_name(field: str, variable: str = "", default: str = "") -> str:
    """A parameter name: the service's environment variable if set, else its default (``Settings``' table)."""
    spec = ENVIRONMENT_VARIABLES.get(field)
    if spec is not None and spec.default is not None:
        variable, default = spec.name, spec.default
    return os.environ.get(variable, "").strip() or default


def _ssm(args: argparse.Namespace) -> SSMClient:
    import boto3  # noqa: PLC0415 - only the command that runs pays for boto3

    return boto3.client("ssm", region_name=args.region)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")


def _put(args: argparse.Namespace) -> int:
    document = parameters.parse_resend_config(read_input(args.file))
    version = parameters.put_resend_config(
        _ssm(args), args.parameter, document, kms_key_id=args.kms_key_id, overwrite=args.overwrite
    )
    sys.stdout.write(f"wrote {args.parameter} (SecureString, version {version}, key {args.kms_key_id})\n")
    _print_json(parameters.mask_document(document.to_json_object()))
    return 0


def _show(args: argparse.Namespace) -> int:
    stored = parameters.read_parameter(_ssm(args), args.parameter)
    modified = stored.last_modified.astimezone(UTC).isoformat() if stored.last_modified else "unknown"
    sys.stdout.write(
        f"{stored.name}: {stored.type}, version {stored.version}, key {stored.key_id or 'none'}, modified {modified}\n"
    )
    if stored.type != "SecureString":
        sys.stderr.write(f"warning: {stored.name} is a {stored.type}, not a SecureString: re-create it encrypted\n")
    try:
        value = json.loads(stored.value)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        sys.stdout.write(f"value: {parameters.mask_secret(stored.value)} ({len(stored.value)} characters)\n")
        return 0
    _print_json(parameters.mask_document(value))  # every value masked but the Resend config's public fields
    try:
        if "apiKey" in value:
            parameters.parse_resend_config(value)
        elif "current" in value:
            parse_csrf_secret(stored.name, stored.value.strip())  # --keep-previous's {"current", "previous"}
        else:
            sys.stderr.write(f"warning: {stored.name} holds a JSON object contact-sdk does not know (masked above)\n")
    except ConfigurationError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


def _rotate(args: argparse.Namespace) -> int:
    if args.api_key_env:
        new_key = os.environ.get(args.api_key_env, "")
        if not new_key:
            raise ConfigurationError(f"environment variable {args.api_key_env} is empty or unset")
    else:
        new_key = sys.stdin.readline()
    document = parameters.rotate_resend_config(
        _ssm(args),
        args.parameter,
        new_api_key=new_key.strip(),
        kms_key_id=args.kms_key_id,
        clock=lambda: datetime.now(UTC),
    )
    sys.stdout.write(f"rotated {args.parameter} to config version {document.version}\n")
    _print_json(parameters.mask_document(document.to_json_object()))
    return 0


def _put_csrf_secret(args: argparse.Namespace) -> int:
    secret = parameters.generate_secret(args.bytes)
    ssm = _ssm(args)
    value = secret
    if args.keep_previous:
        current, _ = parse_csrf_secret(args.parameter, parameters.read_parameter(ssm, args.parameter).value.strip())
        value = json.dumps({"current": secret, "previous": current.decode("utf-8")})
    version = parameters.put_secret(
        ssm,
        args.parameter,
        value,
        kms_key_id=args.kms_key_id,
        overwrite=args.overwrite or args.keep_previous,
        description="CSRF token signing secret for the contact form",
    )
    after = (
        "Tokens signed with the previous secret keep verifying until the next rotation.\n"
        if args.keep_previous
        else "Tokens signed with the previous secret stop verifying once the functions refresh their config "
        "(use --keep-previous for a graceful rotation).\n"
    )
    sys.stdout.write(
        f"wrote {args.parameter} (SecureString, version {version}): {parameters.mask_secret(secret)}\n{after}"
    )
    return 0


def _put_webhook_secret(args: argparse.Namespace) -> int:
    secret = parameters.validate_webhook_secret(read_input(args.file))
    version = parameters.put_secret(
        _ssm(args),
        args.parameter,
        secret,
        kms_key_id=args.kms_key_id,
        overwrite=args.overwrite,
        description="Resend webhook signing secret (Svix) for delivery events",
    )
    sys.stdout.write(f"wrote {args.parameter} (SecureString, version {version}): {parameters.mask_secret(secret)}\n")
    return 0


def _secret_bytes(text: str) -> int:
    """``--bytes``: a whole number of random bytes, at least :data:`parameters.MIN_SECRET_BYTES` (exit 2 otherwise)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < parameters.MIN_SECRET_BYTES:
        raise argparse.ArgumentTypeError(f"a signing secret needs at least {parameters.MIN_SECRET_BYTES} random bytes")
    return count


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``command``, turning the expected failures into one line on stderr: exit status 1, or 2 for a file
    argument that cannot be used (checked before anything is asked of AWS)."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError  # noqa: PLC0415 - see _ssm

        try:
            if getattr(args, "file", None) is not None:
                readable_input(args.file)
            return int(command(args))
        except FileArgumentError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return exc.exit_status
        except (ConfigurationError, BotoCoreError, OSError, ValueError) as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1

    return run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``config`` command group to the CLI."""
    group = subparsers.add_parser("config", help="write, read and rotate the SecureString parameters")
    commands = group.add_subparsers(dest="command", metavar="<command>")
    commands.required = True

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="AWS region (default: the AWS CLI's configuration)")

    config_name = _default_name("config_parameter")
    csrf_name = _default_name("csrf_secret_parameter")
    webhook_name = _default_name("webhook_secret_parameter", _WEBHOOK_SECRET_VARIABLE, _WEBHOOK_SECRET_DEFAULT)

    def writer(name: str, help_text: str, default_parameter: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        parser.add_argument("--parameter", default=default_parameter, help=f"default: {default_parameter}")
        parser.add_argument("--kms-key-id", required=True, help="KMS key id, key ARN or alias/... (the stack's key)")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing parameter")
        return parser

    put = writer("put", "validate a Resend config JSON document and write it", config_name)
    put.add_argument("--file", default="-", help="the JSON document (default: standard input)")
    put.set_defaults(handler=_guarded(_put))

    show = commands.add_parser("show", parents=[common], help="print a parameter, secrets masked")
    show.add_argument("--parameter", default=config_name, help=f"default: {config_name}")
    show.set_defaults(handler=_guarded(_show))

    rotate = commands.add_parser(
        "rotate", parents=[common], help="replace the Resend API key; bumps version and stamps rotatedAt"
    )
    rotate.add_argument("--parameter", default=config_name, help=f"default: {config_name}")
    rotate.add_argument("--kms-key-id", help="default: the key that encrypts the parameter now")
    source = rotate.add_mutually_exclusive_group(required=True)
    source.add_argument("--api-key-stdin", action="store_true", help="read the new key from standard input")
    source.add_argument("--api-key-env", metavar="VARIABLE", help="read the new key from this environment variable")
    rotate.set_defaults(handler=_guarded(_rotate))

    csrf = writer("put-csrf-secret", "generate a random CSRF signing secret and write it", csrf_name)
    csrf.add_argument(
        "--bytes", type=_secret_bytes, default=48, help="random bytes in the secret (default 48, minimum 32)"
    )
    csrf.add_argument(
        "--keep-previous",
        action="store_true",
        help="rotate gracefully: keep the current secret as 'previous' so open forms' tokens still verify",
    )
    csrf.set_defaults(handler=_guarded(_put_csrf_secret))

    webhook = writer("put-webhook-secret", "write the Resend webhook signing secret (whsec_...)", webhook_name)
    webhook.add_argument("--file", default="-", help="file holding the secret (default: standard input)")
    webhook.set_defaults(handler=_guarded(_put_webhook_secret))
