"""What every Slack operation works with: the gateway, the database, the clock, the settings
that matter to Slack, and the optional collaborators (on-call lookup, playbook steps).

A module of its own so the operations (``setup``, ``messaging``) and the deliverer that
dispatches to them do not import each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.chat.slack.blocks import StepView
from bot.chat.slack.gateway import SlackGateway
from bot.chat.slack.pause import DeliveryPause
from bot.chat.slack.usergroups import UserGroupHandles
from bot.domain.clock import Clock
from bot.service.oncall import OncallDirectory
from bot.store.db import SessionFactory

log = logging.getLogger(__name__)


StepsProvider = Callable[[int], Sequence[StepView]]
"""Playbook steps of an incident for the summary (bot/wiring/playbook_slack.py), if any."""


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
