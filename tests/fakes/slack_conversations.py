"""Fake ``conversations.*`` methods: the incident channel's life cycle."""

from __future__ import annotations

import base64
import time
from typing import Any

from tests.fakes.slack_methods_base import Ctx, method
from tests.fakes.slack_state import Channel, SlackError, validate_channel_name

TOPIC_MAX = 250


def _writable(channel: Channel) -> Channel:
    if channel.is_archived:
        raise SlackError("is_archived")
    return channel


def _as_member(ctx: Ctx, channel: Channel) -> Channel:
    """Methods that act in a channel as one of its members: the caller must be one.

    conversations.setTopic and conversations.invite list ``not_in_channel`` among their
    errors (slackapi/slack-api-specs, web-api/slack_web_openapi_v2.json), and the invite
    reference says "The calling user must be a member of the channel"
    (https://docs.slack.dev/reference/methods/conversations.invite). A private channel the
    caller is not in is not visible to it: ``channel_not_found``.
    """
    if ctx.ws.bot_user_id not in channel.members:
        raise SlackError("channel_not_found" if channel.is_private else "not_in_channel")
    return channel


def _encode_cursor(index: int) -> str:
    return base64.b64encode(f"next:{index}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        kind, _, index = (
            base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        )
        if kind != "next":
            raise ValueError(kind)
        return int(index)
    except (ValueError, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None


def paginate(
    items: list[Any], ctx: Ctx, *, default_limit: int = 100, max_limit: int = 1000
) -> tuple[list[Any], str]:
    """Slice ``items`` per ``cursor``/``limit``; returns the page and the next cursor ("" at end)."""
    limit = ctx.params.integer("limit", default_limit)
    if limit <= 0:
        limit = default_limit
    limit = min(limit, max_limit)
    start = _decode_cursor(ctx.params.text("cursor", required=False))
    page = items[start : start + limit]
    end = start + len(page)
    return page, (_encode_cursor(end) if end < len(items) else "")


@method("conversations.create")
def create(ctx: Ctx) -> dict[str, Any]:
    name = ctx.params.text("name", error="invalid_name_required")
    validate_channel_name(name)
    ws = ctx.ws
    if any(c.name == name for c in ws.channels.values()):
        raise SlackError("name_taken")
    channel = ws.add_channel(name, is_private=ctx.params.flag("is_private"))
    return {"channel": channel.to_api(viewer=ws.bot_user_id)}


@method("conversations.info")
def info(ctx: Ctx) -> dict[str, Any]:
    channel = ctx.ws.channel(ctx.params.text("channel", error="channel_not_found"))
    return {"channel": channel.to_api(viewer=ctx.ws.bot_user_id)}


@method("conversations.list")
def list_(ctx: Ctx) -> dict[str, Any]:
    types = set(ctx.params.csv("types") or ["public_channel"])
    exclude_archived = ctx.params.flag("exclude_archived")
    found = [
        c
        for c in ctx.ws.channels.values()
        if (
            ("private_channel" in types)
            if c.is_private
            else ("public_channel" in types)
        )
        and not (exclude_archived and c.is_archived)
    ]
    page, cursor = paginate(found, ctx)
    return {
        "channels": [c.to_api(viewer=ctx.ws.bot_user_id) for c in page],
        "response_metadata": {"next_cursor": cursor},
    }


@method("conversations.setTopic")
def set_topic(ctx: Ctx) -> dict[str, Any]:
    channel = _as_member(ctx, _writable(
        ctx.ws.channel(ctx.params.text("channel", error="channel_not_found"))
    ))
    topic = ctx.params.text("topic", required=False)
    if len(topic) > TOPIC_MAX:
        raise SlackError("too_long")
    channel.topic = topic
    return {"channel": channel.to_api(viewer=ctx.ws.bot_user_id)}


MAX_INVITE_USERS = 1000


@method("conversations.invite")
def invite(ctx: Ctx) -> dict[str, Any]:
    """Invite 1-1000 users; one refused user fails the whole call and nobody is invited.

    Slack's reference (https://docs.slack.dev/reference/methods/conversations.invite,
    "Partially failed calls"): "Users who can be successfully invited [...] will not be
    invited if any of the user invites fail. Instead, an error response will be returned."
    A user already in the channel is such a failure (``already_in_channel``), listed in
    ``errors``. More than 1000 users is ``too_many_users`` (slackapi/slack-api-specs,
    web-api/slack_web_openapi_v2.json, ``/conversations.invite``).
    """
    channel = _as_member(ctx, _writable(
        ctx.ws.channel(ctx.params.text("channel", error="channel_not_found"))
    ))
    users = ctx.params.csv("users")
    if not users:
        raise SlackError("no_user")
    if len(users) > MAX_INVITE_USERS:
        raise SlackError("too_many_users")
    for user_id in users:
        ctx.ws.user(user_id)
        if user_id == ctx.ws.bot_user_id:
            raise SlackError("cant_invite_self")
    members = [u for u in users if u in channel.members]
    if members:
        raise SlackError(
            "already_in_channel",
            errors=[
                {"user": u, "ok": False, "error": "already_in_channel"} for u in members
            ],
        )
    channel.members.extend(dict.fromkeys(users))
    return {"channel": channel.to_api(viewer=ctx.ws.bot_user_id)}


@method("conversations.archive")
def archive(ctx: Ctx) -> dict[str, Any]:
    channel = ctx.ws.channel(ctx.params.text("channel", error="channel_not_found"))
    if channel.is_archived:
        raise SlackError("already_archived")
    if channel.is_general:
        raise SlackError("cant_archive_general")
    channel.is_archived = True
    return {}


@method("conversations.join")
def join(ctx: Ctx) -> dict[str, Any]:
    channel = _writable(
        ctx.ws.channel(ctx.params.text("channel", error="channel_not_found"))
    )
    if channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    result: dict[str, Any] = {}
    if ctx.ws.bot_user_id in channel.members:
        result["warning"] = "already_in_channel"
        result["response_metadata"] = {"warnings": ["already_in_channel"]}
    else:
        channel.members.append(ctx.ws.bot_user_id)
    result["channel"] = channel.to_api(viewer=ctx.ws.bot_user_id)
    return result


def _public_message(message: dict[str, Any], include_metadata: bool) -> dict[str, Any]:
    shown = {k: v for k, v in message.items() if not k.startswith("_")}
    if not include_metadata:
        shown.pop("metadata", None)
    return shown


def _time_window(ctx: Ctx) -> Any:
    oldest = float(ctx.params.text("oldest", required=False) or 0)
    latest = float(ctx.params.text("latest", required=False) or time.time() + 86400)
    inclusive = ctx.params.flag("inclusive")

    def in_range(ts: float) -> bool:
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    return in_range


@method("conversations.history")
def history(ctx: Ctx) -> dict[str, Any]:
    """Newest first, like Slack, members only. ``metadata`` only with ``include_all_metadata``."""
    channel = ctx.ws.channel(ctx.params.text("channel", error="channel_not_found")).readable_by(ctx.ws.bot_user_id)
    in_range = _time_window(ctx)
    include_metadata = ctx.params.flag("include_all_metadata")
    found = [
        m
        for m in reversed(channel.messages)
        if "thread_ts" not in m or m["thread_ts"] == m["ts"]
    ]
    found = [m for m in found if in_range(float(m["ts"]))]
    page, cursor = paginate(found, ctx)
    return {
        "messages": [_public_message(m, include_metadata) for m in page],
        "has_more": bool(cursor),
        "pin_count": len(channel.pins),
        "response_metadata": {"next_cursor": cursor},
    }


@method("conversations.replies")
def replies(ctx: Ctx) -> dict[str, Any]:
    """A thread, oldest first: its parent, then the replies in the time window, members only.

    ``ts`` must be the thread's parent (or an unthreaded message, which comes back alone);
    the ts of a reply is answered with ``thread_not_found``, so a caller that passes the
    message it holds instead of its parent finds nothing.
    """
    channel = ctx.ws.channel(ctx.params.text("channel", error="channel_not_found")).readable_by(ctx.ws.bot_user_id)
    ts = ctx.params.text("ts", error="thread_not_found")
    parent = channel.find_message(ts)
    if parent is None or parent.get("thread_ts", ts) != ts:
        raise SlackError("thread_not_found")
    in_range = _time_window(ctx)
    include_metadata = ctx.params.flag("include_all_metadata")
    thread = [m for m in channel.messages if m.get("thread_ts") == ts and m["ts"] != ts and in_range(float(m["ts"]))]
    page, cursor = paginate([parent, *thread], ctx, default_limit=1000)
    return {
        "messages": [_public_message(m, include_metadata) for m in page],
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }
