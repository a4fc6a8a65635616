"""Classify a runbook's sections and assemble its playbooks.

A file written for alerts (one alert per file, or a list of alerts) goes through
:mod:`bot.playbooks.importer.runbooks`. Otherwise each heading is classified once: an
*incident* (it has Symptoms/Diagnosis/Resolution-like parts, as sub-headings or bold labels),
a *procedure* (deployment, rollback, backup...), a leaf of steps under an incident-ish parent
(troubleshooting), file-wide *escalation* or *severity* definitions, or *reference* text.
Reference text and anything a playbook section holds that is not a step go to notes, so the
report can account for every heading.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from markdown_it.tree import SyntaxTreeNode

from bot.playbooks.importer import alert_severities, runbooks
from bot.playbooks.importer import escalation as esc
from bot.playbooks.importer.alertnames import heading_alert, is_listed_alert
from bot.playbooks.importer.assemble import finish, playbook, reference_playbook
from bot.playbooks.importer.context import ImportContext
from bot.playbooks.importer.markdown import Block, Section, inline_code, split_label
from bot.playbooks.importer.phases import incident, prose_part, steps_playbook
from bot.playbooks.importer.policies import escalation_section, severity_section
from bot.playbooks.importer.report import ImportReport
from bot.playbooks.importer.steps import is_shell_fence
from bot.playbooks.importer.vocabulary import (
    CORE_SEGMENTS,
    INCIDENT_WORDS,
    PHASE_SEGMENTS,
    PROCEDURE_WORDS,
    REFERENCE_WORDS,
    TOC_WORDS,
    has_word,
    label_kind,
    looks_like_command,
    normalise,
)
from bot.playbooks.schema import Playbook

_NEUTRAL_SEGMENTS = {"escalation", "notes", "description", "severity"}


#: Index pages of a runbook folder: they describe the other pages, they are not runbooks.
INDEX_PAGES = frozenset({"readme", "_index", "index"})


def build(ctx: ImportContext, root: Section) -> tuple[list[Playbook], ImportReport]:
    if PurePosixPath(ctx.source).stem.lower() in INDEX_PAGES:
        _index_page(ctx, root)
        return _assemble(ctx, root)
    alert_severities.collect(ctx, root)
    names = runbooks.file_alert_names(ctx, root)
    body = runbooks.runbook_body(ctx, root)
    one_runbook = body is not None and not runbooks.lists_alerts(root) and (
        bool(names) or runbooks.has_runbook_structure(body) or runbooks.has_numbered_steps(body)
    )
    if body is not None and one_runbook:
        finish(ctx, runbooks.whole_runbook(ctx, body, root, names), "runbook playbook")
    else:
        visit(ctx, root)
    return _assemble(ctx, root)


def _index_page(ctx: ImportContext, root: Section) -> None:
    for section in root.walk():
        ctx.outcome(section, "index page: notes of the reference playbook")
        ctx.to_reference(section, section.blocks, "index page text")


def _assemble(ctx: ImportContext, root: Section) -> tuple[list[Playbook], ImportReport]:
    file_policy = esc.build_policy(ctx.file_levels)
    ctx.report.assumptions.extend(f"file-wide escalation: {a}" for a in file_policy.assumptions)
    alert_severities.apply(ctx, ctx.drafts)
    playbooks = [playbook(ctx, draft, file_policy) for draft in ctx.drafts]
    if ctx.reference:
        playbooks.append(reference_playbook(ctx, root))
    ctx.report.sections.sort(key=lambda outcome: outcome.line)
    return playbooks, ctx.report


def visit(ctx: ImportContext, section: Section) -> None:
    title = normalise(section.title)
    path = [normalise(s.title) for s in section.ancestors()]
    if section.level > 0 and title in TOC_WORDS:
        ctx.outcome(section, "skipped: table of contents (links to the other headings)")
        ctx.outcome_below(section, "skipped: inside the table of contents")
        return
    named = heading_alert(section.title) if section.level > 0 else None
    if named:
        _alert(ctx, section, named)
        return
    if section.level > 0 and runbooks.is_alert_list(section):
        ctx.outcome(section, "list of alerts")
        ctx.to_reference(section, section.blocks, "introduction text")
        for child in section.children:
            if is_listed_alert(child.title):
                _alert(ctx, child, child.title.strip().strip("`"))
            else:
                visit(ctx, child)
        return
    if section.level > 0 and _has_phase_structure(section):
        finish(ctx, incident(ctx, section), "incident playbook")
        return
    if section.level > 0 and has_word(title, ("severity", "severities", "priority levels", "priorities")):
        severity_section(ctx, section)
        return
    if section.level > 0 and has_word(title, ("escalation", "escalations", "escalate")):
        escalation_section(ctx, section)
        return
    if section.children:
        if section.level > 0:
            ctx.outcome(section, "heading of the sections below")
        ctx.to_reference(section, section.blocks, "introduction text")
        for child in section.children:
            visit(ctx, child)
        return
    is_reference = any(has_word(t, REFERENCE_WORDS) for t in [title, *path])
    if not is_reference and prose_part(ctx, section):
        return
    if section.level == 0 or is_reference or not _has_steps(section.blocks):
        ctx.outcome(section, "notes of the reference playbook")
        ctx.to_reference(section, section.blocks, "reference text" if is_reference else "no steps found")
        return
    if has_word(title, PROCEDURE_WORDS) or not any(has_word(t, INCIDENT_WORDS) for t in [title, *path]):
        finish(ctx, steps_playbook(ctx, section, "procedure"), "procedure playbook")
    else:
        finish(ctx, steps_playbook(ctx, section, "incident"), "incident playbook")


def _alert(ctx: ImportContext, section: Section, name: str) -> None:
    draft = runbooks.alert_entry(ctx, section, name)
    if draft is not None:
        finish(ctx, draft, f"alert {name}: playbook")


def _has_phase_structure(section: Section) -> bool:
    """Core parts (symptoms, diagnosis, resolution...) present, and most sub-headings
    are such parts: a chapter titled "Troubleshooting" full of incidents is a container."""
    child_kinds = [_child_kind(child) for child in section.children]
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


def _child_kind(child: Section) -> str | None:
    """A sub-heading is a part only if its own sub-headings are parts too (or it has none)."""
    if any(label_kind(grandchild.title) is None for grandchild in child.children):
        return None
    return label_kind(child.title)


def _has_steps(blocks: Sequence[Block]) -> bool:
    """Lists, shell blocks, or prose that carries a command (``run `amtool silence add …```)."""
    for block in blocks:
        if isinstance(block, SyntaxTreeNode):
            if block.type == "paragraph" and any(looks_like_command(code) for code in inline_code(block)):
                return True
            if block.type in ("bullet_list", "ordered_list") and not _is_definition_list(block) and not _is_link_list(block):
                return True
            if block.type in ("fence", "code_block") and (block.type == "code_block" or is_shell_fence(block)):
                return True
    return False


def _is_definition_list(block: SyntaxTreeNode) -> bool:
    """A bulleted list of ``**Key**: value`` facts (thresholds, contacts), not actions."""
    if block.type != "bullet_list":
        return False
    for item in block.children:
        first = item.children[0] if item.children and item.children[0].type == "paragraph" else None
        if first is None or split_label(first).label is None:
            return False
    return True


def _is_link_list(block: SyntaxTreeNode) -> bool:
    """A list of links only (an index of other pages), not steps."""
    for item in block.children:
        first = item.children[0] if item.children and item.children[0].type == "paragraph" else None
        inline = first.children[0] if first is not None and first.children else None
        parts = [c for c in inline.children if not (c.type == "text" and not c.content.strip())] if inline is not None else []
        if len(item.children) != 1 or len(parts) != 1 or parts[0].type != "link":
            return False
    return True
