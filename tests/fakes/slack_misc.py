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
