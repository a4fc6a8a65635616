"""Scenario events as the webhooks their senders would post, queued in the drill's inbox.

The bodies go through the same parsing and the same ingester as real webhooks; only the
HTTP hop is skipped. Group keys are prefixed with the drill's run id, so a drill run on a
shared database (``--database-url``) can never land in a real incident's group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain.severity import Severity
from bot.drill.scenario import AlertmanagerEvent, PagerDutyEvent
from bot.ingest.alertmanager.route import SOURCE as ALERTMANAGER
from bot.ingest.alertmanager.route import parse_group, queue_priority
from bot.ingest.inbox_writer import Webhook
from bot.ingest.pagerduty.route import SOURCE as PAGERDUTY
from bot.ingest.pagerduty.route import parse_delivery

_GO_ZERO = "0001-01-01T00:00:00Z"
_PD_STATUS = {
    "incident.triggered": "triggered",
    "incident.acknowledged": "acknowledged",
    "incident.unacknowledged": "triggered",
    "incident.resolved": "resolved",
    "incident.reopened": "triggered",
    "incident.priority_updated": "triggered",
}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Feed:
    """Turns events into webhooks; remembers when each alert started firing (its ``startsAt``)."""

    def __init__(self, run_id: str, mapping: Mapping[str, Severity]) -> None:
        self.run_id = run_id
        self._mapping = dict(mapping)
        self._started: dict[tuple[str, ...], datetime] = {}
        self._pd_status: dict[str, str] = {}
        self._count = 0

    def alertmanager(self, event: AlertmanagerEvent, now: datetime) -> Webhook:
        alerts: list[dict[str, Any]] = []
        for spec in event.alert_list():
            identity = (event.source or "", *sorted(f"{k}={v}" for k, v in spec.labels.items()))
            started = self._started.setdefault(identity, now)
            if spec.status == "resolved":
                self._started.pop(identity, None)
            alerts.append(
                {
                    "status": spec.status,
                    "labels": dict(spec.labels),
                    "annotations": dict(spec.annotations),
                    "startsAt": iso(started),
                    "endsAt": iso(now) if spec.status == "resolved" else _GO_ZERO,
                }
            )
        common = {key: value for key, value in alerts[0]["labels"].items() if all(a["labels"].get(key) == value for a in alerts)}
        body: dict[str, Any] = {
            "version": "4",
            "groupKey": f"drill/{self.run_id}/{event.group_key()}",
            "status": "firing" if any(alert["status"] == "firing" for alert in alerts) else "resolved",
            "receiver": "firebreak-drill",
            "groupLabels": {"alertname": common["alertname"]} if "alertname" in common else {},
            "commonLabels": common,
            "commonAnnotations": {},
            "externalURL": "",
            "alerts": alerts,
        }
        group = parse_group(body, event.source)
        text = json.dumps(body)
        return Webhook(ALERTMANAGER, group.dedup_key, text, now, priority=queue_priority(group, self._mapping))

    def pagerduty(self, event: PagerDutyEvent, now: datetime) -> Webhook:
        self._count += 1
        incident_id = f"D{self.run_id}-{event.incident}"[:64]
        if event.event_type == "incident.annotated":
            data: dict[str, Any] = {"incident": {"id": incident_id, "summary": event.title}, "content": event.note or ""}
        else:
            status = _PD_STATUS.get(event.event_type, self._pd_status.get(incident_id, "triggered"))
            self._pd_status[incident_id] = status
            data = {
                "id": incident_id,
                "title": event.title or event.incident,
                "status": status,
                "urgency": event.urgency,
                "priority": {"summary": event.priority} if event.priority else None,
                "service": {"id": "PDRILL", "summary": event.service} if event.service else None,
            }
        body = {
            "event": {
                "id": f"drill-{self.run_id}-{self._count}",
                "event_type": event.event_type,
                "resource_type": "incident",
                "occurred_at": iso(now),
                "agent": {"id": "PDRILLAGENT", "summary": event.agent} if event.agent else None,
                "data": data,
            }
        }
        planned = parse_delivery(body)
        if planned is None:  # the scenario schema only allows handled event types
            raise ValueError(f"PagerDuty event type {event.event_type} is not handled")
        return Webhook(
            PAGERDUTY, f"pd:{planned.incident_id}"[:512], json.dumps(body), now, f"drill-{self.run_id}-{self._count}", priority=2
        )
