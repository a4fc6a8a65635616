"""The Bolt app and everything the Slack adapter is made of, built from settings."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.commands import CommandRouter
from bot.chat.slack.commands import register_commands
from bot.chat.slack.deliverer import DeliveryContext, SlackConfig, SlackDeliverer
from bot.chat.slack.events import register_events
from bot.chat.slack.gateway import SlackGateway
from bot.chat.slack.interactions import register_interactions
from bot.chat.slack.pacing import Pacer
from bot.chat.slack.people import SlackDirectory
from bot.domain.clock import Clock
from bot.service.incidents import IncidentService
from bot.settings import Settings
from bot.store.db import SessionFactory


@dataclass
class SlackRuntime:
    app: AsyncApp
    client: AsyncWebClient
    pacer: Pacer
    gateway: SlackGateway
    deliverer: SlackDeliverer
    handler: AsyncSlackRequestHandler


def build_app(settings: Settings, client: AsyncWebClient, router: CommandRouter, service: IncidentService) -> AsyncApp:
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        request_verification_enabled=bool(settings.slack_signing_secret),
        process_before_response=False,
        ignoring_self_events_enabled=True,
    )
    directory = SlackDirectory(client, admins=settings.admins)
    register_commands(app, router, service, directory)
    register_interactions(app, router, service, directory)
    register_events(app, service, flag_reaction=settings.slack_flag_reaction, router=router, directory=directory)
    return app


def build_runtime(
    settings: Settings,
    *,
    sessions: SessionFactory,
    clock: Clock,
    router: CommandRouter,
    service: IncidentService,
    pacer: Pacer | None = None,
) -> SlackRuntime:
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=15)
    # The pacer keeps the outbox's time, so a Retry-After means the same thing to both.
    pacer = pacer or Pacer(monotonic=lambda: clock.now().timestamp())
    gateway = SlackGateway(client, pacer)
    config = SlackConfig(
        incidents_channel=settings.slack_incidents_channel, archive_after_seconds=settings.slack_archive_after_seconds
    )
    deliverer = SlackDeliverer(DeliveryContext(gateway=gateway, sessions=sessions, clock=clock, config=config))
    app = build_app(settings, client, router, service)
    return SlackRuntime(
        app=app, client=client, pacer=pacer, gateway=gateway, deliverer=deliverer, handler=AsyncSlackRequestHandler(app)
    )
