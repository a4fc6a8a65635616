"""Who a Slack user is for the permission policy: users.info, admin groups, caching, naming."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.people import SLACK_NAMING, SlackDirectory
from bot.domain.errors import InvalidCommand
from bot.domain.permissions import Standing
from tests.fakes.slack_api import FakeSlack


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def directory(fake: FakeSlack, ticks: Ticks, admins: tuple[str, ...] = ()) -> SlackDirectory:
    client = AsyncWebClient(token=fake.token, base_url=fake.api_url, timeout=5)
    return SlackDirectory(client, admins=admins, ttl=300, monotonic=ticks)


def test_standing_comes_from_users_info(fake_slack: FakeSlack) -> None:
    fake_slack.add_user("gina", user_id="U0GINA", guest="single")
    fake_slack.add_user("mia", user_id="U0MIA", guest="multi")
    fake_slack.add_user("eve", user_id="U0EVE", team_id="T0PARTNER")
    fake_slack.add_user("stan", user_id="U0STAN", team_id="T0ELSE", stranger=True)
    fake_slack.add_user("gone", user_id="U0GONE")["deleted"] = True
    people = directory(fake_slack, Ticks())

    async def standings() -> dict[str, tuple[Standing, str]]:
        found = {}
        for user in ("U0BOB", "U0GINA", "U0MIA", "U0EVE", "U0STAN", "U0GONE", "U0NOBODY"):
            principal = await people.principal(user, "x")
            found[user] = (principal.standing, principal.note)
            assert principal.key == user and principal.name == f"<@{user}|x>" and not principal.is_admin
        return found

    found = asyncio.run(standings())
    assert found["U0BOB"] == (Standing.MEMBER, "")
    assert found["U0GINA"] == (Standing.GUEST, "a single-channel guest")
    assert found["U0MIA"] == (Standing.GUEST, "a multi-channel guest")
    assert found["U0EVE"][0] is Standing.EXTERNAL and found["U0STAN"][0] is Standing.EXTERNAL
    assert found["U0GONE"][0] is Standing.UNKNOWN and found["U0NOBODY"][0] is Standing.UNKNOWN


def test_answers_are_cached_and_an_outage_falls_back_to_the_last_one(fake_slack: FakeSlack) -> None:
    fake_slack.add_user("gina", user_id="U0GINA", guest="single")
    group = fake_slack.add_usergroup(["U0BOB"])
    ticks = Ticks()
    people = directory(fake_slack, ticks, admins=(group, "U0CAROL"))

    async def scenario() -> None:
        assert (await people.principal("U0BOB")).is_admin and (await people.principal("U0CAROL")).is_admin
        assert (await people.principal("U0GINA")).standing is Standing.GUEST
        assert not (await people.principal("U0ALICE")).is_admin
        assert len(fake_slack.calls("usergroups.users.list")) == 1
        await people.principal("U0GINA")
        assert len(fake_slack.calls("users.info")) == 4  # bob, carol, gina, alice: once each
        ticks.now = 301
        fake_slack.outage(5, methods=["users.info", "usergroups.users.list"])
        gina = await people.principal("U0GINA")
        assert gina.standing is Standing.GUEST  # Slack down: the last answer, not a promotion
        assert (await people.principal("U0BOB")).is_admin  # and the group's last known members
        assert (await people.principal("U0NEW")).standing is Standing.UNKNOWN

    asyncio.run(scenario())


def test_an_admin_group_slack_cannot_list_grants_nothing(fake_slack: FakeSlack) -> None:
    people = directory(fake_slack, Ticks(), admins=("S0MISSING",))
    assert asyncio.run(people.principal("U0BOB")).is_admin is False


def test_slack_names_people_by_mention() -> None:
    me = "<@U0BOB|bob>"
    assert SLACK_NAMING.person("<@U0ALICE|alice>", me=me) == "<@U0ALICE|alice>"
    assert SLACK_NAMING.person("<@W0GRID>", me=me) == "<@W0GRID>"
    assert SLACK_NAMING.person("me", me=me) == me and SLACK_NAMING.person("@Me", me=me) == me
    for bare in ("alice", "@alice", "U0ALICE", "<#C0CHAN>", "<!here>"):
        with pytest.raises(InvalidCommand, match="name people by mention"):
            SLACK_NAMING.person(bare, me=me)
    assert SLACK_NAMING.key_of("<@U0ALICE|alice>") == "U0ALICE" and SLACK_NAMING.key_of("alice") is None
    assert SLACK_NAMING.shown("alice") == "alice (unverified: not a Slack mention)"
    assert SLACK_NAMING.shown("<@U0ALICE>") == "<@U0ALICE>"
