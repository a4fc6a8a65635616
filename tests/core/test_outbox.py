"""Outbox delivery: retries with backoff and Retry-After, idempotency, order, leases."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from bot.delivery.message import DeliveryError, DeliveryResult, OutboxMessage
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.store.db import SessionFactory
from bot.store.models import InboxRow, OutboxRow


class RecordingPeer:
    """A deliverer whose failures are scripted per idempotency key."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.failures: dict[str, list[DeliveryError]] = defaultdict(list)

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        self.calls.append((message.idempotency_key, message.attempt))
        scripted = self.failures.get(message.idempotency_key)
        if scripted:
            raise scripted.pop(0)
        return DeliveryResult()


def put(sessions: SessionFactory, clock: FrozenClock, key: str, **extra: object) -> None:
    with sessions.begin() as session:
        enqueue(session, target="peer", operation="say", payload={"key": key}, idempotency_key=key, now=clock.now(), **extra)  # type: ignore[arg-type]


def rows(sessions: SessionFactory) -> dict[str, OutboxRow]:
    with sessions() as session:
        return {row.idempotency_key: row for row in session.scalars(select(OutboxRow))}


def test_same_key_is_enqueued_once(sessions: SessionFactory, clock: FrozenClock) -> None:
    outcomes = []
    for _ in range(2):
        with sessions.begin() as session:
            outcomes.append(enqueue(session, target="peer", operation="say", payload={}, idempotency_key="k1", now=clock.now()))
    assert outcomes == [True, False]
    assert len(rows(sessions)) == 1


@pytest.mark.parametrize("severity", [None, Severity.P2], ids=["severity-looked-up", "severity-given"])
def test_pending_updates_coalesce(sessions: SessionFactory, clock: FrozenClock, severity: Severity | None) -> None:
    """With the severity given (the webhook path), PostgreSQL coalesces or inserts in one
    statement; without it, in two. Either way: one pending message, the latest payload."""
    outcomes = []
    for n in range(5):
        with sessions.begin() as session:
            outcomes.append(
                enqueue(
                    session, target="peer", operation="summary", payload={"n": n}, idempotency_key=f"s{n}",
                    now=clock.now(), coalesce_key="summary:1", severity=severity,
                )
            )  # fmt: skip
    stored = rows(sessions)
    assert outcomes == [True, False, False, False, False]
    assert list(stored) == ["s0"]
    assert stored["s0"].payload == {"n": 4}
    assert stored["s0"].priority == (3 if severity is None else severity.rank)


def test_a_coalesced_update_after_delivery_queues_a_new_message(sessions: SessionFactory, clock: FrozenClock) -> None:
    """Only a pending, untried message takes a later payload: once delivered (or tried), the
    next update is a message of its own."""
    def summary(n: int, key: str | None = None) -> bool:
        with sessions.begin() as session:
            return enqueue(
                session, target="peer", operation="summary", payload={"n": n}, idempotency_key=key or f"s{n}",
                now=clock.now(), coalesce_key="summary:1", severity=Severity.P1,
            )  # fmt: skip

    assert summary(0)
    with sessions.begin() as session:
        first = session.scalars(select(OutboxRow)).one()
        first.status = "delivered"
    assert summary(1)
    assert not summary(2)  # coalesced into s1
    with sessions.begin() as session:
        session.scalars(select(OutboxRow).where(OutboxRow.idempotency_key == "s1")).one().attempts = 1
    assert summary(3)
    assert not summary(4, key="s3")  # a replay of s3 while it is pending: coalesced into it, no second row
    stored = rows(sessions)
    assert sorted(stored) == ["s0", "s1", "s3"]
    assert stored["s0"].payload == {"n": 0} and stored["s1"].payload == {"n": 2} and stored["s3"].payload == {"n": 4}
    assert all(row.priority == Severity.P1.rank for row in stored.values())


def test_retry_honours_retry_after_then_delivers_once(sessions: SessionFactory, clock: FrozenClock) -> None:
    peer = RecordingPeer()
    peer.failures["k1"] = [DeliveryError("429", retry_after=30), DeliveryError("503")]
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    put(sessions, clock, "k1")

    assert asyncio.run(worker.run_once()) == 1
    first_retry = rows(sessions)["k1"]
    assert first_retry.status == "pending" and first_retry.attempts == 1
    waited = (first_retry.next_attempt_at.replace(tzinfo=None) - clock.now().replace(tzinfo=None)).total_seconds()
    assert waited >= 30

    clock.advance(seconds=29)
    assert asyncio.run(worker.run_once()) == 0  # not due before Retry-After
    clock.advance(seconds=2)
    assert asyncio.run(worker.run_once()) == 1  # 503: backoff again
    clock.advance(seconds=600)
    assert asyncio.run(worker.run_once()) == 1
    clock.advance(seconds=600)
    assert asyncio.run(worker.run_once()) == 0
    assert rows(sessions)["k1"].status == "delivered"
    assert peer.calls == [("k1", 1), ("k1", 2), ("k1", 3)]


def test_permanent_failure_is_dead_lettered_not_lost(sessions: SessionFactory, clock: FrozenClock) -> None:
    peer = RecordingPeer()
    peer.failures["k1"] = [DeliveryError("channel_not_found", retryable=False)]
    dead: list[int] = []
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, on_dead=lambda _s, row: dead.append(row.id))
    put(sessions, clock, "k1")
    asyncio.run(worker.run_once())
    row = rows(sessions)["k1"]
    assert row.status == "failed" and "channel_not_found" in (row.last_error or "")
    assert dead == [row.id]


def test_gives_up_after_max_attempts(sessions: SessionFactory, clock: FrozenClock) -> None:
    peer = RecordingPeer()
    peer.failures["k1"] = [DeliveryError("boom") for _ in range(10)]
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, max_attempts=3)
    put(sessions, clock, "k1")
    for _ in range(5):
        asyncio.run(worker.run_once())
        clock.advance(seconds=1000)
    assert rows(sessions)["k1"].status == "failed"
    assert len(peer.calls) == 3


def test_order_is_kept_per_ordering_key_even_across_retries(sessions: SessionFactory, clock: FrozenClock) -> None:
    peer = RecordingPeer()
    peer.failures["a1"] = [DeliveryError("429", retry_after=5)]
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    for key in ("a1", "a2", "a3"):
        put(sessions, clock, key, ordering_key="channel-a")
    put(sessions, clock, "b1", ordering_key="channel-b")
    for _ in range(6):
        asyncio.run(worker.run_once())
        clock.advance(seconds=10)
    delivered = [key for key, _attempt in peer.calls]
    assert delivered.index("b1") < delivered.index("a2")  # another channel is not held up
    a_order = [key for key in delivered if key.startswith("a")]
    assert a_order == ["a1", "a1", "a2", "a3"]


def test_expired_lease_is_taken_over_and_marked_as_retry(sessions: SessionFactory, clock: FrozenClock) -> None:
    peer = RecordingPeer()
    crashed = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    put(sessions, clock, "k1")
    claimed = crashed._claim()  # the process dies here, after claiming, before answering
    assert [m.idempotency_key for m in claimed] == ["k1"]
    restarted = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    assert asyncio.run(restarted.run_once()) == 0  # lease still held
    clock.advance(seconds=61)
    assert asyncio.run(restarted.run_once()) == 1
    assert peer.calls == [("k1", 2)]
    assert rows(sessions)["k1"].status == "delivered"


def test_drain_delivers_everything(sessions: SessionFactory, clock: FrozenClock) -> None:
    peer = RecordingPeer()
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, batch_size=7)
    for n in range(50):
        put(sessions, clock, f"k{n}", ordering_key=f"c{n % 3}")
    assert asyncio.run(worker.drain(timeout=20))
    assert sorted(key for key, _ in peer.calls) == sorted(f"k{n}" for n in range(50))
    assert len(peer.calls) == 50


def test_a_deferral_before_sending_is_not_an_attempt_and_waits_only_its_pace(sessions: SessionFactory, clock: FrozenClock) -> None:
    """Local pacing in a storm: no exponential backoff, no "retry", never dead-lettered by it."""
    peer = RecordingPeer()
    peer.failures["k1"] = [DeliveryError("paced", retry_after=2.5, not_sent=True) for _ in range(8)]
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, max_attempts=3)
    put(sessions, clock, "k1")
    for _ in range(8):
        assert asyncio.run(worker.run_once()) == 1
        row = rows(sessions)["k1"]
        assert row.status == "pending" and row.attempts == 0
        waited = (row.next_attempt_at.replace(tzinfo=None) - clock.now().replace(tzinfo=None)).total_seconds()
        assert waited == 2.5
        clock.advance(seconds=2.5)
    assert asyncio.run(worker.run_once()) == 1
    assert rows(sessions)["k1"].status == "delivered"
    assert [attempt for _key, attempt in peer.calls] == [1] * 9  # never told it is a retry


def test_a_blocked_conversation_backlog_does_not_starve_other_targets(sessions: SessionFactory, clock: FrozenClock) -> None:
    """200 posts stuck behind a failing head must not keep a page from going out."""
    peer = RecordingPeer()
    peer.failures["c0"] = [DeliveryError("slack down") for _ in range(50)]
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, batch_size=8)
    for n in range(200):
        put(sessions, clock, f"c{n}", ordering_key="channel-1")
    put(sessions, clock, "page")
    for _ in range(3):
        asyncio.run(worker.run_once())
        clock.advance(seconds=600)
    delivered = {key for key, _attempt in peer.calls if key != "c0"}
    assert "page" in delivered
    assert rows(sessions)["page"].status == "delivered"
    assert rows(sessions)["c1"].status == "pending"  # still behind its failing head, in order


def test_drain_does_not_wait_for_messages_backing_off(sessions: SessionFactory, clock: FrozenClock) -> None:
    peer = RecordingPeer()
    peer.failures["later"] = [DeliveryError("peer down", retry_after=600)]
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    put(sessions, clock, "later")
    put(sessions, clock, "now")
    assert asyncio.run(worker.drain(timeout=5)) is True  # the frozen clock never reaches the retry
    assert rows(sessions)["now"].status == "delivered"
    assert rows(sessions)["later"].status == "pending"


class RecordingDeliveries:
    """A deliverer whose results write a row of their own (as a Slack post stores its ts);
    the record of ``broken`` raises, as a bug in an adapter's record would."""

    def __init__(self, broken: str) -> None:
        self.broken = broken

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        key = message.idempotency_key

        def record(session: Session) -> None:
            if key == self.broken:
                raise RuntimeError("record failed")
            # Any row of its own will do: the inbox table stands alone (no incident needed).
            session.add(InboxRow(source="test", group_key=f"recorded {key}", body="{}", received_at=CREATED))

        return DeliveryResult(record=record)


CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_claims_deliveries_are_marked_in_one_transaction_and_a_failing_record_stays_in_flight(
    sessions: SessionFactory, engine: Engine, clock: FrozenClock
) -> None:
    worker = DeliveryWorker(sessions, {"peer": RecordingDeliveries(broken="m2")}, clock=clock)
    for n in range(5):
        put(sessions, clock, f"m{n}")
    commits = [0]

    def count(*_args: object) -> None:
        commits[0] += 1

    event.listen(engine, "commit", count)
    try:
        assert asyncio.run(worker.run_once()) == 5
    finally:
        event.remove(engine, "commit", count)
    assert commits[0] == 2  # the claim, then the five deliveries marked together
    stored = rows(sessions)
    assert {key: row.status for key, row in stored.items()} == {"m0": "delivered", "m1": "delivered", "m2": "in_flight", "m3": "delivered", "m4": "delivered"}
    with sessions() as session:
        recorded = sorted(session.scalars(select(InboxRow.group_key)))
    assert recorded == ["recorded m0", "recorded m1", "recorded m3", "recorded m4"]  # m2's record rolled back alone
    clock.advance(seconds=61)  # its lease runs out: delivered again, recorded this time
    worker._deliverers["peer"] = RecordingDeliveries(broken="none")
    assert asyncio.run(worker.run_once()) == 1
    assert rows(sessions)["m2"].status == "delivered"


class AnnouncingDeliveries(RecordingDeliveries):
    """Records as ``RecordingDeliveries`` and says each delivery once it is marked; the record
    of ``broken`` fails only when the database writes it (a NOT NULL column left empty)."""

    def __init__(self, broken: str, sessions: SessionFactory) -> None:
        super().__init__(broken)
        self.sessions = sessions
        self.said: list[tuple[str, str]] = []

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        key = message.idempotency_key

        def record(session: Session) -> None:
            group_key = None if key == self.broken else f"recorded {key}"
            session.add(InboxRow(source="test", group_key=group_key, body="{}", received_at=CREATED))

        def say() -> None:
            with self.sessions() as session:  # only after the mark is committed
                status = session.scalar(select(OutboxRow.status).where(OutboxRow.idempotency_key == key))
            self.said.append((key, str(status)))

        return DeliveryResult(record=record, after_commit=say)


def count_statements(engine: Engine, statements: list[str]) -> Callable[..., None]:
    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    return seen


def test_a_clean_claim_is_marked_without_a_savepoint_per_message(sessions: SessionFactory, engine: Engine, clock: FrozenClock) -> None:
    deliveries = AnnouncingDeliveries(broken="none", sessions=sessions)
    worker = DeliveryWorker(sessions, {"peer": deliveries}, clock=clock)
    for n in range(5):
        put(sessions, clock, f"m{n}")
    statements: list[str] = []
    listener = count_statements(engine, statements)
    try:
        assert asyncio.run(worker.run_once()) == 5
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert not [statement for statement in statements if "SAVEPOINT" in statement.upper()]
    assert sorted(deliveries.said) == [(f"m{n}", "delivered") for n in range(5)]


def test_a_record_the_database_refuses_is_isolated_and_said_only_once_marked(sessions: SessionFactory, clock: FrozenClock) -> None:
    deliveries = AnnouncingDeliveries(broken="m1", sessions=sessions)
    worker = DeliveryWorker(sessions, {"peer": deliveries}, clock=clock)
    for n in range(3):
        put(sessions, clock, f"m{n}")
    assert asyncio.run(worker.run_once()) == 3
    assert {key: row.status for key, row in rows(sessions).items()} == {"m0": "delivered", "m1": "in_flight", "m2": "delivered"}
    with sessions() as session:
        assert sorted(session.scalars(select(InboxRow.group_key))) == ["recorded m0", "recorded m2"]
    # Said once each (not again for the first attempt that was rolled back), never m1.
    assert sorted(deliveries.said) == [("m0", "delivered"), ("m2", "delivered")]


def test_leases_left_behind_are_looked_for_a_quarter_lease_apart_and_still_taken_again(
    sessions: SessionFactory, engine: Engine, clock: FrozenClock
) -> None:
    """Nearly every claim finds no lease left behind: looking for them on each cost a query."""
    worker = DeliveryWorker(sessions, {"peer": RecordingPeer()}, clock=clock)
    crashed = DeliveryWorker(sessions, {"peer": RecordingPeer()}, clock=clock)
    put(sessions, clock, "left behind")
    assert [message.idempotency_key for message in crashed._claim()] == ["left behind"]  # then it dies

    def lookups() -> int:
        statements: list[str] = []
        listener = count_statements(engine, statements)
        try:
            asyncio.run(worker.run_once())
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return sum(1 for statement in statements if "locked_until <" in statement)

    assert lookups() == 1  # a new worker looks at once
    clock.advance(seconds=10)
    assert lookups() == 0  # 10 s later: not yet (a quarter of the 60 s lease)
    clock.advance(seconds=51)  # the lease has run out and 15 s have passed
    assert lookups() == 1
    assert rows(sessions)["left behind"].status == "delivered"


def test_leases_left_behind_that_did_not_fit_one_claim_are_taken_by_the_next(sessions: SessionFactory, clock: FrozenClock) -> None:
    """A look that found a full claim's worth (or more than it could take) looks again on the
    next claim: the rest were left waiting a quarter lease per claim for nothing."""
    crashed = DeliveryWorker(sessions, {"peer": RecordingPeer()}, clock=clock, batch_size=4)
    for index in range(4):
        put(sessions, clock, f"k{index}")
    assert len(crashed._claim()) == 4  # then it dies
    clock.advance(seconds=61)
    peer = RecordingPeer()
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, batch_size=2)
    assert asyncio.run(worker.run_once()) == 2
    assert asyncio.run(worker.run_once()) == 2
    assert {row.status for row in rows(sessions).values()} == {"delivered"}


def test_a_delivery_that_raises_does_not_keep_the_rest_of_its_claim_from_being_marked(sessions: SessionFactory, clock: FrozenClock) -> None:
    """Something failing after a delivery (here the attempt hook) is raised to the loop, which
    logs it; the claim's deliveries are still marked, not sent again after the lease."""

    reported: list[bool] = []

    def hook(_target: str, _operation: str, ok: bool) -> None:
        reported.append(ok)
        if len(reported) == 2:  # the second delivery (one at a time: m1)
            raise RuntimeError("metrics backend broke")

    worker = DeliveryWorker(sessions, {"peer": RecordingPeer()}, clock=clock, on_attempt=hook, concurrency=1)
    for n in range(3):
        put(sessions, clock, f"m{n}")
    with pytest.raises(RuntimeError, match="metrics backend broke"):
        asyncio.run(worker.run_once())
    statuses = {key: row.status for key, row in rows(sessions).items()}
    assert statuses == {"m0": "delivered", "m1": "delivered", "m2": "delivered"}  # m1 was sent: marked too


class StallingPeer:
    """Delivers ``quick`` at once; every other message waits until cancelled (a peer that
    hangs while the process is being stopped)."""

    def __init__(self, quick: str) -> None:
        self.quick = quick
        self.sent: list[str] = []
        self.quick_sent = asyncio.Event()

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        if message.idempotency_key != self.quick:
            await asyncio.Event().wait()
        self.sent.append(message.idempotency_key)
        self.quick_sent.set()
        return DeliveryResult()


def test_a_claim_cancelled_at_shutdown_still_marks_what_it_delivered(sessions: SessionFactory, clock: FrozenClock) -> None:
    """Stopping the process cancels a claim still waiting on a peer: what it already sent is
    marked delivered, not sent a second time by the next worker after the lease."""
    peer = StallingPeer(quick="m0")
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    put(sessions, clock, "m0")
    put(sessions, clock, "m1")

    async def stop_mid_claim() -> None:
        claim = asyncio.create_task(worker.run_once())
        await asyncio.wait_for(peer.quick_sent.wait(), timeout=30)
        claim.cancel()
        with pytest.raises(asyncio.CancelledError):
            await claim

    asyncio.run(stop_mid_claim())
    assert peer.sent == ["m0"]
    statuses = {key: row.status for key, row in rows(sessions).items()}
    assert statuses == {"m0": "delivered", "m1": "in_flight"}
