"""Socket Mode end to end: the real Bolt/slack-sdk aiohttp client against a fake Socket Mode
server, reached through ``apps.connections.open`` on the fake Web API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot.chat.slack.socket_mode import socket_mode_task
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Status
from bot.store.models import SlackSeenRequestRow
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    app_mention_event,
    block_actions_payload,
    event_callback,
    member_joined_channel_event,
    slash_command_fields,
)
from tests.fakes.slack_socket_mode import FakeSocketMode
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.support.waiting import eventually


def socket_container(slack_factory: Callable[..., Container], fake_slack: FakeSlack) -> Container:
    """Socket Mode only: an app-level token and no signing secret (no public URL)."""
    return slack_factory(fake_slack, SLACK_APP_TOKEN=fake_slack.app_token, SLACK_SIGNING_SECRET="")


async def connected(container: Container, server: FakeSocketMode, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run the socket-mode loop ``firebreak serve`` runs, around ``scenario``."""
    runtime = container.slack
    stop = asyncio.Event()
    task = asyncio.create_task(socket_mode_task(runtime.app, container.settings.slack_app_token or "", runtime.seen)(stop))
    try:
        await asyncio.to_thread(server.wait_for_connections, 1)
        await scenario()
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, timeout=60))  # type: ignore[arg-type]


async def ack_of(server: FakeSocketMode, envelope_id: str, count: int = 1) -> Any:
    return (await asyncio.to_thread(server.wait_for_ack, envelope_id, count=count))[-1]


def test_incident_command_buttons_and_events_over_socket_mode(
    slack_factory: Callable[..., Container],
    fake_slack: FakeSlack,
    fake_socket_mode: FakeSocketMode,
    webhook_receiver: WebhookReceiver,
    clock: FrozenClock,
) -> None:
    container = socket_container(slack_factory, fake_slack)
    assert not any(getattr(route, "path", "") == "/slack/events" for route in container.routes)  # no public URL
    server = fake_socket_mode

    async def scenario() -> None:
        assert len(fake_slack.calls("apps.connections.open", ok=True)) == 1  # the fake takes only the app token
        assert server.connections[0].said_hello

        # /incident declare, as a slash_commands envelope.
        command = slash_command_fields("declare Checkout down P1", response_url=webhook_receiver.url("/respond"))
        envelope = await asyncio.to_thread(server.send, "slash_commands", command)
        ack = await ack_of(server, envelope)
        assert ack.payload in (None, {})  # acknowledged at once; the answer goes to response_url
        reply = (await eventually(lambda: webhook_receiver.received))[0].json()
        assert reply["text"].startswith("🚨 INC-1 declared: Checkout down (P1)")
        incident = (await eventually(container.service.recent))[0]

        # The Acknowledge button, as an interactive envelope.
        press = block_actions_payload("firebreak_ack", str(incident.number), user_id="U0BOB", user_name="bob",
                                      response_url=webhook_receiver.url("/button"))
        envelope = await asyncio.to_thread(server.send, "interactive", press)
        await ack_of(server, envelope)
        await eventually(lambda: container.service.get(incident.number).status is Status.ACKNOWLEDGED)

        # An app mention, as an events_api envelope.
        general = fake_slack.channel("general").id
        envelope = await asyncio.to_thread(server.send, "events_api", event_callback(app_mention_event(channel=general)))
        await ack_of(server, envelope)
        posted = await eventually(lambda: fake_slack.calls("chat.postMessage", ok=True))
        assert posted[0].params["channel"] == general

        # Nobody listens for these: they are acknowledged all the same (else Slack redelivers).
        for type_, payload in (
            ("events_api", event_callback(member_joined_channel_event())),
            ("interactive", block_actions_payload("someone_elses_button", "1")),
            ("slash_commands", slash_command_fields("hi", command="/other")),
        ):
            await ack_of(server, await asyncio.to_thread(server.send, type_, payload))

    run(connected(container, server, scenario))
    assert server.violations == []


def test_disconnect_warning_and_refresh_reconnect_with_a_fresh_url(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, fake_socket_mode: FakeSocketMode, clock: FrozenClock
) -> None:
    container = socket_container(slack_factory, fake_slack)
    server = fake_socket_mode

    async def scenario() -> None:
        for number, reason in ((2, "warning"), (3, "refresh_requested")):
            await asyncio.to_thread(server.disconnect, reason)
            await asyncio.to_thread(server.wait_for_connections, number)
            await eventually(lambda: len(server.open_connections()) == 1)  # the old socket is gone
            # The new connection carries work: an envelope sent on it is acknowledged on it.
            envelope = await asyncio.to_thread(server.send, "slash_commands", slash_command_fields(f"declare Outage {number} P2"))
            assert (await ack_of(server, envelope)).connection == number
        assert len(fake_slack.calls("apps.connections.open", ok=True)) == 3  # one fresh URL per connection
        titles = sorted(i.title for i in await eventually(lambda: len(container.service.recent()) == 2 and container.service.recent()))
        assert titles == ["Outage 2", "Outage 3"]

    run(connected(container, server, scenario))
    assert server.violations == []


def test_an_unacknowledged_envelope_is_redelivered_and_applied_once(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, fake_socket_mode: FakeSocketMode, clock: FrozenClock
) -> None:
    container = socket_container(slack_factory, fake_slack)
    server = fake_socket_mode

    async def scenario() -> None:
        server.lose_next_acks(1)
        envelope = await asyncio.to_thread(server.send, "slash_commands", slash_command_fields("declare Payments slow P2"))
        await eventually(container.service.recent)  # applied once already
        assert server.pending() == [envelope]  # but "Slack" never saw the ack
        await asyncio.to_thread(server.disconnect, "refresh_requested")
        ack = await ack_of(server, envelope)  # redelivered on the new connection, acknowledged again
        assert ack.connection == 2
        redelivered = [f for f in server.sent if f["envelope_id"] == envelope]
        assert [f["connection"] for f in redelivered] == [1, 2]

        # An Events API retry comes in a new envelope with the same event_id.
        general = fake_slack.channel("general").id
        event = event_callback(app_mention_event(channel=general), event_id="Ev0SOCKETRETRY")
        first = await asyncio.to_thread(server.send, "events_api", event)
        second = await asyncio.to_thread(server.send, "events_api", event)
        await ack_of(server, first)
        await ack_of(server, second)

        # The sentinel: later work goes through, and the repeats did nothing.
        await asyncio.to_thread(server.send, "slash_commands", slash_command_fields("declare Search down P1"))
        incidents = await eventually(lambda: len(container.service.recent()) == 2 and container.service.recent())
        assert sorted(i.title for i in incidents) == ["Payments slow", "Search down"]
        await eventually(lambda: fake_slack.calls("chat.postMessage", ok=True))
        assert len(fake_slack.calls("chat.postMessage", ok=True)) == 1

    run(connected(container, server, scenario))
    assert server.violations == []


def test_apps_connections_open_refuses_the_bot_token(fake_slack: FakeSlack, fake_socket_mode: FakeSocketMode) -> None:
    import httpx

    def open_with(token: str) -> dict[str, Any]:
        return dict(httpx.post(fake_slack.api_url + "apps.connections.open", headers={"Authorization": f"Bearer {token}"}).json())

    assert open_with(fake_slack.token)["error"] == "not_allowed_token_type"
    assert open_with("xapp-1-wrong")["error"] == "invalid_auth"
    answer = open_with(fake_slack.app_token)
    assert answer["ok"] is True and answer["url"].startswith("ws://127.0.0.1:")


def test_an_envelope_the_app_fails_is_not_acknowledged_and_its_redelivery_is_applied(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, fake_socket_mode: FakeSocketMode, clock: FrozenClock
) -> None:
    """A failure before the acknowledgement leaves the envelope to Slack's redelivery, and
    the claim taken for it is released so the redelivery is not mistaken for a repeat."""
    container = socket_container(slack_factory, fake_slack)
    server = fake_socket_mode
    failures = {"left": 1}

    async def flaky(next: Callable[[], Awaitable[None]]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database blip")
        await next()

    container.slack.app.use(flaky)

    async def scenario() -> None:
        envelope = await asyncio.to_thread(server.send, "slash_commands", slash_command_fields("declare Queue backlog P2"))
        await eventually(lambda: failures["left"] == 0 and not claimed(container, f"envelope:{envelope}"))
        assert server.pending() == [envelope] and server.acks == []
        await asyncio.to_thread(server.disconnect, "refresh_requested")
        assert (await ack_of(server, envelope)).connection == 2
        incidents = await eventually(container.service.recent)
        assert [i.title for i in incidents] == ["Queue backlog"]

    run(connected(container, server, scenario))


def claimed(container: Container, key: str) -> bool:
    with container.sessions() as session:
        return session.get(SlackSeenRequestRow, key) is not None


def test_a_socket_mode_url_is_good_for_one_connection(fake_slack: FakeSlack, fake_socket_mode: FakeSocketMode) -> None:
    import aiohttp

    async def scenario() -> None:
        url = fake_socket_mode.new_url()
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as socket:
                hello = await socket.receive_json(timeout=5)
                assert hello["type"] == "hello" and hello["connection_info"]["app_id"]
            try:
                async with session.ws_connect(url):
                    raise AssertionError("a used URL must be refused")
            except aiohttp.WSServerHandshakeError as refused:
                assert refused.status == 401

    run(scenario())
