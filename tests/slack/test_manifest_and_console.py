"""The shipped Slack manifest matches what the adapter uses; the console renders every chat operation."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import yaml

from bot.chat import operations as ops
from bot.chat.console.transcript import ConsoleDeliverer
from bot.chat.slack.deliverer import OPERATIONS
from bot.chat.slack.http import PATH
from bot.container import Container
from bot.delivery.message import OutboxMessage
from bot.domain.severity import Severity
from bot.domain.timeline import Source

MANIFEST = Path(__file__).resolve().parents[2] / "bot" / "chat" / "slack" / "manifest.yaml"


def test_manifest_declares_the_command_scopes_events_and_urls() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == "/incident" and command["url"].endswith(PATH) and command["should_escape"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {"channels:manage", "channels:read", "channels:join", "chat:write", "pins:write", "bookmarks:write",
              "users:read", "users:read.email", "reactions:read", "channels:history", "files:write", "commands",
              "app_mentions:read", "groups:history", "groups:read", "usergroups:read"}
    assert needed <= scopes
    # Joining covers posting to public channels; Firebreak makes no private channels.
    assert not scopes & {"chat:write.public", "groups:write"}
    settings = manifest["settings"]
    # tokens_revoked and app_uninstalled pause delivery (bot/chat/slack/pause.py); they need no scope.
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "reaction_added", "tokens_revoked", "app_uninstalled"}
    assert settings["interactivity"]["is_enabled"] and settings["interactivity"]["request_url"].endswith(PATH)


def test_console_renders_every_operation_slack_delivers(container: Container) -> None:
    number = container.service.declare(title="Checkout", severity=Severity.P1, actor="a", source=Source.CONSOLE).number
    out = io.StringIO()
    console = ConsoleDeliverer(container.sessions, stream=out, clock=container.clock)
    payloads = {
        ops.SET_TOPIC: {"number": number},
        ops.PIN_SUMMARY: {"number": number},
        ops.INVITE: {"number": number, "user_ids": ["U1"], "emails": [], "oncall": True},
        ops.BOOKMARK: {"number": number, "title": "runbook", "url": "https://r"},
        ops.ANNOUNCE: {"number": number},
        ops.ARCHIVE: {"number": number, "resolved_at": None},
        ops.UPLOAD_FILE: {"number": number, "filename": "INC-1.md", "title": "Post-mortem", "content": "# hi"},
        ops.NOTICE: {"text": "Grafana contact-point test received"},
        ops.POST_EPHEMERAL: {"channel": "#inc-1-checkout", "user": "alice", "text": "only you"},
    }
    assert set(payloads) | {"open_incident", "post", "refresh_summary"} == set(OPERATIONS)
    for index, (operation, payload) in enumerate(payloads.items()):
        message = OutboxMessage(index + 100, f"k{index}", "chat", operation, payload, number, 1)
        result = asyncio.run(console.deliver(message))
        assert result.record is not None
        with container.sessions.begin() as session:
            result.record(session)
        assert result.after_commit is not None
        result.after_commit()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[#inc-1-checkout] ⚙️ topic updated"
    assert "[#inc-1-checkout] ⚙️ bookmark added title=runbook url=https://r" in lines
    assert "[#inc-1-checkout] 📎 Post-mortem — INC-1.md (1 lines, 4 bytes)" in lines
    assert "│ # hi" in out.getvalue()
    assert "[#incidents] ℹ️ Grafana contact-point test received" in lines
    assert lines[-1] == "[#inc-1-checkout] (only alice sees this) only you"


def test_install_picks_http_and_or_socket_mode_from_settings(slack_factory, fake_slack) -> None:  # type: ignore[no-untyped-def]
    def slack_parts(container: Container) -> tuple[list[str], int]:
        paths = [route.path for route in container.routes if route.path.startswith("/slack")]
        sockets = [task for task in container.web_background if getattr(task, "__module__", "").startswith("bot.chat.slack")]
        return paths, len(sockets)

    assert slack_parts(slack_factory(fake_slack, SLACK_APP_TOKEN="xapp-1-test")) == ([PATH], 1)
    assert slack_parts(slack_factory(fake_slack)) == ([PATH], 0)
    # Socket Mode only: no unsigned HTTP endpoint.
    assert slack_parts(slack_factory(fake_slack, SLACK_APP_TOKEN="xapp-1-test", SLACK_SIGNING_SECRET="")) == ([], 1)


def test_local_mode_installs_nothing(container: Container) -> None:
    assert container.slack is None
    assert not [route for route in container.routes if route.path.startswith("/slack")]
