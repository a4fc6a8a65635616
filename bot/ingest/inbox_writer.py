"""Queueing accepted webhooks with group commit: one thread, one transaction per batch.

Each webhook is still answered only after its own row is committed. What changes is who
commits: instead of every request taking the database's write lock in turn (dozens of
threads queueing on SQLite's single writer, each paying a commit), the requests that
arrive while one commit is in progress share the next one. Under a burst that turns
hundreds of commits a second into a few dozen, and the answer time stays flat.

The inbox has a cap (``FIREBREAK_INBOX_MAX_ROWS``): past it a webhook is refused with
:class:`InboxFull` (the endpoint answers 503 with Retry-After, so the sender keeps it and
tries again) instead of growing the table without bound while the ingester cannot keep up.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import DataError, IntegrityError

from bot.store.db import SessionFactory, mark_thread_urgent
from bot.store.models import InboxRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Webhook:
    """A validated webhook body and where it belongs."""

    source: str
    group_key: str
    body: str
    received_at: datetime
    webhook_id: str | None = None
    #: Severity rank of its worst firing alert (0 = P0 … 4 = INFO; 3 when unknown).
    priority: int = 3


_Pending = tuple[Webhook, "Future[int]"]

#: Seconds a sender refused for a full inbox is asked to wait before trying again.
FULL_RETRY_AFTER_SECONDS = 30


class InboxFull(Exception):
    """The inbox holds ``max_rows`` rows: nothing more is accepted until the ingester catches up."""

    def __init__(self, max_rows: int) -> None:
        super().__init__(f"the inbox holds its maximum of {max_rows} webhooks")
        self.max_rows = max_rows
        self.retry_after = FULL_RETRY_AFTER_SECONDS


class RowBudget:
    """How many more rows the inbox may take, without counting the table for every batch.

    Row ids are unique, so the span of ids in the table (``max - min + 1``, two index
    look-ups) is never less than the number of rows: while it leaves room, nothing is
    counted. Only near the cap (or with old rows far behind new ones) is the table counted,
    at most once a second, trusting that count plus what was granted since in between. With
    several replicas each reads the shared table, so the cap holds to within a batch or so
    per replica.
    """

    def __init__(self, max_rows: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_rows = max_rows
        self._clock = clock
        self._known: int | None = None
        self._counted_at = 0.0

    def take(self, wanted: int, *, id_span: Callable[[], int], count: Callable[[], int]) -> int:
        """How many of ``wanted`` new rows fit."""
        if id_span() + wanted <= self.max_rows:
            self._known = None  # room by the cheap bound; count afresh next time it is tight
            return wanted
        now = self._clock()
        if self._known is None or now - self._counted_at >= 1.0:
            self._known, self._counted_at = count(), now
        granted = max(0, min(wanted, self.max_rows - self._known))
        self._known += granted
        return granted


class InboxWriter:
    def __init__(self, sessions: SessionFactory, *, max_batch: int = 256, max_rows: int | None = None, drill: bool = False) -> None:
        """``drill``: the rows are a drill's (only a drill's ingester applies them)."""
        self._sessions = sessions
        self._drill = drill
        self._max_batch = max_batch
        self._budget = RowBudget(max_rows) if max_rows is not None else None
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    async def accept(self, webhook: Webhook) -> int:
        """The inbox id once the row is committed; raises what the commit raised."""
        future: Future[int] = Future()
        self._ensure_running()
        self._queue.put((webhook, future))
        return await asyncio.wrap_future(future)

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def _ensure_running(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="firebreak-inbox-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        mark_thread_urgent()
        while True:
            first = self._queue.get()
            if first is None:
                self._write_rest()
                return
            batch, stop = [first], False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)
            if stop:
                self._write_rest()
                return

    def _write_rest(self) -> None:
        """At close: what was queued behind the stop marker still gets its commit."""
        rest: list[_Pending] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                rest.append(item)
        if rest:
            self._write(rest)

    def _write(self, batch: list[_Pending]) -> None:
        if self._budget is not None:
            try:
                granted = self._budget.take(len(batch), id_span=self._id_span, count=self._count_rows)
            except Exception as error:  # the database is away: as if the insert had failed
                for _webhook, future in batch:
                    _settle(future, error=error)
                return
            for _webhook, future in batch[granted:]:
                _settle(future, error=InboxFull(self._budget.max_rows))
            batch = batch[:granted]
            if not batch:
                return
        self._insert_batch(batch)

    def _id_span(self) -> int:
        with self._sessions() as session:
            low, high = session.execute(select(func.min(InboxRow.id), func.max(InboxRow.id))).one()
        return 0 if high is None else int(high) - int(low) + 1

    def _count_rows(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(InboxRow)) or 0)

    def _insert_batch(self, batch: list[_Pending]) -> None:
        try:
            ids = self._insert([webhook for webhook, _ in batch])
        except Exception as error:
            if len(batch) == 1 or not isinstance(error, (IntegrityError, DataError)):
                # The database is away or busy: every sender gets its 503 now, not one by one.
                for _webhook, future in batch:
                    _settle(future, error=error)
                return
            # One row the database refuses must not fail its neighbours: try them one by one.
            log.warning("inbox batch failed; committing its webhooks one at a time", extra={"error": type(error).__name__})
            for pending in batch:
                self._insert_batch([pending])
            return
        for (_, future), inbox_id in zip(batch, ids, strict=True):
            _settle(future, result=inbox_id)

    def _insert(self, webhooks: list[Webhook]) -> list[int]:
        rows = [
            {
                "source": webhook.source,
                "group_key": webhook.group_key,
                "body": webhook.body,
                "webhook_id": webhook.webhook_id,
                "received_at": webhook.received_at,
                "attempts": 0,
                "priority": webhook.priority,
                "drill": self._drill,
            }
            for webhook in webhooks
        ]
        statement = insert(InboxRow).returning(InboxRow.id, sort_by_parameter_order=True)
        with self._sessions.begin() as session:
            return [int(inbox_id) for inbox_id in session.scalars(statement, rows)]


def _settle(future: Future[int], *, result: int | None = None, error: BaseException | None = None) -> None:
    if future.set_running_or_notify_cancel():
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(int(result or 0))
