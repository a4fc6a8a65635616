"""``firebreak drill new --from-playbook ID``: a starter scenario that fires the playbook's alerts.

The scenario is a starting point a team edits: an alert the playbook matches, someone
acknowledging, doing the first step and resolving, the alert clearing, and expectations that say the
playbook was matched and nobody had to be paged. It lints clean and passes as written when
the playbook's own escalation does not fire within a few minutes.
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.domain.severity import DEFAULT_LABEL_MAPPING, Severity
from bot.playbooks.schema import Playbook

_LABEL_OF = {severity: label for label, severity in reversed(list(DEFAULT_LABEL_MAPPING.items()))}


def severity_label(severity: Severity | None) -> str:
    """The Alertmanager ``severity`` label that maps to ``severity`` (``critical`` for P0/P1)."""
    if severity in (None, Severity.P0, Severity.P1):
        return "critical"
    return _LABEL_OF.get(severity, "warning")


def _first_step(playbook: Playbook) -> int | None:
    return 1 if any(phase.steps for phase in playbook.phases) else None


def starter_data(playbook: Playbook) -> dict[str, Any]:
    rules = playbook.match
    title = f"{playbook.title} (drill)"
    events: list[dict[str, Any]]
    if rules.pagerduty_service and not (rules.alertname or rules.labels):
        pd = {"incident": "PDRILL1", "title": title, "service": rules.pagerduty_service[0]}
        events = [
            {"at": "0s", "pagerduty": {"event_type": "incident.triggered", **pd}},
            {"at": "8m", "pagerduty": {"event_type": "incident.resolved", **dict(pd)}},
        ]
    else:
        labels = {"alertname": rules.alertname[0] if rules.alertname else "DrillAlert"}
        labels.update({key: value for key, value in rules.labels.items() if not value.startswith("=~")})
        labels["severity"] = severity_label(playbook.severity)
        summary = title if not rules.title_keywords or rules.alertname else f"{rules.title_keywords[0]} (drill)"
        events = [
            {"at": "0s", "alertmanager": {"status": "firing", "labels": labels, "annotations": {"summary": summary}}},
            {"at": "8m", "alertmanager": {"status": "resolved", "labels": dict(labels)}},
        ]
    responses: list[dict[str, Any]] = [{"at": "2m", "user": "alice", "command": "/incident ack"}]
    expect: dict[str, Any] = {"playbook": playbook.id, "acknowledged_within": "5m", "max_escalation_level": 0}
    step = _first_step(playbook)
    if step is not None:
        responses.append({"at": "5m", "user": "alice", "command": f"/incident step done {step}"})
        expect["steps_done_within"] = {step: "10m"}
    # Resolved by hand before any ``unresolved`` level of a starter playbook can fire.
    responses.append({"at": "8m", "user": "alice", "command": "/incident resolve"})
    expect["resolved_within"] = "10m"
    return {"name": f"{playbook.id}-drill", "events": events, "responses": responses, "expect": expect}


def starter_yaml(playbook: Playbook) -> str:
    header = (
        f"# A starter drill for playbook {playbook.id}: edit the times, people and expectations.\n"
        "# Run it with `firebreak drill run THIS.yaml`; check it in CI with `firebreak drill run --check THIS.yaml`.\n"
    )
    return header + yaml.safe_dump(starter_data(playbook), sort_keys=False, allow_unicode=True, width=120)
