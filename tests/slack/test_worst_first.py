"""Worst first against the fake Slack, whose Tier 2 limit (20 channels a minute, sped up 60×)
holds channel creation back. The fake's tiers and the pacer both run on the frozen clock, and
the pacer never waits (``max_wait = 0``): every call Slack's limits would refuse is deferred
through the outbox, so the order things happen in is exact and nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select

from bot.chat.slack.pacing import Pacer, delivering
from bot.container import Container
from bot.delivery.message import DeliveryError
from bot.domain.clock import FrozenClock, as_utc
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.store.models import OutboxRow
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import drive, outbox

SCALE = 60.0
TIER_2_INTERVAL = 60.0 / (20 * SCALE)
"""Seconds between two conversations.create calls once the burst is spent."""


@pytest.fixture
def fake(make_fake_slack: Callable[..., FakeSlack], clock: FrozenClock) -> FakeSlack:
    fake = make_fake_slack()
    fake.set_rate_limits(scale=SCALE, clock=lambda: clock.now().timestamp())
    return fake


@pytest.fixture
def held(slack_factory: Callable[..., Container], fake: FakeSlack) -> Container:
    container = slack_factory(fake)
    container.slack.pacer.max_wait = 0.0
    return container


def declare(container: Container, title: str, severity: Severity) -> int:
    return container.service.declare(title=title, severity=severity, actor="alertmanager", source=Source.ALERTMANAGER).number


def run_once(container: Container) -> int:
    return asyncio.run(container.worker.run_once())


def created(fake: FakeSlack) -> list[str]:
    """Channel names in the order Slack created them."""
    return [str(call.params.get("name")) for call in fake.calls("conversations.create", ok=True)]


def channel_of(fake: FakeSlack, number: int) -> str:
    return next(name for name in created(fake) if name.startswith(f"inc-{number}-"))


def pending_opens(container: Container) -> list[OutboxRow]:
    with container.sessions() as session:
        statement = select(OutboxRow).where(OutboxRow.operation == "open_incident", OutboxRow.status == "pending").order_by(OutboxRow.id)
        return list(session.scalars(statement))


def hold_back(container: Container, rounds: int = 8) -> None:
    """Claim without letting time pass: the burst is spent and the rest is deferred."""
    for _ in range(rounds):
        if not run_once(container):
            return


def test_a_p0_declared_after_fifty_p2s_gets_its_channel_first(held: Container, fake: FakeSlack, clock: FrozenClock) -> None:
    p2s = [declare(held, f"Disk filling on node-{index}", Severity.P2) for index in range(50)]
    hold_back(held)
    before = len(created(fake))
    assert 0 < before < 10, "Tier 2 must be holding channel creation back"
    p0 = declare(held, "Checkout is down", Severity.P0)
    drive(held, clock)
    order = created(fake)
    assert len(order) == 51
    assert order.index(channel_of(fake, p0)) == before, order[: before + 3]
    assert not fake.calls("conversations.create", ok=False), "pacing kept every creation within Tier 2"
    assert {channel_of(fake, number) for number in p2s} | {channel_of(fake, p0)} == set(order)


def test_deferred_creations_are_spread_each_to_its_turn(held: Container, fake: FakeSlack, clock: FrozenClock) -> None:
    for index in range(40):
        declare(held, f"Disk filling on node-{index}", Severity.P2)
    hold_back(held)
    waiting = pending_opens(held)
    assert len(waiting) > 30
    due: list[datetime] = sorted(as_utc(row.next_attempt_at) for row in waiting)
    assert len(set(due)) == len(due), "deferred creations must not all come due at one instant"
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(due)]
    assert min(gaps) >= TIER_2_INTERVAL * 0.99
    # And each finds its token when it comes back: one creation per turn, no 429s, no re-deferral.
    clock.set(due[0])
    run_once(held)
    assert len(created(fake)) == 40 - len(waiting) + 1
    drive(held, clock)
    assert len(created(fake)) == 40
    assert not fake.calls("conversations.create", ok=False)


def test_a_severity_change_moves_a_waiting_channel_to_the_front(held: Container, fake: FakeSlack, clock: FrozenClock) -> None:
    numbers = [declare(held, f"Disk filling on node-{index}", Severity.P2) for index in range(30)]
    hold_back(held)
    before = len(created(fake))
    raised = numbers[-1]
    held.service.change_severity(raised, Severity.P0, actor="U0SRE", source=Source.CONSOLE)
    (row,) = [row for row in pending_opens(held) if row.incident_id == raised]
    assert row.priority == 0
    drive(held, clock)
    assert created(fake).index(channel_of(fake, raised)) == before


def test_posts_into_existing_channels_proceed_while_hundreds_of_creations_wait(
    held: Container, fake: FakeSlack, clock: FrozenClock
) -> None:
    existing = [declare(held, f"Checkout slow in eu-{index}", Severity.P2) for index in range(3)]
    drive(held, clock)
    assert all(row.status == "delivered" for row in outbox(held))
    # A storm of P1s (worse than the P2s being talked about) wants 200 channels.
    storm = [declare(held, f"Node down rack-{index}", Severity.P1) for index in range(200)]
    notes = {number: held.service.add_note(number, f"rolled back {number}", actor="U0SRE", source=Source.CONSOLE) for number in existing}
    assert notes
    posted_before = len(fake.calls("chat.postMessage", ok=True))
    run_once(held)
    posts = fake.calls("chat.postMessage", ok=True)[posted_before:]
    noted = {str(call.params.get("text", "")) for call in posts}
    for number in existing:
        assert any(f"rolled back {number}" in text for text in noted), noted
    assert len(pending_opens(held)) >= 190
    # Per conversation, order holds: a storm incident's note waits for its channel and summary.
    held.service.add_note(storm[0], "first note", actor="U0SRE", source=Source.CONSOLE)
    drive(held, clock, horizon=timedelta(seconds=3))
    calls = fake.calls(ok=True)
    channel = next(call.response["channel"]["id"] for call in calls if call.method == "conversations.create" and str(call.params.get("name")).startswith(f"inc-{storm[0]}-"))
    in_channel = [call for call in calls if call.method == "chat.postMessage" and call.params.get("channel") == channel]
    assert "first note" not in str(in_channel[0].params.get("text")), "the summary comes first"
    assert any("first note" in str(call.params.get("text")) for call in in_channel[1:])
    assert len(created(fake)) < 203, "the storm is still being worked through"


def test_the_pacer_promises_turns_worst_first_and_keeps_a_turns_token() -> None:
    """Unit: deferred calls get successive turns; a P0 goes ahead of P2s already waiting,
    and when its turn comes a P2 that reaches the bucket first does not take its token."""
    now = [0.0]
    pacer = Pacer(scale=SCALE, max_wait=0.0, monotonic=lambda: now[0])

    def turn(priority: int) -> float | None:
        try:
            with delivering(priority):
                asyncio.run(pacer.wait_turn("conversations.create"))
        except DeliveryError as deferred:
            assert deferred.not_sent and deferred.retry_after is not None
            return now[0] + deferred.retry_after
        return None

    assert [turn(2) for _ in range(5)] == [None] * 5  # the burst
    p2_turns = [turn(2) for _ in range(4)]
    assert all(later - earlier >= TIER_2_INTERVAL * 0.99 for earlier, later in pairwise(p2_turns))  # type: ignore[operator]
    p0_turn = turn(0)
    assert p0_turn is not None and p0_turn <= p2_turns[0] + 1e-5  # type: ignore[operator]
    assert turn(2) > p2_turns[-1] + TIER_2_INTERVAL * 0.99  # type: ignore[operator]  # milder ones behind
    now[0] = p0_turn
    assert turn(2) is not None, "the P0's token is kept for it"
    assert turn(0) is None
