"""Escalation timers and reminders: planning on incident changes, firing from a scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain.escalation_parse import parse_policy
from bot.schedule.commands import escalate_handler
from bot.schedule.engine import EscalationEngine
from bot.schedule.leader import leader_lock_for
from bot.schedule.planner import EscalationPlanner
from bot.schedule.runner import EscalationRunner

if TYPE_CHECKING:
    from bot.container import Container

__all__ = ["EscalationEngine", "EscalationPlanner", "EscalationRunner", "install"]


def install(container: Container) -> EscalationEngine:
    """Subscriber on the incident service, the ``escalate`` verb, the scheduler loop.

    The playbook feature plugs in with ``container.escalation.planner.lookup = fn``
    (``fn(incident) -> EscalationPolicy | None``; None means the default policy).
    """
    settings = container.settings
    planner = EscalationPlanner(parse_policy(settings.default_escalation_policy), settings.escalation_speed)
    container.service.subscribers.append(planner.on_change)
    engine = EscalationEngine(container.service, planner, reminder_after_seconds=settings.reminder_after_seconds)
    container.commands.register("escalate", escalate_handler(container.commands, engine))
    runner = EscalationRunner(engine, leader_lock_for(container.engine))
    container.background.append(runner.run)
    container.escalation = engine
    return engine
