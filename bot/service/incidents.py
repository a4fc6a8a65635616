"""Use cases on incidents: load, apply a domain method, store it with its timeline, notify.

Every way into Firebreak (console, Slack, webhooks, the scheduler) changes incidents only
through this service, which is why the timeline is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.outbox import reprioritise
from bot.domain.children import Child
from bot.domain.clock import Clock, SystemClock
from bot.domain.errors import IllegalTransition, IncidentNotFound
from bot.domain.incident import Incident, Role, format_number
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.service.changes import Change, RecordedEntry, Subscriber
from bot.store import alert_groups
from bot.store.db import SessionFactory
from bot.store.incidents import IncidentRepository
from bot.store.models import IncidentRow

Mutation = Callable[[Incident], list[TimelineEntry]]
#: Runs for every new incident after it is inserted (and after a caller's ``extra``), in the
#: same transaction; the entries it returns are recorded with DECLARED as one change, so
#: subscribers see e.g. PLAYBOOK_ATTACHED in the ``is_new`` change rather than a nested one.
DeclareHook = Callable[[Session, Incident], list[TimelineEntry]]


class IncidentService:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        clock: Clock | None = None,
        subscribers: Sequence[Subscriber] = (),
        after_commit: Sequence[Callable[[], None]] = (),
        drill: bool = False,
    ) -> None:
        """``drill``: this service runs a rehearsal (``firebreak drill``); the incidents it opens
        are marked as drills and it lists only those."""
        self.sessions = sessions
        self.drill = drill
        self.clock = clock or SystemClock()
        self.subscribers: list[Subscriber] = list(subscribers)
        self.after_commit: list[Callable[[], None]] = list(after_commit)
        self.declare_hooks: list[DeclareHook] = []

    # -- generic ---------------------------------------------------------------------

    def declare(
        self,
        *,
        title: str,
        severity: Severity,
        actor: str,
        source: Source,
        description: str = "",
        labels: dict[str, str] | None = None,
        links: dict[str, str] | None = None,
        dedup_key: str | None = None,
        session: Session | None = None,
        extra: Callable[[Session, Incident], list[TimelineEntry]] | None = None,
    ) -> Incident:
        """Open an incident. Pass ``session`` to join a caller's transaction (webhooks)."""
        if session is not None:
            return self._declare_in(session, title, severity, actor, source, description, labels, links, dedup_key, extra)
        with self.sessions.begin() as own:
            incident = self._declare_in(own, title, severity, actor, source, description, labels, links, dedup_key, extra)
        self._committed()
        return incident

    def _declare_in(
        self,
        session: Session,
        title: str,
        severity: Severity,
        actor: str,
        source: Source,
        description: str,
        labels: dict[str, str] | None,
        links: dict[str, str] | None,
        dedup_key: str | None,
        extra: Callable[[Session, Incident], list[TimelineEntry]] | None,
    ) -> Incident:
        now = self.clock.now()
        incident, entries = Incident.declare(
            number=0,
            title=title,
            severity=severity,
            actor=actor,
            source=source,
            at=now,
            description=description,
            labels=labels,
            links=links,
            dedup_key=dedup_key,
        )
        IncidentRepository.insert(session, incident, now=now, drill=self.drill)
        if extra is not None:
            entries = entries + extra(session, incident)
        for hook in self.declare_hooks:
            entries = entries + hook(session, incident)
        self._record(session, incident, entries, now=now, is_new=True)
        return incident

    def apply(self, number: int, mutation: Mutation, *, session: Session | None = None) -> Incident:
        """Run a domain method under a row lock and record what it produced."""
        if session is not None:
            return self._apply_in(session, number, mutation)
        with self.sessions.begin() as own:
            incident = self._apply_in(own, number, mutation)
        self._committed()
        return incident

    def _apply_in(self, session: Session, number: int, mutation: Mutation) -> Incident:
        now = self.clock.now()
        incident = IncidentRepository.get(session, number, for_update=True)
        entries = mutation(incident)
        IncidentRepository.save(session, incident, now=now)
        self._record(session, incident, entries, now=now)
        return incident

    def record(self, session: Session, incident: Incident, entries: list[TimelineEntry]) -> None:
        """For adapters that already hold the incident in ``session`` (alert updates)."""
        self._record(session, incident, entries, now=self.clock.now())

    def _record(self, session: Session, incident: Incident, entries: list[TimelineEntry], *, now: Any, is_new: bool = False) -> None:
        ids = IncidentRepository.append(session, incident.number, entries)
        if not is_new and any(entry.kind is EntryKind.SEVERITY_CHANGED for entry in entries):
            # Worst first: what is still queued about this incident moves with its severity.
            reprioritise(session, incident.number, incident.severity, now=now)
        change = Change(
            session=session,
            incident=incident,
            entries=[RecordedEntry(entry_id, entry) for entry_id, entry in zip(ids, entries, strict=True)],
            now=now,
            is_new=is_new,
        )
        for subscriber in self.subscribers:
            subscriber(change)

    def _committed(self) -> None:
        for hook in self.after_commit:
            hook()

    def notify_committed(self) -> None:
        """Callers that passed their own session call this after they commit."""
        self._committed()

    # -- the verbs ---------------------------------------------------------------------

    def acknowledge(self, number: int, *, actor: str, source: Source) -> Incident:
        return self.apply(number, lambda i: i.acknowledge(actor=actor, source=source, at=self.clock.now()))

    def mitigate(self, number: int, *, actor: str, source: Source) -> Incident:
        return self.apply(number, lambda i: i.mitigate(actor=actor, source=source, at=self.clock.now()))

    def resolve(self, number: int, *, actor: str, source: Source) -> Incident:
        return self.apply(number, lambda i: i.resolve(actor=actor, source=source, at=self.clock.now()))

    def reopen(self, number: int, *, actor: str, source: Source) -> Incident:
        with self.sessions() as session:
            merged_into = IncidentRepository.get_row(session, number).merged_into
        if merged_into is not None:  # its children and work went on in the other incident
            raise IllegalTransition(
                f"{format_number(number)} was merged into {format_number(merged_into)}; reopen that one if needed"
            )
        return self.apply(number, lambda i: i.reopen(actor=actor, source=source, at=self.clock.now()))

    def change_severity(self, number: int, severity: Severity, *, actor: str, source: Source, reason: str = "") -> Incident:
        return self.apply(
            number, lambda i: i.change_severity(severity, actor=actor, source=source, at=self.clock.now(), reason=reason)
        )

    def assign_role(self, number: int, role: Role, user: str, *, actor: str, source: Source) -> Incident:
        return self.apply(number, lambda i: i.assign_role(role, user, actor=actor, source=source, at=self.clock.now()))

    def add_note(self, number: int, text: str, *, actor: str, source: Source) -> Incident:
        return self.apply(number, lambda i: i.note(text, actor=actor, source=source, at=self.clock.now()))

    def add_action(self, number: int, text: str, *, actor: str, source: Source) -> Incident:
        with self.sessions.begin() as session:

            def mutation(incident: Incident) -> list[TimelineEntry]:
                entries = incident.add_action(text, actor=actor, source=source, at=self.clock.now())
                IncidentRepository.add_action_item(session, incident.number, text=entries[0].text, created_by=actor, at=entries[0].at)
                return entries

            incident = self._apply_in(session, number, mutation)
        self._committed()
        return incident

    # -- reads -------------------------------------------------------------------------

    def get(self, number: int) -> Incident:
        with self.sessions() as session:
            return IncidentRepository.get(session, number)

    def check_own(self, number: int) -> None:
        """Raise ``IncidentNotFound`` unless ``number`` is one of this service's incidents: a
        drill's for a drill, a real one otherwise.

        A drill may share a database with the real processes (``firebreak drill
        --database-url``). Its scripted commands must not note, resolve or merge away a real
        incident by naming it (the drill's messages never reach Slack or PagerDuty, so the
        people on that incident would not hear of it), and real commands leave a drill's
        incidents alone. A number that names no incident is left to the caller to report.
        """
        with self.sessions() as session:
            drill = session.scalar(select(IncidentRow.drill).where(IncidentRow.id == number))
        if drill is not None and bool(drill) != self.drill:
            if self.drill:
                raise IncidentNotFound(f"there is no incident {format_number(number)} in this drill (it is a real incident)")
            raise IncidentNotFound(f"{format_number(number)} is a drill's incident, not a real one")

    def timeline(self, number: int, *, leaving_out: Collection[EntryKind] = ()) -> list[TimelineEntry]:
        with self.sessions() as session:
            IncidentRepository.get_row(session, number)
            return IncidentRepository.timeline(session, number, leaving_out=leaving_out)

    def children(self, number: int) -> list[Child]:
        """The incident's alert groups (children) with their alert counts, by short id."""
        with self.sessions() as session:
            IncidentRepository.get_row(session, number)
            return alert_groups.children(session, number)

    def merged_into(self, numbers: Sequence[int]) -> dict[int, int]:
        """Which of these incidents were merged into another: number → the survivor's number."""
        if not numbers:
            return {}
        with self.sessions() as session:
            statement = select(IncidentRow.id, IncidentRow.merged_into).where(
                IncidentRow.id.in_(list(numbers)), IncidentRow.merged_into.is_not(None)
            )
            return {int(number): int(into) for number, into in session.execute(statement) if into is not None}

    def recent(self, *, open_only: bool = False, limit: int = 100) -> Sequence[Incident]:
        """The newest ``limit`` incidents, newest first (only unresolved ones with ``open_only``)."""
        with self.sessions() as session:
            return IncidentRepository.recent(session, open_only=open_only, limit=limit, drills=self.drill)
