"""Optional Cloudflare Turnstile: server-side verification of the widget's token through siteverify.

With ``CONTACT_TURNSTILE_SECRET_PARAMETER`` set, ``POST /contact`` needs the body field
``turnstileToken`` (the value the widget puts in the form's hidden ``cf-turnstile-response`` input).
:class:`TurnstileVerifier` asks Cloudflare's siteverify endpoint about it, once per submission:

- the request is form-encoded ``secret``, ``response``, ``remoteip`` (the source address API Gateway
  saw) and an ``idempotency_key`` (a UUID): a transport failure is retried once with the same key, which
  Cloudflare answers as the first attempt would have, so a retry cannot turn a good token into a
  "duplicate";
- a successful answer must also name a ``hostname`` of one of the allowed origins and the expected
  ``action`` (``CONTACT_TURNSTILE_ACTION``, the widget's ``data-action``): a token minted for another
  site or another form is refused;
- everything, the retry included, happens inside ``timeout_seconds`` (``CONTACT_TURNSTILE_TIMEOUT_MS``)
  and before the request's deadline (the response budget): the visitor never waits for Cloudflare
  longer than that.

The verdict is one of three (:class:`CaptchaVerdict`):

==============  =====================================================================================
``passed``      siteverify said yes, for one of our hostnames and the expected action
``refused``     no token, a token longer than Cloudflare's 2048 characters, or siteverify said no:
                ``invalid-input-response`` (invalid or expired), ``timeout-or-duplicate`` (expired or
                already spent), ``missing-input-response``, ``bad-request``; or a wrong hostname or
                action. The service answers ``403 captcha_invalid``.
``unavailable`` siteverify could not be asked or gave no usable answer: unreachable, timed out, a 5xx,
                not JSON, ``internal-error``, or it refused *our* secret (``invalid-input-secret``,
                ``missing-input-secret`` -- a configuration problem, not the visitor's). What happens
                then is the service's documented policy (``docs/security.md``): by default the message
                is delivered with its subject marked, in strict mode it is refused with ``503``.
==============  =====================================================================================

Cloudflare's documented test secrets behave as in production (always passes, always fails, token already
spent); :mod:`contact_sdk.devtools.local.turnstile` is a local stand-in that honours them.

Example::

    verifier = TurnstileVerifier(secret=lambda: cache.get(parameter), hostnames={"example.com"}, action="contact")
    result = verifier.verify(body.turnstile_token, remote_ip="203.0.113.9", deadline=None)
    result.verdict, result.reason
"""

from __future__ import annotations

import enum
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from contact_sdk.deadline import Deadline, within
from contact_sdk.degraded import DependencyGuard
from contact_sdk.errors import ConfigurationError
from contact_sdk.transport import ApiClient, DeadlineTransport

__all__ = [
    "MAX_TOKEN_LENGTH",
    "SITEVERIFY_URL",
    "CaptchaResult",
    "CaptchaVerdict",
    "TurnstileVerifier",
    "hostnames_of",
]

logger = logging.getLogger(__name__)

#: Cloudflare's siteverify endpoint (``CONTACT_TURNSTILE_SITEVERIFY_URL`` points elsewhere, e.g. the stand-in).
SITEVERIFY_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
#: Cloudflare's tokens are at most this long; anything longer is refused without asking.
MAX_TOKEN_LENGTH = 2048
#: siteverify error codes that say our side is wrong or Cloudflare failed, not the visitor's token.
_NOT_THE_VISITORS_FAULT = frozenset({"missing-input-secret", "invalid-input-secret", "internal-error"})
_ATTEMPTS = 2
#: Less time than this left, and a siteverify attempt is not worth starting.
_MIN_ATTEMPT_SECONDS = 0.05


def _siteverify_client() -> httpx.Client:
    # Every connect, write and read of a verification ends by the request's deadline (contact_sdk.transport).
    return ApiClient(follow_redirects=False, transport=DeadlineTransport())


class CaptchaVerdict(enum.StrEnum):
    """What siteverify's answer means for the submission."""

    PASSED = "passed"
    REFUSED = "refused"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class CaptchaResult:
    """A verdict and a short reason for the logs (a siteverify error code, or what we checked)."""

    verdict: CaptchaVerdict
    reason: str


def hostnames_of(origins: Iterable[str]) -> frozenset[str]:
    """The host names of canonical origins: what siteverify's ``hostname`` must be one of.

    >>> sorted(hostnames_of(["https://example.com", "http://localhost:8000"]))
    ['example.com', 'localhost']
    """
    hosts = set()
    for origin in origins:
        host = urlsplit(origin).hostname
        if host:
            hosts.add(host)
    return frozenset(hosts)


class TurnstileVerifier:
    """Verifies Turnstile tokens through siteverify; see the module docstring. Thread-safe.

    ``secret`` returns the secret key (read through the Parameter Store cache, so a rotated key is
    picked up within the cache's TTL); ``clock`` is the clock ``deadline`` is on (the Resend client's).
    ``guard`` remembers that siteverify just failed or overran, so the requests that follow get
    ``unavailable`` at once for a while (one probe finds it back).
    """

    def __init__(
        self,
        *,
        secret: Callable[[], str],
        hostnames: Iterable[str],
        action: str | None,
        url: str = SITEVERIFY_URL,
        timeout_seconds: float = 2.0,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        new_key: Callable[[], str] = lambda: str(uuid.uuid4()),
        guard: DependencyGuard | None = None,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be greater than zero")
        self._secret = secret
        self.hostnames = frozenset(hostnames)
        self.action = action or None
        self.url = url
        self.timeout_seconds = timeout_seconds
        self._owns_http = http is None
        self._http = http or _siteverify_client()
        self._clock = clock
        self._new_key = new_key
        self.guard = guard

    def close(self) -> None:
        """Release the HTTP connections."""
        self._http.close()

    def reconnect(self) -> None:
        """Drop pooled connections (SnapStart restore): a fresh client when this verifier built its own."""
        if self._owns_http:
            self._http.close()
            self._http = _siteverify_client()
        if self.guard is not None:
            self.guard.reset()

    def verify(self, token: str | None, *, remote_ip: str, deadline: Deadline | None) -> CaptchaResult:
        """Judge ``token`` from ``remote_ip``; never raises for anything siteverify or the network does."""
        if token is None or not token.strip():
            return CaptchaResult(CaptchaVerdict.REFUSED, "missing")
        if len(token) > MAX_TOKEN_LENGTH:
            return CaptchaResult(CaptchaVerdict.REFUSED, "too_long")
        try:
            secret = self._secret()
        except ConfigurationError as exc:
            logger.error("the Turnstile secret cannot be read", extra={"error": str(exc)})
            return CaptchaResult(CaptchaVerdict.UNAVAILABLE, "secret_unreadable")
        form = {"secret": secret, "response": token, "idempotency_key": self._new_key()}
        if remote_ip and remote_ip != "unknown":
            form["remoteip"] = remote_ip
        admission = self.guard.admit() if self.guard is not None else None
        if self.guard is not None and admission is None:
            logger.warning("Turnstile siteverify skipped: it failed a moment ago", extra={"captcha_failure": "skipped"})
            return CaptchaResult(CaptchaVerdict.UNAVAILABLE, "skipped")
        # One bound for the whole verification, retry included: the tighter of our timeout and the deadline.
        until = (deadline or Deadline.never(clock=self._clock)).earliest(self.timeout_seconds)
        answer: Any = None
        failure = "deadline"
        for _ in range(_ATTEMPTS):
            if not until.allows(_MIN_ATTEMPT_SECONDS):  # not worth a connection attempt
                break
            try:
                with within(until):
                    response = self._http.post(self.url, data=form, timeout=until.remaining())
            except httpx.TimeoutException:
                failure = "timeout"
                continue
            except httpx.HTTPError as exc:
                failure = f"unreachable: {type(exc).__name__}"
                continue
            if response.status_code != 200:
                failure = f"status {response.status_code}"
                break
            try:
                answer = response.json()
            except ValueError:
                failure = "not_json"
            break
        if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
            if answer is not None:
                failure = "unreadable_answer"
            if self.guard is not None and admission is not None:
                self.guard.failed(admission)
            logger.warning("Turnstile siteverify gave no usable answer", extra={"captcha_failure": failure})
            return CaptchaResult(CaptchaVerdict.UNAVAILABLE, failure)
        if self.guard is not None and admission is not None:
            self.guard.succeeded(admission)
        return self._judge(answer)

    def _judge(self, answer: dict[str, Any]) -> CaptchaResult:
        codes = answer.get("error-codes")
        code_list = [str(code) for code in codes] if isinstance(codes, list) else []
        if answer["success"] is not True:
            if any(code in _NOT_THE_VISITORS_FAULT for code in code_list):
                logger.error("Turnstile siteverify refused our request", extra={"captcha_errors": code_list})
                return CaptchaResult(CaptchaVerdict.UNAVAILABLE, ",".join(code_list))
            return CaptchaResult(CaptchaVerdict.REFUSED, ",".join(code_list) or "refused")
        hostname = answer.get("hostname")
        if not isinstance(hostname, str) or hostname.lower() not in self.hostnames:
            return CaptchaResult(CaptchaVerdict.REFUSED, "hostname_mismatch")
        if self.action is not None and answer.get("action") != self.action:
            return CaptchaResult(CaptchaVerdict.REFUSED, "action_mismatch")
        return CaptchaResult(CaptchaVerdict.PASSED, "passed")
