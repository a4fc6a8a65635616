"""Assemble playbooks from a runbook's section tree.

Each heading is classified once: an *incident* (it has Symptoms/Diagnosis/Resolution-like
parts, as sub-headings or bold labels), a *procedure* (deployment, rollback, backup...), a
leaf of steps under an incident-ish parent (troubleshooting), file-wide *escalation* or
*severity* definitions, or *reference* text. Reference text and anything a playbook section
holds that is not a step go to notes, so the report can account for every heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it.tree import SyntaxTreeNode

from bot.domain.severity import Severity
from bot.playbooks.importer import escalation as esc
from bot.playbooks.importer import severity as sev
from bot.playbooks.importer.markdown import (
    Block,
    Heading,
    Section,
    TextBlock,
    flatten,
    inline_text,
    line_of,
    source_of,
    split_label,
)
from bot.playbooks.importer.report import ImportReport, NoteEntry, PlaybookSummary, SectionOutcome
from bot.playbooks.importer.steps import Leftover, StepBuilder, StepDraft, table_cells
from bot.playbooks.importer.text import as_duration, clean_title, slugify, split_sentences
from bot.playbooks.importer.vocabulary import (
    CORE_SEGMENTS,
    INCIDENT_WORDS,
    PHASE_SEGMENTS,
    PROCEDURE_WORDS,
    REFERENCE_WORDS,
    TOC_WORDS,
    has_word,
    label_kind,
    normalise,
)
from bot.playbooks.schema import Phase, Playbook, Step

_GENERIC_TAIL = re.compile(r"\s+(?:issues?|problems?|failures?|errors?|alerts?|incidents?)$", re.IGNORECASE)
_CAMEL = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+$")
_NEUTRAL_SEGMENTS = {"escalation", "notes", "description", "severity"}
_PHASE_FOR_SEGMENT = {"alert": "symptoms", "causes": "diagnosis"}


@dataclass
class Segment:
    kind: str | None
    label: str | None
    line: int
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Draft:
    section: Section
    kind: str
    phases: list[Phase] = field(default_factory=list)
    notes: list[tuple[str, int, str, str]] = field(default_factory=list)  # section, line, reason, text
    levels: list[esc.LevelDraft] = field(default_factory=list)
    deadline_steps: list[tuple[Step, esc.LevelDraft]] = field(default_factory=list)
    description: list[str] = field(default_factory=list)
    alertnames: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    severity: Severity | None = None
    id: str = ""

    @property
    def title(self) -> str:
        return clean_title(self.section.title) or "Imported runbook"


class RunbookBuilder:
    def __init__(self, text: str, source: str, existing_ids: set[str]) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.used_ids = set(existing_ids)
        self.report = ImportReport(source)
        self.drafts: list[Draft] = []
        self.file_levels: list[esc.LevelDraft] = []
        self.severity_definitions: list = []
        self.reference: list[tuple[str, int, str, str]] = []

    # -- classification -------------------------------------------------------------------
    def visit(self, section: Section) -> None:
        title = normalise(section.title)
        path = [normalise(s.title) for s in section.ancestors()]
        if section.level > 0 and title in TOC_WORDS:
            self._outcome(section, "skipped: table of contents (links to the other headings)")
            for child in section.walk()[1:]:
                self._outcome(child, "skipped: inside the table of contents")
            return
        if section.level > 0 and self._has_phase_structure(section):
            self._incident(section)
            return
        if section.level > 0 and has_word(title, ("severity", "severities", "priority levels", "priorities")):
            self._severity_section(section)
            return
        if section.level > 0 and has_word(title, ("escalation", "escalations", "escalate")):
            self._escalation_section(section)
            return
        if section.children:
            if section.level > 0:
                self._outcome(section, "heading of the sections below")
            self._to_reference(section, section.blocks, "introduction text")
            for child in section.children:
                self.visit(child)
            return
        is_reference = any(has_word(t, REFERENCE_WORDS) for t in [title, *path])
        if section.level == 0 or is_reference or not self._has_steps(section.blocks):
            self._outcome(section, "notes of the reference playbook")
            self._to_reference(section, section.blocks, "reference text" if is_reference else "no steps found")
            return
        if has_word(title, PROCEDURE_WORDS) or not any(has_word(t, INCIDENT_WORDS) for t in [title, *path]):
            self._steps_playbook(section, "procedure")
        else:
            self._steps_playbook(section, "incident")

    def _has_phase_structure(self, section: Section) -> bool:
        """Core parts (symptoms, diagnosis, resolution...) present, and most sub-headings
        are such parts: a chapter titled "Troubleshooting" full of incidents is a container."""
        child_kinds = [self._child_kind(child) for child in section.children]
        counted = [kind for kind in child_kinds if kind not in _NEUTRAL_SEGMENTS]
        if sum(kind in PHASE_SEGMENTS for kind in counted) * 2 < len(counted):
            return False
        kinds = set(child_kinds)
        for block in section.blocks:
            if isinstance(block, SyntaxTreeNode) and block.type == "paragraph":
                label = split_label(block).label
                if label:
                    kinds.add(label_kind(label))
        return bool(kinds & CORE_SEGMENTS)

    @staticmethod
    def _child_kind(child: Section) -> str | None:
        """A sub-heading is a part only if its own sub-headings are parts too (or it has none)."""
        if any(label_kind(grandchild.title) is None for grandchild in child.children):
            return None
        return label_kind(child.title)

    @staticmethod
    def _has_steps(blocks: list[Block]) -> bool:
        from bot.playbooks.importer.steps import is_shell_fence

        for block in blocks:
            if isinstance(block, SyntaxTreeNode):
                if block.type in ("bullet_list", "ordered_list") and not _is_definition_list(block):
                    return True
                if block.type in ("fence", "code_block") and (block.type == "code_block" or is_shell_fence(block)):
                    return True
        return False

    # -- incidents with labelled parts --------------------------------------------------------
    def _segments(self, section: Section) -> list[Segment]:
        segments = [Segment(None, None, section.line)]
        for block in section.blocks:
            if isinstance(block, SyntaxTreeNode) and block.type == "paragraph":
                labelled = split_label(block)
                kind = label_kind(labelled.label) if labelled.label else None
                if kind is not None:
                    segment = Segment(kind, labelled.label, line_of(block))
                    if labelled.rest:
                        segment.blocks.append(TextBlock(labelled.rest, line_of(block)))
                    segments.append(segment)
                    continue
            segments[-1].blocks.append(block)
        for child in section.children:
            kind = label_kind(child.title) or "other"
            segments.append(Segment(kind, child.title, child.line, flatten(child)))
            self._outcome(child, f"phase/part of playbook from {section.title!r} ({kind})")
            for grandchild in child.walk()[1:]:
                self._outcome(grandchild, f"sub-part of {child.title!r} in playbook from {section.title!r}")
        return segments

    def _incident(self, section: Section) -> None:
        draft = Draft(section, "incident")
        self._infer_from_title(draft)
        for segment in self._segments(section):
            self._place_segment(draft, segment)
        self._finish(draft, "incident playbook")

    def _place_segment(self, draft: Draft, segment: Segment) -> None:
        where = segment.label or draft.title
        kind = segment.kind
        if kind is None:
            builder = StepBuilder(paragraphs_as_steps=False)
            builder.add(segment.blocks)
            for leftover in builder.leftovers:
                if isinstance(leftover.block, SyntaxTreeNode) and leftover.block.type == "paragraph" and not draft.phases:
                    draft.description.append(inline_text(leftover.block))
                else:
                    self._note(draft, where, leftover)
            if builder.steps:
                self._add_phase(draft, "procedure", "Steps", builder.steps)
            return
        if kind == "escalation":
            self._escalation_blocks(segment.blocks, draft.levels, lambda lo: self._note(draft, where, lo))
            return
        if kind == "notes":
            for block in segment.blocks:
                self._note(draft, where, Leftover(block, f"{segment.label} note"))
            return
        if kind == "description":
            for block in segment.blocks:
                text = block.text if isinstance(block, TextBlock) else source_of(block, self.lines)
                draft.description.append(text)
            return
        if kind == "severity":
            text = " ".join(b.text if isinstance(b, TextBlock) else source_of(b, self.lines) for b in segment.blocks)
            match = re.search(r"\b(?:P|SEV[-\s]?)([0-3])\b", text, re.IGNORECASE)
            if match:
                draft.severity = Severity(f"P{match.group(1)}")
            else:
                for block in segment.blocks:
                    self._note(draft, where, Leftover(block, "severity text without P0-P3"))
            return
        builder = StepBuilder(paragraphs_as_steps=True)
        builder.add(segment.blocks)
        for leftover in builder.leftovers:
            self._note(draft, where, leftover)
        if kind in ("symptoms", "alert"):
            self._infer_from_symptoms(draft, builder.steps)
        phase_kind = _PHASE_FOR_SEGMENT.get(kind, kind)
        title = clean_title(segment.label) if segment.label else None
        if builder.steps:
            self._add_phase(draft, phase_kind, title, builder.steps)
        elif not builder.leftovers and segment.blocks:
            for block in segment.blocks:
                self._note(draft, where, Leftover(block, "no steps found"))

    def _add_phase(self, draft: Draft, kind: str, title: str | None, drafts: list[StepDraft]) -> None:
        steps: list[Step] = []
        for item in drafts:
            step = Step(text=item.text, commands=item.commands)
            rule = None
            for sentence in split_sentences(item.text):
                rule = esc.parse_sentence(sentence, require_condition=True)
                if rule is not None and rule.delay is not None:
                    break
                rule = None
            if rule is not None:
                draft.deadline_steps.append((step, rule))
            steps.append(step)
        draft.phases.append(Phase(kind=kind, title=title, steps=steps))  # type: ignore[arg-type]

    # -- leaves of steps: procedures and troubleshooting ---------------------------------------
    def _steps_playbook(self, section: Section, kind: str) -> None:
        draft = Draft(section, kind)
        if kind == "incident":
            self._infer_from_title(draft)
        builder = StepBuilder(paragraphs_as_steps=True)
        builder.add(section.blocks)
        for leftover in builder.leftovers:
            self._note(draft, draft.title, leftover)
        self._add_phase(draft, "procedure", clean_title(section.title), builder.steps)
        self._finish(draft, f"{kind} playbook")

    # -- escalation and severity -----------------------------------------------------------
    def _escalation_blocks(self, blocks: list[Block], into: list[esc.LevelDraft], leftover_sink) -> None:  # type: ignore[no-untyped-def]
        for block in blocks:
            if isinstance(block, Heading):
                continue
            if isinstance(block, TextBlock) or block.type == "paragraph":
                text = block.text if isinstance(block, TextBlock) else inline_text(block)
                found = [r for r in (esc.parse_sentence(s) for s in split_sentences(text)) if r is not None]
                if found:
                    into.extend(found)
                else:
                    leftover_sink(Leftover(block, "escalation text without a who"))
            elif block.type in ("bullet_list", "ordered_list"):
                unparsed = []
                for position, item in enumerate(block.children, start=1):
                    first = item.children[0] if item.children and item.children[0].type == "paragraph" else None
                    labelled = split_label(first) if first is not None else None
                    rest = labelled.rest if labelled else ""
                    level = esc.parse_path_item(labelled.label if labelled else None, rest, position)
                    if level is None:
                        level = esc.parse_sentence(inline_text(first)) if first is not None else None
                    if level is None:
                        unparsed.append(item)
                    else:
                        level.line = line_of(item)
                        into.append(level)
                for item in unparsed:
                    leftover_sink(Leftover(item, "escalation list item without level/who"))
            elif block.type == "table":
                header, rows = table_cells(block)
                levels = esc.parse_table(header, [cells for _, cells in rows])
                if levels:
                    into.extend(levels)
                else:
                    leftover_sink(Leftover(block, "table is not an escalation matrix"))
            elif block.type != "hr":
                leftover_sink(Leftover(block, f"{block.type} in escalation text"))

    def _escalation_section(self, section: Section) -> None:
        self._outcome(section, "file-wide escalation policy")
        for child in section.walk()[1:]:
            self._outcome(child, "part of the file-wide escalation policy")
        self._escalation_blocks(flatten(section), self.file_levels, lambda lo: self._reference_leftover(section, lo))

    def _severity_section(self, section: Section) -> None:
        self._outcome(section, "severity definitions")
        for child in section.walk()[1:]:
            self._outcome(child, "part of the severity definitions")
        for block in flatten(section):
            if isinstance(block, (Heading, TextBlock)) or block.type == "hr":
                continue
            placed = False
            if block.type in ("bullet_list", "ordered_list"):
                parsed = []
                for item in block.children:
                    first = item.children[0] if item.children and item.children[0].type == "paragraph" else None
                    labelled = split_label(first) if first is not None else None
                    definition = sev.parse_item(labelled.label, labelled.rest) if labelled else None
                    parsed.append(definition)
                if parsed and all(parsed):
                    self.severity_definitions.extend(parsed)
                    placed = True
            elif block.type == "table":
                header, rows = table_cells(block)
                definitions = sev.parse_table(header, [cells for _, cells in rows])
                if definitions:
                    self.severity_definitions.extend(definitions)
                    placed = True
            if not placed:
                self._reference_leftover(section, Leftover(block, "not a severity definition"))

    # -- notes -------------------------------------------------------------------------------
    def _note(self, draft: Draft, where: str, leftover: Leftover) -> None:
        text = source_of(leftover.block, self.lines)
        if text.strip():
            draft.notes.append((where, line_of(leftover.block), leftover.reason, text))

    def _to_reference(self, section: Section, blocks: list[Block], reason: str) -> None:
        for block in blocks:
            if isinstance(block, SyntaxTreeNode) and block.type == "hr":
                continue
            self._reference_leftover(section, Leftover(block, reason))

    def _reference_leftover(self, section: Section, leftover: Leftover) -> None:
        text = source_of(leftover.block, self.lines)
        if text.strip():
            self.reference.append((clean_title(section.title) or "(top of file)", line_of(leftover.block), leftover.reason, text))

    def _outcome(self, section: Section, outcome: str) -> None:
        if section.level > 0:
            self.report.sections.append(SectionOutcome(section.title, section.line, outcome))

    # -- inference ---------------------------------------------------------------------------
    def _infer_from_title(self, draft: Draft) -> None:
        title = re.sub(r"\s*\([^)]*\)", "", draft.title).strip()
        if _CAMEL.match(title):
            draft.alertnames.append(title)
            return
        phrase = title.lower()
        draft.keywords.append(phrase)
        shorter = _GENERIC_TAIL.sub("", phrase)
        if shorter != phrase and len(shorter.split()) >= 1 and len(shorter) > 3:
            draft.keywords.append(shorter)

    def _infer_from_symptoms(self, draft: Draft, steps: list[StepDraft]) -> None:
        for step in steps:
            for match in re.finditer(r"alertname\s*[=:]\s*[\"'`]?([A-Za-z_][\w:]*)", step.text):
                _add_unique(draft.alertnames, match.group(1))
            alert = re.match(r"^\s*alerts?\s*:\s*(.+)$", step.text, re.IGNORECASE)
            if alert:
                for name in re.findall(r"[\"'`“]([^\"'`”]+)[\"'`”]", alert.group(1)) or [alert.group(1)]:
                    name = name.strip()
                    if _CAMEL.match(name):
                        _add_unique(draft.alertnames, name)
                    elif name and not re.search(r"\bor\b", name):
                        _add_unique(draft.keywords, name.lower())

    # -- output ------------------------------------------------------------------------------
    def _unique_id(self, section: Section) -> str:
        base = slugify(clean_title(section.title))
        candidates = [base]
        if section.parent is not None and section.parent.level > 0:
            candidates.append(slugify(f"{clean_title(section.parent.title)} {clean_title(section.title)}"))
        candidates.extend(f"{base}-{n}" for n in range(2, 1000))
        chosen = next(c for c in candidates if c not in self.used_ids)
        self.used_ids.add(chosen)
        return chosen

    def _finish(self, draft: Draft, label: str) -> None:
        draft.id = self._unique_id(draft.section)
        self._outcome(draft.section, f"{label} {draft.id}")
        self.drafts.append(draft)

    def build(self, root: Section) -> tuple[list[Playbook], ImportReport]:
        self.visit(root)
        file_policy, file_assumptions = esc.build_policy(self.file_levels)
        self.report.assumptions.extend(f"file-wide escalation: {a}" for a in file_assumptions)
        playbooks = [self._playbook(draft, file_policy) for draft in self.drafts]
        if self.reference:
            playbooks.append(self._reference_playbook(root))
        self.report.sections.sort(key=lambda outcome: outcome.line)
        return playbooks, self.report

    def _playbook(self, draft: Draft, file_policy) -> Playbook:  # type: ignore[no-untyped-def]
        playbook_id = draft.id
        levels = list(draft.levels)
        for _step, rule in draft.deadline_steps:
            rule.name = None
            levels.append(rule)
        policy, assumptions = esc.build_policy(levels)
        for assumption in assumptions:
            self.report.assumptions.append(f"{playbook_id}: {assumption}")
            draft.notes.append(("escalation", draft.section.line, "assumption", f"Importer assumption: {assumption}"))
        if policy is not None:
            for step, rule in draft.deadline_steps:
                level = next(candidate for candidate in policy.levels if candidate.description == rule.description)
                step.deadline = as_duration(rule.delay or 0)
                step.on_deadline = "escalate"
                step.escalate_to = level.name
        if policy is None and draft.kind == "incident" and file_policy is not None:
            policy = file_policy
        for where, line, reason, _ in draft.notes:
            self.report.notes.append(_entry(playbook_id, where, line, reason))
        playbook = Playbook(
            id=playbook_id,
            title=draft.title,
            description="\n\n".join(draft.description),
            manual=draft.kind != "incident",
            match={"alertname": draft.alertnames, "title_keywords": draft.keywords} if draft.kind == "incident" else {},
            severity=draft.severity,
            escalation=policy,
            phases=draft.phases,
            notes=_notes_text(draft.notes),
            severity_definitions=self.severity_definitions,
            source=f"{self.source}:{draft.section.line}",
        )
        steps = sum(len(phase.steps) for phase in playbook.phases)
        self.report.playbooks.append(
            PlaybookSummary(playbook.id, playbook.title, draft.kind, len(playbook.phases), steps,
                            len(policy.levels) if policy else 0, len(draft.notes))
        )
        return playbook

    def _reference_playbook(self, root: Section) -> Playbook:
        stem = slugify(self.source.rsplit("/", 1)[-1].rsplit(".", 1)[0])
        base = f"{stem}-reference"
        playbook_id = base if base not in self.used_ids else next(f"{base}-{n}" for n in range(2, 1000) if f"{base}-{n}" not in self.used_ids)
        self.used_ids.add(playbook_id)
        title = next((clean_title(c.title) for c in root.children if c.level == 1), "") or stem
        for where, line, reason, _ in self.reference:
            self.report.notes.append(_entry(playbook_id, where, line, reason))
        self.report.playbooks.append(PlaybookSummary(playbook_id, f"{title} (reference)", "reference", 0, 0, 0, len(self.reference)))
        return Playbook(
            id=playbook_id,
            title=f"{title} (reference)",
            description="Runbook text that is not a step of any playbook, kept for reference.",
            manual=True,
            notes=_notes_text(self.reference),
            severity_definitions=self.severity_definitions,
            source=self.source,
        )


def _entry(playbook_id: str, where: str, line: int, reason: str) -> NoteEntry:
    return NoteEntry(playbook_id, where, line, reason)


def _notes_text(notes: list[tuple[str, int, str, str]]) -> str:
    return "\n\n".join(f"[{where}, line {line}]\n{text}" for where, line, _, text in notes)


def _add_unique(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def _is_definition_list(block: SyntaxTreeNode) -> bool:
    """A bulleted list of ``**Key**: value`` facts (thresholds, contacts), not actions."""
    if block.type != "bullet_list":
        return False
    for item in block.children:
        first = item.children[0] if item.children and item.children[0].type == "paragraph" else None
        if first is None or split_label(first).label is None:
            return False
    return True
