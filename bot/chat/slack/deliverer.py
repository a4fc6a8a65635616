"""The chat deliverer for Slack: one outbox operation in, a few paced Web API calls out.

Operations and their payloads are listed in ``bot.chat.operations``. Results that must be
remembered (channel id, summary ts) are stored through ``DeliveryResult.record``, in the
transaction that marks the message delivered, so a crash can never store half of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.chat import operations as ops
from bot.chat.slack import messaging, setup
from bot.chat.slack.context import DeliveryContext, SlackConfig, StepsProvider
from bot.chat.slack.gateway import SlackCallFailed, counting_calls
from bot.chat.slack.pacing import delivering
from bot.chat.slack.pause import AUTH_ERRORS
from bot.delivery.message import DeliveryError, DeliveryResult, OutboxMessage
from bot.domain.errors import IncidentNotFound
from bot.service.chat_notifications import OPEN_INCIDENT, POST, REFRESH_SUMMARY

log = logging.getLogger(__name__)

PAUSED_RETRY_SECONDS = 60.0
"""While paused, each queued message looks again this often (without spending an attempt)."""

__all__ = ["OPERATIONS", "DeliveryContext", "SlackConfig", "SlackDeliverer", "StepsProvider"]


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
