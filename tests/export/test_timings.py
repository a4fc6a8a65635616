"""Metrics from the timeline alone: pure functions, hand-made entries, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.export import timings

T0 = datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def entry(minutes: float, kind: EntryKind, actor: str = "alice", source: Source = Source.SLACK, **data: Any) -> TimelineEntry:
    return TimelineEntry(kind=kind, at=at(minutes), actor=actor, source=source, text=kind.value, data=data)


def status(minutes: float, to: str, actor: str = "alice", **extra: Any) -> TimelineEntry:
    return entry(minutes, EntryKind.STATUS_CHANGED, actor, **{"to": to, **extra})


REOPENED = [
    entry(0, EntryKind.DECLARED, "alertmanager", Source.ALERTMANAGER, severity="P2", title="x"),
    entry(5, EntryKind.ESCALATED, "firebreak", Source.SCHEDULER, level=1, targets=["@l1"]),
    status(6, "acknowledged", "bob"),
    entry(7, EntryKind.SEVERITY_CHANGED, "bob", **{"from": "P2", "to": "P1", "reason": "worse"}),
    status(10, "resolved", "carol"),
    status(20, "triggered", "dave", reopened=True),
    entry(25, EntryKind.ESCALATED, "firebreak", Source.SCHEDULER, level=1, targets=["@l1"]),
    entry(26, EntryKind.ESCALATED, "firebreak", Source.SCHEDULER, level=1, targets=["@l1"]),
    entry(28, EntryKind.ESCALATED, "alice", Source.SLACK, level=2, targets=["@l2"], manual=True),
    status(29, "mitigated", "alice"),
    status(30, "resolved", "alice"),
]


def test_mtta_mitigate_and_mttr_survive_a_reopen() -> None:
    start = timings.incident_start(REOPENED, T0)
    assert timings.time_to_acknowledge(REOPENED, start) == timings.Milestone(at(6), "bob", 360.0)
    # The first resolve also counts as the first mitigation.
    assert timings.time_to_mitigate(REOPENED, start) == timings.Milestone(at(10), "carol", 600.0)
    assert timings.time_to_resolve(REOPENED, start) == timings.Milestone(at(30), "alice", 1800.0)


def test_open_again_means_no_mttr_and_an_ongoing_end() -> None:
    open_again = REOPENED[:6]
    assert timings.time_to_resolve(open_again, T0) is None
    assert timings.incident_end(open_again, at(40)) == (at(40), True)


def test_time_at_each_escalation_level_restarts_at_zero_after_reopen() -> None:
    periods = timings.escalation_periods(REOPENED, now=at(99))
    assert [(p.level, p.since, p.until) for p in periods] == [
        (0, at(0), at(5)),
        (1, at(5), at(10)),
        (0, at(20), at(25)),
        (1, at(25), at(28)),  # the repeat at minute 26 is the same level, not a new one
        (2, at(28), at(30)),
    ]
    assert timings.time_at_levels(periods) == {0: 600.0, 1: 480.0, 2: 120.0}
    assert periods[-1].targets == ("@l2",) and periods[-1].manual


def test_an_open_incident_is_still_at_its_level_now() -> None:
    periods = timings.escalation_periods(REOPENED[:3], now=at(12))
    assert periods[-1].level == 1 and periods[-1].ongoing and periods[-1].seconds == 7 * 60


def test_severity_history_with_durations() -> None:
    history = timings.severity_history(REOPENED, now=at(99))
    assert [(p.severity, p.previous, p.seconds, p.actor, p.reason) for p in history] == [
        ("P2", None, 420.0, "alertmanager", ""),
        ("P1", "P2", 23 * 60.0, "bob", "worse"),
    ]
    assert timings.highest_severity(p.severity for p in history) == "P1"
    assert timings.highest_severity(["P3", "INFO", "P0"]) == "P0"


def test_responders_are_people_merged_across_spellings() -> None:
    entries = [
        *REOPENED,
        entry(31, EntryKind.ROLE_ASSIGNED, "bob", role="commander", user="@Alice"),
        entry(32, EntryKind.ROLE_ASSIGNED, "bob", role="scribe", user="<@U0ERIN|erin>"),
        entry(33, EntryKind.NOTE, "U0ERIN"),
        entry(34, EntryKind.NOTE, "firebreak", Source.SLACK),
    ]
    people = {r.name: r for r in timings.responders(entries)}
    assert list(people) == ["bob", "carol", "dave", "alice", "U0ERIN"]
    assert people["alice"].roles == ["commander"] and people["alice"].actions == 3
    assert people["U0ERIN"].roles == ["scribe"] and people["U0ERIN"].actions == 1
    assert "alertmanager" not in people and "firebreak" not in people


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0s"), (59.6, "1m 00s"), (247, "4m 07s"), (3720, "1h 02m"), (2 * 86400 + 3 * 3600 + 59, "2d 03h"), (-5, "0s")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert timings.format_duration(seconds) == text
