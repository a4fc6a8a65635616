"""``/incident`` in Slack: ack at once, then run the shared command handlers off the loop.

Slack gives a slash command three seconds. Bolt's ``ack()`` answers the HTTP request
straight away; the handler (which touches the database) runs in a thread and its reply
goes back through the command's ``response_url``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.chat.commands import CommandRouter
from bot.chat.slack.blocks import declare_modal
from bot.chat.slack.flagging import incident_in_channel
from bot.chat.slack.messaging import reply_message
from bot.chat.slack.people import SlackDirectory, slack_context
from bot.service.incidents import IncidentService
from bot.text_safety import WORD_JOINER, clean

log = logging.getLogger(__name__)

COMMAND = "/incident"
FORM_NOT_OPENED = "The declare form could not be opened in time (Slack allows three seconds); declare by typing it instead. "
MISSING_USER = "🚫 this command did not say who sent it (no user_id), so Firebreak cannot check who may run it; nothing was changed."


def unescape(text: str) -> str:
    """Slack sends typed text with ``&``, ``<`` and ``>`` escaped; store what was typed.

    Everything we post is escaped again on the way out (bot/text_safety.py), so a note
    saying ``p99 > 2s`` is neither shown as ``&gt;`` nor able to smuggle in a ``<!channel>``.
    Only Slack writes a real mention (``<@U1|bob>``, unescaped, ``should_escape``); the same
    characters typed by hand arrive escaped and must not become one, or anyone could name
    a person with a label of their choosing (``<@U0BOB|alice>``). A typed ``<`` that would
    open markup keeps a word joiner: it reads the same and is never taken for a mention.
    """
    # clean() first: it drops control and bidi characters, which would otherwise stand between
    # a typed "&lt;" and its "@" here and be gone by the time the text is posted.
    return _TYPED_MARKUP.sub("<" + WORD_JOINER, clean(text)).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


#: An escaped ``<`` before what Slack would read as markup (a person, channel or command).
_TYPED_MARKUP = re.compile(r"&lt;(?=[@#!])")


def register_commands(app: AsyncApp, router: CommandRouter, service: IncidentService, directory: SlackDirectory) -> None:
    @app.command(COMMAND)
    async def on_incident(ack: Any, command: dict[str, Any], respond: Any, client: Any) -> None:
        user_id = str(command.get("user_id") or "").strip()
        if not user_id:
            # Slack always names the user; a body without one (signed, so from our own app's
            # secret) is malformed. Answer in the acknowledgement itself: no response_url needed.
            log.warning("slash command without user_id refused (team %s)", command.get("team_id"))
            await ack(text=MISSING_USER, response_type="ephemeral")
            return
        await ack()
        channel_id = str(command.get("channel_id") or "")
        channel_incident = await asyncio.to_thread(incident_in_channel, service, channel_id) if channel_id else None
        context = await slack_context(directory, user_id, command.get("user_name"), channel_incident=channel_incident)
        typed = unescape(str(command.get("text") or ""))
        reply = await asyncio.to_thread(router.handle, f"{COMMAND} {typed}", context)
        if reply.open_declare_form and command.get("trigger_id"):
            try:
                await client.views_open(trigger_id=command["trigger_id"], view=declare_modal(channel_id=channel_id))
                return
            except SlackApiError as error:
                # A trigger_id is good for three seconds and once (expired_trigger_id,
                # exchanged_trigger_id); a slow moment must not leave the person with no answer.
                log.warning("declare form not opened: %s", error.response.get("error") if error.response else error)
                reply = replace(reply, text=FORM_NOT_OPENED + reply.text)
        # In the incident's own channel the outbox posts the change for everyone already,
        # so the direct reply stays with the asker instead of saying it twice.
        public = reply.public and not (channel_incident is not None and reply.incident == channel_incident)
        await respond(**reply_message(reply.text), response_type="in_channel" if public else "ephemeral")
