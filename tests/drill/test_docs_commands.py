"""Every command docs/drills.md shows works as written from the root of a fresh checkout:
run here in a folder holding only what a clone ships (the playbooks and the example scenario)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import REPO_PLAYBOOKS
from tests.drill.conftest import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "drills.md"


def _commands() -> list[str]:
    """The Commands block, line by line, then the inline ``firebreak drill`` commands naming files."""
    text = PAGE.read_text(encoding="utf-8")
    block = text.split("## Commands", 1)[1].split("```\n", 2)[1]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    inline = [found for found in re.findall(r"`(firebreak drill [^`]+)`", text) if "drills/" in found]
    return lines + inline


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO_PLAYBOOKS, tmp_path / "playbooks")
    fixtures = tmp_path / EXAMPLE.relative_to(ROOT).parent
    fixtures.mkdir(parents=True)
    shutil.copy(EXAMPLE, fixtures)
    for name in ("FIREBREAK_PLAYBOOKS_DIR", "DATABASE_URL", "SLACK_BOT_TOKEN", "PAGERDUTY_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_command_in_the_drills_page_works_from_a_checkout(clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands()
    assert commands[0] == "mkdir -p drills && cp tests/drill/fixtures/checkout-latency.yaml drills/"
    assert sum(command.startswith("firebreak drill") for command in commands) >= 7
    for command in commands:
        if not command.startswith("firebreak "):
            subprocess.run(command, shell=True, cwd=clone, check=True)
            continue
        args = shlex.split(command)[1:]
        if "--speed" in args:  # the same run, watched: its real-time pace is tested in test_clock.py
            index = args.index("--speed")
            del args[index : index + 2]
        assert main(args) == 0, f"{command}: {capsys.readouterr()}"
    assert (clone / "drills" / "high-latency.yaml").is_file()
    assert (clone / "reports" / "checkout-latency.json").is_file()
