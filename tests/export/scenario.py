"""A scripted incident touching every section of the post-mortem, on a frozen clock.

Entries that other features emit (alerts, playbooks, escalation, PagerDuty, flagged
messages, reminders) are appended through ``IncidentService.apply`` with exactly the
``data`` shapes documented on ``EntryKind``, the way those features will record them.
People's text is deliberately hostile: markdown, pipes, backticks, HTML, newlines and
Slack mention syntax.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Incident, Role
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.store.models import ActionItemRow, AlertRow

HOSTILE_NOTE = "Rolled back `v2.3` | cache *purged* <script>alert(1)</script>\n# not a heading\n<!channel> <@U0BOB> @here [x](javascript:alert(1))"
FLAGGED_TEXT = "<!here> DB at 100% | see ```graph``` & <https://evil.example|click>"
DESCRIPTION = "Customers see **500s** on /checkout.\n\n---\n> quoted? <b>no</b>\n    indented | pipe"


def _append(container: Container, number: int, kind: EntryKind, text: str, data: dict[str, Any], *, actor: str, source: Source) -> None:
    at = container.clock.now()
    container.service.apply(
        number, lambda _incident: [TimelineEntry(kind=kind, at=at, actor=actor, source=source, text=text, data=data)]
    )


def _alert(container: Container, number: int, fingerprint: str, labels: dict[str, str], starts: datetime, *, url: str) -> None:
    now = container.clock.now()
    with container.sessions.begin() as session:
        session.add(
            AlertRow(
                incident_id=number,
                fingerprint=fingerprint,
                status="firing",
                labels=labels,
                annotations={"summary": f"{labels['alertname']} is firing"},
                starts_at=starts,
                ends_at=None,
                generator_url=url,
                first_seen_at=now,
                updated_at=now,
            )
        )
    _append(
        container,
        number,
        EntryKind.ALERT_FIRING,
        f"alert {labels['alertname']} firing",
        {
            "fingerprint": fingerprint,
            "alertname": labels["alertname"],
            "labels": labels,
            "annotations": {"summary": f"{labels['alertname']} is firing"},
            "starts_at": starts.isoformat().replace("+00:00", "Z"),
            "ends_at": "0001-01-01T00:00:00Z",
            "generator_url": url,
        },
        actor="alertmanager",
        source=Source.ALERTMANAGER,
    )


def build_incident(container: Container) -> Incident:
    clock = container.clock
    assert isinstance(clock, FrozenClock)
    service = container.service
    labels_a = {"alertname": "CheckoutErrors", "service": "checkout", "severity": "high", "env": "prod"}
    labels_b = {"alertname": "PaymentsLatency|p99", "service": "payments", "severity": "critical", "env": "prod"}
    incident = service.declare(
        title="Checkout | payments <failing>",
        severity=Severity.P2,
        actor="alertmanager",
        source=Source.ALERTMANAGER,
        description=DESCRIPTION,
        links={"dashboard": "https://grafana.example/d/checkout?from=now-1h&to=now", "evil": "javascript:alert(1)"},
    )
    number = incident.number
    _alert(container, number, "fp-a1", labels_a, datetime(2026, 3, 14, 9, 24, 0, tzinfo=UTC), url="https://prom.example/graph?g0.expr=rate(x[5m])")
    clock.advance(seconds=30)
    _append(
        container,
        number,
        EntryKind.PLAYBOOK_ATTACHED,
        "playbook checkout-errors attached",
        {"playbook_id": "checkout-errors", "title": "Checkout errors", "matched_by": "auto"},
        actor="firebreak",
        source=Source.SYSTEM,
    )
    clock.advance(minutes=5)
    _append(
        container,
        number,
        EntryKind.ESCALATED,
        "escalated to level 1: @oncall-primary",
        {"level": 1, "targets": ["@oncall-primary"], "reason": "not acknowledged within 5m", "condition": "unacknowledged", "manual": False},
        actor="firebreak",
        source=Source.SCHEDULER,
    )
    clock.advance(minutes=2, seconds=7)
    service.acknowledge(number, actor="bob", source=Source.SLACK)
    _append(
        container,
        number,
        EntryKind.PAGERDUTY_EVENT,
        "PagerDuty: incident acknowledged by Bob",
        {"event_type": "incident.acknowledged", "event_id": "evt-1", "pagerduty_incident_id": "PD123"},
        actor="bob",
        source=Source.PAGERDUTY,
    )
    clock.advance(minutes=1)
    service.assign_role(number, Role.COMMANDER, "@alice", actor="bob", source=Source.SLACK)
    service.assign_role(number, Role.SCRIBE, "carol | <@U0CAROL>", actor="bob", source=Source.SLACK)
    clock.advance(minutes=1)
    _alert(container, number, "fp-b2", labels_b, datetime(2026, 3, 14, 9, 35, 0, tzinfo=UTC), url="https://prom.example/graph?g0.expr=histogram")
    service.change_severity(number, Severity.P1, actor="alice", source=Source.SLACK, reason="payments | affected too")
    clock.advance(seconds=45)
    service.add_note(number, HOSTILE_NOTE, actor="alice", source=Source.SLACK)
    _append(
        container,
        number,
        EntryKind.STEP_DONE,
        "step 1 done: Check the error rate",
        {"playbook_id": "checkout-errors", "phase": "symptoms", "step": 1, "text": "Check the error rate on `checkout` | dashboards"},
        actor="bob",
        source=Source.SLACK,
    )
    clock.advance(minutes=2)
    _append(
        container,
        number,
        EntryKind.STEP_SKIPPED,
        "step 2 skipped: Restart the pods",
        {"playbook_id": "checkout-errors", "phase": "resolution", "step": 2, "text": "Restart the pods"},
        actor="alice",
        source=Source.SLACK,
    )
    clock.advance(minutes=3)
    _append(
        container,
        number,
        EntryKind.STEP_DEADLINE,
        "step 3 deadline passed: escalate to L2",
        {"playbook_id": "checkout-errors", "phase": "resolution", "step": 3, "text": "Roll back the release", "action": "escalate to L2"},
        actor="firebreak",
        source=Source.SCHEDULER,
    )
    _append(
        container,
        number,
        EntryKind.ESCALATED,
        "escalated to level 2: @dba-team",
        {"level": 2, "targets": ["@dba-team", "<!subteam^S123>"], "reason": "need a DBA", "condition": "unresolved", "manual": True},
        actor="alice",
        source=Source.SLACK,
    )
    clock.advance(minutes=1)
    _append(
        container,
        number,
        EntryKind.MESSAGE_FLAGGED,
        "flagged a message by dave",
        {"channel": "C123", "ts": "1773480000.000100", "author": "dave", "text": FLAGGED_TEXT, "permalink": "https://slack.example/archives/C123/p1773480000000100"},
        actor="alice",
        source=Source.SLACK,
    )
    clock.advance(minutes=4)
    _append(
        container,
        number,
        EntryKind.REMINDER,
        "no update for 30 minutes: post a status update",
        {"quiet_seconds": 1800},
        actor="firebreak",
        source=Source.SCHEDULER,
    )
    with container.sessions.begin() as session:
        session.execute(
            update(AlertRow).where(AlertRow.fingerprint == "fp-a1").values(status="resolved", ends_at=clock.now())
        )
    _append(
        container,
        number,
        EntryKind.ALERT_RESOLVED,
        "alert CheckoutErrors resolved",
        {"fingerprint": "fp-a1", "alertname": "CheckoutErrors", "labels": labels_a, "annotations": {}, "starts_at": "2026-03-14T09:24:00Z", "ends_at": clock.now().isoformat(), "generator_url": None},
        actor="alertmanager",
        source=Source.ALERTMANAGER,
    )
    clock.advance(minutes=2)
    service.mitigate(number, actor="alice", source=Source.SLACK)
    service.add_action(number, "Add a canary for `checkout` | payments\n- [ ] sub-task?", actor="alice", source=Source.SLACK)
    service.add_action(number, "Alert on p99 <500ms>", actor="bob", source=Source.SLACK)
    with container.sessions.begin() as session:
        session.execute(update(ActionItemRow).where(ActionItemRow.text == "Alert on p99 <500ms>").values(owner="@bob", done=True))
    clock.advance(minutes=10)
    service.assign_role(number, Role.COMMANDER, "dave", actor="alice", source=Source.SLACK)
    service.resolve(number, actor="dave", source=Source.SLACK)
    clock.advance(minutes=1)
    return service.get(number)
