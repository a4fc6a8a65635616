"""Messages about an incident: timeline posts, the summary edited in place, files, ephemerals.

Posts go to the incident channel; a P3 incident has none, so its posts become replies in
the thread of its announcement. Each post carries message metadata with its timeline entry
id, which is how a retried delivery finds out that Slack already has it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.orm import Session

from bot.chat import operations as ops
from bot.chat.render import POST_ICONS, entry_text
from bot.chat.slack import blocks, chat_refs, limits
from bot.chat.slack.context import DeliveryContext
from bot.chat.slack.gateway import SlackCallFailed
from bot.chat.slack.mentions import mentions_for
from bot.chat.slack.setup import SUMMARY_EVENT, metadata
from bot.chat.slack.usergroups import group_handles
from bot.delivery.message import DeliveryResult, OutboxMessage
from bot.domain.errors import IncidentNotFound
from bot.domain.timeline import Source
from bot.text_safety import clean, names, one_line, person_name, readable, slack_person, slack_text

log = logging.getLogger(__name__)

POST_EVENT = "firebreak_post"



def _where(refs: chat_refs.ChatRefs) -> tuple[str, str | None] | None:
    """(channel, thread_ts) for posts about this incident, or None when it is not in Slack."""
    if refs.channel_id:
        return refs.channel_id, None
    summary = refs.summary
    if summary is not None:
        return summary[0], summary[1]
    return None


async def post(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    """A timeline post, in as many messages as Slack's limits need (see ``_compose``).

    Each part carries its own metadata key, so a retry posts only the parts Slack lacks.
    """
    payload = message.payload
    number = int(payload["number"])
    _incident, refs = await chat_refs.fetch(context.sessions, number)
    where = _where(refs)
    if where is None:
        return DeliveryResult(detail={"skipped": "incident has no Slack conversation"})
    channel, thread = where
    # The outbox key is unique per message; entry ids are not (a timeline page has none).
    key = message.idempotency_key
    group_ids, unresolved = await _group_ids(context, payload)
    pointer = await _pointer(context, payload)
    parts, overflow = _compose(payload, number, group_ids=group_ids, unresolved=unresolved, pointer=pointer)
    keys = [key, *(f"{key}#{index}" for index in range(2, len(parts) + 1))]
    gateway = context.gateway
    posted = await gateway.find_own_messages(channel, POST_EVENT, keys, thread_ts=thread) if message.is_retry else {}
    if len(posted) == len(keys):
        return DeliveryResult(detail={"skipped": "already posted"})
    answers: list[Any] = []
    for (text, rich), part_key in zip(parts, keys, strict=True):
        if part_key in posted:
            continue
        arguments: dict[str, Any] = {"text": text, "blocks": rich, "metadata": metadata(POST_EVENT, part_key), **NO_UNFURL}
        if thread:
            arguments["thread_ts"] = thread
        answer = await gateway.post(channel, **arguments)
        answers.append(answer.get("ts"))
    detail: dict[str, Any] = {"channel": channel, "ts": answers[0] if answers else None, "parts": len(parts)}
    if overflow is None:
        return DeliveryResult(detail=detail)
    now = context.clock.now()

    def record(session: Session) -> None:
        upload = {"number": number, "filename": f"{_slug(payload)}-{number}.txt", "title": overflow[0], "content": overflow[1]}
        ops.enqueue_chat(session, ops.UPLOAD_FILE, upload, key=f"chat:full-text:{key}"[:255], now=now, number=number)

    return DeliveryResult(record=record, detail={**detail, "full_text": "uploaded as a file"})


#: Links in what we post never unfold into previews: alert text must not fetch URLs.
NO_UNFURL = {"unfurl_links": False, "unfurl_media": False}
#: More parts than this and a post is cut, its full text uploaded as a file instead.
MAX_PARTS = 8
FILE_POINTER = "\n_… cut here: the full text ({size:,} characters) follows as a file._"

Part = tuple[str, list[dict[str, Any]]]


#: Posts that point at another incident: a split (``into`` / ``from``) and a merge (``into``).
POINTER_KINDS = frozenset({"split", "merged"})
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,40}$")


async def _pointer(context: DeliveryContext, payload: dict[str, Any]) -> str | None:
    """A link to the other incident's channel (``<#C…>``) for a split or merge post, if it has one."""
    if str(payload.get("kind")) not in POINTER_KINDS:
        return None
    data = payload.get("data") or {}
    other = data.get("into", data.get("from"))
    if not isinstance(other, int) or isinstance(other, bool):
        return None
    try:
        incident, refs = await chat_refs.fetch(context.sessions, other)
    except IncidentNotFound:
        return None
    if not refs.channel_id or not _CHANNEL_ID.match(refs.channel_id):
        return None
    return f"→ {incident.ref} <#{refs.channel_id}>"


def _slug(payload: dict[str, Any]) -> str:
    return str(payload.get("kind") or "post").replace("_", "-")


#: Posts that notify their targets (an escalation level, a playbook step's deadline).
PAGING_KINDS = frozenset({"escalated", "step_deadline"})


def _targets(payload: dict[str, Any]) -> list[dict[str, Any]]:
    if str(payload.get("kind")) not in PAGING_KINDS:
        return []
    return list((payload.get("data") or {}).get("target_details") or [])


async def _group_ids(context: DeliveryContext, payload: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """User-group handles among the post's targets → ids (and the handles Slack does not know)."""
    handles = group_handles(_targets(payload))
    if not handles:
        return {}, []
    if context.usergroups is None:
        return {}, handles
    return await context.usergroups.resolve(handles)


def unresolved_note(handles: list[str]) -> str:
    """Said in the post itself, so responders see that this part of the escalation reached nobody."""
    named = ", ".join(f"@{handle}" for handle in handles)
    return (
        f"⚠️ could not resolve the Slack user group {slack_text(named)}: nobody in it was notified"
        " (check the handle, and that the app has the usergroups:read scope)"
    )


def _compose(
    payload: dict[str, Any],
    number: int,
    *,
    group_ids: dict[str, str] | None = None,
    unresolved: list[str] | None = None,
    pointer: str | None = None,
) -> tuple[list[Part], tuple[str, str] | None]:
    """(messages as (fallback text, blocks), the (title, text) of a file for what did not fit).

    The producer's own blocks (timeline pages, escaped by it) are kept; any other post is
    built here from its text, neutralised: only text a person typed in Slack keeps its
    person mentions, and only the escalation targets we resolved ourselves are mentioned.
    """
    if payload.get("mrkdwn") and payload.get("blocks"):
        texts = [str((block.get("text") or {}).get("text") or "") for block in payload["blocks"]]
        pieces = [limits.clip(text, limits.SECTION_TEXT, "…") for text in texts if text.strip()] or ["…"]
        return [(_fallback(group), [limits.section(piece) for piece in group]) for group in limits.pack(pieces)], None
    kind = str(payload.get("kind"))
    icon = POST_ICONS.get(kind, "💬")
    by_person = str(payload.get("source") or "") == Source.SLACK.value
    data = payload.get("data") or {}
    said = entry_text(kind, data, payload.get("text"))
    # Only Slack vouches for a person: an outside sender's actor (a PagerDuty agent's display
    # name) is whatever they typed there, so it is shown as text and pings nobody.
    author = slack_person(payload.get("actor")) if by_person else slack_text(one_line(payload.get("actor")))
    body = f"{icon} {author}: {slack_text(said, people=by_person)}"
    tail: list[dict[str, Any]] = []
    paged = mentions_for(_targets(payload), group_ids)
    if paged:
        tail.append(limits.section(limits.clip(" ".join(paged), limits.SECTION_TEXT, "…")))
    if unresolved:
        tail.append(limits.section(limits.clip(unresolved_note(unresolved), limits.SECTION_TEXT, "…")))
    if pointer:  # built by us from a stored channel id, never from posted text
        tail.append(limits.section(pointer))
    step = data.get("step") if kind == "step_deadline" else None
    if isinstance(step, int):
        tail.append(blocks.step_actions(number, step, data.get("playbook_id")))
    overflow: tuple[str, str] | None = None
    pieces = limits.split_text(body)
    groups = limits.pack(pieces, budget=limits.MESSAGE_BLOCK_TEXT - limits.block_text_size(tail), max_blocks=limits.MESSAGE_BLOCKS - len(tail))
    if len(groups) > MAX_PARTS:
        pointer = FILE_POINTER.format(size=len(str(payload.get("text") or "")))
        groups = [[limits.clip(body, limits.SECTION_TEXT, pointer)]]
        title = f"{icon} full text of a {kind.replace('_', ' ')} post by {person_name(payload.get('actor'))}"
        overflow = (readable(title)[:250], clean(payload.get("text")))
    parts: list[Part] = [(_fallback(group), [limits.section(piece) for piece in group]) for group in groups]
    if tail:
        text, last = parts[-1]
        # The notification names the people paged, so their phones show why.
        parts[-1] = (limits.clip(" ".join([text, *paged]), limits.FALLBACK_TEXT, "…"), [*last, *tail])
    return parts, overflow


def _fallback(pieces: list[str]) -> str:
    """The notification text of a message: its start, within Slack's limits."""
    return limits.clip("\n".join(pieces), limits.FALLBACK_TEXT, "…")


REPLY_POINTER = "\n_… cut here: `/incident export` has the full text._"


def reply_message(text: str) -> dict[str, Any]:
    """A command's plain-text reply (``/incident status`` …) as one Slack message.

    Replies quote alert and PagerDuty text, so all of it is neutralised; a reply longer
    than one message allows is cut with a pointer to where the full text is.
    """
    escaped = slack_text(names(text)).strip() or "…"
    pieces = limits.split_text(escaped)
    groups = limits.pack(pieces)
    if len(groups) > 1:
        room = limits.MESSAGE_BLOCK_TEXT - len(REPLY_POINTER) - 50
        kept: list[str] = []
        for piece in groups[0]:
            if sum(map(len, kept)) + len(piece) > room:
                break
            kept.append(piece)
        kept.append(REPLY_POINTER.strip())
        groups = [kept]
    return {"text": _fallback(groups[0]), "blocks": [limits.section(piece) for piece in groups[0]]}


async def refresh_summary(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    """chat.update of the one summary message: the outbox has already coalesced a burst into one."""
    number = int(message.payload["number"])
    incident, refs = await chat_refs.fetch(context.sessions, number)
    summary = refs.summary
    if summary is None:
        return DeliveryResult(detail={"skipped": "no summary message yet"})
    channel, ts = summary
    text = blocks.summary_text(incident)
    rich = blocks.summary_blocks(incident, steps=context.steps_for(number), children=await chat_refs.children(context.sessions, number), web_url=context.config.page_url(number))
    try:
        await context.gateway.call("chat.update", channel=channel, ts=ts, text=text, blocks=rich)
    except SlackCallFailed as error:
        # Archived by hand (Firebreak's own archiving waits for a pending refresh): nothing
        # to retry, and a failure report could not be posted there either.
        if error.code == "is_archived":
            log.warning("pinned summary not updated: the channel is archived", extra={"incident": number, "channel": channel})
            return DeliveryResult(detail={"skipped": error.code})
        if error.code == "message_not_found":
            return await _summary_again(context, message, number, channel, text, rich)
        raise
    return DeliveryResult()


async def _summary_again(
    context: DeliveryContext, message: OutboxMessage, number: int, channel: str, text: str, rich: list[dict[str, Any]]
) -> DeliveryResult:
    """Someone deleted the summary message (chat.update answers ``message_not_found``):
    post it again and pin the new one, instead of failing every refresh from now on."""
    gateway = context.gateway
    key = str(number)
    ts = await gateway.find_own_message(channel, SUMMARY_EVENT, key) if message.is_retry else None
    if ts is None:
        answer = await gateway.post(channel, text=text, blocks=rich, metadata=metadata(SUMMARY_EVENT, key), **NO_UNFURL)
        ts = str(answer["ts"])
    log.warning("the summary message was deleted; posted it again", extra={"incident": number, "channel": channel})
    now = context.clock.now()

    def record(session: Session) -> None:
        chat_refs.save_refs(session, number, summary_ref=f"{channel}:{ts}")
        ops.enqueue_chat(session, ops.PIN_SUMMARY, {"number": number}, key=f"chat:pin:{number}:{ts}", now=now, number=number)

    return DeliveryResult(record=record, detail={"reposted": ts})


async def upload_file(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    payload = message.payload
    _incident, refs = await chat_refs.fetch(context.sessions, int(payload["number"]))
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
            "chat.postEphemeral", channel=str(payload["channel"]), user=str(payload["user"]), **reply_message(str(payload["text"]))
        )
    except SlackCallFailed as error:
        # The person left the channel or never was in it: nobody to tell, nothing to retry.
        if error.code in ("user_not_in_channel", "channel_not_found"):
            return DeliveryResult(detail={"dropped": error.code})
        raise
    return DeliveryResult()
