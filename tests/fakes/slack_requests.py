"""Requests *from* Slack to the app: signatures and realistic payload builders.

Firebreak's ``POST /slack/events`` must reject unsigned or stale requests, and must parse
slash commands (form body), interactions (form field ``payload=`` holding JSON) and Events API
envelopes (JSON). These builders produce the bytes Slack would send, and
:func:`sign_slack_request` the headers, so tests exercise the real verification path.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

TEAM_ID = "T0FIREBRK"
TEAM_DOMAIN = "firebreak-test"
API_APP_ID = "A0FIREBRK"
BOT_USER_ID = "U0BOT"


def sign_slack_request(
    signing_secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    content_type: str | None = None,
) -> dict[str, str]:
    """Headers Slack sends: ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature``.

    The signature is ``v0=`` + hex HMAC-SHA256 over ``v0:{timestamp}:{body}``. Pass an old
    ``timestamp`` to produce a stale request (Slack apps reject > 5 minutes).
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    base = b"v0:" + str(ts).encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
    }
    if content_type:
        headers["Content-Type"] = content_type
    return headers


TRIGGER_LIFETIME = 3.0
"""Seconds a ``trigger_id`` can be exchanged for a modal (Slack's modals guide: "3 seconds")."""
ISSUED_TRIGGERS: dict[str, float] = {}
"""trigger_id -> when it was issued, for every trigger these builders made; the fake's
``views.open`` refuses one of these when it is stale or already used."""


def trigger_id(*, age: float = 0.0) -> str:
    """A trigger id shaped like Slack's (``views.open`` needs one), issued ``age`` seconds ago."""
    issued = time.time() - age
    made = f"{int(issued)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
    ISSUED_TRIGGERS[made] = issued
    return made


def _user(user_id: str, user_name: str) -> dict[str, str]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID}


def slash_command_body(text: str, **fields: Any) -> bytes:
    """A slash-command form body (``application/x-www-form-urlencoded``); see :func:`slash_command_fields`."""
    return urlencode(slash_command_fields(text, **fields)).encode()


def slash_command_fields(
    text: str,
    *,
    command: str = "/incident",
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    channel_id: str = "C0GENERAL",
    channel_name: str = "general",
    trigger: str | None = None,
    response_url: str = "https://hooks.slack.com/commands/T0FIREBRK/1/abc",
) -> dict[str, str]:
    """The fields Slack sends for a slash command (api.slack.com/interactivity/slash-commands,
    "app receives a payload"): a form body over HTTP, the same fields as the JSON ``payload``
    of a Socket Mode ``slash_commands`` envelope."""
    return {
        "token": "verification-token-deprecated",
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger or trigger_id(),
    }


def _payload_form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_actions_body(action_id: str, value: str = "", **fields: Any) -> bytes:
    """A ``block_actions`` interaction (button click) as a ``payload=`` form body."""
    return _payload_form(block_actions_payload(action_id, value, **fields))


def block_actions_payload(
    action_id: str,
    value: str = "",
    *,
    block_id: str = "incident_actions",
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    channel_id: str = "C0GENERAL",
    channel_name: str = "general",
    message_ts: str = "1700000000.000100",
    message: dict[str, Any] | None = None,
    action_type: str = "button",
    trigger: str | None = None,
    response_url: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload (api.slack.com/reference/interaction-payloads/block-actions-payload):
    over HTTP the JSON in a ``payload=`` form field, in Socket Mode an ``interactive`` envelope's payload."""
    action_ts = f"{time.time():.6f}"
    action: dict[str, Any] = {
        "type": action_type,
        "action_id": action_id,
        "block_id": block_id,
        "action_ts": action_ts,
    }
    if action_type == "button":
        action["value"] = value
        action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
    elif action_type == "static_select":
        action["selected_option"] = {
            "text": {"type": "plain_text", "text": value},
            "value": value,
        }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name),
        "api_app_id": API_APP_ID,
        "token": "verification-token-deprecated",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger or trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "message": message
        or {
            "type": "message",
            "user": BOT_USER_ID,
            "ts": message_ts,
            "text": "",
            "blocks": [],
        },
        "state": {"values": {}},
        "response_url": response_url or f"https://hooks.slack.com/actions/{TEAM_ID}/1/abc",
        "actions": [action],
    }
    return payload


def view_submission_body(
    callback_id: str,
    values: dict[str, dict[str, dict[str, Any]]],
    *,
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    private_metadata: str = "",
    view_id: str = "V0000001",
) -> bytes:
    """A ``view_submission`` (modal submit). ``values`` is ``state.values``:

    ``{block_id: {action_id: {"type": "plain_text_input", "value": "..."}}}``; see
    :func:`text_input_value` / :func:`select_value`.
    """
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": _user(user_id, user_name),
        "api_app_id": API_APP_ID,
        "token": "verification-token-deprecated",
        "trigger_id": trigger_id(),
        "view": _modal(callback_id, view_id, private_metadata, values),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_form(payload)


def _modal(callback_id: str, view_id: str, private_metadata: str, values: dict[str, Any], *, notify_on_close: bool = False) -> dict[str, Any]:
    """The ``view`` object of a modal as interaction payloads carry it."""
    return {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": "Declare incident"},
        "blocks": [],
        "state": {"values": values},
        "hash": secrets.token_hex(8),
        "clear_on_close": False,
        "notify_on_close": notify_on_close,
        "root_view_id": view_id,
        "app_id": API_APP_ID,
        "bot_id": "B0BOT",
    }


def text_input_value(value: str) -> dict[str, Any]:
    """A ``plain_text_input`` state value for :func:`view_submission_body`."""
    return {"type": "plain_text_input", "value": value}


def select_value(value: str, label: str | None = None) -> dict[str, Any]:
    """A ``static_select`` state value for :func:`view_submission_body`."""
    return {
        "type": "static_select",
        "selected_option": {
            "text": {"type": "plain_text", "text": label or value},
            "value": value,
        },
    }


def event_callback_body(event: dict[str, Any], *, event_id: str | None = None, event_time: int | None = None) -> bytes:
    """An Events API ``event_callback`` envelope (JSON body) around ``event``."""
    return json.dumps(event_callback(event, event_id=event_id, event_time=event_time)).encode()


def event_callback(event: dict[str, Any], *, event_id: str | None = None, event_time: int | None = None) -> dict[str, Any]:
    """The Events API outer event (api.slack.com/apis/events-api, "Callback field overview"):
    the JSON body over HTTP, an ``events_api`` envelope's payload in Socket Mode."""
    return {
        "token": "verification-token-deprecated",
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
        "event_time": event_time or int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_hex(8)}",
    }


def reaction_added_event(
    reaction: str = "pushpin",
    *,
    user: str = "U0ALICE",
    channel: str = "C0GENERAL",
    ts: str = "1700000000.000100",
    item_user: str = "U0BOB",
) -> dict[str, Any]:
    """A ``reaction_added`` event on a message."""
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item_user": item_user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }


def app_mention_event(
    text: str = "<@U0BOT> help",
    *,
    user: str = "U0ALICE",
    channel: str = "C0GENERAL",
    ts: str | None = None,
) -> dict[str, Any]:
    """An ``app_mention`` event."""
    ts = ts or f"{time.time():.6f}"
    return {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": TEAM_ID,
        "blocks": [],
    }


def url_verification_body(
    challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
) -> bytes:
    """The ``url_verification`` handshake Slack sends when the Request URL is saved."""
    return json.dumps(
        {
            "token": "verification-token-deprecated",
            "challenge": challenge,
            "type": "url_verification",
        }
    ).encode()


# --------------------------------------------------------------------------------------
# Events and interactions Firebreak has no listener for, in Slack's documented shapes.
# Values are made up here; each builder names the reference page whose field list it follows.


def tokens_revoked_event(*, bot: list[str] | None = None, oauth: list[str] | None = None) -> dict[str, Any]:
    """``tokens_revoked`` (api.slack.com/events/tokens_revoked): user ids whose tokens were
    revoked, user tokens under ``oauth`` and bot tokens under ``bot``."""
    return {
        "type": "tokens_revoked",
        "tokens": {"oauth": list(oauth or []), "bot": list(bot if bot is not None else [BOT_USER_ID])},
        "event_ts": f"{time.time():.6f}",
    }


def app_uninstalled_event() -> dict[str, Any]:
    """``app_uninstalled`` (api.slack.com/events/app_uninstalled): only a type."""
    return {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"}


def member_joined_channel_event(*, user: str = "U0CAROL", channel: str = "C0GENERAL", inviter: str = "U0ALICE") -> dict[str, Any]:
    """``member_joined_channel`` (api.slack.com/events/member_joined_channel)."""
    return {
        "type": "member_joined_channel",
        "user": user,
        "channel": channel,
        "channel_type": "C",
        "team": TEAM_ID,
        "inviter": inviter,
        "event_ts": f"{time.time():.6f}",
    }


def view_closed_body(callback_id: str = "declare_incident", *, user_id: str = "U0ALICE", user_name: str = "alice") -> bytes:
    """A ``view_closed`` interaction (api.slack.com/reference/interaction-payloads/views#view_closed),
    sent when a modal opened with ``notify_on_close`` is cancelled."""
    payload = {
        "type": "view_closed",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": _user(user_id, user_name),
        "api_app_id": API_APP_ID,
        "token": "verification-token-deprecated",
        "view": _modal(callback_id, "V0000002", "", {}, notify_on_close=True),
        "is_cleared": False,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_form(payload)
