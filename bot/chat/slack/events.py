"""Events API: the flag reaction puts a message on the timeline; a mention answers with help;
``tokens_revoked`` (for the bot) and ``app_uninstalled`` pause Slack delivery."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.chat.commands import CommandRouter
from bot.chat.grammar import help_text
from bot.chat.slack.flagging import flag_message, incident_in_channel
from bot.chat.slack.identity import actor_for
from bot.chat.slack.pause import APP_UNINSTALLED, TOKENS_REVOKED, DeliveryPause
from bot.chat.slack.people import SlackDirectory, slack_context
from bot.domain.permissions import Action
from bot.service.incidents import IncidentService

log = logging.getLogger(__name__)


#: How many pages of history a thread-reply lookup reads for the reply's thread parent.
PARENT_SEARCH_PAGES = 3


async def fetch_message(client: Any, channel: str, ts: str) -> dict[str, Any] | None:
    """The message at ``ts``: a top-level one from history, a thread reply from its thread.

    A ``reaction_added`` event names the message but not its thread, and
    ``conversations.replies`` wants the thread parent's ts. History lists parents with
    ``reply_count``/``latest_reply``; the reply is looked for in each thread that was
    still open at ``ts`` (started before it, last reply at or after it), newest first.
    """
    try:
        answer = await client.conversations_history(channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1)
        for message in answer.get("messages") or []:
            if message.get("ts") == ts:
                return dict(message)
        cursor: str | None = None
        for _ in range(PARENT_SEARCH_PAGES):
            page = await client.conversations_history(channel=channel, latest=ts, inclusive=False, limit=200, cursor=cursor)
            for parent in page.get("messages") or []:
                if parent.get("reply_count") and float(parent.get("latest_reply") or 0) >= float(ts):
                    reply = await _reply_in_thread(client, channel, str(parent["ts"]), ts)
                    if reply is not None:
                        return reply
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
    except SlackApiError as error:
        log.warning("cannot read the flagged message", extra={"channel": channel, "ts": ts, "error": error.response.get("error")})
    return None


async def _reply_in_thread(client: Any, channel: str, parent: str, ts: str) -> dict[str, Any] | None:
    answer = await client.conversations_replies(channel=channel, ts=parent, latest=ts, oldest=ts, inclusive=True, limit=10)
    for message in answer.get("messages") or []:
        if message.get("ts") == ts:
            return dict(message)
    return None


async def permalink(client: Any, channel: str, ts: str) -> str | None:
    try:
        answer = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    return str(answer.get("permalink") or "") or None


def bot_tokens_revoked(event: dict[str, Any]) -> bool:
    """``tokens_revoked`` lists user ids under ``tokens.oauth`` and ``tokens.bot``; only the
    bot's matter here (a person revoking their own user token does not stop the bot)."""
    tokens = event.get("tokens") or {}
    return isinstance(tokens, dict) and bool(tokens.get("bot"))


def register_events(
    app: AsyncApp,
    service: IncidentService,
    pause: DeliveryPause,
    *,
    flag_reaction: str,
    router: CommandRouter,
    directory: SlackDirectory,
) -> None:
    reaction_name = flag_reaction.strip(":")

    @app.event(TOKENS_REVOKED)
    async def on_tokens_revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
        if bot_tokens_revoked(event):
            await asyncio.to_thread(pause.pause, TOKENS_REVOKED, team_id=str(body.get("team_id") or ""))
        else:
            log.info("user tokens revoked; the bot token is unaffected", extra={"users": (event.get("tokens") or {}).get("oauth")})

    @app.event(APP_UNINSTALLED)
    async def on_app_uninstalled(body: dict[str, Any]) -> None:
        await asyncio.to_thread(pause.pause, APP_UNINSTALLED, team_id=str(body.get("team_id") or ""))

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any], client: Any) -> None:
        item = event.get("item") or {}
        if event.get("reaction") != reaction_name or item.get("type") != "message":
            return
        channel, ts = str(item.get("channel") or ""), str(item.get("ts") or "")
        number = await asyncio.to_thread(incident_in_channel, service, channel)
        if number is None:
            return
        # Flagging is adding a note: the same permission as `/incident note`.
        reactor = str(event.get("user"))
        context = await slack_context(directory, reactor, None, channel_incident=number)
        decision = await asyncio.to_thread(router.permits, Action.NOTE, context, number)
        if not decision.allowed:
            try:
                await client.chat_postEphemeral(channel=channel, user=reactor, text=f"🚫 {decision.reason}")
            except SlackApiError as error:
                log.warning("could not tell a refused flagger", extra={"channel": channel, "error": str(error)})
            return
        message = await fetch_message(client, channel, ts)
        if message is None:
            log.warning("flagged message not found", extra={"channel": channel, "ts": ts})
            return
        author_id = message.get("user") or event.get("item_user")
        author = actor_for(str(author_id)) if author_id else str(message.get("username") or "someone")
        await asyncio.to_thread(
            flag_message,
            service,
            number,
            actor=context.actor,
            channel=channel,
            ts=ts,
            author=author,
            text=str(message.get("text") or ""),
            permalink=await permalink(client, channel, ts),
        )

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        # Answer in the thread when asked in one; otherwise in the channel.
        await say(text=f"I answer to `/incident`.\n```{help_text()}```", thread_ts=event.get("thread_ts"))
