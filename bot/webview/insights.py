"""Trends for /insights: incidents per week by severity, response times, escalations, noise.

Drills and incidents merged into another are left out of every figure (a merged incident's
alert groups count in the incident that took them in). Times are counted from when
Firebreak opened the incident: to detect is from the first alert's start to that moment,
to acknowledge and to resolve are from it. Medians, not means: one incident left open over
a weekend must not make a quiet week look slow.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.severity import Severity
from bot.store.escalations import FIRED
from bot.store.models import AlertGroupRow, AlertRow, EscalationRow, IncidentRow

#: Weeks shown (the current one included).
WEEKS = 12
SEVERITIES = tuple(level.value for level in Severity)
MEASURES = ("detect", "acknowledge", "resolve")


@dataclass(frozen=True)
class Insights:
    weeks: list[date]
    """Monday of each week shown, oldest first."""
    per_week: dict[str, list[int]]
    """Severity → incidents opened in each week."""
    times_per_week: dict[str, list[float | None]]
    """Measure (detect, acknowledge, resolve) → median seconds per week."""
    times_per_service: list[tuple[str, dict[str, float | None], int]]
    """(service, measure → median seconds, incidents), busiest services first."""
    escalations: list[tuple[int, int]]
    """(level, escalations that fired at it)."""
    noisiest: list[tuple[str, int, int]]
    """(alert group title, times it arrived, alerts in it), noisiest first."""
    total: int


def _monday(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def build(session: Session, *, now: datetime, weeks: int = WEEKS) -> Insights:
    first = _monday(now) - timedelta(weeks=weeks - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    counted = (IncidentRow.drill.is_(False), IncidentRow.merged_into.is_(None), IncidentRow.created_at >= since)
    first_alert = (
        select(AlertRow.incident_id, func.min(AlertRow.starts_at).label("started"))
        .group_by(AlertRow.incident_id)
        .subquery()
    )
    rows = session.execute(
        select(
            IncidentRow.id,
            IncidentRow.severity,
            IncidentRow.created_at,
            IncidentRow.acknowledged_at,
            IncidentRow.resolved_at,
            IncidentRow.labels["service"].as_string(),
            first_alert.c.started,
        )
        .outerjoin(first_alert, first_alert.c.incident_id == IncidentRow.id)
        .where(*counted)
    ).all()
    week_list = [first + timedelta(weeks=index) for index in range(weeks)]
    index_of = {week: index for index, week in enumerate(week_list)}
    per_week = {severity: [0] * weeks for severity in SEVERITIES}
    samples: dict[str, list[list[float]]] = {measure: [[] for _ in range(weeks)] for measure in MEASURES}
    by_service: dict[str, dict[str, list[float]]] = defaultdict(lambda: {measure: [] for measure in MEASURES})
    service_count: Counter[str] = Counter()
    for _number, severity, created, acknowledged, resolved, service, started in rows:
        index = index_of.get(_monday(created))
        if index is None:
            continue
        if severity in per_week:
            per_week[severity][index] += 1
        measured = {
            "detect": _seconds(started, created) if started is not None and started <= created else None,
            "acknowledge": _seconds(created, acknowledged),
            "resolve": _seconds(created, resolved),
        }
        name = service or "(no service label)"
        service_count[name] += 1
        for measure, value in measured.items():
            if value is not None:
                samples[measure][index].append(value)
                by_service[name][measure].append(value)
    times_per_week = {measure: [_median(values) for values in samples[measure]] for measure in MEASURES}
    times_per_service = [
        (name, {measure: _median(by_service[name][measure]) for measure in MEASURES}, count) for name, count in service_count.most_common(10)
    ]
    escalations = session.execute(
        select(EscalationRow.level, func.count())
        .join(IncidentRow, IncidentRow.id == EscalationRow.incident_id)
        .where(*counted, EscalationRow.status == FIRED)
        .group_by(EscalationRow.level)
        .order_by(EscalationRow.level)
    ).all()
    alert_counts = select(AlertRow.group_id, func.count().label("alerts")).group_by(AlertRow.group_id).subquery()
    noisiest = session.execute(
        select(AlertGroupRow.title, func.count(), func.coalesce(func.sum(alert_counts.c.alerts), 0))
        .join(IncidentRow, IncidentRow.id == AlertGroupRow.incident_id)
        .outerjoin(alert_counts, alert_counts.c.group_id == AlertGroupRow.id)
        .where(*counted)
        .group_by(AlertGroupRow.title)
        .order_by(func.count().desc(), AlertGroupRow.title)
        .limit(10)
    ).all()
    return Insights(
        weeks=week_list,
        per_week=per_week,
        times_per_week=times_per_week,
        times_per_service=times_per_service,
        escalations=[(int(level), int(count)) for level, count in escalations],
        noisiest=[(str(title), int(count), int(alerts)) for title, count, alerts in noisiest],
        total=len(rows),
    )
