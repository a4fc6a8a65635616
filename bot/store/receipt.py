"""The receipt being applied: when Firebreak received the webhook whose entries are recorded now.

The ingester applies a webhook some time after it arrived (a queue sits between the HTTP
answer and the incident), and every entry that webhook causes (the declaration, status
changes, alert transitions) must carry the arrival time, not the apply time. Appliers run
inside ``receiving(...)``; the repository stamps each entry it records from it. Outside a
receipt (console, chat, scheduler) an entry is received when it is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.domain.source_time import SourceTime, claimed_time, judge
from bot.domain.timeline import TimelineEntry


@dataclass(frozen=True)
class Receipt:
    """When the webhook arrived, and the time its sender says the event happened (if any)."""

    received_at: datetime
    claimed: Any = None


_current: ContextVar[Receipt | None] = ContextVar("firebreak_receipt", default=None)


@contextmanager
def receiving(received_at: datetime, *, claimed: Any = None) -> Iterator[Receipt]:
    """Entries recorded inside were received at ``received_at``; ``claimed`` is the sender's
    time for entries that carry none of their own (e.g. a status change from PagerDuty)."""
    receipt = Receipt(received_at, claimed)
    token = _current.set(receipt)
    try:
        yield receipt
    finally:
        _current.reset(token)


def current() -> Receipt | None:
    return _current.get()


def stamp(entry: TimelineEntry, receipt: Receipt | None = None) -> TimelineEntry:
    """The entry with its received and source times filled in (kept if already set)."""
    if entry.received_at is not None and entry.source_time is not None:
        return entry
    receipt = receipt if receipt is not None else _current.get()
    received = entry.received_at or (min(receipt.received_at, entry.at) if receipt is not None else entry.at)
    claimed = claimed_time(entry.kind.value, entry.data)
    if claimed is None and receipt is not None:
        claimed = receipt.claimed
    source_at, source_time = judge(claimed, received)
    if source_time is SourceTime.RECEIVED and entry.source_time is not None:
        source_time = entry.source_time
    return replace(entry, received_at=received, source_at=source_at, source_time=source_time)
