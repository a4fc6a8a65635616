"""Attaching playbooks to incidents and moving through their steps.

Every change goes through :class:`IncidentService` (row lock, timeline entries, subscribers,
one transaction), so a step marked done is on the timeline and in chat, or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.domain.errors import IllegalTransition, InvalidCommand
from bot.domain.incident import Incident
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.guided import repository
from bot.guided.done_when import because, shows
from bot.playbooks.guide import DONE, PENDING, SKIPPED, GuideView, StepState, current_phase_index, guide_view, render_guide
from bot.playbooks.matching import IncidentFacts
from bot.playbooks.registry import PlaybookRegistry
from bot.playbooks.schema import Playbook
from bot.service.changes import Change
from bot.service.incidents import IncidentService
from bot.store.incidents import IncidentRepository
from bot.store.models import IncidentRow, PlaybookRunRow, PlaybookStepRow

log = logging.getLogger(__name__)

#: ``escalate_now(number, reason)``: the escalation engine's "escalate this incident now".
#: ``(incident number, reason, level named by the step's escalate_to or None)``
EscalateNow = Callable[[int, str, str | None], None]
#: ``escalates(severity)``: whether incidents of that severity escalate (the engine's speed table).
Escalates = Callable[[Severity], bool]
_ESCALATING = frozenset({Severity.P0, Severity.P1, Severity.P2})


def default_escalates(severity: Severity) -> bool:
    return severity in _ESCALATING

AUTO = "auto"
MANUAL = "manual"
SYSTEM_ACTOR = "firebreak"
#: Entries after which a step's ``done_when`` may hold.
_STATE_KINDS = frozenset({EntryKind.STATUS_CHANGED, EntryKind.ROLE_ASSIGNED})


class PlaybookNotFound(InvalidCommand):
    pass


def facts_for(incident: Incident, row: IncidentRow | None = None) -> IncidentFacts:
    """What matching knows: alert labels (with ``alertname``), PagerDuty service, title, and
    the alert's ``runbook_url`` annotation (kept as the incident's runbook link).

    The PagerDuty service id comes from the incident row (set by the PagerDuty adapter) or a
    ``pagerduty_service_id`` label; a ``pagerduty_service`` label carries its name.
    """
    labels = {str(key): str(value) for key, value in incident.labels.items()}
    service_id = (row.pagerduty_service_id if row is not None else None) or labels.get("pagerduty_service_id")
    return IncidentFacts(
        alertname=labels.get("alertname"),
        labels=labels,
        service_id=service_id,
        service_name=labels.get("pagerduty_service"),
        title=incident.title,
        runbook_url=incident.links.get("runbook"),
    )


@dataclass(frozen=True)
class StepMarked:
    incident: Incident
    step: int
    status: str


class GuidedSteps:
    def __init__(
        self, service: IncidentService, registry: PlaybookRegistry, *, zone: ZoneInfo | None = None, escalates: Escalates | None = None
    ) -> None:
        self.service = service
        self.registry = registry
        self.zone = zone or ZoneInfo("UTC")
        #: Whether a severity escalates at all: a step's "then escalate" is a notification where not.
        self.escalates = escalates or default_escalates

    # -- attaching -----------------------------------------------------------------------

    def on_declare(self, session: Session, incident: Incident) -> list[TimelineEntry]:
        """Declare hook: attach the most specific playbook to every new incident.

        Informational incidents (severity INFO: timeline only, no channel) get none, so their
        step deadlines cannot page anyone; ``/incident run`` still attaches one by hand.
        """
        if not len(self.registry) or incident.severity is Severity.INFO:
            return []
        row = session.get(IncidentRow, incident.number)
        playbook, matched = self.registry.match(facts_for(incident, row))
        if playbook is None:
            return []
        now = self.service.clock.now()
        entries = self.attach(
            session, incident, playbook, matched_by=AUTO, matched=matched, actor=SYSTEM_ACTOR, source=Source.SYSTEM, now=now, new_incident=True
        )
        IncidentRepository.save(session, incident, now=now)
        return entries

    def on_reopened(self, change: Change) -> None:
        """Subscriber: a reopened incident's step deadlines that ran out while it was resolved
        count again from the reopen, as its escalation does (``repository.rearm_after_reopen``)."""
        if any(recorded.entry.kind is EntryKind.STATUS_CHANGED and recorded.entry.data.get("reopened") for recorded in change.entries):
            repository.rearm_after_reopen(change.session, change.incident.number, change.now)

    def on_raised(self, change: Change) -> None:
        """Subscriber: an INFO incident raised to P0–P3 gets its playbook then, as a new one would.

        Informational incidents get none at declaration; when a worse alert joins (or a
        person raises one) it is opened in chat like any other and must be guided too.
        """
        incident = change.incident
        if incident.severity is Severity.INFO or not len(self.registry):
            return
        raised = any(
            recorded.entry.kind is EntryKind.SEVERITY_CHANGED and recorded.entry.data.get("from") == Severity.INFO.value
            for recorded in change.entries
        )
        if not raised or repository.active_run(change.session, incident.number) is not None:
            return
        row = change.session.get(IncidentRow, incident.number)
        playbook, matched = self.registry.match(facts_for(incident, row))
        if playbook is None:
            return
        entries = self.attach(
            change.session, incident, playbook, matched_by=AUTO, matched=matched, actor=SYSTEM_ACTOR, source=Source.SYSTEM, now=change.now
        )
        IncidentRepository.save(change.session, incident, now=change.now)
        self.service.record(change.session, incident, entries)

    def attach(
        self,
        session: Session,
        incident: Incident,
        playbook: Playbook,
        *,
        matched_by: str,
        actor: str,
        source: Source,
        now: datetime,
        matched: tuple[str, ...] = (),
        new_incident: bool = False,
    ) -> list[TimelineEntry]:
        run, rows, previous = repository.create_run(
            session, incident.number, playbook, matched_by=matched_by, actor=actor, now=now, new_incident=new_incident
        )
        incident.playbook_id = playbook.id
        how = f"matched {', '.join(matched)}" if matched else ("fallback" if matched_by == AUTO else f"attached by {actor}")
        text = f"playbook {playbook.id} attached: {playbook.title} ({how})"
        if previous is not None:
            text += f", replacing {previous.playbook_id}"
        data = {
            "playbook_id": playbook.id,
            "title": playbook.title,
            "matched_by": matched_by,
            "matched": list(matched),
            "run_id": run.id,
            "replaced": previous.playbook_id if previous is not None else None,
        }
        attached = TimelineEntry(kind=EntryKind.PLAYBOOK_ATTACHED, at=now, actor=actor, source=source, text=text, data=data)
        # Attached to an incident already acknowledged (``/incident run``): what it shows is done.
        return [attached, *self._settle_shown_in(session, incident, run, rows, now)]

    def run(self, number: int, playbook_id: str, *, actor: str, source: Source) -> Incident:
        """``/incident run <id>``: attach by hand, replacing the current playbook."""
        playbook = self.registry.get(playbook_id)
        if playbook is None:
            known = ", ".join(self.registry.ids()) or "none loaded"
            raise PlaybookNotFound(f"there is no playbook {playbook_id!r}. Usage: /incident run <playbook-id>\nPlaybooks: {known}")
        with self.service.sessions.begin() as session:

            def attach(incident: Incident) -> list[TimelineEntry]:
                if not incident.status.is_open:
                    # Its step deadlines would never fire: the guide would promise what never comes.
                    raise IllegalTransition(f"{incident.ref} is resolved: reopen it first (/incident reopen {incident.ref}), then run a playbook")
                return self.attach(session, incident, playbook, matched_by=MANUAL, actor=actor, source=source, now=self.service.clock.now())

            incident = self.service.apply(number, attach, session=session)
        self.service.notify_committed()
        return incident

    # -- steps ---------------------------------------------------------------------------

    def mark(self, number: int, step: int, status: str, *, actor: str, source: Source) -> StepMarked:
        """Record a step done or skipped, with who and when; settled steps stay settled."""
        if status not in (DONE, SKIPPED):
            raise InvalidCommand("Usage: /incident step done|skip <n>")
        with self.service.sessions.begin() as session:

            def mutation(incident: Incident) -> list[TimelineEntry]:
                return self._mark_in(session, incident, step, status, actor=actor, source=source)

            incident = self.service.apply(number, mutation, session=session)
        self.service.notify_committed()
        return StepMarked(incident, step, status)

    def _mark_in(self, session: Session, incident: Incident, number: int, status: str, *, actor: str, source: Source) -> list[TimelineEntry]:
        run = repository.active_run(session, incident.number)
        if run is None:
            raise InvalidCommand(f"{incident.ref} has no playbook. Attach one: /incident run <playbook-id>")
        rows = repository.step_rows(session, run.id)
        row = next((r for r in rows if r.step == number), None)
        if row is None:
            raise InvalidCommand(f"playbook {run.playbook_id} has steps 1–{len(rows)}; there is no step {number}")
        if row.status != PENDING:
            raise IllegalTransition(f"step {number} is already {row.status} (by {row.actor})")
        return [self._settle(session, run, rows, row, status, actor=actor, source=source, now=self.service.clock.now())]

    def _settle(
        self,
        session: Session,
        run: PlaybookRunRow,
        rows: list[PlaybookStepRow],
        row: PlaybookStepRow,
        status: str,
        *,
        actor: str,
        source: Source,
        now: datetime,
        why: str | None = None,
    ) -> TimelineEntry:
        """Settle a pending step (done or skipped): the next phase's deadlines start if this
        completes the current one. ``why``: said when nobody marked it (``done_when``)."""
        before = current_phase_index([repository.to_state(r) for r in rows])
        row.status, row.actor, row.at = status, actor, now
        after = current_phase_index([repository.to_state(r) for r in rows])
        advanced = after != before
        if advanced:
            repository.arm_current_phase(rows, now)
        session.flush()
        verb = "done" if status == DONE else "skipped"
        kind = EntryKind.STEP_DONE if status == DONE else EntryKind.STEP_SKIPPED
        data = {
            "playbook_id": run.playbook_id,
            "phase": row.phase_kind,
            "phase_title": row.phase_title,
            "step": row.step,
            "text": row.text,
            "phase_completed": advanced,
        }
        text = f"step {row.step} {verb}: {row.text}"
        if why is not None:
            data["done_because"] = why
            text += f" ({why})"
        return TimelineEntry(kind=kind, at=now, actor=actor, source=source, text=text, data=data)

    def on_state_shown(self, change: Change) -> None:
        """Subscriber: steps whose ``done_when`` the incident now shows (it was acknowledged, a
        commander was named) are marked done by themselves, whoever made the change and how."""
        if not any(recorded.entry.kind in _STATE_KINDS for recorded in change.entries):
            return
        entries = self.settle_shown(change.session, change.incident, change.now)
        if entries:
            self.service.record(change.session, change.incident, entries)

    def settle_shown(self, session: Session, incident: Incident, now: datetime) -> list[TimelineEntry]:
        """Mark done, in step order, the pending steps of the active playbook whose
        ``done_when`` the incident shows; their entries (to record)."""
        run = repository.active_run(session, incident.number)
        if run is None:
            return []
        return self._settle_shown_in(session, incident, run, repository.step_rows(session, run.id), now)

    def _settle_shown_in(
        self, session: Session, incident: Incident, run: PlaybookRunRow, rows: list[PlaybookStepRow], now: datetime
    ) -> list[TimelineEntry]:
        if not incident.status.is_open:
            return []
        return [
            self._settle(session, run, rows, row, DONE, actor=SYSTEM_ACTOR, source=Source.SYSTEM, now=now, why=because(row.done_when or ()))
            for row in rows
            if row.status == PENDING and shows(incident, row.done_when or ())
        ]

    # -- reading -------------------------------------------------------------------------

    def view_in(self, session: Session, incident: Incident) -> GuideView | None:
        started = repository.started_run(session, incident.number)
        if started is not None:
            run, rows = started
        else:
            active = repository.active_run(session, incident.number)
            if active is None:
                return None
            run, rows = active, repository.step_rows(session, active.id)
        return guide_view(
            incident_ref=incident.ref,
            playbook_id=run.playbook_id,
            playbook_title=run.title,
            states=[repository.to_state(row) for row in sorted(rows, key=lambda row: row.step)],
            now=self.service.clock.now(),
            incident_severity=incident.severity.value,
            playbook_severity=run.severity,
            escalating=self.escalates(incident.severity),
        )

    def view(self, number: int) -> GuideView | None:
        with self.service.sessions() as session:
            incident = IncidentRepository.get(session, number)
            return self.view_in(session, incident)

    def steps(self, number: int) -> tuple[str, list[StepState]] | None:
        """The active playbook's id and every step with its state, or None without a playbook."""
        with self.service.sessions() as session:
            run = repository.active_run(session, number)
            if run is None:
                return None
            return run.playbook_id, [repository.to_state(row) for row in repository.step_rows(session, run.id)]

    def guide_text(self, number: int) -> str | None:
        view = self.view(number)
        return render_guide(view, zone=self.zone) if view is not None else None

