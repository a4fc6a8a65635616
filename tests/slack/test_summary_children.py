"""The pinned summary lists an incident's alert groups (children), worst first, within Slack's limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.chat.slack import limits
from bot.chat.slack.blocks import CHILDREN_BLOCK, summary_blocks
from bot.container import Container
from bot.domain.children import JoinedBy
from bot.domain.clock import FrozenClock
from bot.domain.incident import Role
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.store.models import OutboxRow
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_blocks import validate_blocks
from tests.fakes.slack_requests import FORM, slash_command_body
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.slack.conftest import SlackHttp, drive, outbox
from tests.slack.test_message_limits import channel_of
from tests.slack.test_summary_steps import summary_blocks as posted_summary
from tests.support.children import HOSTILE_VALUE, add_child
from tests.support.waiting import eventually


def children_block(blocks: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((block for block in blocks if block.get("block_id") == CHILDREN_BLOCK), None)


def declare(slack: Container, title: str = "Checkout latency", severity: Severity = Severity.P2, description: str = "") -> int:
    return slack.service.declare(
        title=title, severity=severity, actor="alertmanager", source=Source.ALERTMANAGER, description=description
    ).number


def joined(slack: Container, number: int, child: int, *, joined_by: str = "correlated", labels: dict[str, str] | None = None) -> None:
    """Record a GROUP_JOINED entry as ingest does, so the summary is refreshed."""
    at = slack.clock.now()
    data = {"child": child, "dedup_key": f"am:{child}", "labels": labels or {"alertname": "HighLatency"},
            "correlation": {"cluster": "eu-1"}, "joined_by": joined_by, "severity": "P1", "alerts": 2}
    entry = TimelineEntry(kind=EntryKind.GROUP_JOINED, at=at, actor="alertmanager", source=Source.ALERTMANAGER, text="", data=data)
    slack.service.apply(number, lambda _incident: [entry])


def settled(slack: Container) -> list[OutboxRow]:
    rows = outbox(slack)
    assert all(row.status == "delivered" for row in rows), [(row.operation, row.status, row.last_error) for row in rows]
    return rows


def test_one_child_leaves_the_summary_as_it_was(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = declare(slack)
    add_child(slack, number, title="HighLatency", severity=Severity.P2, joined_by=JoinedBy.OPENED, firing_alerts=3)
    drive(slack, clock)
    blocks = posted_summary(fake_slack, slack, number)
    assert children_block(blocks) is None
    incident = slack.service.get(number)
    with slack.sessions() as session:
        from bot.store import alert_groups

        one = alert_groups.children(session, number)
    assert len(one) == 1
    assert summary_blocks(incident, children=one) == summary_blocks(incident)


def test_many_children_are_listed_worst_first_with_counts(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = declare(slack)
    add_child(slack, number, title="HighLatency", severity=Severity.P2, joined_by=JoinedBy.OPENED, firing_alerts=2, resolved_alerts=1)
    drive(slack, clock)
    assert children_block(posted_summary(fake_slack, slack, number)) is None
    resolved = clock.now() + timedelta(minutes=1)
    add_child(slack, number, title="ErrorRate", severity=Severity.P1, correlation={"cluster": "eu-1"}, firing_alerts=0,
              resolved_alerts=4, resolved_at=resolved)
    add_child(slack, number, title="PodCrashLooping", severity=Severity.P1, correlation={"cluster": "eu-1"}, firing_alerts=5,
              resolved_alerts=2)
    add_child(slack, number, title="DiskFilling", severity=Severity.P3, joined_by=JoinedBy.STORM, firing_alerts=1)
    joined(slack, number, 4, joined_by="storm")
    drive(slack, clock)
    settled(slack)
    block = children_block(posted_summary(fake_slack, slack, number))
    assert block is not None
    lines = block["text"]["text"].split("\n")
    assert lines == [
        "Alert groups: 4 (P1 ×2, P2 ×1, P3 ×1; 3 firing)",
        "#3 P1 firing  PodCrashLooping cluster=eu-1 (5/7 alerts firing)",
        "#2 P1 resolved  ErrorRate cluster=eu-1 (0/4 alerts firing)",
        "#1 P2 firing  HighLatency (2/3 alerts firing)",
        "#4 P3 firing  DiskFilling (1/1 alerts firing)",
    ]
    assert block["text"]["type"] == "plain_text" and block["text"]["emoji"] is False


def test_a_storm_of_children_overflows_with_a_pointer_and_slack_accepts_it(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    slack = slack_factory(fake_slack)
    number = declare(slack, title="Storm of alerts <!channel> " + "x" * 150, severity=Severity.P1, description="p99 & <rising> " * 400)
    slack.service.assign_role(number, Role.COMMANDER, "<@U0ALICE|alice>", actor="alice", source=Source.SLACK)
    long_title = "KubePodNotReady & <pods> " + "very-long-pod-name-" * 30
    for index in range(60):
        severity = (Severity.P1, Severity.P2, Severity.P3)[index % 3]
        add_child(slack, number, title=f"{long_title}{index}", severity=severity, joined_by=JoinedBy.STORM,
                  labels={"alertname": "KubePodNotReady", "pod": f"p-{index}"}, correlation={"namespace": "ns & <x>" * 20})
    joined(slack, number, 60, joined_by="storm")
    drive(slack, clock)
    settled(slack)
    blocks = posted_summary(fake_slack, slack, number)
    validate_blocks(blocks)  # what the fake already enforced on the call, checked once more here
    block = children_block(blocks)
    assert block is not None
    text = block["text"]["text"]
    assert len(text) <= limits.SECTION_TEXT
    assert limits.block_text_size(blocks) <= limits.MESSAGE_BLOCK_TEXT
    assert text.startswith("Alert groups: 60 (P1 ×20, P2 ×20, P3 ×20; 60 firing)")
    listed = [line for line in text.split("\n") if line.startswith("#")]
    assert 1 <= len(listed) <= 10 and all(" P1 firing " in line for line in listed)
    assert text.endswith(f"… and {60 - len(listed)} more (/incident children to list all)")
    assert "KubePodNotReady & <pods>" in text  # plain text: shown as written, nothing to escape
    assert len(fake_slack.calls("chat.update")) >= 1


def test_hostile_labels_in_the_summary_show_as_text(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = declare(slack)
    add_child(slack, number, title="HighLatency", severity=Severity.P2, joined_by=JoinedBy.OPENED)
    add_child(slack, number, title=f"Evil {HOSTILE_VALUE}", severity=Severity.P1, correlation={"team": HOSTILE_VALUE})
    joined(slack, number, 2)
    drive(slack, clock)
    settled(slack)
    block = children_block(posted_summary(fake_slack, slack, number))
    assert block is not None
    text = block["text"]["text"]
    assert block["text"]["type"] == "plain_text"  # Slack parses nothing in it
    assert "@\u2060here" in text and "@U0EVE" in text and "click (https:\u2060//evil.example)" in text
    assert "<!here>" not in text and "<@U0EVE>" not in text and "https://" not in text
    assert "\x1b" not in text and "\u202e" not in text


def test_alert_text_in_the_summary_formats_nothing(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    """*bold*, _italic_, ~strike~ and `code` from an alert show as the characters they are."""
    number = declare(slack)
    add_child(slack, number, title="HighLatency", severity=Severity.P2, joined_by=JoinedBy.OPENED)
    marked = "*bold* _italic_ ~strike~ `code` ```block``` > quote :fire:"
    add_child(slack, number, title=marked, severity=Severity.P1, correlation={"team": "*ops*_x_"})
    joined(slack, number, 2)
    drive(slack, clock)
    settled(slack)
    blocks = posted_summary(fake_slack, slack, number)
    validate_blocks(blocks)
    block = children_block(blocks)
    assert block is not None
    assert block["text"]["type"] == "plain_text" and block["text"]["emoji"] is False
    assert marked in block["text"]["text"] and "team=*ops*_x_" in block["text"]["text"]


def test_a_joined_group_is_not_posted_but_refreshes_the_summary(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = declare(slack)
    add_child(slack, number, title="HighLatency", severity=Severity.P2, joined_by=JoinedBy.OPENED)
    drive(slack, clock)
    assert children_block(posted_summary(fake_slack, slack, number)) is None
    add_child(slack, number, title=f"Evil {HOSTILE_VALUE}", severity=Severity.P1)
    joined(slack, number, 2, labels={"alertname": f"Evil {HOSTILE_VALUE}"})
    add_child(slack, number, title="Folded", severity=Severity.P2, joined_by=JoinedBy.STORM)
    joined(slack, number, 3, joined_by="storm")
    drive(slack, clock)
    settled(slack)
    # In a storm a channel would take hundreds of posts: a join only refreshes the summary.
    texts = [json.dumps(m, ensure_ascii=False) for m in fake_slack.messages(channel_of(slack, number))]
    assert not [text for text in texts if "joined" in text and "alert group" in text]
    block = children_block(posted_summary(fake_slack, slack, number))
    assert block is not None
    assert "#2" in block["text"]["text"] and "#3" in block["text"]["text"]


def test_incident_children_lists_every_group_within_limits(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    number = declare(slack)
    for index in range(45):
        add_child(slack, number, title=f"Group{index:02d} {HOSTILE_VALUE}", severity=Severity.P2 if index else Severity.P0,
                  labels={"alertname": f"Group{index:02d}"})

    async def ask(line: str) -> dict[str, Any]:
        http = SlackHttp(slack)
        before = len(webhook_receiver.received)
        body = slash_command_body(line, response_url=webhook_receiver.url("/respond"))
        assert (await http.post(body, FORM)).status_code == 200
        return (await eventually(lambda: webhook_receiver.received[before:]))[0].json()

    async def scenario() -> None:
        first = await ask(f"children INC-{number}")
        second = await ask(f"children INC-{number} page 2")
        for reply in (first, second):
            validate_blocks(reply["blocks"])
            assert reply.get("response_type", "ephemeral") == "ephemeral"
            everything = json.dumps(reply, ensure_ascii=False)
            assert "<!here>" not in everything and "<@U0EVE>" not in everything and "\u202e" not in everything
        text = "\n".join(block["text"]["text"] for block in first["blocks"])
        assert f"INC-{number} — Alert groups: 45 (P0 ×1, P2 ×44; 45 firing)" in text
        assert "#1 P0 firing  Group00" in text.split("\n")[1]
        assert f"page 1 of 2; next: /incident children INC-{number} page 2" in text
        rest = "\n".join(block["text"]["text"] for block in second["blocks"])
        assert "page 2 of 2" in rest and "#45 P2 firing  Group44" in rest

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))
