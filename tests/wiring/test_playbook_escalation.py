"""A playbook's escalation policy drives the engine, and a missed step deadline escalates."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.store.models import EscalationRow
from tests.conftest import make_settings

PLAYBOOK = """
id: payments-down
title: Payments are failing
match:
  title_keywords: [payments]
escalation:
  levels:
    - name: L1
      delay: 2m
      condition: unacknowledged
      targets:
        - slack_user: "@payments-oncall"
    - name: L2
      delay: 10m
      condition: unresolved
      targets:
        - pagerduty_escalation_policy: PPAYMNT
phases:
  - kind: diagnosis
    title: Diagnose
    steps:
      - text: Check the payment provider status page
        deadline: 1m
        on_deadline: escalate
"""


@pytest.fixture
def wired(db_url: str, engine: Engine, clock: FrozenClock, tmp_path: Path) -> Container:
    (tmp_path / "payments-down.yaml").write_text(PLAYBOOK)
    settings = make_settings(db_url, FIREBREAK_PLAYBOOKS_DIR=str(tmp_path), FIREBREAK_ESCALATION_SPEED={"P0": 1, "P1": 1, "P2": 1})
    return build_container(settings, clock=clock, transcript_stream=None, engine=engine)


def planned(container: Container, number: int) -> list[tuple[int, int, str]]:
    created = container.service.get(number).created_at
    with container.sessions() as session:
        rows = session.scalars(select(EscalationRow).where(EscalationRow.incident_id == number).order_by(EscalationRow.level))
        return [(row.level, int((row.due_at.replace(tzinfo=None) - created.replace(tzinfo=None)).total_seconds()), row.status) for row in rows]


def test_attached_playbook_policy_replaces_the_default(wired: Container) -> None:
    incident = wired.service.declare(title="Payments failing in EU", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    assert wired.service.get(incident.number).playbook_id == "payments-down"
    assert planned(wired, incident.number) == [(1, 120, "pending"), (2, 600, "pending")]


def test_incident_without_playbook_keeps_the_default_policy(wired: Container) -> None:
    incident = wired.service.declare(title="Search is slow", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    assert wired.service.get(incident.number).playbook_id is None
    assert [level for level, _, _ in planned(wired, incident.number)] == [1, 2]
    assert planned(wired, incident.number)[0][1] == 300  # the default policy's 5m


def test_missed_step_deadline_escalates_through_the_engine(wired: Container, clock: FrozenClock) -> None:
    incident = wired.service.declare(title="Payments failing", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    clock.advance(seconds=61)
    assert wired.deadlines.tick() == 1
    escalations = [e for e in wired.service.timeline(incident.number) if e.kind is EntryKind.ESCALATED]
    assert len(escalations) == 1
    assert escalations[0].data["manual"] is True and escalations[0].data["level"] == 1
    assert "playbook step 1" in escalations[0].data["reason"]
    assert escalations[0].data["targets"] == ["@payments-oncall"]
    # The timer for L1 does not fire a second time once the level was reached by hand.
    clock.advance(seconds=120)
    assert wired.escalation is not None
    wired.escalation.tick()
    levels = [e.data["level"] for e in wired.service.timeline(incident.number) if e.kind is EntryKind.ESCALATED]
    assert levels == [1]


def escalated_levels(container: Container, number: int) -> list[int]:
    return [e.data["level"] for e in container.service.timeline(number) if e.kind is EntryKind.ESCALATED]


def test_missed_step_after_acknowledge_does_not_page(wired: Container, clock: FrozenClock) -> None:
    incident = wired.service.declare(title="Payments failing", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    wired.service.acknowledge(incident.number, actor="a", source=Source.CONSOLE)
    clock.advance(seconds=61)
    assert wired.deadlines.tick() == 1  # the miss is recorded…
    assert escalated_levels(wired, incident.number) == []  # …but L1 (unacknowledged) no longer applies


def test_missed_step_does_not_escalate_a_p3(wired: Container, clock: FrozenClock) -> None:
    incident = wired.service.declare(title="Payments failing", severity=Severity.P3, actor="a", source=Source.CONSOLE)
    clock.advance(seconds=61)
    assert wired.deadlines.tick() == 1
    assert escalated_levels(wired, incident.number) == []


def test_missed_step_naming_a_level_the_timer_reached_adds_nothing(wired: Container, clock: FrozenClock, tmp_path: Path) -> None:
    incident = wired.service.declare(title="Payments failing", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    clock.advance(seconds=121)
    assert wired.escalation is not None and wired.escalation.tick() == 1  # L1 by its timer
    from bot.wiring.playbook_escalation import should_escalate

    assert should_escalate(wired.escalation, incident.number, "L1") is False
    assert should_escalate(wired.escalation, incident.number, None) is True  # L2 is unresolved: still holds
    assert escalated_levels(wired, incident.number) == [1]
