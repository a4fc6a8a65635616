"""``firebreak incidents list`` and ``show`` say where a merged incident went."""

from __future__ import annotations

import os

import pytest

from bot.cli import main
from bot.container import build_container
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from tests.conftest import make_settings
from tests.support.processes import ROOT, firebreak_env


def in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(args)
    except SystemExit as stopped:
        code = int(stopped.code or 0)
    return code, capsys.readouterr().out


@pytest.fixture
def merged(db_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """(survivor, merged): INC-2 merged into INC-1, in the database the CLI reads."""
    environment = firebreak_env(db_url, FIREBREAK_PLAYBOOKS_DIR=str(ROOT / "playbooks"))
    for name in list(os.environ):
        if name.startswith(("SLACK_", "PAGERDUTY_", "FIREBREAK_", "ALERTMANAGER_")):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    container = build_container(make_settings(db_url), transcript_stream=None)
    try:
        into = container.service.declare(title="Checkout down", severity=Severity.P2, actor="ops", source=Source.CONSOLE).number
        away = container.service.declare(title="Payments down", severity=Severity.P2, actor="ops", source=Source.CONSOLE).number
        container.commands.regroup.merge(into, away, actor="ops", source=Source.CONSOLE)
    finally:
        container.close()
    return into, away


def test_list_and_show_say_merged_into(merged: tuple[int, int], capsys: pytest.CaptureFixture[str]) -> None:
    into, away = merged
    code, out = in_process(["incidents", "list"], capsys)
    assert code == 0
    (row,) = [line for line in out.splitlines() if line.startswith(f"INC-{away} ")]
    assert "resolved" in row and row.endswith(f"Payments down (merged into INC-{into})")
    (kept,) = [line for line in out.splitlines() if line.startswith(f"INC-{into} ")]
    assert "merged" not in kept
    code, out = in_process(["incidents", "show", f"INC-{away}"], capsys)
    assert code == 0 and f"  status: resolved (merged into INC-{into}) · " in out
    code, out = in_process(["incidents", "show", f"INC-{into}"], capsys)
    assert code == 0 and "(merged into" not in out.splitlines()[1]
