"""Children (alert groups) and their alerts written straight into the store, for view tests.

Ingest is what creates them in production; tests of what people read build them directly
through ``bot.store.alert_groups.add`` and ``alerts.group_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select

from bot.container import Container
from bot.domain.children import JoinedBy
from bot.domain.severity import Severity
from bot.store import alert_groups
from bot.store.models import AlertGroupRow, AlertRow

#: A label value written to escape every medium: Slack markup, a broadcast, markdown, a
#: table pipe, a terminal escape sequence and a bidi override.
HOSTILE_VALUE = "<!here> <@U0EVE> *bold* |pipe <https://evil.example|click> \x1b[2J\u202eevil"


def add_child(
    container: Container,
    number: int,
    *,
    title: str,
    severity: Severity,
    joined_by: JoinedBy = JoinedBy.CORRELATED,
    labels: Mapping[str, str] | None = None,
    correlation: Mapping[str, str] | None = None,
    firing_alerts: int = 1,
    resolved_alerts: int = 0,
    resolved_at: datetime | None = None,
    at: datetime | None = None,
    truncated_alerts: int = 0,
) -> int:
    """A child of incident ``number`` with its alerts; returns its short id (``#n``)."""
    when = at or container.clock.now()
    key_labels = dict(labels or {"alertname": title})
    with container.sessions.begin() as session:
        count = session.scalar(select(func.count()).select_from(AlertGroupRow)) or 0
        row = alert_groups.add(
            session,
            incident_id=number,
            dedup_key=f"am:test-{number}-{count}-{title}"[:250],
            source="alertmanager",
            title=title,
            severity=severity,
            joined_by=joined_by,
            at=when,
            labels=key_labels,
            correlation=correlation,
        )
        if resolved_at is not None:
            alert_groups.set_state(row, firing=False, at=resolved_at)
        if truncated_alerts:
            row.truncated_alerts = truncated_alerts
        for index in range(firing_alerts + resolved_alerts):
            firing = index < firing_alerts
            session.add(
                AlertRow(
                    incident_id=number,
                    fingerprint=f"fp-{row.id}-{index}",
                    status="firing" if firing else "resolved",
                    labels={**key_labels, "instance": f"i-{index}"},
                    annotations={},
                    starts_at=when,
                    ends_at=None if firing else when,
                    generator_url=None,
                    first_seen_at=when,
                    updated_at=when,
                    group_id=row.id,
                )
            )
        return row.child_number
