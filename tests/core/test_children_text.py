"""The words for children and the entries about them, whatever shape ``data`` arrives in."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.children import Child, JoinedBy
from bot.domain.children_text import child_line, counts_line, entry_wording, listing
from bot.domain.severity import Severity

AT = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def child(number: int, severity: Severity, *, firing: bool = True, title: str = "HighLatency", **extra: object) -> Child:
    return Child(child=number, incident=1, dedup_key=f"am:{number}", source="am", title=title, severity=severity, firing=firing,
                 joined_by=JoinedBy.CORRELATED, joined_at=AT, **extra)  # type: ignore[arg-type]


def test_a_line_keeps_its_counts_however_long_the_title() -> None:
    line = child_line(child(3, Severity.P1, title="x" * 1000, correlation={"cluster": "eu-1"}, alerts_firing=5, alerts_total=7))
    assert line.startswith("#3 P1 firing  xxx") and line.endswith("… (5/7 alerts firing)") and len(line) <= 200


def test_counts_and_order() -> None:
    children = [child(1, Severity.P2), child(2, Severity.P1, firing=False), child(3, Severity.P1), child(4, Severity.P2)]
    assert counts_line(children) == "Alert groups: 4 (P1 ×2, P2 ×2; 3 firing)"
    assert [line.split()[0] for line in listing(children, shown=2)[1:3]] == ["#3", "#2"]
    assert listing(children, shown=2)[-1] == "… and 2 more (/incident children to list all)"


def test_entries_about_children_are_worded_from_their_data() -> None:
    assert entry_wording("group_joined", {"child": 4, "joined_by": "storm", "severity": "P2", "labels": {"alertname": "DiskFull"},
                                          "alerts": 1}) == "alert group #4 joined (storm guard): P2 DiskFull, 1 alert"
    assert entry_wording("group_joined", {}) == "alert group #? joined (unknown): ?"
    assert entry_wording("split", {"child": 1, "from": 3}) == "split off from INC-3: this incident is its alert group #1"
    assert entry_wording("merged", {"into": 3, "children": [1, 2]}) == "merged into INC-3 (alert groups #1, #2)"
    assert entry_wording("merged", {"into": 3, "children": [1]}) == "merged into INC-3 (alert group #1)"


def test_a_merge_says_what_each_moved_group_is_called_now() -> None:
    """Short ids are per incident: "merged into INC-11 (alert groups #1)" read as INC-11's own
    #1, a different group. Both sides say the old id and the new one."""
    assert entry_wording("merged", {"into": 11, "children": [1], "now": [52]}) == "merged into INC-11 (its alert group #1 is #52 there)"
    assert entry_wording("merged", {"from": 10, "children": [52], "was": [1]}) == "INC-10 merged into this incident (its alert group #1 is #52 here)"
    assert (
        entry_wording("merged", {"from": 7, "children": [4, 5], "was": [1, 2]})
        == "INC-7 merged into this incident (its alert groups #1, #2 are #4, #5 here)"
    )
    assert entry_wording("merged", {}) is None and entry_wording("note", {"child": 1}) is None


def test_every_label_derived_piece_of_an_entry_is_clipped() -> None:
    huge = "x" * 10_000
    worded = entry_wording("group_joined", {"child": huge, "joined_by": huge, "severity": huge, "labels": {"alertname": huge}, "alerts": 3})
    assert worded is not None and len(worded) <= 1000 and "x" * 201 not in worded and worded.endswith(", 3 alerts")
    correlated = entry_wording("group_joined", {"child": 2, "joined_by": "correlated", "correlation": {"cluster": huge},
                                                "labels": {"alertname": "DiskFull"}})
    assert correlated is not None and "x" * 201 not in correlated and correlated.endswith("…): DiskFull")
    flat = entry_wording("group_joined", {"child": 2, "joined_by": "storm", "labels": {"alertname": "Disk\nFull   now"}})
    assert flat == "alert group #2 joined (storm guard): Disk Full now"
