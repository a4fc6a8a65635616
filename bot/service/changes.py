"""What subscribers see when an incident changes, inside the same transaction.

Subscribers (chat notifications, PagerDuty sync, escalation timers, playbooks) react to the
timeline entries a change produced. Running them in the transaction means their outbox
messages and timer rows commit together with the change, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.domain.incident import Incident
from bot.domain.timeline import TimelineEntry


@dataclass(frozen=True)
class RecordedEntry:
    id: int
    entry: TimelineEntry


@dataclass
class Change:
    session: Session
    incident: Incident
    entries: list[RecordedEntry]
    now: datetime
    is_new: bool = False


Subscriber = Callable[[Change], None]
