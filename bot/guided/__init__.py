"""Guided steps: attach playbooks to incidents, track their steps, fire step deadlines.

:func:`install` is the one wiring call ``build_container`` makes. The registry is loaded
leniently from ``FIREBREAK_PLAYBOOKS_DIR``: a broken file is logged and skipped, never a
reason for the server not to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.guided.deadlines import DeadlineTicker, fire_due_step_deadlines
from bot.guided.service import EscalateNow, GuidedSteps, facts_for

if TYPE_CHECKING:
    from bot.container import Container
    from bot.playbooks.registry import PlaybookRegistry

__all__ = ["DeadlineTicker", "EscalateNow", "GuidedSteps", "facts_for", "fire_due_step_deadlines", "install"]


def install(
    container: Container, *, registry: PlaybookRegistry | None = None, escalate_now: EscalateNow | None = None
) -> GuidedSteps:
    """Wire guided steps into ``container``: declare hook, guide posts, verbs, deadline loop."""
    from bot.guided import commands
    from bot.guided.notify import guide_poster
    from bot.playbooks.registry import load_registry, log_registry

    if registry is None:
        registry = load_registry(container.settings.playbooks_dir)
        log_registry(registry)
    guided = GuidedSteps(container.service, registry, zone=container.settings.zone)
    container.service.declare_hooks.append(guided.on_declare)
    container.service.subscribers.append(guide_poster(guided))
    container.service.subscribers.append(guided.on_raised)
    commands.register(container.commands, guided)
    ticker = DeadlineTicker(container.service, escalate_now=escalate_now)
    guided.deadlines = ticker
    container.background.append(ticker.run)
    container.guided = guided
    return guided
