"""Nothing is lost to Slack's size limits: long posts are split, huge ones cut and uploaded.

The fake Slack refuses what Slack refuses (``invalid_blocks``, ``msg_too_long``,
``msg_blocks_too_long``), so a message that reaches it whole was inside every limit.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.slack import limits
from bot.chat.slack.blocks import StepView, summary_blocks
from bot.chat.slack.messaging import POST_EVENT, reply_message
from bot.container import Container
from bot.delivery.message import DeliveryError, OutboxMessage
from bot.delivery.outbox import enqueue
from bot.domain.clock import FrozenClock
from bot.domain.incident import Incident, Role, Status
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.service.chat_notifications import CHAT, POST, ordering_key
from bot.store.incidents import IncidentRepository
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_blocks import validate_blocks
from tests.fakes.slack_requests import FORM, slash_command_body
from tests.fakes.slack_state import SlackError
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.slack.conftest import SlackHttp, drive
from tests.support.waiting import eventually


def channel_of(slack: Container, number: int) -> str:
    with slack.sessions() as session:
        return str(IncidentRepository.get_row(session, number).chat_channel_id)


def guide_text(steps: int = 60) -> str:
    """A playbook guide as the guide renderer lays it out, with long steps and a command each."""
    lines = [f"Playbook db-failover: Database failover — 0/{steps} steps settled", f"Phase 1/1: Fail over ({steps} steps)"]
    for number in range(1, steps + 1):
        detail = f"check replica lag < 5s & the primary's WAL position on db-{number:02d} before promoting; " * 12
        lines.append(f"  [ ] {number}. Step {number}: {detail.strip()}")
        lines.append(f"        `kubectl -n db exec db-{number:02d} -- pg_ctl promote`")
    lines.append("Mark steps: `/incident step done <n>` · `/incident step skip <n>`")
    return "\n".join(lines)


def guide_payload(number: int, text: str) -> dict[str, Any]:
    return {"number": number, "entry_id": 1, "kind": "playbook_guide", "text": text, "actor": "firebreak", "source": "system", "data": {}}


def queue(slack: Container, payload: dict[str, Any], *, key: str) -> None:
    """Queue a post as the guide poster does (same conversation, same order)."""
    with slack.sessions.begin() as session:
        enqueue(session, target=CHAT, operation=POST, payload=payload, idempotency_key=key, now=slack.clock.now(),
                incident_id=payload["number"], ordering_key=ordering_key(payload["number"]))


def deliver(slack: Container, clock: FrozenClock, payload: dict[str, Any], *, key: str, attempt: int) -> None:
    """One outbox delivery as the worker makes it: paced deferrals are retried, as retries."""
    for tries in range(attempt, attempt + 20):
        message = OutboxMessage(id=10_000, idempotency_key=key, target="chat", operation="post", payload=payload, incident_id=payload["number"], attempt=tries)
        try:
            asyncio.run(slack.slack.deliverer.deliver(message))
            return
        except DeliveryError as error:
            if error.retry_after is None:
                raise
            clock.advance(seconds=error.retry_after + 1)
    raise AssertionError("the delivery never went through")


def block_texts(message: dict[str, Any]) -> str:
    return "\n".join(str((block.get("text") or {}).get("text") or "") for block in message.get("blocks") or [])


def test_a_60_step_guide_reaches_slack_whole_in_several_messages(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = slack.service.declare(title="DB down", severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    drive(slack, clock)
    text = guide_text()
    assert len(text) > 60_000
    queue(slack, guide_payload(number, text), key="chat:guide:test")
    drive(slack, clock)
    assert not fake_slack.calls("chat.postMessage", ok=False)
    parts = [m for m in fake_slack.messages(channel_of(slack, number)) if str((m.get("metadata") or {}).get("event_payload", {}).get("key", "")).startswith("chat:guide:test")]
    assert 1 < len(parts) <= 8
    shown = "\n".join(block_texts(m) for m in parts)
    for step in range(1, 61):
        assert f"[ ] {step}. Step {step}:" in shown and f"db-{step:02d} -- pg_ctl promote" in shown
    assert "&lt; 5s &amp; the primary" in shown  # escaped, not cut
    assert not fake_slack.calls("files.completeUploadExternal")


def test_a_retried_split_post_sends_only_the_parts_slack_lacks(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = slack.service.declare(title="DB down", severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    drive(slack, clock)
    channel = channel_of(slack, number)
    payload = guide_payload(number, guide_text())
    queue(slack, payload, key="chat:guide:retry")
    drive(slack, clock)

    def ours() -> list[dict[str, Any]]:
        return [m for m in fake_slack.messages(channel) if str((m.get("metadata") or {}).get("event_payload", {}).get("key", "")).startswith("chat:guide:retry")]

    total = len(ours())
    with fake_slack.workspace.lock:  # Slack got only the first part before the crash
        keep = ours()[0]["ts"]
        messages = fake_slack.channel(channel).messages
        messages[:] = [m for m in messages if m["ts"] == keep or not str((m.get("metadata") or {}).get("event_payload", {}).get("key", "")).startswith("chat:guide:retry")]
    posts_before = len(fake_slack.calls("chat.postMessage", ok=True))
    deliver(slack, clock, payload, key="chat:guide:retry", attempt=2)
    assert len(fake_slack.calls("chat.postMessage", ok=True)) - posts_before == total - 1
    keys = [m["metadata"]["event_payload"]["key"] for m in ours()]
    assert len(keys) == total == len(set(keys))
    history = fake_slack.calls("conversations.history", ok=True)
    assert history and history[-1].params.get("include_all_metadata") in (True, "true", "1", 1)
    assert {m["metadata"]["event_type"] for m in ours()} == {POST_EVENT}


def test_a_huge_pagerduty_note_is_cut_with_a_pointer_and_uploaded_whole(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = slack.service.declare(title="Payments", severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    drive(slack, clock)
    note = ("<&>" * 8_333 + "<@U0VICTIM> end")[:25_000]
    escaped = note.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert len(escaped) > 100_000
    slack.service.add_note(number, note, actor="PagerDuty", source=Source.PAGERDUTY)
    drive(slack, clock)
    assert not fake_slack.calls("chat.postMessage", ok=False)
    posted = [m for m in fake_slack.messages(channel_of(slack, number)) if "📝" in m.get("text", "")]
    assert len(posted) == 1
    body = block_texts(posted[0])
    assert "the full text (25,000 characters) follows as a file" in body and len(body) <= limits.SECTION_TEXT
    files = [f for f in fake_slack.workspace.files.values() if f.get("_content")]
    assert len(files) == 1 and files[0]["_content"].decode() == note
    assert "<@U0VICTIM>" not in str(posted[0])


def incident_with(description: str, steps: int = 0) -> tuple[Incident, list[StepView]]:
    now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    incident = Incident(number=7, title="<@U0VICTIM> " + "x" * 400, severity=Severity.P1, status=Status.TRIGGERED,
                        source=Source.ALERTMANAGER, created_at=now, description=description)
    incident.roles[Role.COMMANDER] = "<@U0ALICE|alice>"
    views = [StepView(number=i, text=f"step {i} " + "do the thing & check <it> " * 60) for i in range(1, steps + 1)]
    return incident, views


def test_the_summary_stays_inside_every_block_limit_with_60_long_steps() -> None:
    incident, steps = incident_with("<@U0VICTIM> & " * 2_000, steps=60)
    blocks = summary_blocks(incident, steps=steps)
    validate_blocks(blocks)  # raises SlackError as Slack would refuse
    shown = [b for b in blocks if str(b.get("block_id", "")).startswith("incident_step")]
    assert 0 < len(shown) < 60
    assert f"and {60 - len(shown)} more steps" in str(blocks)
    assert "/incident export` has the full text" in str(blocks)


def test_a_long_status_reply_is_one_message_inside_the_limits(slack: Container) -> None:
    number = slack.service.declare(title="Search slow", severity=Severity.P2, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    for index in range(400):
        slack.service.add_note(number, f"note {index}: " + "p99 > 2s & <rising> " * 10, actor="<@U0BOB|bob>", source=Source.SLACK)
    from bot.chat.commands import CommandContext

    reply = slack.commands.handle(f"/incident status INC-{number}", CommandContext(actor="<@U0ALICE|alice>", source=Source.SLACK))
    long_text = reply.text + "\n" + "\n".join(f"line {i}: " + "<!channel> & " * 30 for i in range(300))
    message = reply_message(long_text)
    validate_blocks(message["blocks"])
    assert len(message["text"]) <= limits.MESSAGE_TEXT
    assert "`/incident export` has the full text" in block_texts(message)
    assert "<!channel>" not in str(message)


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "invalid_blocks"),
        ([{"type": "divider"}] * 51, "invalid_blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "invalid_blocks"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "invalid_blocks"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}], "invalid_blocks"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 11}], "invalid_blocks"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "invalid_blocks"),
        ([{"type": "actions", "elements": [{"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "x" * 76}}]}], "invalid_blocks"),
        ([{"type": "actions", "elements": [{"type": "button", "action_id": "a", "value": "v" * 2001, "text": {"type": "plain_text", "text": "x"}}]}], "invalid_blocks"),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}], "invalid_blocks"),
        ([{"type": "section", "block_id": "b" * 256, "text": {"type": "mrkdwn", "text": "x"}}], "invalid_blocks"),
        ([{"type": "section", "text": {"type": "plain_text", "text": "x", "verbatim": True}}], "invalid_blocks"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] * 5, "msg_blocks_too_long"),
    ],
)
def test_the_fake_refuses_blocks_slack_refuses(blocks: list[dict[str, Any]], error: str) -> None:
    with pytest.raises(SlackError) as caught:
        validate_blocks(blocks)
    assert caught.value.code == error


def test_the_fake_refuses_over_the_api(fake_slack: FakeSlack) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    for arguments, error in (
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2_900}}] * 5}, "msg_blocks_too_long"),
    ):
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="incidents", **arguments)
        assert caught.value.response["error"] == error


def test_incident_status_in_slack_is_neutralised_and_fits(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    description = "pinging <@U0VICTIM> and <!channel> \x1b[2J\u202e " + "p99 > 2s & rising; " * 3_000
    number = slack.service.declare(title="Latency <@U0VICTIM>", severity=Severity.P2, actor="alertmanager",
                                   source=Source.ALERTMANAGER, description=description).number

    async def scenario() -> None:
        http = SlackHttp(slack)
        body = slash_command_body(f"status INC-{number}", response_url=webhook_receiver.url("/respond"))
        assert (await http.post(body, FORM)).status_code == 200
        reply = (await eventually(lambda: webhook_receiver.received))[0].json()
        validate_blocks(reply["blocks"])
        assert len(reply["text"]) <= limits.MESSAGE_TEXT
        everything = json.dumps(reply, ensure_ascii=False)
        assert "<@U0VICTIM>" not in everything and "<!channel>" not in everything
        assert "\x1b" not in everything and "\u202e" not in everything
        assert "`/incident export` has the full text" in everything
        assert all(block["text"].get("verbatim") is True for block in reply["blocks"])

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def test_the_declare_modal_is_inside_the_view_limits_the_fake_enforces(fake_slack: FakeSlack) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from bot.chat.slack.blocks import declare_modal

    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    assert client.views_open(trigger_id="1.2.abc", view=declare_modal(channel_id="C1"))["ok"]
    too_long = {**declare_modal(), "title": {"type": "plain_text", "text": "Declare a brand new incident now"}}
    with pytest.raises(SlackApiError) as caught:
        client.views_open(trigger_id="1.2.abc", view=too_long)
    assert caught.value.response["error"] == "invalid_arguments"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "bb", " ", "\n", "&amp;", "&lt;", "x" * 50]), max_size=400).map("".join), st.integers(20, 300))
def test_splitting_loses_no_text_and_keeps_every_piece_in_its_limit(text: str, limit: int) -> None:
    pieces = limits.split_text(text, limit)
    assert all(len(piece) <= limit for piece in pieces)
    assert not any(re.search(r"&(?!amp;|lt;)", piece) for piece in pieces)  # no entity cut in half
    assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", text)
    for group in limits.pack(pieces, budget=limit * 3, max_blocks=4):
        assert len(group) <= 4 and sum(map(len, group)) <= max(limit * 3, max(map(len, group)))
