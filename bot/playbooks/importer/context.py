"""State shared while one runbook is imported: its lines, the report, and what is file-wide."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from markdown_it.tree import SyntaxTreeNode

from bot.domain.severity import Severity
from bot.playbooks.importer import escalation as esc
from bot.playbooks.importer.drafts import Draft, Note, StatedLevel
from bot.playbooks.importer.frontmatter import FrontMatter
from bot.playbooks.importer.markdown import Block, Section, line_of, source_of
from bot.playbooks.importer.report import ImportReport, SectionOutcome
from bot.playbooks.importer.steps import Leftover
from bot.playbooks.importer.text import clean_title
from bot.playbooks.schema import SeverityDefinition


@dataclass
class ImportContext:
    lines: list[str]
    source: str
    severity_words: Mapping[str, Severity]
    used_ids: set[str]
    front: FrontMatter = field(default_factory=FrontMatter)
    report: ImportReport = field(init=False)
    drafts: list[Draft] = field(default_factory=list)
    file_levels: list[esc.LevelDraft] = field(default_factory=list)
    severity_definitions: list[SeverityDefinition] = field(default_factory=list)
    reference: list[Note] = field(default_factory=list)
    alert_drafts: dict[str, Draft] = field(default_factory=dict)
    #: heading line -> the playbook its prose-only parts (``### Mitigation``) became
    part_drafts: dict[int, Draft] = field(default_factory=dict)
    #: alert name -> severities a ``| Alert | Severity |`` table states for it
    table_severities: dict[str, list[StatedLevel]] = field(default_factory=dict)
    #: lines of those tables, so the reference notes say what became of them
    severity_table_lines: set[int] = field(default_factory=set)
    #: heading -> id an earlier import of this runbook gave it (kept on re-import)
    preferred_ids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.report = ImportReport(self.source)

    def outcome(self, section: Section, outcome: str) -> None:
        if section.level > 0:
            self.report.sections.append(SectionOutcome(section.title, section.line, outcome))

    def outcome_below(self, section: Section, outcome: str) -> None:
        for child in section.walk()[1:]:
            self.outcome(child, outcome)

    def note(self, draft: Draft, where: str, leftover: Leftover) -> None:
        text = source_of(leftover.block, self.lines)
        if text.strip():
            draft.notes.append(Note(where, line_of(leftover.block), leftover.reason, text))

    def to_reference(self, section: Section, blocks: Sequence[Block], reason: str) -> None:
        for block in blocks:
            if isinstance(block, SyntaxTreeNode) and block.type == "hr":
                continue
            self.reference_leftover(section, Leftover(block, reason))

    def reference_leftover(self, section: Section, leftover: Leftover) -> None:
        text = source_of(leftover.block, self.lines)
        if text.strip():
            where = clean_title(section.title) or "(top of file)"
            line = line_of(leftover.block)
            reason = "per-alert severity table: read into each listed alert's playbook" if line in self.severity_table_lines else leftover.reason
            self.reference.append(Note(where, line, reason, text))
