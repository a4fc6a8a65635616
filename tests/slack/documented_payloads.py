"""Slack requests written out field by field in the shapes Slack documents.

Each constant follows one reference page (named next to it) and carries every field that
page lists for the payload, including the ones Firebreak ignores, with values made up here.
Placeholders in ``{braces}`` (channel ids, incident numbers, URLs) are filled in by the test,
which signs the bytes as Slack does. ``test_documented_shapes.py`` asserts the outcome of each.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

# api.slack.com/interactivity/slash-commands, "How do commands work?" → the form-encoded
# payload an app receives: token, team/enterprise, channel, user, command, text,
# response_url, trigger_id, api_app_id.
SLASH_COMMAND_DECLARE: dict[str, str] = {
    "token": "legacy-verification-token-1",
    "team_id": "T0FBRK001",
    "team_domain": "firebreak-sre",
    "enterprise_id": "E0FBRK001",
    "enterprise_name": "Firebreak Test Org",
    "channel_id": "C0OPS0001",
    "channel_name": "ops",
    "user_id": "U0MARTA01",
    "user_name": "marta",
    "command": "/incident",
    "text": "declare Disk full on db-3 &amp; replicas lagging P2",
    "response_url": "{response_url}",
    "trigger_id": "4411223344.5566778899.0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "api_app_id": "A0FBRK001",
}
"""``&amp;``: Slack escapes ``&``, ``<`` and ``>`` in ``text`` (``should_escape`` or not)."""

# api.slack.com/interactivity/slash-commands, "ssl_check": Slack checks the certificate of
# the Request URL with a POST carrying ssl_check=1 and the token; answer 200, do nothing.
SSL_CHECK: dict[str, str] = {"ssl_check": "1", "token": "legacy-verification-token-1"}

# api.slack.com/reference/interaction-payloads/block-actions: type, team, user, api_app_id,
# token, container, trigger_id, channel, message, response_url, actions (action_id,
# block_id, text, value, type, action_ts), state.
BLOCK_ACTIONS_ACK_BUTTON: dict[str, Any] = {
    "type": "block_actions",
    "team": {"id": "T0FBRK001", "domain": "firebreak-sre"},
    "user": {"id": "U0JONAS01", "username": "jonas", "name": "jonas", "team_id": "T0FBRK001"},
    "api_app_id": "A0FBRK001",
    "token": "legacy-verification-token-1",
    "container": {"type": "message", "message_ts": "1764500000.000300", "channel_id": "{channel}", "is_ephemeral": False},
    "trigger_id": "4411223345.5566778899.aa11bb22cc33dd44ee55ff6600aa11bb",
    "channel": {"id": "{channel}", "name": "inc-1"},
    "message": {
        "type": "message",
        "subtype": "bot_message",
        "text": "INC-1",
        "ts": "1764500000.000300",
        "bot_id": "B0FBRK001",
        "blocks": [],
    },
    "state": {"values": {}},
    "response_url": "{response_url}",
    "actions": [
        {
            "action_id": "firebreak_ack",
            "block_id": "incident_actions",
            "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
            "value": "{number}",
            "type": "button",
            "action_ts": "1764500012.123456",
        }
    ],
}

# api.slack.com/reference/interaction-payloads/views, "view_submission": type, team, user,
# api_app_id, token, trigger_id, view (id, team_id, type, blocks, private_metadata,
# callback_id, state.values, hash, title, clear_on_close, notify_on_close, close, submit,
# previous_view_id, root_view_id, app_id, external_id, app_installed_team_id, bot_id),
# response_urls, is_enterprise_install, enterprise.
VIEW_SUBMISSION_DECLARE: dict[str, Any] = {
    "type": "view_submission",
    "team": {"id": "T0FBRK001", "domain": "firebreak-sre"},
    "user": {"id": "U0MARTA01", "username": "marta", "name": "marta", "team_id": "T0FBRK001"},
    "api_app_id": "A0FBRK001",
    "token": "legacy-verification-token-1",
    "trigger_id": "4411223346.5566778899.99887766554433221100ffeeddccbbaa",
    "view": {
        "id": "V0FBRK001",
        "team_id": "T0FBRK001",
        "type": "modal",
        "blocks": [],
        "private_metadata": "{channel}",
        "callback_id": "declare_incident",
        "state": {
            "values": {
                "title": {"value": {"type": "plain_text_input", "value": "Login page returns 502"}},
                "severity": {
                    "value": {
                        "type": "static_select",
                        "selected_option": {"text": {"type": "plain_text", "text": "P1", "emoji": True}, "value": "P1"},
                    }
                },
                "description": {"value": {"type": "plain_text_input", "value": "Since the 14:00 deploy"}},
            }
        },
        "hash": "1764500020.a1b2c3d4",
        "title": {"type": "plain_text", "text": "Declare incident", "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
        "submit": {"type": "plain_text", "text": "Declare", "emoji": True},
        "previous_view_id": None,
        "root_view_id": "V0FBRK001",
        "app_id": "A0FBRK001",
        "external_id": "",
        "app_installed_team_id": "T0FBRK001",
        "bot_id": "B0FBRK001",
    },
    "response_urls": [],
    "is_enterprise_install": False,
    "enterprise": None,
}

# api.slack.com/reference/interaction-payloads/views, "view_closed": type, team, user,
# view, api_app_id, is_cleared (sent only for views opened with notify_on_close).
VIEW_CLOSED: dict[str, Any] = {
    "type": "view_closed",
    "team": {"id": "T0FBRK001", "domain": "firebreak-sre"},
    "user": {"id": "U0MARTA01", "username": "marta", "name": "marta", "team_id": "T0FBRK001"},
    "view": {**VIEW_SUBMISSION_DECLARE["view"], "notify_on_close": True, "state": {"values": {}}},
    "api_app_id": "A0FBRK001",
    "is_cleared": False,
}

# api.slack.com/events/url_verification: token, challenge, type.
URL_VERIFICATION: dict[str, Any] = {
    "token": "legacy-verification-token-1",
    "challenge": "firebreak-challenge-7f3a9c2e51d84b06",
    "type": "url_verification",
}


def event_callback(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """api.slack.com/apis/events-api, "Callback field overview": token, team_id, api_app_id,
    event, type, event_context, event_id, event_time, authorizations, is_ext_shared_channel,
    context_team_id, context_enterprise_id."""
    return {
        "token": "legacy-verification-token-1",
        "team_id": "T0FBRK001",
        "api_app_id": "A0FBRK001",
        "event": event,
        "type": "event_callback",
        "event_context": "4-eyJldCI6ImZpcmVicmVhayJ9",
        "event_id": event_id,
        "event_time": 1764500030,
        "authorizations": [
            {"enterprise_id": "E0FBRK001", "team_id": "T0FBRK001", "user_id": "U0BOT", "is_bot": True, "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
        "context_team_id": "T0FBRK001",
        "context_enterprise_id": None,
    }


# api.slack.com/events/app_mention: type, user, text, ts, channel, event_ts.
APP_MENTION: dict[str, Any] = {
    "type": "app_mention",
    "user": "U0MARTA01",
    "text": "<@U0BOT> how do I page the DBA on call?",
    "ts": "1764500040.000100",
    "channel": "{channel}",
    "event_ts": "1764500040.000100",
}

# api.slack.com/events/reaction_added: type, user, reaction, item_user, item (type,
# channel, ts), event_ts.
REACTION_ADDED: dict[str, Any] = {
    "type": "reaction_added",
    "user": "U0JONAS01",
    "reaction": "pushpin",
    "item_user": "U0MARTA01",
    "item": {"type": "message", "channel": "{channel}", "ts": "1764500050.000200"},
    "event_ts": "1764500055.000300",
}

# api.slack.com/events/tokens_revoked: tokens.oauth (user ids) and tokens.bot (bot user ids).
TOKENS_REVOKED: dict[str, Any] = {"type": "tokens_revoked", "tokens": {"oauth": ["U0MARTA01"], "bot": ["U0BOT"]}}

# api.slack.com/events/app_uninstalled: only the type.
APP_UNINSTALLED: dict[str, Any] = {"type": "app_uninstalled"}

# api.slack.com/events/member_joined_channel: type, user, channel, channel_type, team, inviter.
MEMBER_JOINED_CHANNEL: dict[str, Any] = {
    "type": "member_joined_channel",
    "user": "U0PRIYA01",
    "channel": "C0OPS0001",
    "channel_type": "C",
    "team": "T0FBRK001",
    "inviter": "U0JONAS01",
}


def fill(value: Any, **values: Any) -> Any:
    """``value`` with each ``{name}`` placeholder replaced (in keys' values, recursively)."""
    text = json.dumps(value)
    for name, replacement in values.items():
        text = text.replace("{" + name + "}", str(replacement))
    return json.loads(text)


def form(fields: dict[str, str]) -> bytes:
    """A slash command as sent: form fields."""
    return urlencode(fields).encode()


def interaction(payload: dict[str, Any]) -> bytes:
    """An interaction as sent: one form field ``payload`` holding the JSON."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def events_api(body: dict[str, Any]) -> bytes:
    """The Events API as sent: a JSON body."""
    return json.dumps(body).encode()
