"""Wiring the web view into the container: its routes on the web app, from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from bot.webview import pages, postmortem, signin, sse, static
from bot.webview.auth import AuthConfig
from bot.webview.context import WebContext
from bot.webview.reader import reader_sessions

if TYPE_CHECKING:
    from bot.container import Container
    from bot.export.service import Exporter


def web_routes(context: WebContext) -> list[BaseRoute]:
    return [*static.routes(), *signin.routes(context), *pages.routes(context), *postmortem.routes(context), *sse.routes(context)]


def install(container: Container, exporter: Exporter) -> WebContext:
    settings = container.settings
    config = AuthConfig.build(
        token=settings.web_token,
        user_header=settings.web_user_header,
        trusted=settings.web_trusted_proxies,
        secret=settings.web_session_secret,
        public_url=settings.public_url,
    )
    if settings.web_user_header and not settings.web_trusted_proxies:
        container.startup_warnings.append(
            "FIREBREAK_WEB_USER_HEADER is set without FIREBREAK_WEB_TRUSTED_PROXIES: the header is believed from nobody"
        )
    context = WebContext(
        db=reader_sessions(container.engine, container.sessions),
        exporter=exporter,
        auth=config,
        zone=settings.zone,
        clock=container.clock,
        public_url=settings.public_url,
        slack_enabled=settings.slack_enabled,
    )
    container.routes.extend(web_routes(context))
    container.web_background.append(context.warm_up)
    return context
