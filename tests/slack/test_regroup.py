"""``/incident split`` and ``/incident merge`` typed in Slack: signed slash commands, the same
permission policy as the console, and what the merged incident's channel is left with."""

from __future__ import annotations

from collections.abc import Callable

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.store.models import IncidentRow
from tests.core.test_regroup import add_child, children_of
from tests.fakes.slack_api import FakeSlack
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.slack.conftest import drive, outbox
from tests.slack.test_permissions import ADMINS_GROUP, Ways, run, seed_people, staff


def channel_of(slack: Container, number: int) -> str:
    with slack.sessions() as session:
        row = session.get(IncidentRow, number)
        assert row is not None and row.chat_channel_id
        return row.chat_channel_id


def texts(fake: FakeSlack, channel: str) -> list[str]:
    """Each message's fallback text and block texts, joined."""
    found = []
    for message in fake.messages(channel):
        parts = [str(message.get("text") or "")]
        parts += [str((block.get("text") or {}).get("text") or "") for block in message.get("blocks") or []]
        found.append("\n".join(parts))
    return found


def test_merge_typed_in_slack_is_held_to_the_commander_then_points_and_archives(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, webhook_receiver: WebhookReceiver, clock: FrozenClock
) -> None:
    seed_people(fake_slack)
    slack = slack_factory(fake_slack, FIREBREAK_ADMINS=ADMINS_GROUP)
    ways = Ways(slack, fake_slack, webhook_receiver)
    into = slack.service.declare(title="Checkout down", severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    away = slack.service.declare(title="Payments down", severity=Severity.P2, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    add_child(slack, into, "checkout")
    add_child(slack, away, "payments")
    staff(slack, into, commander="commander")
    drive(slack, clock)
    into_channel, away_channel = channel_of(slack, into), channel_of(slack, away)
    before = (slack.service.timeline(away), children_of(slack, away))

    async def refused() -> None:
        answer = await ways.typed("member", f"merge INC-{away}", into_channel)
        assert answer.startswith("🚫 only the commander (@alice)") and "merge incidents" in answer, answer
        answer = await ways.typed("guest", "split #1", into_channel)
        assert answer.startswith("🚫 as a single-channel guest"), answer
        answer = await ways.typed("commander", f"merge INC-{into}", into_channel)
        assert "cannot be merged into itself" in answer

    run(refused)
    assert (slack.service.timeline(away), children_of(slack, away)) == before

    async def allowed() -> None:
        answer = await ways.typed("commander", f"merge INC-{away}", into_channel)
        assert answer == f"🔗 INC-{away} merged into INC-{into}: its children are now #2. INC-{away} is closed.", answer

    run(allowed)
    assert slack.service.get(away).status is Status.RESOLVED
    assert children_of(slack, into) == [(1, "am:checkout", "correlated"), (2, "am:payments", "merged")]
    drive(slack, clock)
    pointer = [text for text in texts(fake_slack, away_channel) if f"merged into INC-{into}" in text]
    assert pointer and f"<#{into_channel}>" in pointer[-1], texts(fake_slack, away_channel)[-3:]
    assert fake_slack.channel(away_channel).is_archived
    # Everything said in the merged channel went out before it was archived.
    assert [(row.operation, row.last_error) for row in outbox(slack) if row.status == "failed"] == []
    assert not fake_slack.channel(into_channel).is_archived
    taken = [text for text in texts(fake_slack, into_channel) if f"INC-{away} merged in" in text]
    assert taken and f"<#{away_channel}>" in taken[-1]  # the survivor links to the merged incident's (archived) history


def test_split_typed_in_slack_escapes_hostile_alert_names_in_its_refusal(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, webhook_receiver: WebhookReceiver, clock: FrozenClock
) -> None:
    seed_people(fake_slack)
    slack = slack_factory(fake_slack)
    ways = Ways(slack, fake_slack, webhook_receiver)
    parent = slack.service.declare(title="Checkout down", severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    add_child(slack, parent, "api", alertnames=("<!channel>*ping*",))
    add_child(slack, parent, "db", alertnames=("ReplicaLag",))
    drive(slack, clock)
    channel = channel_of(slack, parent)

    async def scenario() -> None:
        answer = await ways.typed("member", "split NoSuchAlert", channel)
        assert "no child alert name" in answer and "<!channel>" not in answer and "channel*ping*" in answer, answer
        answer = await ways.typed("member", "split ReplicaLag", channel)
        assert answer.startswith(f"✂️ #2 of INC-{parent} is now INC-"), answer

    run(scenario)
    (entry,) = [e for e in slack.service.timeline(parent) if e.kind is EntryKind.SPLIT]
    new = int(entry.data["into"])
    assert children_of(slack, new) == [(1, "am:db", "opened")]
    drive(slack, clock)
    assert channel_of(slack, new) != channel  # the split child got a channel of its own
