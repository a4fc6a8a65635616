"""The real runbooks in ../shared/runbooks, when present: an extra check beside the fixtures."""

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from bot.playbooks import import_runbook, lint_directory
from bot.playbooks.importer import write_playbooks
from tests.playbooks.golden_tool import GOLDEN, render, shared_runbooks_dir

SHARED = shared_runbooks_dir()
RUNBOOKS = sorted(SHARED.glob("*.md")) if SHARED is not None else []

pytestmark = pytest.mark.skipif(not RUNBOOKS, reason="shared runbooks not available")


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.name)
def test_shared_runbook_imports_and_lints(runbook: Path, tmp_path: Path) -> None:
    text = runbook.read_text()
    result = import_runbook(runbook)
    write_playbooks(result.playbooks, tmp_path)
    assert lint_directory(tmp_path) == []
    with_steps = [p for p in result.playbooks if any(phase.steps for phase in p.phases)]
    incidents = [p for p in with_steps if not p.manual]
    assert len(with_steps) >= 5
    assert len(incidents) >= 3
    for playbook in with_steps:
        assert all(step.text.strip() for _, _, step in playbook.steps())
    assert sum(len(p.steps()) for p in with_steps) >= 40
    assert any(step.commands for p in with_steps for _, _, step in p.steps())
    # every heading is placed somewhere: a playbook, a phase, notes, escalation, severity, or skipped TOC
    headings = sum(t.type == "heading_open" for t in MarkdownIt("commonmark").parse(text))
    assert len(result.report.sections) == headings
    assert len({p.id for p in result.playbooks}) == len(result.playbooks)


def test_all_shared_runbooks_into_one_directory(tmp_path: Path) -> None:
    seen: set[str] = set()
    for runbook in RUNBOOKS:
        result = import_runbook(runbook, existing_ids=seen)
        seen |= {p.id for p in result.playbooks}
        write_playbooks(result.playbooks, tmp_path)
    assert lint_directory(tmp_path) == []
    assert len(list(tmp_path.glob("*.yaml"))) == len(seen)


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.name)
def test_shared_runbook_output_matches_golden(runbook: Path) -> None:
    """Any change to what the importer makes of the real runbooks must be reviewed: after
    reviewing the diff, regenerate with ``python -m tests.playbooks.golden_tool``."""
    stream, report = render(runbook)
    assert stream == (GOLDEN / f"{runbook.stem}.playbooks.yaml").read_text(encoding="utf-8")
    assert report == (GOLDEN / f"{runbook.stem}.report.txt").read_text(encoding="utf-8")
