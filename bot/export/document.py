"""The post-mortem as one JSON-ready document, built from an incident record. No I/O.

Markdown and JSON are two views of this same document (the markdown template reads it),
so both exports always agree. Its shape is the versioned JSON Schema in
``schema/postmortem-v1.json``; change the schema version when you change the shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.domain.children import Child, ranked
from bot.domain.source_time import SourceTime
from bot.domain.timeline import EntryKind, TimelineEntry
from bot.export import timings
from bot.export.model import AlertRecord, IncidentRecord, StepRecord

SCHEMA_VERSION = 1

#: Labels worth naming in the impact section when alerts carry them.
IMPACT_LABELS = ("service", "job", "namespace", "cluster", "env", "environment", "region", "instance")


def iso(moment: datetime | None) -> str | None:
    """UTC, second precision or better, with a ``Z``: what the schema calls date-time."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_document(record: IncidentRecord, *, now: datetime, timezone: str = "UTC") -> dict[str, Any]:
    incident = record.incident
    entries = record.timeline
    start = timings.incident_start(entries, incident.created_at)
    detected = timings.detection(entries, start)
    impact_began, from_alert = timings.impact_start(entries, detected)
    declared = next((e for e in entries if e.kind is EntryKind.DECLARED), None)
    end, ongoing = timings.incident_end(entries, now)
    severities = timings.severity_history(entries, now=now)
    levels = timings.escalation_periods(entries, now=now)
    alerts = _alerts(record.alerts, entries)
    mitigated = timings.time_to_mitigate(entries, detected)
    highest = timings.highest_severity([p.severity for p in severities] or [incident.severity.value])
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(now),
        "timezone": timezone,
        "incident": {
            "number": incident.number,
            "ref": incident.ref,
            "title": incident.title,
            "drill": record.drill,
            "description": incident.description,
            "status": incident.status.value,
            "severity": incident.severity.value,
            "highest_severity": highest,
            "source": incident.source.value,
            "declared_at": iso(start),
            "declared_by": declared.actor if declared else None,
            "detected_at": iso(detected),
            "acknowledged_at": iso(incident.acknowledged_at),
            "mitigated_at": iso(incident.mitigated_at),
            "resolved_at": iso(incident.resolved_at),
            "reopen_count": incident.reopen_count,
            "playbook_id": incident.playbook_id,
            "channel": record.channel_name,
            "labels": {str(k): str(v) for k, v in incident.labels.items()},
            "links": {str(k): str(v) for k, v in incident.links.items()},
        },
        "impact": _impact(impact_began, from_alert, alerts, mitigated, now=now, highest=highest),
        "metrics": {
            "counted_from": "detection",
            "impact_started_at": iso(impact_began),
            "detected_at": iso(detected),
            "time_to_detect": timings.seconds_between(impact_began, detected),
            "mtta": _milestone(timings.time_to_acknowledge(entries, detected)),
            "time_to_mitigate": _milestone(mitigated),
            "mttr": _milestone(timings.time_to_resolve(entries, detected)),
            "impact_seconds": timings.seconds_between(impact_began, mitigated.at if mitigated else now),
            "duration_seconds": timings.seconds_between(detected, end),
            "ongoing": ongoing,
            "reopen_count": incident.reopen_count,
        },
        "severity_history": [
            {
                "since": iso(p.since),
                "until": iso(p.until),
                "seconds": p.seconds,
                "ongoing": p.ongoing,
                "severity": p.severity,
                "previous": p.previous,
                "by": p.actor,
                "reason": p.reason,
            }
            for p in severities
        ],
        "roles": {
            "current": {role.value: user for role, user in incident.roles.items()},
            "changes": [
                {
                    "at": iso(e.at),
                    "role": str(e.data.get("role")),
                    "user": str(e.data.get("user")),
                    "previous": e.data.get("previous"),
                    "by": e.actor,
                }
                for e in entries
                if e.kind is EntryKind.ROLE_ASSIGNED
            ],
        },
        "responders": [
            {
                "name": r.name,
                "roles": r.roles,
                "actions": r.actions,
                "first_action_at": iso(r.first_at),
                "last_action_at": iso(r.last_at),
            }
            for r in timings.responders(entries)
        ],
        "escalation": {
            "max_level": max((p.level for p in levels), default=0),
            "periods": [
                {
                    "level": p.level,
                    "since": iso(p.since),
                    "until": iso(p.until),
                    "seconds": p.seconds,
                    "ongoing": p.ongoing,
                    "by": p.actor or None,
                    "targets": list(p.targets),
                    "reason": p.reason,
                    "condition": p.condition,
                    "manual": p.manual,
                }
                for p in levels
            ],
            "time_at_level": [{"level": level, "seconds": seconds} for level, seconds in timings.time_at_levels(levels).items()],
        },
        "playbooks": _playbooks(entries, record.steps),
        "alerts": alerts,
        "alerts_moved": _moved(entries),
        "alert_groups": _alert_groups(record.children),
        "flagged_messages": [
            {
                "at": iso(e.at),
                "flagged_by": e.actor,
                "author": str(e.data.get("author") or ""),
                "text": str(e.data.get("text") or e.text),
                "channel": e.data.get("channel"),
                "permalink": e.data.get("permalink"),
            }
            for e in entries
            if e.kind is EntryKind.MESSAGE_FLAGGED
        ],
        "action_items": [
            {
                "id": a.id,
                "text": a.text,
                "created_by": a.created_by,
                "created_at": iso(a.created_at),
                "owner": a.owner,
                "done": a.done,
            }
            for a in record.actions
        ],
        "timeline": [
            {
                "id": r.id,
                "at": iso(r.entry.at),
                "kind": r.entry.kind.value,
                "actor": r.entry.actor,
                "source": r.entry.source.value,
                "text": r.entry.text,
                "data": r.entry.data,
                "received_at": iso(r.entry.received),
                "source_at": iso(r.entry.happened),
                "source_time": (r.entry.source_time or SourceTime.RECEIVED).value,
            }
            for r in record.entries
        ],
    }


def _alert_groups(children: Iterable[Child]) -> list[dict[str, Any]]:
    """The incident's children (alert groups), worst first: how and when each joined, its alerts."""
    return [
        {
            "child": child.child,
            "ref": child.ref,
            "title": child.title,
            "severity": child.severity.value,
            "status": "firing" if child.firing else "resolved",
            "source": child.source,
            "dedup_key": child.dedup_key,
            "labels": {str(k): str(v) for k, v in child.labels.items()},
            "correlation": {str(k): str(v) for k, v in child.correlation.items()},
            "joined_by": child.joined_by.value,
            "joined_at": iso(child.joined_at),
            "resolved_at": iso(child.resolved_at),
            "alerts_firing": child.alerts_firing,
            "alerts_total": child.alerts_total,
            "truncated_alerts": child.truncated_alerts,
        }
        for child in ranked(list(children))
    ]


def _milestone(milestone: timings.Milestone | None) -> dict[str, Any] | None:
    if milestone is None:
        return None
    return {"seconds": milestone.seconds, "at": iso(milestone.at), "by": milestone.actor}


def _impact(
    began: datetime, from_alert: bool, alerts: list[dict[str, Any]], mitigated: timings.Milestone | None, *, now: datetime, highest: str | None
) -> dict[str, Any]:
    """When users were hurt, by the evidence we have: earliest sane alert start (or detection) → mitigation."""
    ended = mitigated.at if mitigated else now
    affected: dict[str, list[str]] = {}
    for name in IMPACT_LABELS:
        values = sorted({str(a["labels"][name]) for a in alerts if a["labels"].get(name)})
        if values:
            affected[name] = values
    return {
        "started_at": iso(began),
        "started_from": "alert" if from_alert else "detection",
        "ended_at": iso(mitigated.at) if mitigated else None,
        "seconds": timings.seconds_between(began, ended),
        "ongoing": mitigated is None,
        "highest_severity": highest,
        "alert_count": len(alerts),
        "alerts_still_firing": sum(1 for a in alerts if a["status"] == "firing"),
        "affected": affected,
    }


def _alerts(rows: Iterable[AlertRecord], entries: Iterable[TimelineEntry]) -> list[dict[str, Any]]:
    """Alerts from the alerts table, completed with firing/resolved times from the timeline.

    An alert known only from the timeline (its row not stored by this deployment) is still
    listed, from the entry's ``data``, unless its alert group moved to another incident (split
    off, or merged away): the rows went with it, and it fires and resolves there, so rebuilt
    from the entries left behind it would be "still firing" here forever.
    """
    entries = list(entries)
    moved = _moved_children(entries)
    by_fingerprint: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_fingerprint[row.fingerprint] = {
            "fingerprint": row.fingerprint,
            "alertname": str(row.labels.get("alertname") or ""),
            "status": row.status,
            "labels": {str(k): str(v) for k, v in row.labels.items()},
            "annotations": {str(k): str(v) for k, v in row.annotations.items()},
            "starts_at": iso(row.starts_at),
            "ends_at": iso(row.ends_at),
            "generator_url": row.generator_url,
            "fired_at": None,
            "resolved_at": None,
            "firings": 0,
            "first_started_at": None,
        }
    for entry in entries:
        if entry.kind not in (EntryKind.ALERT_FIRING, EntryKind.ALERT_RESOLVED):
            continue
        data = entry.data
        fingerprint = str(data.get("fingerprint") or data.get("alertname") or entry.text)
        if fingerprint not in by_fingerprint and data.get("child") in moved:
            continue
        labels = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
        alert = by_fingerprint.setdefault(
            fingerprint,
            {
                "fingerprint": fingerprint,
                "alertname": str(data.get("alertname") or labels.get("alertname") or ""),
                "status": "firing",
                "labels": labels,
                "annotations": {str(k): str(v) for k, v in (data.get("annotations") or {}).items()},
                "starts_at": _iso_text(data.get("starts_at")),
                "ends_at": _iso_text(data.get("ends_at")),
                "generator_url": data.get("generator_url"),
                "fired_at": None,
                "resolved_at": None,
                "firings": 0,
                "first_started_at": None,
                "_from_timeline": True,
            },
        )
        if entry.kind is EntryKind.ALERT_FIRING:
            alert["fired_at"] = alert["fired_at"] or iso(entry.at)
            # A flapping alert's row holds its last episode; the first start and the count
            # keep the rest, or the table disagrees with the impact window (its first start).
            alert["firings"] += 1
            alert["first_started_at"] = alert["first_started_at"] or _iso_text(data.get("starts_at")) or iso(entry.at)
            if alert.get("_from_timeline"):
                alert["status"] = "firing"
        else:
            alert["resolved_at"] = iso(entry.at)
            if alert.get("_from_timeline"):
                alert["status"] = "resolved"
                alert["ends_at"] = alert["ends_at"] or _iso_text(data.get("ends_at")) or iso(entry.at)
    alerts = list(by_fingerprint.values())
    for alert in alerts:
        alert.pop("_from_timeline", None)
    return sorted(alerts, key=lambda a: (a["starts_at"] or a["fired_at"] or "", a["fingerprint"]))


def _moved(entries: Iterable[TimelineEntry]) -> list[dict[str, Any]]:
    """The alert groups that left the incident (split off into their own, or moved by merging
    this incident into another), and where they went: their alerts are listed there."""
    moved: list[dict[str, Any]] = []
    for entry in entries:
        into = entry.data.get("into")
        if into is None:
            continue
        if entry.kind is EntryKind.SPLIT and entry.data.get("child") is not None:
            moved.append({"child": entry.data["child"], "into": into, "how": "split"})
        elif entry.kind is EntryKind.MERGED:
            moved += [{"child": child, "into": into, "how": "merged"} for child in entry.data.get("children") or []]
    return moved


def _moved_children(entries: Iterable[TimelineEntry]) -> set[Any]:
    """Short ids of the alert groups that left the incident."""
    return {moved["child"] for moved in _moved(entries)}


def _iso_text(value: Any) -> str | None:
    """Alert times arrive as RFC 3339 text; normalise them to our UTC form (or drop them)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.year <= 1:  # Alertmanager's "zero time" for alerts that have not ended
        return None
    return iso(moment)


def _playbooks(entries: Iterable[TimelineEntry], stored_steps: Iterable[StepRecord] = ()) -> list[dict[str, Any]]:
    """Each attached playbook with every step: its outcome, or ``pending`` if nobody acted on it.

    A playbook attached again (by hand, after the automatic match) is credited to whoever
    attached it last, at that time: that is the attachment the steps belong to.
    """
    books: dict[str, dict[str, Any]] = {}
    steps: dict[tuple[str, int], dict[str, Any]] = {}

    def book(playbook_id: str) -> dict[str, Any]:
        return books.setdefault(
            playbook_id,
            {"playbook_id": playbook_id, "title": "", "matched_by": None, "attached_at": None, "attached_by": None, "steps": []},
        )

    for entry in entries:
        data = entry.data
        if entry.kind is EntryKind.PLAYBOOK_ATTACHED:
            item = book(str(data.get("playbook_id") or ""))
            item.update(
                title=str(data.get("title") or item["title"]),
                matched_by=data.get("matched_by"),
                attached_at=iso(entry.at),
                attached_by=entry.actor,
            )
        elif entry.kind in (EntryKind.STEP_DONE, EntryKind.STEP_SKIPPED, EntryKind.STEP_DEADLINE):
            playbook_id = str(data.get("playbook_id") or "")
            number = timings.as_int(data.get("step"), default=0)
            step = steps.get((playbook_id, number))
            if step is None:
                step = {
                    "step": number,
                    "phase": str(data.get("phase") or ""),
                    "text": str(data.get("text") or ""),
                    "outcome": "pending",
                    "by": None,
                    "at": None,
                    "deadlines": [],
                }
                steps[(playbook_id, number)] = step
                book(playbook_id)["steps"].append(step)
            if entry.kind is EntryKind.STEP_DEADLINE:
                step["deadlines"].append({"at": iso(entry.at), "action": str(data.get("action") or "")})
            else:
                step.update(
                    outcome="done" if entry.kind is EntryKind.STEP_DONE else "skipped",
                    by=entry.actor,
                    at=iso(entry.at),
                    text=str(data.get("text") or step["text"]),
                    phase=str(data.get("phase") or step["phase"]),
                )
    for stored in stored_steps:
        if stored.playbook_id in books and (stored.playbook_id, stored.step) not in steps:
            pending = {"step": stored.step, "phase": stored.phase, "text": stored.text, "outcome": "pending", "by": None, "at": None, "deadlines": []}
            steps[(stored.playbook_id, stored.step)] = pending
            books[stored.playbook_id]["steps"].append(pending)
    for item in books.values():
        item["steps"].sort(key=lambda s: s["step"])
    return sorted(books.values(), key=lambda b: (b["attached_at"] or "~", b["playbook_id"]))


def json_schema() -> dict[str, Any]:
    """The JSON Schema the JSON export follows (shipped in the package)."""
    from importlib import resources

    text = resources.files("bot.export").joinpath(f"schema/postmortem-v{SCHEMA_VERSION}.json").read_text(encoding="utf-8")
    return dict(json.loads(text))
