"""Worst first: the claim orders by (priority, id), keeps each conversation in order, and
gives channel set-up a bounded share of every batch; an incident's priority follows its
severity."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.container import Container
from bot.delivery.message import DeliveryError, DeliveryResult, OutboxMessage
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.store.db import SessionFactory
from bot.store.models import OutboxRow


class Peer:
    """Delivers everything, in the order it is asked; ``defer`` operations are paced away."""

    def __init__(self, defer: frozenset[str] = frozenset()) -> None:
        self.delivered: list[str] = []
        self.defer = defer

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        if message.operation in self.defer:
            raise DeliveryError("paced", retry_after=60.0, not_sent=True)
        self.delivered.append(message.idempotency_key)
        return DeliveryResult()


def put(
    sessions: SessionFactory,
    clock: FrozenClock,
    key: str,
    *,
    severity: Severity | None = None,
    target: str = "peer",
    operation: str = "say",
    ordering_key: str | None = None,
) -> None:
    with sessions.begin() as session:
        enqueue(
            session, target=target, operation=operation, payload={}, idempotency_key=key, now=clock.now(),
            severity=severity, ordering_key=ordering_key,
        )


def priorities(sessions: SessionFactory) -> dict[str, int]:
    with sessions() as session:
        return {row.idempotency_key: row.priority for row in session.scalars(select(OutboxRow))}


def test_enqueue_ranks_by_severity_and_no_incident_is_three(sessions: SessionFactory, clock: FrozenClock) -> None:
    for severity in Severity:
        put(sessions, clock, f"k-{severity.value}", severity=severity)
    put(sessions, clock, "k-none")
    assert priorities(sessions) == {"k-P0": 0, "k-P1": 1, "k-P2": 2, "k-P3": 3, "k-INFO": 4, "k-none": 3}


def test_the_claim_takes_the_worst_first(sessions: SessionFactory, clock: FrozenClock) -> None:
    for index in range(5):
        put(sessions, clock, f"p2-{index}", severity=Severity.P2)
    put(sessions, clock, "p3", severity=Severity.P3)
    put(sessions, clock, "p0", severity=Severity.P0)
    put(sessions, clock, "p1", severity=Severity.P1)
    peer = Peer()
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, batch_size=1)
    while asyncio.run(worker.run_once()):
        pass
    assert peer.delivered == ["p0", "p1", "p2-0", "p2-1", "p2-2", "p2-3", "p2-4", "p3"]


def test_priority_never_reorders_a_conversation(sessions: SessionFactory, clock: FrozenClock) -> None:
    # A P3 conversation's second message is (artificially) P0: it still waits for the first.
    put(sessions, clock, "talk-1", severity=Severity.P3, ordering_key="incident:1")
    put(sessions, clock, "talk-2", severity=Severity.P0, ordering_key="incident:1")
    put(sessions, clock, "other", severity=Severity.P1, ordering_key="incident:2")
    put(sessions, clock, "talk-3", severity=Severity.P3, ordering_key="incident:1")
    peer = Peer()
    worker = DeliveryWorker(sessions, {"peer": peer}, clock=clock, batch_size=1)
    while asyncio.run(worker.run_once()):
        pass
    assert peer.delivered == ["other", "talk-1", "talk-2", "talk-3"]


def test_channel_set_up_takes_a_bounded_share_of_each_claim(sessions: SessionFactory, clock: FrozenClock) -> None:
    # Hundreds of P0 channels waiting (the worst priority there is) ahead of P3 posts and a page.
    for index in range(200):
        put(sessions, clock, f"open-{index}", severity=Severity.P0, target="chat", operation="open_incident")
    for index in range(5):
        put(sessions, clock, f"post-{index}", severity=Severity.P3, target="chat", operation="post", ordering_key=f"incident:{index}")
    put(sessions, clock, "page", severity=Severity.P3, target="pagerduty", operation="page")
    chat = Peer(defer=frozenset({"open_incident"}))
    pagerduty = Peer()
    worker = DeliveryWorker(
        sessions, {"chat": chat, "pagerduty": pagerduty}, clock=clock, batch_size=8,
        setup_operations={"open_incident"}, setup_per_claim=2,
    )
    assert asyncio.run(worker.run_once()) == 8
    assert chat.delivered == [f"post-{index}" for index in range(5)]
    assert pagerduty.delivered == ["page"]
    with sessions() as session:
        attempted = session.scalars(select(OutboxRow.idempotency_key).where(OutboxRow.operation == "open_incident", OutboxRow.last_error.is_not(None)))
        assert sorted(attempted) == ["open-0", "open-1"]


def test_set_up_alone_still_moves(sessions: SessionFactory, clock: FrozenClock) -> None:
    for index in range(5):
        put(sessions, clock, f"open-{index}", target="chat", operation="open_incident")
    chat = Peer()
    worker = DeliveryWorker(sessions, {"chat": chat}, clock=clock, batch_size=8, setup_operations={"open_incident"}, setup_per_claim=2)
    claims = []
    while handled := asyncio.run(worker.run_once()):
        claims.append(handled)
    assert claims == [2, 2, 1]
    assert chat.delivered == [f"open-{index}" for index in range(5)]


def test_the_container_gives_channel_set_up_its_own_lane(container: Container, sessions: SessionFactory, clock: FrozenClock) -> None:
    """Wired: open_incident and the Tier-2 set-up steps never fill a claim; pages get through."""
    for index in range(100):
        put(sessions, clock, f"open-{index}", severity=Severity.P0, target="chat", operation="open_incident")
        put(sessions, clock, f"topic-{index}", severity=Severity.P0, target="chat", operation="set_topic")
    put(sessions, clock, "page", severity=Severity.P2, target="pagerduty", operation="page")
    put(sessions, clock, "post", severity=Severity.P2, target="chat", operation="post", ordering_key="incident:1")
    chat = Peer(defer=frozenset({"open_incident", "set_topic"}))
    pagerduty = Peer()
    container.worker.add_deliverer("chat", chat)
    container.worker.add_deliverer("pagerduty", pagerduty)
    asyncio.run(container.worker.run_once())
    assert pagerduty.delivered == ["page"]
    assert chat.delivered == ["post"]


def test_a_severity_change_moves_the_incidents_pending_rows(container: Container, clock: FrozenClock) -> None:
    service = container.service
    number = service.declare(title="Checkout slow", severity=Severity.P2, actor="am", source=Source.ALERTMANAGER).number
    other = service.declare(title="Search slow", severity=Severity.P3, actor="am", source=Source.ALERTMANAGER).number
    service.add_note(number, "looking", actor="U1", source=Source.CONSOLE)

    def ranks(incident: int) -> set[int]:
        with container.sessions() as session:
            return set(session.scalars(select(OutboxRow.priority).where(OutboxRow.incident_id == incident, OutboxRow.status == "pending")))

    assert ranks(number) == {2}
    assert ranks(other) == {3}
    service.change_severity(number, Severity.P0, actor="U1", source=Source.CONSOLE)
    assert ranks(number) == {0}
    assert ranks(other) == {3}
    service.change_severity(number, Severity.P1, actor="U1", source=Source.CONSOLE)
    assert ranks(number) == {1}


def test_delivered_rows_keep_their_priority(container: Container, clock: FrozenClock) -> None:
    service = container.service
    number = service.declare(title="Checkout slow", severity=Severity.P2, actor="am", source=Source.ALERTMANAGER).number
    assert asyncio.run(container.worker.drain())
    service.change_severity(number, Severity.P0, actor="U1", source=Source.CONSOLE)
    with container.sessions() as session:
        rows = list(session.scalars(select(OutboxRow).where(OutboxRow.incident_id == number)))
    assert {row.priority for row in rows if row.status == "delivered"} == {2}
    assert {row.priority for row in rows if row.status == "pending"} == {0}
