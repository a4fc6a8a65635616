"""Playbooks → Slack: the current phase's steps, with Done/Skip, on the pinned summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.chat.slack.blocks import StepView
from bot.playbooks.guide import GuideView

if TYPE_CHECKING:
    from bot.chat.slack.context import StepsProvider
    from bot.guided import GuidedSteps


def steps_from_guide(view: GuideView | None) -> Sequence[StepView]:
    """Only the current phase: the summary is a guide for now, not the whole playbook."""
    if view is None or view.phase is None:
        return ()
    steps = []
    for step in view.phase.steps:
        text = step.text + "".join(f"\n`{command}`" for command in step.commands)
        steps.append(StepView(number=step.number, text=text, state=step.status, phase=view.phase.title))
    return tuple(steps)


def summary_steps(guided: GuidedSteps) -> StepsProvider:
    """For the Slack deliverer: incident number → the steps its pinned summary shows."""
    return lambda number: steps_from_guide(guided.view(number))
