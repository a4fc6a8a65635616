"""The web view's settings as shipped are safe: no secret an example gave is accepted, and
.env.example trusts no proxy until the operator names theirs."""

from __future__ import annotations

import re

import pytest

from bot.settings import SettingsError, load_settings
from tests.support.processes import ROOT

PLACEHOLDERS = [
    ("FIREBREAK_WEB_SESSION_SECRET", "change-me-to-another-long-random-string-of-32-or-more"),
    ("FIREBREAK_WEB_TOKEN", "change-me-to-a-long-random-string"),
    ("FIREBREAK_WEB_TOKEN", "CHANGEME0123456789abcdef"),
    ("FIREBREAK_WEB_TOKEN", "placeholder-token-0123456789"),
    ("FIREBREAK_API_TOKEN", "example-api-token"),
    ("ALERTMANAGER_TOKEN", "your-token-here"),
    ("ALERTMANAGER_TOKENS", "prod:change-me-prod-token,staging:4f1a9c0d2b7e"),
    ("SLACK_SIGNING_SECRET", "changeme"),
    ("PAGERDUTY_WEBHOOK_SECRET", "xxxxxxxx"),
    ("ALERTMANAGER_TOKENS", "prod:TOKEN1,staging:TOKEN2"),  # as .env.example writes it
    ("ALERTMANAGER_TOKEN", "secret"),
    # as pages show a token cut short, or name one
    ("ALERTMANAGER_TOKENS", "prod:3f9c…,staging:a71d…"),
    ("ALERTMANAGER_TOKEN", "3f9c2b7e41d05a86…"),
    ("FIREBREAK_API_TOKEN", "3f9c2b7e41d05a86..."),
    ("ALERTMANAGER_TOKEN", "<the token>"),
]


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALERTMANAGER_TOKEN", "tökenvalue1234"), ("ALERTMANAGER_TOKENS", "prod:tökenvalue1234"), ("FIREBREAK_API_TOKEN", "two words here")],
)
def test_a_secret_sent_in_a_header_must_be_printable_ascii(name: str, value: str) -> None:
    """Such a token was accepted, then every Bearer request carrying it answered 400."""
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, **{name: value})
    assert name in str(refused.value) and "printable ASCII" in str(refused.value)


def test_empty_secrets_are_unset_and_a_rotation_list_may_have_spaces() -> None:
    """An empty line (``SLACK_SIGNING_SECRET=``) is no secret at all, and a list being rotated
    is checked part by part."""
    settings = load_settings(
        _env_file=None, SLACK_SIGNING_SECRET="", ALERTMANAGER_TOKEN="", PAGERDUTY_WEBHOOK_SECRET="4f1a9c0d2b7e6a5d, 8d41aa0c92f7e3b1"
    )
    assert not settings.slack_signing_secret and not settings.alertmanager_token
    assert settings.pagerduty_webhook_secret == "4f1a9c0d2b7e6a5d, 8d41aa0c92f7e3b1"


def test_the_web_sign_in_token_may_be_a_passphrase() -> None:
    assert load_settings(_env_file=None, FIREBREAK_WEB_TOKEN="correct horse battery stäple").web_token == "correct horse battery stäple"


@pytest.mark.parametrize(("name", "value"), PLACEHOLDERS)
def test_a_placeholder_secret_stops_the_start_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, **{name: value})
    assert name in str(refused.value)
    assert "placeholder" in str(refused.value)


def test_made_secrets_are_accepted() -> None:
    settings = load_settings(
        _env_file=None,
        FIREBREAK_WEB_TOKEN="c0ffee4b1d2e9a73c0ffee4b",
        FIREBREAK_WEB_SESSION_SECRET="9b1d0c2e4f6a8b3d5e7f9a1c0123456789abcdef",
        ALERTMANAGER_TOKENS="prod:3f9c2b7e41d0,staging:8d41aa0c92f7",
    )
    assert settings.web_token == "c0ffee4b1d2e9a73c0ffee4b"
    assert settings.alertmanager_tokens == {"prod": "3f9c2b7e41d0", "staging": "8d41aa0c92f7"}


def _example_value(name: str) -> str | None:
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(rf"^#?\s?{name}=(.*)$", line)
        if match:
            return match.group(1)
    return None


@pytest.mark.parametrize(
    "name",
    ["FIREBREAK_WEB_TOKEN", "FIREBREAK_WEB_SESSION_SECRET", "ALERTMANAGER_TOKEN", "ALERTMANAGER_TOKENS", "FIREBREAK_API_TOKEN", "FIREBREAK_WEB_TRUSTED_PROXIES"],
)
def test_env_example_leaves_secrets_and_trusted_proxies_empty(name: str) -> None:
    """A secret written in the example is known to all; a proxy list there trusts hosts that are not the proxy."""
    assert _example_value(name) == ""


@pytest.mark.parametrize("value", ["0.0.0.0/0", "10.0.3.7,::/0", "0.0.0.0/0.0.0.0", "1.2.3.4/0"])
def test_a_trusted_proxy_network_that_holds_every_address_stops_the_start(value: str) -> None:
    """Every trusted address may name any user in FIREBREAK_WEB_USER_HEADER: ``0.0.0.0/0``
    would let anyone who reaches the port sign in as anyone, so it is refused by name."""
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, FIREBREAK_WEB_TRUSTED_PROXIES=value, FIREBREAK_WEB_USER_HEADER="X-Forwarded-User")
    assert "FIREBREAK_WEB_TRUSTED_PROXIES" in str(refused.value) and "every address" in str(refused.value)
