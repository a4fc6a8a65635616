"""``POST /slack/events``: signatures, /incident, the declare modal, buttons, reactions, mentions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bot.chat.commands import CommandContext, Reply
from bot.chat.grammar import ParsedCommand
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Role, Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    FORM,
    JSON,
    app_mention_event,
    block_actions_body,
    event_callback_body,
    reaction_added_event,
    select_value,
    slash_command_body,
    text_input_value,
    trigger_id,
    view_submission_body,
)
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.slack.conftest import SlackHttp, adrive
from tests.support.waiting import eventually, new_tasks_finish


def answered_at(body: bytes, url: str) -> bytes:
    """The same interaction, with its response_url pointing at our receiver."""
    form = dict(parse_qsl(body.decode()))
    payload = json.loads(form["payload"])
    payload["response_url"] = url
    return urlencode({"payload": json.dumps(payload)}).encode()


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))


async def open_channel(slack: Container, clock: FrozenClock, title: str = "Checkout is failing") -> tuple[int, str]:
    incident = await asyncio.to_thread(
        slack.service.declare, title=title, severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK
    )
    await adrive(slack, clock)
    with slack.sessions() as session:
        from bot.store.incidents import IncidentRepository

        return incident.number, str(IncidentRepository.get_row(session, incident.number).chat_channel_id)


def test_wrong_signature_and_stale_timestamp_are_rejected(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    async def scenario() -> None:
        http = SlackHttp(slack)
        body = slash_command_body("declare Checkout down P1")
        forged = await http.post(body, FORM, secret="not-the-secret")
        stale = await http.post(body, FORM, timestamp=int(time.time()) - 600)
        assert forged.status_code == 401 and stale.status_code == 401
        assert "signature" in forged.json()["error"] and "signature" in stale.json()["error"]
        unsigned = await http.client.post("/slack/events", content=body, headers={"Content-Type": FORM})
        assert unsigned.status_code == 401
        assert await asyncio.to_thread(slack.service.recent) == []

    run(scenario)


def test_slash_command_acks_fast_and_replies_through_response_url(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    async def scenario() -> None:
        http = SlackHttp(slack)
        body = slash_command_body("declare Checkout down P1", response_url=webhook_receiver.url("/respond"))
        started = time.perf_counter()
        response = await http.post(body, FORM)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200 and elapsed < 3.0
        reply = (await eventually(lambda: webhook_receiver.received))[0].json()
        assert reply["response_type"] == "in_channel" and reply["text"].startswith("🚨 INC-1 declared: Checkout down (P1)")
        incident = await asyncio.to_thread(slack.service.get, 1)
        assert incident.severity is Severity.P1
        declared = (await asyncio.to_thread(slack.service.timeline, 1))[0]
        assert declared.actor == "<@U0ALICE|alice>" and declared.source is Source.SLACK

    run(scenario)


def test_in_an_incident_channel_the_incident_is_implied(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    async def scenario() -> None:
        number, channel = await open_channel(slack, clock)
        http = SlackHttp(slack)
        for text in ("ack", "role commander <@U0BOB|bob>", "bogus"):
            body = slash_command_body(text, channel_id=channel, user_id="U0CAROL", user_name="carol", response_url=webhook_receiver.url())
            assert (await http.post(body, FORM)).status_code == 200
        replies = [r.json() for r in await asyncio.to_thread(webhook_receiver.wait_for_count, 3)]
        # Each command answers through its response_url on its own task: any order.
        assert any(r["text"] == f"INC-{number} is now acknowledged" and r["response_type"] == "ephemeral" for r in replies)
        assert any("unknown command 'bogus'" in r["text"] for r in replies)
        incident = await asyncio.to_thread(slack.service.get, number)
        assert incident.status is Status.ACKNOWLEDGED and incident.roles[Role.COMMANDER] == "<@U0BOB|bob>"

    run(scenario)


def test_declare_whose_form_cannot_open_in_time_still_answers(
    slack: Container, fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    """A trigger_id is good for three seconds: when Slack refuses it (expired_trigger_id),
    the person who typed ``/incident declare`` is told how to declare instead of getting nothing."""

    async def scenario() -> None:
        http = SlackHttp(slack)
        stale = trigger_id(age=5)
        body = slash_command_body("declare", channel_id=fake_slack.channel("general").id, trigger=stale, response_url=webhook_receiver.url())
        assert (await http.post(body, FORM)).status_code == 200
        (reply,) = [r.json() for r in await asyncio.to_thread(webhook_receiver.wait_for_count, 1)]
        assert reply["response_type"] == "ephemeral" and "/incident declare" in json.dumps(reply)
        assert [c.error for c in fake_slack.calls("views.open")] == ["expired_trigger_id"]

    run(scenario)


def test_declare_without_arguments_opens_the_modal_and_submitting_declares(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    async def scenario() -> None:
        http = SlackHttp(slack)
        assert (await http.post(slash_command_body("declare", channel_id=fake_slack.channel("general").id), FORM)).status_code == 200
        opened = await eventually(lambda: fake_slack.calls("views.open", ok=True))
        view = json.loads(opened[0].params["view"]) if isinstance(opened[0].params["view"], str) else opened[0].params["view"]
        assert view["callback_id"] == "declare_incident"
        assert [b["block_id"] for b in view["blocks"]] == ["title", "severity", "description"]

        empty = view_submission_body("declare_incident", {"title": {"value": text_input_value("  ")}, "severity": {"value": select_value("P1")}})
        refused = await http.post(empty, FORM)
        assert refused.json() == {"response_action": "errors", "errors": {"title": "Say what is broken."}}

        values = {
            "title": {"value": text_input_value("Payments timing out")},
            "severity": {"value": select_value("P0")},
            "description": {"value": text_input_value("Stripe calls take 30 s")},
        }
        submitted = await http.post(view_submission_body("declare_incident", values, user_id="U0BOB", user_name="bob"), FORM)
        assert submitted.status_code == 200
        incidents = await eventually(lambda: slack.service.recent())
        assert incidents[0].title == "Payments timing out" and incidents[0].severity is Severity.P0
        assert incidents[0].description == "Stripe calls take 30 s"
        assert (await asyncio.to_thread(slack.service.timeline, incidents[0].number))[0].actor == "<@U0BOB|bob>"

    run(scenario)


def test_buttons_follow_the_permission_rule_and_record_the_slack_user(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    async def scenario() -> None:
        number, channel = await open_channel(slack, clock)
        http = SlackHttp(slack)

        def press(name: str, user: tuple[str, str], value: str | None = None) -> bytes:
            body = block_actions_body(f"firebreak_{name}", value or str(number), channel_id=channel, user_id=user[0], user_name=user[1])
            return answered_at(body, webhook_receiver.url())

        await http.post(press("ack", ("U0BOB", "bob")), FORM)
        await eventually(lambda: slack.service.get(number).status is Status.ACKNOWLEDGED)
        entry = (await asyncio.to_thread(slack.service.timeline, number))[-1]
        assert entry.kind is EntryKind.STATUS_CHANGED and entry.actor == "<@U0BOB|bob>" and entry.source is Source.SLACK

        await asyncio.to_thread(slack.service.assign_role, number, Role.COMMANDER, "<@U0CAROL|carol>", actor="x", source=Source.SLACK)
        await http.post(press("resolve", ("U0BOB", "bob")), FORM)
        denied = await eventually(lambda: [r.json() for r in webhook_receiver.received if "only the commander" in r.json()["text"]])
        assert denied[0]["response_type"] == "ephemeral" and denied[0]["replace_original"] is False
        assert (await asyncio.to_thread(slack.service.get, number)).status is Status.ACKNOWLEDGED

        await http.post(press("resolve", ("U0CAROL", "carol")), FORM)
        await eventually(lambda: slack.service.get(number).status is Status.RESOLVED)
        assert (await asyncio.to_thread(slack.service.timeline, number))[-1].actor == "<@U0CAROL|carol>"

    run(scenario)


def test_escalate_and_step_buttons_run_the_registered_verbs(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    seen: list[tuple[str, list[str], int | None, str, int | None]] = []

    def recorder(command: ParsedCommand, context: CommandContext) -> Reply:
        seen.append((command.verb, command.args, command.ref, context.actor, context.channel_incident))
        return Reply(f"{command.verb} ok")

    async def scenario() -> None:
        number, channel = await open_channel(slack, clock)
        http = SlackHttp(slack)
        await http.post(block_actions_body("firebreak_escalate", str(number), channel_id=channel), FORM)
        # The real escalation verb runs: a manual escalation by the person who pressed it.
        def escalations() -> list[Any]:
            return [e for e in slack.service.timeline(number) if e.kind is EntryKind.ESCALATED]

        escalated = await eventually(escalations)
        assert escalated[0].actor == "<@U0ALICE|alice>" and escalated[0].data["manual"] is True

        slack.commands.register("escalate", recorder)
        slack.commands.register("step", recorder)
        await http.post(block_actions_body("firebreak_escalate", str(number), channel_id=channel), FORM)
        await http.post(block_actions_body("firebreak_step_done", f"{number}:3", channel_id=channel, user_id="U0BOB", user_name="bob"), FORM)
        await http.post(block_actions_body("firebreak_step_skip", f"{number}:4", channel_id=channel), FORM)
        await eventually(lambda: len(seen) == 3)
        # Each click runs on its own task (after looking its user up): any order.
        assert sorted(seen) == [
            ("escalate", [], number, "<@U0ALICE|alice>", number),
            ("step", ["done", "3"], number, "<@U0BOB|bob>", number),
            ("step", ["skip", "4"], number, "<@U0ALICE|alice>", number),
        ]

    run(scenario)


def test_flag_reaction_puts_the_message_on_the_timeline_once(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    async def scenario() -> None:
        number, channel = await open_channel(slack, clock)
        with fake_slack.workspace.lock:
            fake_slack.channel(channel).messages.append(
                {"type": "message", "user": "U0BOB", "ts": "1700000001.000200", "text": "Rolled back deploy 42"}
            )
        http = SlackHttp(slack)
        def flagged() -> list[Any]:
            return [e for e in slack.service.timeline(number) if e.kind is EntryKind.MESSAGE_FLAGGED]

        for reaction, user in (("thumbsup", "U0ALICE"), ("pushpin", "U0ALICE")):
            event = reaction_added_event(reaction, user=user, channel=channel, ts="1700000001.000200")
            assert (await http.post(event_callback_body(event), JSON)).status_code == 200
        await eventually(flagged)
        again = reaction_added_event("pushpin", user="U0CAROL", channel=channel, ts="1700000001.000200")
        async with new_tasks_finish():  # the second pushpin's listener has had its chance to (wrongly) add another
            await http.post(event_callback_body(again), JSON)
        assert len(fake_slack.calls("conversations.history")) >= 2  # it did look the message up
        entries = await asyncio.to_thread(flagged)
        assert len(entries) == 1
        assert entries[0].actor == "<@U0ALICE>" and entries[0].data["text"] == "Rolled back deploy 42"
        assert entries[0].data["author"] == "<@U0BOB>" and entries[0].data["ts"] == "1700000001.000200"

        # Outside an incident channel nothing happens.
        general = fake_slack.channel("general").id
        event = reaction_added_event("pushpin", channel=general, ts="1700000001.000200")
        async with new_tasks_finish():
            await http.post(event_callback_body(event), JSON)
        assert len(await asyncio.to_thread(flagged)) == 1

    run(scenario)


def test_app_mention_answers_with_help(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    async def scenario() -> None:
        http = SlackHttp(slack)
        general = fake_slack.channel("general").id
        await http.post(event_callback_body(app_mention_event(channel=general)), JSON)
        posted = await eventually(lambda: fake_slack.calls("chat.postMessage", ok=True))
        assert posted[0].params["channel"] == general and "/incident declare" in posted[0].params["text"]

    run(scenario)


def test_a_step_button_from_a_replaced_playbook_is_refused(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    async def scenario() -> None:
        number, channel = await open_channel(slack, clock)
        http = SlackHttp(slack)
        await http.post(block_actions_body("firebreak_step_done", f"{number}:1:some-old-playbook", channel_id=channel), FORM)
        refused = await eventually(lambda: [c for c in fake_slack.calls("chat.postEphemeral", ok=True) if "no longer follows" in c.params["text"]])
        assert "some-old-playbook" in refused[0].params["text"]
        kinds = [e.kind for e in await asyncio.to_thread(slack.service.timeline, number)]
        assert EntryKind.STEP_DONE not in kinds

    run(scenario)
