"""Slack people for the permission policy: mentions as names, ``users.info`` as standing.

Two jobs, both translations for ``bot/domain/permissions.py``:

- ``SlackNaming``: in Slack a person is named by mention (``<@U123|bob>``, which a slash
  command with ``should_escape`` sends). A bare ``bob`` or ``@bob`` is refused with a hint:
  usernames are deprecated and display names are not unique, so a name proves nobody's
  identity. Names stored before (by the console, or by older versions) stay readable and
  are shown as unverified; they grant nobody anything.
- ``SlackDirectory``: who a Slack user id is. ``users.info`` says whether they are a guest
  (``is_restricted`` multi-channel, ``is_ultra_restricted`` single-channel) or from another
  organisation (``is_stranger``, or a home ``team_id`` outside our workspace and
  enterprise); ``FIREBREAK_ADMINS`` names admins by user id or by user group, whose
  members come from ``usergroups.users.list`` (scope ``usergroups:read``).

Answers are cached for ``ttl`` seconds, so a burst of clicks costs one look-up each. When
Slack cannot be asked, the last answer is used however old; with none, the person is
"unknown" (trusted like a guest) and an admin group counts as empty: fail closed, say why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.commands import CommandContext
from bot.chat.people import SELF
from bot.chat.slack.identity import actor_for, user_id_of
from bot.chat.slack.single_flight import SingleFlight
from bot.domain.errors import InvalidCommand
from bot.domain.permissions import Principal, Standing
from bot.domain.timeline import Source

log = logging.getLogger(__name__)

#: Seconds a users.info or usergroups.users.list answer is trusted.
DEFAULT_TTL = 300.0

MENTION_HINT = (
    "name people by mention: type @ and pick them from the list, e.g. `/incident role commander @alice`"
    " (or `me` for yourself). A plain name like {name!r} can't be checked: Slack display names are not unique."
)


class SlackNaming:
    """Mentions are people; everything else is an unverified name."""

    def key_of(self, text: str) -> str | None:
        return user_id_of(text)

    def person(self, text: str, *, me: str) -> str:
        cleaned = text.strip()
        if cleaned.lower() in SELF:
            return me
        if user_id_of(cleaned) is None or not cleaned.startswith("<@"):
            raise InvalidCommand(MENTION_HINT.format(name=cleaned))
        return cleaned

    def shown(self, text: str) -> str:
        return text if user_id_of(text) else f"{text} (unverified: not a Slack mention)"


SLACK_NAMING = SlackNaming()


@dataclass
class _Cached:
    value: Any
    at: float


class SlackDirectory:
    """Resolves a Slack user id to a ``Principal``."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        admins: Iterable[str] = (),
        ttl: float = DEFAULT_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._admin_users = frozenset(item for item in admins if item[:1] in ("U", "W"))
        self._admin_groups = tuple(item for item in admins if item.startswith("S"))
        self._ttl = ttl
        self._now = monotonic
        self._users: dict[str, _Cached] = {}
        self._groups: dict[str, _Cached] = {}
        self._user_flight: SingleFlight[dict[str, Any] | None] = SingleFlight()
        self._members_flight: SingleFlight[frozenset[str]] = SingleFlight()
        self._home_flight: SingleFlight[tuple[str, str | None] | None] = SingleFlight()
        self._home: tuple[str, str | None] | None = None

    async def principal(self, user_id: str, name: str | None = None) -> Principal:
        shown = actor_for(user_id, name)
        user = await self._user(user_id)
        standing, note = await self._standing(user)
        admin = await self.is_admin(user_id)
        return Principal(key=user_id, name=shown, standing=standing, is_admin=admin, note=note)

    async def is_admin(self, user_id: str) -> bool:
        if user_id in self._admin_users:
            return True
        for group in self._admin_groups:
            if user_id in await self._members(group):
                return True
        return False

    # -- look-ups ------------------------------------------------------------------

    async def _standing(self, user: dict[str, Any] | None) -> tuple[Standing, str]:
        if user is None:
            return Standing.UNKNOWN, "someone Firebreak could not look up in Slack"
        if user.get("deleted") or user.get("is_bot"):
            return Standing.UNKNOWN, "a deactivated or bot account"
        if user.get("is_ultra_restricted"):
            return Standing.GUEST, "a single-channel guest"
        if user.get("is_restricted"):
            return Standing.GUEST, "a multi-channel guest"
        if user.get("is_stranger"):
            return Standing.EXTERNAL, "someone from another organisation"
        home = await self._home_team()
        if home is None:
            return Standing.UNKNOWN, "someone Firebreak could not look up in Slack"
        team, enterprise = home
        their_enterprise = (user.get("enterprise_user") or {}).get("enterprise_id")
        if user.get("team_id") not in (None, team) and not (enterprise and their_enterprise == enterprise):
            return Standing.EXTERNAL, "someone from another organisation"
        return Standing.MEMBER, ""

    async def _user(self, user_id: str) -> dict[str, Any] | None:
        cached = self._users.get(user_id)
        if cached is not None and self._now() - cached.at < self._ttl:
            return dict(cached.value)
        user = await self._user_flight.run(user_id, lambda: self._fetch_user(user_id, cached))
        return dict(user) if user is not None else None

    async def _fetch_user(self, user_id: str, cached: _Cached | None) -> dict[str, Any] | None:
        try:
            answer = await self._client.users_info(user=user_id)
            user = dict(answer.get("user") or {})
        except Exception as error:  # Slack down, rate limited, or no such user: use what we knew
            log.warning("users.info failed", extra={"user": user_id, "error": str(error)})
            return dict(cached.value) if cached is not None else None
        self._users[user_id] = _Cached(user, self._now())
        return user

    async def _members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        if cached is not None and self._now() - cached.at < self._ttl:
            return frozenset(cached.value)
        return await self._members_flight.run(group, lambda: self._fetch_members(group, cached))

    async def _fetch_members(self, group: str, cached: _Cached | None) -> frozenset[str]:
        try:
            answer = await self._client.usergroups_users_list(usergroup=group)
            members = frozenset(str(user) for user in answer.get("users") or [])
        except Exception as error:
            log.warning("usergroups.users.list failed", extra={"usergroup": group, "error": str(error)})
            return frozenset(cached.value) if cached is not None else frozenset()
        self._groups[group] = _Cached(members, self._now())
        return members

    async def _home_team(self) -> tuple[str, str | None] | None:
        if self._home is None:
            return await self._home_flight.run("auth.test", self._fetch_home)
        return self._home

    async def _fetch_home(self) -> tuple[str, str | None] | None:
        try:
            answer = await self._client.auth_test()
        except Exception as error:
            log.warning("auth.test failed", extra={"error": str(error)})
            return None
        # Kept inside the shared call: a caller that looks before the waiters resume finds it.
        self._home = (str(answer.get("team_id") or ""), answer.get("enterprise_id") or None)
        return self._home


async def slack_context(
    directory: SlackDirectory, user_id: str, name: str | None, *, channel_incident: int | None
) -> CommandContext:
    """The command context for a Slack user: the same for typed commands, buttons, forms
    and reactions, so the policy sees the same person whichever way they came in."""
    return CommandContext(
        actor=actor_for(user_id, name),
        source=Source.SLACK,
        channel_incident=channel_incident,
        principal=await directory.principal(user_id, name),
        naming=SLACK_NAMING,
    )
