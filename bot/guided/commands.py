"""``/incident run``, ``/incident step`` and the guide under ``/incident status``.

Registered on the shared :class:`CommandRouter`, so Slack and the console get the same
replies; errors are raised as domain errors and the router turns them into usage replies.
"""

from __future__ import annotations

from bot.chat.commands import CommandContext, CommandRouter, Handler, Reply
from bot.chat.grammar import USAGE, ParsedCommand
from bot.domain.errors import InvalidCommand
from bot.guided.service import GuidedSteps
from bot.playbooks.guide import DONE, SKIPPED

_STEP_ACTIONS = {"done": DONE, "skip": SKIPPED, "skipped": SKIPPED, "complete": DONE}


def run_handler(guided: GuidedSteps, router: CommandRouter) -> Handler:
    def handle(command: ParsedCommand, context: CommandContext) -> Reply:
        if len(command.args) != 1:
            known = ", ".join(guided.registry.ids()) or "none loaded"
            raise InvalidCommand(f"Usage: {USAGE['run']}\nPlaybooks: {known}")
        number = router.incident_for(command, context)
        incident = guided.run(number, command.args[0], actor=context.actor, source=context.source)
        return Reply(f"📋 {incident.ref}: playbook {incident.playbook_id} attached", incident=number, public=True)

    return handle


def step_handler(guided: GuidedSteps, router: CommandRouter) -> Handler:
    def handle(command: ParsedCommand, context: CommandContext) -> Reply:
        if len(command.args) != 2 or command.args[0].lower() not in _STEP_ACTIONS:
            raise InvalidCommand(f"Usage: {USAGE['step']}")
        action = _STEP_ACTIONS[command.args[0].lower()]
        text = command.args[1].lstrip("#")
        if not text.isdigit() or int(text) < 1:
            raise InvalidCommand(f"{command.args[1]!r} is not a step number.\nUsage: {USAGE['step']}")
        number = router.incident_for(command, context)
        marked = guided.mark(number, int(text), action, actor=context.actor, source=context.source)
        icon = "☑️" if action == DONE else "⏭️"
        return Reply(f"{icon} {marked.incident.ref}: step {marked.step} {action} by {context.actor}", incident=number, public=True)

    return handle


def status_handler(guided: GuidedSteps, router: CommandRouter, previous: Handler | None) -> Handler:
    """The summary as before, then the current phase of the attached playbook."""

    def handle(command: ParsedCommand, context: CommandContext) -> Reply:
        number = router.incident_for(command, context)
        reply = previous(command, context) if previous is not None else Reply("", incident=number)
        guide = guided.guide_text(number)
        if guide is None:
            return reply
        reply.text = f"{reply.text}\n{guide}" if reply.text else guide
        return reply

    return handle


def register(router: CommandRouter, guided: GuidedSteps) -> None:
    router.register("run", run_handler(guided, router))
    router.register("step", step_handler(guided, router))
    router.register("status", status_handler(guided, router, router.handler("status")))
