"""``firebreak serve`` in local mode with no Alertmanager token: it makes one, keeps it, and
prints a ``curl`` line that works exactly as printed; every unconfigured way in is warned about.

The token file sits beside the SQLite database, so this test uses a SQLite file of its own
on either backend (the behaviour does not touch the database beyond the incident it opens).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import Engine, select

from bot.ingest.inbound import curl_line, local_token_path, unconfigured_inbound
from bot.store.db import make_engine
from bot.store.models import IncidentRow
from tests.conftest import make_settings
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until


def printed_curl(log: Path) -> str:
    lines = [line.strip() for line in log.read_text().splitlines() if line.strip().startswith("curl ")]
    assert len(lines) == 1, log.read_text()[-3000:]
    return lines[0]


def test_local_mode_makes_a_token_and_prints_a_working_curl_line(tmp_path: Path) -> None:
    database = tmp_path / "firebreak.db"
    db_url = f"sqlite:///{database}"
    log = tmp_path / "serve.log"
    with Server(firebreak_env(db_url), log=log):
        command = printed_curl(log)
        token = (tmp_path / ".firebreak-token").read_text().strip()
        assert token and token in command
        answer = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)
        assert answer.returncode == 0 and '"status":"accepted"' in answer.stdout, answer
        engine = make_engine(db_url)
        try:
            wait_until(lambda: _titles(engine), timeout=20, interval=0.2, what="the curl alert to open an incident")
            assert _titles(engine) == ["Trying Firebreak: a test alert from curl"]
        finally:
            engine.dispose()
        anonymous = subprocess.run(["sh", "-c", command.replace(token, "guess")], capture_output=True, text=True, timeout=30)
        assert "missing or wrong credentials" in anonymous.stdout
    text = log.read_text()
    assert "made and saved in" in text
    assert "PAGERDUTY_WEBHOOK_SECRET" in text and "SLACK_SIGNING_SECRET" in text and "FIREBREAK_API_TOKEN" in text
    assert "refuses every request (403) until ALERTMANAGER_TOKEN" not in text  # it has one now

    restart_log = tmp_path / "restart.log"
    with Server(firebreak_env(db_url), log=restart_log):
        assert token in printed_curl(restart_log)
    assert "read from" in restart_log.read_text()


def _titles(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(IncidentRow.title)).scalars())


def test_every_unconfigured_way_in_is_named(db_url: str) -> None:
    bare = unconfigured_inbound(make_settings(db_url))
    assert len(bare) == 5
    assert any("ALERTMANAGER_TOKEN" in line and "403" in line for line in bare)
    assert any("web view (GET /) is closed" in line for line in bare)
    configured = make_settings(
        db_url,
        ALERTMANAGER_TOKEN="a",
        PAGERDUTY_WEBHOOK_SECRET="b",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="c",
        FIREBREAK_API_TOKEN="d",
        FIREBREAK_WEB_TOKEN="c0ffee4b1d2e9a73c0ffee4b",
    )
    assert unconfigured_inbound(configured) == []
    # Half of Slack's settings: said plainly, not left to a "local mode" banner.
    bot_only = unconfigured_inbound(make_settings(db_url, SLACK_BOT_TOKEN="xoxb-1"))
    assert any("SLACK_BOT_TOKEN is set but unused" in line for line in bot_only)
    secret_only = unconfigured_inbound(make_settings(db_url, SLACK_SIGNING_SECRET="c"))
    assert any("SLACK_BOT_TOKEN is not" in line for line in secret_only)
    only_sources = unconfigured_inbound(make_settings(db_url, ALERTMANAGER_TOKENS="prod:x,staging:y"))
    assert any("?source=prod, staging" in line for line in only_sources)


def test_token_file_location_and_curl_quoting(tmp_path: Path) -> None:
    assert local_token_path("sqlite:///firebreak.db") == Path(".firebreak-token")
    assert local_token_path(f"sqlite:///{tmp_path}/x.db") == tmp_path / ".firebreak-token"
    assert local_token_path("postgresql+psycopg://u@h/db") == Path(".firebreak-token")
    line = curl_line("0.0.0.0", 8080, "t0k'en")
    assert "http://127.0.0.1:8080/webhooks/alertmanager" in line
    assert "'Authorization: Bearer t0k'\"'\"'en'" in line
