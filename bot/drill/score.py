"""The score of a drill: what happened to each incident it opened, read back from the database.

Everything here comes from the incidents' timelines (the record a post-mortem is written
from), so the score says what the real pipeline did, not what the runner meant it to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.chat.render import entry_text
from bot.domain.clock import as_utc
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.drill.expect import evaluate
from bot.drill.results import BY_HAND, BY_STEP_DEADLINE, BY_TIMER, EscalationFired, IncidentScore, Line, Score, StepMark
from bot.export.timings import time_to_acknowledge, time_to_mitigate, time_to_resolve
from bot.store.incidents import IncidentRepository

if TYPE_CHECKING:
    from bot.drill.runner import DrillRun


def _seconds(moment: datetime, since: datetime) -> float:
    return max(0.0, (as_utc(moment) - since).total_seconds())


def _step(entry: TimelineEntry, opened: datetime, drill_start: datetime) -> StepMark:
    return StepMark(
        int(entry.data.get("step", 0)),
        str(entry.data.get("text", "")),
        _seconds(entry.at, drill_start),
        _seconds(entry.at, opened),
    )


def _how(entry: TimelineEntry) -> str:
    """A step deadline escalates through the same call as ``/incident escalate`` (so the entry
    says ``manual``), but in the scheduler's name: nobody asked for it."""
    if not entry.data.get("manual"):
        return BY_TIMER
    return BY_STEP_DEADLINE if entry.source is Source.SCHEDULER else BY_HAND


def score_incident(
    entries: list[TimelineEntry],
    *,
    number: int,
    ref: str,
    title: str,
    severity: str,
    status: str,
    opened: datetime,
    drill_start: datetime,
    drill: bool,
    playbook: str | None,
) -> IncidentScore:
    ack, mitigated, resolved = (
        milestone(entries, opened) for milestone in (time_to_acknowledge, time_to_mitigate, time_to_resolve)
    )
    result = IncidentScore(
        number=number,
        ref=ref,
        title=title,
        severity=severity,
        status=status,
        opened_at=_seconds(opened, drill_start),
        drill=drill,
        playbook=playbook,
        acknowledged=ack.seconds if ack else None,
        mitigated=mitigated.seconds if mitigated else None,
        resolved=resolved.seconds if resolved else None,
    )
    for entry in entries:
        if entry.kind is EntryKind.STEP_DONE:
            result.steps_done.append(_step(entry, opened, drill_start))
        elif entry.kind is EntryKind.STEP_SKIPPED:
            result.steps_skipped.append(_step(entry, opened, drill_start))
        elif entry.kind is EntryKind.STEP_DEADLINE:
            result.steps_overdue.append(_step(entry, opened, drill_start))
        elif entry.kind is EntryKind.ESCALATED:
            targets = [str(target) for target in entry.data.get("targets", [])]
            how = _how(entry)
            result.escalations.append(
                EscalationFired(
                    level=int(entry.data.get("level", 0)),
                    targets=targets,
                    at=_seconds(entry.at, drill_start),
                    after_open=_seconds(entry.at, opened),
                    manual=how == BY_HAND,
                    how=how,
                    reason=str(entry.data.get("reason", "")),
                )
            )
        said = entry_text(entry.kind.value, entry.data, entry.text)
        result.timeline.append(Line(_seconds(entry.at, drill_start), entry.kind.value, entry.actor, said))
    return result


def score(run: DrillRun) -> Score:
    """Score every incident the drill opened and check the scenario's expectations."""
    start = run.clock.start
    incidents = []
    for number in run.incident_numbers():
        with run.container.sessions() as session:
            row = IncidentRepository.get_row(session, number)
            title, severity, status, created, drill, playbook = (
                row.title,
                row.severity,
                row.status,
                row.created_at,
                row.drill,
                row.playbook_id,
            )
        incident = run.container.service.get(number)
        incidents.append(
            score_incident(
                run.container.service.timeline(number),
                number=number,
                ref=incident.ref,
                title=title,
                severity=severity,
                status=status,
                opened=as_utc(created),
                drill_start=start,
                drill=drill,
                playbook=playbook,
            )
        )
    pages = [str(page) for page in run.pager.pages] if run.pager else []
    for item in incidents:
        for escalation in item.escalations:
            for target in escalation.targets:
                if not target.lower().startswith("pagerduty"):
                    pages.append(f"(drill) would page {target} for {item.ref} (level {escalation.level})")
    responses: list[dict[str, object]] = [
        {"at": r.at, "user": r.user, "command": r.command, "reply": r.reply, "refused": r.refused, "incident": r.incident}
        for r in run.responses
    ]
    return Score(
        scenario=run.scenario.name,
        started_at=start,
        simulated_seconds=run.clock.offset.total_seconds(),
        elapsed_seconds=run.elapsed_seconds,
        incidents=incidents,
        would_page=pages,
        responses=responses,
        expectations=evaluate(run.scenario.expect, incidents),
    )
