"""The export's read model: everything a post-mortem is written from, as plain data.

The loader fills it from the database; the document builder and the chat pages read it
without touching storage, which keeps them pure and testable with hand-made records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.children import Child
from bot.domain.incident import Incident
from bot.domain.timeline import TimelineEntry


@dataclass(frozen=True)
class EntryRecord:
    """A stored timeline entry with its id (ids make exports referenceable and stable)."""

    id: int
    entry: TimelineEntry


@dataclass(frozen=True)
class AlertRecord:
    fingerprint: str
    status: str
    labels: dict[str, Any]
    annotations: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str | None
    first_seen_at: datetime | None


@dataclass(frozen=True)
class ActionRecord:
    id: int
    text: str
    created_by: str
    created_at: datetime
    owner: str | None
    done: bool


@dataclass(frozen=True)
class StepRecord:
    """A step of an attached playbook as stored, so steps nobody acted on are exported too."""

    playbook_id: str
    step: int
    phase: str
    text: str


@dataclass(frozen=True)
class IncidentRecord:
    incident: Incident
    entries: list[EntryRecord]
    alerts: list[AlertRecord] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    channel_name: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    """The incident's alert groups with their alert counts (none for a declared incident)."""
    drill: bool = False
    """A rehearsal's incident (``firebreak drill``): the document says so."""

    @property
    def timeline(self) -> list[TimelineEntry]:
        return [record.entry for record in self.entries]
