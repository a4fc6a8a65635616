"""An alert storm: many alerts in a few groups make one channel per group and few Slack calls.

Alerts join their group's incident as ALERT_FIRING entries (what the Alertmanager ingest
records), in webhook-sized bursts, with the worker delivering between bursts. The fake
enforces Slack's tiers (sped up 60×), so pacing and 429s are part of the measurement.
"""

from __future__ import annotations

import time
from collections import Counter

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Incident
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from tests.slack.conftest import drive, outbox

GROUPS = 6
ROUNDS = 10
ALERTS_PER_WEBHOOK = 5


def firing(clock: FrozenClock, group: int, index: int) -> TimelineEntry:
    return TimelineEntry(
        kind=EntryKind.ALERT_FIRING,
        at=clock.now(),
        actor="alertmanager",
        source=Source.ALERTMANAGER,
        text=f"HighLatency pod-{index} firing",
        data={"fingerprint": f"{group:02d}{index:04d}", "alertname": "HighLatency", "labels": {"pod": f"pod-{index}"}},
    )


def test_alert_storm_costs_one_channel_per_group_and_a_bounded_number_of_calls(
    slack_factory, make_fake_slack, clock: FrozenClock  # type: ignore[no-untyped-def]
) -> None:
    fake = make_fake_slack(rate_limit_scale=60)
    slack: Container = slack_factory(fake)
    # Pace in real time here, like the fake limits in real time (the outbox's clock is frozen).
    slack.slack.pacer._monotonic = time.monotonic
    slack.slack.pacer.max_wait = 2.0
    numbers = [
        slack.service.declare(
            title=f"HighLatency in service-{group}", severity=Severity.P2, actor="alertmanager",
            source=Source.ALERTMANAGER, dedup_key=f"group-{group}",
        ).number
        for group in range(GROUPS)
    ]
    alerts = 0
    for round_ in range(ROUNDS):
        for group, number in enumerate(numbers):
            batch = [firing(clock, group, round_ * ALERTS_PER_WEBHOOK + i) for i in range(ALERTS_PER_WEBHOOK)]

            def join(incident: Incident, batch: list[TimelineEntry] = batch) -> list[TimelineEntry]:
                return batch

            slack.service.apply(number, join)
            alerts += len(batch)
        drive(slack, clock)
        clock.advance(seconds=5)

    assert all(row.status == "delivered" for row in outbox(slack))
    channels = [c for c in fake.channels if c.name.startswith("inc-")]
    assert len(channels) == GROUPS
    calls = fake.calls()
    by_method = Counter(call.method for call in fake.calls(ok=True))
    per_alert = len(calls) / alerts
    refused = sum(1 for call in calls if call.status == 429)
    print(f"\nalert storm: {alerts} alerts in {GROUPS} groups -> {len(calls)} Slack calls "
          f"({per_alert:.3f} per alert; {refused} answered 429): {dict(by_method)}")
    # Two posts per group (summary, announcement), never one per alert; the summary is edited.
    assert by_method["chat.postMessage"] == 2 * GROUPS
    assert by_method["chat.update"] <= ROUNDS * GROUPS
    assert by_method["conversations.create"] == GROUPS
    assert by_method["auth.test"] == 1
    # create, summary, pin, topic, announce per group (nobody to invite); auth.test and the
    # incidents channel's id once.
    setup = 5 * GROUPS + 2
    # A 429 costs the refused call plus, for a retried creation or post, a look-up before repeating.
    assert len(calls) <= setup + ROUNDS * GROUPS + 3 * refused
    assert per_alert < 0.5


def test_a_burst_before_delivery_is_one_summary_update(slack: Container, fake_slack, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    number = slack.service.declare(title="Disk full", severity=Severity.P1, actor="am", source=Source.ALERTMANAGER).number
    drive(slack, clock)
    for index in range(100):
        slack.service.apply(number, lambda incident, index=index: [firing(clock, 0, index)])
    drive(slack, clock)
    assert len(fake_slack.calls("chat.update")) == 1
