"""Buttons and the declare modal.

A button is the equivalent typed command run through the same router (``Acknowledge`` is
``/incident ack INC-n``, ``Done`` on step 3 is ``/incident step done 3 INC-n``), and the
declare form is ``/incident declare`` with a description; the router holds both to the one
permission policy (``bot/domain/permissions.py``), exactly as if they had been typed.
Escalate and step verbs belong to other features; when they are not installed the router
says so and nothing else happens.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.chat.commands import CommandRouter
from bot.chat.grammar import ParsedCommand
from bot.chat.slack.blocks import ACTION_PREFIX, DECLARE_CALLBACK, DECLARE_DESCRIPTION_MAX, DECLARE_TITLE_MAX, modal_values
from bot.chat.slack.flagging import incident_in_channel
from bot.chat.slack.messaging import reply_message
from bot.chat.slack.people import SlackDirectory, slack_context
from bot.domain.errors import DomainError
from bot.domain.severity import PERSON_SETTABLE, Severity
from bot.playbooks.schema import SLUG_PATTERN
from bot.service.incidents import IncidentService

log = logging.getLogger(__name__)

class ButtonAction(enum.StrEnum):
    ACK = "ack"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    STEP_DONE = "step_done"
    STEP_SKIP = "step_skip"


BUTTONS = re.compile(rf"^{ACTION_PREFIX}(ack|mitigate|resolve|escalate|step_done|step_skip|step_menu)$")

_COMMAND_FOR = {
    ButtonAction.ACK: "ack",
    ButtonAction.MITIGATE: "mitigate",
    ButtonAction.RESOLVE: "resolve",
    ButtonAction.ESCALATE: "escalate",
    ButtonAction.STEP_DONE: "step done {step}",
    ButtonAction.STEP_SKIP: "step skip {step}",
}


class UnknownAction(ValueError):
    """A button or menu value Firebreak never makes (a forged or mangled request)."""

    def __init__(self) -> None:
        super().__init__("that button's value is not one Firebreak made; nothing was changed")


_NUMBER = re.compile(r"[0-9]{1,9}")  # an incident or step number, well within INTEGER
_PLAYBOOK = re.compile(SLUG_PATTERN)


def parse_action(action: dict[str, Any]) -> tuple[ButtonAction, int, int | None, str | None]:
    """(what, incident number, step, playbook id) from a button or the step overflow menu.

    Values are ours (``blocks.py`` writes them), so anything else is refused whole, with
    one answer, rather than reaching the database as a number it cannot hold."""
    name = str(action.get("action_id") or "").removeprefix(ACTION_PREFIX)
    if name == "step_menu":
        option = action.get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        verb, _, rest = str(value or "").partition(":")
        if verb not in ("done", "skip"):
            raise UnknownAction()
        what = ButtonAction.STEP_DONE if verb == "done" else ButtonAction.STEP_SKIP
        number, step, playbook = _fields(rest, step_required=True)
        return what, number, step, playbook
    try:
        what = ButtonAction(name)
    except ValueError:
        raise UnknownAction() from None
    number, step, playbook = _fields(str(action.get("value") or ""), step_required=False)
    return what, number, step, playbook


def _fields(value: str, *, step_required: bool) -> tuple[int, int | None, str | None]:
    """``number[:step[:playbook]]`` as written by blocks.py, checked part by part."""
    number, _, rest = value.partition(":")
    step, _, playbook = rest.partition(":")
    if not _NUMBER.fullmatch(number) or ((step or step_required) and not _NUMBER.fullmatch(step)):
        raise UnknownAction()
    if playbook and not (len(playbook) <= 100 and _PLAYBOOK.fullmatch(playbook)):
        raise UnknownAction()
    return int(number), (int(step) if step else None), (playbook or None)


def command_line(what: ButtonAction, number: int, step: int | None) -> str:
    return f"/incident {_COMMAND_FOR[what].format(step=step)} INC-{number}"


def register_interactions(app: AsyncApp, router: CommandRouter, service: IncidentService, directory: SlackDirectory) -> None:
    @app.action(BUTTONS)
    async def on_button(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any) -> None:
        await ack()
        user = body.get("user") or {}
        channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
        try:
            what, number, step, playbook_id = parse_action(action)
            incident = await asyncio.to_thread(service.get, number)
        except (DomainError, ValueError, KeyError) as error:
            await _answer(respond, client, channel, str(user.get("id")), f"⚠️ {error}")
            return
        if playbook_id is not None and playbook_id != incident.playbook_id:
            stale = f"⚠️ that step belongs to playbook {playbook_id}, which {incident.ref} no longer follows; use the pinned summary"
            await _answer(respond, client, channel, str(user.get("id")), stale)
            return
        channel_incident = await asyncio.to_thread(incident_in_channel, service, channel) if channel else None
        name = user.get("username") or user.get("name")
        context = await slack_context(directory, str(user.get("id")), name, channel_incident=channel_incident)
        reply = await asyncio.to_thread(router.handle, command_line(what, number, step), context)
        await _answer(respond, client, channel, str(user.get("id")), reply.text)

    @app.view(DECLARE_CALLBACK)
    async def on_declare(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        values = modal_values(view.get("state") or {})
        title = " ".join(values.get("title", "").split())
        description = values.get("description", "").strip()
        # Problems with a field are shown on the field, in the modal (``response_action: errors``):
        # the form stays open with what was typed, whatever channel it came from.
        errors: dict[str, str] = {}
        if not title:
            errors["title"] = "Say what is broken."
        elif len(title) > DECLARE_TITLE_MAX:
            errors["title"] = f"Keep the title to {DECLARE_TITLE_MAX} characters (this one has {len(title)}); put the rest in the description."
        if len(description) > DECLARE_DESCRIPTION_MAX:
            errors["description"] = f"Keep the description to {DECLARE_DESCRIPTION_MAX} characters (this one has {len(description)})."
        try:
            severity = Severity.parse(values.get("severity") or "P2")
            if severity not in PERSON_SETTABLE:
                raise ValueError("severity must be P0, P1, P2 or P3")
        except ValueError as error:
            errors["severity"] = str(error)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        user = body.get("user") or {}
        name = user.get("username") or user.get("name")
        context = await slack_context(directory, str(user.get("id")), name, channel_incident=None)
        # The form is ``/incident declare <title> <severity>`` plus a description.
        command = ParsedCommand(
            verb="declare", args=[], ref=None, text=f"{title} {severity.value}", detail=description
        )
        reply = await asyncio.to_thread(router.execute, command, context)
        # The modal is closed by now: answer where it was opened from, else in a direct message,
        # so a refusal or an error never goes unseen.
        channel = str(view.get("private_metadata") or "")
        await _tell_or_direct(client, channel, str(user.get("id") or ""), reply.text)


async def _answer(respond: Any, client: Any, channel: str, user: str, text: str) -> None:
    """Answer a click just for the clicker: through the interaction's response_url, which
    reaches people who are not members of the channel, else as an ephemeral message."""
    if getattr(respond, "response_url", None):
        try:
            await respond(**reply_message(text), response_type="ephemeral", replace_original=False)
            return
        except Exception as error:
            log.warning("could not answer through response_url", extra={"error": str(error)})
    await _tell(client, channel, user, text)


async def _tell(client: Any, channel: str, user: str, text: str) -> bool:
    """An ephemeral answer; a person we cannot reach there is logged, not an error."""
    if not channel:
        return False
    try:
        await client.chat_postEphemeral(channel=channel, user=user, **reply_message(text))
        return True
    except Exception as error:  # Slack may refuse (user not in channel); the action itself stands
        log.warning("could not answer ephemerally", extra={"channel": channel, "error": str(error)})
        return False


async def _tell_or_direct(client: Any, channel: str, user: str, text: str) -> None:
    """Ephemerally in ``channel`` if there is one and it works, else a direct message to
    ``user`` (``chat.postMessage`` with the user id as channel); logged when neither works."""
    if await _tell(client, channel, user, text):
        return
    if not user:
        log.warning("could not deliver a reply: no channel and no user", extra={"reply": text[:200]})
        return
    try:
        await client.chat_postMessage(channel=user, unfurl_links=False, unfurl_media=False, **reply_message(text))
    except Exception as error:
        log.warning("could not deliver a reply by direct message", extra={"user": user, "error": str(error), "reply": text[:200]})
