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


def test_group_handles_are_resolved_to_user_group_mentions(  # type: ignore[no-untyped-def]
    slack_factory, fake_slack: FakeSlack, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """``@oncall-primary`` in the policy is a user group handle: usergroups.list names its id and the
    post mentions ``<!subteam^ID>``; a handle Slack does not know stays text, is said to be unresolved
    and is logged at warning. One usergroups.list serves every post while cached."""
    group = fake_slack.add_usergroup(["U0BOB"], handle="oncall-primary", name="On-call primary")
    slack: Container = slack_factory(
        fake_slack, FIREBREAK_DEFAULT_ESCALATION="unacknowledged:1m:@oncall-primary+@oncall-ghost,unresolved:2m:@oncall-primary"
    )
    number = slack.service.declare(title="Checkout down", severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    drive(slack, clock, horizon=clock.now() - clock.now())
    with caplog.at_level("WARNING"):
        clock.advance(minutes=3)
        assert slack.escalation is not None and slack.escalation.tick() == 2
        drive(slack, clock)
    with slack.sessions() as session:
        channel = str(IncidentRepository.get_row(session, number).chat_channel_id)
    posts = [m for m in fake_slack.messages(channel) if "escalated" in m.get("text", "")]
    assert len(posts) == 2
    first = " ".join(str(block.get("text", {}).get("text", "")) for block in posts[0]["blocks"])
    assert f"<!subteam^{group}>" in first and f"<!subteam^{group}>" in posts[0]["text"]
    assert "could not resolve the Slack user group @oncall-ghost" in first and "<!subteam^" not in first.split("could not")[1]
    assert f"<!subteam^{group}>" in posts[1]["text"] and "could not resolve" not in str(posts[1]["blocks"])
    assert len(fake_slack.calls("usergroups.list")) == 1
    warned = [r for r in caplog.records if "oncall-ghost" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == "WARNING"


def test_usergroups_list_answers_in_the_documented_shape(fake_slack: FakeSlack) -> None:
    from slack_sdk import WebClient

    group = fake_slack.add_usergroup(["U0BOB", "U0CAROL"], handle="dba", name="DBAs")
    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    answer = client.usergroups_list(include_users=True, include_count=True)
    assert answer["ok"] is True
    found = [g for g in answer["usergroups"] if g["id"] == group]
    assert found and found[0]["handle"] == "dba" and found[0]["name"] == "DBAs"
    assert found[0]["users"] == ["U0BOB", "U0CAROL"] and found[0]["user_count"] == 2 and found[0]["is_usergroup"] is True
