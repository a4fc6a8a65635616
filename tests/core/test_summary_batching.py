"""Batched summary refreshes: alert updates gather into one edit, and never hold back a post.

A busy alert group sends a webhook every few seconds; editing the pinned summary for each
would cost one ``chat.update`` per webhook per incident, far beyond what Slack allows a
workspace. Alert-only changes therefore queue their refresh ``FIREBREAK_SUMMARY_BATCH_SECONDS``
ahead, later ones coalesce into it, a change a person makes pulls it forward, and a waiting
refresh (it renders the incident as it is when delivered) holds back nothing said after it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bot.container import Container, build_container
from bot.delivery.message import DeliveryError, DeliveryResult, OutboxMessage
from bot.delivery.outbox import IN_FLIGHT, PENDING, enqueue
from bot.delivery.worker import DeliveryWorker
from bot.domain.clock import FrozenClock, as_utc
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.service.chat_notifications import REFRESH_SUMMARY
from bot.settings import Settings
from bot.store.db import SessionFactory
from bot.store.models import OutboxRow
from tests.conftest import make_settings

BATCH = timedelta(seconds=2)


class Peer:
    """Records what it delivered; keys listed in ``failing`` fail once (retryable)."""

    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.delivered: list[str] = []
        self._failing = set(failing)

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        if message.idempotency_key in self._failing:
            self._failing.discard(message.idempotency_key)
            raise DeliveryError("peer down", retry_after=30)
        self.delivered.append(message.idempotency_key)
        return DeliveryResult()


def say(sessions: SessionFactory, now: datetime, key: str, *, summary: bool = False, not_before: datetime | None = None) -> bool:
    with sessions.begin() as session:
        return enqueue(
            session, target="peer", operation="summary" if summary else "post", payload={"key": key}, idempotency_key=key,
            now=now, ordering_key="incident:1", coalesce_key="summary:1" if summary else None, not_before=not_before,
            severity=Severity.P1,
        )  # fmt: skip


def due_times(sessions: SessionFactory) -> dict[str, datetime]:
    with sessions() as session:
        return {row.idempotency_key: as_utc(row.next_attempt_at) for row in session.scalars(select(OutboxRow))}


def run_once(worker: DeliveryWorker) -> None:
    asyncio.run(worker.run_once())


def test_a_batched_refresh_keeps_its_time_and_takes_the_later_payloads(sessions: SessionFactory, clock: FrozenClock) -> None:
    start = clock.now()
    assert say(sessions, start, "s1", summary=True, not_before=start + BATCH)
    clock.advance(seconds=1)
    assert not say(sessions, clock.now(), "s2", summary=True, not_before=clock.now() + BATCH)
    assert due_times(sessions) == {"s1": start + BATCH}  # gathered, not pushed back by each update
    with sessions() as session:
        assert session.scalars(select(OutboxRow)).one().payload == {"key": "s2"}


def test_an_update_due_now_pulls_a_waiting_refresh_forward(sessions: SessionFactory, clock: FrozenClock) -> None:
    start = clock.now()
    say(sessions, start, "s1", summary=True, not_before=start + BATCH)
    clock.advance(seconds=0.5)
    assert not say(sessions, clock.now(), "s2", summary=True)
    assert due_times(sessions) == {"s1": clock.now()}


def test_a_waiting_refresh_holds_back_no_later_post(sessions: SessionFactory, clock: FrozenClock) -> None:
    peer = Peer()
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    say(sessions, clock.now(), "s1", summary=True, not_before=clock.now() + BATCH)
    say(sessions, clock.now(), "p1")
    run_once(worker)
    assert peer.delivered == ["p1"]
    clock.advance(seconds=2)
    run_once(worker)
    assert peer.delivered == ["p1", "s1"]


def test_archiving_waits_for_a_waiting_refresh(sessions: SessionFactory, clock: FrozenClock) -> None:
    """A merged-away channel is archived at once, but only after its summary's last edit."""
    peer = Peer()
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, closing_operations={"archive"})
    say(sessions, clock.now(), "s1", summary=True, not_before=clock.now() + BATCH)
    with sessions.begin() as session:
        enqueue(session, target="peer", operation="archive", payload={}, idempotency_key="a1", now=clock.now(), ordering_key="incident:1")
    run_once(worker)
    assert peer.delivered == []
    clock.advance(seconds=2)
    run_once(worker)
    run_once(worker)
    assert peer.delivered == ["s1", "a1"]


def test_archiving_after_the_quiet_period_waits_for_everything_about_its_incident(sessions: SessionFactory, clock: FrozenClock) -> None:
    """That archive is queued a day ahead with no conversation (it must not hold back what is
    said meanwhile); when due it still goes after every message about its incident, and only
    those: another incident's or another peer's messages do not hold it."""
    peer = Peer(failing=("p1",))
    worker = DeliveryWorker(sessions, {"peer": peer, "pager": Peer(failing=("page",))}, clock=clock, closing_operations={"archive"})
    now = clock.now()
    with sessions.begin() as session:
        enqueue(session, target="peer", operation="post", payload={}, idempotency_key="p1", now=now, incident_id=1, ordering_key="incident:1")
        enqueue(
            session, target="peer", operation="summary", payload={}, idempotency_key="s1", now=now, incident_id=1,
            ordering_key="incident:1", coalesce_key="summary:1", not_before=now + BATCH,
        )  # fmt: skip
        enqueue(session, target="peer", operation="archive", payload={}, idempotency_key="a1", now=now, incident_id=1)
        enqueue(session, target="peer", operation="archive", payload={}, idempotency_key="a2", now=now, incident_id=2)
        enqueue(session, target="pager", operation="page", payload={}, idempotency_key="page", now=now, incident_id=2)
    run_once(worker)
    assert peer.delivered == ["a2"], "p1 failed once; s1 is not due; a1 waits for both"
    clock.advance(seconds=31)
    run_once(worker)
    assert peer.delivered == ["a2", "p1"]
    run_once(worker)
    assert peer.delivered == ["a2", "p1", "s1"]
    run_once(worker)
    assert peer.delivered == ["a2", "p1", "s1", "a1"]


def test_a_merged_archive_and_a_message_queued_after_it_are_both_delivered(sessions: SessionFactory, clock: FrozenClock) -> None:
    """A merged-away channel's archive is in the incident's conversation; a note said in the
    channel after it (or PagerDuty's echo of the resolve) is queued behind it. The archive goes
    first, the note after (it then says it could not be posted, which is true): neither waits
    for the other forever."""
    peer = Peer(failing=("a1",))
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, closing_operations={"archive"})
    now = clock.now()
    with sessions.begin() as session:
        enqueue(session, target="peer", operation="post", payload={}, idempotency_key="pointer", now=now, incident_id=1, ordering_key="incident:1")
        enqueue(session, target="peer", operation="archive", payload={}, idempotency_key="a1", now=now, incident_id=1, ordering_key="incident:1")
    run_once(worker)
    run_once(worker)  # the archive fails once: retried in 30 s
    with sessions.begin() as session:
        enqueue(session, target="peer", operation="post", payload={}, idempotency_key="late-note", now=clock.now(), incident_id=1, ordering_key="incident:1")
    for _ in range(3):
        clock.advance(seconds=31)
        run_once(worker)
    assert peer.delivered == ["pointer", "a1", "late-note"]


def test_a_refresh_held_back_by_pacing_keeps_its_turn(sessions: SessionFactory, clock: FrozenClock) -> None:
    """Slack's pace deferred it (no attempt counted): a new update must not make it try again
    at once, which would only be deferred again."""
    start = clock.now()
    say(sessions, start, "s1", summary=True)
    with sessions.begin() as session:
        row = session.scalars(select(OutboxRow)).one()
        row.last_error, row.next_attempt_at = "paced: chat.update", start + timedelta(seconds=30)
    assert not say(sessions, start, "s2", summary=True)
    assert due_times(sessions) == {"s1": start + timedelta(seconds=30)}


def test_a_pulled_forward_refresh_is_delivered_at_that_moment(sessions: SessionFactory, clock: FrozenClock) -> None:
    """On a fractional second too: SQLite compares stored times as text, so the due time must
    be stored as every other time is."""
    peer = Peer()
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    clock.advance(seconds=0.25)
    say(sessions, clock.now(), "s1", summary=True, not_before=clock.now() + BATCH)
    clock.advance(seconds=0.5)
    say(sessions, clock.now(), "s2", summary=True)
    run_once(worker)
    assert peer.delivered == ["s1"]


def test_a_refresh_still_waits_for_what_was_said_before_it(sessions: SessionFactory, clock: FrozenClock) -> None:
    """The channel must exist (and the post before it be shown) before its summary is edited."""
    peer = Peer(failing=("p0",))
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    say(sessions, clock.now(), "p0")
    say(sessions, clock.now(), "s1", summary=True)
    run_once(worker)
    assert peer.delivered == []
    clock.advance(seconds=60)
    run_once(worker)
    run_once(worker)
    assert peer.delivered == ["p0", "s1"]


def test_two_renderings_of_one_summary_go_out_in_order(sessions: SessionFactory, clock: FrozenClock) -> None:
    """A refresh in flight (read before the latest change) must land before the next one."""
    peer = Peer()
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock)
    say(sessions, clock.now(), "s1", summary=True)
    with sessions.begin() as session:
        row = session.scalars(select(OutboxRow)).one()
        row.status, row.locked_until, row.locked_by, row.attempts = IN_FLIGHT, clock.now() + timedelta(seconds=60), "elsewhere", 1
    say(sessions, clock.now(), "s2", summary=True)  # a new message: the one in flight no longer coalesces
    say(sessions, clock.now(), "p3")
    run_once(worker)
    assert peer.delivered == ["p3"]  # the post is not held back; the second rendering is
    with sessions() as session:
        statuses = {row.idempotency_key: row.status for row in session.scalars(select(OutboxRow))}
    assert statuses["s2"] == PENDING


@pytest.fixture
def batching(db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[Container]:
    settings = make_settings(db_url, FIREBREAK_SUMMARY_BATCH_SECONDS=str(BATCH.total_seconds()))
    built = build_container(settings, clock=clock, transcript_stream=io.StringIO(), engine=engine)
    yield built


def alert_update(container: Container, number: int) -> None:
    entry = TimelineEntry(
        kind=EntryKind.ALERT_FIRING, at=container.clock.now(), actor="alertmanager", source=Source.ALERTMANAGER, text="1 alert firing",
        data={},
    )
    container.service.apply(number, lambda _incident: [entry])


def refreshes(container: Container) -> list[OutboxRow]:
    with container.sessions() as session:
        return list(session.scalars(select(OutboxRow).where(OutboxRow.operation == REFRESH_SUMMARY)))


def test_alert_updates_batch_their_refresh_and_a_person_pulls_it_forward(batching: Container, clock: FrozenClock) -> None:
    number = batching.service.declare(title="Checkout latency", severity=Severity.P2, actor="alertmanager", source=Source.ALERTMANAGER).number
    start = clock.now()
    alert_update(batching, number)
    clock.advance(seconds=1)
    alert_update(batching, number)
    [waiting] = refreshes(batching)
    assert waiting.status == PENDING and as_utc(waiting.next_attempt_at) == start + BATCH

    clock.advance(seconds=0.5)
    batching.service.acknowledge(number, actor="alice", source=Source.SLACK)
    [pulled] = refreshes(batching)
    assert pulled.id == waiting.id and as_utc(pulled.next_attempt_at) == clock.now()


def test_an_alert_update_that_raises_the_severity_is_refreshed_at_once(batching: Container, clock: FrozenClock) -> None:
    number = batching.service.declare(title="Checkout latency", severity=Severity.P2, actor="alertmanager", source=Source.ALERTMANAGER).number
    at = clock.now()
    firing = TimelineEntry(kind=EntryKind.ALERT_FIRING, at=at, actor="alertmanager", source=Source.ALERTMANAGER, text="1 alert firing", data={})
    raised = TimelineEntry(
        kind=EntryKind.SEVERITY_CHANGED, at=at, actor="alertmanager", source=Source.ALERTMANAGER, text="P2 → P1", data={"from": "P2", "to": "P1"}
    )
    for entries in ([raised, firing], [firing, raised]):  # whichever comes last
        batching.service.apply(number, lambda _incident, entries=entries: list(entries))
        [refresh] = [row for row in refreshes(batching) if row.status == PENDING]
        assert as_utc(refresh.next_attempt_at) == clock.now()
        with batching.sessions.begin() as session:
            session.get(OutboxRow, refresh.id).status = "delivered"  # type: ignore[union-attr]


def test_a_persons_change_is_refreshed_at_once(batching: Container, clock: FrozenClock) -> None:
    number = batching.service.declare(title="Checkout latency", severity=Severity.P2, actor="alice", source=Source.SLACK).number
    batching.service.change_severity(number, Severity.P1, actor="alice", source=Source.SLACK)
    [refresh] = refreshes(batching)
    assert as_utc(refresh.next_attempt_at) == clock.now()


def test_batching_is_on_by_default_and_bounded() -> None:
    assert Settings(_env_file=None).summary_batch_seconds == 2.0  # type: ignore[call-arg]
    for wrong in ("-1", "61", "soon"):
        with pytest.raises(ValueError):
            Settings(_env_file=None, FIREBREAK_SUMMARY_BATCH_SECONDS=wrong)  # type: ignore[call-arg]
