"""What an import made and where every section went, printed by the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PlaybookSummary:
    id: str
    title: str
    kind: str  # incident | procedure | reference
    phases: int
    steps: int
    escalation_levels: int
    notes: int  # number of note entries placed in the playbook's notes
    alerts: list[str] = field(default_factory=list)
    severity: str | None = None

    def line(self) -> str:
        return (
            f"{self.id} [{self.kind}] {self.phases} phase(s), {self.steps} step(s), "
            f"{self.escalation_levels} escalation level(s), {self.notes} note(s)"
        )


@dataclass
class NoteEntry:
    playbook_id: str
    section: str
    line: int
    reason: str


@dataclass
class SectionOutcome:
    title: str
    line: int
    outcome: str


@dataclass
class ImportReport:
    source: str
    playbooks: list[PlaybookSummary] = field(default_factory=list)
    notes: list[NoteEntry] = field(default_factory=list)
    sections: list[SectionOutcome] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"Imported {self.source}: {len(self.playbooks)} playbook(s)"]
        lines.extend(f"  {item.line()}" for item in self.playbooks)
        lines.extend(self.placed_lines())
        return "\n".join(lines)

    def placed_lines(self, indent: str = "") -> list[str]:
        """What went to notes and why, then the assumptions to review."""
        lines: list[str] = []
        if self.notes:
            lines.append(f"{indent}Placed in notes ({len(self.notes)}):")
            lines.extend(f"{indent}  line {n.line}: {n.section} -> {n.playbook_id}: {n.reason}" for n in self.notes)
        if self.assumptions:
            lines.append(f"{indent}Assumptions to review:")
            lines.extend(f"{indent}  {text}" for text in self.assumptions)
        return lines
