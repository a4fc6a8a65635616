"""The benchmark script keeps working (a small run; the real numbers are in docs/development.md)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import ROOT


def test_bench_runs_on_a_small_incident() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "export_bench.py"), "--entries", "300", "--runs", "1"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "created INC-1 with 300 timeline entries" in result.stdout
    assert "export md (end to end)" in result.stdout and "export json (end to end)" in result.stdout
