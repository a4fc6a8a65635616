"""Wiring the export feature into the container: one call from ``build_container``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.export.chat import PostDraftOnResolve, export_handler, timeline_handler
from bot.export.http import postmortem_routes
from bot.export.service import Exporter

if TYPE_CHECKING:
    from bot.container import Container


def install(container: Container) -> Exporter:
    settings = container.settings
    exporter = Exporter(container.sessions, clock=container.clock, zone=settings.zone, templates_dir=settings.templates_dir, public_url=settings.public_url)
    container.service.subscribers.append(PostDraftOnResolve(exporter))
    container.commands.register("timeline", timeline_handler(container.commands, exporter))
    container.commands.register("export", export_handler(container.commands, exporter))
    container.routes.extend(postmortem_routes(exporter, settings.api_token))
    return exporter
