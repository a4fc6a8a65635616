"""The importer against the runbook corpus (tests/playbooks/corpus): every style, both the part
the rules were tuned on and the held-out part, checked file by file against its expected
answers. ``bench/importer_corpus.py`` prints the same figures as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from bot.domain.durations import parse_duration
from bot.playbooks import Playbook, import_text, lint_directory
from bot.playbooks.importer.frontmatter import split_front_matter
from bot.playbooks.importer.sync import import_into
from bot.playbooks.loader import playbook_files, read_file

CORPUS = Path(__file__).parent / "corpus"
RUNBOOKS = sorted(CORPUS.glob("*/*/*.md"))
#: Words that say when, never who.
PHRASES = {"immediately", "at page", "right away", "now", "asap"}


def expected_for(runbook: Path) -> dict[str, Any]:
    return yaml.safe_load(runbook.with_suffix(".expected.yaml").read_text(encoding="utf-8"))


def imported(runbook: Path, out: Path) -> list[Playbook]:
    outcome = import_into(runbook, out, source=f"{runbook.parent.name}/{runbook.name}")
    assert outcome.error is None and not outcome.refused
    return [item.playbook for item in map(read_file, playbook_files(out)) if item.playbook is not None]


def outcome_count(runbook: Path) -> int:
    return len(import_text(runbook.read_text(encoding="utf-8"), runbook.name).report.sections)


def test_corpus_has_both_parts_and_every_style() -> None:
    styles = {"per_alert", "freeform", "handbook", "alerts_section", "catalogue", "escalation", "decoys"}
    for part in ("tuned", "heldout"):
        assert {p.parent.name for p in RUNBOOKS if p.parents[1].name == part} == styles
    assert all(p.with_suffix(".expected.yaml").is_file() for p in RUNBOOKS)
    # one file lists about fifty alerts under "## Alerts"
    assert len(expected_for(CORPUS / "tuned/alerts_section/kubernetes-alerts.md")["alerts"]) >= 50


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_runbook_gives_expected_answers(runbook: Path, tmp_path: Path) -> None:
    expected = expected_for(runbook)
    out = tmp_path / "out"
    playbooks = imported(runbook, out)
    assert not [p for p in lint_directory(out) if not p.warning]
    holders = {name: [p for p in playbooks if name in p.match.alertname and not p.manual] for name in expected["alerts"]}
    # 1. every alert is matched by name, and nothing else became an alert name (decoys)
    assert {name for name, found in holders.items() if not found} == set()
    assert {n for p in playbooks for n in p.match.alertname} == set(expected["alerts"])
    assert not {d for d in expected.get("decoys", []) for p in playbooks if d in p.match.alertname}
    # 5. every stated severity is read, through the label mapping
    for name, severity in expected["alerts"].items():
        assert {p.severity.value if p.severity else None for p in holders[name]} == {severity}, name
    # 6. every command is a step command
    commands = {" ".join(c.split()) for p in playbooks for _, _, step in p.steps() for c in step.commands}
    assert [c for c in expected["commands"] if " ".join(c.split()) not in commands] == []
    # 7. escalation: the expected levels, none at 0 seconds, no phrase as a target
    levels = [level for p in playbooks if p.escalation for level in p.escalation.levels]
    assert all(level.delay_seconds > 0 for level in levels)
    assert not [t.value for level in levels for t in level.targets if t.value.lower() in PHRASES]
    for delay, who in expected.get("escalation") or []:
        assert any(
            any(who.lower() in t.value.lower() for t in level.targets)
            and (level.delay_seconds > 0 if delay is None else level.delay_seconds == parse_duration(delay))
            for level in levels
        ), (delay, who)
    if expected.get("first_responder"):
        assert any(f"First responder (paged at once): {expected['first_responder']}" in p.description for p in playbooks)
    # 3. one runbook, one playbook
    if expected["style"] in ("per_alert", "freeform", "handbook", "escalation", "catalogue"):
        assert len([p for p in playbooks if p.phases]) == expected["playbooks"]
    # every heading of the runbook is accounted for in the report
    _, body = split_front_matter(runbook.read_text(encoding="utf-8"))
    headings = sum(token.type == "heading_open" for token in MarkdownIt("commonmark").parse(body))
    assert outcome_count(runbook) == headings
    # 8. importing again changes nothing
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    imported(runbook, out)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
