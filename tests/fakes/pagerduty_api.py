"""A fake PagerDuty (REST API v2 and Events API v2) on one loopback HTTP server.

REST checks what real PagerDuty checks: ``Authorization: Token token=...``, the v2
``Accept`` header, JSON bodies, and a ``From`` header naming a known user on the calls whose
OpenAPI definition requires it (:data:`FROM_REQUIRED`), with
PagerDuty's error shape ``{"error": {"message", "code", "errors"}}``. Events API v2 lives at
``/v2/enqueue`` on the same server, so both clients take the same base URL.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any, Self

from tests.fakes._http import LoopbackServer, Request, Response, ServedFake
from tests.fakes.faults import FaultInjector
from tests.fakes.pagerduty_routes import ROUTES, Route, pd_error
from tests.fakes.pagerduty_state import Account, seed_default
from tests.fakes.recorder import Call, CallLog
from tests.fakes.tls import LoopbackCA, loopback_ca

DEFAULT_API_TOKEN = "u+firebreak-test-token"
DEFAULT_ROUTING_KEY = "R0UTINGKEYF1REBREAK0000000000000"
ACCEPT_V2 = "application/vnd.pagerduty+json;version=2"
#: Routes of the fake whose PagerDuty OpenAPI operation lists the ``From`` header as required.
FROM_REQUIRED = frozenset({"POST /incidents", "PUT /incidents/{id}", "POST /incidents/{id}/notes"})


class FakePagerDuty(ServedFake):
    """The fake PagerDuty server and account.

    ``from_must_be_user``: the ``From`` header must be the email of a known user (real
    PagerDuty behaviour); turn off to accept any email. ``routing_keys``: accepted Events API
    keys (None accepts any well-formed 32-character key). ``tls``: serve HTTPS (the official
    client only accepts ``https://`` base URLs); trust :attr:`ca` via :meth:`client_ssl_context`
    or ``SSL_CERT_FILE=fake.ca.ca_file``.
    """

    def __init__(
        self,
        *,
        api_token: str = DEFAULT_API_TOKEN,
        routing_keys: Iterable[str] | None = (DEFAULT_ROUTING_KEY,),
        seed: Callable[[Account], None] | None = seed_default,
        from_must_be_user: bool = True,
        tls: bool = True,
    ) -> None:
        self.api_token = api_token
        self.routing_keys = (
            frozenset(routing_keys) if routing_keys is not None else None
        )
        self._seed = seed
        self.from_must_be_user = from_must_be_user
        self.faults = FaultInjector()
        self.log = CallLog()
        self.ca: LoopbackCA | None = loopback_ca() if tls else None
        self._server = LoopbackServer(
            self._handle, ssl_context=self.ca.server_context() if self.ca else None
        )
        self.account = self._new_account()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        super().start()
        self.account.api_base = self.url
        return self

    @property
    def url(self) -> str:
        """Base URL for ``RestApiV2Client(base_url=...)`` and ``PAGERDUTY_API_URL``."""
        return self._server.base_url

    @property
    def events_url(self) -> str:
        """Base URL for ``EventsApiV2Client(base_url=...)`` and ``PAGERDUTY_EVENTS_URL``."""
        return self._server.base_url

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """Pass as ``verify=`` to the official clients (``RestApiV2Client(..., verify=ctx)``)."""
        return self.ca.client_context() if self.ca else None

    @property
    def ca_file(self) -> str | None:
        """PEM of the CA that signed the server certificate (for ``SSL_CERT_FILE``)."""
        return self.ca.ca_file if self.ca else None

    # ----------------------------------------------------------------- test helpers
    def _new_account(self) -> Account:
        account = Account()
        if self._seed is not None:
            self._seed(account)
        try:
            account.api_base = self.url
        except RuntimeError:
            pass
        return account

    def reset(self) -> None:
        """Reseed the account; forget calls and faults."""
        self.account = self._new_account()
        self.faults.clear()
        self.log.clear()

    def calls(self, route: str | None = None, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls; ``route`` like ``"PUT /incidents/{id}"`` or ``"POST /v2/enqueue"``."""
        return self.log.calls(route, ok=ok)

    def wait_for_calls(
        self, route: str, count: int = 1, *, timeout: float = 5.0
    ) -> list[Call]:
        """Block until ``count`` successful calls of ``route`` arrived (TimeoutError otherwise)."""
        return self.log.wait_for_calls(route, count, timeout=timeout)

    def incident(self, incident_id: str) -> dict[str, Any]:
        """The stored incident record (status, notes, log)."""
        with self.account.lock:
            return dict(self.account.incidents[incident_id])

    @property
    def events(self) -> list[dict[str, Any]]:
        """Accepted Events API v2 events in arrival order."""
        with self.account.lock:
            return list(self.account.events)

    def fail_next(self, route: str = "*", status: int = 500, count: int = 1) -> None:
        """Next ``count`` calls of ``route`` fail with ``status``."""
        self.faults.fail_next(route, status, count)

    def rate_limit_next(
        self, route: str = "*", retry_after: int = 1, count: int = 1
    ) -> None:
        """Next ``count`` calls of ``route`` answer 429 with ``Retry-After``."""
        self.faults.rate_limit_next(route, retry_after, count)

    def outage(
        self, seconds: float, status: int = 503, routes: list[str] | None = None
    ) -> None:
        """Every call (or only ``routes``) fails with ``status`` for ``seconds``."""
        self.faults.outage(seconds, status, routes)

    @property
    def served_429(self) -> int:
        return self.log.served_429

    @property
    def served_5xx(self) -> int:
        return self.log.served_5xx

    # ----------------------------------------------------------------- HTTP
    def _handle(self, request: Request) -> Response:
        for method, pattern, name, fn in ROUTES:  # noqa: B007 (name and fn are used after the break)
            match = pattern.match(request.path)
            if match and request.method == method:
                break
        else:
            name, fn, match = f"{request.method} {request.path}", None, None
        body: Any = None
        if request.body:
            try:
                body = request.json()
            except ValueError:
                body = ValueError("invalid JSON")
        response = self._answer(
            name, fn, request, match.groupdict() if match else {}, body
        )
        self.log.record(
            Call(
                method=name,
                params={
                    **(match.groupdict() if match else {}),
                    **{
                        k: v if len(v) > 1 or k.endswith("[]") else v[0]
                        for k, v in request.query.items()
                    },
                    **({"body": body} if isinstance(body, (dict, list)) else {}),
                },
                time=time.time(),
                status=response.status,
                error=None
                if response.status < 400
                else str(response.encoded()[:200], "utf-8", "replace"),
                headers={
                    k: v for k, v in request.headers.items() if k != "authorization"
                },
                response=response.body,
            )
        )
        return response

    def _answer(
        self,
        name: str,
        fn: Route | None,
        request: Request,
        args: dict[str, str],
        body: Any,
    ) -> Response:
        events = name == "POST /v2/enqueue"
        fault = self.faults.take(name)
        if fault is not None:
            headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            )
            if fault.status == 429:
                headers.setdefault("Retry-After", "1")
                if not events:
                    # REST says when to come back in ratelimit-reset (seconds), beside
                    # ratelimit-limit and ratelimit-remaining, and sends no Retry-After
                    # (https://support.pagerduty.com/docs/rest-api-rate-limits: "the
                    # ratelimit-reset header will let you know how many seconds to wait").
                    reset = headers.pop("Retry-After")
                    headers.update({"ratelimit-limit": "960", "ratelimit-remaining": "0", "ratelimit-reset": reset})
                if events:
                    return Response.json(
                        {
                            "status": "throttle event",
                            "message": "Requests for this service are arriving too quickly.  Please retry later.",
                        },
                        429,
                        headers,
                    )
                return Response.json(
                    {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
                    429,
                    headers,
                )
            if events:
                return Response.json(
                    {"status": "error", "message": "Internal Server Error"},
                    fault.status,
                    headers,
                )
            return Response.json(
                {"error": {"message": "Internal Server Error", "code": 2999}},
                fault.status,
                headers,
            )
        if fn is None:
            return pd_error(
                404,
                "Not Found",
                2100,
                [f"{request.method} {request.path} is not implemented by the fake"],
            )
        if events:
            return fn(self, request, args, body)
        denied = self._check_rest_headers(name, request, body)
        if denied is not None:
            return denied
        return fn(self, request, args, body)

    def _check_rest_headers(self, name: str, request: Request, body: Any) -> Response | None:
        auth = request.header("authorization") or ""
        if auth not in (f"Token token={self.api_token}", f"Bearer {self.api_token}"):
            return pd_error(
                401,
                "Unauthorized",
                2006,
                ["Authentication failed: API token missing or invalid"],
            )
        accept = (request.header("accept") or "").replace(" ", "")
        if ACCEPT_V2 not in accept:
            return pd_error(
                406, "Not Acceptable", 2001, [f"Accept header must be {ACCEPT_V2}"]
            )
        if request.method in ("POST", "PUT"):
            if request.content_type != "application/json":
                return pd_error(
                    400,
                    "Invalid Input Provided",
                    2001,
                    ["Content-Type must be application/json"],
                )
            if isinstance(body, ValueError) or not isinstance(body, dict):
                return pd_error(
                    400, "Invalid Input Provided", 2001, ["Body must be a JSON object"]
                )
        if name in FROM_REQUIRED:
            sender = request.header("from")
            if not sender:
                return pd_error(
                    400,
                    "Invalid Input Provided",
                    2001,
                    [
                        'You must specify a user\'s email address in the "From" header to perform this action'
                    ],
                )
            if self.from_must_be_user and self.user_by_email(sender) is None:
                return pd_error(
                    400, "Invalid Input Provided", 2001, ["Requester User Not Found"]
                )
        return None

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        with self.account.lock:
            return next(
                (
                    u
                    for u in self.account.users.values()
                    if u["email"].lower() == email.lower()
                ),
                None,
            )
