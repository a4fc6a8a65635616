"""Batched summary refreshes against the fake Slack: one ``chat.update`` for a burst of alert
updates, and a refresh overtaken by the channel's archiving is dropped, not failed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import drive, outbox
from tests.slack.test_regroup import channel_of


def alert_update(container: Container, number: int, text: str) -> None:
    entry = TimelineEntry(kind=EntryKind.ALERT_FIRING, at=container.clock.now(), actor="alertmanager", source=Source.ALERTMANAGER, text=text, data={})
    container.service.apply(number, lambda _incident: [entry])


def summary_updates(fake: FakeSlack, channel: str) -> int:
    return sum(int(message.get("_update_count", 0)) for message in fake.messages(channel))


def test_a_burst_of_alert_updates_costs_one_summary_edit(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    slack = slack_factory(fake_slack, FIREBREAK_SUMMARY_BATCH_SECONDS="2")
    number = slack.service.declare(title="Checkout latency", severity=Severity.P1, actor="alertmanager", source=Source.ALERTMANAGER).number
    drive(slack, clock)
    channel = channel_of(slack, number)
    before = summary_updates(fake_slack, channel)
    for n in range(5):
        alert_update(slack, number, f"{n + 1} alerts firing")
        asyncio.run(slack.worker.run_once())  # the worker is idle and looking: nothing is due yet
        clock.advance(seconds=0.3)
    assert summary_updates(fake_slack, channel) == before
    drive(slack, clock)
    assert summary_updates(fake_slack, channel) == before + 1


def test_a_refresh_overtaken_by_archiving_is_dropped_not_failed(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    slack = slack_factory(fake_slack, FIREBREAK_SUMMARY_BATCH_SECONDS="2")
    number = slack.service.declare(title="Checkout latency", severity=Severity.P1, actor="alertmanager", source=Source.ALERTMANAGER).number
    drive(slack, clock)
    channel = channel_of(slack, number)
    alert_update(slack, number, "1 alert firing")
    fake_slack.channel(channel).is_archived = True  # archived while the refresh waited
    drive(slack, clock)
    assert {row.status for row in outbox(slack)} == {"delivered"}
    assert EntryKind.DELIVERY_FAILED not in {entry.kind for entry in slack.service.timeline(number)}
