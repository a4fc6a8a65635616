"""Report times are each entry's own time from the drill's start, and an escalation a missed
step deadline fired is automatic, not a person's."""

from __future__ import annotations

import json
from pathlib import Path

from bot.drill.report import to_json, to_markdown
from tests.drill.conftest import drill_settings, run
from tests.support.playbooks import ESCALATING_FALLBACK

#: An unmatched PagerDuty incident at +5m: the fallback playbook's first step (5m deadline,
#: on_deadline: escalate) and the default policy's first level both fall due at +10m.
LATE_OPENING = {
    "name": "late-opening",
    "duration": "12m",
    "events": [
        {"at": "5m", "pagerduty": {"event_type": "incident.triggered", "incident": "PLATE", "title": "Checkout down", "priority": "P1"}}
    ],
}


def test_times_come_from_each_entry_and_a_missed_deadline_escalates_automatically(drill_db: str | None, tmp_path: Path) -> None:
    (tmp_path / "fallback.yaml").write_text(ESCALATING_FALLBACK, encoding="utf-8")
    drill = run(LATE_OPENING, drill_db, settings=drill_settings(FIREBREAK_PLAYBOOKS_DIR=str(tmp_path)))
    assert drill.score is not None
    (incident,) = drill.score.incidents
    assert incident.opened_at == 300
    escalated = [line.at for line in incident.timeline if line.kind == "escalated"]
    overdue = [line.at for line in incident.timeline if line.kind == "step_deadline"]
    assert escalated == [600, 600] and overdue == [600]
    assert [(fired.level, fired.at, fired.after_open, fired.manual) for fired in incident.escalations] == [
        (1, 600, 300, False),
        (2, 600, 300, False),
    ]
    assert sorted(fired.how for fired in incident.escalations) == ["automatically", "by a missed step deadline"]
    assert [(mark.step, mark.at, mark.after_open) for mark in incident.steps_overdue] == [(1, 600, 300)]

    markdown = to_markdown(drill.score)
    assert "- opened at +5m" in markdown
    assert "- steps overdue: 1 (+10m)" in markdown
    lines = [line for line in markdown.splitlines() if line.startswith("- escalated to level")]
    assert len(lines) == 2 and all(" at +10m " in line for line in lines)
    assert any("by a missed step deadline" in line for line in lines)
    assert not any("by hand" in line for line in lines)

    data = json.loads(to_json(drill.score))["incidents"][0]
    assert [(item["at"], item["after_open"], item["manual"]) for item in data["escalations"]] == [(600, 300, False), (600, 300, False)]


def test_the_starter_default_playbook_pages_on_the_default_policys_own_times(drill_db: str | None) -> None:
    """Nobody acknowledges a P1 the default playbook takes: primary at 5m, secondary at 15m, as
    FIREBREAK_DEFAULT_ESCALATION says; the first step's deadline reminds instead of firing
    the secondary ten minutes early."""
    nobody = {
        "name": "nobody-acknowledges",
        "duration": "20m",
        "events": [{"at": "0s", "alertmanager": {"status": "firing", "labels": {"alertname": "SomethingOdd", "severity": "critical"}}}],
    }
    drill = run(nobody, drill_db)
    assert drill.score is not None
    (incident,) = drill.score.incidents
    assert incident.playbook == "default"
    assert [(fired.level, fired.after_open, fired.how) for fired in incident.escalations] == [(1, 300, "automatically"), (2, 900, "automatically")]
    assert [mark.step for mark in incident.steps_overdue] == [1]
