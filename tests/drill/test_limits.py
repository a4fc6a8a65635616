"""Limits of a scenario: offsets and duration at most 7 days, at most 500 events and 500
responses; past them ``drill lint`` and ``drill run`` say where and exit 2 (a usage error),
not 1 (a missed expectation), at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.drill.scenario import MAX_EVENTS, MAX_RESPONSES
from tests.conftest import REPO_PLAYBOOKS

ALERT = "alertmanager: {labels: {alertname: A, severity: critical}}"


@pytest.fixture(autouse=True)
def _playbooks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FIREBREAK_PLAYBOOKS_DIR", str(REPO_PLAYBOOKS))
    monkeypatch.chdir(tmp_path)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "limits.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [["lint"], ["run", "--check"], ["run"]])
def test_offsets_and_duration_past_7_days_are_usage_errors(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, f"name: far\nduration: 10000h\nevents:\n  - at: 99999999999h\n    {ALERT}\n  - at: 7d1s\n    {ALERT}\n")
    assert main(["drill", *command, str(path)]) == 2
    out = capsys.readouterr()
    said = (out.out + out.err).splitlines()
    assert f"{path}:2: duration: 10000h is past the limit of a drill: at most 7d from the start" in said
    assert f"{path}:4: events.0.at: 99999999999h is past the limit of a drill: at most 7d from the start" in said
    assert f"{path}:6: events.1.at: 7d1s is past the limit of a drill: at most 7d from the start" in said
    assert "unexpected error" not in out.err


def test_seven_days_exactly_is_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, f"name: week\nduration: 7d\nevents:\n  - at: 6d23h59m59s\n    {ALERT}\n")
    assert main(["drill", "lint", str(path)]) == 0


@pytest.mark.parametrize(("key", "limit"), [("events", MAX_EVENTS), ("responses", MAX_RESPONSES)])
def test_too_many_events_or_responses_are_refused_before_running(
    key: str, limit: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = f"  - at: 1s\n    {ALERT}\n"
    response = "  - at: 2s\n    user: alice\n    command: /incident ack\n"
    events = event * (limit + 1 if key == "events" else 1)
    responses = response * (limit + 1 if key == "responses" else 1)
    path = _write(tmp_path, f"name: many\nevents:\n{events}responses:\n{responses}")
    assert main(["drill", "run", "--check", str(path)]) == 2
    line = 2 if key == "events" else 3 + 2 * (1 if key == "responses" else limit + 1)
    assert f"{path}:{line}: {key}: {limit + 1} {key}: a drill has at most {limit}" in capsys.readouterr().err.splitlines()
