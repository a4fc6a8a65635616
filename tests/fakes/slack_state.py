"""The fake Slack workspace: users, channels, messages, pins, bookmarks, files, views.

Kept apart from the HTTP layer so tests can inspect and seed state directly, and so method
handlers stay small functions over plain data. Objects are stored as the JSON dicts Slack
returns, so what a handler answers is realistic by construction.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class SlackError(Exception):
    """An API-level failure: answered as HTTP 200 ``{"ok": false, "error": code}`` like Slack."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


CHANNEL_NAME_MAX = 80
_NAME_ALLOWED = re.compile(r"^[a-z0-9_\-\u00c0-\uffff]+$")


def _name_character(char: str) -> bool:
    """Beyond ASCII, only lower-case letters (and their marks) and digits: no upper case,
    spaces, separators, format characters (bidi overrides, zero-width) or symbols."""
    if char.isascii():
        return True
    category = unicodedata.category(char)
    return category in ("Ll", "Lo", "Lm", "Mn", "Mc", "Nd") and char == char.lower()


def validate_channel_name(name: str) -> None:
    """Apply Slack's channel-name rules, raising the error code Slack uses.

    conversations.create (https://docs.slack.dev/reference/methods/conversations.create):
    "Channel names may only contain lowercase letters, numbers, hyphens, and underscores, and
    must be 80 characters or less"; ``invalid_name_specials`` is "unallowed special characters
    or upper case characters". The fake keeps letters of scripts without case (``障害``) and
    refuses what the rule leaves out: upper case beyond ASCII (``É``), spaces and separators,
    format characters (a bidi override, a zero-width space) and symbols (emoji).
    """
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > CHANNEL_NAME_MAX:
        raise SlackError("invalid_name_maxlength")
    if not _NAME_ALLOWED.match(name) or not all(_name_character(c) for c in name):
        raise SlackError("invalid_name_specials")
    if not re.search(r"[^\-_]", name):
        raise SlackError("invalid_name_punctuation")


@dataclass
class Channel:
    """A conversation and everything attached to it."""

    id: str
    name: str
    created: int
    creator: str
    is_private: bool = False
    is_archived: bool = False
    is_general: bool = False
    is_im: bool = False
    topic: str = ""
    purpose: str = ""
    members: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    ephemeral: list[dict[str, Any]] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)

    def to_api(self, *, viewer: str | None = None) -> dict[str, Any]:
        """The channel object as conversations.info / create / list return it."""
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": False,
            "is_im": self.is_im,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": viewer in self.members if viewer else False,
            "created": self.created,
            "creator": self.creator,
            "unlinked": 0,
            "topic": {
                "value": self.topic,
                "creator": self.creator if self.topic else "",
                "last_set": 0,
            },
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
            "previous_names": [],
            "num_members": len(self.members),
        }

    def readable_by(self, user_id: str) -> Channel:
        """History and replies are for members only, as Slack's conversations.* say:
        ``not_in_channel`` for a public channel, ``channel_not_found`` for a private one."""
        if user_id not in self.members:
            raise SlackError("channel_not_found" if self.is_private else "not_in_channel")
        return self

    def find_message(self, ts: str) -> dict[str, Any] | None:
        """The top-level or threaded message with this ``ts``."""
        for message in self.messages:
            if message["ts"] == ts:
                return message
        return None


def make_user(
    user_id: str,
    name: str,
    email: str | None,
    team_id: str,
    *,
    is_bot: bool = False,
    guest: str | None = None,
    stranger: bool = False,
) -> dict[str, Any]:
    """A user object shaped like users.info returns it.

    ``guest``: None, ``"multi"`` (``is_restricted``) or ``"single"`` (``is_restricted``
    and ``is_ultra_restricted``, as Slack sets both for single-channel guests). A user from
    another organisation has their own ``team_id``; ``stranger`` adds ``is_stranger: true``,
    which Slack sets for such a user who shares no channel the app can see.
    """
    if guest not in (None, "multi", "single"):
        raise ValueError("guest must be None, 'multi' or 'single'")
    real_name = name.replace(".", " ").title()
    profile: dict[str, Any] = {
        "real_name": real_name,
        "display_name": name,
        "real_name_normalized": real_name,
        "display_name_normalized": name,
        "team": team_id,
    }
    if email:
        profile["email"] = email
    return {
        "id": user_id,
        "team_id": team_id,
        "name": name,
        "deleted": False,
        "real_name": real_name,
        "tz": "Europe/Amsterdam",
        "tz_offset": 3600,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": guest is not None,
        "is_ultra_restricted": guest == "single",
        "is_bot": is_bot,
        "is_app_user": False,
        "updated": int(time.time()),
        "profile": profile,
        **({"is_stranger": True} if stranger else {}),
    }


class Workspace:
    """All state of one fake workspace, guarded by a single re-entrant lock.

    The HTTP layer holds :attr:`lock` around each method call, so a handler sees and
    changes state atomically (Slack's own guarantees are per call, too).
    """

    def __init__(
        self,
        *,
        team_id: str = "T0FIREBRK",
        team: str = "firebreak-test",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        users: Iterable[tuple[str, str]] = (),
        channels: Iterable[str] = ("general", "incidents"),
        scopes: Iterable[str] = (),
    ) -> None:
        self.lock = threading.RLock()
        self.scopes = frozenset(scopes)
        self.team_id = team_id
        self.team = team
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self._ids = itertools.count(1)
        self._ts_last = 0.0
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.ims: dict[str, Channel] = {}  # user id -> the bot's direct-message conversation with them
        self.files: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, str] = {}  # upload token -> file id
        self.views: dict[str, dict[str, Any]] = {}
        self.exchanged_triggers: set[str] = set()  # views.open takes each trigger_id once
        self.usergroups: dict[str, list[str]] = {}  # user-group id -> member ids
        self.usergroup_profiles: dict[str, dict[str, Any]] = {}  # user-group id -> handle, name, created, disabled
        self.users[bot_user_id] = make_user(
            bot_user_id, "firebreak", None, team_id, is_bot=True
        )
        for name, email in users:
            self.add_user(name, email)
        for i, channel_name in enumerate(channels):
            self.add_channel(channel_name, is_general=(i == 0))

    def new_id(self, prefix: str) -> str:
        """Slack-looking ids: a type prefix and uppercase alphanumerics."""
        return f"{prefix}{next(self._ids):08X}"

    def new_ts(self) -> str:
        """A unique, strictly increasing message timestamp (``"1700000000.000100"``)."""
        with self.lock:
            now = max(time.time(), self._ts_last + 0.000001)
            self._ts_last = now
            return f"{now:.6f}"

    def add_user(
        self,
        name: str,
        email: str | None = None,
        *,
        user_id: str | None = None,
        guest: str | None = None,
        team_id: str | None = None,
        stranger: bool = False,
    ) -> dict[str, Any]:
        """Seed a human user; returns its users.info object (see :func:`make_user`).

        ``team_id`` other than the workspace's makes a Slack Connect user from elsewhere.
        """
        with self.lock:
            uid = user_id or self.new_id("U")
            self.users[uid] = make_user(
                uid, name, email, team_id or self.team_id, guest=guest, stranger=stranger
            )
            return self.users[uid]

    def add_usergroup(
        self, members: Iterable[str], *, group_id: str | None = None, handle: str | None = None, name: str | None = None
    ) -> str:
        """Seed a user group (``S…``) with these member ids; returns its id. ``handle`` is what
        people type after ``@`` (default ``group-<id>``), ``name`` its display name."""
        with self.lock:
            gid = group_id or self.new_id("S")
            self.usergroups[gid] = list(members)
            shown = handle or f"group-{gid.lower()}"
            self.usergroup_profiles[gid] = {"handle": shown, "name": name or shown, "created": int(time.time()), "disabled": False}
            return gid

    def add_channel(
        self,
        name: str,
        *,
        is_private: bool = False,
        is_general: bool = False,
        members: Iterable[str] = (),
        bot_is_member: bool = True,
    ) -> Channel:
        """Seed a channel (the bot is a member unless ``bot_is_member=False``)."""
        with self.lock:
            channel = Channel(
                id=self.new_id("C"),
                name=name,
                created=int(time.time()),
                creator=self.bot_user_id,
                is_private=is_private,
                is_general=is_general,
                members=[*([self.bot_user_id] if bot_is_member else []), *members],
            )
            self.channels[channel.id] = channel
            return channel

    def channel(self, ref: str | None) -> Channel:
        """Resolve a channel id, ``#name`` or bare name; raise ``channel_not_found``."""
        if not ref:
            raise SlackError("channel_not_found")
        with self.lock:
            if ref in self.channels:
                return self.channels[ref]
            for im in self.ims.values():
                if im.id == ref:
                    return im
            name = ref.lstrip("#")
            for channel in self.channels.values():
                if channel.name == name:
                    return channel
        raise SlackError("channel_not_found")

    def direct(self, user_id: str) -> Channel:
        """The bot's direct-message conversation with a person (``D…``), opened on first use, as
        ``chat.postMessage`` with a user id as ``channel`` does (it posts to the app's Messages tab)."""
        with self.lock:
            user = self.user(user_id)
            if user.get("deleted") or user.get("is_bot"):
                raise SlackError("channel_not_found")
            if user_id not in self.ims:
                self.ims[user_id] = Channel(
                    id=self.new_id("D"), name=user_id, created=int(time.time()), creator=self.bot_user_id,
                    is_private=True, is_im=True, members=[self.bot_user_id, user_id],
                )
            return self.ims[user_id]

    def user(self, user_id: str | None) -> dict[str, Any]:
        """A user by id; raise ``user_not_found``."""
        with self.lock:
            if user_id and user_id in self.users:
                return self.users[user_id]
        raise SlackError("user_not_found")

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        """Case-insensitive email lookup."""
        with self.lock:
            for user in self.users.values():
                if user["profile"].get("email", "").lower() == email.lower():
                    return user
        return None
