"""Concurrent look-ups share one Slack call: at a cache's expiry during a burst, and for
low-tier methods (usergroups.list is about 20 a minute) that matters."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.gateway import SlackGateway
from bot.chat.slack.pacing import Pacer
from bot.chat.slack.people import SlackDirectory
from bot.chat.slack.single_flight import SingleFlight
from bot.chat.slack.usergroups import UserGroupHandles
from tests.fakes.slack_api import FakeSlack


def test_callers_asking_at_once_share_one_call_and_a_later_one_calls_again() -> None:
    flight: SingleFlight[int] = SingleFlight()
    made: list[int] = []

    async def call() -> int:
        made.append(1)
        await asyncio.sleep(0.01)
        return len(made)

    async def scenario() -> None:
        answers = await asyncio.gather(*(flight.run("k", call) for _ in range(20)))
        assert answers == [1] * 20 and len(made) == 1
        assert await flight.run("k", call) == 2, "a finished call is not reused"
        await asyncio.gather(flight.run("a", call), flight.run("b", call))
        assert len(made) == 4, "keys are apart"

    asyncio.run(scenario())


def test_a_failure_reaches_every_waiter_and_a_cancelled_waiter_leaves_the_call_running() -> None:
    flight: SingleFlight[str] = SingleFlight()

    async def failing() -> str:
        await asyncio.sleep(0.01)
        raise RuntimeError("slack down")

    async def slow() -> str:
        await asyncio.sleep(0.05)
        return "done"

    async def scenario() -> None:
        results = await asyncio.gather(*(flight.run("f", failing) for _ in range(3)), return_exceptions=True)
        assert [str(result) for result in results] == ["slack down"] * 3
        impatient = asyncio.ensure_future(flight.run("s", slow))
        patient = asyncio.ensure_future(flight.run("s", slow))
        await asyncio.sleep(0.01)
        impatient.cancel()
        assert await patient == "done"
        with pytest.raises(asyncio.CancelledError):
            await impatient

    asyncio.run(scenario())


def test_one_flight_serves_each_event_loop() -> None:
    flight: SingleFlight[str] = SingleFlight()

    async def call() -> str:
        await asyncio.sleep(0)
        return "ok"

    assert asyncio.run(flight.run("k", call)) == "ok"
    assert asyncio.run(flight.run("k", call)) == "ok"


def test_a_burst_of_admin_checks_at_expiry_asks_slack_once(fake_slack: FakeSlack) -> None:
    group = fake_slack.add_usergroup(["U0BOB"])
    client = AsyncWebClient(token=fake_slack.token, base_url=fake_slack.api_url, timeout=5)
    people = SlackDirectory(client, admins=(group,), ttl=300)

    async def burst() -> list[bool]:
        return [principal.is_admin for principal in await asyncio.gather(*(people.principal("U0BOB") for _ in range(15)))]

    assert asyncio.run(burst()) == [True] * 15
    assert len(fake_slack.calls("usergroups.users.list")) == 1
    assert len(fake_slack.calls("users.info")) == 1
    assert len(fake_slack.calls("auth.test")) == 1


def test_a_burst_of_escalations_lists_user_groups_once(fake_slack: FakeSlack) -> None:
    fake_slack.add_usergroup(["U0BOB"], handle="oncall-primary")
    client = AsyncWebClient(token=fake_slack.token, base_url=fake_slack.api_url, timeout=5)
    handles = UserGroupHandles(SlackGateway(client, Pacer()))

    async def burst() -> list[tuple[dict[str, str], list[str]]]:
        return await asyncio.gather(*(handles.resolve(["oncall-primary", "nobody"]) for _ in range(25)))

    answers = asyncio.run(burst())
    assert {(tuple(known), tuple(unknown)) for known, unknown in answers} == {(("oncall-primary",), ("nobody",))}
    assert len(fake_slack.calls("usergroups.list")) == 1
