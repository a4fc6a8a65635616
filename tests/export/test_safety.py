"""People's text can never change the structure of what we generate.

Markdown is checked by parsing it (markdown-it, CommonMark + GFM tables), not by looking
for strings: whatever the text, a table keeps its columns, no HTML, code, link, heading or
emphasis appears that the template did not put there, and the text reads back as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import cmarkgfm
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.container import Container
from bot.domain.incident import Incident, Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.export.chat_pages import group_pages, timeline_pages
from bot.export.escape import WORD_JOINER, md_block, md_inline, md_link, slack_text
from bot.export.service import Exporter
from tests.export.scenario import FLAGGED_TEXT, HOSTILE_NOTE, build_incident

MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")

HOSTILE = st.lists(
    st.sampled_from([*list("ab _*`|<>&#-+=!~[]()\\:/@.1\n\r\t"), "é", "😀", "\u2028", "\x00", "channel", "here", "<!channel>", "<@U1>", "```", "<br>", "&lt;", "    "]),
    max_size=40,
).map("".join)
STRUCTURE = {"html_inline", "html_block", "code_inline", "code_block", "fence", "link_open", "image", "em_open", "strong_open", "s_open", "heading_open", "bullet_list_open", "ordered_list_open", "blockquote_open", "hr"}


def walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from walk(token.children or [])


BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def normalise(text: str) -> str:
    """What a reader should see: same text, breaks unified, control characters dropped (word
    joiners, which keep broadcasts and autolinks inert, are invisible: see ``read``)."""
    text = re.sub(r"\r\n|\r|\u2028|\u2029|\x85", "\n", text)
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)


def read(rendered: str) -> str:
    """Rendered text as a reader sees it, after checking no broadcast survived in it."""
    assert not BROADCAST.search(rendered), rendered
    return rendered.replace(WORD_JOINER, "")


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def cell_text(inline: Token) -> str:
    parts = []
    for child in inline.children or []:
        if child.type == "html_inline" and child.content == "<br>":
            parts.append("\n")
        elif child.type in ("text", "softbreak"):
            parts.append(child.content or "\n")
    return "".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE)
def test_any_text_in_a_table_cell_stays_one_cell_of_plain_text(text: str) -> None:
    tokens = MD.parse(f"| a | b |\n| --- | --- |\n| {md_inline(text)} | end |\n")
    cells = [t for t in tokens if t.type == "inline"]
    assert len(cells) == 4, md_inline(text)
    assert cells[3].content == "end"
    body = cells[2]
    assert not [t.type for t in walk([body]) if t.type in STRUCTURE and not (t.type == "html_inline" and t.content == "<br>")]
    assert squash(read(cell_text(body))) == squash(normalise(text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE)
@example("@\nchannel")  # two lines, not a broadcast: a reader sees the line break
def test_any_text_as_a_paragraph_stays_paragraphs_of_plain_text(text: str) -> None:
    rendered = md_block(text)
    tokens = MD.parse(f"# Title\n\n{rendered}\n\nend\n")
    kinds = {t.type for t in walk(tokens)}
    assert kinds <= {"heading_open", "heading_close", "inline", "text", "paragraph_open", "paragraph_close", "softbreak", "hardbreak"}
    assert sum(t.type == "heading_open" for t in tokens) == 1
    assert tokens[-2].content == "end"
    # A line break is part of what a reader sees: words on either side are not one word.
    words = "".join(
        "\n" if t.type in ("softbreak", "hardbreak") else t.content
        for t in walk(tokens)
        if t.type in ("softbreak", "hardbreak") or (t.type == "text" and t.content not in ("Title", "end"))
    )
    assert re.sub(r"\s", "", read(words)) == re.sub(r"\s", "", normalise(text))


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_slack_text_is_one_inert_line(text: str) -> None:
    line = slack_text(text)
    assert "\n" not in line and "<" not in line and ">" not in line and "`" not in line
    assert not re.search(r"@(channel|here|everyone)\b", line, re.IGNORECASE)


LINKY = st.lists(
    st.sampled_from(["https://", "http://", "ftp://", "HTTPS://", "www.", "WWW.", "mailto:", "xmpp:", "@", ".", "evil", "example.com", "a_b", "_", "1", "é", "\\", "-", " ", "<", ">", "|", "(", ")", "\n", "x"]),
    max_size=20,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(LINKY)
def test_no_text_becomes_a_link_in_github_flavoured_markdown(text: str) -> None:
    """GFM links bare URLs, ``www.`` and e-mail addresses by itself (cmark-gfm, what GitHub
    renders with): an alert's or a person's text must stay text in the post-mortem."""
    for rendered in (f"| a |\n| --- |\n| {md_inline(text)} |\n", md_block(text)):
        html = cmarkgfm.github_flavored_markdown_to_html(rendered)
        assert "<a " not in html, (text, rendered, html)


def test_links_only_for_http_urls_and_never_breaking_out() -> None:
    assert md_link("docs", "javascript:alert(1)") == "docs"
    assert md_link("x|y", "https://e.example/a b|c)d") == "[x\\|y](https://e.example/a%20b%7Cc%29d)"
    tokens = MD.parse("| a |\n| --- |\n| " + md_link("g", "https://p.example/q?x=rate(y[5m])|z") + " |\n")
    link = [t for t in walk(tokens) if t.type == "link_open"]
    assert len(link) == 1 and link[0].attrs["href"].startswith("https://p.example/q?x=rate")


def table_rows(markdown: str) -> Iterator[tuple[int, str]]:
    """(cells, line) for table rows; (-1, line) for any other line."""
    for line in markdown.splitlines():
        if not line.startswith("|"):
            yield -1, line
        else:
            cells, escaped = 0, False
            for char in line:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == "|":
                    cells += 1
            yield cells - 1, line


def test_the_scripted_post_mortem_keeps_its_structure(berlin: Container) -> None:
    incident = build_incident(berlin)
    markdown = Exporter(berlin.sessions, clock=berlin.clock, zone=berlin.settings.zone).render(incident.number, "md")
    for raw in ("<!channel>", "<!here>", "<@U0BOB>", "<@U0CAROL>", "<script", "<b>", "```", "@here", "<https://evil"):
        assert raw not in markdown, raw
    # Every table row has as many cells as its header (a pipe in a note cannot add one).
    width = -1
    tables = 0
    for cells, line in table_rows(markdown):
        if cells >= 0 and width < 0:
            width, tables = cells, tables + 1
        assert cells == width or cells < 0, line
        width = cells if cells >= 0 else -1
    assert tables == 11  # the moments (impact start, detection, declared) have a table of their own
    tokens = MD.parse(markdown)
    headings = [cell_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == [
        "Post-mortem: INC-1 — Checkout | payments <failing>",
        "Summary",
        "Impact",
        "Response metrics",
        "Severity history",
        "Responders and roles",
        "Escalation",
        "Playbook",
        "Checkout errors",
        "Alerts involved",
        "Flagged messages",
        "Follow-up actions",
        "Timeline",
    ]
    html = [t.content for t in walk(tokens) if t.type in ("html_inline", "html_block")]
    assert set(html) == {"<br>"}
    assert not [t for t in walk(tokens) if t.type in ("code_inline", "fence", "code_block", "blockquote_open", "hr")]
    hrefs = [t.attrs["href"] for t in walk(tokens) if t.type == "link_open"]
    assert hrefs and all(str(href).startswith("https://") for href in hrefs)
    # The note reads back exactly as written, line breaks included.
    cells = [read(cell_text(t)) for t in walk(tokens) if t.type == "inline"]
    assert normalise(HOSTILE_NOTE) in cells
    assert any(cell.endswith("flagged by alice: " + normalise(FLAGGED_TEXT)) for cell in cells)


def _incident() -> Incident:
    return Incident(
        number=7, title="<!channel> ``` | x", severity=Severity.P1, status=Status.TRIGGERED,
        created_at=datetime(2026, 1, 1, tzinfo=UTC), source=Source.CONSOLE,
    )


def test_slack_pages_respect_limits_and_keep_every_entry() -> None:
    start = datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
    entries = [
        TimelineEntry(
            kind=EntryKind.NOTE,
            at=start + timedelta(minutes=i),
            actor=f"user{i % 7}",
            source=Source.SLACK,
            text=("x" * 5000 if i == 3 else f"note {i} <!here> ``` | *bold*\nsecond line"),
        )
        for i in range(2500)
    ]
    pages = timeline_pages(_incident(), entries)
    assert all(len(page) <= 3000 for page in pages)
    lines = [line for page in pages for line in page.splitlines() if line.startswith("`")]
    assert len(lines) == len(entries)  # one line per entry, none lost
    assert "cut: the export has the full text" in lines[3]
    for page in pages:
        assert "<" not in page and "```" not in page and "@here" not in page
    # Each page repeats the day, and the day changes at midnight (in the zone shown).
    assert all(page.splitlines()[0 if index else 1].startswith("*") for index, page in enumerate(pages))
    assert sum("Friday 2026-01-02" in page for page in pages) >= 1
    messages = group_pages(pages)
    assert len(messages) > 1
    for message in messages:
        assert len(message) <= 50
        assert len("\n".join(message)) <= 40000
    assert [page for message in messages for page in message] == pages
    assert pages[0].endswith(f"(page 1/{len(pages)})_")


def test_a_short_timeline_is_one_page_without_a_page_mark() -> None:
    entry = TimelineEntry(kind=EntryKind.NOTE, at=datetime(2026, 1, 1, tzinfo=UTC), actor="a", source=Source.SLACK, text="hi")
    pages = timeline_pages(_incident(), [entry], markup="plain")
    assert len(pages) == 1 and "page" not in pages[0]
    assert pages[0].splitlines()[0] == "Timeline of INC-7 — <!channel> ``` | x · 1 entries · times in UTC"


def test_markdown_templates_escape_by_default_and_html_templates_autoescape(tmp_path) -> None:
    from bot.export.render import make_environment

    (tmp_path / "x.md.j2").write_text("{{ v }} {{ none }} {{ v | md }}", encoding="utf-8")
    (tmp_path / "x.html.j2").write_text("{{ v }}", encoding="utf-8")
    env = make_environment(tmp_path)
    assert env.get_template("x.md.j2").render(v="*a*|<b>", none=None) == "\\*a\\*\\|&lt;b&gt; — \\*a\\*\\|&lt;b&gt;"
    assert env.get_template("x.html.j2").render(v="*a*|<b>") == "*a*|&lt;b&gt;"


def test_an_alert_time_at_the_edge_of_the_calendar_still_exports(berlin: Container) -> None:
    """9999-12-31T23:59:59Z is past the year 9999 in Berlin. Such times are refused at the door
    now, but one stored before must not make the post-mortem (and the resolve that drafts it)
    fail: it is shown as it was sent."""
    from bot.store.models import AlertRow

    incident = build_incident(berlin)
    edge = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    with berlin.sessions.begin() as session:
        session.add(
            AlertRow(incident_id=incident.number, fingerprint="edge", status="firing", labels={"alertname": "Edge"}, annotations={},
                     starts_at=edge, ends_at=None, generator_url="", first_seen_at=edge, updated_at=edge)
        )  # fmt: skip
    markdown = Exporter(berlin.sessions, clock=berlin.clock, zone=berlin.settings.zone).render(incident.number, "md")
    assert "9999-12-31 23:59:59" in markdown
