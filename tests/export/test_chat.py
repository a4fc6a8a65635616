"""/incident timeline and export in chat, and the draft posted on resolve, through the outbox."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.chat.commands import CommandContext
from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.export.service import Exporter
from bot.store.incidents import IncidentRepository
from bot.store.models import OutboxRow, TimelineRow
from tests.conftest import make_settings

SLACK = CommandContext(actor="alice", source=Source.SLACK)
CONSOLE = CommandContext(actor="alice", source=Source.CONSOLE)


def outbox(container: Container, operation: str) -> list[OutboxRow]:
    with container.sessions() as session:
        return list(session.scalars(select(OutboxRow).where(OutboxRow.operation == operation).order_by(OutboxRow.id)))


def drain(container: Container) -> None:
    asyncio.run(container.worker.drain(timeout=10))


def declare_with_notes(container: Container, notes: int, *, severity: Severity = Severity.P1) -> int:
    incident = container.service.declare(title="Checkout <down>", severity=severity, actor="bob", source=Source.SLACK)
    now = container.clock.now()
    text = "rolled back <@U0BOB> ``` | " + "x" * 180
    # Appended straight to the repository: a long history without one chat post per note.
    with container.sessions.begin() as session:
        IncidentRepository.append(
            session,
            incident.number,
            [TimelineEntry(kind=EntryKind.NOTE, at=now, actor="bob", source=Source.SLACK, text=f"{n} {text}") for n in range(notes)],
        )
    return incident.number


def test_timeline_in_the_console_is_a_plain_reply(container: Container) -> None:
    number = declare_with_notes(container, 3)
    reply = container.commands.handle(f"/incident timeline INC-{number}", CONSOLE)
    assert reply.text.startswith(f"Timeline of INC-{number} — Checkout <down> · 4 entries · times in UTC")
    assert "rolled back <@U0BOB> ``` |" in reply.text  # a terminal shows text as written
    assert [r for r in outbox(container, "post") if r.payload.get("kind") == "timeline"] == []


def test_timeline_in_slack_is_queued_as_messages_within_limits(container: Container, transcript: io.StringIO) -> None:
    number = declare_with_notes(container, 400)
    reply = container.commands.handle(f"/incident timeline INC-{number}", SLACK)
    rows = [r for r in outbox(container, "post") if r.payload.get("kind") == "timeline"]
    assert len(rows) >= 3
    assert reply.text == f"🧾 posting the timeline of INC-{number} (401 entries, {len(rows)} messages)"
    seen = 0
    for index, row in enumerate(rows, start=1):
        payload = row.payload
        assert payload["message"] == index and payload["messages"] == len(rows)
        assert len(payload["text"]) <= 40000 and 1 <= len(payload["blocks"]) <= 50
        assert all(len(block["text"]["text"]) <= 3000 and block["type"] == "section" for block in payload["blocks"])
        assert payload["text"] == "\n".join(block["text"]["text"] for block in payload["blocks"])
        assert "<" not in payload["text"] and "```" not in payload["text"]
        assert row.ordering_key == f"incident:{number}"
        seen += sum(line.startswith("`") for line in payload["text"].splitlines())
    assert seen == 401
    drain(container)
    # The console backend shows what Slack would: the pages, readable.
    assert f"Timeline of INC-{number} — Checkout <down>" in transcript.getvalue()
    assert "399 rolled back <@U0BOB> ˋˋˋ |" in transcript.getvalue()


def test_export_verb_uploads_the_markdown_as_a_file(container: Container, transcript: io.StringIO) -> None:
    number = declare_with_notes(container, 2)
    reply = container.commands.handle("/incident export", CommandContext(actor="carol", source=Source.CONSOLE, last_incident=number))
    assert reply.text == f"📄 uploading the post-mortem draft of INC-{number} (INC-{number}-postmortem.md)"
    [row] = outbox(container, "upload_file")
    expected = Exporter(container.sessions, clock=container.clock).render(number, "md")
    assert row.payload == {
        "number": number,
        "filename": f"INC-{number}-postmortem.md",
        "title": f"Post-mortem draft: INC-{number} — Checkout <down>",
        "content": expected,
        "filetype": "markdown",
        "initial_comment": f"📄 Post-mortem draft for INC-{number} (requested by carol). Paste it into your post-mortem doc and fill in the story.",
    }
    drain(container)
    out = transcript.getvalue()
    assert f"📎 Post-mortem draft: INC-{number} — Checkout <down> — INC-{number}-postmortem.md" in out
    assert f"│ # Post-mortem: INC-{number} — Checkout &lt;down&gt;" in out
    assert "more lines" in out


def test_export_verb_without_an_incident_answers_with_usage(container: Container) -> None:
    reply = container.commands.handle("/incident export", CONSOLE)
    assert "which incident?" in reply.text and "/incident export" in reply.text
    assert container.commands.handle("/incident export INC-77", CONSOLE).text == "⚠️ there is no incident INC-77"
    assert outbox(container, "upload_file") == []


def test_resolve_posts_the_draft_once_per_resolve(container: Container, clock: FrozenClock) -> None:
    number = declare_with_notes(container, 1, severity=Severity.P1)
    clock.advance(minutes=3)
    container.service.resolve(number, actor="bob", source=Source.SLACK)
    [first] = outbox(container, "upload_file")
    with container.sessions() as session:
        resolve_id = session.scalars(
            select(TimelineRow.id).where(TimelineRow.kind == "status_changed").order_by(TimelineRow.id.desc())
        ).first()
    assert first.idempotency_key == f"chat:postmortem:{number}:{resolve_id}"
    assert "| Status | resolved |" in first.payload["content"]
    assert "| MTTR (time to resolve) | 3m 00s |" in first.payload["content"]
    assert first.payload["initial_comment"].startswith(f"📄 Post-mortem draft for INC-{number} (resolved)")
    # Queued after the "resolved" post, in the same conversation order.
    posts = [r for r in outbox(container, "post") if r.payload.get("kind") == "status_changed"]
    assert posts[-1].id < first.id and first.ordering_key == posts[-1].ordering_key
    container.service.reopen(number, actor="bob", source=Source.SLACK)
    container.service.resolve(number, actor="bob", source=Source.SLACK)
    assert len(outbox(container, "upload_file")) == 2


def test_announce_only_incidents_get_no_draft(container: Container) -> None:
    incident = container.service.declare(title="disk 80%", severity=Severity.P3, actor="am", source=Source.ALERTMANAGER)
    container.service.resolve(incident.number, actor="am", source=Source.ALERTMANAGER)
    assert outbox(container, "upload_file") == []


def make_overridden(db_url: str, engine: Engine, clock: FrozenClock, folder: Path) -> Container:
    settings = make_settings(db_url, FIREBREAK_TEMPLATES_DIR=str(folder))
    return build_container(settings, clock=clock, transcript_stream=None, engine=engine)


def test_templates_folder_overrides_one_section(db_url: str, engine: Engine, clock: FrozenClock, tmp_path: Path) -> None:
    (tmp_path / "sections").mkdir()
    (tmp_path / "sections" / "summary.md.j2").write_text("## In short\n\n{{ incident.ref }}: {{ incident.title }}\n", encoding="utf-8")
    built = make_overridden(db_url, engine, clock, tmp_path)
    incident = built.service.declare(title="a | b", severity=Severity.P1, actor="x", source=Source.CONSOLE)
    markdown = Exporter(built.sessions, clock=clock, templates_dir=tmp_path).render(incident.number, "md")
    assert "## In short\n\nINC-1: a \\| b\n" in markdown  # overridden, and still escaped
    assert "## Summary" not in markdown and "## Timeline" in markdown


def test_a_broken_override_never_blocks_resolving(
    db_url: str, engine: Engine, clock: FrozenClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "postmortem.md.j2").write_text("{{ doc.no_such_section }}\n", encoding="utf-8")
    built = make_overridden(db_url, engine, clock, tmp_path)
    incident = built.service.declare(title="x", severity=Severity.P1, actor="x", source=Source.CONSOLE)
    with caplog.at_level(logging.ERROR):
        assert built.service.resolve(incident.number, actor="x", source=Source.CONSOLE).status.value == "resolved"
    assert "post-mortem template failed" in caplog.text
    assert outbox(built, "upload_file") == []
    reply = built.commands.handle(f"/incident export INC-{incident.number}", CONSOLE)
    assert reply.text.startswith("⚠️ the post-mortem template failed:") and "no_such_section" in reply.text


def test_timeline_reads_in_received_or_source_order(container: Container, clock: FrozenClock) -> None:
    """A flagged message written before the declaration comes first in source order only;
    each line shows the time it is not ordered by."""
    incident = container.service.declare(title="Checkout down", severity=Severity.P2, actor="bob", source=Source.SLACK)
    clock.advance(minutes=5)
    written = clock.now() - timedelta(minutes=20)
    with container.sessions.begin() as session:
        IncidentRepository.append(
            session,
            incident.number,
            [TimelineEntry(kind=EntryKind.MESSAGE_FLAGGED, at=clock.now(), actor="alice", source=Source.SLACK, text="flagged a message by dave", data={"ts": f"{written.timestamp():.6f}"})],
        )
    received = container.commands.handle(f"/incident timeline INC-{incident.number}", CONSOLE).text
    by_source = container.commands.handle(f"/incident timeline INC-{incident.number} source", CONSOLE).text
    flagged_line = next(line for line in received.splitlines() if "flagged" in line)
    assert flagged_line.startswith(f"{clock.now():%H:%M:%S}") and f"(at source {written:%Y-%m-%d %H:%M:%S})" in flagged_line
    lines = [line for line in by_source.splitlines() if "·" in line and "Timeline of" not in line]
    assert lines[0].startswith(f"{written:%H:%M:%S}") and f"(received {clock.now():%Y-%m-%d %H:%M:%S})" in lines[0]
    assert "declared" in lines[1]
    assert "in source-time order" in by_source.splitlines()[0]
    in_received = [line for line in received.splitlines() if "·" in line and "Timeline of" not in line]
    assert ["declared" in in_received[0], "flagged" in in_received[1]] == [True, True]


def test_the_draft_posted_on_resolve_links_to_the_incident_page(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    settings = make_settings(db_url, FIREBREAK_PUBLIC_URL="https://firebreak.example.com")
    built = build_container(settings, clock=clock, transcript_stream=None, engine=engine)
    incident = built.service.declare(title="x", severity=Severity.P1, actor="x", source=Source.CONSOLE)
    built.service.resolve(incident.number, actor="x", source=Source.CONSOLE)
    [draft] = outbox(built, "upload_file")
    assert f"| Web page | [incident page](https://firebreak.example.com/incidents/{incident.number}) |" in draft.payload["content"]


def test_a_timeline_too_long_for_the_channel_posts_its_latest_pages_after_a_note(container: Container) -> None:
    """A storm incident's timeline ran to hundreds of messages per ``/incident timeline``,
    queued in the incident's own order ahead of its escalations and notes. At most
    ``MAX_TIMELINE_MESSAGES`` (20) are posted: a note, then the latest pages."""
    MAX_TIMELINE_MESSAGES = 20

    number = declare_with_notes(container, 3000)
    reply = container.commands.handle(f"/incident timeline INC-{number}", SLACK)
    rows = [r for r in outbox(container, "post") if r.payload.get("kind") == "timeline"]
    assert len(rows) == MAX_TIMELINE_MESSAGES
    assert reply.text == f"🧾 posting the timeline of INC-{number} (3001 entries, {MAX_TIMELINE_MESSAGES} messages)"
    first = rows[0].payload["blocks"][0]["text"]["text"]
    assert first.startswith(f"_INC-{number}: the timeline has ") and f"`/incident export INC-{number}`" in first
    pages = [block["text"]["text"] for row in rows for block in row.payload["blocks"]][1:]
    total = int(first.split("the timeline has ")[1].split(" ")[0])
    assert pages[-1].endswith(f"_(page {total}/{total})_") and "2999 rolled back" in pages[-1]
    assert f"the latest {len(pages)} follow" in first
    for row in rows:
        assert len(row.payload["blocks"]) <= 50 and len(row.payload["text"]) <= 11000
