"""The delivery worker: claims due outbox rows, hands them to deliverers, records the outcome.

Claims are leases: a worker that dies mid-delivery leaves rows ``in_flight`` with an expired
lease, and the next worker (after a restart, or another replica) takes them again, telling
the deliverer it is a retry so it can check whether the first attempt landed. Messages that
share an ``ordering_key`` (one chat channel) go out strictly one after another, except that
a coalesced message (the pinned summary, rendered at delivery) holds back no later message
but another rendering of its own thing and what closes the conversation.

Worst first: each claim takes due rows by ``(priority, id)``, so when a peer's rate limits
hold work back, a P0's messages go before a P2's that were queued earlier. Within one
``ordering_key`` only the oldest row is ever a candidate, so priority never reorders a
conversation. Operations named in ``setup_operations`` (creating and setting up channels,
bound by Slack's workspace-wide Tier 2 limits) form their own lane that takes at most
``setup_per_claim`` rows of each claim: a thousand channels waiting to be created never
keep posts, updates or pages from being claimed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, false, func, select, update
from sqlalchemy.orm import Session, aliased

from bot.background import Wakeup
from bot.delivery.message import Deliverer, DeliveryError, DeliveryResult, OutboxMessage
from bot.delivery.outbox import DELIVERED, FAILED, IN_FLIGHT, PENDING
from bot.delivery.retry import backoff_seconds
from bot.domain.clock import Clock, SystemClock
from bot.store.db import SessionFactory
from bot.store.models import OutboxRow
from bot.store.trouble import log_retrying

log = logging.getLogger(__name__)

DeadLetterHook = Callable[[Session, OutboxRow], None]


class _RecordFailed(Exception):
    """A record failed in a claim marked without savepoints: mark it again with them."""


class DeliveryWorker:
    def __init__(
        self,
        sessions: SessionFactory,
        deliverers: Mapping[str, Deliverer],
        *,
        clock: Clock | None = None,
        max_attempts: int = 25,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 32,
        concurrency: int = 16,
        poll_seconds: float = 0.5,
        on_dead: DeadLetterHook | None = None,
        on_attempt: Callable[[str, str, bool], None] | None = None,
        setup_operations: Collection[str] = (),
        setup_target: str = "chat",
        setup_per_claim: int | None = None,
        closing_operations: Collection[str] = (),
        drill: bool = False,
        gather_seconds: float = 0.1,
    ) -> None:
        """``drill``: take only a drill's messages (else only real ones), so a drill and a real
        process sharing a database never deliver each other's. ``closing_operations`` end a
        conversation (archiving a channel): they wait for every message queued before them,
        coalesced ones included.

        ``gather_seconds``: after a claim that was not full, the next waits this long, so the
        messages of a burst (an incident opening queues four, a storm hundreds, each in its
        own transaction) go out in a few claims instead of one claim per transaction. A claim
        costs the same few statements whatever it holds. The first message after a quiet
        spell is claimed at once; a full claim is followed at once too."""
        self._sessions = sessions
        self._drill = drill
        self._deliverers = dict(deliverers)
        self._clock = clock or SystemClock()
        self._max_attempts = max_attempts
        self._lease = lease
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._poll_seconds = poll_seconds
        self._on_dead = on_dead
        self._on_attempt = on_attempt
        self._setup_operations = tuple(sorted(setup_operations))
        self._closing_operations = tuple(sorted(closing_operations))
        self._setup_target = setup_target
        share = max(1, batch_size // 4) if setup_per_claim is None else setup_per_claim
        self._setup_per_claim = max(1, min(share, batch_size))
        self.worker_id = uuid.uuid4().hex[:12]
        self._wakeup = Wakeup()
        #: When this worker last looked for leases a dead worker left behind: a quarter of a
        #: lease apart is soon enough for them, and saves a query on nearly every claim.
        self._expired_looked_at: datetime | None = None
        self._gather_seconds = gather_seconds
        self._pick_statements: dict[tuple[str, int, bool], Select[Any]] = {}

    def add_deliverer(self, target: str, deliverer: Deliverer) -> None:
        self._deliverers[target] = deliverer

    def has_deliverer(self, target: str) -> bool:
        return target in self._deliverers

    def notify(self) -> None:
        """Wake the loop now instead of at the next poll; safe to call from any thread."""
        self._wakeup.notify()

    async def run(self, stop: asyncio.Event) -> None:
        self._wakeup.bind()
        while not stop.is_set():
            self._wakeup.clear()
            try:
                handled = await self.run_once()
            except Exception as error:  # the loop must survive a database blip
                log_retrying(log, "delivery loop failed", error)
                handled = 0
            if handled == 0:
                await self._wakeup.sleep(stop, self._poll_seconds)
            elif handled < self._batch_size and self._gather_seconds > 0:
                await self._wakeup.sleep(stop, self._gather_seconds, wakeable=False)

    async def run_once(self) -> int:
        messages = await asyncio.to_thread(self._claim)
        if messages:
            # Created per batch: a semaphore binds to the loop it first waits on, and the
            # console runs one short loop per command.
            semaphore = asyncio.Semaphore(self._concurrency)
            delivered: list[tuple[OutboxMessage, DeliveryResult]] = []
            try:
                outcomes = await asyncio.gather(*(self._deliver(message, semaphore, delivered) for message in messages), return_exceptions=True)
            finally:
                # What was delivered is marked even if another delivery of the claim raised
                # (its failure could not be recorded: it stays in flight until its lease runs
                # out) or the loop is being cancelled at shutdown: sent twice is what an
                # unmarked delivery would be. The thread finishes even if this await is cut.
                if delivered:
                    await asyncio.to_thread(self._complete, list(delivered))
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
        return len(messages)

    async def drain(self, timeout: float = 30.0) -> bool:
        """Deliver until nothing is due or in flight; False if time ran out first.

        Messages backing off towards a later retry (a peer that is down, a target with no
        deliverer in local mode) do not keep the console waiting.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.run_once()
            if await asyncio.to_thread(self._undelivered) == 0:
                return True
            await asyncio.sleep(0.05)
        return False

    # -- database steps (run in a thread) --------------------------------------------

    def _claim(self) -> list[OutboxMessage]:
        now = self._clock.now()
        with self._sessions.begin() as session:
            postgres = session.get_bind().dialect.name == "postgresql"

            def pick(kind: str, limit: int) -> list[OutboxRow]:
                if limit <= 0:
                    return []
                return list(session.scalars(self._pick_statement(kind, limit, postgres), {"now": now}))

            # Leases a dead worker left behind come first (rare); then what is due, worst
            # first: "pending" alone lets PostgreSQL walk ix_outbox_priority in order.
            expired: list[OutboxRow] = []
            if self._expired_looked_at is None or now - self._expired_looked_at >= self._lease / 4:
                expired = pick("expired", self._batch_size)
                self._expired_looked_at = now
            setup_rows = [row for row in expired if self._is_setup(row)][: self._setup_per_claim]
            other_rows = [row for row in expired if not self._is_setup(row)]
            if self._setup_operations:
                setup_rows += pick("setup", self._setup_per_claim - len(setup_rows))
            other_rows = other_rows[: self._batch_size - len(setup_rows)]
            other_rows += pick("other", self._batch_size - len(setup_rows) - len(other_rows))
            candidates = sorted(setup_rows + other_rows, key=lambda row: (row.priority, row.id))
            taken = {row.id for row in candidates}
            if len(expired) >= self._batch_size or any(row.id not in taken for row in expired):
                self._expired_looked_at = None  # more were left behind than this claim took: look again next claim
            if candidates:
                # One UPDATE for the claim, not the unit of work's one per row.
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_([row.id for row in candidates]))
                    .values(status=IN_FLIGHT, locked_until=now + self._lease, locked_by=self.worker_id, attempts=OutboxRow.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
            return [
                OutboxMessage(
                    id=row.id,
                    idempotency_key=row.idempotency_key,
                    target=row.target,
                    operation=row.operation,
                    payload=dict(row.payload),
                    incident_id=row.incident_id,
                    attempt=row.attempts + 1,
                    priority=row.priority,
                )
                for row in candidates
            ]

    def _pick_statement(self, kind: str, limit: int, postgres: bool) -> Select[Any]:
        """The claim's query for ``kind`` of rows (``expired`` leases, due ``setup`` rows, due
        ``other`` rows), built once per kind and limit: constructing it (correlated
        subqueries, aliases) cost more CPU than running it, on every claim. The claim's
        time is the ``now`` parameter."""
        key = (kind, limit, postgres)
        statement = self._pick_statements.get(key)
        if statement is None:
            statement = select(OutboxRow).where(self._pick_condition(kind), self._head_condition(), OutboxRow.drill.is_(self._drill))
            statement = statement.order_by(OutboxRow.priority, OutboxRow.id).limit(limit)
            if postgres:
                statement = statement.with_for_update(skip_locked=True)
            self._pick_statements[key] = statement
        return statement

    def _pick_condition(self, kind: str) -> ColumnElement[bool]:
        now = bindparam("now", type_=OutboxRow.__table__.c.next_attempt_at.type)
        if kind == "expired":
            return (OutboxRow.status == IN_FLIGHT) & (OutboxRow.locked_until < now)
        due = (OutboxRow.status == PENDING) & (OutboxRow.next_attempt_at <= now)
        setup = (OutboxRow.target == self._setup_target) & OutboxRow.operation.in_(self._setup_operations)
        if kind == "setup":
            return due & setup
        return due & ~setup if self._setup_operations else due

    def _head_condition(self) -> ColumnElement[bool]:
        """Only heads of their conversation are candidates: otherwise a backlog of posts
        waiting behind a failing one fills the window and starves everything after it (a
        PagerDuty page behind a Slack outage), and priority could reorder a conversation. A
        coalesced message (a summary, a topic) renders what is true when it is delivered, so
        it waits for what was said before it but holds back nothing said after it: its
        batching delay never delays a post."""
        earlier = aliased(OutboxRow)
        closing = OutboxRow.operation.in_(self._closing_operations) if self._closing_operations else false()
        blocked = (
            select(earlier.id)
            .where(
                earlier.ordering_key == OutboxRow.ordering_key,
                earlier.id < OutboxRow.id,
                earlier.status.in_((PENDING, IN_FLIGHT)),
                # Two renderings of one thing still go out in order: the newer lands last;
                # and what ends the conversation (archiving the channel) waits for all.
                earlier.coalesce_key.is_(None) | (earlier.coalesce_key == OutboxRow.coalesce_key) | closing,
            )
            .exists()
        )
        # Archiving after the quiet period is queued with no conversation (it is due a day
        # later and must not hold back what is said meanwhile); when it falls due it still
        # waits for every other message about its incident, so the last summary and post
        # land before the channel closes. (An archive inside a conversation, a merged-away
        # channel's, waits for what came before it there; waiting also for what came after
        # it, which waits for it, would hold both forever.)
        sibling = aliased(OutboxRow)
        unsaid = (
            select(sibling.id)
            .where(
                sibling.incident_id == OutboxRow.incident_id,
                sibling.target == OutboxRow.target,
                sibling.id != OutboxRow.id,
                sibling.status.in_((PENDING, IN_FLIGHT)),
                ~sibling.operation.in_(self._closing_operations),
            )
            .exists()
        )
        return (OutboxRow.ordering_key.is_(None) | ~blocked) & ~(closing & OutboxRow.ordering_key.is_(None) & unsaid)

    def _is_setup(self, row: OutboxRow) -> bool:
        return row.target == self._setup_target and row.operation in self._setup_operations

    def _undelivered(self) -> int:
        """Messages due now or in flight; those waiting for a later retry do not hold a drain."""
        now = self._clock.now()
        with self._sessions() as session:
            due = (OutboxRow.status == PENDING) & (OutboxRow.next_attempt_at <= now)
            statement = select(func.count()).where(due | (OutboxRow.status == IN_FLIGHT), OutboxRow.drill.is_(self._drill))
            return int(session.scalar(statement) or 0)

    def _complete(self, delivered: Sequence[tuple[OutboxMessage, DeliveryResult]]) -> None:
        """Mark a claim's delivered messages in one transaction (one lock, one commit for the
        lot: the next claim waits for the whole batch anyway), then run their ``after_commit``.

        What a delivery records (a Slack message's ts, a page's timeline entry, a transcript
        line) is first written for the whole claim at once, in one flush. If one record
        fails, that transaction is rolled back and the claim is marked again with each
        record under a savepoint of its own, so the failing one leaves only its message in
        flight (delivered again when its lease runs out). Two round trips per message for
        savepoints nearly every claim would not need were most of what marking cost.
        Records go in incident order, the order the ingester locks incidents in. A message
        another worker claimed again after our lease ran out is left to it."""
        try:
            marked = self._mark_delivered(delivered, careful=False)
        except _RecordFailed:
            marked = self._mark_delivered(delivered, careful=True)
        for result in marked:
            if result.after_commit is not None:
                try:
                    result.after_commit()
                except Exception:
                    log.exception("after a delivery was recorded, its follow-up failed")

    def _mark_delivered(self, delivered: Sequence[tuple[OutboxMessage, DeliveryResult]], *, careful: bool) -> list[DeliveryResult]:
        """Mark the messages delivered and run their records; the results of those marked.

        Not ``careful``: records run without savepoints and any failure raises
        ``_RecordFailed`` (the caller's transaction is rolled back, nothing is marked)."""
        now = self._clock.now()
        results = {message.id: result for message, result in delivered}
        marked: list[DeliveryResult] = []
        delivered_ids: list[int] = []
        with self._sessions.begin() as session:
            statement = select(OutboxRow).where(OutboxRow.id.in_(sorted(results))).order_by(OutboxRow.id).with_for_update()
            rows = sorted(session.scalars(statement), key=lambda row: (row.incident_id is None, row.incident_id or 0, row.id))
            for row in rows:
                if row.status == DELIVERED or (row.status == IN_FLIGHT and row.locked_by != self.worker_id):
                    continue
                result = results[row.id]
                if result.record is not None:
                    if not careful:
                        try:
                            result.record(session)
                        except Exception as error:
                            raise _RecordFailed from error
                    else:
                        try:
                            with session.begin_nested():
                                result.record(session)
                        except Exception:
                            log.exception("could not record a delivery; delivered again after its lease", extra={"outbox_id": row.id, "operation": row.operation})
                            continue
                delivered_ids.append(row.id)
                marked.append(result)
            if not careful:
                try:
                    session.flush()
                except Exception as error:
                    raise _RecordFailed from error
            if delivered_ids:
                # One UPDATE for the claim, not the unit of work's one per row.
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(delivered_ids))
                    .values(status=DELIVERED, delivered_at=now, locked_until=None, last_error=None)
                    .execution_options(synchronize_session=False)
                )
        return marked

    def _fail(self, message: OutboxMessage, error: DeliveryError) -> None:
        now = self._clock.now()
        with self._sessions.begin() as session:
            row = session.get(OutboxRow, message.id, with_for_update=True)
            if row is None or row.status == DELIVERED:
                return
            row.last_error = str(error)[:2000]
            row.locked_until = None
            if error.not_sent and error.retryable:
                # Deferred by our own pacing: not an attempt, and due exactly when the pace allows.
                row.attempts = max(0, row.attempts - 1)
                row.status = PENDING
                # Rounded up to the microsecond: coming back a hair early is deferred again.
                wait = timedelta(microseconds=math.ceil((error.retry_after or 1.0) * 1_000_000))
                row.next_attempt_at = now + wait
                return
            if not error.retryable or row.attempts >= self._max_attempts:
                row.status = FAILED
                log.error(
                    "delivery gave up",
                    extra={"outbox_id": row.id, "operation": row.operation, "attempts": row.attempts, "error": str(error)},
                )
                if self._on_dead is not None:
                    self._on_dead(session, row)
                return
            row.status = PENDING
            delay = backoff_seconds(row.attempts, retry_after=error.retry_after)
            row.next_attempt_at = now + timedelta(seconds=delay)
            log.warning(
                "delivery failed; will retry",
                extra={"outbox_id": row.id, "operation": row.operation, "attempt": row.attempts, "retry_in_s": round(delay, 2), "error": str(error)},
            )

    # -- one delivery ----------------------------------------------------------------

    async def _deliver(self, message: OutboxMessage, semaphore: asyncio.Semaphore, delivered: list[tuple[OutboxMessage, DeliveryResult]]) -> None:
        """Deliver one message: once delivered it joins ``delivered`` (the caller marks the
        claim's together); a failure is marked here, for a retry or as failed."""
        async with semaphore:
            deliverer = self._deliverers.get(message.target)
            try:
                if deliverer is None:
                    raise DeliveryError(f"no deliverer for target {message.target!r}", retryable=True, retry_after=30)
                result = await deliverer.deliver(message)
            except DeliveryError as error:
                self._report(message, ok=False)
                await asyncio.to_thread(self._fail, message, error)
                return
            except Exception as error:  # an adapter bug must not lose the message
                log.exception("deliverer raised", extra={"outbox_id": message.id, "operation": message.operation})
                self._report(message, ok=False)
                await asyncio.to_thread(self._fail, message, DeliveryError(repr(error)))
                return
            delivered.append((message, result))
            self._report(message, ok=True)

    def _report(self, message: OutboxMessage, *, ok: bool) -> None:
        if self._on_attempt is not None:
            self._on_attempt(message.target, message.operation, ok)
