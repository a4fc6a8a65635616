"""The chat-agnostic guide: current phase, marks with who and when, commands to copy."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.playbooks import Playbook
from bot.playbooks.guide import DONE, SKIPPED, guide_view, initial_states, render_guide

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)

PLAYBOOK = Playbook.model_validate(
    {
        "id": "db",
        "title": "Database trouble",
        "severity": "P1",
        "phases": [
            {"kind": "confirm", "steps": [{"text": "Check connections", "commands": ["psql -c 'select 1'"], "owner": "commander"}, {"text": "Check replicas"}]},
            {"kind": "resolve", "title": "Fix it", "steps": [{"text": "Restart the pooler", "commands": ["systemctl restart pgbouncer", "systemctl status pgbouncer"], "deadline": "5m"}]},
            {"kind": "verify", "steps": [{"text": "Graphs are back"}]},
        ],
    }
)


def view(states, **kwargs):
    return guide_view(incident_ref="INC-7", playbook_id="db", playbook_title="Database trouble", states=states, **kwargs)


def test_initial_states_number_steps_across_phases() -> None:
    states = initial_states(PLAYBOOK)
    assert [(s.number, s.phase_index, s.phase_kind, s.phase_title) for s in states] == [
        (1, 0, "symptoms", "Confirm symptoms"),
        (2, 0, "symptoms", "Confirm symptoms"),
        (3, 1, "resolution", "Fix it"),
        (4, 2, "verification", "Verify"),
    ]
    assert states[2].deadline_seconds == 300 and states[2].on_deadline == "remind"
    assert states[0].commands == ("psql -c 'select 1'",)


def test_current_phase_is_the_first_with_a_pending_step() -> None:
    states = initial_states(PLAYBOOK)
    first = view(states)
    assert first.phase is not None and first.phase.position == 1 and first.phase.title == "Confirm symptoms"
    assert [step.number for step in first.phase.steps] == [1, 2]
    assert first.next_phase == "Fix it"
    assert first.commands[:2] == ("/incident step done 1", "/incident step skip 1")

    settled = [replace(states[0], status=DONE, actor="alice", at=T0), replace(states[1], status=SKIPPED, actor="bob", at=T0), *states[2:]]
    second = view(settled)
    assert second.phase is not None and second.phase.position == 2 and second.phase.title == "Fix it"
    assert (second.done, second.skipped, second.total) == (1, 1, 4)
    assert second.phase.steps[0].done_command == "/incident step done 3"
    assert second.phase.steps[0].skip_command == "/incident step skip 3"

    # Done out of order: phase 3 settled early does not hide the open phase 2.
    out_of_order = [*settled[:3], replace(states[3], status=DONE, actor="carol", at=T0)]
    assert view(out_of_order).phase.title == "Fix it"

    everything = [replace(state, status=DONE, actor="x", at=T0) for state in states]
    finished = view(everything)
    assert finished.complete and finished.phase is None and finished.commands == ()
    assert "All steps are done or skipped (4 done, 0 skipped)" in render_guide(finished)


def test_text_shows_marks_who_and_when_and_commands_as_code() -> None:
    states = initial_states(PLAYBOOK)
    states[0] = replace(states[0], status=DONE, actor="alice", at=T0 + timedelta(minutes=3))
    text = render_guide(view(states), zone=ZoneInfo("Europe/Berlin"))
    lines = text.splitlines()
    assert lines[0] == "Playbook db: Database trouble — 1/4 steps settled"
    assert lines[1] == "Phase 1/3: Confirm symptoms"
    assert lines[2] == "  [x] 1. Check connections (owner: commander; done by alice at 10:03:00 CET)"
    assert lines[3] == "  [ ] 2. Check replicas"
    assert "psql" not in text  # a settled step's commands are no longer offered
    assert "Next phase: Fix it" in text
    assert lines[-1] == "Mark steps: `/incident step done 2` · `/incident step skip 2`"


def test_deadlines_and_overdue_steps() -> None:
    states = initial_states(PLAYBOOK)
    states = [replace(s, status=DONE, actor="a", at=T0) if s.phase_index == 0 else s for s in states]
    states[2] = replace(states[2], deadline_at=T0 + timedelta(minutes=5))
    before = render_guide(view(states, now=T0 + timedelta(minutes=1)))
    assert "[ ] 3. Restart the pooler (due 09:05:00 UTC, then remind)" in before
    assert "        `systemctl restart pgbouncer`\n        `systemctl status pgbouncer`" in before
    after = view(states, now=T0 + timedelta(minutes=6))
    assert after.phase.steps[0].overdue
    assert "OVERDUE since 09:05:00 UTC" in render_guide(after)


def test_a_severity_that_does_not_escalate_shows_its_escalating_step_as_a_notification() -> None:
    """At the deadline a P3 is notified, not escalated: the step line must not promise more."""
    states = initial_states(PLAYBOOK)
    states = [replace(s, status=DONE, actor="a", at=T0) if s.phase_index == 0 else s for s in states]
    states[2] = replace(states[2], deadline_at=T0 + timedelta(minutes=5), on_deadline="escalate")
    assert "(due 09:05:00 UTC, then escalate)" in render_guide(view(states, now=T0, escalating=True))
    quiet = render_guide(view(states, now=T0, escalating=False))
    assert "(due 09:05:00 UTC, then notify)" in quiet and "escalate" not in quiet


def test_severity_is_only_suggested_upwards() -> None:
    states = initial_states(PLAYBOOK)
    raised = view(states, incident_severity="P2", playbook_severity="P1")
    assert raised.suggested_severity == "P1" and "/incident sev P1" in raised.commands
    assert "suggests severity P1: `/incident sev P1`" in render_guide(raised)
    assert view(states, incident_severity="P0", playbook_severity="P1").suggested_severity is None
    assert view(states, incident_severity="P1", playbook_severity="P1").suggested_severity is None


def test_view_model_is_json_for_outbox_payloads() -> None:
    states = initial_states(PLAYBOOK)
    states[0] = replace(states[0], status=DONE, actor="alice", at=T0)
    data = json.loads(json.dumps(view(states).to_dict()))
    assert data["phase"]["steps"][0]["at"] == T0.isoformat()
    assert data["phase"]["steps"][1]["done_command"] == "/incident step done 2"
    assert data["complete"] is False and data["playbook_id"] == "db"
