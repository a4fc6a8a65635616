"""Escalation timers and reminders: planning on incident changes, firing from a scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.domain.escalation_parse import parse_policy
from bot.schedule.commands import escalate_handler
from bot.schedule.engine import EscalationEngine
from bot.schedule.leader import leader_lock_for
from bot.schedule.planner import EscalationPlanner, PolicyLookup
from bot.schedule.runner import EscalationRunner
from bot.service.incidents import IncidentService
from bot.settings import Settings

__all__ = ["Escalation", "EscalationEngine", "EscalationPlanner", "EscalationRunner", "build_escalation", "escalate_handler"]


@dataclass(frozen=True)
class Escalation:
    #: Re-plans deadlines on every change (an incident service subscriber).
    planner: EscalationPlanner
    #: Fires due deadlines and reminders; ``/incident escalate`` goes through it too.
    engine: EscalationEngine
    #: The scheduler loop of the worker role (one leader among replicas).
    runner: EscalationRunner


def build_escalation(settings: Settings, service: IncidentService, database: Engine, *, lookup: PolicyLookup | None = None) -> Escalation:
    """``lookup``: an incident's own policy (its playbook's), None for the default one."""
    planner = EscalationPlanner(parse_policy(settings.default_escalation_policy), settings.escalation_speed, lookup=lookup)
    engine = EscalationEngine(service, planner, reminder_after_seconds=settings.reminder_after_seconds)
    return Escalation(planner=planner, engine=engine, runner=EscalationRunner(engine, leader_lock_for(database)))
