"""``firebreak drill run --check`` and ``drill new`` as CI would use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.drill.lint import lint_paths
from tests.conftest import REPO_PLAYBOOKS
from tests.drill.conftest import EXAMPLE


@pytest.fixture(autouse=True)
def _playbooks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FIREBREAK_PLAYBOOKS_DIR", str(REPO_PLAYBOOKS))
    monkeypatch.setenv("FIREBREAK_LOG_FORMAT", "console")
    monkeypatch.chdir(tmp_path)  # no .env of the developer's


def _db_args(drill_db: str | None) -> list[str]:
    return ["--database-url", drill_db] if drill_db else []


def test_check_passes_the_example_and_writes_both_reports(
    drill_db: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    assert main(["drill", "run", "--check", "--report-dir", str(reports), *_db_args(drill_db), str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{EXAMPLE}: checkout-latency: passed (4 expectations, 25 simulated minutes in ")
    assert "missed" not in out
    assert json.loads((reports / "checkout-latency.json").read_text())["passed"] is True
    assert "## Expectations" in (reports / "checkout-latency.md").read_text()


def test_check_exits_1_naming_each_expectation_missed(
    drill_db: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = tmp_path / "late.yaml"
    late.write_text(EXAMPLE.read_text().replace("at: 3m", "at: 12m").replace("at: 6m", "at: 13m"), encoding="utf-8")
    assert main(["drill", "run", "--check", *_db_args(drill_db), str(EXAMPLE), str(late)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{EXAMPLE}: checkout-latency: passed")
    assert lines[1].startswith(f"{late}: checkout-latency: FAILED (4 expectations")
    assert lines[2:] == [
        f"{late}: missed acknowledged_within: expected within 5m, got 12m",
        f"{late}: missed max_escalation_level: expected at most 0, got 1",
        f"{late}: missed steps_done_within.1: expected within 10m, got 13m",
    ]


def test_a_plain_run_prints_the_transcript_then_the_report(drill_db: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "run", *_db_args(drill_db), str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    transcript, report = out.split("# Drill: checkout-latency")
    assert "(drill) [#incidents] 🚨 INC-1 [P1] p99 above 2s" in transcript
    assert "| steps_done_within.1 | within 10m | 6m | met |" in report


def test_speed_is_refused_with_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "run", "--check", "--speed", "60", str(EXAMPLE)]) == 2
    assert "--speed is for watched runs" in capsys.readouterr().err


def test_new_from_playbook_writes_a_scenario_that_lints_and_passes(
    drill_db: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "starter.yaml"
    assert main(["drill", "new", "--from-playbook", "high-error-rate", "-o", str(target)]) == 0
    assert lint_paths([target], frozenset({"high-error-rate"})) == []
    text = target.read_text()
    assert "alertname: HighErrorRate" in text and "playbook: high-error-rate" in text
    capsys.readouterr()
    assert main(["drill", "run", "--check", *_db_args(drill_db), str(target)]) == 0
    assert ": passed (5 expectations" in capsys.readouterr().out


def test_new_names_the_playbooks_there_are_when_the_id_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "new", "--from-playbook", "nope"]) == 2
    assert "no playbook 'nope'" in capsys.readouterr().err


def test_new_refuses_to_overwrite_a_file_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("name: my own drill\n", encoding="utf-8")
    assert main(["drill", "new", "--from-playbook", "high-error-rate", "-o", str(target)]) == 2
    assert f"{target} exists; pass --force" in capsys.readouterr().err
    assert target.read_text() == "name: my own drill\n"
    assert main(["drill", "new", "--from-playbook", "high-error-rate", "-o", str(target), "--force"]) == 0
    assert "playbook: high-error-rate" in target.read_text()


def test_a_drill_ignores_outbound_settings_a_server_would_refuse(
    monkeypatch: pytest.MonkeyPatch, drill_db: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAGERDUTY_API_URL", "http://pagerduty.test")
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", "http://events.test")
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "token-without-a-from-email")
    monkeypatch.setenv("SLACK_API_URL", "ftp://slack.test")
    assert main(["drill", "run", "--check", *_db_args(drill_db), str(EXAMPLE)]) == 0
    assert ": passed (4 expectations" in capsys.readouterr().out
