"""One incident's page: the summary parts and the newest page of its timeline.

Read in one short transaction with one query per part; the timeline is read a page at a
time, newest first, keyed on (at, id) so "load more" stays as fast on page 200 as on page 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bot.domain.children import Child
from bot.domain.errors import IncidentNotFound
from bot.domain.incident import Incident
from bot.domain.source_time import showable
from bot.store import alert_groups
from bot.store.escalations import PENDING
from bot.store.incidents import IncidentRepository, to_domain
from bot.store.models import AlertRow, EscalationRow, IncidentRow, PlaybookRunRow, PlaybookStepRow, TimelineRow

#: Timeline entries per page (the first page and each "load more").
TIMELINE_PAGE = 50
#: Alerts listed on the page; more are counted (the post-mortem lists them all).
ALERTS_SHOWN = 100
#: Alert groups listed on the page; more are counted. A storm incident collects a group per
#: alert group that fires, thousands in a large outage, and an open page renders its summary
#: again on every change (``/live``, about once a second while the storm lasts).
CHILDREN_SHOWN = 100


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    kind: str
    actor: str
    source: str
    text: str

    @property
    def cursor(self) -> str:
        return f"{self.at.isoformat()}~{self.id}"


@dataclass(frozen=True)
class Step:
    playbook_id: str
    step: int
    phase: str
    text: str
    status: str
    actor: str | None
    at: datetime | None
    deadline_at: datetime | None


@dataclass(frozen=True)
class AlertLine:
    fingerprint: str
    status: str
    name: str
    labels: dict[str, Any]
    summary: str
    starts_at: datetime | None
    ends_at: datetime | None
    child: int | None


@dataclass(frozen=True)
class NextEscalation:
    level: int
    due_at: datetime
    condition: str
    targets: list[str]


@dataclass(frozen=True)
class TimelinePage:
    entries: list[Entry]
    more: bool

    @property
    def next_cursor(self) -> str | None:
        return self.entries[-1].cursor if self.more and self.entries else None


@dataclass(frozen=True)
class IncidentPage:
    incident: Incident
    updated_at: datetime
    escalation_level: int
    next_escalation: NextEscalation | None
    merged_into: int | None
    drill: bool
    channel_id: str | None
    channel_name: str | None
    steps: list[Step]
    alerts: list[AlertLine]
    alert_count: int
    children: list[Child]
    #: How many children the incident has (``children`` holds the first ``CHILDREN_SHOWN``).
    children_count: int
    timeline: TimelinePage
    marker: str


def marker(session: Session, number: int) -> str | None:
    """What changes whenever the page would: the newest entry id and the incident's update time.

    None for an unknown incident. Cheap enough to ask once a second per open page.
    """
    updated = session.scalar(select(IncidentRow.updated_at).where(IncidentRow.id == number))
    if updated is None:
        return None
    return f"{_newest_entry(session, number)}-{int(updated.timestamp() * 1000)}"


def _newest_entry(session: Session, number: int) -> int:
    """The id of the incident's latest entry, read from the end of its (incident, at, id) index.

    ``max(id)`` would walk the primary key backwards past every newer entry of every other
    incident: fine for the newest incident, slow for an old one in a big table.
    """
    newest = session.scalar(
        select(TimelineRow.id).where(TimelineRow.incident_id == number).order_by(TimelineRow.at.desc(), TimelineRow.id.desc()).limit(1)
    )
    return int(newest or 0)


def parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    if not text or "~" not in text or len(text) > 80:
        return None
    at_text, _, id_text = text.rpartition("~")
    if not (id_text.isascii() and id_text.isdigit() and len(id_text) < 19):  # a row id, within BIGINT
        return None
    try:
        return showable(datetime.fromisoformat(at_text)), int(id_text)
    except ValueError:
        return None


def timeline_page(session: Session, number: int, *, before: tuple[datetime, int] | None = None, after_id: int | None = None) -> TimelinePage:
    """Newest first: entries before ``before`` (for "load more"), or newer than ``after_id`` (live)."""
    statement = select(TimelineRow.id, TimelineRow.at, TimelineRow.kind, TimelineRow.actor, TimelineRow.source, TimelineRow.text).where(
        TimelineRow.incident_id == number
    )
    if before is not None:
        at, entry_id = before
        statement = statement.where(or_(TimelineRow.at < at, and_(TimelineRow.at == at, TimelineRow.id < entry_id)))
    if after_id is not None:
        statement = statement.where(TimelineRow.id > after_id)
    rows = session.execute(statement.order_by(TimelineRow.at.desc(), TimelineRow.id.desc()).limit(TIMELINE_PAGE + 1)).all()
    entries = [Entry(id=row[0], at=row[1], kind=row[2], actor=row[3], source=row[4], text=row[5]) for row in rows[:TIMELINE_PAGE]]
    return TimelinePage(entries=entries, more=len(rows) > TIMELINE_PAGE)


def _steps(session: Session, number: int) -> list[Step]:
    rows = session.execute(
        select(PlaybookStepRow)
        .join(PlaybookRunRow, PlaybookRunRow.id == PlaybookStepRow.run_id)
        .where(PlaybookStepRow.incident_id == number, PlaybookRunRow.active.is_(True))
        .order_by(PlaybookStepRow.run_id, PlaybookStepRow.step)
    ).scalars()
    return [
        Step(
            playbook_id=row.playbook_id,
            step=row.step,
            phase=row.phase_title or row.phase_kind,
            text=row.text,
            status=row.status,
            actor=row.actor,
            at=row.at,
            deadline_at=row.deadline_at,
        )
        for row in rows
    ]


def _alerts(session: Session, number: int) -> tuple[list[AlertLine], int]:
    count = int(session.scalar(select(func.count()).select_from(AlertRow).where(AlertRow.incident_id == number)) or 0)
    rows = session.scalars(select(AlertRow).where(AlertRow.incident_id == number).order_by(AlertRow.status, AlertRow.id).limit(ALERTS_SHOWN))
    lines = []
    for row in rows:
        labels = dict(row.labels or {})
        annotations = dict(row.annotations or {})
        lines.append(
            AlertLine(
                fingerprint=row.fingerprint,
                status=row.status,
                name=str(labels.get("alertname") or row.fingerprint),
                labels=labels,
                summary=str(annotations.get("summary") or annotations.get("description") or ""),
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                child=row.group_id,
            )
        )
    return lines, count


def _next_escalation(session: Session, number: int) -> NextEscalation | None:
    row = session.scalars(
        select(EscalationRow).where(EscalationRow.incident_id == number, EscalationRow.status == PENDING).order_by(EscalationRow.due_at).limit(1)
    ).first()
    if row is None:
        return None
    targets = [str(target.get("value") or target) if isinstance(target, dict) else str(target) for target in row.targets or []]
    return NextEscalation(level=row.level, due_at=row.due_at, condition=row.condition, targets=targets)


def incident_page(session: Session, number: int, *, before: tuple[datetime, int] | None = None) -> IncidentPage:
    """Raises ``IncidentNotFound``."""
    row = IncidentRepository.get_row(session, number)
    alerts, alert_count = _alerts(session, number)
    newest = _newest_entry(session, number)
    return IncidentPage(
        incident=to_domain(row),
        updated_at=row.updated_at,
        escalation_level=row.escalation_level,
        next_escalation=_next_escalation(session, number) if row.status != "resolved" else None,
        merged_into=row.merged_into,
        drill=row.drill,
        channel_id=row.chat_channel_id,
        channel_name=row.chat_channel_name,
        steps=_steps(session, number),
        alerts=alerts,
        alert_count=alert_count,
        children=alert_groups.children(session, number, limit=CHILDREN_SHOWN),
        children_count=alert_groups.count_children(session, number),
        timeline=timeline_page(session, number, before=before),
        marker=f"{newest}-{int(row.updated_at.timestamp() * 1000)}",
    )


__all__ = ["IncidentNotFound", "IncidentPage", "incident_page", "marker", "parse_cursor", "timeline_page"]
