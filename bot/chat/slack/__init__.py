"""The Slack chat backend: Bolt app, deliverer, pacing, Block Kit.

The composition root builds a :class:`SlackRuntime` with :func:`build_runtime` when Slack
credentials are set (the console backend is in charge otherwise) and plugs in its parts:
the deliverer, the subscriber, the HTTP routes or the Socket Mode loop, the pause's metric
and readiness note.
"""

from __future__ import annotations

from bot.chat.slack.app import SlackRuntime, build_runtime
from bot.chat.slack.http import slack_routes
from bot.chat.slack.socket_mode import socket_mode_task
from bot.chat.slack.status import PauseCollector, pause_note
from bot.chat.slack.subscriber import make_slack_subscriber

__all__ = ["PauseCollector", "SlackRuntime", "build_runtime", "make_slack_subscriber", "pause_note", "slack_routes", "socket_mode_task"]
