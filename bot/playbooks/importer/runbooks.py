"""Runbooks written for alerts: a whole file for one alert, and entries in alert lists.

A per-alert runbook (``etcdMembersDown.md``: Meaning, Impact, Diagnosis, Mitigation) or a
free-form one (numbered ``##`` steps, Case 1/Case 2) is *one* playbook: its sub-headings are
groups of steps (a phase each, titled by the sub-heading), Meaning/Impact are the
description, and the alert it is for becomes ``match.alertname``. Files that list many
alerts (``### AlertName`` under ``## Alerts``, ``##### Alert Name: "X"``) give one playbook
per alert; an alert listed twice is merged into one playbook with the worst severity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from markdown_it.tree import SyntaxTreeNode

from bot.playbooks.importer.alertnames import heading_alert, is_listed_alert, looks_like_alert, names_in_statement
from bot.playbooks.importer.context import ImportContext
from bot.playbooks.importer.drafts import Draft, StatedLevel, add_unique
from bot.playbooks.importer.markdown import Block, Section, flatten, inline_code, inline_text, line_of
from bot.playbooks.importer.phases import add_phase, block_text, infer_from_title, phase_kind, read_severity
from bot.playbooks.importer.policies import escalation_blocks
from bot.playbooks.importer.severity import all_stated, stated_severity
from bot.playbooks.importer.steps import Leftover, StepBuilder, StepDraft
from bot.playbooks.importer.text import anchor, clean_title
from bot.playbooks.importer.vocabulary import label_kind, looks_like_command, normalise

ALERT_SECTION_TITLES = frozenset(
    {"alerts", "alert", "alert list", "alerts list", "list of alerts", "alert rules", "alerting rules",
     "alert catalogue", "alert catalog", "alert reference"}
)
_NUMBERED = re.compile(r"^\s*(?:\d+[.):]|step\s+\d+\b)", re.IGNORECASE)
_SEVERITY_ONLY = re.compile(r"^\W*severity\W*\s*[:=]\s*\S+\W*$", re.IGNORECASE)
_TITLE_TAG = re.compile(r"\s*(?:[—–-]\s*|\(\s*)SEV[-\s]?\d\s*\)?\s*$", re.IGNORECASE)
_WORK_KINDS = {"symptoms", "diagnosis", "causes", "resolution"}


def is_alert_list(section: Section) -> bool:
    return normalise(section.title) in ALERT_SECTION_TITLES and any(is_listed_alert(c.title) for c in section.children)


def lists_alerts(root: Section) -> bool:
    return any(heading_alert(s.title) or is_alert_list(s) for s in root.walk()[1:])


def file_alert_names(ctx: ImportContext, root: Section) -> list[str]:
    """Alerts the file as a whole is for: front-matter title, the H1, the file name, and
    ``Alert: X`` / ``Fires as: `X``` lines before the first sub-heading."""
    names: list[str] = []
    h1s = [child for child in root.children if child.level == 1]
    candidates = [ctx.front.title or "", clean_title(h1s[0].title) if len(h1s) == 1 else "", PurePosixPath(ctx.source).stem]
    for candidate in candidates:
        word = candidate.strip().strip("`")
        if looks_like_alert(word):
            add_unique(names, word)
    intro = list(root.blocks) + (list(h1s[0].blocks) if len(h1s) == 1 else [])
    for block in intro:
        if isinstance(block, SyntaxTreeNode) and block.type == "paragraph":
            for name in names_in_statement(inline_text(block)):
                add_unique(names, name)
    return names


def runbook_body(ctx: ImportContext, root: Section) -> Section | None:
    """The section holding a one-runbook file: its only H1, or the file itself (front matter)."""
    h1s = [child for child in root.children if child.level == 1]
    if len(h1s) == 1 and len(root.children) == 1:
        return h1s[0]
    if not h1s and root.children:
        return root
    return None


def has_runbook_structure(section: Section) -> bool:
    """Most sub-headings are parts (Meaning, Diagnosis, Mitigation...) and some are work."""
    if not section.children:
        return False
    kinds = [label_kind(child.title) for child in section.children]
    labelled = [kind for kind in kinds if kind is not None and kind != "alert"]
    # "## Troubleshooting" holding "### Cache Unavailable" is a chapter, not a part; beside a
    # Meaning or Impact section (the per-alert house style) "## Diagnosis / ### CLI checks" is one
    per_alert = any(normalise(child.title) in ("meaning", "impact") for child in section.children)
    work = any(
        kind in _WORK_KINDS and (per_alert or all(label_kind(grandchild.title) for grandchild in child.children))
        for kind, child in zip(kinds, section.children, strict=True)
    )
    return work and len(labelled) * 2 >= len(kinds)


def has_numbered_steps(section: Section) -> bool:
    numbered = [child for child in section.children if _NUMBERED.match(child.title)]
    return len(numbered) >= 2 and len(numbered) * 2 >= len(section.children)


def whole_runbook(ctx: ImportContext, body: Section, root: Section, names: list[str]) -> Draft:
    title = ctx.front.title or clean_title(body.title) or PurePosixPath(ctx.source).stem
    draft = Draft(body, "incident", title_text=_TITLE_TAG.sub("", title).strip() or title)
    read_severity(ctx, draft, title, body.line, tags=True)
    draft.alertnames.extend(names)
    if not names:
        infer_from_title(draft)
    draft.runbook.append(ctx.source)
    draft.owner, draft.tags = ctx.front.owner, list(ctx.front.tags)
    intro = list(root.blocks) + (list(body.blocks) if body is not root else [])
    fill(ctx, draft, intro, "intro", None, draft.title)
    for child in body.children:
        part(ctx, draft, child)
    return draft


def alert_entry(ctx: ImportContext, section: Section, name: str) -> Draft | None:
    """The playbook for one listed alert, or ``None`` when it merged into an earlier entry."""
    draft = Draft(section, "incident", title_text=name)
    draft.alertnames.append(name)
    draft.runbook.append(f"{ctx.source}#{anchor(section.title)}")
    fill(ctx, draft, section.blocks, "intro", None, name)
    for child in section.children:
        part(ctx, draft, child)
    if not draft.phases and draft.description:
        # a prose-only entry: its text is what the responder reads and does
        add_phase(draft, "procedure", None, [StepDraft(text, section.line) for text in draft.description])
    earlier = ctx.alert_drafts.get(name)
    if earlier is None:
        ctx.alert_drafts[name] = draft
        return draft
    merge(earlier, draft)
    ctx.outcome(section, f"alert {name} listed again: merged into playbook {earlier.id}")
    ctx.outcome_below(section, f"part of alert {name} (merged into playbook {earlier.id})")
    return None


def merge(into: Draft, other: Draft) -> None:
    into.stated.extend(other.stated)
    for phase in other.phases:
        phase.title = f"{phase.title or 'Steps'} (listed again, line {other.section.line})"
        into.phases.append(phase)
    into.description.extend(other.description)
    into.levels.extend(other.levels)
    into.deadline_steps.extend(other.deadline_steps)
    into.notes.extend(other.notes)
    for rule in other.runbook:
        add_unique(into.runbook, rule)


def part(ctx: ImportContext, draft: Draft, child: Section) -> None:
    """One sub-heading of a runbook: description, escalation, severity, notes or steps."""
    kind = label_kind(child.title)
    where = clean_title(child.title)
    ctx.outcome(child, f"part of the runbook playbook ({kind or 'steps'})")
    if kind == "escalation":
        ctx.outcome_below(child, "part of the runbook's escalation")
        escalation_blocks(_without_statements(ctx, draft, flatten(child)), draft.levels, lambda lo: ctx.note(draft, where, lo))
        return
    if kind == "severity":
        ctx.outcome_below(child, "part of the runbook's severity")
        text = " ".join(block_text(ctx, block) for block in flatten(child))
        found = all_stated(text, ctx.severity_words)
        draft.stated.extend(StatedLevel(item.word, item.level, child.line) for item in found)
        if not found:
            for block in flatten(child):
                ctx.note(draft, where, Leftover(block, "severity text without a known level"))
        return
    if kind == "notes":
        ctx.outcome_below(child, "notes of the runbook playbook")
        for block in flatten(child):
            ctx.note(draft, where, Leftover(block, f"{child.title} note"))
        return
    if kind == "description":
        ctx.outcome_below(child, "description of the runbook playbook")
        fill(ctx, draft, flatten(child), "description", None, where)
        return
    fill(ctx, draft, list(child.blocks), kind, where, where)
    for grandchild in child.children:
        ctx.outcome(grandchild, f"group of steps in {where!r}")
        ctx.outcome_below(grandchild, f"part of the group {clean_title(grandchild.title)!r}")
        fill(ctx, draft, flatten(grandchild), kind, clean_title(grandchild.title), where)


def fill(ctx: ImportContext, draft: Draft, blocks: Sequence[Block], kind: str | None, title: str | None, where: str) -> None:
    """Add ``blocks`` to ``draft``: as description, or as a phase of steps titled ``title``.

    ``intro`` (text before the first sub-heading) keeps plain prose as description and turns
    lists, code and prose that carries a command into steps.
    """
    blocks = _without_statements(ctx, draft, blocks)
    if kind == "description" or kind == "intro":
        rest: list[Block] = []
        for block in blocks:
            if _is_prose(block) and (kind == "description" or not _carries_command(block)):
                draft.description.append(block_text(ctx, block))
            elif kind == "description" and not isinstance(block, SyntaxTreeNode):
                draft.description.append(block_text(ctx, block))
            else:
                rest.append(block)
        if kind == "description":
            for block in rest:
                ctx.note(draft, where, Leftover(block, "in a description section"))
            return
        blocks = rest
    builder = StepBuilder(paragraphs_as_steps=True)
    builder.add(blocks)
    for leftover in builder.leftovers:
        ctx.note(draft, where, leftover)
    if builder.steps:
        add_phase(draft, phase_kind(None if kind == "intro" else kind), title, builder.steps)


def _without_statements(ctx: ImportContext, draft: Draft, blocks: Sequence[Block]) -> list[Block]:
    """Drop ``Alert: X`` and ``Severity: Y`` lines (read as metadata); keep everything else."""
    kept: list[Block] = []
    for block in blocks:
        if isinstance(block, SyntaxTreeNode) and block.type == "paragraph":
            text = inline_text(block)
            if names_in_statement(text) and re.match(r"^\W*(?:alert|fires)", text, re.IGNORECASE):
                continue
            stated = stated_severity(text, ctx.severity_words)
            if stated is not None:
                draft.stated.append(StatedLevel(stated.word, stated.level, line_of(block)))
                if _SEVERITY_ONLY.match(text):
                    continue
        kept.append(block)
    return kept


def _is_prose(block: Block) -> bool:
    if not isinstance(block, SyntaxTreeNode):
        return True
    return block.type == "paragraph" and not inline_text(block).rstrip().endswith(":")


def _carries_command(block: Block) -> bool:
    return isinstance(block, SyntaxTreeNode) and any(looks_like_command(code) for code in inline_code(block))

