"""Each request of ``documented_payloads.py`` (Slack's documented shapes), signed and sent to
``POST /slack/events``, with the outcome it must have."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import FORM, JSON
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.slack import documented_payloads as slack_docs
from tests.slack.conftest import SlackHttp, adrive
from tests.support.waiting import eventually


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))  # type: ignore[arg-type]


async def incident_channel(slack: Container, clock: FrozenClock) -> tuple[int, str]:
    incident = await asyncio.to_thread(
        slack.service.declare, title="Checkout is failing", severity=Severity.P1, actor="<@U0MARTA01|marta>", source=Source.SLACK
    )
    await adrive(slack, clock)
    from bot.store.incidents import IncidentRepository

    with slack.sessions() as session:
        return incident.number, str(IncidentRepository.get_row(session, incident.number).chat_channel_id)


def test_slash_command_declares_and_answers_through_response_url(
    slack: Container, fake_slack: FakeSlack, webhook_receiver: WebhookReceiver
) -> None:
    fake_slack.add_user("marta", "marta@example.com", user_id="U0MARTA01")  # a member: guests may not declare

    async def scenario() -> None:
        fields = slack_docs.fill(slack_docs.SLASH_COMMAND_DECLARE, response_url=webhook_receiver.url("/respond"))
        response = await SlackHttp(slack).post(slack_docs.form(fields), FORM)
        assert (response.status_code, response.text) == (200, "")
        reply = (await eventually(lambda: webhook_receiver.received))[0].json()
        assert reply["response_type"] == "in_channel" and "INC-1 declared" in reply["text"]
        incident = await asyncio.to_thread(slack.service.get, 1)
        # The escaped "&amp;" is stored as typed; severity and actor come from the payload.
        assert incident.title == "Disk full on db-3 & replicas lagging" and incident.severity is Severity.P2
        assert (await asyncio.to_thread(slack.service.timeline, 1))[0].actor == "<@U0MARTA01|marta>"

    run(scenario)


def test_ssl_check_is_answered_and_changes_nothing(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        response = await SlackHttp(slack).post(slack_docs.form(slack_docs.SSL_CHECK), FORM)
        assert response.status_code == 200
        assert await asyncio.to_thread(slack.service.recent) == []

    run(scenario)


def test_block_actions_button_acknowledges_the_incident(
    slack: Container, fake_slack: FakeSlack, clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    fake_slack.add_user("jonas", "jonas@example.com", user_id="U0JONAS01")  # a member: guests may only add notes

    async def scenario() -> None:
        number, channel = await incident_channel(slack, clock)
        payload = slack_docs.fill(slack_docs.BLOCK_ACTIONS_ACK_BUTTON, channel=channel, number=number, response_url=webhook_receiver.url())
        response = await SlackHttp(slack).post(slack_docs.interaction(payload), FORM)
        assert (response.status_code, response.text) == (200, "")
        await eventually(lambda: slack.service.get(number).status is Status.ACKNOWLEDGED)
        entry = (await asyncio.to_thread(slack.service.timeline, number))[-1]
        assert entry.kind is EntryKind.STATUS_CHANGED and entry.actor == "<@U0JONAS01|jonas>"

    run(scenario)


def test_view_submission_declares_from_the_modal(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        channel = fake_slack.channel("general").id
        fake_slack.add_user("marta", "marta@example.com", user_id="U0MARTA01")
        with fake_slack.workspace.lock:
            fake_slack.channel(channel).members.append("U0MARTA01")
        payload = slack_docs.fill(slack_docs.VIEW_SUBMISSION_DECLARE, channel=channel)
        response = await SlackHttp(slack).post(slack_docs.interaction(payload), FORM)
        assert (response.status_code, response.text) == (200, "")  # an empty 200 closes the modal
        incident = (await eventually(slack.service.recent))[0]
        assert (incident.title, incident.severity, incident.description) == ("Login page returns 502", Severity.P1, "Since the 14:00 deploy")
        told = await eventually(lambda: fake_slack.calls("chat.postEphemeral", ok=True))
        assert told[0].params["channel"] == channel and told[0].params["user"] == "U0MARTA01"

    run(scenario)


def test_view_closed_is_acknowledged_and_changes_nothing(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        payload = slack_docs.fill(slack_docs.VIEW_CLOSED, channel="")
        response = await SlackHttp(slack).post(slack_docs.interaction(payload), FORM)
        assert (response.status_code, response.text) == (200, "")
        assert await asyncio.to_thread(slack.service.recent) == []

    run(scenario)


def test_url_verification_echoes_the_challenge(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        response = await SlackHttp(slack).post(slack_docs.events_api(slack_docs.URL_VERIFICATION), JSON)
        assert response.status_code == 200 and response.json() == {"challenge": slack_docs.URL_VERIFICATION["challenge"]}

    run(scenario)


def test_app_mention_answers_with_help_in_the_channel(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        channel = fake_slack.channel("general").id
        event = slack_docs.fill(slack_docs.APP_MENTION, channel=channel)
        response = await SlackHttp(slack).post(slack_docs.events_api(slack_docs.event_callback(event, "Ev0DOCS0001")), JSON)
        assert (response.status_code, response.text) == (200, "")
        posted = await eventually(lambda: fake_slack.calls("chat.postMessage", ok=True))
        assert posted[0].params["channel"] == channel and "/incident" in posted[0].params["text"]

    run(scenario)


def test_reaction_added_flags_the_message_onto_the_timeline(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    async def scenario() -> None:
        number, channel = await incident_channel(slack, clock)
        with fake_slack.workspace.lock:
            fake_slack.channel(channel).messages.append(
                {"type": "message", "user": "U0MARTA01", "ts": "1764500050.000200", "text": "Failing over to the replica"}
            )
        event = slack_docs.fill(slack_docs.REACTION_ADDED, channel=channel)
        response = await SlackHttp(slack).post(slack_docs.events_api(slack_docs.event_callback(event, "Ev0DOCS0002")), JSON)
        assert (response.status_code, response.text) == (200, "")
        flagged = await eventually(lambda: [e for e in slack.service.timeline(number) if e.kind is EntryKind.MESSAGE_FLAGGED])
        assert flagged[0].data["text"] == "Failing over to the replica" and flagged[0].actor == "<@U0JONAS01>"

    run(scenario)


@pytest.mark.parametrize(("event", "reason"), [(slack_docs.TOKENS_REVOKED, "tokens_revoked"), (slack_docs.APP_UNINSTALLED, "app_uninstalled")])
def test_losing_the_bot_token_pauses_delivery(slack: Container, fake_slack: FakeSlack, event: dict[str, Any], reason: str) -> None:
    async def scenario() -> None:
        body = slack_docs.event_callback(event, f"Ev0DOCS{reason}")
        assert (await SlackHttp(slack).post(slack_docs.events_api(body), JSON)).status_code == 200
        assert (await eventually(slack.slack.pause.current)).reason == reason

    run(scenario)


def test_member_joined_channel_is_acknowledged_and_changes_nothing(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        body = slack_docs.event_callback(slack_docs.MEMBER_JOINED_CHANNEL, "Ev0DOCS0005")
        response = await SlackHttp(slack).post(slack_docs.events_api(body), JSON)
        assert (response.status_code, response.text) == (200, "")
        assert await asyncio.to_thread(slack.service.recent) == []
        assert slack.slack.pause.current() is None

    run(scenario)
