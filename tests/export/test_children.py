"""The post-mortem lists the incident's alert groups (children) and words the entries about them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jsonschema
import pytest

from bot.container import Container
from bot.domain.children import JoinedBy
from bot.domain.clock import FrozenClock
from bot.domain.incident import Incident
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.export.document import json_schema
from bot.export.service import Exporter
from tests.export.golden_files import assert_matches_golden
from tests.support.children import HOSTILE_VALUE, add_child


@pytest.fixture
def exporter(berlin: Container) -> Exporter:
    return Exporter(berlin.sessions, clock=berlin.clock, zone=berlin.settings.zone)


def _entry(container: Container, number: int, kind: EntryKind, data: dict[str, Any], *, text: str = "") -> None:
    at = container.clock.now()
    entry = TimelineEntry(kind=kind, at=at, actor="alertmanager", source=Source.ALERTMANAGER, text=text, data=data)
    container.service.apply(number, lambda _incident: [entry])


def build_parent(container: Container) -> Incident:
    """An alert-opened incident that collects three more groups, one of them hostile, and
    sees a split and a merge."""
    clock = container.clock
    assert isinstance(clock, FrozenClock)
    incident = container.service.declare(title="HighLatency on eu-1", severity=Severity.P2, actor="alertmanager", source=Source.ALERTMANAGER)
    number = incident.number
    add_child(container, number, title="HighLatency", severity=Severity.P2, joined_by=JoinedBy.OPENED,
              labels={"alertname": "HighLatency", "cluster": "eu-1"}, firing_alerts=2, resolved_alerts=1)
    clock.advance(minutes=2)
    child = add_child(container, number, title="ErrorRate", severity=Severity.P1, labels={"alertname": "ErrorRate", "cluster": "eu-1"},
                      correlation={"cluster": "eu-1"}, firing_alerts=3)
    _entry(container, number, EntryKind.GROUP_JOINED, {
        "child": child, "dedup_key": "am:errors", "labels": {"alertname": "ErrorRate", "cluster": "eu-1"},
        "correlation": {"cluster": "eu-1"}, "joined_by": "correlated", "severity": "P1", "alerts": 3,
    }, text="raw text the ingester wrote")
    clock.advance(minutes=1)
    evil = add_child(container, number, title=f"Evil {HOSTILE_VALUE}", severity=Severity.P3, joined_by=JoinedBy.STORM,
                     labels={"alertname": "Evil", "team": HOSTILE_VALUE}, firing_alerts=0, resolved_alerts=2,
                     resolved_at=clock.now() + timedelta(minutes=4), truncated_alerts=7)
    _entry(container, number, EntryKind.GROUP_JOINED, {
        "child": evil, "dedup_key": "am:evil", "labels": {"alertname": f"Evil {HOSTILE_VALUE}"}, "correlation": {},
        "joined_by": "storm", "severity": "P3", "alerts": 2,
    })
    clock.advance(minutes=1)
    _entry(container, number, EntryKind.MERGED, {"from": 7, "children": [4, 5]})
    add_child(container, number, title="DiskFull", severity=Severity.P2, joined_by=JoinedBy.MERGED, firing_alerts=1)
    clock.advance(minutes=1)
    _entry(container, number, EntryKind.SPLIT, {"child": 6, "dedup_key": "am:split", "into": 9})
    clock.advance(minutes=10)
    return container.service.get(number)


def test_markdown_with_children_matches_golden(berlin: Container, exporter: Exporter) -> None:
    incident = build_parent(berlin)
    assert_matches_golden("postmortem-children.md", exporter.render(incident.number, "md"))


def test_markdown_lists_groups_worst_first_and_hostile_labels_as_text(berlin: Container, exporter: Exporter) -> None:
    incident = build_parent(berlin)
    text = exporter.render(incident.number, "md")
    section = text.split("## Alert groups", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| \\#")]  # markdown escapes the #
    assert [row.split(" | ")[0] for row in rows] == ["| \\#2", "| \\#1", "| \\#4", "| \\#3"]
    assert "correlated on cluster=eu-1" in rows[0] and "3 / 3" in rows[0]
    assert "storm guard" in rows[3] and "0 / 2 (+7 not sent)" in rows[3]
    assert "&lt;!here&gt;" in section and "\\|pipe" in section
    assert "<!here>" not in text and "\x1b" not in text and "\u202e" not in text
    assert "alert group #2 joined (correlated on cluster=eu-1): P1 ErrorRate, 3 alerts" in text
    assert "INC-7 merged into this incident (alert groups #4, #5)" in text
    assert "alert group #6 split off into its own incident INC-9" in text


def test_json_has_the_groups_and_follows_the_schema(berlin: Container, exporter: Exporter) -> None:
    incident = build_parent(berlin)
    document = json.loads(exporter.render(incident.number, "json"))
    jsonschema.Draft202012Validator(json_schema(), format_checker=jsonschema.FormatChecker()).validate(document)
    groups = document["alert_groups"]
    assert [(g["ref"], g["severity"], g["status"], g["joined_by"]) for g in groups] == [
        ("#2", "P1", "firing", "correlated"),
        ("#1", "P2", "firing", "opened"),
        ("#4", "P2", "firing", "merged"),
        ("#3", "P3", "resolved", "storm"),
    ]
    assert groups[0]["correlation"] == {"cluster": "eu-1"} and groups[0]["alerts_firing"] == 3
    assert groups[3]["labels"]["team"] == HOSTILE_VALUE  # the JSON keeps the record as received
    assert groups[3]["resolved_at"] == "2026-03-14T09:33:53Z" and groups[3]["truncated_alerts"] == 7
    assert groups[1]["joined_at"] == "2026-03-14T09:26:53Z"
    assert {e["kind"] for e in document["timeline"]} >= {"group_joined", "split", "merged"}


def test_the_schema_refuses_a_malformed_group(berlin: Container, exporter: Exporter) -> None:
    incident = build_parent(berlin)
    document = exporter.document(incident.number)
    jsonschema.validate(document, json_schema())
    document["alert_groups"][0]["joined_by"] = "magic"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json_schema())
    older = exporter.document(incident.number)
    del older["alert_groups"]  # optional: a version-1 document from before keeps validating
    jsonschema.validate(older, json_schema())


def test_one_group_adds_no_section(berlin: Container, exporter: Exporter) -> None:
    incident = berlin.service.declare(title="Lonely", severity=Severity.P2, actor="alertmanager", source=Source.ALERTMANAGER)
    add_child(berlin, incident.number, title="Lonely", severity=Severity.P2, joined_by=JoinedBy.OPENED)
    assert "## Alert groups" not in exporter.render(incident.number, "md")
    assert len(exporter.document(incident.number)["alert_groups"]) == 1


def test_a_huge_alert_name_in_a_joined_entry_is_clipped_in_the_export(berlin: Container, exporter: Exporter) -> None:
    incident = berlin.service.declare(title="Storm", severity=Severity.P2, actor="alertmanager", source=Source.ALERTMANAGER)
    huge = "A" * 10_000
    _entry(berlin, incident.number, EntryKind.GROUP_JOINED, {
        "child": 2, "dedup_key": "am:huge", "labels": {"alertname": huge}, "correlation": {"cluster": "c" * 10_000},
        "joined_by": "correlated", "severity": "P2", "alerts": 1,
    })
    text = exporter.render(incident.number, "md")
    (row,) = [line for line in text.splitlines() if "alert group #2 joined" in line]
    assert len(row) < 1000 and "A" * 201 not in row and "c" * 201 not in row and "…" in row
    assert "A" * 150 in row  # clipped, not dropped
