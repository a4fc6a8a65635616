"""Channel set-up against the fake Slack Web API: per severity, retries, failures, coalescing."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import timedelta

import pytest

from bot.container import Container
from bot.delivery.message import DeliveryError, OutboxMessage
from bot.domain.clock import FrozenClock
from bot.domain.incident import Role
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.service.oncall import OnCall
from bot.store.incidents import IncidentRepository
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import drive, outbox

LINKS = {"runbook": "https://runbooks.example.com/checkout", "dashboard": "https://grafana.example.com/d/checkout"}


def declare(slack: Container, severity: Severity = Severity.P1, title: str = "Checkout is failing", **extra: object) -> int:
    incident = slack.service.declare(
        title=title, severity=severity, actor="<@U0ALICE|alice>", source=Source.SLACK, links=dict(LINKS), **extra  # type: ignore[arg-type]
    )
    return incident.number


def refs(slack: Container, number: int) -> tuple[str | None, str | None, str | None]:
    with slack.sessions() as session:
        row = IncidentRepository.get_row(session, number)
        return row.chat_channel_id, row.chat_channel_name, row.chat_summary_ref


def methods(fake: FakeSlack) -> Counter[str]:
    return Counter(call.method for call in fake.calls(ok=True))


def test_p1_gets_a_channel_with_topic_pin_invites_bookmarks_and_announcement(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    number = declare(slack)
    drive(slack, clock)

    channel_id, name, summary_ref = refs(slack, number)
    assert name == f"inc-{number}-checkout-is-failing"
    channel = fake_slack.channel(name)
    assert channel.id == channel_id
    assert summary_ref is not None and summary_ref.startswith(f"{channel_id}:")
    summary_ts = summary_ref.split(":", 1)[1]
    assert channel.pins == [summary_ts]
    assert channel.topic.startswith("P1 · triggered · IC no commander yet")
    assert "U0ALICE" in channel.members  # the declarer
    assert sorted(b["title"] for b in channel.bookmarks) == ["dashboard", "runbook"]
    first = fake_slack.messages(name)[0]
    assert first["ts"] == summary_ts
    actions = next(b for b in first["blocks"] if b["type"] == "actions")
    assert [e["text"]["text"] for e in actions["elements"]] == ["Acknowledge", "Mitigated", "Resolve", "Escalate"]
    announcements = [m["text"] for m in fake_slack.messages("#incidents")]
    assert announcements == [f"🚨 INC-{number} [P1] Checkout is failing — join <#{channel_id}>"]
    kinds = [entry.kind for entry in slack.service.timeline(number)]
    assert kinds == [EntryKind.DECLARED, EntryKind.CHANNEL_OPENED]
    assert all(row.status == "delivered" for row in outbox(slack))


@pytest.mark.parametrize("actor", ["U0VICTIM", "<@U0VICTIM>", "<@U0VICTIM|boss>"])
def test_an_outside_senders_actor_is_not_invited(actor: str, slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    """A PagerDuty agent's display name may read like a Slack id: nobody Slack vouched for."""
    number = slack.service.declare(title="Payments down", severity=Severity.P1, actor=actor, source=Source.PAGERDUTY).number
    drive(slack, clock)
    _channel_id, name, _summary = refs(slack, number)
    assert "U0VICTIM" not in fake_slack.channel(name).members
    assert all("U0VICTIM" not in str(call.params) for call in fake_slack.calls("conversations.invite"))


def test_p3_is_announced_without_a_channel_and_its_posts_go_to_the_thread(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    number = declare(slack, Severity.P3, "Typo on the pricing page")
    slack.service.acknowledge(number, actor="<@U0BOB|bob>", source=Source.SLACK)
    drive(slack, clock)

    assert methods(fake_slack)["conversations.create"] == 0
    channel_id, _name, summary_ref = refs(slack, number)
    assert channel_id is None
    incidents = fake_slack.channel("incidents")
    announcement, reply = fake_slack.messages("#incidents")
    assert summary_ref == f"{incidents.id}:{announcement['ts']}"
    assert reply["thread_ts"] == announcement["ts"] and "acknowledged" in reply["text"]
    # The announcement is the summary: it was edited in place.
    assert announcement.get("edited") and "acknowledged" in announcement["text"]


def test_info_says_nothing_in_slack(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = declare(slack, Severity.INFO, "Disk 70% full")
    slack.service.add_note(number, "fyi", actor="x", source=Source.CONSOLE)
    drive(slack, clock)
    assert [c.method for c in fake_slack.calls() if c.method != "auth.test"] == []


def test_raising_a_p3_to_p1_opens_a_channel(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = declare(slack, Severity.P3, "Slow search")
    drive(slack, clock)
    slack.service.change_severity(number, Severity.P1, actor="<@U0BOB|bob>", source=Source.SLACK)
    drive(slack, clock)
    channel_id, _name, _ = refs(slack, number)
    assert channel_id and fake_slack.channel(f"inc-{number}-slow-search").id == channel_id
    assert methods(fake_slack)["conversations.create"] == 1


def test_name_taken_by_someone_else_uses_a_suffix(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    foreign = fake_slack.workspace.add_channel("inc-1-checkout-is-failing")
    foreign.creator = "U0CAROL"
    number = declare(slack)
    drive(slack, clock)
    _id, name, _ = refs(slack, number)
    assert name == "inc-1-checkout-is-failing-2"
    assert [c.error for c in fake_slack.calls("conversations.create")] == ["name_taken", None]


def test_retried_creation_never_makes_a_second_channel(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    """The channel was created but the summary post failed: the retry finds and reuses it."""
    fake_slack.fail_next("chat.postMessage", 500)
    number = declare(slack)
    drive(slack, clock)
    ours = [c for c in fake_slack.channels if c.name.startswith(f"inc-{number}-")]
    assert len(ours) == 1
    assert [c.ok for c in fake_slack.calls("conversations.create")] == [True]
    assert refs(slack, number)[0] == ours[0].id
    summaries = [m for m in fake_slack.messages(ours[0].id) if m.get("metadata", {}).get("event_type") == "firebreak_summary"]
    assert len(summaries) == 1


def test_retry_after_a_lost_answer_adopts_the_channel_and_its_summary(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """A first attempt reached Slack (channel and summary exist) but its answer was lost."""
    number = declare(slack)
    first = next(row for row in outbox(slack) if row.operation == "open_incident")
    channel = fake_slack.workspace.add_channel(f"inc-{number}-checkout-is-failing")
    with fake_slack.workspace.lock:
        channel.messages.append(
            {"type": "message", "user": "U0BOT", "ts": "1700000000.000100", "text": "summary",
             "metadata": {"event_type": "firebreak_summary", "event_payload": {"key": str(number)}}}
        )
    retry = OutboxMessage(first.id, first.idempotency_key, "chat", "open_incident", {"number": number}, number, attempt=2)
    result = asyncio.run(slack.slack.deliverer.deliver(retry))
    assert result.detail["created"] is False and result.detail["channel"] == channel.id
    assert fake_slack.calls("conversations.create") == []
    assert fake_slack.calls("chat.postMessage") == []


def test_one_failing_call_does_not_block_the_rest(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    fake_slack.fail_next("bookmarks.add", 500, count=3)
    fake_slack.rate_limit_next("conversations.invite", retry_after=20)
    start = clock.now()
    number = declare(slack)
    slack.service.add_note(number, "looking at the load balancer", actor="<@U0BOB|bob>", source=Source.SLACK)

    # One round: channel, then the set-up operations side by side.
    asyncio.run(slack.worker.run_once())
    asyncio.run(slack.worker.run_once())
    asyncio.run(slack.worker.run_once())
    done = {row.operation for row in outbox(slack) if row.status == "delivered"}
    assert {"open_incident", "pin_summary", "set_topic", "announce", "post"} <= done
    assert {row.operation for row in outbox(slack) if row.status == "pending"} == {"bookmark", "invite"}

    drive(slack, clock)
    assert all(row.status == "delivered" for row in outbox(slack))
    channel = fake_slack.channel(refs(slack, number)[0] or "")
    assert len(channel.bookmarks) == 2 and "U0ALICE" in channel.members
    assert fake_slack.served_5xx == 3 and fake_slack.served_429 == 1
    invite = next(row for row in outbox(slack) if row.operation == "invite")
    assert invite.attempts == 2 and clock.now() - start >= timedelta(seconds=20)  # not before Retry-After


def test_a_call_that_keeps_failing_is_reported_on_the_timeline(slack_factory, fake_slack: FakeSlack, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    slack = slack_factory(fake_slack, FIREBREAK_OUTBOX_MAX_ATTEMPTS=2)
    fake_slack.fail_next("bookmarks.add", 500, count=10)
    number = declare(slack)
    drive(slack, clock)
    failed = [entry for entry in slack.service.timeline(number) if entry.kind is EntryKind.DELIVERY_FAILED]
    assert len(failed) == 2 and all(entry.data["operation"] == "bookmark" for entry in failed)
    assert refs(slack, number)[0] is not None  # the incident went on


def test_summary_updates_coalesce_into_one_chat_update(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = declare(slack)
    drive(slack, clock)
    slack.service.acknowledge(number, actor="<@U0BOB|bob>", source=Source.SLACK)
    slack.service.change_severity(number, Severity.P0, actor="<@U0BOB|bob>", source=Source.SLACK)
    slack.service.assign_role(number, Role.COMMANDER, "<@U0CAROL|carol>", actor="<@U0BOB|bob>", source=Source.SLACK)
    slack.service.mitigate(number, actor="<@U0CAROL|carol>", source=Source.SLACK)
    drive(slack, clock)
    assert len(fake_slack.calls("chat.update")) == 1
    assert len(fake_slack.calls("conversations.setTopic")) == 2  # at open, then once for the burst
    channel = fake_slack.channel(refs(slack, number)[0] or "")
    assert channel.topic.startswith("P0 · mitigated · IC @carol · ")  # plain text: Slack formats no topic
    assert "U0CAROL" in channel.members  # invited when given the role
    summary = fake_slack.messages(channel.id)[0]
    assert "mitigated" in summary["text"]


def test_channel_is_archived_after_resolve_unless_reopened(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    first, second = declare(slack), declare(slack, title="Search is down")
    drive(slack, clock)
    slack.service.resolve(first, actor="a", source=Source.CONSOLE)
    slack.service.resolve(second, actor="a", source=Source.CONSOLE)
    slack.service.reopen(second, actor="a", source=Source.CONSOLE)
    drive(slack, clock)
    assert fake_slack.calls("conversations.archive") == []  # not before SLACK_ARCHIVE_AFTER_SECONDS
    clock.advance(seconds=86400 + 1)
    drive(slack, clock)
    archived = [c.params["channel"] for c in fake_slack.calls("conversations.archive")]
    assert archived == [refs(slack, first)[0]]


def test_upload_file_goes_to_the_incident_channel(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    from bot.chat.operations import UPLOAD_FILE, enqueue_chat

    number = declare(slack)
    drive(slack, clock)
    with slack.sessions.begin() as session:
        payload = {"number": number, "filename": "INC-1.md", "title": "Post-mortem", "content": "# INC-1\n"}
        enqueue_chat(session, UPLOAD_FILE, payload, key="pm:1", now=clock.now(), number=number)
    drive(slack, clock)
    completed = fake_slack.calls("files.completeUploadExternal", ok=True)
    assert len(completed) == 1 and completed[0].params["channel_id"] == refs(slack, number)[0]



class Rota:
    """An ``OncallDirectory`` (bot.service.oncall) with a fixed rota."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def on_call(self, escalation_policy_id: str) -> list[OnCall]:
        self.asked.append(escalation_policy_id)
        return [OnCall("Bob", "bob@example.com"), OnCall("Nobody", "nobody@example.com")]


def test_people_on_call_are_looked_up_by_email_and_invited(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    rota = Rota()
    slack.slack.deliverer.context.oncall = rota
    number = declare(slack)
    with slack.sessions.begin() as session:
        IncidentRepository.get_row(session, number).pagerduty_escalation_policy_id = "PPOLICY1"
    drive(slack, clock)
    channel = fake_slack.channel(refs(slack, number)[0] or "")
    assert rota.asked == ["PPOLICY1"]
    assert {"U0ALICE", "U0BOB"} <= set(channel.members)
    invite = fake_slack.calls("conversations.invite", ok=True)
    assert len(invite) == 1 and set(invite[0].params["users"].split(",")) == {"U0ALICE", "U0BOB"}
    assert [c.error for c in fake_slack.calls("users.lookupByEmail")] == [None, "users_not_found"]


def test_every_predictable_name_taken_beforehand_still_gets_the_incident_a_channel(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """Incident numbers come in order and an alert's title is known, so anyone in the
    workspace could make all five names first: INC-1 then had no channel ("every channel name
    is taken"). The last name ends in a random suffix queued with the open message."""
    for suffix in ("", "-2", "-3", "-4", "-5"):
        fake_slack.workspace.add_channel(f"inc-1-checkout-is-failing{suffix}").creator = "U0MALLORY"
    number = declare(slack)
    drive(slack, clock)
    channel_id, name, summary_ref = refs(slack, number)
    assert name is not None and re.fullmatch(r"inc-1-checkout-is-failing-[0-9a-f]{6}", name)
    assert fake_slack.channel(name).id == channel_id and summary_ref is not None
    assert [c.error for c in fake_slack.calls("conversations.create")] == ["name_taken", None]


def test_an_invitee_who_joined_already_does_not_keep_the_others_out(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    """Slack fails a whole conversations.invite when one user is already in the channel
    (``already_in_channel``) and invites none of the others: they are invited one by one."""
    rota = Rota()
    slack.slack.deliverer.context.oncall = rota
    fake_slack.rate_limit_next("conversations.invite", retry_after=20)
    number = declare(slack)
    with slack.sessions.begin() as session:
        IncidentRepository.get_row(session, number).pagerduty_escalation_policy_id = "PPOLICY1"
    for _ in range(3):
        asyncio.run(slack.worker.run_once())
    channel = fake_slack.channel(refs(slack, number)[0] or "")
    assert "U0BOB" not in channel.members
    with fake_slack.workspace.lock:
        channel.members.append("U0ALICE")  # the declarer opened the new channel before her invitation
    drive(slack, clock)
    assert {"U0ALICE", "U0BOB"} <= set(channel.members)
    invite = next(row for row in outbox(slack) if row.operation == "invite")
    assert invite.status == "delivered"


def test_people_the_invitation_could_not_reach_are_named_on_the_timeline(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """A refused invitee and an on-call e-mail with no Slack user are said, not dropped."""
    rota = Rota()  # Bob, and nobody@example.com who has no Slack account
    slack.slack.deliverer.context.oncall = rota
    number = slack.service.declare(title="Checkout is failing", severity=Severity.P1, actor="<@U0GHOST|ghost>", source=Source.SLACK).number
    with slack.sessions.begin() as session:
        IncidentRepository.get_row(session, number).pagerduty_escalation_policy_id = "PPOLICY1"
    drive(slack, clock)
    channel = fake_slack.channel(refs(slack, number)[0] or "")
    assert "U0BOB" in channel.members
    failed = [entry for entry in slack.service.timeline(number) if entry.kind is EntryKind.DELIVERY_FAILED]
    assert len(failed) == 1
    assert "U0GHOST (user_not_found)" in failed[0].text and "nobody@example.com" in failed[0].text
    assert any("could not invite" in message["text"] for message in fake_slack.messages(channel.id))
    assert all(row.status == "delivered" for row in outbox(slack))


def test_a_lone_invitee_slack_refuses_is_named_on_the_timeline_and_in_the_channel(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """A role given to someone Slack will not invite is one user in the call: refused like
    any other, said on the timeline and in the channel, not a failed delivery."""
    number = declare(slack)
    drive(slack, clock)
    channel = fake_slack.channel(refs(slack, number)[0] or "")
    slack.service.assign_role(number, Role.SCRIBE, "<@U0GHOST|ghost>", actor="<@U0ALICE|alice>", source=Source.SLACK)
    drive(slack, clock)
    (failed,) = [entry for entry in slack.service.timeline(number) if entry.kind is EntryKind.DELIVERY_FAILED]
    assert failed.text == "could not invite U0GHOST (user_not_found)"
    assert any("could not invite U0GHOST" in message["text"] for message in fake_slack.messages(channel.id))
    assert all(row.status == "delivered" for row in outbox(slack))


def test_a_channel_the_app_was_removed_from_is_joined_again_for_topic_and_invites(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """Someone removed the app from the incident channel: conversations.setTopic and
    conversations.invite answer not_in_channel; Firebreak joins again and carries on."""
    number = declare(slack)
    drive(slack, clock)
    channel = fake_slack.channel(refs(slack, number)[0] or "")
    with fake_slack.workspace.lock:
        channel.members.remove("U0BOT")
    slack.service.assign_role(number, Role.COMMANDER, "<@U0CAROL|carol>", actor="<@U0ALICE|alice>", source=Source.SLACK)
    drive(slack, clock)
    assert "U0CAROL" in channel.members and "U0BOT" in channel.members
    assert "IC @carol" in channel.topic
    assert all(row.status == "delivered" for row in outbox(slack))


def test_a_deleted_summary_is_posted_again_and_pinned(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    """chat.update answers message_not_found once someone deleted the pinned summary: the
    summary is posted again (and pinned) instead of every later refresh failing."""
    number = declare(slack)
    drive(slack, clock)
    channel_id, _name, summary_ref = refs(slack, number)
    channel = fake_slack.channel(channel_id or "")
    old_ts = (summary_ref or "").split(":", 1)[1]
    with fake_slack.workspace.lock:
        channel.messages[:] = [m for m in channel.messages if m["ts"] != old_ts]
        channel.pins.remove(old_ts)
    slack.service.acknowledge(number, actor="<@U0BOB|bob>", source=Source.SLACK)
    drive(slack, clock)
    _channel, _name, new_ref = refs(slack, number)
    new_ts = (new_ref or "").split(":", 1)[1]
    assert new_ts != old_ts and channel.pins == [new_ts]
    summary = next(m for m in channel.messages if m["ts"] == new_ts)
    assert summary["metadata"]["event_type"] == "firebreak_summary" and "acknowledged" in summary["text"]
    assert all(row.status == "delivered" for row in outbox(slack))
    assert not [e for e in slack.service.timeline(number) if e.kind is EntryKind.DELIVERY_FAILED]


class RefusingRota:
    async def on_call(self, escalation_policy_id: str) -> list[OnCall]:
        raise DeliveryError("PagerDuty refused the request (403): no access", retryable=False)


def test_an_on_call_lookup_refused_for_good_still_invites_the_others(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    """PagerDuty refusing the on-call lookup (a deleted policy, a token without access) must
    not keep the declarer and the role holders out: they are invited, the gap is said."""
    slack.slack.deliverer.context.oncall = RefusingRota()
    number = declare(slack)
    with slack.sessions.begin() as session:
        IncidentRepository.get_row(session, number).pagerduty_escalation_policy_id = "PGONE01"
    drive(slack, clock)
    channel = fake_slack.channel(refs(slack, number)[0] or "")
    assert "U0ALICE" in channel.members
    (failed,) = [e for e in slack.service.timeline(number) if e.kind is EntryKind.DELIVERY_FAILED]
    assert "escalation policy PGONE01" in failed.text and "403" in failed.text
    assert all(row.status == "delivered" for row in outbox(slack))


def test_more_than_a_thousand_invitees_go_in_batches_and_slacks_own_errors_are_retried(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """conversations.invite takes at most 1000 users (too_many_users); and a one-by-one
    invitation that meets Slack's internal_error is tried again, not reported as refused."""
    number = declare(slack)
    drive(slack, clock)
    channel_id = refs(slack, number)[0] or ""
    people = [fake_slack.add_user(f"responder{i}", user_id=f"U1{i:06d}")["id"] for i in range(1001)]
    invite = OutboxMessage(9999, "k:invite", "chat", "invite", {"number": number, "user_ids": people, "emails": []}, number, attempt=1)
    asyncio.run(slack.slack.deliverer.deliver(invite))
    assert set(people) <= set(fake_slack.channel(channel_id).members)
    assert [len(c.params["users"].split(",")) for c in fake_slack.calls("conversations.invite")][-2:] == [1000, 1]

    fake_slack.fail_next("conversations.invite", status=200, count=2, error="internal_error")
    late = [fake_slack.add_user("late1", user_id="U2000001")["id"], fake_slack.add_user("late2", user_id="U2000002")["id"]]
    again = OutboxMessage(9998, "k:invite2", "chat", "invite", {"number": number, "user_ids": late, "emails": []}, number, attempt=1)
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(slack.slack.deliverer.deliver(again))
    assert caught.value.retryable


def test_an_invitation_into_a_channel_archived_by_hand_blames_nobody(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    """``is_archived`` is the channel's answer, not the person's: it read "could not invite
    U0CAROL (is_archived)" on the timeline, as if Carol had refused."""
    number = declare(slack)
    drive(slack, clock)
    channel = fake_slack.channel(refs(slack, number)[0] or "")
    with fake_slack.workspace.lock:
        channel.is_archived = True
    slack.service.assign_role(number, Role.COMMANDER, "<@U0CAROL|carol>", actor="<@U0ALICE|alice>", source=Source.SLACK)
    slack.service.assign_role(number, Role.SCRIBE, "<@U0GHOST|ghost>", actor="<@U0ALICE|alice>", source=Source.SLACK)
    drive(slack, clock)
    # (Posts into it fail as before: that is said as a delivery that could not be made.)
    assert not [entry for entry in slack.service.timeline(number) if entry.text.startswith("could not invite")]
    invites = [row for row in outbox(slack) if row.operation == "invite"]
    assert invites and all(row.status == "delivered" for row in invites)
