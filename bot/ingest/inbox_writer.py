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
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine, func, insert, select
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
_T = TypeVar("_T")

#: Seconds idle after which the writer's own connection goes back to the pool, which checks
#: that a connection is alive (a ping) before lending it again.
IDLE_RECHECK_SECONDS = 10.0

#: Seconds a webhook waits for its commit before it is answered 503 (the sender retries).
#: A database that hangs instead of refusing (a frozen server, a host gone without a reset,
#: locks held for ever) held every webhook request open until it answered, so senders saw
#: their own timeouts and the server's connections filled. A commit that lands after the
#: 503 only stores what the sender re-sends anyway, and applying is idempotent.
STORE_TIMEOUT_SECONDS = 10.0

#: Seconds a sender refused for a full inbox is asked to wait before trying again.
FULL_RETRY_AFTER_SECONDS = 30


class InboxFull(Exception):
    """The inbox holds ``max_rows`` rows: nothing more is accepted until the ingester catches up."""

    def __init__(self, max_rows: int) -> None:
        super().__init__(f"the inbox holds its maximum of {max_rows} webhooks")
        self.max_rows = max_rows
        self.retry_after = FULL_RETRY_AFTER_SECONDS


class RowBudget:
    """How many more rows the inbox may take, without asking the database for every batch.

    Row ids are unique, so the span of ids in the table (``max - min + 1``, two index
    look-ups) is never less than the number of rows. The span is read at most once a
    ``span_seconds``; in between, what this process granted is added to it (rows the
    ingester removed are not subtracted, so the estimate only errs high). While the estimate
    leaves room, nothing is read: a webhook costs the inbox one statement, not two. Once it
    is tight the span is read afresh, and only if that too leaves no room (near the cap, or
    old rows far behind new ones) is the table counted, at most once a second, trusting
    that count plus what was granted since in between. With several replicas each reads
    the shared table, so the cap holds to within a second or so of inserts per replica.
    """

    def __init__(self, max_rows: int, *, clock: Callable[[], float] = time.monotonic, span_seconds: float = 1.0) -> None:
        self.max_rows = max_rows
        self._clock = clock
        self._span_seconds = span_seconds
        self._span: int | None = None
        self._span_at = 0.0
        self._known: int | None = None
        self._counted_at = 0.0

    def take(self, wanted: int, *, id_span: Callable[[], int], count: Callable[[], int]) -> int:
        """How many of ``wanted`` new rows fit."""
        now = self._clock()
        if self._span is not None and now - self._span_at < self._span_seconds and self._span + wanted <= self.max_rows:
            self._span += wanted
            return wanted
        self._span, self._span_at = id_span(), now
        if self._span + wanted <= self.max_rows:
            self._span += wanted
            self._known = None  # room by the cheap bound; count afresh next time it is tight
            return wanted
        self._span = None  # tight: read the span again next time
        if self._known is None or now - self._counted_at >= 1.0:
            self._known, self._counted_at = count(), now
        granted = max(0, min(wanted, self.max_rows - self._known))
        self._known += granted
        return granted


class InboxWriter:
    """Queues webhooks from the event loop; one thread commits them, a batch at a time.

    On PostgreSQL the thread keeps one connection in autocommit mode, so a batch is one
    ``INSERT … RETURNING`` statement, one round trip: no pool check-out and ping, no
    ``BEGIN``/``COMMIT`` of their own. Round trips matter more than their cost suggests: the
    thread needs the interpreter back after each one, and the event loop answering webhooks
    holds it for up to a switch interval (5 ms) at a time. On SQLite every batch is a
    transaction of a pooled session, which takes the process's writer lock in turn
    (bot/store/db.py).
    """

    def __init__(self, sessions: SessionFactory, *, max_batch: int = 256, max_rows: int | None = None, drill: bool = False) -> None:
        """``drill``: the rows are a drill's (only a drill's ingester applies them)."""
        self._sessions = sessions
        self._drill = drill
        engine = sessions.kw.get("bind")
        self._engine: Engine | None = engine if isinstance(engine, Engine) and engine.dialect.name == "postgresql" else None
        self._connection: Connection | None = None
        self._used_at = 0.0
        self._max_batch = max_batch
        self._budget = RowBudget(max_rows) if max_rows is not None else None
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        #: When the batch being written began (monotonic), None between batches.
        self._busy_since: float | None = None

    async def accept(self, webhook: Webhook, *, timeout: float = STORE_TIMEOUT_SECONDS) -> int:
        """The inbox id once the row is committed; raises what the commit raised, or
        ``TimeoutError`` after ``timeout`` seconds.

        While the current batch has been stuck longer than ``timeout`` a webhook is refused
        at once instead of queued: senders retry after a 503, and queueing every retry
        behind a database that does not answer would only grow memory.
        """
        busy_since = self._busy_since
        if busy_since is not None and time.monotonic() - busy_since > timeout:
            raise TimeoutError(f"the database has not answered for {timeout:.0f} s")
        future: Future[int] = Future()
        self._ensure_running()
        self._queue.put((webhook, future))
        # On timeout the future is cancelled: a row not yet written is then left out.
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

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
        try:
            self._serve_queue()
        finally:
            self._disconnect()

    def _serve_queue(self) -> None:
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
            self._busy_since = time.monotonic()
            try:
                self._write(batch)
            finally:
                self._busy_since = None
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
        batch = [pending for pending in batch if not pending[1].cancelled()]  # answered 503 already
        if not batch:
            return
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
        statement = select(func.min(InboxRow.id), func.max(InboxRow.id))
        if self._engine is not None:
            low, high = self._run_statement(lambda connection: connection.execute(statement).one())
        else:
            with self._sessions() as session:
                low, high = session.execute(statement).one()
        return 0 if high is None else int(high) - int(low) + 1

    def _count_rows(self) -> int:
        # Only rows of this writer's kind: a drill rehearsing on the production database must
        # never push real webhooks past the cap (nor real ones a drill's).
        statement = select(func.count()).select_from(InboxRow).where(InboxRow.drill.is_(self._drill))
        if self._engine is not None:
            return int(self._run_statement(lambda connection: connection.execute(statement).scalar()) or 0)
        with self._sessions() as session:
            return int(session.scalar(statement) or 0)

    def _run_statement(self, run: Callable[[Connection], _T]) -> _T:
        """Run on the thread's own autocommit connection (PostgreSQL), made afresh after a failure."""
        assert self._engine is not None
        now = time.monotonic()
        if self._connection is not None and now - self._used_at > IDLE_RECHECK_SECONDS:
            self._disconnect()  # idle a while: the server may have closed it; the pool checks
        if self._connection is None:
            self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._used_at = now
        try:
            return run(self._connection)
        except Exception as error:
            if not isinstance(error, (IntegrityError, DataError)):  # the connection may be gone
                self._disconnect()
            raise

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

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
        if self._engine is not None:  # one statement, committed by itself (autocommit)
            return self._run_statement(lambda connection: [int(inbox_id) for inbox_id in connection.scalars(statement, rows)])
        with self._sessions.begin() as session:
            return [int(inbox_id) for inbox_id in session.scalars(statement, rows)]


def _settle(future: Future[int], *, result: int | None = None, error: BaseException | None = None) -> None:
    if future.set_running_or_notify_cancel():
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(int(result or 0))
