"""Drafts into :class:`Playbook` models: ids, escalation policy, severity, notes, provenance."""

from __future__ import annotations

from bot.domain.severity import Severity
from bot.playbooks.importer import escalation as esc
from bot.playbooks.importer.alertnames import camel_parts, looks_like_alert
from bot.playbooks.importer.context import ImportContext
from bot.playbooks.importer.drafts import Draft, Note, notes_text
from bot.playbooks.importer.markdown import Section
from bot.playbooks.importer.report import NoteEntry, PlaybookSummary
from bot.playbooks.importer.severity import worst
from bot.playbooks.importer.text import anchor, as_duration, clean_title, slugify
from bot.playbooks.schema import MatchRules, Playbook, Provenance

REFERENCE_HEADING = "(reference)"


def unique_id(ctx: ImportContext, draft: Draft) -> str:
    kept = ctx.preferred_ids.get(draft.heading)
    if kept is not None and kept not in ctx.used_ids:
        ctx.used_ids.add(kept)
        return kept
    reserved = ctx.used_ids | set(ctx.preferred_ids.values())
    title = draft.title
    base = slugify(" ".join(camel_parts(title)) if looks_like_alert(title) else clean_title(title))
    section = draft.section
    candidates = [base]
    if section.parent is not None and section.parent.level > 0:
        candidates.append(slugify(f"{clean_title(section.parent.title)} {clean_title(section.title)}"))
    candidates.extend(f"{base}-{n}" for n in range(2, 1000))
    chosen = next(c for c in candidates if c not in reserved)
    ctx.used_ids.add(chosen)
    return chosen


def heading_key(section: Section) -> str:
    """Where a playbook came from inside its runbook: the chain of headings to it."""
    chain = [clean_title(s.title) for s in reversed([section, *section.ancestors()]) if s.level > 0]
    return " / ".join(chain) or "(whole file)"


def finish(ctx: ImportContext, draft: Draft, label: str) -> None:
    draft.heading = heading_key(draft.section)
    taken = {d.heading for d in ctx.drafts}
    if draft.heading in taken:
        draft.heading = next(f"{draft.heading} ({n})" for n in range(2, 1000) if f"{draft.heading} ({n})" not in taken)
    draft.id = unique_id(ctx, draft)
    if draft.kind == "incident" and not draft.runbook:
        # an alert's runbook_url may point at this heading of a many-incident runbook
        draft.runbook.append(f"{ctx.source}#{anchor(draft.section.title)}")
    ctx.outcome(draft.section, f"{label} {draft.id}")
    ctx.drafts.append(draft)


def playbook(ctx: ImportContext, draft: Draft, file_policy: esc.PolicyDraft) -> Playbook:
    levels = list(draft.levels)
    for _step, rule in draft.deadline_steps:
        rule.name = None
        levels.append(rule)
    built = esc.build_policy(levels)
    for assumption in built.assumptions:
        _assume(ctx, draft, assumption)
    policy = built.policy
    if policy is not None:
        for step, rule in draft.deadline_steps:
            level = next(candidate for candidate in policy.levels if candidate.description == rule.description)
            step.deadline = as_duration(rule.delay or 0)
            step.on_deadline = "escalate"
            step.escalate_to = level.name
    first = built.first_responders
    if policy is None and draft.kind == "incident" and file_policy.policy is not None:
        policy = file_policy.policy
    if not first and draft.kind == "incident":
        first = file_policy.first_responders
    description = list(draft.description)
    if first:
        description.append(f"First responder (paged at once): {', '.join(first)}.")
    severity = _severity(ctx, draft)
    for note in draft.notes:
        ctx.report.notes.append(NoteEntry(draft.id, note.where, note.line, note.reason))
    incident = draft.kind == "incident"
    result = Playbook(
        id=draft.id,
        title=draft.title,
        description="\n\n".join(description),
        manual=not incident,
        match=MatchRules(alertname=draft.alertnames, runbook=draft.runbook, title_keywords=draft.keywords) if incident else MatchRules(),
        severity=severity,
        escalation=policy,
        phases=draft.phases,
        notes=notes_text(draft.notes),
        severity_definitions=ctx.severity_definitions,
        source=f"{ctx.source}:{draft.section.line}",
        owner=draft.owner,
        tags=draft.tags,
        imported=Provenance(source=ctx.source, heading=draft.heading),
    )
    steps = sum(len(phase.steps) for phase in result.phases)
    ctx.report.playbooks.append(
        PlaybookSummary(result.id, result.title, draft.kind, len(result.phases), steps,
                        len(policy.levels) if policy else 0, len(draft.notes),
                        alerts=list(result.match.alertname), severity=severity.value if severity else None)
    )
    return result


def _assume(ctx: ImportContext, draft: Draft, assumption: str, about: str = "escalation") -> None:
    ctx.report.assumptions.append(f"{draft.id}: {assumption}")
    draft.notes.append(Note(about, draft.section.line, "assumption", f"Importer assumption: {assumption}"))


def _severity(ctx: ImportContext, draft: Draft) -> Severity | None:
    """The worst stated level; the report says so when the runbook stated several."""
    levels = [stated.level for stated in draft.stated if stated.level is not None]
    chosen = worst(levels)
    ordered = sorted(draft.stated, key=lambda stated: stated.line)
    words = list(dict.fromkeys(f"{stated.word} (line {stated.line})" for stated in ordered))
    if len({s.level for s in draft.stated}) > 1 and chosen is not None:
        _assume(ctx, draft, f"severity stated more than once: {', '.join(words)}; using the worst, {chosen.value}", "severity")
    return chosen


def reference_playbook(ctx: ImportContext, root: Section) -> Playbook:
    stem = slugify(ctx.source.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    base = f"{stem}-reference"
    reserved = ctx.used_ids | set(ctx.preferred_ids.values())
    kept = ctx.preferred_ids.get(REFERENCE_HEADING)
    if kept is not None and kept not in ctx.used_ids:
        playbook_id = kept
    else:
        playbook_id = base if base not in reserved else next(f"{base}-{n}" for n in range(2, 1000) if f"{base}-{n}" not in reserved)
    ctx.used_ids.add(playbook_id)
    title = ctx.front.title or next((clean_title(c.title) for c in root.children if c.level == 1), "") or stem
    for note in ctx.reference:
        ctx.report.notes.append(NoteEntry(playbook_id, note.where, note.line, note.reason))
    ctx.report.playbooks.append(PlaybookSummary(playbook_id, f"{title} (reference)", "reference", 0, 0, 0, len(ctx.reference)))
    return Playbook(
        id=playbook_id,
        title=f"{title} (reference)",
        description="Runbook text that is not a step of any playbook, kept for reference.",
        manual=True,
        notes=notes_text(ctx.reference),
        severity_definitions=ctx.severity_definitions,
        source=ctx.source,
        owner=ctx.front.owner,
        tags=list(ctx.front.tags),
        imported=Provenance(source=ctx.source, heading=REFERENCE_HEADING),
    )
