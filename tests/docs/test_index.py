"""The front door stays a front door, and no page is an orphan.

The README is what a newcomer reads first: it must stay short enough to read in one go and
lead to every page. docs/index.md lists them all, so a page added later is found only if it
is listed there.
"""

from __future__ import annotations

from pathlib import Path

from tests.docs.markdown import DOCS, ROOT, links

README_LIMIT_BYTES = 15 * 1024


def _linked_pages(page: Path) -> set[Path]:
    """The markdown files a page links to, resolved (anchors dropped)."""
    found = set()
    for _, target in links(page.read_text(encoding="utf-8")):
        path = target.partition("#")[0]
        if path.endswith(".md") and "://" not in path:
            found.add((page.parent / path).resolve())
    return found


def test_readme_is_short() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT_BYTES, f"README.md is {size} bytes; move detail to a page under docs/"


def test_index_lists_every_page() -> None:
    pages = {page.resolve() for page in DOCS.glob("*.md")} - {(DOCS / "index.md").resolve()}
    missing = sorted(page.name for page in pages - _linked_pages(DOCS / "index.md"))
    assert missing == [], "pages missing from docs/index.md"


def test_readme_leads_to_the_index_and_every_page() -> None:
    linked = _linked_pages(ROOT / "README.md")
    assert (DOCS / "index.md").resolve() in linked
    pages = {page.resolve() for page in DOCS.glob("*.md")}
    assert sorted(page.name for page in pages - linked) == [], "pages the README does not link to"
