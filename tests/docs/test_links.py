"""Every relative link in README.md and docs/ reaches a file, and its #anchor a heading there.

A page split or a heading renamed breaks links silently on GitHub; here it fails a test that
names the page, the line and the target.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.docs.markdown import ROOT, anchors, links, pages, slug

EXTERNAL = ("http://", "https://", "mailto:")


def _relative(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _problems(page: Path) -> list[str]:
    problems = []
    for line, target in links(page.read_text(encoding="utf-8")):
        if target.startswith(EXTERNAL):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / unquote(path_part)).resolve() if path_part else page
        where = f"{_relative(page)}:{line}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file")
            continue
        if not destination.resolve().is_relative_to(ROOT):
            problems.append(f"{where}: points outside the repository")
            continue
        if anchor:
            if destination.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not markdown")
            elif anchor not in anchors(destination.read_text(encoding="utf-8")):
                problems.append(f"{where}: no heading with anchor #{anchor} in {_relative(destination)}")
    return problems


@pytest.mark.parametrize("page", pages(), ids=_relative)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert _problems(page) == []


def test_the_checker_sees_a_broken_file_and_a_broken_anchor(tmp_path: Path) -> None:
    """The check itself: a link it cannot follow must be reported, not skipped."""
    other = tmp_path / "other.md"
    other.write_text("# Other page\n\n## Set-up: `/slack/events` and Socket Mode\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[fine](other.md#set-up-slackevents-and-socket-mode) [gone](missing.md)\n"
        "[bad anchor](other.md#nowhere) `[in code](missing-too.md)`\n"
        "```\n[in a block](missing-three.md)\n```\n",
        encoding="utf-8",
    )
    found = [(line, target) for line, target in links(page.read_text(encoding="utf-8"))]
    assert found == [(1, "other.md#set-up-slackevents-and-socket-mode"), (1, "missing.md"), (2, "other.md#nowhere")]
    assert "set-up-slackevents-and-socket-mode" in anchors(other.read_text(encoding="utf-8"))


def test_slugs_follow_github() -> None:
    assert slug("What `/slack/events` answers") == "what-slackevents-answers"
    assert slug("Alerts in: Alertmanager and Grafana") == "alerts-in-alertmanager-and-grafana"
    assert slug("Ingest, alert storm, slash commands (measured 2026-11-25)") == (
        "ingest-alert-storm-slash-commands-measured-2026-11-25"
    )
    assert anchors("# A\n## Tuning\n### Tuning\n") == {"a", "tuning", "tuning-1"}
