"""Reading one incident's record for export, in a single read-only pass over its tables."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.export.model import ActionRecord, AlertRecord, EntryRecord, IncidentRecord, StepRecord
from bot.store import alert_groups
from bot.store.incidents import IncidentRepository, source_time_of, to_domain
from bot.store.models import ActionItemRow, AlertRow, PlaybookStepRow, TimelineRow


def load_record(session: Session, number: int) -> IncidentRecord:
    """Raises ``IncidentNotFound`` for an unknown number."""
    row = IncidentRepository.get_row(session, number)
    incident = to_domain(row)
    # Plain column tuples, not ORM objects: a 10,000-entry timeline loads several times faster.
    timeline = session.execute(
        select(
            TimelineRow.id,
            TimelineRow.kind,
            TimelineRow.at,
            TimelineRow.actor,
            TimelineRow.source,
            TimelineRow.text,
            TimelineRow.data,
            TimelineRow.received_at,
            TimelineRow.source_at,
            TimelineRow.source_time,
        )
        .where(TimelineRow.incident_id == number)
        .order_by(TimelineRow.at, TimelineRow.id)
    )
    entries = [
        EntryRecord(
            id=entry_id,
            entry=TimelineEntry(
                kind=EntryKind(kind),
                at=at,
                actor=actor,
                source=Source(source),
                text=text,
                data=dict(data or {}),
                received_at=received_at,
                source_at=source_at,
                source_time=source_time_of(source_time),
            ),
        )
        for entry_id, kind, at, actor, source, text, data, received_at, source_at, source_time in timeline
    ]
    alerts = [
        AlertRecord(
            fingerprint=alert.fingerprint,
            status=alert.status,
            labels=dict(alert.labels or {}),
            annotations=dict(alert.annotations or {}),
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
            generator_url=alert.generator_url,
            first_seen_at=alert.first_seen_at,
        )
        for alert in session.scalars(select(AlertRow).where(AlertRow.incident_id == number).order_by(AlertRow.id))
    ]
    actions = [
        ActionRecord(
            id=item.id,
            text=item.text,
            created_by=item.created_by,
            created_at=item.created_at,
            owner=item.owner,
            done=item.done,
        )
        for item in session.scalars(select(ActionItemRow).where(ActionItemRow.incident_id == number).order_by(ActionItemRow.id))
    ]
    steps = [
        StepRecord(playbook_id=step.playbook_id, step=step.step, phase=step.phase_kind, text=step.text)
        for step in session.scalars(select(PlaybookStepRow).where(PlaybookStepRow.incident_id == number).order_by(PlaybookStepRow.id))
    ]
    return IncidentRecord(
        incident=incident,
        entries=entries,
        alerts=alerts,
        actions=actions,
        channel_name=row.chat_channel_name,
        steps=steps,
        children=alert_groups.children(session, number),
        drill=row.drill,
    )
