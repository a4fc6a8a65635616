"""The pages for users speak about the product as it is, not about how it was built.

Development history (which issue changed what, a design document, a working session, how a
benchmark figure was reached) belongs in docs/development.md; anywhere else it confuses a
reader who only wants to run Firebreak. Code blocks are checked too: an example is read as
closely as the prose around it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.markdown import ROOT, user_pages

#: What a history note looks like, each with what a reader would have to ask.
HISTORY = {
    r"\bissue\s*#?\d+": "which issue? (history of the project)",
    # A signed-in session (the web view's cookie) is the product; a working session is not.
    r"\b(?:this|that|earlier|previous|last|next|working|later)\s+sessions?\b(?!\s+cookie)": "a working session? (history of the project)",
    r"\bthe design\b|\bdesign\.md\b": "which design document? (not shipped to users)",
    r"\breviewers?\b": "whose review? (history of the project)",
    r"\bmeasured\b": "a measurement note belongs with the benchmarks in docs/development.md",
    r"\bbench[./]\w": "a benchmark script belongs in docs/development.md",
    r"\b(?:was|were) added\b": "added when? (history of the project)",
    r"\bbefore these rules\b|\bfor comparison\b": "a note of how a figure was reached",
    r"\.\./shared/|\bshared/runbooks\b": "a folder outside the repository",
}
_PATTERNS = [(re.compile(pattern, re.IGNORECASE), why) for pattern, why in HISTORY.items()]


def history_notes(text: str) -> list[str]:
    """``line: words — why`` for each history note in a page."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, why in _PATTERNS:
            match = pattern.search(line)
            if match:
                found.append(f"{number}: {match.group(0)!r}: {why}")
    return found


@pytest.mark.parametrize("page", user_pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_user_pages_hold_no_development_history(page: Path) -> None:
    assert history_notes(page.read_text(encoding="utf-8")) == []


def test_the_check_finds_each_kind_of_note() -> None:
    text = (
        "Fixed in issue 8.\nAs agreed in an earlier session.\nSee the design.\nA reviewer found it.\n"
        "Measured on a busy host.\nRun python -m bench.split_bench.\nThese fields were added later.\n"
        "Both, before these rules.\nThe runbooks in ../shared/runbooks/.\n"
    )
    assert [note.split(":")[0] for note in history_notes(text)] == [str(n) for n in range(1, 10)]
    assert history_notes("Acknowledge the incident; escalate after 5m.\n") == []
    assert history_notes("The session cookie is signed; sign out ends your session.\n") == []


def test_development_notes_are_the_one_exception() -> None:
    assert ROOT / "docs" / "development.md" not in user_pages()
    assert ROOT / "README.md" in user_pages()
