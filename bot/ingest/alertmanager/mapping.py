"""From an Alertmanager group to incident fields and timeline entries (no I/O).

Annotations people already write for Alertmanager templates (``summary``, ``description``,
``runbook_url``, dashboards) become the incident's title, description and links, so the
incident channel shows what the alert author meant without extra configuration. Grafana
(version 1) adds its own links per alert (dashboard, panel, silence), which win over
annotations because Grafana fills them from the rule itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.severity import Severity, severity_from_labels
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.ingest.alertmanager.models import Alert, AlertGroup
from bot.text_safety import clip, one_line

ACTOR = "alertmanager"
TITLE_LIMIT = 200

_DASHBOARD_KEYS = ("dashboard", "dashboard_url", "grafana_url", "grafana_dashboard")


@dataclass(frozen=True)
class GroupFields:
    title: str
    description: str
    severity: Severity
    labels: dict[str, str]
    links: dict[str, str]


def _first(keys: tuple[str, ...], *sources: Mapping[str, str]) -> str:
    for source in sources:
        for key in keys:
            value = source.get(key, "").strip()
            if value:
                return value
    return ""


def alert_severity(alert: Alert, group: AlertGroup, mapping: Mapping[str, Severity]) -> Severity:
    return severity_from_labels({**group.common_labels, **alert.labels}, mapping)


def group_severity(group: AlertGroup, mapping: Mapping[str, Severity], alerts: list[Alert] | None = None) -> Severity:
    """The most severe of the group's (firing) alerts: one critical alert makes the group P1."""
    candidates = alerts if alerts else group.alerts
    return min((alert_severity(alert, group, mapping) for alert in candidates), key=lambda level: level.rank)


def group_fields(group: AlertGroup, mapping: Mapping[str, Severity]) -> GroupFields:
    firing = [alert for alert in group.alerts if alert.status == "firing"]
    first = (firing or group.alerts)[0]
    common, own = group.common_annotations, first.annotations
    title = _first(("title", "summary"), common, own)
    if not title:
        alertname = group.common_labels.get("alertname") or first.alertname or "Alert"
        extras = [f"{key}={value}" for key, value in sorted(group.group_labels.items()) if key != "alertname"]
        title = alertname + (f" ({', '.join(extras)})" if extras else "")
    title = " ".join(title.split())
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1] + "…"
    links = {}
    runbook = _first(("runbook_url", "runbook"), common, own)
    if runbook:
        links["runbook"] = runbook
    dashboard = _first(_DASHBOARD_KEYS, common, own)
    if dashboard:
        links["dashboard"] = dashboard
    for name, url in (("dashboard", first.dashboard_url), ("panel", first.panel_url), ("silence", first.silence_url)):
        if url.strip():
            links[name] = url.strip()
    if first.generator_url:
        links["source"] = first.generator_url
    if group.external_url:
        links["grafana" if group.is_grafana else "alertmanager"] = group.external_url
    return GroupFields(
        title=title,
        description=_first(("description", "message"), common, own),
        severity=group_severity(group, mapping, firing),
        labels=dict(group.common_labels),
        links=links,
    )


def alert_entry(alert: Alert, *, at: datetime, child: int | None = None) -> TimelineEntry:
    """ALERT_FIRING / ALERT_RESOLVED with the data contract of ``EntryKind`` (``child``: the
    short id of the group it arrived in, when known)."""
    firing = alert.status == "firing"
    name = alert.alertname or alert.fingerprint
    summary = alert.annotations.get("summary", "").strip()
    detail = ", ".join(f"{key}={value}" for key, value in sorted(alert.labels.items()) if key != "alertname")
    text = f"alert {name} {'firing' if firing else 'resolved'}" + (f": {summary}" if summary else "")
    if detail:
        text += f" [{detail}]"
    if alert.values:
        text += " values: " + ", ".join(f"{key}={value:g}" if value is not None else f"{key}=none" for key, value in sorted(alert.values.items()))
    data: dict[str, object] = {
        "fingerprint": alert.fingerprint,
        "alertname": alert.alertname,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": alert.starts_at.isoformat() if alert.starts_at else None,
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "generator_url": alert.generator_url or None,
    }
    if child is not None:
        data["child"] = child
    return TimelineEntry(
        kind=EntryKind.ALERT_FIRING if firing else EntryKind.ALERT_RESOLVED,
        at=at,
        actor=ACTOR,
        source=Source.ALERTMANAGER,
        text=text[:2000],
        data=data,
    )


def firing_again_entry(entry: TimelineEntry) -> TimelineEntry:
    """The first alert firing again in an open incident whose alerts had all resolved.

    "All alerts resolved" is posted to the responders; alert firings are not (a storm would
    post hundreds), so without this the last word in the channel would stay "all clear"
    while the alert fires again. Marked ``again`` so the chat policy posts it."""
    return replace(entry, text=f"firing again after all alerts had resolved: {entry.text}"[:2000], data={**entry.data, "again": True})


def all_resolved_entry(count: int, *, auto_resolved: bool, at: datetime) -> TimelineEntry:
    noun = "alert has" if count == 1 else f"{count} alerts have"
    text = f"all alerts resolved: the {noun} cleared" + ("; resolving automatically" if auto_resolved else "")
    return TimelineEntry(
        kind=EntryKind.ALERTS_ALL_RESOLVED,
        at=at,
        actor=ACTOR,
        source=Source.ALERTMANAGER,
        text=text,
        data={"count": count, "auto_resolved": auto_resolved},
    )


def auto_resolve_paused_entry(hidden: int, *, at: datetime) -> TimelineEntry:
    """Said once per incident: every alert shown is resolved, but ``hidden`` were left out."""
    return TimelineEntry(
        kind=EntryKind.NOTE,
        at=at,
        actor=ACTOR,
        source=Source.ALERTMANAGER,
        text=(
            f"auto-resolve paused: every alert shown has resolved, but Alertmanager left out {hidden} alert(s) of this "
            "group (receiver max_alerts) and does not say whether they still fire. Firebreak will not resolve this "
            "incident by itself until a notification shows the whole group resolved; a person may resolve it sooner."
        ),
        data={"auto_resolve_paused": True, "hidden_alerts": hidden},
    )


def truncated_entry(count: int, *, at: datetime) -> TimelineEntry:
    return TimelineEntry(
        kind=EntryKind.NOTE,
        at=at,
        actor=ACTOR,
        source=Source.ALERTMANAGER,
        text=f"Alertmanager left out {count} alert(s) of this group (receiver max_alerts); see Alertmanager for all of them",
        data={"truncated_alerts": count},
    )


def _label_pairs(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{one_line(key)}={one_line(value)}" for key, value in sorted(labels.items()))


def group_joined_entry(
    *,
    child: int,
    dedup_key: str,
    title: str,
    labels: Mapping[str, str],
    correlation: Mapping[str, str],
    joined_by: str,
    severity: Severity,
    alerts: int,
    at: datetime,
) -> TimelineEntry:
    """GROUP_JOINED on the parent: a new alert group became child ``#child`` of it.

    The text is what people read in the timeline and exports: labels and title come from
    the alert, so they are made one-line and free of control characters here.
    """
    how = f"correlated on {_label_pairs(correlation)}" if joined_by == "correlated" else "folded in by the storm guard" if joined_by == "storm" else joined_by
    noun = "alert" if alerts == 1 else "alerts"
    text = f"alert group #{child} joined ({how}): {clip(one_line(title), TITLE_LIMIT)} — {severity.value}, {alerts} {noun}"
    return TimelineEntry(
        kind=EntryKind.GROUP_JOINED,
        at=at,
        actor=ACTOR,
        source=Source.ALERTMANAGER,
        text=clip(text, 2000),
        data={
            "child": child,
            "dedup_key": dedup_key,
            "labels": dict(labels),
            "correlation": dict(correlation),
            "joined_by": joined_by,
            "severity": severity.value,
            "alerts": alerts,
        },
    )


def child_resolved_entry(child: int, title: str, *, at: datetime) -> TimelineEntry:
    """A NOTE: every alert of child ``#child`` has cleared (others of the incident may still fire)."""
    return TimelineEntry(
        kind=EntryKind.NOTE,
        at=at,
        actor=ACTOR,
        source=Source.ALERTMANAGER,
        text=f"alert group #{child} resolved: every alert of {clip(one_line(title), TITLE_LIMIT)} has cleared",
        data={"child": child, "child_resolved": True},
    )
