"""``/incident escalate [reason]``: the chat side of a manual escalation."""

from __future__ import annotations

from bot.chat.commands import CommandContext, CommandRouter, Handler, Reply
from bot.chat.grammar import ParsedCommand
from bot.schedule.engine import EscalationEngine


def escalate_handler(router: CommandRouter, engine: EscalationEngine) -> Handler:
    def handle(command: ParsedCommand, context: CommandContext) -> Reply:
        number = router.incident_for(command, context)
        done = engine.escalate_now(number, actor=context.actor, source=context.source, reason=command.text)
        who = ", ".join(target.label for target in done.targets)
        return Reply(f"📣 {done.incident.ref} escalated to level {done.level}: {who}", incident=number, public=True)

    return handle
