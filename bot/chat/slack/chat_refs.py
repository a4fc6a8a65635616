"""Where Slack things live on the incident row: channel id and name, summary message ref.

``chat_summary_ref`` is ``"<channel id>:<ts>"``: for incidents with a channel it is the
pinned summary there; for P3 (no channel) it is the announcement in the incidents channel,
which then plays the summary's part and collects the posts in its thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.children import Child
from bot.domain.incident import Incident
from bot.store import alert_groups
from bot.store.db import SessionFactory
from bot.store.incidents import IncidentRepository, to_domain
from bot.store.models import IncidentRow


@dataclass(frozen=True)
class ChatRefs:
    channel_id: str | None = None
    channel_name: str | None = None
    summary_ref: str | None = None
    escalation_policy_id: str | None = None
    """The PagerDuty escalation policy whose on-call people are invited."""

    @property
    def summary(self) -> tuple[str, str] | None:
        """(channel id, ts) of the summary message, if posted."""
        if not self.summary_ref or ":" not in self.summary_ref:
            return None
        channel, _, ts = self.summary_ref.partition(":")
        return channel, ts


async def fetch(sessions: SessionFactory, number: int) -> tuple[Incident, ChatRefs]:
    """``load`` off the event loop: deliveries share the loop with the webhook endpoints."""
    return await asyncio.to_thread(load, sessions, number)


def load(sessions: SessionFactory, number: int) -> tuple[Incident, ChatRefs]:
    with sessions() as session:
        row = IncidentRepository.get_row(session, number)
        refs = ChatRefs(row.chat_channel_id, row.chat_channel_name, row.chat_summary_ref, row.pagerduty_escalation_policy_id)
        return to_domain(row), refs


async def children(sessions: SessionFactory, number: int) -> list[Child]:
    """The incident's children (alert groups) with their alert counts, for the summary."""

    def read() -> list[Child]:
        with sessions() as session:
            return alert_groups.children(session, number)

    return await asyncio.to_thread(read)


def incident_for_channel(session: Session, channel_id: str) -> int | None:
    """The incident whose channel this is; the newest one if a channel was ever reused."""
    statement = select(IncidentRow.id).where(IncidentRow.chat_channel_id == channel_id).order_by(IncidentRow.id.desc()).limit(1)
    return session.scalar(statement)


def save_refs(
    session: Session,
    number: int,
    *,
    channel_id: str | None = None,
    channel_name: str | None = None,
    summary_ref: str | None = None,
) -> None:
    row = IncidentRepository.get_row(session, number)
    if channel_id is not None:
        row.chat_channel_id = channel_id
    if channel_name is not None:
        row.chat_channel_name = channel_name
    if summary_ref is not None:
        row.chat_summary_ref = summary_ref
