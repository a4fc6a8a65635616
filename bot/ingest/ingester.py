"""The ingester: applies accepted webhooks from the inbox to incidents, group by group.

Why a queue between the HTTP answer and the incident: opening an incident (playbook,
escalation plan, chat messages) costs several times what storing a webhook does, and an
alert storm brings hundreds of new groups in a second. Answering after one insert keeps
Alertmanager and PagerDuty answered in milliseconds; applying a group's queued webhooks in
one transaction makes a backlog cheaper per webhook, not dearer.

Failure rules: a database that is away stops the pass (everything stays queued and is
retried); a row that fails by itself is retried with backoff while the rows behind it in
its group wait, and after ``max_attempts`` it is kept as dead (logged, counted) so its
group moves on. Nothing accepted is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from bot.background import Wakeup
from bot.delivery.retry import backoff_seconds
from bot.domain.clock import Clock, SystemClock
from bot.ingest import inbox
from bot.ingest.pressure import WebhookPressure
from bot.store.db import SessionFactory
from bot.store.models import InboxRow
from bot.store.receipt import receiving
from bot.store.trouble import log_retrying, stops_every_row

log = logging.getLogger(__name__)

#: Applies one inbox row in the caller's transaction; returns an outcome for the metrics.
Applier = Callable[[Session, InboxRow], str]
#: Applies a run of consecutive inbox rows of one source in the caller's transaction, with
#: the result of its ``Applier`` on each row in order; returns one outcome per row.
BatchApplier = Callable[[Session, Sequence[InboxRow]], list[str]]
#: Called once per transaction that applies several groups, with every row it locked, before
#: any is applied: a source locks, in one statement each, what its rows will need (see
#: bot/ingest/alertmanager/route.py) and returns the group keys it locked everything for;
#: only those share the transaction, the rest are applied in transactions of their own.
Preparer = Callable[[Session, Sequence[InboxRow]], Collection[str]]
#: How soon a pass that found its groups taken by other ingesters looks again (they may
#: have left others behind), instead of the full poll interval.
PASSED_BY_SECONDS = 0.05


class _NeedsCare(Exception):
    """A group's transaction without savepoints failed: roll it back, apply it with them."""


class Discarded(Exception):
    """Raised by an applier whose row must leave no trace (a replayed or unhandled event)."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


@dataclass
class Applied:
    """What one group's transaction did, reported after it committed."""

    outcomes: list[tuple[str, str]] = field(default_factory=list)
    failed: InboxRow | None = None
    outcomes_after: list[tuple[str, str]] = field(default_factory=list)


class Ingester:
    def __init__(
        self,
        sessions: SessionFactory,
        appliers: Mapping[str, Applier] | None = None,
        *,
        batch_appliers: Mapping[str, BatchApplier] | None = None,
        clock: Clock | None = None,
        groups_per_pass: int = 64,
        rows_per_group: int = 200,
        max_attempts: int = 8,
        poll_seconds: float = 1.0,
        on_applied: Callable[[str, str], None] | None = None,
        on_committed: Callable[[], None] | None = None,
        pressure: WebhookPressure | None = None,
        busy_share: float = 0.33,
        max_lag: float = 10.0,
        transaction_budget: float = 0.025,
        batch_rows: int = 50,
        urgent: Collection[int] = (0,),
        drill: bool = False,
        preparers: Mapping[str, Preparer] | None = None,
        groups_per_transaction: int = 32,
        shared_transaction_budget: float = 0.25,
    ) -> None:
        """``drill``: apply only a drill's inbox rows (else only real ones), so a drill and a
        real process sharing a database never apply each other's webhooks.

        ``groups_per_transaction``: on PostgreSQL in a process without the webhook endpoints
        (``worker``), up to this many groups are applied in one transaction (one lock of their
        rows, one delete, one commit) until ``shared_transaction_budget`` seconds are spent.
        SQLite applies a group per transaction (one writer: a long transaction would hold up
        every answer), and so does ``serve``, which gives way to answers between groups."""
        self._sessions = sessions
        self._drill = drill
        self._appliers: dict[str, Applier] = dict(appliers or {})
        self._clock = clock or SystemClock()
        self._groups_per_pass = groups_per_pass
        self._rows_per_group = rows_per_group
        self._max_attempts = max_attempts
        self._poll_seconds = poll_seconds
        self._on_applied = on_applied
        self._on_committed = on_committed
        self.pressure = pressure
        self._busy_share = busy_share
        self._max_lag = max_lag
        self._transaction_budget = transaction_budget
        #: Optional per source: apply runs of its rows at once, with the row applier's result
        #: on each row in order (the row applier stays the fallback).
        self._batch_appliers: dict[str, BatchApplier] = {source: applier for source, applier in (batch_appliers or {}).items() if source in self._appliers}
        self._batch_rows = batch_rows
        #: Priorities (severity ranks, 0 = P0) whose groups are applied first and unthrottled.
        self._urgent = frozenset(urgent)
        self._wakeup = Wakeup()
        self._urgent_arrived = threading.Event()
        self._preparers: dict[str, Preparer] = dict(preparers or {})
        self._groups_per_transaction = max(1, groups_per_transaction)
        self._shared_budget = shared_transaction_budget
        #: Set by a pass that found a due group's rows claimed or gone: another ingester was
        #: at work, so more may be due soon (see ``run``).
        self._passed_by = False

    def add_applier(self, source: str, applier: Applier) -> None:
        """Set the source's row applier; a batch applier set for the previous one is dropped
        (it must give the row applier's result, which it no longer knows)."""
        self._appliers[source] = applier
        self._batch_appliers.pop(source, None)

    def add_batch_applier(self, source: str, applier: BatchApplier) -> None:
        """Optional, after ``add_applier``: apply runs of this source's rows at once, with the
        result of the row applier on each row in order (which stays the fallback)."""
        self._batch_appliers[source] = applier

    def notify(self, priority: int | None = None) -> None:
        """Wake the loop now instead of at the next poll; safe to call from any thread.

        An urgent ``priority`` also ends the pass under way after its current group, so the
        next pass picks the urgent group first instead of after the groups already chosen.
        """
        if priority is not None and priority in self._urgent:
            self._urgent_arrived.set()
        self._wakeup.notify()

    async def run(self, stop: asyncio.Event) -> None:
        self._wakeup.bind()
        failures = 0
        while not stop.is_set():
            self._wakeup.clear()
            try:
                applied = await asyncio.to_thread(self.apply_pending, stop.is_set)
                failures = 0
            except Exception as error:  # the loop must outlive a database outage
                failures += 1
                log_retrying(log, "ingest pass failed; webhooks stay queued", error)
                applied = 0
                await self._wakeup.sleep(stop, backoff_seconds(failures, base=0.5, cap=5.0), wakeable=False)
                continue
            if applied == 0:
                await self._wakeup.sleep(stop, PASSED_BY_SECONDS if self._passed_by else self._poll_seconds)

    def apply_pending(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """One pass over the groups that are due; returns how many rows it applied or set aside.

        ``stopping`` is asked between groups, so a shutdown does not wait out a long pass.
        """
        now = self._clock.now()
        self._urgent_arrived.clear()
        self._passed_by = False
        with self._pass_connection() as bind:
            with self._session(bind) as session:
                due = inbox.due_groups(session, now=now, limit=self._groups_per_pass, urgent=self._urgent, drill=self._drill)
            # Giving way has a limit: once the oldest queued webhook is ``max_lag`` old, alerts
            # reaching their incidents matters more than shaving the answer time.
            lagging = due.oldest is not None and (now - due.oldest).total_seconds() > self._max_lag
            applied = index = 0
            # Shared transactions where nothing answers webhooks in this process: with the
            # endpoints here (``serve``), the pass gives way between groups instead.
            shared = bind is not None and self.pressure is None and self._groups_per_transaction > 1
            while index < len(due.groups):
                if stopping() or (index >= due.urgent and self._urgent_arrived.is_set()):
                    break
                started = time.monotonic()
                if shared:
                    # Urgent groups go in a transaction of their own kind: never behind others.
                    end = due.urgent if index < due.urgent else len(due.groups)
                    chunk = due.groups[index : min(end, index + self._groups_per_transaction)]
                    taken, count = self.apply_inbox_groups(chunk, bind=bind)
                else:
                    taken, count = 1, self.apply_inbox_group(due.groups[index], bind=bind)
                applied += count
                index += taken
                # Urgent groups (picked first) are never held back to answer webhooks sooner.
                urgent_left = index < due.urgent
                if not lagging and not urgent_left and self.pressure is not None and self.pressure.busy():
                    # Webhooks are arriving: leave the interpreter to them for a while, so the
                    # ingester takes at most ``busy_share`` of the time (the rest queues).
                    time.sleep((time.monotonic() - started) * (1 / self._busy_share - 1))
        return applied

    @contextlib.contextmanager
    def _pass_connection(self) -> Iterator[Connection | None]:
        """On PostgreSQL, one pooled connection for the whole pass: each group's transaction
        runs on it, instead of checking a connection out (and pinging it) per group. SQLite
        keeps a session per transaction, as its writer lock expects (bot/store/db.py)."""
        engine = self._sessions.kw.get("bind")
        if not isinstance(engine, Engine) or engine.dialect.name != "postgresql":
            yield None
            return
        with engine.connect() as connection:
            yield connection

    def _session(self, bind: Connection | None) -> Session:
        return self._sessions(bind=bind) if bind is not None else self._sessions()

    def apply_all(self, max_passes: int = 1000) -> int:
        """Apply everything due now (tests, ``firebreak`` CLI); bounded by ``max_passes``."""
        total = 0
        for _ in range(max_passes):
            applied = self.apply_pending()
            if applied == 0:
                return total
            total += applied
        return total

    def apply_inbox_groups(self, group_keys: Sequence[str], *, bind: Connection | None = None) -> tuple[int, int]:
        """Apply several groups' queued rows in one transaction; returns (groups taken, rows).

        Each group's round trips of its own (lock its rows, delete them, commit) are most of
        what a group with one or two new webhooks costs; here they are paid once for all.
        Rows are locked in id order, as every ingester does, so two ingesters wait for each
        other instead of deadlocking.

        Only groups their source's preparer locked everything for share the transaction (an
        Alertmanager group whose incident exists). The others (a new group, which may take
        the storm guard's or a correlation lock and then lock another incident; a source
        without a preparer) are applied after it, each in a transaction of its own, so no
        transaction holds incident rows while it waits for those locks.

        Groups are taken in order until the time budget is spent (the rest is released for
        the next transaction). If anything goes wrong (a row fails, is discarded, the
        database reports a deadlock), the transaction is rolled back and the groups it took
        are applied one by one (``apply_inbox_group``), so a failing row is isolated exactly
        as there.
        """
        now = self._clock.now()
        taken = 0
        done: list[tuple[Sequence[InboxRow], Applied]] = []
        alone: list[str] = []
        with self._session(bind) as session:
            locked = inbox.lock_groups(session, group_keys, limit=self._rows_per_group, drill=self._drill)
            self._passed_by = self._passed_by or len(locked) < len(group_keys)
            ready = {key: rows for key, rows in locked.items() if not (rows[0].not_before is not None and rows[0].not_before > now)}
            deadline = time.monotonic() + self._shared_budget
            try:
                shared = self._prepare(session, [row for rows in ready.values() for row in rows])
            except _NeedsCare:
                session.rollback()
                return len(group_keys), sum(self.apply_inbox_group(key, bind=bind) for key in group_keys)
            try:
                for key in group_keys:
                    taken += 1
                    rows = ready.get(key)
                    if rows and key in shared:
                        done.append((rows, self._apply_unguarded(session, rows)))
                    elif rows:
                        alone.append(key)
                    if time.monotonic() > deadline:
                        break
            except _NeedsCare:
                session.rollback()
                # The group that failed goes straight to savepoints; the others applied
                # cleanly here and are applied again the same way, each on its own.
                failed = group_keys[taken - 1] if taken else None
                return taken, sum(
                    self._apply_inbox_group(key, bind, careful=True) if key == failed else self.apply_inbox_group(key, bind=bind)
                    for key in group_keys[:taken]
                )
            inbox.remove(session, [row.id for rows, applied in done for row in rows[: len(applied.outcomes)]])
            session.commit()
        self._committed([applied for _rows, applied in done])
        return taken, sum(len(applied.outcomes) for _rows, applied in done) + sum(self.apply_inbox_group(key, bind=bind) for key in alone)

    def _prepare(self, session: Session, rows: Sequence[InboxRow]) -> set[str]:
        """Run each source's preparer on its rows; the group keys that may share the transaction."""
        by_source: dict[str, list[InboxRow]] = {}
        for row in rows:
            by_source.setdefault(row.source, []).append(row)
        shared: set[str] = set()
        for source, source_rows in by_source.items():
            preparer = self._preparers.get(source)
            if preparer is None:
                continue
            try:
                shared.update(preparer(session, source_rows))
            except Exception as error:
                if stops_every_row(error):
                    raise
                raise _NeedsCare from error
        return shared

    def apply_inbox_group(self, group_key: str, *, bind: Connection | None = None) -> int:
        """Apply a group's queued rows in order, in one transaction, and delete them.

        First without a savepoint per row: nearly every group applies cleanly, and two round
        trips per row (``SAVEPOINT``, ``RELEASE``) are a good part of what a small group
        costs. If a row fails (or is discarded) that transaction is rolled back and the
        group is applied again under savepoints, so the failing row is isolated (retried,
        then kept as dead) and the rows before it still count.
        """
        try:
            return self._apply_inbox_group(group_key, bind, careful=False)
        except _NeedsCare:
            return self._apply_inbox_group(group_key, bind, careful=True)

    def _apply_inbox_group(self, group_key: str, bind: Connection | None, *, careful: bool) -> int:
        now = self._clock.now()
        with self._session(bind) as session:
            rows = inbox.lock_group(session, group_key, limit=self._rows_per_group, drill=self._drill)
            head_waits = rows and rows[0].not_before is not None and rows[0].not_before > now
            self._passed_by = self._passed_by or not rows
            if not rows or head_waits:
                session.rollback()
                return 0
            try:
                applied = self._apply_rows(session, rows) if careful else self._apply_unguarded(session, rows)
            except _NeedsCare:
                session.rollback()
                raise
            inbox.remove(session, [row.id for row in rows[: len(applied.outcomes)]])
            if applied.failed is not None:
                applied.outcomes_after = [(applied.failed.source, self._set_aside(applied.failed, now))]
            session.commit()
        self._committed([applied])
        return len(applied.outcomes) + (1 if applied.failed is not None else 0)

    def _committed(self, transaction: Sequence[Applied]) -> None:
        """Count what a committed transaction applied, and wake what waits on new changes."""
        for applied in transaction:
            for source, outcome in applied.outcomes + applied.outcomes_after:
                if self._on_applied:
                    self._on_applied(source, outcome)
        if self._on_committed and any(applied.outcomes for applied in transaction):
            self._on_committed()

    def _apply_unguarded(self, session: Session, rows: Sequence[InboxRow]) -> Applied:
        """Apply rows in order without savepoints until the time budget is spent (the rest
        wait); raises ``_NeedsCare`` if one fails or is discarded (the caller rolls back)."""
        applied = Applied()
        deadline = time.monotonic() + self._transaction_budget
        index = 0
        try:
            while index < len(rows):
                if applied.outcomes and time.monotonic() > deadline:
                    break
                row = rows[index]
                batch = self._batch_appliers.get(row.source)
                run = self._run_of(rows, index) if batch is not None else rows[index : index + 1]
                if batch is not None and len(run) > 1:
                    with receiving(run[0].received_at):
                        outcomes = batch(session, run)
                    if len(outcomes) != len(run):
                        raise RuntimeError(f"batch applier returned {len(outcomes)} outcomes for {len(run)} rows")
                else:
                    applier = self._appliers.get(row.source)
                    if applier is None:
                        raise LookupError(f"no applier for source {row.source!r}")
                    with receiving(row.received_at):
                        outcomes = [applier(session, row)]
                applied.outcomes += [(row.source, outcome) for outcome in outcomes]
                index += len(run)
        except Exception as error:
            if stops_every_row(error):
                raise
            raise _NeedsCare from error
        return applied

    def _apply_rows(self, session: Session, rows: Sequence[InboxRow]) -> Applied:
        """Apply rows one by one, each under a savepoint, until one fails (it is set aside and
        the rows behind it wait) or the time budget is spent (the rest wait for the next pass).

        The budget bounds how long one transaction holds SQLite's single writer, so a storm
        group with hundreds of queued webhooks does not hold up the endpoints queueing more.
        """
        applied = Applied()
        deadline = time.monotonic() + self._transaction_budget
        for row in rows:
            if applied.outcomes and time.monotonic() > deadline:
                break
            applier = self._appliers.get(row.source)
            try:
                if applier is None:
                    raise LookupError(f"no applier for source {row.source!r}")
                with session.begin_nested(), receiving(row.received_at):
                    outcome = applier(session, row)
            except Discarded as discarded:
                outcome = discarded.outcome
            except Exception as error:
                if stops_every_row(error):
                    raise
                row.last_error = f"{type(error).__name__}: {error}"[:2000]
                applied.failed = row
                log.exception("could not apply a queued webhook", extra={"inbox_id": row.id, "source": row.source})
                return applied
            applied.outcomes.append((row.source, outcome))
        return applied

    def _run_of(self, rows: Sequence[InboxRow], start: int) -> Sequence[InboxRow]:
        """Consecutive rows of ``rows[start]``'s source, at most ``batch_rows`` of them."""
        source, end = rows[start].source, start + 1
        while end < len(rows) and end - start < self._batch_rows and rows[end].source == source:
            end += 1
        return rows[start:end]

    def _set_aside(self, row: InboxRow, now: datetime) -> str:
        """Retry later, or after ``max_attempts`` keep it as dead; returns the metric outcome."""
        row.attempts += 1
        if row.attempts >= self._max_attempts:
            row.dead_at = now
            log.error(
                "queued webhook given up after retries; kept in the inbox",
                extra={"inbox_id": row.id, "source": row.source, "attempts": row.attempts, "error": row.last_error},
            )
            return "dead"
        row.not_before = now + timedelta(seconds=backoff_seconds(row.attempts, base=1.0, cap=300.0))
        return "retry"

