from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.errors import IllegalTransition, InvalidCommand
from bot.domain.incident import Incident, Role, Status, parse_number
from bot.domain.severity import Severity, severity_from_labels
from bot.domain.timeline import EntryKind, Source

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def declared(severity: Severity = Severity.P2) -> Incident:
    incident, entries = Incident.declare(
        number=7, title="  Checkout   is down ", severity=severity, actor="alice", source=Source.CONSOLE, at=T0
    )
    assert entries[0].kind is EntryKind.DECLARED
    return incident


def test_declare_normalises_title_and_starts_triggered() -> None:
    incident = declared()
    assert incident.title == "Checkout is down"
    assert incident.status is Status.TRIGGERED
    assert incident.ref == "INC-7"


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_declare_rejects_bad_titles(title: str) -> None:
    with pytest.raises(InvalidCommand):
        Incident.declare(number=1, title=title, severity=Severity.P1, actor="a", source=Source.CONSOLE, at=T0)


def test_full_lifecycle_sets_timestamps_and_entries() -> None:
    incident = declared()
    ack = incident.acknowledge(actor="bob", source=Source.SLACK, at=T0 + timedelta(minutes=2))
    mit = incident.mitigate(actor="bob", source=Source.SLACK, at=T0 + timedelta(minutes=10))
    res = incident.resolve(actor="carol", source=Source.PAGERDUTY, at=T0 + timedelta(minutes=30))
    assert [e.data["to"] for e in ack + mit + res] == ["acknowledged", "mitigated", "resolved"]
    assert [e.actor for e in ack + mit + res] == ["bob", "bob", "carol"]
    assert res[0].source is Source.PAGERDUTY
    assert incident.acknowledged_at == T0 + timedelta(minutes=2)
    assert incident.mitigated_at == T0 + timedelta(minutes=10)
    assert incident.resolved_at == T0 + timedelta(minutes=30)


def test_resolving_straight_away_counts_as_ack_and_mitigation() -> None:
    incident = declared()
    incident.resolve(actor="a", source=Source.CONSOLE, at=T0 + timedelta(minutes=5))
    assert incident.acknowledged_at == incident.mitigated_at == incident.resolved_at


@pytest.mark.parametrize(
    ("steps", "illegal", "message"),
    [
        (["acknowledge"], "acknowledge", "already acknowledged"),
        (["mitigate"], "acknowledge", "cannot acknowledge"),
        (["resolve"], "mitigate", "reopen it first"),
        (["resolve"], "resolve", "already resolved"),
        ([], "reopen", "only a resolved incident"),
    ],
)
def test_illegal_transitions_say_why_and_change_nothing(steps: list[str], illegal: str, message: str) -> None:
    incident = declared()
    for step in steps:
        getattr(incident, step)(actor="a", source=Source.CONSOLE, at=T0)
    before = (incident.status, incident.acknowledged_at, incident.resolved_at)
    with pytest.raises(IllegalTransition, match=message):
        getattr(incident, illegal)(actor="a", source=Source.CONSOLE, at=T0 + timedelta(hours=1))
    assert (incident.status, incident.acknowledged_at, incident.resolved_at) == before


def test_reopen_returns_to_triggered_and_clears_response_times() -> None:
    incident = declared()
    incident.resolve(actor="a", source=Source.CONSOLE, at=T0)
    entries = incident.reopen(actor="b", source=Source.SLACK, at=T0 + timedelta(hours=1))
    assert incident.status is Status.TRIGGERED
    assert incident.reopen_count == 1
    assert incident.resolved_at is None and incident.acknowledged_at is None
    assert entries[0].data == {"from": "resolved", "to": "triggered", "reopened": True}


def test_severity_change_records_from_and_to() -> None:
    incident = declared(Severity.P2)
    entries = incident.change_severity(Severity.P0, actor="a", source=Source.CONSOLE, at=T0, reason="data loss")
    assert entries[0].data == {"from": "P2", "to": "P0", "reason": "data loss"}
    with pytest.raises(IllegalTransition):
        incident.change_severity(Severity.P0, actor="a", source=Source.CONSOLE, at=T0)
    with pytest.raises(InvalidCommand):
        incident.change_severity(Severity.INFO, actor="a", source=Source.CONSOLE, at=T0)


def test_roles_are_assigned_and_replaced() -> None:
    incident = declared()
    incident.assign_role(Role.COMMANDER, "@alice", actor="a", source=Source.CONSOLE, at=T0)
    entries = incident.assign_role(Role.parse("IC"), "@bob", actor="a", source=Source.CONSOLE, at=T0)
    assert incident.roles == {Role.COMMANDER: "@bob"}
    assert entries[0].data["previous"] == "@alice"
    with pytest.raises(InvalidCommand):
        Role.parse("janitor")


def test_notes_and_actions_need_text() -> None:
    incident = declared()
    with pytest.raises(InvalidCommand):
        incident.note("   ", actor="a", source=Source.CONSOLE, at=T0)
    with pytest.raises(InvalidCommand):
        incident.add_action("", actor="a", source=Source.CONSOLE, at=T0)


@pytest.mark.parametrize(("text", "number"), [("INC-42", 42), ("inc-42", 42), ("42", 42), ("#42", 42)])
def test_parse_number(text: str, number: int) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize("text", ["INC-", "abc", "0", "-3", "²", "INC-99999999999999999999", str(2**31)])
def test_parse_number_rejects(text: str) -> None:
    with pytest.raises(InvalidCommand):
        parse_number(text)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "critical"}, Severity.P1),
        ({"severity": "high"}, Severity.P2),
        ({"severity": "error"}, Severity.P2),
        ({"severity": "warning"}, Severity.P3),
        ({"severity": "info"}, Severity.INFO),
        ({"severity": "critical", "priority": "P0"}, Severity.P0),
        ({"severity": "warning", "priority": "p1"}, Severity.P1),
        ({"severity": "critical", "priority": "urgent"}, Severity.P1),
        ({}, Severity.P3),
    ],
)
def test_severity_from_labels(labels: dict[str, str], expected: Severity) -> None:
    assert severity_from_labels(labels) is expected
