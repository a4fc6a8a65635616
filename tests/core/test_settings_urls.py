"""Malformed URL settings stop the start with a message naming the variable, not a traceback."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings
from tests.support.processes import firebreak_env, run_firebreak


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PAGERDUTY_API_URL", "http://api.pagerduty.com", "must start with https:// (got http://)"),
        ("PAGERDUTY_EVENTS_URL", "events.pagerduty.com", "must start with https:// (got no scheme)"),
        ("PAGERDUTY_API_URL", "https://", "must name a host"),
        ("PAGERDUTY_API_URL", "https://api.pagerduty.com:99999", "the port must be a number from 1 to 65535"),
        ("SLACK_API_URL", "ftp://slack.com/api/", "must start with https:// or http:// (got ftp://)"),
        ("DATABASE_URL", "postgresql://firebreak:hunter2@db:port/firebreak", "the port in the URL is not a number"),
        ("DATABASE_URL", "sqlite", "not a database URL"),
    ],
)
def test_malformed_urls_are_settings_errors(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, **{name: value})
    text = str(raised.value)
    assert f"{name}: " in text and message in text
    assert "hunter2" not in text  # a database URL may carry its password: never echoed


def test_serve_with_plain_http_pagerduty_url_exits_2_naming_it(db_url: str) -> None:
    env = firebreak_env(db_url, PAGERDUTY_API_TOKEN="pd-token", PAGERDUTY_API_URL="http://api.pagerduty.com")
    result = run_firebreak(["serve", "--host", "127.0.0.1", "--port", "1"], env, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "PAGERDUTY_API_URL: Value error, must start with https://" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_accepted_urls_are_kept() -> None:
    settings = load_settings(
        _env_file=None,
        PAGERDUTY_API_URL="https://api.eu.pagerduty.com",
        SLACK_API_URL="http://127.0.0.1:8099/api/",
        DATABASE_URL="postgresql://firebreak@127.0.0.1:5432/firebreak",
    )
    assert settings.pagerduty_api_url == "https://api.eu.pagerduty.com"
    assert settings.slack_api_url == "http://127.0.0.1:8099/api/"
    assert settings.database_url == "postgresql+psycopg://firebreak@127.0.0.1:5432/firebreak"
