"""bench/drill_bench.py run as a user runs it, with tiny parameters: the scenario it writes
passes its own ``--check`` and the figures are printed. Speed is not asserted here."""

from __future__ import annotations

import re
import subprocess
import sys

from bench.drill_bench import scenario
from bot.drill.scenario import scenario_from
from tests.support.processes import ROOT


def test_the_bench_scenario_has_the_sizes_asked_for() -> None:
    built = scenario_from(scenario(2, 50, 20))
    assert (len(built.events), len(built.responses), built.end) == (50, 20, 7200)


def test_the_bench_runs_check_and_reports_time_per_simulated_hour() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.drill_bench", "--hours", "0.5", "--events", "10", "--responses", "4", "--runs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"bench-two-hours: passed \(2 expectations, 30 simulated minutes in [\d.]+ s\)", done.stdout), done.stdout
    assert re.search(r"per simulated hour: [\d.]+ s", done.stdout)
