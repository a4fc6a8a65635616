"""What every web-view handler shares: the database, the templates, sign-in and rendering.

``render`` is the one way a page leaves: it adds the signed-in user, the CSRF token of the
session (issuing a session cookie when there is none yet) and the security headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.domain.clock import Clock
from bot.export.service import Exporter
from bot.store.db import SessionFactory
from bot.webview import auth, sessions, signouts
from bot.webview.auth import AuthConfig
from bot.webview.ratelimit import AttemptLimiter
from bot.webview.security import secure
from bot.webview.sessions import Session
from bot.webview.templating import make_environment

T = TypeVar("T")


@dataclass
class WebContext:
    db: SessionFactory
    exporter: Exporter
    auth: AuthConfig
    zone: ZoneInfo
    clock: Clock
    public_url: str | None = None
    slack_enabled: bool = False
    #: How often an open incident page's event stream looks for changes.
    poll_seconds: float = 1.0
    #: Read-write sessions, for the one thing the web view writes: a sign-out.
    writer: SessionFactory | None = None
    #: Token sign-in attempts per client address (bot/webview/ratelimit.py).
    signin_limiter: AttemptLimiter = field(default_factory=AttemptLimiter)
    templates: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.templates = make_environment(self.zone)

    async def warm_up(self, stop: asyncio.Event) -> None:
        """A web-role loop: compile every template once the server starts, so the first
        visitor does not wait for it (and commands that only build the container never do)."""
        await asyncio.to_thread(lambda: [self.templates.get_template(name) for name in self.templates.list_templates(extensions=["html"])])
        await stop.wait()

    async def read(self, work: Callable[[DbSession], T]) -> T:
        """Run ``work`` in one read transaction, off the event loop."""

        def run() -> T:
            with self.db() as session:
                return work(session)

        return await run_in_threadpool(run)

    async def signed_in(self, request: Request) -> str | None:
        """The signed-in user (by the proxy, or a session not signed out), or None.

        Every handler asks this before reading anything; the answer is kept on the request
        for ``render``."""
        user = auth.proxy_user(request, self.auth)
        if user is None:
            session = auth.signed_in_session(request, self.auth)
            if session is not None and not await self.read(lambda s: signouts.is_signed_out(s, session.sid)):
                user = session.user
        request.state.user = user
        return user

    async def sign_out(self, session: Session) -> None:
        if not session.sid or self.writer is None:
            return
        writer = self.writer

        def run() -> None:
            with writer.begin() as db:
                signouts.sign_out(db, session.sid, session.expires)

        await run_in_threadpool(run)

    def user(self, request: Request) -> str | None:
        """The user ``signed_in`` found for this request (None when it was not asked)."""
        return getattr(request.state, "user", None)

    def refuse(self, request: Request, *, page: bool) -> Response:
        """The answer to a request without sign-in: pages go to the sign-in page, the rest get 401."""
        if page and self.auth.enabled:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return secure(RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303))
        if page:
            return self.render(request, "closed.html", status=403)
        return secure(Response("sign in first\n", status_code=401, media_type="text/plain; charset=utf-8"))

    def set_session(self, response: Response, session: Session) -> None:
        response.set_cookie(
            sessions.COOKIE,
            sessions.encode(session, self.auth.key),
            max_age=sessions.LIFETIME_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.auth.secure_cookies,
        )

    def render(self, request: Request, template: str, *, status: int = 200, session: Session | None = None, **values: Any) -> Response:
        existing = auth.session_of(request, self.auth)
        current = session or existing or Session.anonymous()
        body = self.templates.get_template(template).render(
            user=self.user(request) if session is None else session.user,
            csrf=current.csrf,
            auth=self.auth,
            path=request.url.path,
            **values,
        )
        response = secure(HTMLResponse(body, status_code=status))
        if current is not existing:
            self.set_session(response, current)
        return response

    def incident_url(self, number: int) -> str | None:
        return f"{self.public_url}/incidents/{number}" if self.public_url else None
