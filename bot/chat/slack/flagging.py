"""A message flagged in an incident channel (by reaction) becomes a timeline entry, once.

Two people adding the pin, or Slack retrying the event, must not put the same message on
the timeline twice, so the entry is skipped when one for that channel and ts exists.
"""

from __future__ import annotations

from bot.chat.slack import chat_refs
from bot.domain.incident import Incident
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.service.incidents import IncidentService
from bot.store.incidents import IncidentRepository


def incident_in_channel(service: IncidentService, channel_id: str) -> int | None:
    with service.sessions() as session:
        return chat_refs.incident_for_channel(session, channel_id)


def flag_message(
    service: IncidentService,
    number: int,
    *,
    actor: str,
    channel: str,
    ts: str,
    author: str,
    text: str,
    permalink: str | None,
) -> bool:
    """Record the flagged message; False when it was already on the timeline."""
    with service.sessions.begin() as session:
        # Lock the incident first so two people pinning at once cannot both see "not yet".
        IncidentRepository.get_row(session, number, for_update=True)
        for entry in IncidentRepository.timeline(session, number, kinds={EntryKind.MESSAGE_FLAGGED}):
            if entry.kind is EntryKind.MESSAGE_FLAGGED and entry.data.get("ts") == ts and entry.data.get("channel") == channel:
                return False

        def mutation(incident: Incident) -> list[TimelineEntry]:
            shown = text if len(text) <= 3000 else text[:2999] + "…"
            return [
                TimelineEntry(
                    kind=EntryKind.MESSAGE_FLAGGED,
                    at=service.clock.now(),
                    actor=actor,
                    source=Source.SLACK,
                    text=f"flagged a message from {author}: {shown}",
                    data={"channel": channel, "ts": ts, "author": author, "text": text, "permalink": permalink},
                )
            ]

        service.apply(number, mutation, session=session)
    service.notify_committed()
    return True
