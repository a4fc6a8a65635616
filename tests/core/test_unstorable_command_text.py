"""A command whose text PostgreSQL cannot store (a NUL, a lone surrogate) still does what it
says, the character kept as U+FFFD, instead of failing the write with no answer."""

from __future__ import annotations

from bot.chat.commands import CommandContext
from bot.container import Container
from bot.domain.timeline import EntryKind, Source

CONSOLE = CommandContext(actor="alice", source=Source.CONSOLE)


def test_nul_and_lone_surrogates_in_typed_commands_are_kept_as_replacement_characters(container: Container) -> None:
    declared = container.commands.handle("/incident declare nul\x00title P3", CONSOLE)
    assert not declared.refused and "INC-1" in declared.text, declared.text
    incident = container.service.get(1)
    assert incident.title == "nul\ufffdtitle"

    noted = container.commands.handle("/incident note INC-1 half \ud800 a pair and a \x00", CONSOLE)
    assert not noted.refused and "⚠️" not in noted.text, noted.text
    notes = [entry.text for entry in container.service.timeline(1) if entry.kind is EntryKind.NOTE]
    assert notes == ["half \ufffd a pair and a \ufffd"]
