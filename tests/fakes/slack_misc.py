"""Fake auth, users, pins, bookmarks and reactions methods."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.slack_methods_base import Ctx, method
from tests.fakes.slack_state import SlackError


@method("auth.test")
def auth_test(ctx: Ctx) -> dict[str, Any]:
    ws = ctx.ws
    return {
        "url": f"https://{ws.team}.slack.com/",
        "team": ws.team,
        "user": "firebreak",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


@method("users.info")
def users_info(ctx: Ctx) -> dict[str, Any]:
    return {"user": ctx.ws.user(ctx.params.text("user", error="user_not_found"))}


@method("usergroups.users.list")
def usergroups_users_list(ctx: Ctx) -> dict[str, Any]:
    """Member ids of a user group (scope ``usergroups:read``); unknown ids: ``no_such_subteam``."""
    group = ctx.params.text("usergroup", error="invalid_arguments")
    members = ctx.ws.usergroups.get(group)
    if members is None:
        raise SlackError("no_such_subteam")
    return {"users": list(members)}


@method("usergroups.list")
def usergroups_list(ctx: Ctx) -> dict[str, Any]:
    """The workspace's user groups (scope ``usergroups:read``), as api.slack.com/methods/usergroups.list
    documents them: ``include_disabled``, ``include_count`` and ``include_users`` are honoured."""
    if "usergroups:read" not in ctx.ws.scopes:
        raise SlackError("missing_scope")
    with_disabled = ctx.params.flag("include_disabled")
    with_count = ctx.params.flag("include_count")
    with_users = ctx.params.flag("include_users")
    groups = []
    with ctx.ws.lock:
        for gid, profile in ctx.ws.usergroup_profiles.items():
            if profile["disabled"] and not with_disabled:
                continue
            members = list(ctx.ws.usergroups.get(gid, []))
            group: dict[str, Any] = {
                "id": gid,
                "team_id": ctx.ws.team_id,
                "is_usergroup": True,
                "name": profile["name"],
                "description": "",
                "handle": profile["handle"],
                "is_external": False,
                "date_create": profile["created"],
                "date_update": profile["created"],
                "date_delete": profile["created"] if profile["disabled"] else 0,
                "auto_type": None,
                "created_by": "U0ADMIN",
                "updated_by": "U0ADMIN",
                "deleted_by": None,
                "prefs": {"channels": [], "groups": []},
            }
            if with_users:
                group["users"] = members
            if with_count:
                group["user_count"] = len(members)
            groups.append(group)
    return {"usergroups": groups}


@method("users.lookupByEmail")
def users_lookup_by_email(ctx: Ctx) -> dict[str, Any]:
    user = ctx.ws.user_by_email(ctx.params.text("email", error="users_not_found"))
    if user is None:
        raise SlackError("users_not_found")
    return {"user": user}


@method("pins.add")
def pins_add(ctx: Ctx) -> dict[str, Any]:
    channel = ctx.ws.channel(ctx.params.text("channel", error="channel_not_found"))
    ts = ctx.params.text("timestamp", error="no_item_specified")
    if channel.find_message(ts) is None:
        raise SlackError("message_not_found")
    if ts in channel.pins:
        raise SlackError("already_pinned")
    channel.pins.append(ts)
    return {}


@method("bookmarks.add")
def bookmarks_add(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    channel = ctx.ws.channel(p.text("channel_id", error="channel_not_found"))
    title = p.text("title", error="invalid_arguments")
    kind = p.text("type", error="invalid_arguments")
    if kind != "link":
        raise SlackError("invalid_bookmark_type")
    link = p.text("link", error="invalid_link")
    if not link.startswith(("http://", "https://")):
        raise SlackError("invalid_link")
    now = int(time.time())
    bookmark = {
        "id": ctx.ws.new_id("Bk"),
        "channel_id": channel.id,
        "title": title,
        "link": link,
        "emoji": p.text("emoji", required=False) or None,
        "icon_url": None,
        "type": "link",
        "entity_id": p.text("entity_id", required=False) or None,
        "date_created": now,
        "date_updated": 0,
        "rank": chr(ord("U") + len(channel.bookmarks) % 5),
        "last_updated_by_user_id": ctx.ws.bot_user_id,
        "last_updated_by_team_id": ctx.ws.team_id,
        "shortcut_id": None,
        "app_id": "A0FIREBRK",
    }
    channel.bookmarks.append(bookmark)
    return {"bookmark": bookmark}


@method("reactions.add")
def reactions_add(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    channel = ctx.ws.channel(p.text("channel", error="channel_not_found"))
    name = p.text("name", error="invalid_name").strip(":")
    message = channel.find_message(p.text("timestamp", error="no_item_specified"))
    if message is None:
        raise SlackError("message_not_found")
    reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if ctx.ws.bot_user_id in reaction["users"]:
                raise SlackError("already_reacted")
            reaction["users"].append(ctx.ws.bot_user_id)
            reaction["count"] += 1
            return {}
    reactions.append({"name": name, "users": [ctx.ws.bot_user_id], "count": 1})
    return {}
