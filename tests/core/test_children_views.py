"""An incident's children (alert groups) in the console summary, ``/incident status``,
``/incident children`` and ``firebreak incidents show``."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import Any

import pytest

from bot.chat import render
from bot.chat.commands import CommandContext
from bot.container import Container
from bot.domain.children import JoinedBy
from bot.domain.permissions import Principal, Standing
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from tests.support.children import HOSTILE_VALUE, add_child
from tests.support.processes import firebreak_env, run_firebreak

CONSOLE = CommandContext(actor="alice", source=Source.CONSOLE)


def drain(container: Container) -> None:
    asyncio.run(container.worker.drain(timeout=10))


def declare(container: Container, severity: Severity = Severity.P2) -> int:
    return container.service.declare(title="Checkout latency", severity=severity, actor="alertmanager", source=Source.ALERTMANAGER).number


def joined(container: Container, number: int, data: dict[str, Any]) -> None:
    at = container.clock.now()
    entry = TimelineEntry(kind=EntryKind.GROUP_JOINED, at=at, actor="alertmanager", source=Source.ALERTMANAGER, text="", data=data)
    container.service.apply(number, lambda _incident: [entry])


def family(container: Container) -> int:
    """Three groups: the opener (P2), a correlated P1 with hostile labels, a resolved storm P3."""
    number = declare(container)
    add_child(container, number, title="HighLatency", severity=Severity.P2, joined_by=JoinedBy.OPENED, firing_alerts=2)
    add_child(container, number, title=f"Evil {HOSTILE_VALUE}", severity=Severity.P1, correlation={"team": HOSTILE_VALUE}, firing_alerts=1,
              resolved_alerts=1)
    add_child(container, number, title="DiskFull", severity=Severity.P3, joined_by=JoinedBy.STORM, firing_alerts=0, resolved_alerts=1,
              resolved_at=container.clock.now() + timedelta(minutes=3))
    return number


def test_console_summary_lists_children_worst_first_as_plain_text(container: Container, transcript: io.StringIO) -> None:
    number = family(container)
    joined(container, number, {"child": 2, "dedup_key": "am:evil", "labels": {"alertname": f"Evil {HOSTILE_VALUE}"},
                               "correlation": {"team": HOSTILE_VALUE}, "joined_by": "correlated", "severity": "P1", "alerts": 2})
    drain(container)
    out = transcript.getvalue()
    summary = out.split("📌 (pinned summary updated)", 1)[1]
    lines = [line.strip() for line in summary.splitlines()]
    start = lines.index("Alert groups: 3 (P1 ×1, P2 ×1, P3 ×1; 2 firing)")
    assert lines[start + 1].startswith("#2 P1 firing  Evil <!here> <@U0EVE> *bold* |pipe")
    assert lines[start + 1].endswith("(1/2 alerts firing)")
    assert lines[start + 2] == "#1 P2 firing  HighLatency (2/2 alerts firing)"
    assert lines[start + 3] == "#3 P3 resolved  DiskFull (0/1 alerts firing)"
    # The join only refreshes the summary (no post per group); no escape sequence reaches the terminal.
    assert "alert group #2 joined" not in out
    assert "\x1b" not in out and "\u202e" not in out


def test_one_child_leaves_the_console_summary_as_it_was(container: Container) -> None:
    number = declare(container)
    add_child(container, number, title="HighLatency", severity=Severity.P2, joined_by=JoinedBy.OPENED)
    incident = container.service.get(number)
    children = container.service.children(number)
    now = container.clock.now()
    assert len(children) == 1
    assert render.summary(incident, now=now, children=children) == render.summary(incident, now=now)


def test_summary_counts_what_it_does_not_list(container: Container) -> None:
    number = declare(container)
    for index in range(25):
        add_child(container, number, title=f"Pod{index:02d}", severity=Severity.P1 if index == 24 else Severity.P3, joined_by=JoinedBy.STORM)
    text = render.summary(container.service.get(number), now=container.clock.now(), children=container.service.children(number))
    lines = [line.strip() for line in text.splitlines()]
    start = lines.index("Alert groups: 25 (P1 ×1, P3 ×24; 25 firing)")
    assert lines[start + 1] == "#25 P1 firing  Pod24 (1/1 alerts firing)"
    assert lines[start + 2] == "#1 P3 firing  Pod00 (1/1 alerts firing)"
    assert lines[start + 11] == "… and 15 more (/incident children to list all)"


def test_status_reply_includes_the_children(container: Container) -> None:
    number = family(container)
    reply = container.commands.handle(f"/incident status INC-{number}", CONSOLE)
    assert "Alert groups: 3 (P1 ×1, P2 ×1, P3 ×1; 2 firing)" in reply.text
    assert reply.text.index("#2 P1 firing") < reply.text.index("#1 P2 firing") < reply.text.index("#3 P3 resolved")


def test_incident_children_pages_through_every_group(container: Container) -> None:
    number = declare(container)
    for index in range(45):
        add_child(container, number, title=f"Group{index:02d}", severity=Severity.P0 if index == 44 else Severity.P2,
                  correlation={"cluster": "eu-1"})
    first = container.commands.handle(f"/incident children INC-{number}", CONSOLE)
    lines = first.text.splitlines()
    assert lines[0] == f"INC-{number} — Alert groups: 45 (P0 ×1, P2 ×44; 45 firing)"
    assert lines[1] == "  #45 P0 firing  Group44 cluster=eu-1 (1/1 alerts firing) · correlated"
    assert len([line for line in lines if line.startswith("  #")]) == render.CHILDREN_PER_PAGE
    assert lines[-1] == f"page 1 of 2; next: /incident children INC-{number} page 2"
    second = container.commands.handle("/incident children page 2", CommandContext(actor="alice", source=Source.CONSOLE, last_incident=number))
    rows = [line for line in second.text.splitlines() if line.startswith("  #")]
    assert len(rows) == 5 and rows[-1].startswith("  #44 P2 firing  Group43") and second.text.endswith("page 2 of 2")
    assert not first.public and not second.public  # read-only: for the asker
    bad = container.commands.handle(f"/incident children INC-{number} page zero", CONSOLE)
    assert bad.text.startswith("⚠️ 'zero' is not a page number") and "/incident children [INC-n] [page <n>]" in bad.text


def test_incident_children_of_a_declared_incident_says_there_are_none(container: Container) -> None:
    number = container.service.declare(title="By hand", severity=Severity.P2, actor="alice", source=Source.CONSOLE).number
    reply = container.commands.handle(f"/incident children {number}", CONSOLE)
    assert reply.text == f"INC-{number} has no alert groups (it was not opened by an alert group)."


@pytest.mark.parametrize("standing", [Standing.MEMBER, Standing.GUEST, Standing.EXTERNAL])
@pytest.mark.parametrize("in_channel", [True, False])
def test_children_may_be_read_by_whoever_may_read_the_status(container: Container, standing: Standing, in_channel: bool) -> None:
    number = family(container)
    principal = Principal(key="U0X", name="x", standing=standing)
    context = CommandContext(actor="x", source=Source.SLACK, principal=principal, channel_incident=number if in_channel else None)
    status = container.commands.handle(f"/incident status INC-{number}", context)
    children = container.commands.handle(f"/incident children INC-{number}", context)
    assert children.refused == status.refused == (standing is not Standing.MEMBER and not in_channel)
    assert ("Alert groups: 3" in children.text) == (not status.refused)


def test_incidents_show_lists_every_child(container: Container, db_url: str) -> None:
    number = family(container)
    result = run_firebreak(["incidents", "show", f"INC-{number}"], firebreak_env(db_url))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Alert groups: 3 (P1 ×1, P2 ×1, P3 ×1; 2 firing):" in out
    rows = [line.strip() for line in out.splitlines() if line.strip().startswith("#")]
    assert [row.split()[0] for row in rows[:3]] == ["#2", "#1", "#3"]
    assert "correlated 2026-03-14 09:26:53 UTC" in rows[0]
    assert rows[2].endswith("storm guard 2026-03-14 09:26:53 UTC, resolved 2026-03-14 09:29:53 UTC")
    assert "\x1b" not in out and "\u202e" not in out


def test_grammar_reads_an_incident_and_a_page() -> None:
    from bot.chat.grammar import parse
    from bot.domain.errors import InvalidCommand

    assert (parse("/incident children INC-3 page 2").ref, parse("/incident children INC-3 page 2").args) == (3, ["page", "2"])
    assert (parse("children 7").ref, parse("children 7").args) == (7, [])
    assert (parse("children page 4 INC-2").ref, parse("children page 4 INC-2").args) == (2, ["page", "4"])
    with pytest.raises(InvalidCommand):
        parse("children INC-2 INC-3")


def test_split_and_merge_are_posted_in_words(container: Container, transcript: io.StringIO) -> None:
    number = declare(container)
    at = container.clock.now()
    entries = [
        TimelineEntry(kind=EntryKind.MERGED, at=at, actor="alice", source=Source.CONSOLE, text="", data={"from": 7, "children": [4, 5]}),
        TimelineEntry(kind=EntryKind.SPLIT, at=at, actor="alice", source=Source.CONSOLE, text="", data={"child": 2, "dedup_key": "am:x", "into": 9}),
    ]
    container.service.apply(number, lambda _incident: entries)
    drain(container)
    out = transcript.getvalue()
    assert "🔗 alice: INC-7 merged into this incident (alert groups #4, #5)" in out
    assert "✂️ alice: alert group #2 split off into its own incident INC-9" in out
