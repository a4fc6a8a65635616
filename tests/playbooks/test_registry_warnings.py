"""What an operator is told at start-up about the playbooks, beyond the log.

A server started outside the checkout (a systemd unit's working directory) finds no
``playbooks/`` folder and runs every incident without steps or its playbook's escalation;
before, only a log line at INFO said so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.playbooks.registry import load_registry, registry_warnings
from tests.support.processes import ROOT

GOOD = """id: disk
title: Disk full
match:
  alertname: [DiskFull]
phases:
  - kind: diagnosis
    steps:
      - text: Look at the disk.
"""


def test_a_missing_folder_is_a_warning(tmp_path: Path) -> None:
    (warning,) = registry_warnings(load_registry(tmp_path / "nowhere"))
    assert warning.startswith("no playbooks loaded: ") and "FIREBREAK_PLAYBOOKS_DIR" in warning


def test_an_empty_folder_and_skipped_files_are_warnings(tmp_path: Path) -> None:
    (empty,) = registry_warnings(load_registry(tmp_path))
    assert "holds no playbook files" in empty
    (tmp_path / "broken.yaml").write_text("id: [not, a, slug]\n")
    (only_broken,) = registry_warnings(load_registry(tmp_path))
    assert "every file was skipped" in only_broken and "firebreak playbooks lint" in only_broken
    (tmp_path / "disk.yaml").write_text(GOOD)
    (one_skipped,) = registry_warnings(load_registry(tmp_path))
    assert one_skipped.startswith("1 playbook file in ") and "skipped" in one_skipped


def test_the_shipped_playbooks_give_no_warning() -> None:
    assert registry_warnings(load_registry(ROOT / "playbooks")) == []


def test_a_command_started_elsewhere_says_it_found_no_playbooks(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIREBREAK_", "SLACK_", "PAGERDUTY_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fb.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "declare", "--sev", "P3", "Disk full on db-1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "warning: no playbooks loaded: playbooks is not a folder" in done.stdout + done.stderr
