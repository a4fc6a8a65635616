"""How escalations read in the post-mortem to someone who was not there."""

from __future__ import annotations

from bot.chat.commands import CommandContext
from bot.container import Container
from bot.domain.severity import Severity
from bot.domain.timeline import Source


def test_a_manual_escalation_after_the_ack_is_not_called_unacknowledged(berlin: Container) -> None:
    """Escalating by hand records the level's rule (``unacknowledged``) as its condition. The
    post-mortem showed "unacknowledged (manual)" for an incident acknowledged long before,
    as if nobody had answered; a manual escalation is said to be manual, nothing more."""
    number = berlin.service.declare(title="Checkout slow", severity=Severity.P1, actor="alice", source=Source.CONSOLE).number
    berlin.service.acknowledge(number, actor="alice", source=Source.CONSOLE)
    reply = berlin.commands.handle(f"/incident escalate INC-{number} need the payments team", CommandContext(actor="alice", source=Source.CONSOLE))
    assert "escalated" in reply.text
    markdown = berlin.exporter.render(number, "md")
    section = markdown.split("## Escalation", 1)[1].split("\n## ", 1)[0]
    (row,) = [line for line in section.splitlines() if "need the payments team" in line]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3] == "manual", row
