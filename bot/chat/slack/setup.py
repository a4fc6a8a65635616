"""Opening an incident in Slack, as a chain of separate outbox operations.

``open_incident`` makes (or finds) the channel and posts the summary; everything else (pin,
topic, invites, bookmarks, announcement) is queued as its own operation in the same
transaction that stores the channel id, so each is retried and reported on its own and a
failing bookmark never holds up the invites. P3 incidents get only an announcement, which
then serves as their summary; INFO incidents say nothing in Slack.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.chat import operations as ops
from bot.chat.naming import channel_name
from bot.chat.slack import blocks, chat_refs
from bot.chat.slack.context import DeliveryContext
from bot.chat.slack.gateway import SlackCallFailed, SlackGateway
from bot.chat.slack.identity import user_id_of
from bot.chat.slack.limits import section
from bot.delivery.message import DeliveryError, DeliveryResult, OutboxMessage
from bot.domain.incident import Incident, Role
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.service.chat_notifications import post_recorded
from bot.store.incidents import IncidentRepository
from bot.text_safety import person_id, readable, safe_url, slack_text

log = logging.getLogger(__name__)

CHANNEL_SEVERITIES = frozenset({Severity.P0, Severity.P1, Severity.P2})
SUMMARY_EVENT = "firebreak_summary"
ANNOUNCE_EVENT = "firebreak_announcement"
NOTICE_EVENT = "firebreak_notice"
NAME_SUFFIXES = ("", "2", "3", "4", "5")
#: A random last suffix for the channel name (see ``_ensure_channel``), made when the open
#: message is queued (``bot.service.chat_notifications.channel_salt``).
_SALT = re.compile(r"[0-9a-f]{6}")
BOOKMARK_TITLE = 100
#: conversations.invite takes at most 1000 users a call (more is ``too_many_users``).
INVITE_BATCH = 1000
#: What we post never unfolds link previews (alert text must not make Slack fetch URLs).
NO_UNFURL = {"unfurl_links": False, "unfurl_media": False}


def metadata(event_type: str, key: str) -> dict[str, Any]:
    return {"event_type": event_type, "event_payload": {"key": key}}


async def open_incident(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    number = int(message.payload["number"])
    incident, refs = await chat_refs.fetch(context.sessions, number)
    if incident.severity is Severity.INFO:
        return DeliveryResult(detail={"skipped": "INFO incidents stay off Slack"})
    if incident.severity not in CHANNEL_SEVERITIES:
        return await _announce_without_channel(context, message, incident, refs)
    if refs.channel_id:
        return DeliveryResult(detail={"channel": refs.channel_id, "skipped": "channel already open"})
    gateway = context.gateway
    channel, created = await _ensure_channel(gateway, incident, look_first=message.is_retry, salt=_salt(message.payload.get("name_salt")))
    channel_id, name = str(channel["id"]), str(channel["name"])
    ts = None if created else await gateway.find_own_message(channel_id, SUMMARY_EVENT, str(number))
    if ts is None:
        answer = await gateway.post(
            channel_id,
            text=blocks.summary_text(incident),
            blocks=blocks.summary_blocks(incident, steps=context.steps_for(number), children=await chat_refs.children(context.sessions, number), web_url=context.config.page_url(number)),
            metadata=metadata(SUMMARY_EVENT, str(number)),
            **NO_UNFURL,
        )
        ts = str(answer["ts"])
    declarer = await asyncio.to_thread(_declarer, context, number)
    now = context.clock.now()

    def record(session: Session) -> None:
        chat_refs.save_refs(session, number, channel_id=channel_id, channel_name=name, summary_ref=f"{channel_id}:{ts}")
        opened = TimelineEntry(
            kind=EntryKind.CHANNEL_OPENED,
            at=now,
            actor="firebreak",
            source=Source.SLACK,
            text=f"channel #{name} opened",
            data={"channel_id": channel_id, "channel_name": name},
        )
        IncidentRepository.append(session, number, [opened])
        _queue_setup(session, incident, declarer, now=now)

    return DeliveryResult(record=record, detail={"channel": channel_id, "name": name, "created": created})


def _declarer(context: DeliveryContext, number: int) -> str | None:
    """Who declared in Slack, to be invited. An outside sender's actor (a PagerDuty agent's
    display name, which may read ``U0BOSS``) is nobody Slack vouched for: no invitation."""
    with context.sessions() as session:
        entries = IncidentRepository.timeline(session, number, kinds={EntryKind.DECLARED})
    return next((entry.actor for entry in entries if entry.kind is EntryKind.DECLARED and entry.source is Source.SLACK), None)


def _queue_setup(session: Session, incident: Incident, declarer: str | None, *, now: Any) -> None:
    number, severity = incident.number, incident.severity
    key = f"chat:%s:{number}"
    ops.enqueue_chat(session, ops.PIN_SUMMARY, {"number": number}, key=key % "pin", now=now, number=number, severity=severity)
    ops.enqueue_chat(session, ops.SET_TOPIC, {"number": number}, key=key % "topic-open", now=now, number=number, coalesce=True, severity=severity)
    people = [user_id_of(user) for user in [declarer, *incident.roles.values()]]
    user_ids = sorted({person for person in people if person})
    invite = {"number": number, "user_ids": user_ids, "emails": [], "oncall": True}
    ops.enqueue_chat(session, ops.INVITE, invite, key=key % "invite-open", now=now, number=number, severity=severity)
    for title, url in incident.links.items():
        if safe_url(url) is None:
            continue  # only http(s) links become bookmarks
        payload = {"number": number, "title": title, "url": url}
        ops.enqueue_chat(session, ops.BOOKMARK, payload, key=f"chat:bookmark:{number}:{title}"[:255], now=now, number=number, severity=severity)
    ops.enqueue_chat(session, ops.ANNOUNCE, {"number": number}, key=key % "announce", now=now, number=number, severity=severity)


def _salt(value: object) -> str | None:
    """The open message's random name suffix (``name_salt``), when it is one we made."""
    text = str(value or "")
    return text if _SALT.fullmatch(text) else None


async def _ensure_channel(
    gateway: SlackGateway, incident: Incident, *, look_first: bool, salt: str | None = None
) -> tuple[dict[str, Any], bool]:
    """(channel, created). Never makes a second channel for one incident.

    A retry looks for the name before creating (the first attempt may have reached Slack).
    ``name_taken`` by our own live channel means exactly that; by someone else's (or an
    archived one), the next suffix is tried. The names are predictable (the incident number
    comes next, an alert's title is known), so anyone in the workspace could take all five
    beforehand and leave the incident without a channel: the last name tried ends in the
    random ``salt`` the open message was queued with, which nobody can guess and a retry
    of the same message tries again.
    """
    bot = await gateway.bot_user_id()
    for index, suffix in enumerate((*NAME_SUFFIXES, *([salt] if salt else []))):
        name = channel_name(incident.number, incident.title, suffix=suffix)
        if look_first or index > 0:
            existing = await gateway.find_channel(name)
            if existing is not None:
                if _adoptable(existing, bot):
                    return existing, False
                continue
        try:
            answer = await gateway.call("conversations.create", name=name)
            return dict(answer["channel"]), True
        except SlackCallFailed as error:
            if error.code != "name_taken":
                raise
        existing = await gateway.find_channel(name)
        if existing is not None and _adoptable(existing, bot):
            return existing, False
    raise DeliveryError(f"every channel name for {incident.ref} is taken", retryable=False)


def _adoptable(channel: dict[str, Any], bot_user_id: str) -> bool:
    return channel.get("creator") == bot_user_id and not channel.get("is_archived")


async def _announce_without_channel(
    context: DeliveryContext, message: OutboxMessage, incident: Incident, refs: chat_refs.ChatRefs
) -> DeliveryResult:
    if refs.summary is not None:
        return DeliveryResult(detail={"skipped": "already announced"})
    gateway = context.gateway
    channel = await gateway.channel_id(context.config.incidents_channel)
    key = str(incident.number)
    ts = await gateway.find_own_message(channel, SUMMARY_EVENT, key) if message.is_retry else None
    if ts is None:
        answer = await gateway.post(
            channel,
            text=f"🚨 {blocks.summary_text(incident)} (no channel for {incident.severity.value})",
            blocks=blocks.summary_blocks(
                incident, children=await chat_refs.children(context.sessions, incident.number), web_url=context.config.page_url(incident.number)
            ),
            metadata=metadata(SUMMARY_EVENT, key),
            **NO_UNFURL,
        )
        ts = str(answer["ts"])

    def record(session: Session) -> None:
        chat_refs.save_refs(session, incident.number, summary_ref=f"{channel}:{ts}")

    return DeliveryResult(record=record, detail={"announced_in": channel})


async def announce(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    number = int(message.payload["number"])
    incident, refs = await chat_refs.fetch(context.sessions, number)
    gateway = context.gateway
    channel = await gateway.channel_id(context.config.incidents_channel)
    if message.is_retry and await gateway.find_own_message(channel, ANNOUNCE_EVENT, str(number)):
        return DeliveryResult(detail={"skipped": "already announced"})
    where = f"<#{refs.channel_id}>" if refs.channel_id else "(no channel)"
    text = f"🚨 {incident.ref} [{incident.severity.value}] {slack_text(incident.title)} — join {where}"
    await gateway.post(channel, text=text, blocks=[section(text)], metadata=metadata(ANNOUNCE_EVENT, str(number)), **NO_UNFURL)
    return DeliveryResult(detail={"announced_in": channel})


async def notice(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    """One line about no incident in the announcements channel (e.g. Grafana's contact-point test)."""
    gateway = context.gateway
    channel = await gateway.channel_id(context.config.incidents_channel)
    key = message.idempotency_key
    if message.is_retry and await gateway.find_own_message(channel, NOTICE_EVENT, key):
        return DeliveryResult(detail={"skipped": "already posted"})
    text = slack_text(message.payload.get("text", ""))
    await gateway.post(channel, text=text, unfurl_links=False, unfurl_media=False, metadata=metadata(NOTICE_EVENT, key))
    return DeliveryResult(detail={"posted_in": channel})


async def set_topic(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    incident, refs = await chat_refs.fetch(context.sessions, int(message.payload["number"]))
    if not refs.channel_id:
        return DeliveryResult(detail={"skipped": "no channel"})
    gateway = context.gateway
    commander = incident.roles.get(Role.COMMANDER)
    user = person_id(commander)
    name = await gateway.user_name(user) if user and "|" not in str(commander) else None
    try:
        await gateway.call_as_member("conversations.setTopic", refs.channel_id, topic=blocks.topic(incident, commander_name=name))
    except SlackCallFailed as error:
        if error.code == "is_archived":  # archived by hand: nothing to retry
            log.warning("topic not set: the channel is archived", extra={"incident": incident.number, "channel": refs.channel_id})
            return DeliveryResult(detail={"skipped": error.code})
        raise
    return DeliveryResult()


async def pin_summary(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    _incident, refs = await chat_refs.fetch(context.sessions, int(message.payload["number"]))
    summary = refs.summary
    if summary is None or not refs.channel_id:
        return DeliveryResult(detail={"skipped": "no summary in a channel"})
    channel, ts = summary
    try:
        await context.gateway.call("pins.add", channel=channel, timestamp=ts)
    except SlackCallFailed as error:
        if error.code != "already_pinned":
            raise
    return DeliveryResult()


async def invite(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    payload = message.payload
    _incident, refs = await chat_refs.fetch(context.sessions, int(payload["number"]))
    if not refs.channel_id:
        return DeliveryResult(detail={"skipped": "no channel"})
    gateway = context.gateway
    emails = [str(email) for email in payload.get("emails", [])]
    unreachable: str | None = None
    if payload.get("oncall") and context.oncall is not None and refs.escalation_policy_id:
        try:
            emails.extend(person.email for person in await context.oncall.on_call(refs.escalation_policy_id))
        except DeliveryError as error:
            if error.retryable:
                raise  # nobody was invited yet: the whole invitation is tried again
            # Refused for good (a deleted policy, no access): the others still get in.
            unreachable = f"the people on call for escalation policy {refs.escalation_policy_id} ({error})"
    found, missing = await gateway.user_ids_for_emails(sorted(set(emails)))
    bot = await gateway.bot_user_id()
    wanted = [uid for uid in dict.fromkeys([*map(str, payload.get("user_ids", [])), *found]) if uid != bot]
    if not wanted:
        return DeliveryResult(record=_left_out(context, message, {}, missing, unreachable), detail={"invited": [], "unknown_emails": missing})
    failed: dict[str, str] = {}
    try:
        for start in range(0, len(wanted), INVITE_BATCH):
            batch = wanted[start : start + INVITE_BATCH]
            try:
                await gateway.call_as_member("conversations.invite", refs.channel_id, users=",".join(batch))
            except SlackCallFailed as error:
                if len(batch) == 1:
                    _refused(error, batch[0], failed)
                    continue
                if error.retryable or error.code in CHANNEL_ERRORS:
                    raise
                # One refused user (an unknown id, or one already in the channel) fails the whole
                # call and Slack invites nobody: invite one by one so the others still get in.
                for user_id in batch:
                    try:
                        await gateway.call_as_member("conversations.invite", refs.channel_id, users=user_id)
                    except SlackCallFailed as single:
                        _refused(single, user_id, failed)
    except SlackCallFailed as error:
        if error.code != "is_archived":
            raise
        # Archived by hand: nobody can join it, and that is no one's refusal to report.
        log.warning("invitation not sent: the channel is archived", extra={"incident": int(payload["number"]), "channel": refs.channel_id})
        return DeliveryResult(detail={"skipped": error.code})
    detail = {"invited": [u for u in wanted if u not in failed], "failed": failed, "unknown_emails": missing}
    return DeliveryResult(record=_left_out(context, message, failed, missing, unreachable), detail=detail)


#: Errors of ``conversations.invite`` about the channel, not about the person invited.
CHANNEL_ERRORS = frozenset({"is_archived", "channel_not_found", "method_not_supported_for_channel_type"})


def _refused(error: SlackCallFailed, user_id: str, failed: dict[str, str]) -> None:
    """One person's invitation failed. Slack's own trouble, or the channel's, is raised (the
    invitation is tried again, or given up as the channel's); being there already is fine;
    anything else is this person's refusal, recorded in ``failed`` to be said."""
    if error.retryable or error.code in CHANNEL_ERRORS:
        raise error
    if error.code != "already_in_channel":
        failed[user_id] = error.code


def _left_out(
    context: DeliveryContext, message: OutboxMessage, failed: dict[str, str], missing: list[str], unreachable: str | None = None
) -> Callable[[Session], None] | None:
    """People the invitation could not reach, on the timeline and in the channel.

    Slack refuses some invitations for good (``cant_invite``, ``user_is_restricted``, a
    deactivated account …) and an on-call e-mail may have no Slack user: the delivery is done,
    but the responders must learn who is not in the room instead of assuming they are.
    """
    if not failed and not missing and unreachable is None:
        return None
    number = int(message.payload["number"])
    parts = [f"{user} ({code})" for user, code in failed.items()] + [f"{email} (no Slack user with this e-mail)" for email in missing]
    if unreachable is not None:
        parts.append(unreachable)
    entry = TimelineEntry(
        kind=EntryKind.DELIVERY_FAILED,
        at=context.clock.now(),
        actor="firebreak",
        source=Source.SYSTEM,
        text="could not invite " + ", ".join(parts),
        data={"outbox_id": message.id, "target": message.target, "operation": message.operation},
    )

    def record(session: Session) -> None:
        (entry_id,) = IncidentRepository.append(session, number, [entry])
        post_recorded(session, number, entry_id, entry, now=entry.at)

    return record


async def bookmark(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    payload = message.payload
    _incident, refs = await chat_refs.fetch(context.sessions, int(payload["number"]))
    if not refs.channel_id:
        return DeliveryResult(detail={"skipped": "no channel"})
    url = safe_url(payload["url"])
    if url is None:
        return DeliveryResult(detail={"skipped": "not an http(s) link"})
    title = readable(payload["title"])[:BOOKMARK_TITLE] or "link"
    await context.gateway.call("bookmarks.add", channel_id=refs.channel_id, title=title, type="link", link=url)
    return DeliveryResult()


async def archive(context: DeliveryContext, message: OutboxMessage) -> DeliveryResult:
    incident, refs = await chat_refs.fetch(context.sessions, int(message.payload["number"]))
    if not ops.archive_still_due(incident, message.payload):
        return DeliveryResult(detail={"skipped": "reopened since"})
    if not refs.channel_id:
        return DeliveryResult(detail={"skipped": "no channel"})
    merged = message.payload.get("merged_into") is not None  # merged away: archived at once
    if not merged and incident.resolved_at and context.clock.now() < incident.resolved_at + timedelta(seconds=context.config.archive_after_seconds):
        raise DeliveryError("not yet time to archive", retry_after=60)
    try:
        await context.gateway.call("conversations.archive", channel=refs.channel_id)
    except SlackCallFailed as error:
        if error.code != "already_archived":
            raise
    return DeliveryResult()
