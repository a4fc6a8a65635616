"""Steps and phases of a playbook from labelled parts (Symptoms, Diagnosis, Resolution...)."""

from __future__ import annotations

import re

from markdown_it.tree import SyntaxTreeNode

from bot.playbooks.importer import escalation as esc
from bot.playbooks.importer import severity as sev
from bot.playbooks.importer.alertnames import looks_like_alert, names_in_statement
from bot.playbooks.importer.assemble import finish
from bot.playbooks.importer.context import ImportContext
from bot.playbooks.importer.drafts import Draft, Segment, StatedLevel, add_unique
from bot.playbooks.importer.markdown import Block, Section, TextBlock, flatten, inline_text, line_of, source_of, split_label
from bot.playbooks.importer.policies import escalation_blocks
from bot.playbooks.importer.steps import Leftover, StepBuilder, StepDraft
from bot.playbooks.importer.text import clean_title, split_sentences
from bot.playbooks.importer.vocabulary import CORE_SEGMENTS, PROCEDURE_WORDS, has_word, label_kind
from bot.playbooks.schema import MAX_PHASE_TITLE, Phase, Step

_GENERIC_TAIL = re.compile(r"\s+(?:issues?|problems?|failures?|errors?|alerts?|incidents?)$", re.IGNORECASE)
_PHASE_FOR_SEGMENT = {"alert": "symptoms", "causes": "diagnosis"}


def phase_kind(kind: str | None) -> str:
    """The phase a part becomes; unlabelled parts are plain procedure steps."""
    if kind is None or kind == "other":
        return "procedure"
    return _PHASE_FOR_SEGMENT.get(kind, kind)


def segments(ctx: ImportContext, section: Section) -> list[Segment]:
    found = [Segment(None, None, section.line)]
    for block in section.blocks:
        if isinstance(block, SyntaxTreeNode) and block.type == "paragraph":
            labelled = split_label(block)
            kind = label_kind(labelled.label) if labelled.label else None
            if kind is not None:
                segment = Segment(kind, labelled.label, line_of(block))
                if labelled.rest:
                    segment.blocks.append(TextBlock(labelled.rest, line_of(block)))
                found.append(segment)
                continue
        found[-1].blocks.append(block)
    for child in section.children:
        kind = label_kind(child.title) or "other"
        found.append(Segment(kind, child.title, child.line, flatten(child)))
        ctx.outcome(child, f"phase/part of playbook from {section.title!r} ({kind})")
        for grandchild in child.walk()[1:]:
            ctx.outcome(grandchild, f"sub-part of {child.title!r} in playbook from {section.title!r}")
    return found


def incident(ctx: ImportContext, section: Section) -> Draft:
    draft = Draft(section, "incident")
    infer_from_title(draft)
    for segment in segments(ctx, section):
        place_segment(ctx, draft, segment)
    return draft


def block_text(ctx: ImportContext, block: Block) -> str:
    return block.text if isinstance(block, TextBlock) else source_of(block, ctx.lines)


def read_severity(ctx: ImportContext, draft: Draft, text: str, line: int, *, tags: bool = False) -> bool:
    """Record a stated severity (``Severity: Error``, ``SEV2``); True when the text had one."""
    stated = sev.stated_severity(text, ctx.severity_words, tags=tags)
    if stated is None:
        return False
    draft.stated.append(StatedLevel(stated.word, stated.level, line))
    return True


def place_segment(ctx: ImportContext, draft: Draft, segment: Segment) -> None:
    where = segment.label or draft.title
    kind = segment.kind
    if kind is None:
        builder = StepBuilder(paragraphs_as_steps=False)
        builder.add(segment.blocks)
        for leftover in builder.leftovers:
            if isinstance(leftover.block, SyntaxTreeNode) and leftover.block.type == "paragraph" and not draft.phases:
                draft.description.append(inline_text(leftover.block))
            else:
                ctx.note(draft, where, leftover)
        if builder.steps:
            add_phase(draft, "procedure", "Steps", builder.steps)
        return
    if kind == "escalation":
        escalation_blocks(segment.blocks, draft.levels, lambda lo: ctx.note(draft, where, lo))
        return
    if kind == "notes":
        for block in segment.blocks:
            ctx.note(draft, where, Leftover(block, f"{segment.label} note"))
        return
    if kind == "description":
        draft.description.extend(block_text(ctx, block) for block in segment.blocks)
        return
    if kind == "severity":
        text = " ".join(block_text(ctx, block) for block in segment.blocks)
        stated = sev.stated_severity(f"Severity: {text}", ctx.severity_words, tags=True)
        if stated is not None:
            draft.stated.append(StatedLevel(stated.word, stated.level, segment.line))
        else:
            for block in segment.blocks:
                ctx.note(draft, where, Leftover(block, "severity text without a known level"))
        return
    builder = StepBuilder(paragraphs_as_steps=True)
    builder.add(segment.blocks)
    for leftover in builder.leftovers:
        ctx.note(draft, where, leftover)
    if kind in ("symptoms", "alert"):
        infer_from_symptoms(draft, builder.steps)
    title = clean_title(segment.label) if segment.label else None
    if builder.steps:
        add_phase(draft, phase_kind(kind), title, builder.steps)
    elif not builder.leftovers and segment.blocks:
        for block in segment.blocks:
            ctx.note(draft, where, Leftover(block, "no steps found"))


def add_phase(draft: Draft, kind: str, title: str | None, drafts: list[StepDraft]) -> None:
    """A phase of ``drafts``; an escalation sentence in a step becomes its deadline (with a
    time) or a level of the playbook's policy (without one). "Page X immediately" in a step
    is something the responder does at that step, so it stays the step's text."""
    steps: list[Step] = []
    for item in drafts:
        step = Step(text=item.text, commands=item.commands)
        for sentence in split_sentences(item.text):
            rule = esc.parse_sentence(sentence, require_condition=True)
            if rule is None:
                continue
            if rule.delay == 0:
                break
            if rule.delay:
                draft.deadline_steps.append((step, rule))
            else:
                draft.levels.append(rule)
            break
        steps.append(step)
    # Validated like a phase read from YAML: ``kind`` is the importer's guess, a plain string.
    # A heading longer than a phase title may be is cut (its step texts keep the detail).
    if title is not None and len(title) > MAX_PHASE_TITLE:
        title = title[: MAX_PHASE_TITLE - 1].rstrip() + "…"
    draft.phases.append(Phase.model_validate({"kind": kind, "title": title, "steps": steps}))


#: Parts whose prose is something the responder does (Meaning/Impact/Background are not).
_WORK_PARTS = frozenset({"symptoms", "alert", "diagnosis", "causes", "resolution", "verification"})


def prose_part(ctx: ImportContext, section: Section) -> bool:
    """A leaf ``### Mitigation`` of plain prose ("Drain the node and wait.") under an
    incident heading whose other sub-headings made it a chapter: the prose is a step of that
    incident's playbook (one per heading, however many such parts it has). True when placed."""
    kind = label_kind(section.title)
    parent = section.parent
    if kind not in _WORK_PARTS or section.children or parent is None or parent.level == 0 or _is_document_title(parent):
        return False
    prose = [b for b in section.blocks if isinstance(b, SyntaxTreeNode) and b.type == "paragraph"]
    if not prose:
        return False
    draft = ctx.part_drafts.get(parent.line)
    if draft is None:
        # "## Deploy / ### Verify" is a procedure's check, not an incident to match alerts to
        procedure = kind not in CORE_SEGMENTS or has_word(parent.title, PROCEDURE_WORDS)
        draft = Draft(parent, "procedure" if procedure else "incident")
        if not procedure:
            infer_from_title(draft)
    builder = StepBuilder(paragraphs_as_steps=True)
    builder.add(section.blocks)
    where = clean_title(section.title)
    for leftover in builder.leftovers:
        ctx.note(draft, where, leftover)
    if not builder.steps:
        return False
    add_phase(draft, phase_kind(kind), where, builder.steps)
    if parent.line not in ctx.part_drafts:
        ctx.part_drafts[parent.line] = draft
        finish(ctx, draft, f"{draft.kind} playbook (its prose-only parts)")
    ctx.outcome(section, f"steps of {draft.kind} playbook {draft.id} ({kind})")
    return True


def _is_document_title(section: Section) -> bool:
    """The only H1 of a file names the document, not an incident."""
    root = section.parent
    return section.level == 1 and root is not None and sum(child.level == 1 for child in root.children) == 1


def steps_playbook(ctx: ImportContext, section: Section, kind: str) -> Draft:
    draft = Draft(section, kind)
    if kind == "incident":
        infer_from_title(draft)
    builder = StepBuilder(paragraphs_as_steps=True)
    builder.add(section.blocks)
    for leftover in builder.leftovers:
        ctx.note(draft, draft.title, leftover)
    add_phase(draft, "procedure", clean_title(section.title), builder.steps)
    return draft


def infer_from_title(draft: Draft) -> None:
    title = re.sub(r"\s*\([^)]*\)", "", draft.title).strip()
    if looks_like_alert(title):
        add_unique(draft.alertnames, title)
        return
    phrase = title.lower()
    draft.keywords.append(phrase)
    shorter = _GENERIC_TAIL.sub("", phrase)
    if shorter != phrase and len(shorter) > 3:
        draft.keywords.append(shorter)


def infer_from_symptoms(draft: Draft, steps: list[StepDraft]) -> None:
    for step in steps:
        names = names_in_statement(step.text)
        for name in names:
            add_unique(draft.alertnames, name)
        alert = re.match(r"^\s*alerts?\s*:\s*(.+)$", step.text, re.IGNORECASE)
        if alert and not names:
            for name in re.findall(r"[\"'`“]([^\"'`”]+)[\"'`”]", alert.group(1)) or [alert.group(1)]:
                name = name.strip()
                if name and not re.search(r"\bor\b", name):
                    add_unique(draft.keywords, name.lower())
