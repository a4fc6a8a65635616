"""A flag reaction on a thread reply finds the reply through its thread parent."""

from __future__ import annotations

from typing import Any

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.timeline import EntryKind
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import JSON, event_callback_body, reaction_added_event
from tests.slack.conftest import SlackHttp
from tests.slack.test_events_endpoint import open_channel, run
from tests.support.waiting import eventually

PARENT = "1700000001.000100"
REPLY = "1700000001.000300"
LATER = "1700000001.000500"


def seed_thread(fake: FakeSlack, channel: str) -> None:
    """A person's message with two replies in its thread, shaped as Slack stores them."""
    with fake.workspace.lock:
        messages = fake.channel(channel).messages
        messages.append(
            {"type": "message", "user": "U0BOB", "ts": PARENT, "text": "Error rate is climbing",
             "thread_ts": PARENT, "reply_count": 2, "latest_reply": LATER}
        )
        messages.append({"type": "message", "user": "U0CAROL", "ts": REPLY, "thread_ts": PARENT, "text": "Rolled back to v41"})
        messages.append({"type": "message", "user": "U0BOB", "ts": LATER, "thread_ts": PARENT, "text": "Errors back to normal"})


def test_a_reaction_on_a_thread_reply_flags_that_reply(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    async def scenario() -> None:
        number, channel = await open_channel(slack, clock)
        seed_thread(fake_slack, channel)
        http = SlackHttp(slack)

        def flagged() -> list[Any]:
            return [e for e in slack.service.timeline(number) if e.kind is EntryKind.MESSAGE_FLAGGED]

        await http.post(event_callback_body(reaction_added_event("pushpin", user="U0ALICE", channel=channel, ts=REPLY)), JSON)
        entries = await eventually(flagged)
        assert entries[0].data["text"] == "Rolled back to v41" and entries[0].data["author"] == "<@U0CAROL>"
        assert entries[0].data["permalink"] == (
            f"https://firebreak-test.slack.com/archives/{channel}/p{REPLY.replace('.', '')}?thread_ts={PARENT}&cid={channel}"
        )
        replies = fake_slack.calls("conversations.replies", ok=True)
        assert replies and all(call.params["ts"] == PARENT for call in replies)

        # The thread's parent itself is a top-level message: found in history.
        await http.post(event_callback_body(reaction_added_event("pushpin", user="U0ALICE", channel=channel, ts=PARENT)), JSON)
        entries = await eventually(lambda: len(flagged()) == 2 and flagged())
        assert {e.data["text"] for e in entries} == {"Rolled back to v41", "Error rate is climbing"}

    run(scenario)


def test_replies_refuses_a_reply_ts_as_slack_does(fake_slack: FakeSlack) -> None:
    """The old call (replies with the reacted message's own ts) finds nothing."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    channel = fake_slack.channel("incidents").id
    seed_thread(fake_slack, channel)
    try:
        client.conversations_replies(channel=channel, ts=REPLY)
    except SlackApiError as error:
        assert error.response["error"] == "thread_not_found"
    else:
        raise AssertionError("conversations.replies accepted a reply's ts")
    thread = client.conversations_replies(channel=channel, ts=PARENT)["messages"]
    assert [m["ts"] for m in thread] == [PARENT, REPLY, LATER]
