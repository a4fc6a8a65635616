"""Every relative link in README.md and docs/ reaches a file, and its #anchor a heading there.

A page split or a heading renamed breaks links silently on GitHub; here it fails a test that
names the page, the line and the target.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.docs.markdown import ROOT, anchors, links, pages, slug, split

EXTERNAL = ("http://", "https://", "mailto:")


def _relative(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _problems(page: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for line, target in links(page.read_text(encoding="utf-8")):
        if target.startswith(EXTERNAL):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / unquote(path_part)).resolve() if path_part else page
        where = f"{page.relative_to(root)}:{line}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file")
            continue
        if not destination.resolve().is_relative_to(root):
            problems.append(f"{where}: points outside the repository")
            continue
        if anchor:
            if destination.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not markdown")
            elif anchor not in anchors(destination.read_text(encoding="utf-8")):
                problems.append(f"{where}: no heading with anchor #{anchor} in {destination.relative_to(root)}")
    return problems


@pytest.mark.parametrize("page", pages(), ids=_relative)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert _problems(page) == []


def test_the_checker_sees_a_broken_file_and_a_broken_anchor(tmp_path: Path) -> None:
    """The check itself: a link it cannot follow must be reported, not skipped."""
    other = tmp_path / "other.md"
    other.write_text("# Other page\n\n## Set-up: `/slack/events` and Socket Mode\n", encoding="utf-8")
    page = tmp_path.resolve() / "page.md"
    page.write_text(
        "[fine](other.md#set-up-slackevents-and-socket-mode) [gone](missing.md)\n"
        "[bad anchor](other.md#nowhere) `[in code](missing-too.md)`\n"
        "```\n[in a block](missing-three.md)\n```\n",
        encoding="utf-8",
    )
    assert links(page.read_text(encoding="utf-8")) == [
        (1, "other.md#set-up-slackevents-and-socket-mode"),
        (1, "missing.md"),
        (2, "other.md#nowhere"),
    ]
    assert _problems(page, root=tmp_path.resolve()) == [
        "page.md:1: missing.md: no such file",
        "page.md:2: other.md#nowhere: no heading with anchor #nowhere in other.md",
    ]


def test_slugs_follow_github() -> None:
    assert slug("What `/slack/events` answers") == "what-slackevents-answers"
    assert slug("Alerts in: Alertmanager and Grafana") == "alerts-in-alertmanager-and-grafana"
    assert slug("Ingest, alert storm, slash commands (measured 2026-11-25)") == (
        "ingest-alert-storm-slash-commands-measured-2026-11-25"
    )
    assert anchors("# A\n## Tuning\n### Tuning\n") == {"a", "tuning", "tuning-1"}


#: A repository path written in inline code: `bot/text_safety.py`, `python bench/export_bench.py`.
_REPO_PATH = re.compile(r"(?<![\w/.])((?:bot|tests|bench|playbooks|docs|\.ci)/[\w./-]*\w)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def repository_paths(text: str) -> list[tuple[int, str]]:
    """(line, path) of every repository path named in inline code in the prose."""
    prose, _ = split(text)
    return [
        (number, match.group(1))
        for number, line in prose
        for span in _CODE_SPAN.finditer(line)
        for match in _REPO_PATH.finditer(span.group(2))
    ]


@pytest.mark.parametrize("page", pages(), ids=_relative)
def test_every_repository_path_named_exists(page: Path) -> None:
    """A module renamed or moved must not live on in a page that sends readers to it."""
    missing = [
        f"{line}: {path}" for line, path in repository_paths(page.read_text(encoding="utf-8")) if not (ROOT / path).exists()
    ]
    assert missing == []


def test_repository_paths_are_found_inside_code_spans() -> None:
    text = "See `bot/text_safety.py`, run `python bench/export_bench.py --runs 1`; not bot/x.py or `robot/x.py`.\n"
    assert repository_paths(text) == [(1, "bot/text_safety.py"), (1, "bench/export_bench.py")]
