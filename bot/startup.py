"""What every ``firebreak`` command does first: read the settings, configure logging.

A module of its own so that the command modules of each feature (``bot/*/cli.py``) can use
it without importing ``bot.cli``, which imports them to build the parser.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from bot.settings import Settings, SettingsError, load_settings


def settings_or_exit(**overrides: Any) -> Settings:
    """The settings, or one line on stderr and exit status 2: a bad setting is a usage error.

    ``overrides`` (by environment name) replace what the environment says, before validation."""
    try:
        return load_settings(**overrides)
    except SettingsError as error:
        print(f"firebreak: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def configure_logging_for(settings: Settings, stream: TextIO | None = None) -> None:
    """Logging at the configured level and format, with every configured secret masked."""
    from bot.logs import configure_logging

    secrets = [
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.pagerduty_api_token,
        settings.pagerduty_webhook_secret,
        settings.pagerduty_routing_key,
        settings.alertmanager_token,
        *settings.alertmanager_tokens.values(),
        settings.api_token,
    ]
    configure_logging(level=settings.log_level, fmt=settings.log_format, secrets=[s for s in secrets if s], stream=stream)
