"""The web view built from settings: its routes, its start-up warm-up and what to warn about."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from starlette.routing import BaseRoute

from bot.domain.clock import Clock
from bot.export.service import Exporter
from bot.settings import Settings
from bot.store.db import SessionFactory
from bot.webview import pages, postmortem, signin, sse, static
from bot.webview.auth import AuthConfig
from bot.webview.context import WebContext
from bot.webview.reader import reader_sessions


@dataclass(frozen=True)
class WebView:
    """What the composition root adds to the web process: routes, a start-up task, warnings."""

    context: WebContext
    routes: list[BaseRoute]
    warm_up: Callable[[asyncio.Event], Awaitable[None]]
    warnings: list[str] = field(default_factory=list)


def web_routes(context: WebContext) -> list[BaseRoute]:
    return [*static.routes(), *signin.routes(context), *pages.routes(context), *postmortem.routes(context), *sse.routes(context)]


def build_webview(settings: Settings, *, engine: Engine, sessions: SessionFactory, clock: Clock, exporter: Exporter) -> WebView:
    config = AuthConfig.build(
        token=settings.web_token,
        user_header=settings.web_user_header,
        trusted=settings.web_trusted_proxies,
        secret=settings.web_session_secret,
        public_url=settings.public_url,
    )
    warnings: list[str] = []
    if settings.web_user_header and not settings.web_trusted_proxies:
        warnings.append("FIREBREAK_WEB_USER_HEADER is set without FIREBREAK_WEB_TRUSTED_PROXIES: the header is believed from nobody")
    context = WebContext(
        db=reader_sessions(engine, sessions),
        exporter=exporter,
        auth=config,
        zone=settings.zone,
        clock=clock,
        public_url=settings.public_url,
        slack_enabled=settings.slack_enabled,
        writer=sessions,
    )
    return WebView(context=context, routes=web_routes(context), warm_up=context.warm_up, warnings=warnings)
