"""History needs membership, and topics are plain text with names."""

from __future__ import annotations

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Role
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import drive, outbox
from tests.slack.test_channel_setup import declare, refs


def leave(fake: FakeSlack, channel: str) -> None:
    with fake.workspace.lock:
        fake.channel(channel).members.remove(fake.workspace.bot_user_id)


def test_a_retried_announcement_joins_before_reading_history(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    leave(fake_slack, "incidents")
    fake_slack.fail_next("chat.postMessage", status=500)  # the first attempt may or may not have landed
    declare(slack, Severity.P3, title="Search is slow")
    drive(slack, clock)
    assert all(row.status == "delivered" for row in outbox(slack))
    refused = [c for c in fake_slack.calls("conversations.history") if c.error == "not_in_channel"]
    assert refused, "the retry should have looked at history first"
    assert fake_slack.calls("conversations.join", ok=True)
    announcements = [m for m in fake_slack.messages("incidents") if "Search is slow" in m.get("text", "")]
    assert len(announcements) == 1
    assert fake_slack.workspace.bot_user_id in fake_slack.channel("incidents").members


def test_the_announcement_of_a_channel_joins_the_incidents_channel(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    leave(fake_slack, "incidents")
    declare(slack, Severity.P1)
    drive(slack, clock)
    assert all(row.status == "delivered" for row in outbox(slack))
    assert [c.error for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == fake_slack.channel("incidents").id][:1] == ["not_in_channel"]
    assert any("join <#" in m.get("text", "") for m in fake_slack.messages("incidents"))


def test_a_private_announcement_channel_without_the_app_fails_naming_the_fix(
    slack_factory: object, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    with fake_slack.workspace.lock:
        fake_slack.workspace.add_channel("sre-private", is_private=True, bot_is_member=False)
    slack = slack_factory(fake_slack, SLACK_INCIDENTS_CHANNEL="#sre-private")  # type: ignore[operator]
    declare(slack, Severity.P3, title="Search is slow")
    drive(slack, clock)
    failed = [row for row in outbox(slack) if row.status != "delivered"]
    assert failed and all("invite the Firebreak app" in str(row.last_error) for row in failed)
    assert not [c for c in fake_slack.calls("chat.postMessage", ok=True) if "Search is slow" in str(c.params)]


def test_topics_name_people_and_stay_plain_text(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = declare(slack, title="<!channel> checkout \u202edown https://evil.example")
    drive(slack, clock)
    slack.service.assign_role(number, Role.COMMANDER, "<@U0CAROL>", actor="<@U0BOB|bob>", source=Source.SLACK)
    drive(slack, clock)
    topic = fake_slack.channel(refs(slack, number)[0] or "").topic
    assert topic.startswith("P1 · triggered · IC @carol · ")  # name from users.info: the role holds only an id
    assert "<@U0CAROL>" not in topic and "<!channel>" not in topic and "\u202e" not in topic
    assert "https://evil" not in topic  # a word joiner keeps clients from making it a link
    assert fake_slack.calls("users.info", ok=True)
