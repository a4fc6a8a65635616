"""Alertmanager webhook payloads (format version 4), built like Alertmanager builds them.

Used to drive ``POST /webhooks/alertmanager`` without running Alertmanager (fast tests,
fuzzing, benchmarks). ``groupKey`` is the route's matcher string plus the group labels, the
fingerprint is a stable hash of the label set, and a firing alert's ``endsAt`` is the zero
time ``0001-01-01T00:00:00Z`` exactly as Alertmanager sends it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"
EXTERNAL_URL = "http://alertmanager.example.com:9093"


def rfc3339(dt: datetime) -> str:
    """Alertmanager's timestamp format (RFC 3339, UTC, ``Z``)."""
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable 16-hex-digit fingerprint of a label set (like Alertmanager's, not equal to it)."""
    canonical = "\xff".join(f"{k}\xfe{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def group_key(group_labels: Mapping[str, str], route: str = "{}") -> str:
    """``{}:{alertname="X", service="y"}``: route matchers, then sorted group labels."""
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
    return f"{route}:{{{inner}}}"


def alert(
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
    *,
    status: str = "firing",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    generator_url: str | None = None,
) -> dict[str, Any]:
    """One alert of a payload. A resolved alert gets an ``endsAt`` (default: now)."""
    if status not in ("firing", "resolved"):
        raise ValueError("status must be firing or resolved")
    start = starts_at or datetime.now(UTC) - timedelta(minutes=5)
    end = ends_at or (datetime.now(UTC) if status == "resolved" else None)
    expr = labels.get("alertname", "up") + " > 0"
    return {
        "status": status,
        "labels": dict(labels),
        "annotations": dict(annotations or {}),
        "startsAt": rfc3339(start),
        "endsAt": rfc3339(end) if end else ZERO_TIME,
        "generatorURL": generator_url
        or f"http://prometheus.example.com:9090/graph?g0.expr={expr.replace(' ', '+')}&g0.tab=1",
        "fingerprint": fingerprint(labels),
    }


def _common(maps: list[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def payload(
    alerts: Iterable[dict[str, Any]],
    *,
    group_by: Iterable[str] = ("alertname",),
    receiver: str = "firebreak",
    external_url: str = EXTERNAL_URL,
    truncated_alerts: int = 0,
    route: str = "{}",
) -> dict[str, Any]:
    """A version-4 webhook body around ``alerts`` (all of one group).

    ``status`` is ``firing`` while any alert fires; ``groupLabels`` are the ``group_by``
    labels, ``commonLabels``/``commonAnnotations`` what every alert shares.
    """
    items = list(alerts)
    if not items:
        raise ValueError("Alertmanager never sends an empty group")
    common_labels = _common([a["labels"] for a in items])
    group_labels = {k: common_labels[k] for k in group_by if k in common_labels}
    return {
        "version": "4",
        "groupKey": group_key(group_labels, route),
        "truncatedAlerts": truncated_alerts,
        "status": "firing"
        if any(a["status"] == "firing" for a in items)
        else "resolved",
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": _common([a["annotations"] for a in items]),
        "externalURL": external_url,
        "alerts": items,
    }


def firing_group(
    alertname: str = "HighErrorRate",
    *,
    count: int = 1,
    severity: str = "critical",
    service: str = "checkout",
    extra_labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    status: str = "firing",
) -> dict[str, Any]:
    """A realistic group: ``count`` alerts differing by ``instance``, with the usual annotations."""
    notes = {
        "summary": f"{alertname} on {service}",
        "description": f"{alertname}: error ratio above 5% for 5 minutes on {service}.",
        "runbook_url": f"https://runbooks.example.com/{alertname.lower()}",
        "dashboard": f"https://grafana.example.com/d/{service}",
        **(annotations or {}),
    }
    alerts = [
        alert(
            {
                "alertname": alertname,
                "severity": severity,
                "service": service,
                "instance": f"{service}-{i}:9100",
                "job": service,
                **(extra_labels or {}),
            },
            notes,
            status=status,
        )
        for i in range(count)
    ]
    return payload(alerts, group_by=("alertname", "service"))


def resolved(body: dict[str, Any]) -> dict[str, Any]:
    """The same group with every alert resolved (what Alertmanager sends last)."""
    now = rfc3339(datetime.now(UTC))
    alerts = [{**a, "status": "resolved", "endsAt": now} for a in body["alerts"]]
    return {**body, "status": "resolved", "alerts": alerts}
