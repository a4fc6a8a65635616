"""One permission policy for every way into Slack: typed, buttons, the form, reactions, Socket Mode.

Each test talks to ``POST /slack/events`` with signed requests shaped as Slack sends them (or
hands the same payloads to the Bolt app as Socket Mode does), with people served by the fake
Slack's ``users.info`` (guests, other organisations) and ``usergroups.users.list`` (admins).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.chat.slack.chat_refs import save_refs
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Role, Status
from bot.domain.permissions import Action, Decision, Policy, Principal, Request
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    FORM,
    JSON,
    block_actions_body,
    event_callback_body,
    reaction_added_event,
    select_value,
    slash_command_body,
    text_input_value,
    view_submission_body,
)
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.slack.conftest import SlackHttp
from tests.support.waiting import eventually

ADMINS_GROUP = "S0ADMINS"
#: (user id, name, how Slack sees them): the fake serves these from users.info.
PEOPLE = {
    "member": ("U0BOB", "bob"),
    "commander": ("U0ALICE", "alice"),
    "guest": ("U0GINA", "gina"),
    "external": ("U0EVE", "eve"),
    "stranger": ("U0STAN", "stan"),
    "admin": ("U0DAVE", "dave"),
}


def seed_people(fake: FakeSlack) -> None:
    fake.add_user("gina", "gina@example.com", user_id="U0GINA", guest="single")
    fake.add_user("eve", "eve@partner.example", user_id="U0EVE", team_id="T0PARTNER")
    fake.add_user("stan", None, user_id="U0STAN", team_id="T0ELSE", stranger=True)
    fake.add_user("dave", "dave@example.com", user_id="U0DAVE")
    fake.add_usergroup(["U0CAROL", "U0DAVE"], group_id=ADMINS_GROUP)


def mention(who: str) -> str:
    user_id, name = PEOPLE[who]
    return f"<@{user_id}|{name}>"


def shown(who: str) -> str:
    """How a reply names a person: replies are readable text and ping nobody."""
    return "@" + PEOPLE[who][1]


def run(test: Callable[[], Any]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=60))


class Ways:
    """Drives the same request in through each door and returns what the person was told."""

    def __init__(self, slack: Container, fake: FakeSlack, receiver: WebhookReceiver) -> None:
        self.slack, self.fake, self.receiver = slack, fake, receiver
        self.http = SlackHttp(slack)
        self.members = [user_id for user_id, _ in PEOPLE.values()] + ["U0CAROL"]

    def channel_for(self, number: int) -> str:
        """An incident channel everyone is in, mapped to the incident as channel set-up does."""
        channel = self.fake.workspace.add_channel(f"inc-{number}-{secrets.token_hex(3)}", members=self.members)
        with self.slack.sessions.begin() as session:
            save_refs(session, number, channel_id=channel.id, channel_name=channel.name)
        return channel.id

    async def _answer(self, path: str) -> str:
        received = await asyncio.to_thread(self.receiver.wait_for, lambda items: any(r.path == path for r in items))
        return str(next(r for r in received if r.path == path).json()["text"])

    async def typed(self, who: str, text: str, channel: str) -> str:
        path = f"/typed/{secrets.token_hex(6)}"
        user_id, name = PEOPLE[who]
        body = slash_command_body(text, user_id=user_id, user_name=name, channel_id=channel, response_url=self.receiver.url(path))
        assert (await self.http.post(body, FORM)).status_code == 200
        return await self._answer(path)

    def _button_payload(self, who: str, name: str, value: str, channel: str, path: str) -> dict[str, Any]:
        user_id, user_name = PEOPLE[who]
        body = block_actions_body(f"firebreak_{name}", value, channel_id=channel, user_id=user_id, user_name=user_name)
        payload: dict[str, Any] = json.loads(dict(parse_qsl(body.decode()))["payload"])
        payload["response_url"] = self.receiver.url(path)
        return payload

    async def button(self, who: str, name: str, value: str, channel: str) -> str:
        path = f"/button/{secrets.token_hex(6)}"
        payload = self._button_payload(who, name, value, channel, path)
        assert (await self.http.post(urlencode({"payload": json.dumps(payload)}).encode(), FORM)).status_code == 200
        return await self._answer(path)

    async def socket_button(self, who: str, name: str, value: str, channel: str) -> str:
        """Socket Mode hands the interaction payload to the same Bolt app (no HTTP, no signature)."""
        path = f"/socket/{secrets.token_hex(6)}"
        payload = self._button_payload(who, name, value, channel, path)
        response = await self.slack.slack.app.async_dispatch(AsyncBoltRequest(body=payload, mode="socket_mode"))
        assert response.status == 200
        return await self._answer(path)

    async def socket_typed(self, who: str, text: str, channel: str) -> str:
        path = f"/socket-typed/{secrets.token_hex(6)}"
        user_id, name = PEOPLE[who]
        form = dict(parse_qsl(slash_command_body(text, user_id=user_id, user_name=name, channel_id=channel,
                                                 response_url=self.receiver.url(path)).decode()))
        response = await self.slack.slack.app.async_dispatch(AsyncBoltRequest(body=form, mode="socket_mode"))
        assert response.status == 200
        return await self._answer(path)

    async def form(self, who: str, title: str, severity: str, channel: str) -> str:
        """The declare modal; its answer is an ephemeral message in the channel it was opened from."""
        user_id, name = PEOPLE[who]
        before = len(self.fake.calls("chat.postEphemeral"))
        values = {"title": {"value": text_input_value(title)}, "severity": {"value": select_value(severity)}}
        body = view_submission_body("declare_incident", values, user_id=user_id, user_name=name, private_metadata=channel)
        assert (await self.http.post(body, FORM)).status_code == 200
        calls = await eventually(lambda: [c for c in self.fake.calls("chat.postEphemeral")[before:] if c.params["user"] == user_id])
        return str(calls[0].params["text"])

    async def reaction(self, who: str, number: int, channel: str) -> str:
        """A flag reaction: "flagged" once on the timeline, else the ephemeral refusal."""
        user_id, _ = PEOPLE[who]
        ts = f"17000{secrets.randbelow(10**5):05d}.000100"
        with self.fake.workspace.lock:
            self.fake.channel(channel).messages.append({"type": "message", "user": "U0CAROL", "ts": ts, "text": "deploy 42 rolled back"})
        before = len(self.fake.calls("chat.postEphemeral"))
        event = reaction_added_event("pushpin", user=user_id, channel=channel, ts=ts)
        assert (await self.http.post(event_callback_body(event), JSON)).status_code == 200

        def outcome() -> str | None:
            if any(e.kind is EntryKind.MESSAGE_FLAGGED and e.data.get("ts") == ts for e in self.slack.service.timeline(number)):
                return "flagged"
            told = [c for c in self.fake.calls("chat.postEphemeral")[before:] if c.params["user"] == user_id]
            return str(told[0].params["text"]) if told else None

        return str(await eventually(outcome))


def staff(slack: Container, number: int, **roles: str) -> None:
    for role, who in roles.items():
        slack.service.assign_role(number, Role(role), mention(who) if who in PEOPLE else who, actor="ops", source=Source.CONSOLE)


def new_incident(slack: Container, title: str = "Checkout is failing") -> int:
    return slack.service.declare(title=title, severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK).number


def test_typed_commands_from_any_channel_cannot_bypass_the_commander(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    """The reported bypass: typed resolve / sev / role from another channel, then the buttons."""
    seed_people(fake_slack)
    slack = slack_factory(fake_slack, FIREBREAK_ADMINS=ADMINS_GROUP)
    ways = Ways(slack, fake_slack, webhook_receiver)
    general = fake_slack.channel("general").id

    async def scenario() -> None:
        number = await asyncio.to_thread(new_incident, slack)
        channel = await asyncio.to_thread(ways.channel_for, number)
        await asyncio.to_thread(staff, slack, number, commander="commander")
        before = await asyncio.to_thread(slack.service.timeline, number)
        for text in (f"resolve INC-{number}", f"sev P3 INC-{number}", f"role commander {mention('member')} INC-{number}",
                     f"role commander me INC-{number}"):
            answer = await ways.typed("member", text, general)
            assert answer.startswith("🚫 only the commander (@alice)"), (text, answer)
        answer = await ways.button("member", "resolve", str(number), channel)
        assert answer.startswith("🚫 only the commander")
        incident = await asyncio.to_thread(slack.service.get, number)
        assert incident.status is Status.TRIGGERED and incident.severity is Severity.P1
        assert incident.roles == {Role.COMMANDER: "<@U0ALICE|alice>"}
        assert await asyncio.to_thread(slack.service.timeline, number) == before
        # The commander and an admin (by user group) may; anyone may still acknowledge.
        assert await ways.typed("member", f"ack INC-{number}", general) == f"INC-{number} is now acknowledged"
        assert await ways.typed("commander", f"sev P2 INC-{number}", general) == f"INC-{number} is now P2"
        assert await ways.typed("admin", f"role commander {mention('member')} INC-{number}", general) == f"{shown('member')} is now commander"
        assert await ways.button("member", "resolve", str(number), channel) == f"INC-{number} is now resolved"

    run(scenario)


def test_people_are_named_by_mention_and_stored_names_show_as_unverified(
    slack: Container, fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    ways = Ways(slack, fake_slack, webhook_receiver)
    general = fake_slack.channel("general").id

    async def scenario() -> None:
        number = await asyncio.to_thread(new_incident, slack)
        for bare in ("bob", "@bob", "U0BOB"):
            answer = await ways.typed("member", f"role commander {bare} INC-{number}", general)
            assert answer.startswith("⚠️ name people by mention") and "display names are not unique" in answer, answer
        assert (await asyncio.to_thread(slack.service.get, number)).roles == {}
        # Slack sends a mention as markup (should_escape); it is stored as the mention itself.
        answer = await ways.typed("member", f"role scribe <@U0CAROL|carol> INC-{number}", general)
        assert answer == "@carol is now scribe"
        # The same characters typed by hand arrive escaped: no mention, whatever the label says.
        answer = await ways.typed("member", f"role commander &lt;@U0BOB|alice&gt; INC-{number}", general)
        assert answer.startswith("⚠️ name people by mention"), answer
        assert (await asyncio.to_thread(slack.service.get, number)).roles == {Role.SCRIBE: "<@U0CAROL|carol>"}
        # A commander stored as a plain name (by the console, or before mentions were required).
        await asyncio.to_thread(staff, slack, number, commander="alice")
        status = await ways.typed("member", f"status INC-{number}", general)
        assert "commander: alice (unverified: not a Slack mention)" in status and "scribe: @carol" in status
        # It locks nothing: anyone may still run the incident and set a real commander.
        assert await ways.typed("member", f"role commander me INC-{number}", general) == f"{shown('member')} is now commander"

    run(scenario)


def test_a_button_value_firebreak_never_made_gets_an_answer_and_changes_nothing(
    slack: Container, fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    ways = Ways(slack, fake_slack, webhook_receiver)
    general = fake_slack.channel("general").id

    async def scenario() -> None:
        number = await asyncio.to_thread(new_incident, slack)
        for value in ("99999999999999999999", "", f"{number}:x"):
            answer = await ways.button("admin", "ack", value, general)
            assert answer == "⚠️ that button's value is not one Firebreak made; nothing was changed", (value, answer)
        assert (await asyncio.to_thread(slack.service.get, number)).status is Status.TRIGGERED

    run(scenario)


def test_guests_and_other_organisations_may_note_in_the_channel_and_need_a_role_for_more(
    slack: Container, fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    seed_people(fake_slack)
    ways = Ways(slack, fake_slack, webhook_receiver)
    general = fake_slack.channel("general").id

    async def scenario() -> None:
        number = await asyncio.to_thread(new_incident, slack)
        channel = await asyncio.to_thread(ways.channel_for, number)
        for who, label in (("guest", "a single-channel guest"), ("external", "someone from another organisation"),
                           ("stranger", "someone from another organisation")):
            assert await ways.typed(who, "note seeing 502s from our side", channel) == "📝 noted on the timeline"
            refused = await ways.typed(who, "ack", channel)
            assert refused.startswith(f"🚫 as {label}") and "unless you hold a role" in refused, refused
            assert (await ways.typed(who, f"status INC-{number}", general)).startswith(f"🚫 as {label}")
            assert (await ways.typed(who, "declare Our side is down", general)).startswith("🚫")
            assert (await ways.button(who, "ack", str(number), channel)).startswith("🚫")
        assert (await asyncio.to_thread(slack.service.get, number)).status is Status.TRIGGERED
        # Given a role, a guest may work the incident.
        await asyncio.to_thread(staff, slack, number, comms="guest")
        assert await ways.typed("guest", "ack", channel) == f"INC-{number} is now acknowledged"

    run(scenario)


def test_admin_groups_are_looked_up_once_and_fail_closed_when_slack_cannot_say(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    seed_people(fake_slack)
    slack = slack_factory(fake_slack, FIREBREAK_ADMINS=f"U0CAROL,{ADMINS_GROUP}")
    ways = Ways(slack, fake_slack, webhook_receiver)
    general = fake_slack.channel("general").id

    async def scenario() -> None:
        first = await asyncio.to_thread(new_incident, slack)
        second = await asyncio.to_thread(new_incident, slack, "Search is slow")
        await asyncio.to_thread(staff, slack, first, commander="commander")
        await asyncio.to_thread(staff, slack, second, commander="commander")
        fake_slack.fail_next("usergroups.users.list", status=503)
        refused = await ways.typed("admin", f"resolve INC-{first}", general)
        assert refused.startswith("🚫 only the commander"), refused
        assert await ways.typed("admin", f"resolve INC-{first}", general) == f"INC-{first} is now resolved"
        assert await ways.typed("admin", f"resolve INC-{second}", general) == f"INC-{second} is now resolved"
        assert len(fake_slack.calls("usergroups.users.list", ok=True)) == 1  # cached
        assert fake_slack.calls("usergroups.users.list", ok=True)[0].params["usergroup"] == ADMINS_GROUP
        assert len(fake_slack.calls("users.info", ok=True)) == 1

    run(scenario)


def test_socket_mode_reaches_the_same_policy(
    slack: Container, fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    ways = Ways(slack, fake_slack, webhook_receiver)
    general = fake_slack.channel("general").id

    async def scenario() -> None:
        number = await asyncio.to_thread(new_incident, slack)
        channel = await asyncio.to_thread(ways.channel_for, number)
        await asyncio.to_thread(staff, slack, number, commander="commander")
        assert (await ways.socket_typed("member", f"resolve INC-{number}", general)).startswith("🚫 only the commander")
        assert (await ways.socket_button("member", "mitigate", str(number), channel)).startswith("🚫 only the commander")
        assert (await asyncio.to_thread(slack.service.get, number)).status is Status.TRIGGERED
        assert await ways.socket_button("commander", "mitigate", str(number), channel) == f"INC-{number} is now mitigated"

    run(scenario)


# -- the same answer whichever way in ------------------------------------------------------

#: For each action, the doors it can come through, as (way, how to ask) pairs.
BUTTON_OR_TYPED = {"ack": "ack", "mitigate": "mitigate", "resolve": "resolve", "escalate": "escalate", "step_done": "step done 1"}


def expected(who: str, commander: str | None, holds_role: bool, action: str) -> bool:
    """The documented rule, written out independently of the implementation."""
    if who == "admin":
        return True
    if who in ("guest", "external", "stranger") and (not holds_role or action == "declare"):
        return action == "note"  # asked in the incident's channel; a role is on one incident only
    if action in ("declare", "ack", "note", "escalate"):
        return True
    return commander != "commander" or who == "commander" or holds_role


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    who=st.sampled_from(sorted(PEOPLE)),
    commander=st.sampled_from([None, "commander", "alice"]),  # none, a verified mention, a bare stored name
    holds_role=st.booleans(),
    action=st.sampled_from([*BUTTON_OR_TYPED, "note", "declare"]),
)
def test_every_way_in_gives_the_same_answer(
    slack_factory: Callable[..., Container],
    make_fake_slack: Callable[..., FakeSlack],
    webhook_receiver: WebhookReceiver,
    clock: FrozenClock,
    who: str,
    commander: str | None,
    holds_role: bool,
    action: str,
) -> None:
    fake = make_fake_slack()
    seed_people(fake)
    slack = slack_factory(fake, FIREBREAK_ADMINS=ADMINS_GROUP)
    ways = Ways(slack, fake, webhook_receiver)
    general = fake.channel("general").id
    holds = holds_role and who not in ("commander", "admin")

    def prepared() -> tuple[int, str]:
        number = new_incident(slack)
        roles = {"commander": commander} if commander else {}
        if holds:
            roles["scribe"] = who
        staff(slack, number, **roles)
        return number, ways.channel_for(number)

    async def scenario() -> None:
        answers: dict[str, str] = {}
        if action in BUTTON_OR_TYPED:
            doors = {
                "typed here": lambda n, c: ways.typed(who, BUTTON_OR_TYPED[action], c),
                "typed elsewhere": lambda n, c: ways.typed(who, f"{BUTTON_OR_TYPED[action]} INC-{n}", general),
                "button": lambda n, c: ways.button(who, action, f"{n}:1" if action == "step_done" else str(n), c),
                "socket mode": lambda n, c: ways.socket_button(who, action, f"{n}:1" if action == "step_done" else str(n), c),
            }
        elif action == "note":
            doors = {
                "typed": lambda n, c: ways.typed(who, "note deploy 42 rolled back", c),
                "reaction": lambda n, c: ways.reaction(who, n, c),
            }
        else:
            doors = {
                "typed": lambda n, c: ways.typed(who, "declare Payments down P2", c),
                "form": lambda n, c: ways.form(who, "Payments down", "P2", c),
            }
        for door, ask in doors.items():
            number, channel = await asyncio.to_thread(prepared)  # the same state for each door
            answers[door] = await ask(number, channel)
        allowed = {door: not answer.startswith("🚫") for door, answer in answers.items()}
        assert set(allowed.values()) == {expected(who, commander, holds, action)}, answers

    run(scenario)


def test_anyone_may_take_over_from_a_silent_commander_when_the_setting_allows(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, webhook_receiver: WebhookReceiver, clock: FrozenClock
) -> None:
    slack = slack_factory(fake_slack, FIREBREAK_TAKEOVER_AFTER="30m")
    ways = Ways(slack, fake_slack, webhook_receiver)
    general = fake_slack.channel("general").id

    async def scenario() -> None:
        number = await asyncio.to_thread(new_incident, slack)
        channel = await asyncio.to_thread(ways.channel_for, number)
        await asyncio.to_thread(staff, slack, number, commander="commander")
        clock.advance(minutes=20)
        assert await ways.typed("commander", "note checking the payment provider", channel) == "📝 noted on the timeline"
        clock.advance(minutes=25)
        refused = await ways.typed("member", f"role commander me INC-{number}", general)
        assert refused.startswith("🚫 only the commander") and "5 min more" in refused, refused
        assert await ways.typed("member", "note anyone there?", channel) == "📝 noted on the timeline"
        clock.advance(minutes=6)
        # Only yourself, and only the commander role.
        assert (await ways.typed("member", f"role commander {mention('guest')} INC-{number}", general)).startswith("🚫")
        assert (await ways.button("member", "resolve", str(number), channel)).startswith("🚫")
        assert await ways.typed("member", f"role commander me INC-{number}", general) == f"{shown('member')} is now commander"
        assert await ways.button("member", "resolve", str(number), channel) == f"INC-{number} is now resolved"
        # The previous commander is no longer in charge.
        assert (await ways.typed("commander", f"reopen INC-{number}", general)).startswith("🚫 only the commander (@bob)")

    run(scenario)


class NoNotes(Policy):
    """A stricter rule than the shipped one, to show which doors consult the policy at all."""

    def decide(self, who: Principal, request: Request, *, now: datetime) -> Decision:
        if request.action is Action.NOTE:
            return Decision.refuse("notes are closed in this test")
        return super().decide(who, request, now=now)


def test_flag_reactions_ask_the_same_policy_as_typed_notes(
    slack: Container, fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    ways = Ways(slack, fake_slack, webhook_receiver)
    slack.commands.policy = NoNotes()

    async def scenario() -> None:
        number = await asyncio.to_thread(new_incident, slack)
        channel = await asyncio.to_thread(ways.channel_for, number)
        assert await ways.typed("member", "note deploy 42 rolled back", channel) == "🚫 notes are closed in this test"
        assert await ways.reaction("member", number, channel) == "🚫 notes are closed in this test"
        kinds = [entry.kind for entry in await asyncio.to_thread(slack.service.timeline, number)]
        assert EntryKind.NOTE not in kinds and EntryKind.MESSAGE_FLAGGED not in kinds

    run(scenario)


def test_guests_cannot_tell_which_incident_numbers_exist(
    slack: Container, fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    """Outside their channel, a guest gets the same refusal for an incident that exists and one that does not."""
    seed_people(fake_slack)
    ways = Ways(slack, fake_slack, webhook_receiver)
    general = fake_slack.channel("general").id

    async def scenario() -> None:
        number = await asyncio.to_thread(new_incident, slack)
        missing = number + 50
        for who in ("guest", "external"):
            for verb in ("status", "timeline", "resolve", "sev P3"):
                real = await ways.typed(who, f"{verb} INC-{number}", general)
                ghost = await ways.typed(who, f"{verb} INC-{missing}", general)
                assert real.startswith("🚫"), real
                assert ghost == real.replace(f"INC-{number}", f"INC-{missing}"), (real, ghost)
        # A member still learns that a number does not exist.
        assert "no incident" in (await ways.typed("member", f"status INC-{missing}", general)).lower()

    run(scenario)
