"""``python -m contact_sdk.devtools.local``: run the whole service on loopback (what ``make run`` starts).

Usage::

    python -m contact_sdk.devtools.local
    python -m contact_sdk.devtools.local --api-port 9080 --page-port 9000 --sandbox-latency-ms 100-300
    CONTACT_LOCAL_API_PORT=9080 python -m contact_sdk.devtools.local --rate-limit 20
    python -m contact_sdk.devtools.local --allowed-origin http://localhost:3000 --provider-fault slow

Every flag has an environment variable (shown in ``--help``). Exit status: 0 after Ctrl-C or
SIGTERM, 1 when a part failed to start, 2 on a bad argument or a port already in use.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any

from contact_sdk.devtools.brownout import DEPENDENCIES, Mode, parse_target
from contact_sdk.devtools.local.provider_faults import PROVIDER_FAULTS, provider_fault
from contact_sdk.devtools.local.stack import (
    LocalStack,
    PortInUseError,
    StackOptions,
    StackPorts,
    StackStartError,
    environment_summary,
)
from contact_sdk.devtools.loopback import is_loopback
from contact_sdk.errors import ConfigurationError
from contact_sdk.security.origin import OriginPolicy
from contact_sdk.settings import MAX_RESPONSE_BUDGET_MS

__all__ = ["build_parser", "main", "parse_brownout", "parse_latency", "stack_options"]


def parse_latency(raw: str) -> tuple[int, int]:
    """``"150"`` -> ``(150, 150)``; ``"100-300"`` -> ``(100, 300)``."""
    low, _, high = raw.partition("-")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MS or MIN-MAX milliseconds, got {raw!r}") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {raw!r}")
    return bounds


def parse_brownout(raw: str) -> tuple[str, Mode]:
    """``"dynamodb:slow:10"`` -> ``("dynamodb", Mode.slow(10))``; an argument error that lists the spellings."""
    try:
        return parse_target(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above zero, got {raw!r}")
    return value


def _non_negative(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected zero or more, got {raw!r}")
    return value


def _budget_ms(raw: str) -> int:
    value = _positive(raw)
    if value > MAX_RESPONSE_BUDGET_MS:
        raise argparse.ArgumentTypeError(
            f"expected at most {MAX_RESPONSE_BUDGET_MS} (API Gateway's integration timeout), got {raw!r}"
        )
    return value


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0-65535, got {raw!r}")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    """One ``--allowed-origin`` (or ``CONTACT_ALLOWED_ORIGINS``, comma-separated): canonical origins, in order."""
    origins: list[str] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            (canonical,) = OriginPolicy([entry]).allowed_origins
        except ConfigurationError:
            raise argparse.ArgumentTypeError(
                f"{entry!r} is not an origin: expected scheme://host[:port] with no path, e.g. http://localhost:3000 "
                "(from --allowed-origin or CONTACT_ALLOWED_ORIGINS)"
            ) from None
        origins.append(canonical)
    return tuple(origins)


class _AppendOrigins(argparse.Action):
    """``--allowed-origin`` may be repeated; given at all, the flags replace ``CONTACT_ALLOWED_ORIGINS``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        so_far = getattr(namespace, self.dest)
        # The default is the environment's raw string (converted only when no flag is given), or ().
        kept = so_far if isinstance(so_far, tuple) and so_far is not self.default else ()
        setattr(namespace, self.dest, (*kept, *(values or ())))


def _fault(raw: str) -> str:
    try:
        return provider_fault(raw).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (from --provider-fault or CONTACT_LOCAL_PROVIDER_FAULT)") from None


def build_parser(environ: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The command line; defaults come from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    defaults = StackPorts()
    parser = argparse.ArgumentParser(
        prog="python -m contact_sdk.devtools.local",
        description="Run the contact service locally: AWS emulator, Resend sandbox, contact API and demo page.",
    )
    parser.add_argument(
        "--host", default=env.get("CONTACT_LOCAL_HOST", "127.0.0.1"), help="loopback address (CONTACT_LOCAL_HOST)"
    )
    for name, default, what in (
        ("page", defaults.page, "the demo page"),
        ("api", defaults.api, "the contact API"),
        ("sandbox", defaults.sandbox, "the Resend sandbox"),
        ("aws", defaults.aws, "the AWS emulator"),
    ):
        variable = f"CONTACT_LOCAL_{name.upper()}_PORT"
        parser.add_argument(
            f"--{name}-port",
            type=_port,
            default=env.get(variable, str(default)),
            help=f"port of {what} (default {default}; {variable}; 0 = any free port)",
        )
    parser.add_argument(
        "--sandbox-latency-ms",
        type=parse_latency,
        default=env.get("CONTACT_LOCAL_SANDBOX_LATENCY_MS") or None,
        metavar="MIN-MAX",
        help="latency the sandbox adds to each Resend call (CONTACT_LOCAL_SANDBOX_LATENCY_MS)",
    )
    parser.add_argument(
        "--sandbox-rate-limit",
        type=_non_negative,
        default=env.get("CONTACT_LOCAL_SANDBOX_RATE_LIMIT", "0"),
        metavar="N",
        help="Resend requests per second the sandbox allows before 429, 0 for no limit "
        "(CONTACT_LOCAL_SANDBOX_RATE_LIMIT; default 0; Resend's default is 5)",
    )
    parser.add_argument(
        "--rate-limit",
        type=_positive,
        default=env.get("CONTACT_RATE_LIMIT", "5"),
        help="submissions per source IP per window (CONTACT_RATE_LIMIT; production default 5)",
    )
    parser.add_argument(
        "--rate-limit-window-seconds",
        type=_positive,
        default=env.get("CONTACT_RATE_LIMIT_WINDOW_SECONDS", "900"),
        help="the rate-limit window (CONTACT_RATE_LIMIT_WINDOW_SECONDS)",
    )
    parser.add_argument(
        "--token-rate-limit",
        type=_positive,
        default=env.get("CONTACT_TOKEN_RATE_LIMIT", "30"),
        help="token requests per source IP per window (CONTACT_TOKEN_RATE_LIMIT)",
    )
    parser.add_argument(
        "--min-fill-seconds",
        type=_non_negative,
        default=env.get("CONTACT_MIN_FILL_SECONDS", "3"),
        help="a form sent faster than this after its token (or formStartedAt) is spam; 0 = off "
        "(CONTACT_MIN_FILL_SECONDS; production default 3)",
    )
    parser.add_argument(
        "--response-budget-ms",
        type=_budget_ms,
        default=env.get("CONTACT_RESPONSE_BUDGET_MS", "4000"),
        help="how long POST /contact may spend on the provider before it queues the message or answers 503 "
        "(CONTACT_RESPONSE_BUDGET_MS; production default 4000, at most 29000)",
    )
    parser.add_argument(
        "--aws-call-timeout-ms",
        type=_budget_ms,
        default=env.get("CONTACT_AWS_CALL_TIMEOUT_MS", "1500"),
        help="the longest one call to the emulator's DynamoDB, SQS or Parameter Store may take before the service "
        "treats it as degraded (CONTACT_AWS_CALL_TIMEOUT_MS; production default 1500; raise it on a loaded machine)",
    )
    parser.add_argument(
        "--turnstile",
        choices=("pass", "fail", "spent"),
        default=env.get("CONTACT_LOCAL_TURNSTILE") or None,
        help="turn Cloudflare Turnstile on with one of its test secrets (always passes, always fails, token "
        "already spent), verified by a local siteverify stand-in; the demo page shows a stand-in widget "
        "(CONTACT_LOCAL_TURNSTILE)",
    )
    parser.add_argument(
        "--allowed-origin",
        dest="allowed_origins",
        action=_AppendOrigins,
        type=_origins,
        default=env.get("CONTACT_ALLOWED_ORIGINS") or (),
        metavar="URL",
        help="an origin besides the demo page's that may use the API, e.g. your own site on http://localhost:3000; "
        "repeat for more (default: CONTACT_ALLOWED_ORIGINS, comma-separated)",
    )
    parser.add_argument(
        "--provider-fault",
        type=_fault,
        default=env.get("CONTACT_LOCAL_PROVIDER_FAULT") or None,
        metavar="|".join(PROVIDER_FAULTS),
        help="hold a provider fault from the start: "
        + "; ".join(f"{fault.name}: {fault.description}" for fault in PROVIDER_FAULTS.values()).replace("%", "%%")
        + " (CONTACT_LOCAL_PROVIDER_FAULT)",
    )
    parser.add_argument(
        "--brownout",
        type=parse_brownout,
        default=env.get("CONTACT_LOCAL_BROWNOUT") or None,
        metavar="DEPENDENCY:MODE",
        help=f"put a proxy in front of one dependency ({', '.join(DEPENDENCIES)}; siteverify needs --turnstile) "
        "that answers each call healthy, slow:SECONDS late, or hangs, e.g. dynamodb:slow:10 "
        "(CONTACT_LOCAL_BROWNOUT; see docs/load-testing.md)",
    )
    parser.add_argument("--quiet", action="store_true", help="no line per API request")
    parser.add_argument("--verbose", action="store_true", help="every service log line, and the API's environment")
    return parser


def stack_options(args: argparse.Namespace) -> StackOptions:
    """What the parsed command line asks of the stack."""
    return StackOptions(
        host=args.host,
        ports=StackPorts(page=args.page_port, api=args.api_port, sandbox=args.sandbox_port, aws=args.aws_port),
        sandbox_latency_ms=args.sandbox_latency_ms,
        sandbox_rate_limit=args.sandbox_rate_limit,
        rate_limit=args.rate_limit,
        rate_limit_window_seconds=args.rate_limit_window_seconds,
        token_rate_limit=args.token_rate_limit,
        min_fill_seconds=args.min_fill_seconds,
        response_budget_ms=args.response_budget_ms,
        aws_call_timeout_ms=args.aws_call_timeout_ms,
        turnstile=args.turnstile,
        allowed_origins=args.allowed_origins,
        provider_fault=args.provider_fault,
        brownout=args.brownout,
        access_log=not args.quiet,
        service_log_level="INFO" if args.verbose else "WARNING",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Start the stack, print the URLs, serve until Ctrl-C or SIGTERM."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host {args.host!r} is not a loopback address: the local stack never listens elsewhere")
    try:
        stack = LocalStack(stack_options(args))
    except StackStartError as exc:  # options argparse cannot see wrong (e.g. CONTACT_LOCAL_TURNSTILE)
        parser.error(str(exc))

    def _on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C stops the stack even when started from a shell that ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stack.console.line("stack", "starting: AWS emulator, Resend sandbox, contact API, demo page ...")
        stack.start()
    except PortInUseError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except StackStartError as exc:
        print(f"cannot start the local stack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        stack.stop()
        return 0
    print(stack.banner(), flush=True)
    if args.verbose:
        print("The contact API runs with:\n" + environment_summary(stack.environment) + "\n", flush=True)
    try:
        stack.wait()
    except KeyboardInterrupt:
        stack.console.line("stack", "stopping ...")
    finally:
        stack.stop()
    stack.console.line("stack", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
