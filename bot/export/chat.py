"""``/incident timeline``, ``/incident export`` and the post-mortem draft posted on resolve.

What goes to the incident's conversation is queued in the outbox (target ``chat``), so
Slack and the console show it the same way and nothing is lost when Slack is down:

- ``post`` with ``kind="timeline"``: one message of timeline pages. ``text`` is Slack
  ``mrkdwn``, already escaped (post it as is, do not escape again); ``blocks`` holds one
  ``section`` block per page, within Slack's limits.
- ``upload_file``: ``{number, filename, title, content, filetype, initial_comment}``, the
  markdown post-mortem as a file.

In the console (and any non-Slack caller) ``/incident timeline`` answers directly with
plain-text pages instead.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from jinja2 import TemplateError
from sqlalchemy.orm import Session

from bot.chat.commands import CommandContext, CommandRouter, Handler, Reply
from bot.chat.grammar import ParsedCommand
from bot.delivery.outbox import enqueue
from bot.domain.incident import Incident
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.export.chat_pages import Order, group_pages, timeline_pages
from bot.export.document import build_document
from bot.export.loader import load_record
from bot.export.service import Exporter
from bot.export.timings import highest_severity
from bot.service.changes import Change
from bot.service.chat_notifications import CHAT, POST, ordering_key
from bot.store.incidents import IncidentRepository
from bot.text_safety import clip, one_line

log = logging.getLogger(__name__)

UPLOAD_FILE = "upload_file"
TIMELINE_KIND = "timeline"
#: Incidents that had a channel get their draft posted on resolve (P3 and INFO are announce-only).
DRAFT_SEVERITIES = frozenset(s.value for s in (Severity.P0, Severity.P1, Severity.P2))


def upload_payload(number: int, ref: str, title: str, content: str, *, reason: str) -> dict[str, Any]:
    return {
        "number": number,
        "filename": Exporter.filename(ref, "md"),
        # A file title is plain text shown as is: no control or bidi characters from alert text.
        "title": clip(f"Post-mortem draft: {ref} — {one_line(title)}", 250),
        "content": content,
        "filetype": "markdown",
        "initial_comment": f"📄 Post-mortem draft for {ref} ({reason}). Paste it into your post-mortem doc and fill in the story.",
    }


#: Most messages one ``/incident timeline`` posts in Slack (each holds up to 11,000 characters).
#: An incident's posts go out in order, about one a second: a storm incident's 50,000 entries
#: made some 400 messages, which held the incident's own escalations and notes back for minutes,
#: and anyone in the workspace may ask again. A longer timeline posts its latest pages after a
#: note that says so; ``/incident export`` uploads all of it as a file.
MAX_TIMELINE_MESSAGES = 20


def latest_pages(pages: list[str], ref: str) -> list[list[str]]:
    """``pages`` packed into messages; past ``MAX_TIMELINE_MESSAGES``, a note and the latest
    pages that fit."""
    messages = group_pages(pages)
    if len(messages) <= MAX_TIMELINE_MESSAGES:
        return messages
    kept: list[list[str]] = []
    for count in range(1, len(pages) + 1):
        note = (
            f"_{ref}: the timeline has {len(pages)} pages, too many for the channel; the latest {count} follow."
            f" `/incident export {ref}` uploads the whole timeline in the post-mortem draft._"
        )
        candidate = group_pages([note, *pages[-count:]])
        if len(candidate) > MAX_TIMELINE_MESSAGES:
            break
        kept = candidate
    return kept


def timeline_handler(commands: CommandRouter, exporter: Exporter) -> Handler:
    service = commands.service

    def handle(command: ParsedCommand, context: CommandContext) -> Reply:
        number = commands.incident_for(command, context)
        with service.sessions() as session:
            incident = IncidentRepository.get(session, number)
            entries = IncidentRepository.timeline(session, number)
        order: Order = "source" if "source" in command.args else "received"
        if context.source is not Source.SLACK:
            pages = timeline_pages(incident, entries, zone=exporter.zone, markup="plain", order=order)
            return Reply("\n\n".join(pages), incident=number)
        pages = timeline_pages(incident, entries, zone=exporter.zone, markup="mrkdwn", order=order)
        messages = latest_pages(pages, incident.ref)
        request = uuid.uuid4().hex[:12]
        with service.sessions.begin() as session:
            for index, group in enumerate(messages, start=1):
                enqueue(
                    session,
                    target=CHAT,
                    operation=POST,
                    payload={
                        "number": number,
                        "kind": TIMELINE_KIND,
                        "actor": "firebreak",
                        "mrkdwn": True,
                        "text": "\n".join(group),
                        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": page}} for page in group],
                        "message": index,
                        "messages": len(messages),
                        "requested_by": context.actor,
                    },
                    idempotency_key=f"chat:timeline:{number}:{request}:{index}",
                    now=service.clock.now(),
                    incident_id=number,
                    ordering_key=ordering_key(number),
                    severity=incident.severity,
                )
        service.notify_committed()
        noun = "message" if len(messages) == 1 else "messages"
        return Reply(f"🧾 posting the timeline of {incident.ref} ({len(entries)} entries, {len(messages)} {noun})", incident=number)

    return handle


def export_handler(commands: CommandRouter, exporter: Exporter) -> Handler:
    service = commands.service

    def handle(command: ParsedCommand, context: CommandContext) -> Reply:
        number = commands.incident_for(command, context)
        with service.sessions.begin() as session:
            incident = IncidentRepository.get(session, number)
            try:
                content = exporter.render(number, "md", session=session)
            except TemplateError as error:
                log.exception("post-mortem template failed")
                return Reply(f"⚠️ the post-mortem template failed: {error}", incident=number)
            payload = upload_payload(number, incident.ref, incident.title, content, reason=f"requested by {context.actor}")
            enqueue(
                session,
                target=CHAT,
                operation=UPLOAD_FILE,
                payload=payload,
                idempotency_key=f"chat:export:{number}:{uuid.uuid4().hex[:12]}",
                now=service.clock.now(),
                incident_id=number,
                ordering_key=ordering_key(number),
                severity=incident.severity,
            )
        service.notify_committed()
        return Reply(f"📄 uploading the post-mortem draft of {incident.ref} ({payload['filename']})", incident=number)

    return handle


class PostDraftOnResolve:
    """Subscriber: when an incident is resolved, queue its post-mortem draft as a file.

    An incident merged into another gets none: the work goes on in the other one.
    It runs inside the resolving transaction, so the draft is a snapshot of the timeline at
    that moment and is queued exactly once per resolve entry. A broken override template
    is logged and never blocks the resolve itself (``/incident export`` retries it).
    """

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter

    def __call__(self, change: Change) -> None:
        if any(r.entry.kind is EntryKind.MERGED and r.entry.data.get("into") is not None for r in change.entries):
            return  # merged away: no draft of its own, and its channel is being archived
        for recorded in change.entries:
            entry = recorded.entry
            if entry.kind is EntryKind.STATUS_CHANGED and entry.data.get("to") == "resolved":
                self._queue(change.session, change.incident, recorded.id, change)

    def _queue(self, session: Session, incident: Incident, entry_id: int, change: Change) -> None:
        record = load_record(session, incident.number)
        document = self.exporter.linked(build_document(record, now=change.now, timezone=str(self.exporter.zone)))
        severities = [p["severity"] for p in document["severity_history"]] or [incident.severity.value]
        if highest_severity(severities) not in DRAFT_SEVERITIES:
            return
        try:
            content = self.exporter.renderer.markdown(document)
        except TemplateError:
            log.exception("post-mortem template failed; the draft for %s was not posted", incident.ref)
            return
        enqueue(
            session,
            target=CHAT,
            operation=UPLOAD_FILE,
            payload=upload_payload(incident.number, incident.ref, incident.title, content, reason="resolved"),
            idempotency_key=f"chat:postmortem:{incident.number}:{entry_id}",
            now=change.now,
            incident_id=incident.number,
            ordering_key=ordering_key(incident.number),
            severity=incident.severity,
        )
