"""The chat deliverer for Slack: one outbox operation in, a few paced Web API calls out.

Operations and their payloads are listed in ``bot.chat.operations``. Results that must be
remembered (channel id, summary ts) are stored through ``DeliveryResult.record``, in the
transaction that marks the message delivered, so a crash can never store half of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.chat import operations as ops
from bot.chat.slack import messaging, setup
from bot.chat.slack.blocks import StepView
from bot.chat.slack.gateway import SlackCallFailed, SlackGateway, counting_calls
from bot.chat.slack.pacing import delivering
from bot.chat.slack.pause import AUTH_ERRORS, DeliveryPause
from bot.chat.slack.usergroups import UserGroupHandles
from bot.delivery.message import DeliveryError, DeliveryResult, OutboxMessage
from bot.domain.clock import Clock
from bot.domain.errors import IncidentNotFound
from bot.service.chat_notifications import OPEN_INCIDENT, POST, REFRESH_SUMMARY
from bot.service.oncall import OncallDirectory
from bot.store.db import SessionFactory

log = logging.getLogger(__name__)

PAUSED_RETRY_SECONDS = 60.0
"""While paused, each queued message looks again this often (without spending an attempt)."""


StepsProvider = Callable[[int], Sequence[StepView]]
"""Playbook steps of an incident for the summary; wired by the playbooks feature if present."""


@dataclass
class SlackConfig:
    incidents_channel: str = "#incidents"
    archive_after_seconds: int = 86400
    #: FIREBREAK_PUBLIC_URL: the summary links to the incident's web page when set.
    public_url: str | None = None

    def page_url(self, number: int) -> str | None:
        return f"{self.public_url}/incidents/{number}" if self.public_url else None


@dataclass
class DeliveryContext:
    gateway: SlackGateway
    sessions: SessionFactory
    clock: Clock
    config: SlackConfig
    oncall: OncallDirectory | None = None
    steps: StepsProvider | None = None
    pause: DeliveryPause | None = None
    usergroups: UserGroupHandles | None = None

    def steps_for(self, number: int) -> Sequence[StepView]:
        if self.steps is None:
            return ()
        try:
            return self.steps(number)
        except Exception:  # the summary must not depend on the playbook feature being healthy
            log.exception("steps provider failed", extra={"incident": number})
            return ()


Operation = Callable[[DeliveryContext, OutboxMessage], Awaitable[DeliveryResult]]

OPERATIONS: dict[str, Operation] = {
    OPEN_INCIDENT: setup.open_incident,
    ops.SET_TOPIC: setup.set_topic,
    ops.PIN_SUMMARY: setup.pin_summary,
    ops.INVITE: setup.invite,
    ops.BOOKMARK: setup.bookmark,
    ops.ANNOUNCE: setup.announce,
    ops.ARCHIVE: setup.archive,
    ops.NOTICE: setup.notice,
    POST: messaging.post,
    REFRESH_SUMMARY: messaging.refresh_summary,
    ops.UPLOAD_FILE: messaging.upload_file,
    ops.POST_EPHEMERAL: messaging.post_ephemeral,
}


class SlackDeliverer:
    def __init__(self, context: DeliveryContext) -> None:
        self.context = context

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        operation = OPERATIONS.get(message.operation)
        if operation is None:
            raise DeliveryError(f"Slack cannot do {message.operation!r}", retryable=False)
        pause = self.context.pause
        paused = await asyncio.to_thread(pause.current) if pause is not None else None
        if paused is not None:
            raise DeliveryError(paused.describe(), retry_after=PAUSED_RETRY_SECONDS, not_sent=True)
        try:
            with counting_calls(), delivering(message.priority):
                return await operation(self.context, message)
        except IncidentNotFound as error:
            raise DeliveryError(str(error), retryable=False) from error
        except SlackCallFailed as error:
            if pause is None or error.code not in AUTH_ERRORS:
                raise
            # The token no longer works: every call would fail alike. Stop, and keep the
            # message (and its attempts) for when a working token is installed.
            state = await asyncio.to_thread(pause.pause, error.code)
            raise DeliveryError(state.describe(), retry_after=PAUSED_RETRY_SECONDS, not_sent=True) from error
