"""``firebreak drill lint``: problems as ``file:line: message``, like ``playbooks lint``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.drill.lint import lint_paths
from tests.conftest import REPO_PLAYBOOKS
from tests.drill.conftest import EXAMPLE

BROKEN = """\
name: broken
events:
  - at: 5
    alertmanager: {status: firing, labels: {service: checkout}}
  - at: 1m
    pagerduty: {event_type: incident.exploded, incident: PX}
  - at: 2m
responses:
  - at: 3m
    user: alice
    command: /incident fly away
  - at: 4m
    user: bob
    comand: /incident ack
expect:
  acknowledged_within: soon
  steps_done_within: {first: 10m}
"""


def test_the_example_lints_clean_against_the_starter_playbooks() -> None:
    assert lint_paths([EXAMPLE], frozenset({"high-latency"})) == []


def test_each_problem_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    shown = [str(problem) for problem in lint_paths([path])]
    assert shown == [
        f"{path}:3: events.0.at: 5 is not a duration: write it with a unit, e.g. 30s, 5m, 1h30m",
        f"{path}:4: events.0.alertmanager: labels need an alertname",
        f"{path}:6: events.1.pagerduty.event_type: unknown event_type 'incident.exploded'; one of incident.triggered, incident.acknowledged, "
        "incident.unacknowledged, incident.resolved, incident.reopened, incident.priority_updated, incident.annotated",
        f"{path}:7: events.2: an event is either alertmanager: {{...}} or pagerduty: {{...}}",
        f"{path}:12: responses.1.command: Field required",
        f"{path}:14: responses.1.comand: unknown key 'comand'",
        f"{path}:16: expect.acknowledged_within: invalid duration 'soon': use a number with a unit (s, m, h, d), largest first, e.g. 30s, 5m, 1h, 1h30m",
        f"{path}:17: expect.steps_done_within: step 'first' is not a step number (1, 2, …)",
    ]


def test_commands_that_do_not_parse_and_unknown_playbooks_are_problems(tmp_path: Path) -> None:
    path = tmp_path / "late.yaml"
    path.write_text(
        "name: late\nduration: 10m\nevents:\n  - at: 0s\n    alertmanager: {labels: {alertname: X}}\nresponses:\n"
        "  - at: 11m\n    user: alice\n    command: /incident fly away\nexpect:\n  playbook: no-such-book\n",
        encoding="utf-8",
    )
    shown = [str(problem) for problem in lint_paths([path], frozenset({"high-latency"}))]
    assert shown[0] == f"{path}:7: responses.0.at: after the end of the drill (duration)"
    assert shown[1].startswith(f"{path}:9: responses.0.command: ")
    assert shown[2] == f"{path}:11: expect.playbook: no playbook 'no-such-book' among the loaded playbooks"
    assert len(shown) == 3


def test_the_command_exits_1_on_problems_and_0_when_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    assert main(["drill", "lint", str(path)]) == 1
    captured = capsys.readouterr()
    assert (
        captured.out.splitlines()[0] == f"{path}:3: events.0.at: 5 is not a duration: write it with a unit, e.g. 30s, 5m, 1h30m"
    )
    assert "8 problem(s) in 1 scenario file(s)" in captured.err
    assert main(["drill", "lint", str(EXAMPLE.parent), "--playbooks", str(REPO_PLAYBOOKS)]) == 0
    assert "1 scenario(s): no problems" in capsys.readouterr().out


#: Nine nested aliases of nine items: 9**9 (387 million) strings once expanded.
ALIAS_BOMB = (
    "name: bomb\n"
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    + "events:\n  - at: 0s\n    alertmanager: {labels: {alertname: A, bomb: *i}}\n"
)


@pytest.mark.parametrize("command", ["lint", "run"])
def test_anchors_and_aliases_are_refused_at_their_line_before_expanding(command: str, tmp_path: Path) -> None:
    """In a fresh process with a bound: before the fix this ran for minutes through gigabytes."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB, encoding="utf-8")
    args = ["--check"] if command == "run" else []
    done = subprocess.run(
        [sys.executable, "-m", "bot", "drill", command, *args, str(bomb)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "FIREBREAK_PLAYBOOKS_DIR": str(REPO_PLAYBOOKS)},
    )
    assert done.returncode == 1, done.stderr
    problems = (done.stdout + done.stderr).splitlines()
    assert f"{bomb}:2: YAML anchor &a is not allowed in a scenario: write each value out" in problems
    assert f"{bomb}:3: YAML alias *a is not allowed in a scenario: write the value out" in problems
    assert "Traceback" not in done.stderr
