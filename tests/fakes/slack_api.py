"""A fake Slack Web API on a loopback HTTP server.

Point a real client at it (``WebClient(token=..., base_url=fake.api_url)`` or the async
client) and it answers like Slack: token checks, per-method argument validation and error
codes, realistic payloads, per-tier rate limits with 429 + Retry-After, and fault injection.
Every request is recorded for assertions.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

# Importing the handler modules registers the methods.
from tests.fakes import slack_chat, slack_conversations, slack_files_views, slack_misc  # noqa: F401
from tests.fakes._http import LoopbackServer, Request, Response, ServedFake
from tests.fakes.faults import FaultInjector
from tests.fakes.rate_limits import SLACK_METHOD_LIMITS, Limit, RateLimiter
from tests.fakes.recorder import Call, CallLog
from tests.fakes.slack_methods_base import REGISTRY, Ctx, Params
from tests.fakes.slack_state import Channel, SlackError, Workspace

DEFAULT_TOKEN = "xoxb-1-firebreak-test-token"
DEFAULT_APP_TOKEN = "xapp-1-A0FIREBRK-1-firebreak-test-app-token"
"""The app-level token: the only kind ``apps.connections.open`` accepts."""
DEFAULT_USERS: tuple[tuple[str, str, str], ...] = (
    ("U0ALICE", "alice", "alice@example.com"),
    ("U0BOB", "bob", "bob@example.com"),
    ("U0CAROL", "carol", "carol@example.com"),
)
"""(id, name, email): the PagerDuty fake's default on-call users share these emails."""

DEFAULT_SCOPES = frozenset(
    {
        "app_mentions:read", "bookmarks:write", "channels:history", "channels:join", "channels:manage",
        "channels:read", "chat:write", "commands", "files:write", "groups:history", "groups:read",
        "pins:write", "reactions:read", "usergroups:read", "users:read", "users:read.email",
    }
)
"""The bot scopes an install grants (the shipped manifest's); only these change behaviour."""

UPLOAD_METHOD = "upload_url"
"""Recorded method name for the raw POST to a files.getUploadURLExternal URL."""

_SERVER_ERRORS = {
    500: "fatal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "request_timeout",
}


def _decode_body(request: Request) -> dict[str, Any]:
    """Merge form or JSON body arguments; raise SlackError on undecodable JSON."""
    if not request.body:
        return {}
    if request.content_type == "application/json":
        try:
            body = request.json()
        except ValueError:
            raise SlackError("invalid_json") from None
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        return body
    if request.content_type in ("application/x-www-form-urlencoded", ""):
        return dict(
            parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        )
    raise SlackError("invalid_form_data")


class FakeSlack(ServedFake):
    """The fake Slack Web API server plus its workspace state.

    ``rate_limit_scale``: None disables pacing; 1.0 enforces Slack's real tiers; 60 makes
    "20 per minute" mean "20 per second". ``rate_limits`` overrides limits per method (and
    enables pacing for them even without a scale).
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        rate_limit_scale: float | None = None,
        rate_limits: Mapping[str, Limit] | None = None,
        users: Iterable[tuple[str, str, str]] = DEFAULT_USERS,
        channels: Iterable[str] = ("general", "incidents"),
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> None:
        self.token = token
        self.app_token = DEFAULT_APP_TOKEN
        self.socket_mode: Any = None
        """A :class:`~tests.fakes.slack_socket_mode.FakeSocketMode` once attached."""
        self.scopes = frozenset(scopes)
        self._users = tuple(users)
        self._channel_names = tuple(channels)
        self.workspace = self._new_workspace()
        self.faults = FaultInjector()
        self.log = CallLog()
        self._limiter: RateLimiter | None = None
        self.set_rate_limits(scale=rate_limit_scale, limits=rate_limits)
        self._server = LoopbackServer(self._handle)

    # ----------------------------------------------------------------- lifecycle


    @property
    def api_url(self) -> str:
        """The value for ``SLACK_API_URL`` / the SDK's ``base_url`` (ends with ``/api/``)."""
        return f"{self._server.base_url}/api/"

    # ----------------------------------------------------------------- configuration
    def set_rate_limits(
        self,
        *,
        scale: float | None = None,
        limits: Mapping[str, Limit] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """(Re)configure pacing; see the class docstring. Buckets start full.

        ``clock`` (seconds) lets a test run the tiers on its frozen clock instead of real time.
        """
        if scale is None and not limits:
            self._limiter = None
            return
        table = dict(SLACK_METHOD_LIMITS) if scale is not None else {}
        table.update(limits or {})
        self._limiter = RateLimiter(table, scale=scale or 1.0, clock=clock or time.monotonic)

    def fail_next(
        self,
        method: str = "*",
        status: int = 500,
        count: int = 1,
        *,
        error: str | None = None,
    ) -> None:
        """Next ``count`` calls of ``method`` fail with HTTP ``status`` (or 200 + ``error``)."""
        self.faults.fail_next(method, status, count, error=error)

    def rate_limit_next(
        self, method: str = "*", retry_after: int = 1, count: int = 1
    ) -> None:
        """Next ``count`` calls of ``method`` answer 429 with ``Retry-After: retry_after``."""
        self.faults.rate_limit_next(method, retry_after, count)

    def outage(
        self, seconds: float, status: int = 503, methods: list[str] | None = None
    ) -> None:
        """Every call (or only ``methods``) fails with ``status`` for ``seconds``."""
        self.faults.outage(seconds, status, methods)

    def add_user(
        self,
        name: str,
        email: str | None = None,
        *,
        user_id: str | None = None,
        guest: str | None = None,
        team_id: str | None = None,
        stranger: bool = False,
    ) -> dict[str, Any]:
        """Seed a user (so users.lookupByEmail / invites can find them); guests and
        users of other organisations as in :meth:`Workspace.add_user`."""
        return self.workspace.add_user(
            name, email, user_id=user_id, guest=guest, team_id=team_id, stranger=stranger
        )

    def add_usergroup(
        self, members: Iterable[str], *, group_id: str | None = None, handle: str | None = None, name: str | None = None
    ) -> str:
        """Seed a user group (served by usergroups.list and usergroups.users.list); returns its id."""
        return self.workspace.add_usergroup(members, group_id=group_id, handle=handle, name=name)

    def reset(self) -> None:
        """Back to the seeded workspace: no calls, faults, or rate-limit debt."""
        self.workspace = self._new_workspace()
        self.faults.clear()
        self.log.clear()
        if self._limiter is not None:
            self._limiter.reset()

    # ----------------------------------------------------------------- inspection
    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls, optionally only one method and/or only (un)successful ones."""
        return self.log.calls(method, ok=ok)

    def wait_for_calls(
        self, method: str, count: int = 1, *, timeout: float = 5.0
    ) -> list[Call]:
        """Block until ``count`` successful calls of ``method`` arrived (TimeoutError otherwise)."""
        return self.log.wait_for_calls(method, count, timeout=timeout)

    @property
    def channels(self) -> list[Channel]:
        """Every channel, in creation order."""
        with self.workspace.lock:
            return list(self.workspace.channels.values())

    def channel(self, ref: str) -> Channel:
        """A channel by id, name or ``#name`` (KeyError when absent)."""
        try:
            return self.workspace.channel(ref)
        except SlackError:
            raise KeyError(ref) from None

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages of a channel oldest first, including metadata and thread replies."""
        with self.workspace.lock:
            return [dict(m) for m in self.channel(channel).messages]

    @property
    def served_429(self) -> int:
        """How many 429s were served (pacing and injected)."""
        return self.log.served_429

    @property
    def served_5xx(self) -> int:
        """How many 5xx were served (injected)."""
        return self.log.served_5xx

    # ----------------------------------------------------------------- HTTP
    def _new_workspace(self) -> Workspace:
        ws = Workspace(channels=self._channel_names, scopes=self.scopes)
        for user_id, name, email in self._users:
            ws.add_user(name, email, user_id=user_id)
        return ws

    def _handle(self, request: Request) -> Response:
        if request.path.startswith(slack_files_views.UPLOAD_PATH_PREFIX):
            return self._handle_upload(request)
        if not request.path.startswith("/api/"):
            return Response(
                status=404, body=b"Not Found", headers={"Content-Type": "text/plain"}
            )
        name = request.path[len("/api/") :]
        params: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        status, headers = 200, {"X-Slack-Req-Id": uuid.uuid4().hex}
        payload: dict[str, Any] | None = None
        try:
            params.update(_decode_body(request))
        except SlackError as err:
            payload = {"ok": False, "error": err.code}
        if payload is None:
            status, payload, extra = self._answer(name, params, request)
            headers.update(extra)
        self.log.record(
            Call(
                method=name,
                params={k: v for k, v in params.items() if k != "token"},
                time=time.time(),
                status=status,
                error=None if payload.get("ok") else str(payload.get("error")),
                headers={
                    k: v for k, v in request.headers.items() if k != "authorization"
                },
                response=payload,
            )
        )
        return Response.json(payload, status=status, headers=headers)

    def _answer(
        self, name: str, params: dict[str, Any], request: Request
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        fault = self.faults.take(name)
        if fault is not None:
            if fault.status == 429:
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(fault.retry_after or 1)},
                )
            if fault.status >= 500:
                extra = (
                    {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                )
                return (
                    fault.status,
                    {
                        "ok": False,
                        "error": _SERVER_ERRORS.get(fault.status, "fatal_error"),
                    },
                    extra,
                )
            return (
                fault.status,
                {"ok": False, "error": fault.error or "fatal_error"},
                {},
            )
        auth = request.header("authorization") or ""
        token = (
            auth[len("Bearer ") :].strip()
            if auth.startswith("Bearer ")
            else str(params.get("token", ""))
        )
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if name == "apps.connections.open":
            return self._connections_open(token)
        if token == self.app_token:
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = REGISTRY.get(name)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": name}, {}
        limiter = self._limiter
        if limiter is not None:
            retry_after = limiter.check(name, str(params.get("channel") or "") or None)
            if retry_after is not None:
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(retry_after)},
                )
        workspace = self.workspace
        try:
            with workspace.lock:
                result = handler(
                    Ctx(ws=workspace, params=Params(params), base_url=self.base_url)
                )
        except SlackError as err:
            return 200, {"ok": False, "error": err.code, **err.extra}, {}
        return 200, {"ok": True, **result}, {}

    def _connections_open(self, token: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Socket Mode's URL: only for the app-level token, and only with Socket Mode on."""
        if token == self.token:
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        if token != self.app_token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if self.socket_mode is None:
            return 200, {"ok": False, "error": "socket_mode_not_enabled"}, {}
        return 200, {"ok": True, "url": self.socket_mode.new_url()}, {}

    def _handle_upload(self, request: Request) -> Response:
        token = request.path[len(slack_files_views.UPLOAD_PATH_PREFIX) :]
        accepted = request.method == "POST" and slack_files_views.receive_upload(
            self.workspace, token, request.body
        )
        status = 200 if accepted else 404
        self.log.record(
            Call(
                method=UPLOAD_METHOD,
                params={"bytes": len(request.body)},
                time=time.time(),
                status=status,
            )
        )
        if not accepted:
            return Response(
                status=404,
                body=b"upload URL unknown or already used",
                headers={"Content-Type": "text/plain"},
            )
        return Response(
            status=200,
            body=f"OK - {len(request.body)}".encode(),
            headers={"Content-Type": "text/plain"},
        )
