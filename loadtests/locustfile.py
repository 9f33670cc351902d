"""Locust scenarios for the contact API: who visits, what they send, what each must get back.

Every scenario uses the real flow — ``GET /contact/token`` with an ``Origin``, then ``POST /contact``
with the token — and judges each answer. An *expected refusal* (the spam bot's silent 200, the
abuser's 429, the attacker's 403) is a success for its scenario; anything else is a failure whose
message says what was expected and what came back.

============================  ======  ===========================================================
user class                    share   what it must get
============================  ======  ===========================================================
``LegitimateVisitor``         10      ``200 sent`` or ``202 queued`` (measured: the p95 check)
``SpamBot``                   2       ``200 sent`` — indistinguishable, nothing is emailed
``MalformedInput``            2       ``400``/``413``/``415`` with the contract's error code
``BurstAbuser``               1 user  ``429`` with ``Retry-After`` once past the target's limit
``CrossOriginAttacker``       1 user  ``403 origin_not_allowed`` and no CORS grant
============================  ======  ===========================================================

Identity: the service limits submissions per source IP (5 per 15 minutes by default), and every
request of a load run comes from one machine. Against a loopback target (the local stack) each
simulated visitor therefore connects from its **own loopback source address** (all of 127.0.0.0/8 is
loopback on Linux): a fresh one per visit for visitors, spam bots and malformed input — as real
people arrive from many addresses — and one fixed address for the whole run for the abuser. The
server still takes ``sourceIp`` from the socket, and the production limit stays in force. Against a
remote target (staging) there is one address; see ``docs/load-testing.md`` for how staging is set up.

The run fails (exit status 1) when the p95 of legitimate submissions reaches ``--p95-limit-ms``, when
the failure ratio exceeds ``--max-failure-ratio``, or when no legitimate submission was measured. The
check runs on the master (or the single local runner) when Locust quits, from the aggregated stats,
so it is right with ``--processes`` and ``--master``/``--worker`` too.

Example::

    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8080 \\
        --site-origin http://127.0.0.1:8000 -u 50 -r 10 -t 2m --csv reports/load --html reports/load.html
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from locust import HttpUser, between, task
from locust import events as _events
from locust.clients import HttpSession
from locust.env import Environment
from locust.runners import WorkerRunner
from requests.adapters import HTTPAdapter

# Locust's event hooks and response helpers are untyped; reach them through Any in one place.
events: Any = _events

LEGITIMATE_SUBMISSION = "POST /contact [legitimate]"
#: Submissions the target answered ``200 sent`` or ``202 queued`` that are not spam: each one owes exactly
#: one email (``run_local.py --provider-fault down`` checks the sandbox against it after the outbox drains).
ACCEPTED: dict[str, int] = {"sent": 0, "queued": 0}
#: The ``Reference <uuid>`` of each accepted legitimate submission: the after-run checks find every one of them in
#: exactly one email, so an accepted submission that was lost cannot hide behind one nobody saw answered.
ACCEPTED_REFERENCES: list[str] = []
_REFERENCE = re.compile(r"Reference ([0-9a-f-]{36})")
TOKEN_HEADER = "X-CSRF-Token"  # noqa: S105 - a header name


# -- options ---------------------------------------------------------------------------------------


def add_options(parser: Any) -> None:
    """The run's limits and the target's identity."""
    group = parser.add_argument_group("contact-sdk load test")
    group.add_argument(
        "--p95-limit-ms",
        type=float,
        default=5000.0,
        env_var="CONTACT_LOAD_P95_LIMIT_MS",
        help="fail the run when the p95 of legitimate submissions reaches this (default 5000)",
    )
    group.add_argument(
        "--max-failure-ratio",
        type=float,
        default=0.01,
        env_var="CONTACT_LOAD_MAX_FAILURE_RATIO",
        help="fail the run when failed requests / all requests exceeds this (default 0.01)",
    )
    group.add_argument(
        "--site-origin",
        default="",
        env_var="CONTACT_LOAD_SITE_ORIGIN",
        help="the Origin legitimate pages send: one of the target's CONTACT_ALLOWED_ORIGINS",
    )
    group.add_argument(
        "--attacker-origin",
        default="https://attacker.example",
        env_var="CONTACT_LOAD_ATTACKER_ORIGIN",
        help="an Origin the target must refuse",
    )
    group.add_argument(
        "--target-rate-limit",
        type=int,
        default=5,
        env_var="CONTACT_LOAD_TARGET_RATE_LIMIT",
        help="the target's CONTACT_RATE_LIMIT: the abuser's bursts are this plus 3 (default 5)",
    )
    group.add_argument(
        "--fill-seconds",
        type=float,
        default=3.5,
        env_var="CONTACT_LOAD_FILL_SECONDS",
        help="how long a legitimate visitor takes between fetching the token (the form shown) and sending: "
        "above the target's CONTACT_MIN_FILL_SECONDS, or the message is dropped as spam (default 3.5)",
    )
    group.add_argument(
        "--source-addresses",
        choices=("auto", "off"),
        default="auto",
        env_var="CONTACT_LOAD_SOURCE_ADDRESSES",
        help="auto: one loopback source address per simulated visitor when the target is on loopback",
    )
    group.add_argument(
        "--summary-file",
        default="",
        env_var="CONTACT_LOAD_SUMMARY_FILE",
        help="also write the verdict and the legitimate-submission figures here as JSON",
    )


events.init_command_line_parser.add_listener(add_options)


# -- identity --------------------------------------------------------------------------------------


def is_loopback_target(host: str | None) -> bool:
    """Whether ``host`` (a base URL) points at this machine's loopback."""
    name = urlsplit(host or "").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def visitor_address(rng: random.Random) -> str:
    """A loopback address for one visitor, outside 127.0.0.0/24 (kept for the stack and the abusers)."""
    return f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def abuser_address(rng: random.Random) -> str:
    """A fixed loopback address for one abuser, in 127.0.0.2-254."""
    return f"127.0.0.{rng.randint(2, 254)}"


class SourceAddressAdapter(HTTPAdapter):
    """Opens every connection from ``address`` (the visitor's own source IP)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(pool_connections=1, pool_maxsize=1)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The pool, bound to the source address."""
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


# -- payloads --------------------------------------------------------------------------------------

_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia", "Tim")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Perlman")
_TOPICS = ("a project", "your article", "a job opening", "a speaking invitation", "consulting", "feedback")


def now_ms() -> int:
    """Epoch milliseconds."""
    return int(time.time() * 1000)


def legitimate_submission(rng: random.Random, *, fill_seconds: float | None = None) -> dict[str, Any]:
    """A submission a person would send: unique (so the idempotency guard never folds two), filled in 4-90 s."""
    first, last, topic = rng.choice(_FIRST), rng.choice(_LAST), rng.choice(_TOPICS)
    payload: dict[str, Any] = {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}+{uuid.uuid4().hex[:10]}@example.org",
        "message": f"Hello! I would like to talk about {topic}. Reference {uuid.uuid4()}. Thanks, {first}.",
        "consent": True,
        "website": "",
        "formStartedAt": now_ms() - int(1000 * (fill_seconds if fill_seconds is not None else rng.uniform(4, 90))),
    }
    if rng.random() < 0.6:
        payload["subject"] = f"About {topic}"
    return payload


# -- judging answers -------------------------------------------------------------------------------


def _json(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def describe(response: Any) -> str:
    """``503 service_unavailable: "message"`` — what came back, for a failure message."""
    if response.status_code == 0 or response.status_code is None:
        return f"no answer ({response.error})"
    data = _json(response)
    error = data.get("error") if isinstance(data.get("error"), dict) else None
    if error is not None:
        return f"{response.status_code} {error.get('code')}: {str(error.get('message', ''))[:120]!r}"
    if "status" in data:
        return f"{response.status_code} {data['status']}"
    return f"{response.status_code} {response.text[:120]!r}"


def expect(response: Any, allowed: Mapping[int, str | None], *, what: str) -> dict[str, Any]:
    """Mark ``response`` a success when its status is allowed and its ``status``/``error.code`` is the one expected.

    ``allowed`` maps a status to the body's ``status`` (2xx) or ``error.code`` (4xx/5xx), or to ``None``
    for any. Returns the JSON body.
    """
    data = _json(response)
    status = response.status_code
    if status in allowed:
        wanted = allowed[status]
        raw_error = data.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        got = data.get("status") if status < 300 else error.get("code")
        if wanted is None or got == wanted:
            response.success()
            return data
    expected = " or ".join(f"{s} {c or ''}".strip() for s, c in allowed.items())
    response.failure(f"{what}: expected {expected}, got {describe(response)}")
    return data


def count_accepted(response: Any, data: Mapping[str, Any], payload: Mapping[str, Any] | None = None) -> None:
    """Count a real submission's ``200 sent`` / ``202 queued`` answer in :data:`ACCEPTED` (its reference too)."""
    status = data.get("status")
    if response.status_code in (200, 202) and status in ACCEPTED:
        ACCEPTED[str(status)] += 1
        reference = _REFERENCE.search(str((payload or {}).get("message", "")))
        if reference:
            ACCEPTED_REFERENCES.append(reference.group(1))


def record_check(environment: Environment, name: str, *, passed: bool, reason: str = "") -> None:
    """Count a scenario-level check (not one request) in the stats, as ``CHECK <name>``."""
    hooks: Any = environment.events
    hooks.request.fire(
        request_type="CHECK",
        name=name,
        response_time=0,
        response_length=0,
        exception=None if passed else AssertionError(reason),
        context={},
    )


# -- the users -------------------------------------------------------------------------------------


class ContactUser(HttpUser):
    """Shared plumbing: the site's origin, loopback identities, the token fetch."""

    abstract = True

    def on_start(self) -> None:
        """Read the run's options once."""
        options = self.environment.parsed_options
        self.site_origin: str = (getattr(options, "site_origin", "") or "").rstrip("/")
        if not self.site_origin:
            raise RuntimeError("set --site-origin to an origin the target allows (CONTACT_ALLOWED_ORIGINS)")
        self.attacker_origin: str = getattr(options, "attacker_origin", "https://attacker.example")
        self.rate_limit: int = int(getattr(options, "target_rate_limit", 5))
        self.fill_seconds: float = float(getattr(options, "fill_seconds", 3.5))
        mode = getattr(options, "source_addresses", "auto")
        self.own_addresses = mode == "auto" and is_loopback_target(self.host)
        self.rng = random.Random()  # load-test data, not security

    @contextlib.contextmanager
    def session_from(self, address: str | None) -> Iterator[HttpSession]:
        """A client whose connections come from ``address`` (a fresh session), or the user's own client."""
        if address is None:
            yield self.client
            return
        session = HttpSession(base_url=self.host or "", request_event=self.environment.events.request, user=self)
        adapter = SourceAddressAdapter(address)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            yield session
        finally:
            session.close()

    def visitor(self) -> contextlib.AbstractContextManager[HttpSession]:
        """The client of one new visitor: their own loopback address when the target is local."""
        return self.session_from(visitor_address(self.rng) if self.own_addresses else None)

    def fetch_token(self, client: HttpSession, *, scenario: str) -> str | None:
        """``GET /contact/token`` from the site's origin; the token, or ``None`` (counted as a failure)."""
        with client.get(
            "/contact/token",
            headers={"Origin": self.site_origin},
            name=f"GET /contact/token [{scenario}]",
            catch_response=True,
        ) as response:
            data = expect(response, {200: None}, what="token")
        token = data.get("token")
        return token if isinstance(token, str) and token else None

    def submit(self, client: HttpSession, token: str | None, body: Any, *, name: str, **kwargs: Any) -> Any:
        """``POST /contact`` from the site's origin with the token; the response, for ``expect``."""
        headers = {"Origin": self.site_origin, "Content-Type": "application/json", **kwargs.pop("headers", {})}
        if token is not None:
            headers[TOKEN_HEADER] = token
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return client.post("/contact", data=data, headers=headers, name=name, catch_response=True, **kwargs)


class LegitimateVisitor(ContactUser):
    """A person: loads the page, takes a while to type, sends; sometimes sends a follow-up with ``nextToken``."""

    weight = 10
    wait_time = between(1, 3)

    @task
    def send_message(self) -> None:
        """Token, then one submission (and a follow-up one time in five)."""
        with self.visitor() as client:
            token = self.fetch_token(client, scenario="legitimate")
            if token is None:
                return
            # A person types for a while after the form (and its token) appeared; the fill-time rule counts
            # from the token's signed issue time, so posting at once would be judged spam and mail nothing.
            time.sleep(self.fill_seconds)
            payload = legitimate_submission(self.rng)
            with self.submit(client, token, payload, name=LEGITIMATE_SUBMISSION) as response:
                data = expect(response, {200: "sent", 202: "queued"}, what="legitimate submission")
                count_accepted(response, data, payload)
            next_token = data.get("nextToken")
            if isinstance(next_token, str) and self.rng.random() < 0.2:
                time.sleep(self.fill_seconds)  # the nextToken counts from its own issue
                follow_up = legitimate_submission(self.rng)
                with self.submit(client, next_token, follow_up, name=LEGITIMATE_SUBMISSION) as response:
                    data = expect(response, {200: "sent", 202: "queued"}, what="follow-up with nextToken")
                    count_accepted(response, data, follow_up)


class SpamBot(ContactUser):
    """A bot: fills the honeypot, or submits faster than a person can type. Must get a plain ``200 sent``."""

    weight = 2
    wait_time = between(1, 3)

    @task(1)
    def fill_the_honeypot(self) -> None:
        """The hidden ``website`` field filled in."""
        with self.visitor() as client:
            token = self.fetch_token(client, scenario="spam")
            payload = {**legitimate_submission(self.rng), "website": "https://cheap-watches.example"}
            with self.submit(client, token, payload, name="POST /contact [spam: honeypot]") as response:
                expect(response, {200: "sent"}, what="honeypot spam (must look sent)")

    @task(1)
    def submit_too_fast(self) -> None:
        """Sent half a second after the form was rendered."""
        with self.visitor() as client:
            token = self.fetch_token(client, scenario="spam")
            payload = legitimate_submission(self.rng, fill_seconds=0.5)
            with self.submit(client, token, payload, name="POST /contact [spam: too fast]") as response:
                expect(response, {200: "sent"}, what="too-fast spam (must look sent)")


def _malformed_cases(rng: random.Random) -> list[tuple[str, Any, dict[str, str], Mapping[int, str | None]]]:
    good = legitimate_submission(rng)
    without_message = {k: v for k, v in good.items() if k != "message"}
    return [
        ("missing message", without_message, {}, {400: "validation_error"}),
        ("bad email", {**good, "email": "not-an-address"}, {}, {400: "validation_error"}),
        ("no consent", {**good, "consent": False}, {}, {400: "validation_error"}),
        ("unknown field", {**good, "admin": True}, {}, {400: "validation_error"}),
        ("message too short", {**good, "message": "hi"}, {}, {400: "validation_error"}),
        ("not JSON", "name=Ada&message=hello", {}, {400: "invalid_json"}),
        ("JSON array", "[1, 2, 3]", {}, {400: "invalid_json"}),
        ("form encoding", json.dumps(good), {"Content-Type": "application/x-www-form-urlencoded"}, {415: None}),
        ("too large", {**good, "message": "x" * (40 * 1024)}, {}, {413: "payload_too_large"}),
    ]


class MalformedInput(ContactUser):
    """Broken clients and careless scripts: every kind of bad body. Must get the contract's 4xx."""

    weight = 2
    wait_time = between(1, 3)

    @task
    def send_something_wrong(self) -> None:
        """One malformed submission, chosen at random, with a valid token."""
        label, body, headers, allowed = self.rng.choice(_malformed_cases(self.rng))
        with self.visitor() as client:
            token = self.fetch_token(client, scenario="malformed")
            with self.submit(client, token, body, name="POST /contact [malformed]", headers=headers) as response:
                expect(response, allowed, what=f"malformed input ({label})")


class BurstAbuser(ContactUser):
    """One address hammering the form in bursts of ``limit + 3``. Past the limit: ``429`` with ``Retry-After``."""

    fixed_count = 1
    wait_time = between(2, 5)

    def on_start(self) -> None:
        """Pick the abuser's one address for the whole run."""
        super().on_start()
        self.address = abuser_address(self.rng) if self.own_addresses else None

    @task
    def burst(self) -> None:
        """One burst; a burst with no ``429`` at all is a failed check."""
        size = self.rate_limit + 3
        saw_limit = False
        # After a 429, when its Retry-After lets the next submission in. The limit is a sliding window: the
        # previous window's hits weigh less every second, so a refused client may be let in again within one
        # burst (a slow server makes a burst last seconds), but never before the time it was told.
        allowed_again_at = 0.0
        with self.session_from(self.address) as client:
            with client.get(
                "/contact/token",
                headers={"Origin": self.site_origin},
                name="GET /contact/token [abuser]",
                catch_response=True,
            ) as response:
                data = expect(response, {200: None, 429: "rate_limited"}, what="abuser token")
            token = data.get("token") if isinstance(data.get("token"), str) else None
            for _ in range(size):
                with self.submit(
                    client, token, legitimate_submission(self.rng), name="POST /contact [abuser]"
                ) as response:
                    if response.status_code == 429:
                        retry_after = response.headers.get("Retry-After", "")
                        if retry_after.isdigit() and int(retry_after) >= 1:
                            saw_limit = True
                            allowed_again_at = time.monotonic() + int(retry_after)
                            response.success()
                        else:
                            response.failure(f"429 without a whole-seconds Retry-After (got {retry_after!r})")
                    elif response.status_code in (200, 202) and (not saw_limit or time.monotonic() >= allowed_again_at):
                        data = expect(response, {200: "sent", 202: "queued"}, what="abuser within the limit")
                        # Not counted as accepted: a burst posts sooner than the fill time after its token, so
                        # its "sent" is the spam answer (indistinguishable by design) and no email follows.
                        token = data.get("nextToken") if isinstance(data.get("nextToken"), str) else token
                    elif token is None:
                        expect(response, {403: "csrf_missing"}, what="abuser without a token")
                    elif response.status_code in (200, 202):
                        response.failure(
                            f"abuser: let in {allowed_again_at - time.monotonic():.1f} s before its Retry-After ended"
                        )
                        data = response.json() if "json" in response.headers.get("Content-Type", "") else {}
                        token = data.get("nextToken") if isinstance(data.get("nextToken"), str) else token
                    else:
                        response.failure(f"abuser: expected 429 rate_limited, got {describe(response)}")
        record_check(
            self.environment,
            "burst abuser is rate limited",
            passed=saw_limit,
            reason=f"a burst of {size} submissions from one address got no 429",
        )


class CrossOriginAttacker(ContactUser):
    """A page on another origin using a visitor's browser: every route must answer ``403 origin_not_allowed``."""

    fixed_count = 1
    wait_time = between(1, 3)

    def _refused(self, response: Any, what: str) -> None:
        granted = response.headers.get("Access-Control-Allow-Origin")
        if granted:
            response.failure(f"{what}: a CORS grant for a refused origin ({granted})")
            return
        expect(response, {403: "origin_not_allowed"}, what=what)

    @task
    def attack(self) -> None:
        """Preflight, token and submission from the attacker's origin, and a submission with no Origin."""
        evil = {"Origin": self.attacker_origin}
        with self.session_from(None) as client:
            with client.options(
                "/contact",
                headers={**evil, "Access-Control-Request-Method": "POST"},
                name="OPTIONS /contact [cross-origin]",
                catch_response=True,
            ) as response:
                self._refused(response, "cross-origin preflight")
            with client.get(
                "/contact/token", headers=evil, name="GET /contact/token [cross-origin]", catch_response=True
            ) as response:
                self._refused(response, "cross-origin token")
            forged = "v1.AAAAAAAAAAAAAAAAAAAAAA.9999999999.forged"
            body = json.dumps(legitimate_submission(self.rng))
            with client.post(
                "/contact",
                data=body,
                headers={**evil, "Content-Type": "application/json", TOKEN_HEADER: forged},
                name="POST /contact [cross-origin]",
                catch_response=True,
            ) as response:
                self._refused(response, "cross-origin submission")
            with client.post(
                "/contact",
                data=body,
                headers={"Content-Type": "application/json", TOKEN_HEADER: forged},
                name="POST /contact [no origin]",
                catch_response=True,
            ) as response:
                self._refused(response, "submission without an Origin")


# -- the verdict -----------------------------------------------------------------------------------


def verdict(environment: Environment) -> tuple[bool, dict[str, Any]]:
    """Judge the run from the (aggregated) stats: ``(passed, figures)``."""
    options = environment.parsed_options
    p95_limit = float(getattr(options, "p95_limit_ms", 5000.0))
    max_failure_ratio = float(getattr(options, "max_failure_ratio", 0.01))
    stats = environment.stats
    entry = stats.entries.get((LEGITIMATE_SUBMISSION, "POST"))
    total = stats.total
    figures: dict[str, Any] = {
        "legitimate_submissions": entry.num_requests if entry else 0,
        "legitimate_failures": entry.num_failures if entry else 0,
        "p50_ms": entry.get_response_time_percentile(0.50) if entry and entry.num_requests else None,
        "p95_ms": entry.get_response_time_percentile(0.95) if entry and entry.num_requests else None,
        "p99_ms": entry.get_response_time_percentile(0.99) if entry and entry.num_requests else None,
        "legitimate_rps": round(entry.total_rps, 2) if entry else 0.0,
        "all_requests": total.num_requests,
        "all_failures": total.num_failures,
        "all_rps": round(total.total_rps, 2),
        "failure_ratio": round(total.fail_ratio, 5),
        "p95_limit_ms": p95_limit,
        "max_failure_ratio": max_failure_ratio,
        # Counted by this process: exact with one local runner (run_local.py), partial with --processes.
        "accepted_sent": ACCEPTED["sent"],
        "accepted_queued": ACCEPTED["queued"],
        "accepted_references": list(ACCEPTED_REFERENCES),
    }
    reasons = []
    if not figures["legitimate_submissions"]:
        reasons.append("no legitimate submission was measured")
    elif figures["p95_ms"] >= p95_limit:
        reasons.append(f"p95 of legitimate submissions {figures['p95_ms']:.0f} ms reached the limit {p95_limit:.0f} ms")
    if figures["failure_ratio"] > max_failure_ratio:
        reasons.append(f"failure ratio {figures['failure_ratio']:.4f} is above the limit {max_failure_ratio}")
    runner = environment.runner
    if runner is not None and runner.exceptions:
        reasons.append(f"the locustfile raised {len(runner.exceptions)} kind(s) of exception")
    figures["reasons"] = reasons
    figures["passed"] = not reasons
    return not reasons, figures


def check_limits(environment: Environment, **kwargs: Any) -> None:
    """On the master (or a single process): print the figures and set the exit status from the limits."""
    if isinstance(environment.runner, WorkerRunner):
        return
    passed, figures = verdict(environment)

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    print(
        "\nlegitimate submissions: "
        f"n={figures['legitimate_submissions']} p50={ms(figures['p50_ms'])} p95={ms(figures['p95_ms'])} "
        f"p99={ms(figures['p99_ms'])} rps={figures['legitimate_rps']} | all requests: n={figures['all_requests']} "
        f"rps={figures['all_rps']} failure ratio={figures['failure_ratio']:.4f} "
        f"(limits: p95 < {figures['p95_limit_ms']:.0f} ms, failure ratio <= {figures['max_failure_ratio']})",
        flush=True,
    )
    print("load check: PASSED" if passed else "load check: FAILED: " + "; ".join(figures["reasons"]), flush=True)
    summary_file = getattr(environment.parsed_options, "summary_file", "")
    if summary_file:
        with open(summary_file, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)
    # Set both ways: a tolerated failure must not fail the run through Locust's own "any error" rule.
    environment.process_exit_code = 0 if passed else 1


events.quitting.add_listener(check_limits)
