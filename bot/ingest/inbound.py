"""At start: say which inbound endpoints refuse everything, and make trying Firebreak one step.

Every way in is closed until its secret is set (an open webhook on 0.0.0.0 lets anyone open
incidents and page people). Closed by default is only safe if it is loud, so ``serve`` logs
one warning per endpoint that is not configured. In local mode (no Slack) ``serve`` makes
an Alertmanager token on its first start, keeps it in ``.firebreak-token`` beside the SQLite
database (in the working directory with PostgreSQL), and prints a ``curl`` line that fires
a test alert with it.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
from pathlib import Path

from bot.settings import Settings

#: The file local mode keeps its generated token in; delete it for a new token next start.
LOCAL_TOKEN_FILE = ".firebreak-token"


def unconfigured_inbound(settings: Settings) -> list[str]:
    """One sentence per inbound endpoint that refuses requests because a secret is missing."""
    warnings = []
    if not settings.alertmanager_token and not settings.alertmanager_tokens:
        warnings.append(
            "POST /webhooks/alertmanager refuses every request (403) until ALERTMANAGER_TOKEN "
            "(or ALERTMANAGER_TOKENS=name:token,...) is set: Alertmanager and Grafana alerts are not received"
        )
    elif not settings.alertmanager_token:
        named = ", ".join(sorted(settings.alertmanager_tokens))
        warnings.append(
            f"POST /webhooks/alertmanager accepts only ?source={named} (ALERTMANAGER_TOKENS); "
            "requests without a listed source get 403 until ALERTMANAGER_TOKEN is set"
        )
    if not settings.pagerduty_webhook_secret:
        warnings.append("POST /webhooks/pagerduty refuses every request (401) until PAGERDUTY_WEBHOOK_SECRET is set")
    if not settings.slack_signing_secret and not settings.slack_app_token:
        warnings.append(
            "Slack cannot reach Firebreak: /slack/events is not mounted (SLACK_SIGNING_SECRET) and Socket Mode is off (SLACK_APP_TOKEN)"
            + (": SLACK_BOT_TOKEN is set but unused, and Firebreak runs in local mode" if settings.slack_bot_token else "")
        )
    elif not settings.slack_bot_token:
        warnings.append(
            "SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not: Firebreak cannot post to Slack"
            " and runs in local mode until it is set"
        )
    if not settings.web_token and not settings.web_user_header:
        warnings.append("the web view (GET /) is closed: set FIREBREAK_WEB_TOKEN to sign in with a token (or FIREBREAK_WEB_USER_HEADER behind a proxy)")
    if not settings.api_token:
        warnings.append("GET /incidents/{number}/postmortem.md|.json answers 403 until FIREBREAK_API_TOKEN is set")
    return warnings


def local_token_path(database_url: str) -> Path:
    """Beside the SQLite file (``sqlite:///firebreak.db``: the working directory), else here."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and database_url != prefix + ":memory:":
        return Path(database_url[len(prefix) :].split("?", 1)[0]).parent / LOCAL_TOKEN_FILE
    return Path(LOCAL_TOKEN_FILE)


def local_token(path: Path) -> tuple[str, bool]:
    """The token kept in ``path``, made (readable by this user only) if missing; (token, created)."""
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing, False
    token = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token, True


#: A firing Alertmanager notification (version 4), small enough for one command line.
TRY_ALERT = {
    "version": "4",
    "groupKey": '{}:{alertname="TryFirebreak"}',
    "status": "firing",
    "receiver": "firebreak",
    "groupLabels": {"alertname": "TryFirebreak"},
    "commonLabels": {"alertname": "TryFirebreak", "severity": "critical"},
    "commonAnnotations": {"summary": "Trying Firebreak: a test alert from curl"},
    "externalURL": "http://127.0.0.1:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "TryFirebreak", "severity": "critical"},
            "annotations": {"summary": "Trying Firebreak: a test alert from curl"},
            "startsAt": "2026-01-01T00:00:00Z",
        }
    ],
}


def curl_line(host: str, port: int, token: str) -> str:
    """A command that posts ``TRY_ALERT`` to this server, runnable as printed (POSIX shell)."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in reachable:
        reachable = f"[{reachable}]"
    url = f"http://{reachable}:{port}/webhooks/alertmanager"
    parts = [
        "curl",
        "-sS",
        url,
        "-H",
        f"Authorization: Bearer {token}",
        "-H",
        "Content-Type: application/json",
        "--data",
        json.dumps(TRY_ALERT, separators=(",", ":")),
    ]
    return " ".join(shlex.quote(part) for part in parts)
