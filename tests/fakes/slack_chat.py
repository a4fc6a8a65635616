"""Fake ``chat.*`` methods with Slack's message validation and limits."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack_blocks import validate_blocks
from tests.fakes.slack_methods_base import Ctx, method
from tests.fakes.slack_state import Channel, SlackError

MAX_TEXT = 40_000
"""Slack truncates above 40,000 characters; the fake refuses instead so overflows are caught."""


def _validate_metadata(metadata: Any) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return metadata


def _content(ctx: Ctx, *, required: bool) -> dict[str, Any]:
    """text/blocks/attachments/metadata of a post or update, validated."""
    p = ctx.params
    content: dict[str, Any] = {}
    if p.has("text"):
        text = p.text("text")
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        content["text"] = text
    if p.has("blocks"):
        content["blocks"] = validate_blocks(
            p.structured("blocks", error="invalid_blocks_format")
        )
    if p.has("attachments"):
        content["attachments"] = p.structured(
            "attachments", error="invalid_attachments"
        )
    if required and not any(k in content for k in ("text", "blocks", "attachments")):
        raise SlackError("no_text")
    metadata = _validate_metadata(
        p.structured("metadata", error="invalid_metadata_format")
    )
    if metadata is not None:
        content["metadata"] = metadata
    return content


def _postable(ctx: Ctx, *, to_person: bool = False) -> Channel:
    """The conversation to write in; ``to_person``: a user id names the bot's DM with them
    (chat.postMessage only; every other method wants the conversation's own id)."""
    ref = ctx.params.text("channel", error="channel_not_found")
    channel = ctx.ws.direct(ref) if to_person and ref in ctx.ws.users else ctx.ws.channel(ref)
    if channel.is_archived:
        raise SlackError("is_archived")
    return channel


@method("chat.postMessage")
def post_message(ctx: Ctx) -> dict[str, Any]:
    channel = _postable(ctx, to_person=True)
    if ctx.ws.bot_user_id not in channel.members:
        # Only ``chat:write.public`` lets an app post where it is not a member (public only).
        if channel.is_private:
            raise SlackError("channel_not_found")
        if "chat:write.public" not in ctx.ws.scopes:
            raise SlackError("not_in_channel")
    content = _content(ctx, required=True)
    ws = ctx.ws
    ts = ws.new_ts()
    message: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "user": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": "A0FIREBRK",
        "team": ws.team_id,
        "ts": ts,
        "text": content.get("text", ""),
        **{k: v for k, v in content.items() if k != "text"},
    }
    thread_ts = ctx.params.text("thread_ts", required=False)
    if thread_ts:
        parent = channel.find_message(thread_ts)
        if parent is None:
            raise SlackError("thread_not_found")
        if parent.get("thread_ts", parent["ts"]) != parent["ts"]:
            raise SlackError("thread_not_found")  # no threads in threads
        message["thread_ts"] = thread_ts
        parent.setdefault("thread_ts", thread_ts)
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        parent["latest_reply"] = ts
    channel.messages.append(message)
    shown = {k: v for k, v in message.items() if k != "metadata"}
    return {"channel": channel.id, "ts": ts, "message": shown}


@method("chat.update")
def update(ctx: Ctx) -> dict[str, Any]:
    channel = _postable(ctx)
    ts = ctx.params.text("ts", error="message_not_found")
    message = channel.find_message(ts)
    if message is None:
        raise SlackError("message_not_found")
    if message.get("user") != ctx.ws.bot_user_id:
        raise SlackError("cant_update_message")
    content = _content(ctx, required=False)
    if not content:
        raise SlackError("no_text")
    message.update(content)
    message["edited"] = {"user": ctx.ws.bot_user_id, "ts": ctx.ws.new_ts()}
    message["_update_count"] = message.get("_update_count", 0) + 1
    shown = {
        k: v for k, v in message.items() if not k.startswith("_") and k != "metadata"
    }
    return {
        "channel": channel.id,
        "ts": ts,
        "text": message.get("text", ""),
        "message": shown,
    }


@method("chat.postEphemeral")
def post_ephemeral(ctx: Ctx) -> dict[str, Any]:
    channel = _postable(ctx)
    user = ctx.ws.user(ctx.params.text("user", error="user_not_found"))
    if user["id"] not in channel.members:
        raise SlackError("user_not_in_channel")
    content = _content(ctx, required=True)
    ts = ctx.ws.new_ts()
    channel.ephemeral.append({"user": user["id"], "ts": ts, **content})
    return {"message_ts": ts}


@method("chat.getPermalink")
def get_permalink(ctx: Ctx) -> dict[str, Any]:
    """A message's permalink (https://docs.slack.dev/reference/methods/chat.getPermalink):
    ``channel_not_found``, ``message_not_found``; a thread reply's link names its thread."""
    channel = ctx.ws.channel(ctx.params.text("channel", error="channel_not_found"))
    ts = ctx.params.text("message_ts", error="message_not_found")
    message = channel.find_message(ts)
    if message is None:
        raise SlackError("message_not_found")
    link = f"https://{ctx.ws.team}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
    parent = message.get("thread_ts")
    if parent and parent != ts:
        link += f"?thread_ts={parent}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}
