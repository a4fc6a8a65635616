"""What the importer collects for one playbook before it becomes a :class:`Playbook`."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.severity import Severity
from bot.playbooks.importer import escalation as esc
from bot.playbooks.importer.markdown import Block, Section
from bot.playbooks.importer.text import clean_title
from bot.playbooks.schema import Phase, Step


@dataclass(frozen=True)
class Note:
    """A block placed in notes: where it was, why, and its markdown."""

    where: str
    line: int
    reason: str
    text: str


@dataclass
class Segment:
    """A labelled part of an incident section (``**Symptoms:**`` or ``### Diagnosis``)."""

    kind: str | None
    label: str | None
    line: int
    blocks: list[Block] = field(default_factory=list)


@dataclass
class StatedLevel:
    """A severity the runbook states for this playbook, with the line it was read from."""

    word: str
    level: Severity | None
    line: int


@dataclass
class Draft:
    section: Section
    kind: str  # incident | procedure
    title_text: str | None = None
    phases: list[Phase] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    levels: list[esc.LevelDraft] = field(default_factory=list)
    deadline_steps: list[tuple[Step, esc.LevelDraft]] = field(default_factory=list)
    description: list[str] = field(default_factory=list)
    alertnames: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    runbook: list[str] = field(default_factory=list)
    severity: Severity | None = None
    stated: list[StatedLevel] = field(default_factory=list)
    owner: str | None = None
    tags: list[str] = field(default_factory=list)
    heading: str = ""
    id: str = ""

    @property
    def title(self) -> str:
        return self.title_text or clean_title(self.section.title) or "Imported runbook"


def add_unique(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def notes_text(notes: list[Note]) -> str:
    return "\n\n".join(f"[{note.where}, line {note.line}]\n{note.text}" for note in notes)
