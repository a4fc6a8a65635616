"""Loading playbooks for a running server: broken files are skipped and reported, never fatal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.playbooks import IncidentFacts, PlaybookLoadError, load_directory
from bot.playbooks.registry import load_registry, log_registry
from tests.conftest import REPO_PLAYBOOKS
from tests.guided.conftest import FIXTURES


def test_broken_files_are_skipped_and_the_rest_load() -> None:
    directory = FIXTURES / "broken"
    with pytest.raises(PlaybookLoadError):
        load_directory(directory)  # the strict loader refuses the whole directory
    registry = load_registry(directory)
    assert registry.ids() == ["default", "good"]
    assert registry.get("default").title == "Fallback"  # the first file with the id wins
    skipped = {Path(problem.path).name for problem in registry.problems}
    assert skipped == {"dupe.yaml", "syntax.yaml", "typo.yaml"}
    assert all(problem.line is not None for problem in registry.problems)


def test_problems_are_logged_as_file_line_message(caplog: pytest.LogCaptureFixture) -> None:
    registry = load_registry(FIXTURES / "broken")
    with caplog.at_level(logging.INFO, logger="bot.playbooks.registry"):
        log_registry(registry)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("typo.yaml:" in message and "unknown key 'stepz'" in message for message in warnings)
    assert any("syntax.yaml:2: YAML syntax error" in message for message in warnings)
    assert any("loaded 2 playbooks" in record.getMessage() and "3 files skipped" in record.getMessage() for record in caplog.records)


def test_a_missing_directory_is_an_empty_registry(tmp_path: Path) -> None:
    registry = load_registry(tmp_path / "nope")
    assert len(registry) == 0
    assert "not a directory" in registry.problems[0].message
    assert registry.match(IncidentFacts(title="anything")) == (None, ())


def test_alert_incidents_use_the_strict_rules_and_person_declared_ones_the_title() -> None:
    registry = load_registry(REPO_PLAYBOOKS)
    assert registry.problems == []
    # An alert with the right alertname: specific playbook, and it says why.
    playbook, matched = registry.match(IncidentFacts(alertname="HighErrorRate", labels={"alertname": "HighErrorRate"}, title="HighErrorRate"))
    assert playbook is not None and playbook.id == "high-error-rate"
    assert "alertname=HighErrorRate" in matched
    # An alert whose alertname no playbook knows: the title does not rescue it, the default applies.
    playbook, matched = registry.match(IncidentFacts(alertname="Mystery", labels={"alertname": "Mystery"}, title="disk full on db-1"))
    assert playbook is not None and playbook.id == "default" and matched == ()
    # A person typing a title: keywords alone pick the playbook.
    playbook, matched = registry.match(IncidentFacts(title="Disk full on db-1"))
    assert playbook is not None and playbook.id == "disk-full"
    assert matched == ("keyword=disk full",)
    playbook, _ = registry.match(IncidentFacts(title="Everything is weird"))
    assert playbook is not None and playbook.id == "default"


def test_a_server_with_broken_playbooks_starts_with_the_good_ones(db_url: str, engine, clock, transcript, caplog: pytest.LogCaptureFixture) -> None:
    from starlette.testclient import TestClient

    from bot.web import create_app
    from tests.guided.conftest import build

    with caplog.at_level(logging.WARNING, logger="bot.playbooks.registry"):
        container = build(db_url, engine, clock, transcript, FIXTURES / "broken")
    assert container.guided is not None and container.guided.registry.ids() == ["default", "good"]
    assert sum("playbook skipped" in record.getMessage() for record in caplog.records) == 3
    with TestClient(create_app(container, migrate=False, run_worker=False)) as client:
        assert client.get("/healthz").status_code == 200
