"""The post-mortem of a scripted incident, byte for byte, on a frozen clock."""

from __future__ import annotations

import json

import jsonschema
import pytest

from bot.container import Container
from bot.export.chat_pages import timeline_pages
from bot.export.document import SCHEMA_VERSION, json_schema
from bot.export.service import Exporter
from tests.export.golden_files import assert_matches_golden
from tests.export.scenario import build_incident


@pytest.fixture
def exporter(berlin: Container) -> Exporter:
    return Exporter(berlin.sessions, clock=berlin.clock, zone=berlin.settings.zone)


def test_markdown_matches_golden(berlin: Container, exporter: Exporter) -> None:
    incident = build_incident(berlin)
    assert_matches_golden("postmortem.md", exporter.render(incident.number, "md"))


def test_slack_timeline_pages_match_golden(berlin: Container) -> None:
    incident = build_incident(berlin)
    entries = berlin.service.timeline(incident.number)
    pages = timeline_pages(incident, entries, zone=berlin.settings.zone, markup="mrkdwn", max_chars=1200)
    assert len(pages) > 1
    assert_matches_golden("timeline.mrkdwn.txt", "\n\n=== next page ===\n\n".join(pages) + "\n")


def test_json_is_valid_against_the_shipped_schema(berlin: Container, exporter: Exporter) -> None:
    incident = build_incident(berlin)
    document = json.loads(exporter.render(incident.number, "json"))
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["schema_version"] == SCHEMA_VERSION == 1
    assert document["timezone"] == "Europe/Berlin"
    assert document["metrics"]["mtta"] == {"seconds": 457.0, "at": "2026-03-14T09:34:30Z", "by": "bob"}
    assert document["metrics"]["time_to_mitigate"]["seconds"] == 22 * 60 + 22
    assert document["metrics"]["mttr"] == {"seconds": 32 * 60 + 22, "at": "2026-03-14T09:59:15Z", "by": "dave"}
    assert [(t["level"], t["seconds"]) for t in document["escalation"]["time_at_level"]] == [(0, 330.0), (1, 592.0), (2, 1020.0)]
    assert [p["severity"] for p in document["severity_history"]] == ["P2", "P1"]
    assert {a["fingerprint"]: a["status"] for a in document["alerts"]} == {"fp-a1": "resolved", "fp-b2": "firing"}
    steps = document["playbooks"][0]["steps"]
    assert [(s["step"], s["outcome"], s["by"]) for s in steps] == [(1, "done", "bob"), (2, "skipped", "alice"), (3, "pending", None)]
    assert steps[2]["deadlines"] == [{"at": "2026-03-14T09:42:15Z", "action": "escalate to L2"}]
    assert [r["name"] for r in document["responders"]] == ["bob", "alice", "dave", "carol | <@U0CAROL>"]
    assert document["action_items"][1]["done"] is True
    # The JSON keeps people's text exactly as written: escaping is the markdown's job.
    assert any("<script>alert(1)</script>" in e["text"] for e in document["timeline"])
    assert len(document["timeline"]) == 23


def test_schema_rejects_a_document_missing_a_section(berlin: Container, exporter: Exporter) -> None:
    incident = build_incident(berlin)
    document = exporter.document(incident.number)
    del document["metrics"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json_schema())
    document = exporter.document(incident.number)
    document["incident"]["status"] = "exploded"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json_schema())
