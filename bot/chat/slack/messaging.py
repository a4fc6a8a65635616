"""Messages about an incident: timeline posts, the summary edited in place, files, ephemerals.

Posts go to the incident channel; a P3 incident has none, so its posts become replies in
the thread of its announcement. Each post carries message metadata with its timeline entry
id, which is how a retried delivery finds out that Slack already has it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.chat.render import POST_ICONS
from bot.chat.slack import blocks, store
from bot.chat.slack.gateway import SlackCallFailed
from bot.chat.slack.mentions import mentions_for
from bot.chat.slack.setup import metadata
from bot.chat.slack.text import safe
from bot.delivery.message import DeliveryResult, OutboxMessage

if TYPE_CHECKING:
    from bot.chat.slack.deliverer import DeliveryContext

POST_EVENT = "firebreak_post"



def _where(refs: store.ChatRefs) -> tuple[str, str | None] | None:
    """(channel, thread_ts) for posts about this incident, or None when it is not in Slack."""
    if refs.channel_id:
        return refs.channel_id, None
    summary = refs.summary
    if summary is not None:
        return summary[0], summary[1]
    return None


async def post(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    payload = message.payload
    number = int(payload["number"])
    _incident, refs = await store.fetch(context.sessions, number)
    where = _where(refs)
    if where is None:
        return DeliveryResult(detail={"skipped": "incident has no Slack conversation"})
    channel, thread = where
    # The outbox key is unique per message; entry ids are not (a timeline page has none).
    key = message.idempotency_key
    gateway = context.gateway
    if message.is_retry and await gateway.find_own_message(channel, POST_EVENT, key):
        return DeliveryResult(detail={"skipped": "already posted"})
    arguments: dict[str, Any] = {"metadata": metadata(POST_EVENT, key)}
    if payload.get("mrkdwn") and payload.get("blocks"):
        # Rendered and escaped by its producer (the timeline pages): post as it is.
        arguments.update(text=str(payload.get("text", ""))[:3000], blocks=payload["blocks"])
    else:
        icon = POST_ICONS.get(str(payload.get("kind")), "💬")
        text = f"{icon} {safe(payload.get('actor'))}: {safe(payload.get('text'))}"
        data = payload.get("data") or {}
        paged = mentions_for(data.get("target_details") or []) if payload.get("kind") in ("escalated", "step_deadline") else []
        if paged:
            text += "\n" + " ".join(paged)
        step = data.get("step") if payload.get("kind") == "step_deadline" else None
        arguments["text"] = text
        rich = blocks.post_blocks(
            number, text, step=int(step) if isinstance(step, int) else None, playbook_id=data.get("playbook_id")
        )
        if rich is not None:
            arguments["blocks"] = rich
    if thread:
        arguments["thread_ts"] = thread
    answer = await gateway.post(channel, **arguments)
    return DeliveryResult(detail={"channel": channel, "ts": answer.get("ts")})


async def refresh_summary(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    """chat.update of the one summary message: the outbox has already folded a burst into one."""
    number = int(message.payload["number"])
    incident, refs = await store.fetch(context.sessions, number)
    summary = refs.summary
    if summary is None:
        return DeliveryResult(detail={"skipped": "no summary message yet"})
    channel, ts = summary
    await context.gateway.call(
        "chat.update",
        channel=channel,
        ts=ts,
        text=blocks.summary_text(incident),
        blocks=blocks.summary_blocks(incident, steps=context.steps_for(number)),
    )
    return DeliveryResult()


async def upload_file(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    payload = message.payload
    _incident, refs = await store.fetch(context.sessions, int(payload["number"]))
    where = _where(refs)
    if where is None:
        channel, thread = await context.gateway.channel_id(context.config.incidents_channel), None
    else:
        channel, thread = where
    await context.gateway.pacer.wait_turn("files.getUploadURLExternal")
    arguments = {
        "channel": channel,
        "filename": str(payload["filename"]),
        "title": str(payload.get("title") or payload["filename"]),
        "content": str(payload["content"]),
    }
    if thread:
        arguments["thread_ts"] = thread
    answer = await context.gateway.call("files_upload_v2", **arguments)
    return DeliveryResult(detail={"channel": channel, "file": (answer.get("file") or {}).get("id")})


async def post_ephemeral(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    payload = message.payload
    try:
        await context.gateway.call(
            "chat.postEphemeral", channel=str(payload["channel"]), user=str(payload["user"]), text=str(payload["text"])
        )
    except SlackCallFailed as error:
        # The person left the channel or never was in it: nobody to tell, nothing to retry.
        if error.code in ("user_not_in_channel", "channel_not_found"):
            return DeliveryResult(detail={"dropped": error.code})
        raise
    return DeliveryResult()
