"""Escalations mention Slack ids for real, so the people in the policy are notified."""

from __future__ import annotations

import pytest

from bot.chat.slack.mentions import mention, mentions_for
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.store.incidents import IncidentRepository
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import drive


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("slack_user", "U0BOB", "<@U0BOB>"),
        ("slack_user", "@U0BOB", "<@U0BOB>"),
        ("slack_user", "@bob", None),
        ("slack_group", "S0DBA", "<!subteam^S0DBA>"),
        ("slack_group", "@dba", None),
        ("slack_channel", "#C0OPS", "<#C0OPS>"),
        ("pagerduty_user", "PUBOB01", None),
    ],
)
def test_mention(kind: str, value: str, expected: str | None) -> None:
    assert mention(kind, value) == expected


def test_mentions_for_skips_labels() -> None:
    details = [{"kind": "slack_user", "value": "U0BOB"}, {"kind": "who", "value": "DBA on call"}, {"kind": "slack_group", "value": "S0DBA"}]
    assert mentions_for(details) == ["<@U0BOB>", "<!subteam^S0DBA>"]


def test_escalation_post_mentions_the_targets(slack_factory, fake_slack: FakeSlack, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    slack: Container = slack_factory(fake_slack, FIREBREAK_DEFAULT_ESCALATION="unacknowledged:1m:user:U0BOB+group:S0DBA")
    number = slack.service.declare(title="Checkout down", severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    drive(slack, clock, horizon=clock.now() - clock.now())
    clock.advance(minutes=2)
    assert slack.escalation is not None and slack.escalation.tick() == 1
    drive(slack, clock)
    with slack.sessions() as session:
        channel = str(IncidentRepository.get_row(session, number).chat_channel_id)
    post = next(m["text"] for m in fake_slack.messages(channel) if "escalated" in m.get("text", ""))
    assert "<@U0BOB>" in post and "<!subteam^S0DBA>" in post
