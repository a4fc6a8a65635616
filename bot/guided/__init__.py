"""Guided steps: attach playbooks to incidents, track their steps, fire step deadlines.

The composition root builds :class:`GuidedSteps` (a declare hook and two subscribers),
registers its verbs with :func:`register_verbs`, and runs a :class:`DeadlineTicker` in the
worker role. The registry is loaded leniently from ``FIREBREAK_PLAYBOOKS_DIR``
(:func:`bot.playbooks.registry.load_registry`): a broken file is logged and skipped, never a
reason for the server not to start.
"""

from __future__ import annotations

from bot.guided.commands import register as register_verbs
from bot.guided.deadlines import DeadlineTicker, fire_due_step_deadlines
from bot.guided.notify import guide_poster
from bot.guided.service import EscalateNow, Escalates, GuidedSteps, facts_for

__all__ = [
    "DeadlineTicker",
    "EscalateNow",
    "Escalates",
    "GuidedSteps",
    "facts_for",
    "fire_due_step_deadlines",
    "guide_poster",
    "register_verbs",
]
