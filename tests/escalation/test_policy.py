"""The pure policy rules: parsing the setting, planning deadlines, reminders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.durations import parse_duration
from bot.domain.errors import IllegalTransition
from bot.domain.escalation import (
    DEFAULT_SPEED,
    Condition,
    EscalationPolicy,
    Level,
    Target,
    TargetKind,
    escalated_entry,
    next_manual_level,
    plan,
    quiet_seconds,
)
from bot.domain.escalation_parse import parse_policy, parse_target, policy_from_levels
from bot.domain.incident import Incident, Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
POLICY = parse_policy("unacknowledged:5m:@primary,unacknowledged:15m:@secondary+pd:PPOL1,unresolved:1h:pd_user:PU1+DBA on call")


def incident(severity: Severity = Severity.P1) -> Incident:
    made, _ = Incident.declare(number=3, title="DB down", severity=severity, actor="a", source=Source.CONSOLE, at=T0)
    return made


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), (" 2M ", 120), ("1d", 86400)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "five minutes", "-5m", "90"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_policy_types_every_target() -> None:
    assert [level.delay_seconds for level in POLICY.levels] == [300, 900, 3600]
    assert [level.condition for level in POLICY.levels] == [Condition.UNACKNOWLEDGED, Condition.UNACKNOWLEDGED, Condition.UNRESOLVED]
    assert POLICY.levels[1].targets == (Target(TargetKind.SLACK_GROUP, "@secondary"), Target(TargetKind.PAGERDUTY_ESCALATION_POLICY, "PPOL1"))
    assert POLICY.levels[2].targets == (Target(TargetKind.PAGERDUTY_USER, "PU1"), Target(TargetKind.WHO, "DBA on call"))


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("#eng-leads", TargetKind.SLACK_CHANNEL, "#eng-leads"),
        ("slack_user:U123", TargetKind.SLACK_USER, "U123"),
        ("user:@alice", TargetKind.SLACK_USER, "@alice"),
        ("group:S999", TargetKind.SLACK_GROUP, "S999"),
        ("pagerduty_escalation_policy:PX", TargetKind.PAGERDUTY_ESCALATION_POLICY, "PX"),
        ("who:the DBA", TargetKind.WHO, "the DBA"),
        ("Ops manager", TargetKind.WHO, "Ops manager"),
    ],
)
def test_target_forms(text: str, kind: TargetKind, value: str) -> None:
    assert parse_target(text) == Target(kind, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("unacknowledged:5m", "condition:delay:target"),
        ("sometimes:5m:@a", "unknown escalation condition"),
        ("unacknowledged:15m:@a,unacknowledged:5m:@b", "must not decrease"),
        ("unacknowledged:5m:pd:", "no value"),
        ("unacknowledged:soon:@a", "invalid duration"),
    ],
)
def test_bad_policies_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policy(text)


def test_plan_counts_from_the_anchor_and_scales_by_severity() -> None:
    def dues(severity: Severity) -> list[timedelta]:
        deadlines = plan(POLICY, severity=severity, status=Status.TRIGGERED, current_level=0, anchor_at=T0, anchor_level=0, speed=DEFAULT_SPEED)
        return [deadline.due_at - T0 for deadline in deadlines]

    assert dues(Severity.P1) == [timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1)]
    assert dues(Severity.P0) == [timedelta(minutes=2.5), timedelta(minutes=7.5), timedelta(minutes=30)]
    assert dues(Severity.P2) == [timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=2)]
    assert dues(Severity.P3) == []


def test_plan_keeps_only_levels_whose_condition_holds_and_above_the_current_level() -> None:
    acked = plan(POLICY, severity=Severity.P1, status=Status.ACKNOWLEDGED, current_level=0, anchor_at=T0, anchor_level=0, speed=DEFAULT_SPEED)
    assert [d.level for d in acked] == [3]
    resolved = plan(POLICY, severity=Severity.P1, status=Status.RESOLVED, current_level=0, anchor_at=T0, anchor_level=0, speed=DEFAULT_SPEED)
    assert resolved == []
    later = plan(POLICY, severity=Severity.P1, status=Status.TRIGGERED, current_level=1, anchor_at=T0, anchor_level=0, speed=DEFAULT_SPEED)
    assert [d.level for d in later] == [2, 3]


def test_after_a_manual_escalation_the_following_levels_keep_their_spacing() -> None:
    moment = T0 + timedelta(minutes=1)
    deadlines = plan(POLICY, severity=Severity.P1, status=Status.TRIGGERED, current_level=1, anchor_at=moment, anchor_level=1, speed=DEFAULT_SPEED)
    assert [(d.level, d.due_at - moment) for d in deadlines] == [(2, timedelta(minutes=10)), (3, timedelta(minutes=55))]


def test_manual_escalation_stops_at_the_last_level_and_on_resolved() -> None:
    open_incident = incident()
    assert next_manual_level(POLICY, open_incident, 0) == 1
    with pytest.raises(IllegalTransition, match="last escalation level"):
        next_manual_level(POLICY, open_incident, 3)
    open_incident.resolve(actor="a", source=Source.CONSOLE, at=T0)
    with pytest.raises(IllegalTransition, match="reopen"):
        next_manual_level(POLICY, open_incident, 0)


def test_escalated_entry_follows_the_data_contract() -> None:
    level = POLICY.levels[1]
    entry = escalated_entry(
        incident(), level=2, targets=level.targets, condition=level.condition, reason="r", manual=False,
        actor="firebreak", source=Source.SCHEDULER, at=T0,
    )
    assert entry.kind is EntryKind.ESCALATED
    assert entry.data == {
        "level": 2,
        "targets": ["@secondary", "PagerDuty escalation policy PPOL1"],
        "target_details": [{"kind": "slack_group", "value": "@secondary"}, {"kind": "pagerduty_escalation_policy", "value": "PPOL1"}],
        "reason": "r",
        "condition": "unacknowledged",
        "manual": False,
    }


def test_reminders_only_for_quiet_open_p0_p1() -> None:
    quiet = T0 - timedelta(minutes=31)
    assert quiet_seconds(incident(Severity.P1), last_activity_at=quiet, now=T0, after_seconds=1800) == 31 * 60
    assert quiet_seconds(incident(Severity.P1), last_activity_at=T0 - timedelta(minutes=29), now=T0, after_seconds=1800) is None
    assert quiet_seconds(incident(Severity.P2), last_activity_at=quiet, now=T0, after_seconds=1800) is None
    done = incident(Severity.P0)
    done.resolve(actor="a", source=Source.CONSOLE, at=T0)
    assert quiet_seconds(done, last_activity_at=quiet, now=T0, after_seconds=1800) is None


def test_policy_needs_targets() -> None:
    with pytest.raises(ValueError, match="target"):
        EscalationPolicy(levels=(Level(60, Condition.UNRESOLVED, ()),))


def test_a_playbook_policy_converts_field_by_field() -> None:
    """Stand-ins shaped like bot/playbooks/schema.py's EscalationLevel and Target."""

    @dataclass
    class PlaybookTarget:
        kind: str
        value: str

    @dataclass
    class PlaybookLevel:
        name: str | None
        condition: str
        delay_seconds: int
        targets: list[PlaybookTarget]

    converted = policy_from_levels(
        [
            PlaybookLevel("L1", "unacknowledged", 300, [PlaybookTarget("slack_user", "U1"), PlaybookTarget("who", "DBA on call")]),
            PlaybookLevel("L2", "unresolved", 900, [PlaybookTarget("pagerduty_escalation_policy", "PX")]),
        ]
    )
    assert converted.levels[0] == Level(300, Condition.UNACKNOWLEDGED, (Target(TargetKind.SLACK_USER, "U1"), Target(TargetKind.WHO, "DBA on call")), "L1")
    assert converted.levels[1].targets[0].is_pagerduty
