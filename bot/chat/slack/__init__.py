"""The Slack chat backend: Bolt app, deliverer, pacing, Block Kit.

``install(container)`` is the one entry point (called from ``build_container``); without
Slack credentials it does nothing and the console backend stays in charge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.chat.slack.app import SlackRuntime, build_runtime
from bot.chat.slack.http import slack_routes
from bot.chat.slack.socket_mode import socket_mode_task
from bot.chat.slack.status import PauseCollector, pause_note
from bot.chat.slack.subscriber import make_slack_subscriber
from bot.service.chat_notifications import CHAT

if TYPE_CHECKING:
    from bot.container import Container

__all__ = ["SlackRuntime", "install"]


def install(container: Container) -> SlackRuntime | None:
    settings = container.settings
    if container.local_mode:
        return None
    runtime = build_runtime(
        settings, sessions=container.sessions, clock=container.clock, router=container.commands, service=container.service
    )
    runtime.deliverer.context.oncall = container.oncall
    container.worker.add_deliverer(CHAT, runtime.deliverer)
    container.service.subscribers.append(make_slack_subscriber(archive_after_seconds=settings.slack_archive_after_seconds))
    if settings.slack_signing_secret:
        container.routes.extend(slack_routes(runtime.handler, settings.slack_signing_secret, runtime.seen))
    if settings.slack_app_token:
        container.web_background.append(socket_mode_task(runtime.app, settings.slack_app_token, runtime.seen))
    container.metrics.registry.register(PauseCollector(runtime.pause))
    container.readiness_notes.append(lambda: pause_note(runtime.pause))
    container.slack = runtime
    return runtime
