"""The Bolt app and everything the Slack adapter is made of, built from settings.

Every correctly signed request is answered 2xx: Slack shows a user an error for anything
else and counts it against the app, and retries events it thinks we missed. A request no
listener wants (a button of another app version, a closed modal, an event we are subscribed
to but do not act on) is acknowledged and logged, over HTTP and Socket Mode alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.commands import CommandRouter
from bot.chat.slack.commands import register_commands
from bot.chat.slack.context import DeliveryContext, SlackConfig, StepsProvider
from bot.chat.slack.deliverer import SlackDeliverer
from bot.chat.slack.events import register_events
from bot.chat.slack.gateway import SlackGateway
from bot.chat.slack.interactions import register_interactions
from bot.chat.slack.pacing import Pacer
from bot.chat.slack.pause import DeliveryPause
from bot.chat.slack.people import SlackDirectory
from bot.chat.slack.replay import SeenRequests
from bot.chat.slack.usergroups import UserGroupHandles
from bot.domain.clock import Clock
from bot.service.incidents import IncidentService
from bot.service.oncall import OncallDirectory
from bot.settings import Settings
from bot.store.db import SessionFactory

log = logging.getLogger(__name__)


@dataclass
class SlackRuntime:
    app: AsyncApp
    client: AsyncWebClient
    pacer: Pacer
    gateway: SlackGateway
    deliverer: SlackDeliverer
    handler: AsyncSlackRequestHandler
    pause: DeliveryPause
    seen: SeenRequests


def describe_request(body: dict[str, object]) -> str:
    """What kind of request this is, for the log line of one nobody handles."""
    kind = str(body.get("type") or ("slash_command" if body.get("command") else "unknown"))
    event = body.get("event")
    if kind == "event_callback" and isinstance(event, dict):
        return f"event {event.get('type')!r}"
    actions = body.get("actions")
    if isinstance(actions, list) and actions:
        first = actions[0]
        return f"{kind} {first.get('action_id')!r}" if isinstance(first, dict) else kind
    view = body.get("view")
    if isinstance(view, dict):
        return f"{kind} {view.get('callback_id')!r}"
    return kind


async def acknowledge_unhandled(error: Exception, request: AsyncBoltRequest, response: BoltResponse | None) -> BoltResponse | None:
    """Bolt's error handler: a request without a listener is acknowledged (200), not 404."""
    if isinstance(error, BoltUnhandledRequestError):
        log.info("slack request acknowledged without a listener", extra={"request": describe_request(request.body)})
        return BoltResponse(status=200, body="")
    log.error("slack listener failed", exc_info=error)
    return None


def build_app(
    settings: Settings, client: AsyncWebClient, router: CommandRouter, service: IncidentService, pause: DeliveryPause
) -> AsyncApp:
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        request_verification_enabled=bool(settings.slack_signing_secret),
        process_before_response=False,
        ignoring_self_events_enabled=True,
        raise_error_for_unhandled_request=True,
    )
    app.error(acknowledge_unhandled)
    directory = SlackDirectory(client, admins=settings.admins)
    register_commands(app, router, service, directory)
    register_interactions(app, router, service, directory)
    register_events(app, service, pause, flag_reaction=settings.slack_flag_reaction, router=router, directory=directory)
    return app


def build_runtime(
    settings: Settings,
    *,
    sessions: SessionFactory,
    clock: Clock,
    router: CommandRouter,
    service: IncidentService,
    oncall: OncallDirectory | None = None,
    steps: StepsProvider | None = None,
    pacer: Pacer | None = None,
) -> SlackRuntime:
    """``oncall``: who to invite into a new channel; ``steps``: the playbook steps its pinned summary shows."""
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=15)
    # The pacer keeps the outbox's time, so a Retry-After means the same thing to both.
    pacer = pacer or Pacer(monotonic=lambda: clock.now().timestamp())
    gateway = SlackGateway(client, pacer)
    config = SlackConfig(
        incidents_channel=settings.slack_incidents_channel,
        archive_after_seconds=settings.slack_archive_after_seconds,
        public_url=settings.public_url,
    )
    pause = DeliveryPause(sessions, clock, settings.slack_bot_token or "")
    deliverer = SlackDeliverer(DeliveryContext(
            gateway=gateway, sessions=sessions, clock=clock, config=config, oncall=oncall, steps=steps, pause=pause, usergroups=UserGroupHandles(gateway)
        ))
    app = build_app(settings, client, router, service, pause)
    return SlackRuntime(
        app=app,
        client=client,
        pacer=pacer,
        gateway=gateway,
        deliverer=deliverer,
        handler=AsyncSlackRequestHandler(app),
        pause=pause,
        seen=SeenRequests(sessions),
    )
